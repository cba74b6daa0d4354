//! The few of Go's `fmt` forms BuildKit's history lines are printed with: `%q` of a string and
//! of an integer, and `time.Duration`'s `String`.

/// Go's `strconv.Quote` (what `%q` prints for a string): `"…"` with `"` and `\` escaped,
/// control characters as `\n`, `\t`, `\x1b`, …, and characters Go does not print (format
/// characters, spaces other than ` `, private use) as `\u…`/`\U…`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_char(c, '"', &mut out);
    }
    out.push('"');
    out
}

/// What `%q` prints for an integer: the character with that code point, Go-quoted (`'\x03'`).
pub(crate) fn quote_rune(value: u32) -> String {
    let c = char::from_u32(value).unwrap_or('\u{FFFD}');
    let mut out = String::from("'");
    escape_char(c, '\'', &mut out);
    out.push('\'');
    out
}

fn escape_char(c: char, quote: char, out: &mut String) {
    match c {
        c if c == quote || c == '\\' => {
            out.push('\\');
            out.push(c);
        }
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if is_print(c) => out.push(c),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `strconv.IsPrint` for what Dockerfiles hold: everything but controls, spaces other
/// than U+0020, format characters and private use. (Go also escapes unassigned code points,
/// which this does not know.)
fn is_print(c: char) -> bool {
    let u = c as u32;
    if c.is_ascii() {
        return (0x20..0x7f).contains(&u);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(u,
            0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
            | 0x202A..=0x202E | 0x2060..=0x206F | 0xD800..=0xDFFF | 0xE000..=0xF8FF
            | 0xFEFF | 0xFFF9..=0xFFFB | 0xFFFE | 0xFFFF | 0xF0000..)
        || (u & 0xFFFE) == 0xFFFE)
}

/// Go's `time.Duration.String` for a non-negative duration in nanoseconds: `0s`, `1.5s`,
/// `1m30s`, `1h0m0s`, `500ms`, `2µs`, `7ns`.
pub(crate) fn duration(ns: u64) -> String {
    const SECOND: u64 = 1_000_000_000;
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns < SECOND {
        let (unit, precision) = match ns {
            n if n < 1_000 => ("ns", 0),
            n if n < 1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        return format!("{}{unit}", with_fraction(ns, precision));
    }
    let seconds = with_fraction(ns % (60 * SECOND), 9);
    let minutes = ns / SECOND / 60;
    match minutes {
        0 => format!("{seconds}s"),
        m if m < 60 => format!("{m}m{seconds}s"),
        m => format!("{}h{}m{seconds}s", m / 60, m % 60),
    }
}

/// `value / 10^precision` with its fraction's trailing zeros dropped (no `.` for none).
fn with_fraction(value: u64, precision: u32) -> String {
    let scale = 10u64.pow(precision);
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = precision as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_as_go_quotes_them() {
        assert_eq!(quote("echo hi"), r#""echo hi""#);
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(quote("a\tb\nc\u{1b}"), r#""a\tb\nc\x1b""#);
        assert_eq!(quote("héllo ✓"), "\"héllo ✓\"");
        assert_eq!(quote("nb\u{a0}sp\u{200b}"), r#""nb\u00a0sp\u200b""#);
        assert_eq!(quote("\u{f0000}"), r#""\U000f0000""#);
    }

    #[test]
    fn integers_are_quoted_as_runes() {
        assert_eq!(quote_rune(0), r"'\x00'");
        assert_eq!(quote_rune(3), r"'\x03'");
        assert_eq!(quote_rune(9), r"'\t'");
        assert_eq!(quote_rune(10), r"'\n'");
        assert_eq!(quote_rune(39), r"'\''");
        assert_eq!(quote_rune(65), "'A'");
        assert_eq!(quote_rune(127), r"'\x7f'");
        assert_eq!(quote_rune(0xd800), r"'�'");
    }

    #[test]
    fn durations_read_as_go_prints_them() {
        let s = 1_000_000_000;
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(5 * s), "5s");
        assert_eq!(duration(90 * s), "1m30s");
        assert_eq!(duration(3600 * s), "1h0m0s");
        assert_eq!(duration(3 * s / 2), "1.5s");
        assert_eq!(duration(500_000_000), "500ms");
        assert_eq!(duration(1_500_000), "1.5ms");
        assert_eq!(duration(2_000), "2µs");
        assert_eq!(duration(7), "7ns");
        assert_eq!(duration(3725 * s + 1), "1h2m5.000000001s");
    }
}
