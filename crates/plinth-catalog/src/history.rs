//! A repository's version history: its changelog reconciled with its published tags (the
//! original tool called this its registry model).
//!
//! A version exists when it has a changelog entry, a published SemVer tag, or both. Each
//! [`VersionEntry`] carries the optional [`PublishedImage`] (tag → index digest, observed in the
//! registry, never derived from a recipe) and the optional [`ChangelogEntry`]. Tags that are not
//! strict SemVer (`latest`, `dev-…`) are kept apart as [`IgnoredTag`]s instead of failing the load.
//!
//! The published tags come from a [`TagSource`], which the registry client implements; this crate
//! does no network I/O itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use plinth_oci::{Digest, Platform, Reference};

use crate::changelog::{Changelog, ChangelogEntry};
use crate::error::{Error, Result, cut};
use crate::version::{BumpKind, Version};

/// Where the published tags of a repository come from (implemented by the registry client).
pub trait TagSource {
    /// Every tag of `repository` (a reference without tag or digest) with the digest it points to
    /// (the top-level digest: the multi-platform index for plinth images). A repository that does
    /// not exist yet (`NAME_UNKNOWN`, 404) has no tags and is not an error. Implementors wrap their
    /// own failures in [`Error::ListTags`].
    fn list(&self, repository: &Reference) -> Result<Vec<(String, Digest)>>;
}

/// A published image: `registry/repository:tag@sha256:hex`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublishedImage {
    registry: String,
    repository: String,
    tag: String,
    digest: Digest,
    platform_digests: BTreeMap<Platform, Digest>,
}

impl PublishedImage {
    /// The image tagged `tag` in `repository` (its tag and digest, if any, are ignored), pointing to
    /// `digest`.
    pub fn new(repository: &Reference, tag: impl Into<String>, digest: Digest) -> Self {
        Self {
            registry: repository.registry().to_owned(),
            repository: repository.repository().to_owned(),
            tag: tag.into(),
            digest,
            platform_digests: BTreeMap::new(),
        }
    }

    /// The same image with the digests of its per-platform manifests (from its index).
    pub fn with_platform_digests(mut self, digests: BTreeMap<Platform, Digest>) -> Self {
        self.platform_digests = digests;
        self
    }

    /// The registry host (`docker.io` for Docker Hub).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path (`airbyte/python-connector-base`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The digest the tag points to (the multi-platform index).
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Per-platform manifest digests, when known (empty otherwise).
    pub fn platform_digests(&self) -> &BTreeMap<Platform, Digest> {
        &self.platform_digests
    }

    /// The address consumers pin: `docker.io/airbyte/python-connector-base:3.0.0@sha256:…`.
    pub fn address(&self) -> String {
        format!(
            "{}/{}:{}@{}",
            self.registry, self.repository, self.tag, self.digest
        )
    }

    /// The address as a parsed reference.
    pub fn reference(&self) -> Result<Reference> {
        Reference::new(
            &self.registry,
            &self.repository,
            Some(&self.tag),
            Some(self.digest.clone()),
        )
        .map_err(|e| Error::InvalidAddress {
            input: cut(&self.address(), 300),
            reason: e.to_string(),
        })
    }
}

impl fmt::Display for PublishedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address())
    }
}

impl fmt::Debug for PublishedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublishedImage({})", self.address())
    }
}

impl FromStr for PublishedImage {
    type Err = Error;

    /// Parses `registry/repository:tag@sha256:hex` the way the original did (first `/` separates
    /// the registry; the rest splits into repository, tag and digest), with validation.
    fn from_str(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidAddress {
            input: cut(input, 300),
            reason: reason.to_owned(),
        };
        let shape = "expected `registry/repository:tag@sha256:<hex>`, e.g. `docker.io/airbyte/python-connector-base:3.0.0@sha256:…`";
        let (registry, rest) = input.split_once('/').ok_or_else(|| bad(shape))?;
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(bad(
                "the address must start with the registry host (`docker.io/` for Docker Hub)",
            ));
        }
        let (name, digest) = rest.split_once('@').ok_or_else(|| bad(shape))?;
        let (repository, tag) = name.rsplit_once(':').ok_or_else(|| bad(shape))?;
        if repository.is_empty() || tag.is_empty() {
            return Err(bad(shape));
        }
        let digest: Digest = digest
            .parse()
            .map_err(|e: plinth_oci::Error| bad(&e.to_string()))?;
        // Validate the name and tag with the reference grammar; keep the spelling as given.
        Reference::new(registry, repository, Some(tag), Some(digest.clone()))
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.to_owned(),
            digest,
            platform_digests: BTreeMap::new(),
        })
    }
}

