//! Timestamps for image configs and Debian's `Release` dates (the RFC 3339 and civil-date
//! code is `plinth_oci::time`).

use std::time::{SystemTime, UNIX_EPOCH};

use plinth_oci::time::days_from_civil;
pub(crate) use plinth_oci::time::rfc3339;

/// Seconds since the Unix epoch, now.
pub(crate) fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Seconds since the epoch of an RFC 2822 date in UTC as Debian's `Release` files write it
/// (`Sat, 11 Jul 2026 10:16:37 UTC`); `None` for anything else.
pub(crate) fn parse_rfc2822(text: &str) -> Option<u64> {
    let rest = text.split_once(',').map_or(text, |(_, r)| r).trim();
    let mut parts = rest.split_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !matches!(parts.next(), Some("UTC" | "GMT" | "+0000")) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = u32::try_from(MONTHS.iter().position(|n| *n == month)? + 1).ok()?;
    if !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    u64::try_from(days * 86_400)
        .ok()
        .map(|d| d + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn reads_release_file_dates() {
        assert_eq!(
            parse_rfc2822("Tue, 14 Nov 2023 22:13:20 UTC"),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_rfc2822("Tue, 29 Feb 2000 00:00:00 UTC"),
            Some(951_782_400)
        );
        let t = parse_rfc2822("Sat, 11 Jul 2026 10:16:37 UTC").unwrap();
        assert_eq!(rfc3339(t), "2026-07-11T10:16:37Z");
        for bad in [
            "",
            "Sat, 11 Jul 2026",
            "Sat, 11 Foo 2026 10:16:37 UTC",
            "Sat, 11 Jul 2026 10:16:37 +0200",
        ] {
            assert_eq!(parse_rfc2822(bad), None, "{bad}");
        }
    }
}
