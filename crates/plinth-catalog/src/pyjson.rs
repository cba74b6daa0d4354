//! Byte-exact writers for the JSON the original Python tooling produced.
//!
//! `serde_json` writes non-ASCII characters raw, while Python's `json.dumps` (default
//! `ensure_ascii=True`) escapes them as lowercase `\uXXXX`, astral characters as surrogate pairs.
//! The changelog only ever holds arrays of objects with string values, so a tiny writer for that
//! shape is simpler and easier to audit than a custom `serde_json::ser::Formatter`.

/// Appends `s` as a JSON string literal exactly as Python's `json.dumps(s)` (ensure_ascii) does.
///
/// Escaped: `"` and `\` with a backslash; `\b \f \n \r \t` by name; every other character outside
/// printable ASCII (`' '..='~'`, so control characters, DEL and all non-ASCII) as `\uXXXX` with
/// lowercase hex, using UTF-16 surrogate pairs above U+FFFF. `/` is not escaped.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Python `json.dumps(rows)`: one line, `", "` and `": "` separators, no trailing newline.
pub(crate) fn dumps_compact(rows: &[Vec<(&str, &str)>]) -> String {
    let mut out = String::from("[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('{');
        for (j, (key, value)) in row.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            push_string(&mut out, key);
            out.push_str(": ");
            push_string(&mut out, value);
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// Python `json.dumps(rows, indent=2)` followed by a newline: 2-space indent, `","` at line ends
/// (no trailing spaces), `": "` between key and value, `[]` for an empty array.
pub(crate) fn dumps_pretty(rows: &[Vec<(&str, &str)>]) -> String {
    if rows.is_empty() {
        return "[]\n".to_owned();
    }
    let mut out = String::from("[\n");
    for (i, row) in rows.iter().enumerate() {
        if row.is_empty() {
            out.push_str("  {}");
        } else {
            out.push_str("  {\n");
            for (j, (key, value)) in row.iter().enumerate() {
                out.push_str("    ");
                push_string(&mut out, key);
                out.push_str(": ");
                push_string(&mut out, value);
                out.push_str(if j + 1 < row.len() { ",\n" } else { "\n" });
            }
            out.push_str("  }");
        }
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> String {
        let mut out = String::new();
        push_string(&mut out, s);
        out
    }

    #[test]
    fn escapes_like_python_ensure_ascii() {
        assert_eq!(lit("a/b"), r#""a/b""#);
        assert_eq!(lit("q\"b\\"), r#""q\"b\\""#);
        assert_eq!(
            lit("\n\r\t\u{8}\u{c}\u{1}\u{7f}"),
            r#""\n\r\t\b\f\u0001\u007f""#
        );
        assert_eq!(lit("café"), r#""caf\u00e9""#);
        assert_eq!(lit("🐍"), r#""\ud83d\udc0d""#);
    }
}
