//! Dockerfile word handling shared by the writer and the reader: the quoting rules of BuildKit's
//! word lexer (quotes, the escape character, `$VAR` expansion), written out in both directions.

use crate::shell_pattern;

/// Characters that may stand bare in any Dockerfile word position.
pub(crate) fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:+@,=~%^".contains(c))
}

/// `s` in double quotes, escaped for the word lexer with `\`; `None` if it holds a line break,
/// which no Dockerfile word can carry.
pub(crate) fn quote_double(s: &str) -> Option<String> {
    if s.contains(['\n', '\r']) {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

/// `s` bare when that is safe, else double-quoted.
pub(crate) fn word(s: &str) -> Option<String> {
    if is_plain(s) {
        Some(s.to_owned())
    } else {
        quote_double(s)
    }
}

/// Splits an instruction's arguments into raw words the way BuildKit's `parseWords` does:
/// whitespace separates words outside quotes; quotes and escapes are kept for [`expand`].
pub(crate) fn split_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None => {
                if c.is_whitespace() {
                    if in_word && (blank_ok || !word.is_empty()) {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    match chars.next() {
                        None => continue,
                        Some(next) => {
                            word.push(c);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some(next) => {
                            word.push(c);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(c);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// A variable's value as the reader knows it.
pub(crate) enum Var {
    /// Set to this value.
    Set(String),
    /// Known to be unset (an `ARG` without a value).
    Unset,
}

/// Processes one word: removes quotes, applies escapes and expands `$NAME`, `${NAME}`,
/// `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`, `${NAME:?word}`,
/// `${NAME?word}` and the pattern forms `${NAME#p}`, `${NAME##p}`, `${NAME%p}`, `${NAME%%p}`,
/// `${NAME/p/r}`, `${NAME//p/r}` (see [`shell_pattern`]); BuildKit's lexer has no others.
/// `lookup` returns `None` for a name it does not know (it records it).
pub(crate) fn expand(
    word: &str,
    escape: char,
    lookup: &mut dyn FnMut(&str) -> Option<Var>,
) -> Result<String, String> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        raw_escapes: false,
        skip_quotes: false,
        lookup,
    };
    lexer.process_until(None)
}

/// Expands `$NAME` and `${…}` in a heredoc body as BuildKit does for `COPY <<EOF`: quotes are
/// ordinary characters, `\` escapes the next one.
pub(crate) fn expand_raw(
    text: &str,
    lookup: &mut dyn FnMut(&str) -> Option<Var>,
) -> Result<String, String> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        escape: '\\',
        raw_escapes: false,
        skip_quotes: true,
        lookup,
    };
    lexer.process_until(None)
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    /// Keep escape characters in the output (pattern words, whose escapes the pattern reads).
    raw_escapes: bool,
    /// Quotes are ordinary characters (heredoc bodies).
    skip_quotes: bool,
    lookup: &'a mut dyn FnMut(&str) -> Option<Var>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn process_until(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return match stop {
                    Some(s) => Err(format!(
                        "unexpected end of the word while looking for a matching `{s}`"
                    )),
                    None => Ok(out),
                };
            };
            if Some(c) == stop {
                self.pos += 1;
                return Ok(out);
            }
            match c {
                '$' => out.push_str(&self.dollar()?),
                '\'' if !self.skip_quotes => out.push_str(&self.single_quote()?),
                '"' if !self.skip_quotes => out.push_str(&self.double_quote()?),
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.next() {
                            Some(n) => out.push(n),
                            None => return Ok(out),
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    fn single_quote(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of the word while looking for a matching `'`".into(),
                    );
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of the word while looking for a matching `\"`".into(),
                    );
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(c) {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn value(&mut self, name: &str) -> Option<String> {
        match (self.lookup)(name) {
            Some(Var::Set(v)) => Some(v),
            Some(Var::Unset) | None => None,
        }
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.value(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing `}`".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(c) = self.next() else {
            return Err("syntax error: missing `}`".into());
        };
        let (null_is_unset, modifier) = match c {
            '}' => return Ok(self.value(&name).unwrap_or_default()),
            '/' => return self.replace(&name),
            ':' => (true, self.next().ok_or("syntax error: missing `}`")?),
            other => (false, other),
        };
        if !matches!(modifier, '-' | '+' | '?' | '#' | '%') {
            return Err(format!(
                "the substitution modifier `{}{modifier}` in `${{{name}…}}` is not one BuildKit has: \
                 use `-`, `+`, `?` (each also with `:`), `#`, `##`, `%`, `%%`, `/` or `//`",
                if null_is_unset { ":" } else { "" }
            ));
        }
        // A pattern keeps its escapes: the pattern reads them (`\*` is a literal `*`).
        let word = self.process_raw(modifier == '#' || modifier == '%', '}')?;
        let value = self.value(&name);
        let unset = match &value {
            None => true,
            Some(v) => null_is_unset && v.is_empty(),
        };
        match modifier {
            '-' => Ok(if unset {
                word
            } else {
                value.unwrap_or_default()
            }),
            '+' => Ok(if unset { String::new() } else { word }),
            '#' | '%' => {
                // `#`/`%` remove the shortest match, `##`/`%%` the longest.
                let (greedy, pattern) = match word.strip_prefix(modifier) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let value = value.unwrap_or_default();
                if modifier == '#' {
                    shell_pattern::trim_prefix(pattern, &value, greedy)
                } else {
                    shell_pattern::trim_suffix(pattern, &value, greedy)
                }
            }
            _ if unset => Err(format!(
                "{name}: {}",
                if word.is_empty() {
                    "is not allowed to be unset or empty"
                } else {
                    &word
                }
            )),
            _ => Ok(value.unwrap_or_default()),
        }
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`, after the first `/`.
    fn replace(&mut self, name: &str) -> Result<String, String> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let pattern = self
            .process_raw(true, '/')
            .map_err(|_| format!("syntax error: missing `/` in `${{{name}/…}}`"))?;
        let replacement = self.process_raw(true, '}')?;
        let value = self.value(name).unwrap_or_default();
        shell_pattern::replace(&pattern, &replacement, &value, all)
    }

    /// The text up to `stop`, keeping escape characters when `raw`.
    fn process_raw(&mut self, raw: bool, stop: char) -> Result<String, String> {
        let before = std::mem::replace(&mut self.raw_escapes, raw);
        let result = self.process_until(Some(stop));
        self.raw_escapes = before;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(word: &str) -> Result<String, String> {
        expand(word, '\\', &mut |name| match name {
            "A" => Some(Var::Set("1".into())),
            "E" => Some(Var::Set(String::new())),
            "U" => Some(Var::Unset),
            _ => None,
        })
    }

    #[test]
    fn expansion_and_quotes() {
        assert_eq!(ex("$A-${A}x").unwrap(), "1-1x");
        assert_eq!(ex("${U:-d}${E:-e}${E-f}${A:+p}${U+q}").unwrap(), "dep");
        assert_eq!(
            ex(r#""a \"b\" \$A \x" 'c $A' d\ e"#).unwrap(),
            r#"a "b" $A \x c $A d e"#
        );
        assert_eq!(ex("cost: $").unwrap(), "cost: $");
        assert!(ex("${U:?must be set}").unwrap_err().contains("must be set"));
        assert_eq!(ex("${A/1/one}${A//x/y}").unwrap(), "one1");
        assert!(ex("${A:x}").unwrap_err().contains("not one BuildKit has"));
        assert!(ex("${A^^}").is_err());
        assert!(ex("\"open").is_err());
        assert!(ex("${").is_err());
    }

    #[test]
    fn quoting_round_trips_through_expand() {
        for s in [
            "plain",
            "a b",
            "$HOME",
            "back\\slash\\",
            "q\"uo'te",
            "tab\tx",
            "",
            "${x}",
        ] {
            let w = word(s).unwrap();
            assert_eq!(ex(&w).unwrap(), s, "{w}");
            assert_eq!(split_words(&format!("K={w}"), '\\'), vec![format!("K={w}")]);
        }
        assert!(quote_double("a\nb").is_none());
    }

    #[test]
    fn words_split_like_buildkit() {
        assert_eq!(
            split_words(r#"a=1  b="x y" c='p q'\ r d\"e"#, '\\'),
            vec!["a=1", r#"b="x y""#, r#"c='p q'\ r"#, r#"d\"e"#]
        );
        assert_eq!(split_words(r#"x="""#, '\\'), vec![r#"x="""#]);
    }
}
