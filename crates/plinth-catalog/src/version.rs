//! Strict SemVer 2.0.0 versions usable as Docker tags, and the eight release bumps.
//!
//! Parsing goes through the `semver` crate, which already refuses a `v` prefix, two-part versions
//! and leading zeros; on top of that plinth refuses build metadata, because a Docker tag cannot
//! hold a `+`. Ordering is SemVer *precedence* (`semver::Version::cmp_precedence`): a pre-release
//! sorts below its release and numeric identifiers compare as numbers (`rc.2 < rc.10`).
//!
//! The bumps reproduce python-semver 3 (`bump_prerelease(token="rc")`, `finalize_version`,
//! `bump_patch`, …), the library the original release tool used, so the versions it would have
//! offered are the versions plinth offers.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result, cut};

/// The pre-release token of the bumps (`X.Y.Z-rc.N`).
pub const PRERELEASE_TOKEN: &str = "rc";

/// A strict SemVer 2.0.0 version without build metadata, ordered by precedence.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version(semver::Version);

impl Version {
    /// The seed version of an empty registry (`0.0.0`), from which the first bump starts.
    pub const ZERO: Version = Version(semver::Version::new(0, 0, 0));

    /// A release version `major.minor.patch`.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self(semver::Version::new(major, minor, patch))
    }

    /// The underlying `semver` value.
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.0.major
    }

    /// The minor number.
    pub fn minor(&self) -> u64 {
        self.0.minor
    }

    /// The patch number.
    pub fn patch(&self) -> u64 {
        self.0.patch
    }

    /// The pre-release part without its `-` (empty for a release).
    pub fn prerelease(&self) -> &str {
        self.0.pre.as_str()
    }

    /// Whether this is a pre-release (`3.0.0-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    /// python-semver `finalize_version`: the same numbers without pre-release.
    pub fn finalize(&self) -> Self {
        Self::new(self.major(), self.minor(), self.patch())
    }

    /// python-semver `bump_patch`: `X.Y.(Z+1)`, pre-release dropped (`3.0.1-rc.1` → `3.0.2`).
    pub fn bump_patch(&self) -> Self {
        Self::new(self.major(), self.minor(), self.patch() + 1)
    }

    /// python-semver `bump_minor`: `X.(Y+1).0`.
    pub fn bump_minor(&self) -> Self {
        Self::new(self.major(), self.minor() + 1, 0)
    }

    /// python-semver `bump_major`: `(X+1).0.0`.
    pub fn bump_major(&self) -> Self {
        Self::new(self.major() + 1, 0, 0)
    }

    /// python-semver `bump_prerelease(token="rc")`.
    ///
    /// Without a pre-release this gives `X.Y.Z-rc.1`, which is *lower* than `X.Y.Z`. With one, the
    /// last run of digits in the pre-release string is incremented (`rc.1` → `rc.2`,
    /// `rc.9` → `rc.10`); a pre-release without digits (`-rc`) comes back unchanged.
    pub fn bump_prerelease(&self) -> Self {
        let current = if self.is_prerelease() {
            self.prerelease().to_owned()
        } else {
            format!("{PRERELEASE_TOKEN}.0")
        };
        let next = increment_last_number(&current);
        // Replacing a run of digits by a larger number keeps every identifier valid: a numeric
        // identifier (no leading zero, by parsing) stays numeric without leading zero, and an
        // alphanumeric one keeps its non-digit characters. The proptest below exercises this.
        let pre = semver::Prerelease::new(&next)
            .expect("incrementing a valid pre-release keeps it valid");
        let mut v = semver::Version::new(self.major(), self.minor(), self.patch());
        v.pre = pre;
        Self(v)
    }
}

/// python-semver `Version._increment_string`: increments the last run of ASCII digits.
///
/// It mirrors the original slicing exactly (`s[:max(end - len(next), start)] + next + s[end:]`),
/// so a zero-padded run keeps its width when the number fits (`rc009` → `rc010`).
fn increment_last_number(s: &str) -> String {
    let bytes = s.as_bytes();
    let Some(end) = bytes.iter().rposition(u8::is_ascii_digit).map(|i| i + 1) else {
        return s.to_owned();
    };
    let start = bytes[..end]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let next = increment_decimal(&s[start..end]);
    let keep = end.saturating_sub(next.len()).max(start);
    format!("{}{}{}", &s[..keep], next, &s[end..])
}

