//! RFC 822-style paragraphs: dpkg's status files, Debian copyright files, Python's METADATA.

/// One paragraph: fields in order (a field's continuation lines joined with `\n`).
pub type Paragraph = Vec<(String, String)>;

/// The value of `key` (case-insensitive) in `paragraph`.
pub fn field<'a>(paragraph: &'a Paragraph, key: &str) -> Option<&'a str> {
    paragraph
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Every value of `key` (case-insensitive) in `paragraph`, in order.
pub fn fields<'a>(paragraph: &'a Paragraph, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    paragraph
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Splits `text` into paragraphs at blank lines. With `stop_at_first`, only the first paragraph
/// is read (a METADATA file's body follows its headers).
pub fn paragraphs(text: &str, stop_at_first: bool) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut current: Paragraph = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
                if stop_at_first {
                    return out;
                }
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}
