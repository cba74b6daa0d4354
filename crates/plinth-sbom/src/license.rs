//! Licenses as package metadata declares them, and their SPDX form where there is one.
//!
//! The SPDX identifiers known are those of the SPDX license list the CycloneDX 1.5 schema
//! enumerates (`spdx_ids.txt`, licenses and exceptions). Debian's and Fedora's older short names
//! with one SPDX meaning (`GPL-2+`, `GPLv2+`, `Expat`, `ASL 2.0`, …) are translated; anything else
//! stays a name, never guessed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One declared license.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum License {
    /// A valid SPDX license expression (one identifier or a compound).
    Spdx(String),
    /// A name without an SPDX equivalent, as the metadata wrote it.
    Named(String),
}

impl License {
    /// The SPDX form of `raw` when every part of it has one, else the name as written.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        spdx_expression(raw).map_or_else(|| Self::Named(raw.to_owned()), Self::Spdx)
    }

    /// A single SPDX identifier (not a compound expression).
    pub fn spdx_id(&self) -> Option<&str> {
        match self {
            Self::Spdx(e) if !e.contains(' ') => Some(e),
            _ => None,
        }
    }
}

fn known_ids() -> &'static BTreeMap<String, &'static str> {
    static IDS: OnceLock<BTreeMap<String, &'static str>> = OnceLock::new();
    IDS.get_or_init(|| {
        include_str!("spdx_ids.txt")
            .lines()
            .filter(|l| !l.is_empty())
            .map(|id| (id.to_ascii_lowercase(), id))
            .collect()
    })
}

/// Short names with exactly one SPDX meaning (Debian copyright-format, Fedora's old tags,
/// Python's trove classifiers).
const ALIASES: &[(&str, &str)] = &[
    ("gpl-1+", "GPL-1.0-or-later"),
    ("gpl-2", "GPL-2.0-only"),
    ("gpl-2+", "GPL-2.0-or-later"),
    ("gpl-3", "GPL-3.0-only"),
    ("gpl-3+", "GPL-3.0-or-later"),
    ("lgpl-2", "LGPL-2.0-only"),
    ("lgpl-2+", "LGPL-2.0-or-later"),
    ("lgpl-2.1", "LGPL-2.1-only"),
    ("lgpl-2.1+", "LGPL-2.1-or-later"),
    ("lgpl-3", "LGPL-3.0-only"),
    ("lgpl-3+", "LGPL-3.0-or-later"),
    ("agpl-3", "AGPL-3.0-only"),
    ("agpl-3+", "AGPL-3.0-or-later"),
    ("gfdl-1.2+", "GFDL-1.2-or-later"),
    ("gfdl-1.3+", "GFDL-1.3-or-later"),
    ("expat", "MIT"),
    ("gplv2", "GPL-2.0-only"),
    ("gplv2+", "GPL-2.0-or-later"),
    ("gplv3", "GPL-3.0-only"),
    ("gplv3+", "GPL-3.0-or-later"),
    ("lgplv2", "LGPL-2.0-only"),
    ("lgplv2+", "LGPL-2.0-or-later"),
    ("lgplv2.1", "LGPL-2.1-only"),
    ("lgplv2.1+", "LGPL-2.1-or-later"),
    ("lgplv3", "LGPL-3.0-only"),
    ("lgplv3+", "LGPL-3.0-or-later"),
    ("asl 2.0", "Apache-2.0"),
    ("apache 2.0", "Apache-2.0"),
    ("apache license 2.0", "Apache-2.0"),
    ("apache license, version 2.0", "Apache-2.0"),
    ("apache software license 2.0", "Apache-2.0"),
    ("mit license", "MIT"),
    ("isc license (iscl)", "ISC"),
    ("mozilla public license 2.0 (mpl 2.0)", "MPL-2.0"),
    ("python software foundation license", "PSF-2.0"),
    ("the unlicense (unlicense)", "Unlicense"),
];

fn id_of(token: &str) -> Option<&'static str> {
    let lower = token.to_ascii_lowercase();
    if let Some((_, id)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return Some(id);
    }
    known_ids().get(&lower).copied()
}

/// `raw` as an SPDX expression: identifiers (or aliases), `AND`/`OR`/`WITH` in any case, and
/// parentheses. `None` when any word is none of those.
fn spdx_expression(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    if let Some(id) = id_of(raw) {
        return Some(id.to_owned());
    }
    let spaced = raw.replace('(', " ( ").replace(')', " ) ");
    let mut out: Vec<String> = Vec::new();
    let mut expect_operand = true;
    for word in spaced.split_whitespace() {
        let upper = word.to_ascii_uppercase();
        match upper.as_str() {
            "(" | ")" => out.push(word.to_owned()),
            "AND" | "OR" | "WITH" if !expect_operand => {
                out.push(upper);
                expect_operand = true;
            }
            _ if expect_operand => {
                out.push(id_of(word)?.to_owned());
                expect_operand = false;
            }
            _ => return None,
        }
    }
    if expect_operand {
        return None;
    }
    Some(out.join(" ").replace("( ", "(").replace(" )", ")"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_forms() {
        let spdx = |s: &str| License::Spdx(s.to_owned());
        assert_eq!(License::parse("MIT"), spdx("MIT"));
        assert_eq!(License::parse("mit"), spdx("MIT"));
        assert_eq!(License::parse("GPL-2+"), spdx("GPL-2.0-or-later"));
        assert_eq!(
            License::parse("GPLv2+ and LGPLv2+"),
            spdx("GPL-2.0-or-later AND LGPL-2.0-or-later")
        );
        assert_eq!(
            License::parse("BSD-3-clause or GPL-2+"),
            spdx("BSD-3-Clause OR GPL-2.0-or-later")
        );
        assert_eq!(
            License::parse("(MIT OR Apache-2.0)"),
            spdx("(MIT OR Apache-2.0)")
        );
        assert_eq!(
            License::parse("GPL-2.0-or-later WITH Classpath-exception-2.0"),
            spdx("GPL-2.0-or-later WITH Classpath-exception-2.0")
        );
        assert_eq!(License::parse("MIT License"), spdx("MIT"));
    }

    #[test]
    fn names_without_an_spdx_form_stay_names() {
        for raw in [
            "public-domain",
            "GPL-2+ with OpenSSL exception",
            "BSD",
            "MIT AND",
            "Apache Software License",
        ] {
            assert_eq!(License::parse(raw), License::Named(raw.to_owned()), "{raw}");
        }
    }
}
