//! The changelog entry of a release and its draft: the packages added, removed and upgraded
//! since the previous published version (`Upgrade openssl 3.0.11 → 3.0.13; add socat 1.7.4.4`),
//! compared per platform once the new version is built.
//!
//! The previous version is the highest one below the new version that was released (a
//! changelog entry or a tag), else the highest one below it the family declares with a recipe.
//! Its packages come from the SPDX SBOMs attached to it in the registry; when it has none
//! (published before SBOMs were attached), it is pulled and its SBOMs are generated from its
//! layers; when it is not in the registry at all, it is rebuilt from its recipe and its SBOMs
//! generated from that build. The draft says which ([`ChangelogDraft::compared_with`]). The new
//! version's are generated from the build. A draft that cannot be made is never a failure of
//! the release: it says why instead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use plinth_catalog::family::RecipeDecl;
use plinth_catalog::{Family, PublishedImage, Version, VersionHistory};
use plinth_diff::{Named, PackageChange, PackageSet};
use plinth_oci::{ImageLocation, Platform, Reference};
use plinth_registry::{Client, NoTransferReporter, fetch_image};

use crate::build_version::BuiltVersion;
use crate::error::{Error, Result};
use crate::releaser::Releaser;

/// At most this many package changes are written out in a draft; the rest are counted.
pub const DRAFT_ITEMS: usize = 12;

/// What a [`ChangelogSource::Ask`] answer is.
pub type AskedEntry = std::result::Result<String, Box<dyn std::error::Error + Send + Sync>>;

/// Where a release's changelog entry comes from.
#[derive(Clone)]
pub enum ChangelogSource {
    /// The entry as given (non-empty).
    Given(String),
    /// The draft's package summary itself; the release fails before anything is published or
    /// written when there is none (no previous version, or no package changed).
    FromDiff,
    /// Asked once the version is built and checked, with the draft to offer (the prompt).
    Ask(Arc<dyn Fn(&ChangelogDraft) -> AskedEntry + Send + Sync>),
}

impl std::fmt::Debug for ChangelogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given(text) => f.debug_tuple("Given").field(text).finish(),
            Self::FromDiff => f.write_str("FromDiff"),
            Self::Ask(_) => f.write_str("Ask(..)"),
        }
    }
}

/// The draft of a changelog entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangelogDraft {
    /// The version compared with, if there is one.
    pub previous: Option<Version>,
    /// What was compared with, for people: the published image, or the previous version
    /// rebuilt from its recipe because the registry does not have it.
    pub compared_with: Option<String>,
    /// The package changes since `previous` (every platform's, each change once).
    pub changes: Vec<PackageChange>,
    /// The one-line summary of `changes` (`None` when there are none).
    pub summary: Option<String>,
    /// Why there is no summary, when there is none.
    pub missing: Option<String>,
}

impl ChangelogDraft {
    fn unavailable(previous: Option<Version>, why: String) -> Self {
        Self {
            previous,
            compared_with: None,
            changes: Vec::new(),
            summary: None,
            missing: Some(why),
        }
    }
}

impl Releaser {
    /// The entry `source` gives for the release of `built`, its draft made when needed.
    pub(crate) fn changelog_entry(
        &self,
        source: &ChangelogSource,
        registry: &VersionHistory,
        built: &BuiltVersion,
    ) -> Result<String> {
        let entry = match source {
            ChangelogSource::Given(text) => text.clone(),
            ChangelogSource::FromDiff => {
                let draft = self.changelog_draft(registry, built);
                draft.summary.ok_or_else(|| Error::NoChangelogDraft {
                    version: built.version.clone(),
                    reason: draft.missing.unwrap_or_default(),
                })?
            }
            ChangelogSource::Ask(ask) => {
                let draft = self.changelog_draft(registry, built);
                ask(&draft).map_err(|source| Error::ChangelogNotGiven { source })?
            }
        };
        if entry.trim().is_empty() {
            return Err(plinth_catalog::Error::InvalidFamily {
                repository: built.repository.clone(),
                reason: "the changelog entry is empty; describe the change".to_owned(),
            }
            .into());
        }
        Ok(entry)
    }

    /// Refuses `--changelog-from-diff` before anything is built when there is nothing to
    /// compare with.
    pub(crate) fn refuse_draft_without_previous(
        source: &ChangelogSource,
        registry: &VersionHistory,
        family: &dyn Family,
        version: &Version,
    ) -> Result<()> {
        if matches!(source, ChangelogSource::FromDiff)
            && previous_version(registry, family, version).is_none()
        {
            return Err(Error::NoChangelogDraft {
                version: version.clone(),
                reason: NO_PREVIOUS.to_owned(),
            });
        }
        Ok(())
    }