/// Where a version is known from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VersionStatus {
    /// Released in the changelog, not (yet) published.
    ChangelogOnly,
    /// Published as a tag, without a changelog entry.
    PublishedOnly,
    /// Released and published.
    Both,
}

impl VersionStatus {
    /// `changelog-only`, `published-only` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChangelogOnly => "changelog-only",
            Self::PublishedOnly => "published-only",
            Self::Both => "both",
        }
    }
}

impl fmt::Display for VersionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    version: Version,
    published: Option<PublishedImage>,
    changelog: Option<ChangelogEntry>,
    root_image: Option<Reference>,
}

impl VersionEntry {
    /// The version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The published image, if the tag exists.
    pub fn published_image(&self) -> Option<&PublishedImage> {
        self.published.as_ref()
    }

    /// Whether a tag exists for the version (the digest is not compared with anything).
    pub fn is_published(&self) -> bool {
        self.published.is_some()
    }

    /// The changelog entry, if the version was released through the changelog.
    pub fn changelog_entry(&self) -> Option<&ChangelogEntry> {
        self.changelog.as_ref()
    }

    /// The root image the version's recipe starts from, when the caller recorded it.
    pub fn root_image(&self) -> Option<&Reference> {
        self.root_image.as_ref()
    }

    /// Records the root image of the version's recipe (known to families, not to the registry).
    pub fn set_root_image(&mut self, root: Reference) {
        self.root_image = Some(root);
    }

    /// Records per-platform digests on the published image; ignored when it is not published.
    pub fn set_platform_digests(&mut self, digests: BTreeMap<Platform, Digest>) {
        if let Some(p) = self.published.take() {
            self.published = Some(p.with_platform_digests(digests));
        }
    }

    /// Where the version is known from.
    pub fn status(&self) -> VersionStatus {
        match (&self.published, &self.changelog) {
            (Some(_), Some(_)) => VersionStatus::Both,
            (Some(_), None) => VersionStatus::PublishedOnly,
            // An entry always has one of the two; an entry with neither cannot be built.
            (None, _) => VersionStatus::ChangelogOnly,
        }
    }
}

/// A tag that is not a strict SemVer version, kept out of the entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredTag {
    tag: String,
    digest: Digest,
    note: String,
}

impl IgnoredTag {
    /// The tag as listed.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The digest it points to.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Why it is not a version.
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// A repository's versions: the union of its changelog and its published SemVer tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionHistory {
    repository: Reference,
    entries: Vec<VersionEntry>,
    ignored_tags: Vec<IgnoredTag>,
}

impl VersionHistory {
    /// Reconciles `changelog` with the `tags` listed for `repository`.
    pub fn new(
        repository: &Reference,
        changelog: Changelog,
        tags: impl IntoIterator<Item = (String, Digest)>,
    ) -> Self {
        let repository = repository.repository_only();
        let mut by_version: BTreeMap<Version, VersionEntry> = BTreeMap::new();
        let mut ignored_tags = Vec::new();
        for (tag, digest) in tags {
            match tag.parse::<Version>() {
                Ok(version) => {
                    let published = PublishedImage::new(&repository, tag, digest);
                    by_version.insert(
                        version.clone(),
                        VersionEntry {
                            version,
                            published: Some(published),
                            changelog: None,
                            root_image: None,
                        },
                    );
                }
                Err(e) => {
                    let note = match e {
                        Error::InvalidVersion { reason, .. } => {
                            format!("not a release tag: {reason}")
                        }
                        other => other.to_string(),
                    };
                    ignored_tags.push(IgnoredTag { tag, digest, note });
                }
            }
        }
        if !ignored_tags.is_empty() {
            tracing::info!(repository = %repository, count = ignored_tags.len(), "ignoring tags that are not SemVer versions");
        }
        ignored_tags.sort_by(|a, b| a.tag.cmp(&b.tag));
        for entry in changelog.entries() {
            let slot = by_version
                .entry(entry.version().clone())
                .or_insert_with(|| VersionEntry {
                    version: entry.version().clone(),
                    published: None,
                    changelog: None,
                    root_image: None,
                });
            slot.changelog = Some(entry.clone());
        }
        Self {
            repository,
            entries: by_version.into_values().rev().collect(),
            ignored_tags,
        }
    }

