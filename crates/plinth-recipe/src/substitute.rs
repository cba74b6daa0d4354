//! Root-image substitution: build a recipe from stand-in images instead of the ones it names.
//!
//! A digest-pinned root (`docker.io/python:3.10.14-slim-bookworm@sha256:…`) cannot be served
//! by a mirror with other bytes: the digest would not match. Where the real image cannot be
//! reached (an offline machine, a test), [`Container::with_substituted_images`] rewrites every
//! matching `from`, helper containers included, to another [`ImageSource`] and records what it
//! did. An image built that way is a stand-in build: callers warn about it and refuse to publish
//! it anywhere but a loopback registry.
//!
//! ```
//! use plinth_recipe::{Container, DirectorySource, ImageSubstitutions};
//!
//! let helper = Container::from_address("bash:latest").unwrap().with_exec(["true"]);
//! let recipe = Container::from_address("docker.io/python:3.10.14-slim-bookworm@sha256:2407c61b1a18067393fecd8a22cf6fceede893b6aaca817bf9fbfe65e33614a3")
//!     .unwrap()
//!     .with_directory("/data", DirectorySource::container(&helper, "/data"));
//! let subs: ImageSubstitutions = ["python=127.0.0.1:5000/standin/python:3.11", "bash:latest=oci:/tmp/busybox:v1"]
//!     .iter()
//!     .map(|s| s.parse())
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! let substituted = recipe.with_substituted_images(&subs);
//! assert_eq!(substituted.applied().len(), 2);
//! assert!(substituted.container().dockerfile_example().starts_with("FROM 127.0.0.1:5000/standin/python:3.11"));
//! ```

use std::fmt;
use std::str::FromStr;

use plinth_oci::{ImageLocation, Reference};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::op::Op;
use crate::op_helpers::HelperRole;
use crate::source::{ImageSource, SourceKind};

/// The label a substituted container gets, listing every substitution (`FROM => TO`, one per
/// line), so a stand-in image says what it is when inspected.
pub const SUBSTITUTION_LABEL: &str = "dev.plinth.image-substitutions";

/// Which image sources a substitution replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// Every tag and digest of a registry repository (`python`, `docker.io/library/python`).
    Repository(Reference),
    /// One tag of a repository, whatever digest pins it (`python:3.10.14-slim-bookworm`).
    Tag(Reference),
    /// A full address: repository, tag if given, and digest (`python:3.10@sha256:…`).
    Pinned(Reference),
    /// A local source (`oci:DIR[:TAG]`, `docker-archive:FILE`), matched by its exact text.
    Local(String),
}

impl Pattern {
    fn matches(&self, source: &ImageSource) -> bool {
        match (self, source.kind()) {
            (Pattern::Repository(p), SourceKind::Image(ImageLocation::Registry(r))) => {
                p.name() == r.name()
            }
            (Pattern::Tag(p), SourceKind::Image(ImageLocation::Registry(r))) => {
                p.name() == r.name() && p.tag() == r.tag()
            }
            (Pattern::Pinned(p), SourceKind::Image(ImageLocation::Registry(r))) => {
                p.name() == r.name()
                    && p.digest() == r.digest()
                    && (p.tag().is_none() || p.tag() == r.tag())
            }
            (
                Pattern::Local(text),
                SourceKind::Image(
                    ImageLocation::OciLayout { .. } | ImageLocation::DockerArchive { .. },
                )
                | SourceKind::Debian(_),
            ) => text == source.address(),
            _ => false,
        }
    }
}

/// One `FROM=TO` rule: image sources matching `FROM` are replaced by `TO`.
///
/// `FROM` is a repository (`python`, every tag and digest), `repository:tag` (that tag, pinned
/// or not), a full address with digest (exactly that image) or a local source (`oci:DIR[:TAG]`,
/// `docker-archive:FILE`, matched as written). Short Docker Hub names are normalised, so
/// `python` matches `docker.io/python:…` and `docker.io/library/python:…`. `TO` is any image
/// source.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageSubstitution {
    text: String,
    pattern: Pattern,
    replacement: ImageSource,
}