    /// The draft entry of `built`: its package changes since the previous version (see the
    /// module docs), as published, else rebuilt from its recipe.
    pub fn changelog_draft(
        &self,
        registry: &VersionHistory,
        built: &BuiltVersion,
    ) -> ChangelogDraft {
        let family = match self.family(&built.repository) {
            Ok(family) => family,
            Err(e) => return ChangelogDraft::unavailable(None, plinth_oci::error_chain(&e)),
        };
        let Some(version) = previous_version(registry, family, &built.version) else {
            return ChangelogDraft::unavailable(None, NO_PREVIOUS.to_owned());
        };
        let published = registry
            .entry(&version)
            .and_then(plinth_catalog::VersionEntry::published_image);
        let compared_with = match published.map(PublishedImage::reference) {
            Some(Ok(reference)) => format!("{version} as published ({reference})"),
            Some(Err(_)) => format!("{version} as published"),
            None => format!("{version} rebuilt from its recipe (it is not in the registry)"),
        };
        self.reporter.status(&format!(
            "Comparing the packages of {} {} with {compared_with} for the changelog draft.",
            built.repository, built.version
        ));
        let changes = match published {
            Some(image) => self.package_changes(image, built),
            None => self.rebuilt_package_changes(family, &version, built),
        };
        match changes {
            Ok(changes) => {
                let summary = plinth_diff::summarize(&changes, DRAFT_ITEMS);
                let missing = summary
                    .is_none()
                    .then(|| format!("no package changed since {version}"));
                ChangelogDraft {
                    previous: Some(version),
                    compared_with: Some(compared_with),
                    changes,
                    summary,
                    missing,
                }
            }
            Err(e) => {
                let why = format!(
                    "the packages of {version} could not be compared: {}",
                    plinth_oci::error_chain(&e)
                );
                self.reporter.warning(&why);
                ChangelogDraft::unavailable(Some(version), why)
            }
        }
    }

    /// The package changes from the published `previous` to `built`, on the platforms both
    /// have, each change once.
    fn package_changes(
        &self,
        previous: &PublishedImage,
        built: &BuiltVersion,
    ) -> Result<Vec<PackageChange>> {
        let reference = previous.reference()?;
        let store = self.client.store();
        // The pulled image has no ref: the lock keeps gc away while its SBOMs are made.
        let _lock = store.lock_shared().map_err(|e| Error::Store {
            action: "lock",
            source: Box::new(e),
        })?;
        let before = self
            .runtime
            .block_on(published_packages(&self.client, &reference))?;
        changes_to(store, &before, built)
    }

    /// The package changes from `previous`, rebuilt from its recipe in the client's store, to
    /// `built`.
    fn rebuilt_package_changes(
        &self,
        family: &dyn Family,
        previous: &Version,
        built: &BuiltVersion,
    ) -> Result<Vec<PackageChange>> {
        let rebuilt = self.build_annotated(family, previous)?;
        let store = self.client.store();
        let before = plinth_diff::image_packages(
            store,
            &Named {
                name: format!("{}:{previous} rebuilt", built.repository),
                root: rebuilt.root.clone(),
            },
        )
        .map_err(|e| Error::Diff(Box::new(e)))?;
        changes_to(store, &before, built)
    }
}

/// Why a draft has nothing to compare with: no version below the new one, published or
/// declared with a recipe.
const NO_PREVIOUS: &str = "there is no published version to compare with";

/// The version a draft of `new` compares with: the highest version below it `registry` has
/// (released through the changelog or published), else the highest version below it `family`
/// declares with a recipe.
fn previous_version(
    registry: &VersionHistory,
    family: &dyn Family,
    new: &Version,
) -> Option<Version> {
    let released = registry
        .entries()
        .iter()
        .map(|e| e.version().clone())
        .filter(|v| v < new)
        .max();
    released.or_else(|| {
        family
            .versions()
            .iter()
            .filter(|d| matches!(d.recipe(), RecipeDecl::Known(_)))
            .map(|d| d.version().clone())
            .filter(|v| v < new)
            .max()
    })
}

/// The package changes from `before` (per platform) to `built`, on the platforms both have,
/// each change once.
fn changes_to(
    store: &plinth_oci::Store,
    before: &BTreeMap<Platform, PackageSet>,
    built: &BuiltVersion,
) -> Result<Vec<PackageChange>> {
    let after = plinth_diff::image_packages(
        store,
        &Named {
            name: format!("{}:{}", built.repository, built.version),
            root: built.root.clone(),
        },
    )
    .map_err(|e| Error::Diff(Box::new(e)))?;
    let mut changes = BTreeSet::new();
    for (platform, packages) in &after {
        if let Some(old) = before.get(platform) {
            changes.extend(plinth_diff::diff_packages(old, packages));
        }
    }
    Ok(changes.into_iter().collect())
}

/// The packages of each platform of the published `reference`: its attached SPDX SBOMs, else
/// SBOMs generated from its layers (pulled into the client's store).
async fn published_packages(
    client: &Client,
    reference: &Reference,
) -> Result<BTreeMap<Platform, PackageSet>> {
    let spdx = plinth_sbom::Format::Spdx.media_type();
    let wanted = |d: &plinth_oci::Descriptor| d.artifact_type.as_deref() == Some(spdx);
    let attached = plinth_attest::find_attached(client, reference, None, &wanted)
        .await
        .unwrap_or_else(|e| {
            tracing::debug!(image = %reference, "no attached SBOM read: {e}");
            Vec::new()
        });
    let mut packages = BTreeMap::new();
    for found in attached {
        let Some(platform) = found.platform else {
            continue;
        };
        match PackageSet::from_spdx_json(&found.payload) {
            Ok(set) => {
                packages.insert(platform, set);
            }
            Err(e) => {
                tracing::warn!(image = %reference, %platform, "the attached SBOM is unreadable: {e}");
            }
        }
    }
    if !packages.is_empty() {
        return Ok(packages);
    }
    let root = fetch_image(
        client,
        &ImageLocation::Registry(reference.clone()),
        &[],
        Arc::new(NoTransferReporter),
    )
    .await
    .map_err(|e| Error::Registry {
        action: "pull",
        target: reference.to_string(),
        source: Box::new(e),
    })?;
    plinth_diff::image_packages(
        client.store(),
        &Named {
            name: reference.to_string(),
            root,
        },
    )
    .map_err(|e| Error::Diff(Box::new(e)))
}
