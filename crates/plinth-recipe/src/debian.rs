//! A root filesystem made from Debian's archive instead of pulled from a registry: the
//! [`DebianRoot`] source kind.
//!
//! A recipe names the suite, the variant (what `mmdebstrap --variant` installs), extra packages
//! and components; where the packages come from (the machine's apt sources or an `--apt-mirror`)
//! is the engine's business, and the archive's signed state (its `InRelease` files) is what the
//! engine pins, so the recipe stays the same while the archive moves.
//!
//! Written as an image address, a Debian root is the reserved name `plinth/debian` (no registry
//! host: `docker.io/plinth/debian` is an ordinary registry image), so a Dockerfile reaches it too:
//!
//! ```text
//! FROM plinth/debian:bookworm                      # minbase
//! FROM plinth/debian:bookworm-apt                  # another mmdebstrap variant
//! FROM plinth/debian:bookworm-minbase?include=python3,socat&components=main,contrib
//! ```
//!
//! ```
//! use plinth_recipe::{Container, DebianRoot};
//!
//! let root = DebianRoot::new("bookworm").unwrap().with_packages(["socat", "python3"]).unwrap();
//! assert_eq!(root.address(), "plinth/debian:bookworm-minbase?include=python3,socat");
//! let c = Container::from_debian(root.clone());
//! assert_eq!(c.dockerfile_example(), "FROM plinth/debian:bookworm-minbase?include=python3,socat");
//! assert_eq!(DebianRoot::parse(&root.address()).unwrap(), root);
//! ```

use std::fmt;

use crate::error::{Error, Result};

/// The reserved repository name of Debian roots in image addresses.
pub const DEBIAN_ROOT_NAME: &str = "plinth/debian";

/// `mmdebstrap --variant` values, in the order of how much they install.
pub const DEBIAN_VARIANTS: &[&str] = &[
    "extract",
    "custom",
    "essential",
    "apt",
    "required",
    "minbase",
    "buildd",
    "important",
    "debootstrap",
    "standard",
];

/// The variant of `plinth/debian:SUITE` without one: what the official `debian` images start
/// from.
pub const DEFAULT_DEBIAN_VARIANT: &str = "minbase";

/// A Debian root: suite, variant, extra packages and components (sorted, without duplicates,
/// so two ways of writing the same root are the same value).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DebianRoot {
    suite: String,
    variant: String,
    packages: Vec<String>,
    components: Vec<String>,
}

impl DebianRoot {
    /// The `minbase` root of `suite` (`bookworm`, `trixie`, `stable`, …) with the `main` component.
    pub fn new(suite: &str) -> Result<Self> {
        check_word(suite, "suite", suite)?;
        Ok(Self {
            suite: suite.to_owned(),
            variant: DEFAULT_DEBIAN_VARIANT.to_owned(),
            packages: Vec::new(),
            components: vec!["main".to_owned()],
        })
    }

    /// Another `mmdebstrap` variant (see [`DEBIAN_VARIANTS`]).
    pub fn with_variant(mut self, variant: &str) -> Result<Self> {
        if !DEBIAN_VARIANTS.contains(&variant) {
            return Err(invalid(
                &self.address(),
                &format!(
                    "unknown variant `{variant}`: use one of {}",
                    DEBIAN_VARIANTS.join(", ")
                ),
            ));
        }
        self.variant = variant.to_owned();
        Ok(self)
    }

    /// Adds packages installed with the bootstrap (`mmdebstrap --include`). A package may carry
    /// a version (`socat=1.7.4.4-2`), as apt takes it.
    pub fn with_packages<I, S>(mut self, packages: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for p in packages {
            let p = p.as_ref();
            check_word(p, "package", &self.address())?;
            self.packages.push(p.to_owned());
        }
        self.packages.sort();
        self.packages.dedup();
        Ok(self)
    }

    /// The archive components to use (default `main`).
    pub fn with_components<I, S>(mut self, components: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut all = Vec::new();
        for c in components {
            check_word(c.as_ref(), "component", &self.address())?;
            all.push(c.as_ref().to_owned());
        }
        if all.is_empty() {
            return Err(invalid(&self.address(), "name at least one component"));
        }
        all.sort();
        all.dedup();
        self.components = all;
        Ok(self)
    }

    /// The suite.
    pub fn suite(&self) -> &str {
        &self.suite
    }

    /// The `mmdebstrap` variant.
    pub fn variant(&self) -> &str {
        &self.variant
    }

    /// Extra packages, sorted.
    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    /// Components, sorted.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The canonical address: `plinth/debian:SUITE-VARIANT[?include=…][&components=…]`, with
    /// `components` left out when it is only `main`.
    pub fn address(&self) -> String {
        let mut text = format!("{DEBIAN_ROOT_NAME}:{}-{}", self.suite, self.variant);
        let mut query = Vec::new();
        if !self.packages.is_empty() {
            query.push(format!("include={}", self.packages.join(",")));
        }
        if self.components != ["main"] {
            query.push(format!("components={}", self.components.join(",")));
        }
        if !query.is_empty() {
            text.push('?');
            text.push_str(&query.join("&"));
        }
        text
    }