    /// Loads the changelog at `changelog_path` and the tags of `repository` from `source`.
    pub fn load(
        repository: &Reference,
        changelog_path: &Path,
        source: &dyn TagSource,
    ) -> Result<Self> {
        let changelog = Changelog::load(changelog_path)?;
        let tags = source.list(&repository.repository_only())?;
        Ok(Self::new(repository, changelog, tags))
    }

    /// The repository (no tag, no digest).
    pub fn repository(&self) -> &Reference {
        &self.repository
    }

    /// The repository as shown in docs: `airbyte/python-connector-base` on Docker Hub, with the
    /// registry host elsewhere.
    pub fn display_repository(&self) -> String {
        self.repository.familiar()
    }

    /// All versions, highest first.
    pub fn entries(&self) -> &[VersionEntry] {
        &self.entries
    }

    /// The entry of `version`.
    pub fn entry(&self, version: &Version) -> Option<&VersionEntry> {
        self.entries.iter().find(|e| &e.version == version)
    }

    /// The entry of `version`, to record root images or platform digests.
    pub fn entry_mut(&mut self, version: &Version) -> Option<&mut VersionEntry> {
        self.entries.iter_mut().find(|e| &e.version == version)
    }

    /// Tags that are not versions, by tag name.
    pub fn ignored_tags(&self) -> &[IgnoredTag] {
        &self.ignored_tags
    }

    /// The highest version, pre-releases and unpublished included (original `latest_entry`; what
    /// a new release bumps from).
    pub fn latest(&self) -> Option<&VersionEntry> {
        self.entries.first()
    }

    /// The highest published version (original `latest_published_entry`).
    pub fn latest_published(&self) -> Option<&VersionEntry> {
        self.entries.iter().find(|e| e.is_published())
    }

    /// The highest published release that is not a pre-release (original
    /// `latest_not_pre_released_published_entry`): what consumers pin.
    pub fn latest_stable_published(&self) -> Option<&VersionEntry> {
        self.entries
            .iter()
            .find(|e| e.is_published() && !e.version.is_prerelease())
    }

    /// The version new releases bump from: the highest version, or `0.0.0` when there is none.
    pub fn latest_version(&self) -> Version {
        self.latest().map_or(Version::ZERO, |e| e.version.clone())
    }

    /// Refuses a new version that already exists or is not above the latest version.
    pub fn check_new_version(&self, version: &Version) -> Result<()> {
        if self.entry(version).is_some() {
            return Err(Error::VersionExists {
                version: version.clone(),
            });
        }
        if let Some(latest) = self.latest()
            && version <= &latest.version
        {
            return Err(Error::VersionNotAbove {
                version: version.clone(),
                latest: latest.version.clone(),
            });
        }
        Ok(())
    }

    /// The version `kind` gives from [`latest_version`](Self::latest_version), checked with
    /// [`check_new_version`](Self::check_new_version) (so `finalize` on an empty registry or
    /// `prerelease` on a final release is refused).
    pub fn next_version(&self, kind: BumpKind) -> Result<Version> {
        let next = kind.next(&self.latest_version());
        if self.latest().is_none() && next == Version::ZERO {
            return Err(Error::VersionNotAbove {
                version: next,
                latest: Version::ZERO,
            });
        }
        self.check_new_version(&next)?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests;
