//! Debian version ordering (`deb-version(7)`), to list an archive's versions newest first.

use std::cmp::Ordering;

/// Compares two Debian versions as dpkg does: epoch, then upstream version, then revision, each
/// part compared in alternating runs of non-digits (letters sort before other characters, `~`
/// before everything, even the end) and digits (numerically).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

fn split(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // The non-digit run.
        loop {
            let ca = a.first().copied().filter(|c| !c.is_ascii_digit());
            let cb = b.first().copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            match order(ca).cmp(&order(cb)) {
                Ordering::Equal => {
                    a = &a[1..];
                    b = &b[1..];
                }
                other => return other,
            }
        }
        // The digit run, numerically.
        let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let na = trim_zeros(&a[..da]);
        let nb = trim_zeros(&b[..db]);
        let by_number = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if by_number != Ordering::Equal {
            return by_number;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[start..]
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::{Greater, Less};

    #[test]
    fn orders_as_dpkg() {
        let ascending = [
            "1.0~rc1",
            "1.0",
            "1.0-1",
            "1.0-1+b1",
            "1.0-2",
            "1.0a",
            "1.2",
            "1.10",
            "22.12.0-2",
            "22.12.0-2+b1",
            "22.12.0-2+deb12u1",
            "22.12.0-2+deb12u2",
            "22.12.0-2+deb12u10",
            "1:0.1",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Less, "{} < {}", pair[0], pair[1]);
            assert_eq!(
                compare(pair[1], pair[0]),
                Greater,
                "{} > {}",
                pair[1],
                pair[0]
            );
        }
        assert_eq!(compare("1.07", "1.7"), std::cmp::Ordering::Equal);
    }
}