impl ImageSubstitution {
    /// A rule replacing sources that match `from` (see the type docs) by `to`.
    pub fn new(from: &str, to: ImageSource) -> Result<Self> {
        let source = ImageSource::parse(from).map_err(|e| Error::InvalidSubstitution {
            input: from.chars().take(200).collect(),
            reason: format!("the image to replace does not parse: {e}"),
        })?;
        let pattern = match source.kind() {
            SourceKind::Image(ImageLocation::Registry(r)) if r.digest().is_some() => {
                Pattern::Pinned(r.clone())
            }
            SourceKind::Image(ImageLocation::Registry(r)) if r.tag().is_some() => {
                Pattern::Tag(r.clone())
            }
            SourceKind::Image(ImageLocation::Registry(r)) => Pattern::Repository(r.clone()),
            SourceKind::Image(
                ImageLocation::OciLayout { .. } | ImageLocation::DockerArchive { .. },
            )
            | SourceKind::Debian(_) => Pattern::Local(source.address().to_owned()),
        };
        Ok(Self {
            text: format!("{from}={to}"),
            pattern,
            replacement: to,
        })
    }

    /// The image sources this rule replaces, as written.
    pub fn from_text(&self) -> &str {
        self.text
            .split_once('=')
            .map_or(self.text.as_str(), |(from, _)| from)
    }

    /// What matching sources become.
    pub fn replacement(&self) -> &ImageSource {
        &self.replacement
    }

    /// Whether this rule replaces `source`.
    pub fn matches(&self, source: &ImageSource) -> bool {
        self.pattern.matches(source)
    }
}

impl FromStr for ImageSubstitution {
    type Err = Error;

    /// `FROM=TO`, split at the first `=` (neither side of a valid rule holds one before it).
    fn from_str(spec: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidSubstitution {
            input: spec.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        let (from, to) = spec.split_once('=').ok_or_else(|| {
            bad("write `FROM=TO`, e.g. `python=127.0.0.1:5000/standin/python:3.11`")
        })?;
        if from.is_empty() || to.is_empty() {
            return Err(bad("both sides of `FROM=TO` must be non-empty"));
        }
        let to = ImageSource::parse(to).map_err(|e| Error::InvalidSubstitution {
            input: spec.chars().take(200).collect(),
            reason: format!("the replacement image does not parse: {e}"),
        })?;
        Self::new(from, to)
    }
}

impl fmt::Display for ImageSubstitution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ImageSubstitution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageSubstitution({})", self.text)
    }
}

/// An ordered set of [`ImageSubstitution`]s; the first rule that matches a source wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSubstitutions {
    rules: Vec<ImageSubstitution>,
}

impl ImageSubstitutions {
    /// No substitutions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `FROM=TO` rules (the `--substitute-image` flags), in order.
    pub fn parse_all<I, S>(specs: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        specs.into_iter().map(|s| s.as_ref().parse()).collect()
    }

    /// These rules with `rule` appended.
    pub fn with(mut self, rule: ImageSubstitution) -> Self {
        self.rules.push(rule);
        self
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[ImageSubstitution] {
        &self.rules
    }

    /// The replacement of `source`, if a rule matches it.
    pub fn replacement_for(&self, source: &ImageSource) -> Option<&ImageSource> {
        self.rules
            .iter()
            .find(|r| r.matches(source))
            .map(ImageSubstitution::replacement)
    }
}

impl FromIterator<ImageSubstitution> for ImageSubstitutions {
    fn from_iter<T: IntoIterator<Item = ImageSubstitution>>(iter: T) -> Self {
        Self {
            rules: iter.into_iter().collect(),
        }
    }
}

/// One `from` a substitution rewrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedSubstitution {
    /// Where the `from` is: `step 0`, or `helper container of step 12: step 0`.
    pub location: String,
    /// The image the recipe names.
    pub original: ImageSource,
    /// The image used instead.
    pub replacement: ImageSource,
}

impl fmt::Display for AppliedSubstitution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} => {} ({})",
            self.original, self.replacement, self.location
        )
    }
}

/// A container with its images substituted, and what was substituted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Substituted {
    container: Container,
    applied: Vec<AppliedSubstitution>,
}