    /// Parses `plinth/debian:SUITE[-VARIANT][?include=A,B][&components=C,D]`.
    pub fn parse(input: &str) -> Result<Self> {
        let rest = input
            .strip_prefix(DEBIAN_ROOT_NAME)
            .and_then(|r| r.strip_prefix(':'))
            .ok_or_else(|| {
                invalid(
                    input,
                    "a Debian root is written `plinth/debian:SUITE[-VARIANT][?include=PKG,…]`",
                )
            })?;
        let (tag, query) = match rest.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (rest, None),
        };
        // The variant is the last `-` part when it names one, so `bookworm-backports` stays a suite.
        let (suite, variant) = match tag.rsplit_once('-') {
            Some((s, v)) if DEBIAN_VARIANTS.contains(&v) => (s, v),
            _ => (tag, DEFAULT_DEBIAN_VARIANT),
        };
        if suite.is_empty() {
            return Err(invalid(
                input,
                "the suite is missing: write `plinth/debian:bookworm`",
            ));
        }
        let mut root = Self::new(suite)
            .map_err(|_| invalid(input, &format!("`{suite}` is not a suite name")))?
            .with_variant(variant)?;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                invalid(
                    input,
                    &format!("`{pair}` is not `include=…` or `components=…`"),
                )
            })?;
            let values = value.split(',').filter(|v| !v.is_empty());
            root = match key {
                "include" => root.with_packages(values)?,
                "components" => root.with_components(values)?,
                other => {
                    return Err(invalid(
                        input,
                        &format!("unknown option `{other}`: use `include` or `components`"),
                    ));
                }
            };
        }
        Ok(root)
    }
}

impl fmt::Display for DebianRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address())
    }
}

/// Whether `address` uses the reserved Debian root name.
pub(crate) fn is_debian_address(address: &str) -> bool {
    address
        .strip_prefix(DEBIAN_ROOT_NAME)
        .is_some_and(|r| r.is_empty() || r.starts_with(':') || r.starts_with('@'))
}

fn invalid(input: &str, reason: &str) -> Error {
    Error::InvalidSource {
        input: input.chars().take(200).collect(),
        reason: reason.to_owned(),
    }
}

/// Suites, packages and components go on mmdebstrap's command line and into sources lists:
/// only the characters Debian allows in them (policy 5.6.1 for package names, plus the version
/// characters of `name=version`).
fn check_word(word: &str, what: &str, input: &str) -> Result<()> {
    let ok = !word.is_empty()
        && word
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':' | '='));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            input,
            &format!(
                "`{word}` is not a valid {what} name (letters, digits and `.+-~:=`, starting with a letter or digit)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Container;

    #[test]
    fn parses_and_prints_back_canonically() {
        let r = DebianRoot::parse("plinth/debian:bookworm").unwrap();
        assert_eq!(r.suite(), "bookworm");
        assert_eq!(r.variant(), "minbase");
        assert_eq!(r.address(), "plinth/debian:bookworm-minbase");
        let r = DebianRoot::parse(
            "plinth/debian:bookworm-backports-apt?include=socat,python3,socat&components=main,contrib",
        )
        .unwrap();
        assert_eq!(r.suite(), "bookworm-backports");
        assert_eq!(r.variant(), "apt");
        assert_eq!(r.packages(), ["python3", "socat"]);
        assert_eq!(r.components(), ["contrib", "main"]);
        assert_eq!(
            r.address(),
            "plinth/debian:bookworm-backports-apt?include=python3,socat&components=contrib,main"
        );
        assert_eq!(DebianRoot::parse(&r.address()).unwrap(), r);
    }

    #[test]
    fn bad_roots_say_what_is_wrong() {
        for (input, needle) in [
            ("plinth/debian", "written `plinth/debian:SUITE"),
            ("plinth/debian:", "the suite is missing"),
            (
                "plinth/debian:bookworm?include=a;rm",
                "`a;rm` is not a valid package",
            ),
            ("plinth/debian:bookworm?with=x", "unknown option `with`"),
            (
                "plinth/debian:bookworm?components=",
                "at least one component",
            ),
            ("plinth/debian:-minbase", "the suite is missing"),
        ] {
            let err = DebianRoot::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
        let err = DebianRoot::new("bookworm")
            .unwrap()
            .with_variant("tiny")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `tiny`"), "{err}");
    }

    #[test]
    fn a_dockerfile_reaches_debian_roots_by_the_reserved_name() {
        let c = crate::parse_dockerfile(
            "FROM plinth/debian:bookworm-minbase?include=socat\nRUN [\"socat\", \"-V\"]\n",
            ".",
        )
        .unwrap()
        .without_history();
        let crate::Op::From { source } = &c.ops()[0] else {
            panic!("{:?}", c.ops())
        };
        let root = source.debian().expect("a Debian root");
        assert_eq!(root.packages(), ["socat"]);
        assert_eq!(
            c,
            Container::from_debian(
                DebianRoot::new("bookworm")
                    .unwrap()
                    .with_packages(["socat"])
                    .unwrap()
            )
            .with_exec(["socat", "-V"])
        );
    }

    #[test]
    fn only_the_bare_reserved_name_is_a_debian_root() {
        assert!(is_debian_address("plinth/debian:bookworm"));
        assert!(!is_debian_address("docker.io/plinth/debian:bookworm"));
        assert!(!is_debian_address("plinth/debian-tools:1"));
    }
}