/// `str(int(digits) + 1)` for arbitrarily long digit strings (no overflow, no leading zeros).
fn increment_decimal(digits: &str) -> String {
    let trimmed = digits.trim_start_matches('0');
    let mut out: Vec<u8> = trimmed.bytes().collect();
    let mut i = out.len();
    loop {
        if i == 0 {
            out.insert(0, b'1');
            break;
        }
        i -= 1;
        if out[i] == b'9' {
            out[i] = b'0';
        } else {
            out[i] += 1;
            break;
        }
    }
    String::from_utf8(out).expect("ASCII digits")
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        // Build metadata is refused at parse time, so precedence is a total order consistent
        // with `Eq` here.
        self.0.cmp_precedence(&other.0)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidVersion {
            input: cut(input, 100),
            reason,
        };
        if input.starts_with(['v', 'V']) {
            return Err(bad(format!(
                "remove the `v` prefix: versions are plain SemVer like `{}`",
                &input[1..]
            )));
        }
        let v = semver::Version::parse(input).map_err(|e| {
            bad(format!("{e}; expected strict SemVer 2.0.0 `MAJOR.MINOR.PATCH[-PRERELEASE]`, e.g. `3.0.0` or `3.0.1-rc.1`"))
        })?;
        if !v.build.is_empty() {
            return Err(bad(format!(
                "build metadata `+{}` is not allowed: Docker tags cannot contain `+`",
                v.build.as_str()
            )));
        }
        Ok(Self(v))
    }
}

impl TryFrom<semver::Version> for Version {
    type Error = Error;