impl Substituted {
    /// The rewritten container. When anything was substituted, its last operation is the
    /// [`SUBSTITUTION_LABEL`] label listing the substitutions.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Every `from` that was rewritten, in recipe order (helper containers at their step).
    pub fn applied(&self) -> &[AppliedSubstitution] {
        &self.applied
    }

    /// The container and the substitutions.
    pub fn into_parts(self) -> (Container, Vec<AppliedSubstitution>) {
        (self.container, self.applied)
    }
}

impl Container {
    /// Rewrites every `from` (helper containers of directory steps included) that one of
    /// `substitutions` matches, and records each rewrite. When anything changed, the result
    /// ends with a [`SUBSTITUTION_LABEL`] label so the built image says it is a stand-in build.
    /// Without a match the container comes back unchanged.
    pub fn with_substituted_images(&self, substitutions: &ImageSubstitutions) -> Substituted {
        let mut applied = Vec::new();
        let container = substitute_into(self, substitutions, "", &mut applied);
        let container = if applied.is_empty() {
            container
        } else {
            let text = applied
                .iter()
                .map(|a| format!("{} => {}", a.original, a.replacement))
                .collect::<Vec<_>>()
                .join("\n");
            container.with_label(SUBSTITUTION_LABEL, text)
        };
        Substituted { container, applied }
    }
}