    fn try_from(v: semver::Version) -> Result<Self> {
        v.to_string().parse()
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The eight kinds of new version the release command offers, in the order it offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BumpKind {
    /// `prerelease`: python-semver `bump_prerelease("rc")`.
    Prerelease,
    /// `finalize`: drop the pre-release.
    Finalize,
    /// `patch`: `X.Y.(Z+1)`.
    Patch,
    /// `patch-prerelease`: patch, then prerelease.
    PatchPrerelease,
    /// `minor`: `X.(Y+1).0`.
    Minor,
    /// `minor-prerelease`: minor, then prerelease.
    MinorPrerelease,
    /// `major`: `(X+1).0.0`.
    Major,
    /// `major-prerelease`: major, then prerelease.
    MajorPrerelease,
}

impl BumpKind {
    /// All kinds, in the order they are offered.
    pub const ALL: [BumpKind; 8] = [
        Self::Prerelease,
        Self::Finalize,
        Self::Patch,
        Self::PatchPrerelease,
        Self::Minor,
        Self::MinorPrerelease,
        Self::Major,
        Self::MajorPrerelease,
    ];

    /// The label used on the command line and in prompts.
    pub fn label(self) -> &'static str {
        match self {
            Self::Prerelease => "prerelease",
            Self::Finalize => "finalize",
            Self::Patch => "patch",
            Self::PatchPrerelease => "patch-prerelease",
            Self::Minor => "minor",
            Self::MinorPrerelease => "minor-prerelease",
            Self::Major => "major",
            Self::MajorPrerelease => "major-prerelease",
        }
    }

    /// The version this bump gives from `latest` (use [`Version::ZERO`] for an empty registry).
    pub fn next(self, latest: &Version) -> Version {
        match self {
            Self::Prerelease => latest.bump_prerelease(),
            Self::Finalize => latest.finalize(),
            Self::Patch => latest.bump_patch(),
            Self::PatchPrerelease => latest.bump_patch().bump_prerelease(),
            Self::Minor => latest.bump_minor(),
            Self::MinorPrerelease => latest.bump_minor().bump_prerelease(),
            Self::Major => latest.bump_major(),
            Self::MajorPrerelease => latest.bump_major().bump_prerelease(),
        }
    }
}

impl fmt::Display for BumpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for BumpKind {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.label() == input)
            .ok_or_else(|| Error::UnknownBumpKind {
                input: cut(input, 100),
            })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn strict_parsing_rejects_prefix_short_forms_and_build_metadata() {
        for bad in [
            "v1.0.0",
            "V1.0.0",
            "1.0",
            "1",
            "01.0.0",
            "1.0.0-rc.01",
            " 1.0.0",
            "1.0.0 ",
            "",
            "1.0.0-",
            "latest",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad:?} must be rejected");
        }
        let err = "1.0.0+build.5".parse::<Version>().unwrap_err().to_string();
        assert!(err.contains("Docker tags cannot contain `+`"), "{err}");
        let err = "v1.0.0".parse::<Version>().unwrap_err().to_string();
        assert!(
            err.contains("remove the `v` prefix") && err.contains("`1.0.0`"),
            "{err}"
        );
        assert_eq!(v("3.0.1-rc.1").to_string(), "3.0.1-rc.1");
        assert_eq!(v("1.0.0-rc").prerelease(), "rc");
    }

    #[test]
    fn precedence_orders_prereleases_below_releases_and_numbers_numerically() {
        assert!(v("3.0.0-rc.1") < v("3.0.0"));
        assert!(v("3.0.0-rc.2") < v("3.0.0-rc.10"));
        assert!(v("1.2.3") < v("1.10.0"));
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        let mut all = [
            v("2.0.0"),
            v("3.0.0-rc.1"),
            v("1.0.0"),
            v("3.0.0"),
            v("3.0.0-rc.10"),
            v("3.0.0-rc.2"),
        ];
        all.sort();
        let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "1.0.0",
                "2.0.0",
                "3.0.0-rc.1",
                "3.0.0-rc.2",
                "3.0.0-rc.10",
                "3.0.0"
            ]
        );
    }

    #[test]
    fn bump_table_of_the_release_command() {
        // Columns: latest 3.0.0, latest 3.0.1-rc.1, empty registry (seed 0.0.0).
        let table = [
            ("prerelease", ["3.0.0-rc.1", "3.0.1-rc.2", "0.0.0-rc.1"]),
            ("finalize", ["3.0.0", "3.0.1", "0.0.0"]),
            ("patch", ["3.0.1", "3.0.2", "0.0.1"]),
            (
                "patch-prerelease",
                ["3.0.1-rc.1", "3.0.2-rc.1", "0.0.1-rc.1"],
            ),
            ("minor", ["3.1.0", "3.1.0", "0.1.0"]),
            (
                "minor-prerelease",
                ["3.1.0-rc.1", "3.1.0-rc.1", "0.1.0-rc.1"],
            ),
            ("major", ["4.0.0", "4.0.0", "1.0.0"]),
            (
                "major-prerelease",
                ["4.0.0-rc.1", "4.0.0-rc.1", "1.0.0-rc.1"],
            ),
        ];
        let starts = [v("3.0.0"), v("3.0.1-rc.1"), Version::ZERO];
        for (label, expected) in table {
            let kind: BumpKind = label.parse().unwrap();
            assert_eq!(kind.to_string(), label);
            for (start, want) in starts.iter().zip(expected) {
                assert_eq!(kind.next(start).to_string(), want, "{label} from {start}");
            }
        }
        assert_eq!(BumpKind::ALL.len(), table.len());
        assert_eq!(BumpKind::ALL.map(BumpKind::label), table.map(|(l, _)| l));
    }

    #[test]
    fn prerelease_bump_edge_cases() {
        assert_eq!(v("1.0.0-rc.9").bump_prerelease().to_string(), "1.0.0-rc.10");
        assert_eq!(
            v("1.0.0-rc.99").bump_prerelease().to_string(),
            "1.0.0-rc.100"
        );
        assert_eq!(v("1.0.0-rc").bump_prerelease().to_string(), "1.0.0-rc");
        assert_eq!(v("1.0.0-rc1").bump_prerelease().to_string(), "1.0.0-rc2");
        // python-semver keeps the width of a zero-padded run when the number fits.
        assert_eq!(
            v("1.0.0-rc009").bump_prerelease().to_string(),
            "1.0.0-rc010"
        );
        assert_eq!(v("1.0.0-rc09").bump_prerelease().to_string(), "1.0.0-rc10");
        // The *last* run of digits anywhere, as the python regex finds it.
        assert_eq!(
            v("1.0.0-alpha.1.beta").bump_prerelease().to_string(),
            "1.0.0-alpha.2.beta"
        );
        assert_eq!(
            v("1.0.0-rc.18446744073709551615")
                .bump_prerelease()
                .to_string(),
            "1.0.0-rc.18446744073709551616"
        );
    }

    #[test]
    fn unknown_bump_label_lists_the_valid_ones() {
        let err = "pre".parse::<BumpKind>().unwrap_err().to_string();
        assert!(
            err.contains("`pre`") && err.contains("major-prerelease"),
            "{err}"
        );
    }

    #[test]
    fn serde_goes_through_the_strict_parser() {
        assert_eq!(
            serde_json::to_string(&v("1.2.3-rc.1")).unwrap(),
            "\"1.2.3-rc.1\""
        );
        assert!(serde_json::from_str::<Version>("\"v1.2.3\"").is_err());
        assert_eq!(
            serde_json::from_str::<Version>("\"1.2.3\"").unwrap(),
            v("1.2.3")
        );
    }

    proptest! {
        #[test]
        fn every_bump_of_a_valid_version_is_valid_and_round_trips(
            major in 0u64..1000, minor in 0u64..1000, patch in 0u64..1000,
            pre in proptest::option::of("[a-z]{0,3}(0|[1-9][0-9]{0,3}|[a-z0-9-]{1,4})(\\.(0|[1-9][0-9]{0,3}|[a-z][a-z0-9-]{0,4}))*"),
        ) {
            let text = match &pre { Some(p) => format!("{major}.{minor}.{patch}-{p}"), None => format!("{major}.{minor}.{patch}") };
            prop_assume!(text.parse::<Version>().is_ok());
            let start: Version = text.parse().unwrap();
            for kind in BumpKind::ALL {
                let next = kind.next(&start);
                prop_assert_eq!(next.to_string().parse::<Version>().unwrap(), next.clone());
                if !matches!(kind, BumpKind::Prerelease | BumpKind::Finalize) {
                    prop_assert!(next > start, "{} from {} gave {}", kind, start, next);
                }
            }
        }
    }
}