fn substitute_into(
    container: &Container,
    substitutions: &ImageSubstitutions,
    prefix: &str,
    applied: &mut Vec<AppliedSubstitution>,
) -> Container {
    if substitutions.is_empty() {
        return container.clone();
    }
    let ops = container
        .ops()
        .iter()
        .enumerate()
        .map(|(index, op)| match op {
            Op::From { source } => match substitutions.replacement_for(source) {
                Some(replacement) => {
                    applied.push(AppliedSubstitution {
                        location: format!("{prefix}step #{}", index + 1),
                        original: source.clone(),
                        replacement: replacement.clone(),
                    });
                    Op::From {
                        source: replacement.clone(),
                    }
                }
                None => op.clone(),
            },
            op => {
                // A helper's roots are substituted too, named by their place in it.
                let mut roles = op.helpers().into_iter().map(|(role, _)| role);
                op.map_helpers(|helper| {
                    let noun = roles.next().map_or("helper container", HelperRole::noun);
                    substitute_into(
                        helper,
                        substitutions,
                        &format!("{prefix}{noun} of step #{}: ", index + 1),
                        applied,
                    )
                })
            }
        });
    container.with_ops(ops.collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::DirectorySource;

    const PINNED: &str = "docker.io/python:3.10.14-slim-bookworm@sha256:2407c61b1a18067393fecd8a22cf6fceede893b6aaca817bf9fbfe65e33614a3";
    const OTHER_DIGEST: &str = "docker.io/python:3.10.14-slim-bookworm@sha256:3b37199fbc5a730a551909b3efa7b29105c859668b7502451c163f2a4a7ae1ed";

    fn source(s: &str) -> ImageSource {
        ImageSource::parse(s).unwrap()
    }

    fn rule(s: &str) -> ImageSubstitution {
        s.parse().unwrap()
    }

    #[test]
    fn patterns_match_by_repository_tag_or_full_address() {
        let by_repo = rule("python=oci:/standin:py");
        assert!(by_repo.matches(&source(PINNED)));
        assert!(by_repo.matches(&source("python")));
        assert!(by_repo.matches(&source("docker.io/library/python:3.9")));
        assert!(!by_repo.matches(&source("pypy:3.10")));
        assert!(!by_repo.matches(&source("ghcr.io/python:3.10")));

        let by_tag = rule("docker.io/library/python:3.10.14-slim-bookworm=oci:/standin:py");
        assert!(by_tag.matches(&source(PINNED)));
        assert!(by_tag.matches(&source(OTHER_DIGEST)));
        assert!(!by_tag.matches(&source("python:3.11")));
        assert!(!by_tag.matches(&source("python")));

        let exact = rule(&format!("{PINNED}=oci:/standin:py"));
        assert!(exact.matches(&source(PINNED)));
        assert!(!exact.matches(&source(OTHER_DIGEST)));
        assert!(!exact.matches(&source("python:3.10.14-slim-bookworm")));
        let digest_only = rule(
            "python@sha256:2407c61b1a18067393fecd8a22cf6fceede893b6aaca817bf9fbfe65e33614a3=oci:/s",
        );
        assert!(digest_only.matches(&source(PINNED)));

        let local = rule("oci:/a:1=127.0.0.1:5000/x:1");
        assert!(local.matches(&source("oci:/a:1")));
        assert!(!local.matches(&source("oci:/a:2")));
        assert!(!local.matches(&source("a:1")));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (spec, needle) in [
            ("python", "write `FROM=TO`"),
            ("=oci:/x", "non-empty"),
            ("python=", "non-empty"),
            ("Python=oci:/x", "image to replace"),
            ("python=oci:", "replacement image"),
        ] {
            let err = spec.parse::<ImageSubstitution>().unwrap_err().to_string();
            assert!(err.contains(needle), "{spec}: {err}");
            assert!(err.starts_with("invalid image substitution"), "{err}");
        }
    }

    #[test]
    fn rewrites_roots_and_helper_containers_and_records_them() {
        let helper = Container::from_address("bash:latest")
            .unwrap()
            .with_exec(["true"]);
        let recipe = Container::from_address(PINNED)
            .unwrap()
            .with_exec([
                "ln",
                "-snf",
                "/usr/share/zoneinfo/Etc/UTC",
                "/etc/localtime",
            ])
            .with_directory(
                "/usr/share/nltk_data",
                DirectorySource::container(&helper, "/d"),
            );
        let subs = ImageSubstitutions::parse_all([
            "python=127.0.0.1:5000/standin/python:3.11",
            "bash=oci:/tmp/busybox:v1",
        ])
        .unwrap();
        let out = recipe.with_substituted_images(&subs);
        let locations: Vec<_> = out.applied().iter().map(|a| a.location.as_str()).collect();
        assert_eq!(
            locations,
            ["step #1", "helper container of step #3: step #1"]
        );
        assert_eq!(out.applied()[0].original.address(), PINNED);
        let ops = out.container().ops();
        assert_eq!(ops.len(), 4, "the label is appended");
        assert!(
            matches!(&ops[0], Op::From { source } if source.address() == "127.0.0.1:5000/standin/python:3.11")
        );
        let Op::Directory {
            source: DirectorySource::Container { container, path },
            ..
        } = &ops[2]
        else {
            panic!("{ops:?}")
        };
        assert_eq!(path, "/d");
        assert!(
            matches!(&container.ops()[0], Op::From { source } if source.address() == "oci:/tmp/busybox:v1")
        );
        assert_eq!(container.ops()[1], helper.ops()[1]);
        let Op::Label { name, value } = &ops[3] else {
            panic!("{ops:?}")
        };
        assert_eq!(name, SUBSTITUTION_LABEL);
        assert_eq!(
            value,
            &format!(
                "{PINNED} => 127.0.0.1:5000/standin/python:3.11\nbash:latest => oci:/tmp/busybox:v1"
            )
        );
        assert!(out.container().validate().is_ok());
        // The original is untouched, and nothing matching means nothing changes.
        assert_eq!(recipe.ops().len(), 3);
        let none = recipe
            .with_substituted_images(&ImageSubstitutions::parse_all(["pypy=oci:/x"]).unwrap());
        assert!(none.applied().is_empty());
        assert_eq!(none.container(), &recipe);
    }

    #[test]
    fn first_matching_rule_wins() {
        let subs = ImageSubstitutions::parse_all([
            "python:3.10.14-slim-bookworm=oci:/first",
            "python=oci:/second",
        ])
        .unwrap();
        assert_eq!(
            subs.replacement_for(&source(PINNED)).unwrap().address(),
            "oci:/first"
        );
        assert_eq!(
            subs.replacement_for(&source("python:3.9"))
                .unwrap()
                .address(),
            "oci:/second"
        );
        assert_eq!(subs.rules()[1].from_text(), "python");
    }
}
