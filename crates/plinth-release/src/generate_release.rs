//! `generate-release`: cut a new version of a family.
//!
//! **Which recipe a release builds.** A family declares every version in code, each with its
//! own recipe. The bump kind picks the version *number* from the latest version in the registry
//! (changelog ∪ published tags), as in the original tool; that number must be a version the
//! family declares with a known recipe, and that declaration is what gets built, checked and
//! published. So a release is: declare the next version (recipe + check changes) in code, then
//! run `generate-release` with the bump that reaches it. [`ReleaseChoices`] shows, for each
//! bump kind, the version it gives and whether it can be released.
//!
//! A file family ([`plinth_catalog::file_family`]) declares only its recorded versions; its
//! working files are released as whatever version the bump gives: they are staged under
//! `versions/<X.Y.Z>/`, built and checked from there, and kept only when the release went
//! through (with the changelog entry, whose `dockerfile_example` is the recorded Dockerfile
//! itself).

use plinth_catalog::family::RecipeDecl;
use plinth_catalog::{BumpKind, Changelog, ChangelogEntry, Family, Version, VersionHistory};
use plinth_oci::Digest;

use crate::build_version::{BuiltVersion, build_version_with};
use crate::changelog_draft::ChangelogSource;
use crate::error::{Error, Result};
use crate::lock::FamilyLock;
use crate::record::{ReleaseRecords, VersionRecord};
use crate::releaser::Releaser;
use crate::runner::{check_image, require_passed};

/// One bump kind and what it would give.
#[derive(Clone, Debug)]
pub struct BumpChoice {
    /// The bump.
    pub kind: BumpKind,
    /// The version it gives, or why it cannot be released.
    pub version: std::result::Result<Version, String>,
}

impl BumpChoice {
    /// `minor → 1.1.0`, or `prerelease → 1.0.0-rc.1 (already exists)`: the prompt's label.
    pub fn label(&self) -> String {
        match &self.version {
            Ok(v) => format!("{} → {v}", self.kind),
            Err(why) => format!("{} ({why})", self.kind),
        }
    }
}

/// What `generate-release` can do for a family right now.
#[derive(Clone, Debug)]
pub struct ReleaseChoices {
    /// The family.
    pub repository: String,
    /// The latest version in the registry (`0.0.0` when empty).
    pub latest: Version,
    /// The eight bump kinds, in the original's order.
    pub choices: Vec<BumpChoice>,
    /// The newest declared version that is not released yet, if any.
    pub next_declared: Option<Version>,
}

/// A release to run: every prompt's answer.
#[derive(Clone, Debug)]
pub struct ReleaseRequest {
    /// The family.
    pub repository: String,
    /// The bump kind.
    pub bump: BumpKind,
    /// Where the changelog entry comes from: given, the package summary, or asked once the
    /// version is built (with the summary as the draft).
    pub changelog: ChangelogSource,
    /// Publish after the checks pass.
    pub publish: bool,
}

/// What a release did.
#[derive(Clone, Debug)]
pub struct ReleaseOutcome {
    /// The new version.
    pub version: Version,
    /// The built image digest (index).
    pub digest: Digest,
    /// `registry/repository:version@digest`, when published.
    pub published: Option<String>,
}

fn next_declared(family: &dyn Family, registry: &VersionHistory) -> Option<Version> {
    family
        .versions()
        .iter()
        .rev()
        .find(|d| {
            registry.entry(d.version()).is_none() && matches!(d.recipe(), RecipeDecl::Known(_))
        })
        .map(|d| d.version().clone())
}

/// The version `bump` gives, checked against the registry and the family's declarations.
fn resolve_version(
    family: &dyn Family,
    registry: &VersionHistory,
    bump: BumpKind,
) -> Result<Version> {
    let version = registry.next_version(bump)?;
    match family.declaration(&version) {
        Ok(decl) if matches!(decl.recipe(), RecipeDecl::Known(_)) => Ok(version),
        // A file family's working files become whichever version the bump gives.
        Err(_) if family.has_working_version() => Ok(version),
        _ => Err(Error::NotDeclared {
            repository: family.repository().to_owned(),
            bump: bump.to_string(),
            version,
            declared: next_declared(family, registry)
                .map_or_else(|| "none".to_owned(), |v| v.to_string()),
        }),
    }
}

fn refuse_unpublished_latest(registry: &VersionHistory, repository: &str) -> Result<()> {
    match registry.latest() {
        Some(latest) if !latest.is_published() => Err(Error::LatestUnpublished {
            repository: repository.to_owned(),
            version: latest.version().clone(),
        }),
        _ => Ok(()),
    }
}

impl Releaser {
    /// The bump choices of `repository`; fails with the original's message when its latest
    /// version is not published yet.
    pub fn release_choices(&self, repository: &str) -> Result<ReleaseChoices> {
        let family = self.family(repository)?;
        let registry = self.history(family.repository())?;
        refuse_unpublished_latest(&registry, family.repository())?;
        let choices = BumpKind::ALL
            .into_iter()
            .map(|kind| BumpChoice {
                kind,
                version: resolve_version(family, &registry, kind).map_err(|e| match e {
                    Error::Catalog(plinth_catalog::Error::VersionExists { .. }) => {
                        "already exists".to_owned()
                    }
                    Error::Catalog(plinth_catalog::Error::VersionNotAbove { version, .. }) => {
                        format!("{version} is not above the latest")
                    }
                    Error::NotDeclared { version, .. } => format!("{version} is not declared"),
                    other => other.to_string(),
                }),
            })
            .collect();
        Ok(ReleaseChoices {
            repository: family.repository().to_owned(),
            latest: registry.latest_version(),
            next_declared: next_declared(family, &registry),
            choices,
        })
    }

    /// Builds `version` once for every platform, checks it on every platform and warns about
    /// URL inputs that changed since the version was recorded. Nothing is written on failure.
    pub fn build_and_check(&self, family: &dyn Family, version: &Version) -> Result<BuiltVersion> {
        let checks = family.checks(version)?;
        let mut built = self.build_annotated(family, version)?;
        let tools = self.build_tools(family.repository())?;
        let subject = format!("{}:{version}", family.repository());
        let reports = check_image(
            tools.checker.as_ref(),
            &subject,
            &built.root,
            &family.platforms(),
            &checks,
        )?;
        self.reporter.check_reports(&reports);
        require_passed(&reports)?;
        self.reporter.status("Sanity checks passed.");
        built.check_reports = reports;
        Ok(built)
    }

    /// Builds `version` once for every platform and annotates it as a publish would (source
    /// and revision from its release record when it has one), warning about URL inputs that
    /// changed since the version was recorded; no checks, nothing pushed or written. What
    /// `publish` and `verify --rebuild` build.
    pub fn build_annotated(&self, family: &dyn Family, version: &Version) -> Result<BuiltVersion> {
        self.build_annotated_with(family, version, None)
    }

    /// [`Self::build_annotated`] with the parameters a provenance recorded (its labels and
    /// annotations) instead of the release's: what `verify --rebuild` builds to compare an
    /// image with, whoever built it (`publish` or `plinth build REPOSITORY:VERSION --push`).
    pub fn rebuild_as_recorded(
        &self,
        family: &dyn Family,
        version: &Version,
        recorded: &plinth_attest::BuildParameters,
    ) -> Result<BuiltVersion> {
        self.build_annotated_with(family, version, Some(recorded))
    }

    fn build_annotated_with(
        &self,
        family: &dyn Family,
        version: &Version,
        recorded: Option<&plinth_attest::BuildParameters>,
    ) -> Result<BuiltVersion> {
        let substitutions = &self.settings.image_substitutions;
        if !substitutions.is_empty() {
            self.reporter.warning(&format!(
                "building {} {version} from stand-in images ({}): the result is not the real image \
                 and is only publishable to a loopback registry",
                family.repository(),
                substitutions
                    .rules()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let tools = self.build_tools(family.repository())?;
        let mut built = build_version_with(
            tools.executor.as_ref(),
            tools.bases.as_ref(),
            family,
            version,
            self.reporter.build_reporter(),
            substitutions,
            &recorded.map(|r| r.labels.clone()).unwrap_or_default(),
        )?;
        for warning in &built.warnings {
            self.reporter.warning(warning);
        }
        for applied in &built.substitutions {
            self.reporter
                .warning(&format!("substituted image: {applied}"));
        }
        let records = ReleaseRecords::load(self.catalog_dir(), family.repository())?;
        let annotations = match recorded {
            Some(recorded) => recorded.image_annotations(),
            None => crate::attest::recorded_annotations(
                self.catalog_dir(),
                records.get(version),
                version,
                built.root_image.clone(),
            ),
        };
        crate::attest::annotate_built(tools.executor.store(), &mut built, annotations)?;
        if let Some(record) = records.get(version) {
            for (url, old, new) in record.changed_inputs(&built) {
                self.reporter.warning(&format!(
                    "the URL input {url} changed since {version} was released ({old} then, {new} now); \
                     this build is not the released one — pin the input with its digest"
                ));
            }
        }
        Ok(built)
    }

    /// Runs a release (see the module docs): lock the family, re-read the registry, build and
    /// check every platform, take the changelog entry (given, or drafted from the package
    /// changes since the previous published version), record the Dockerfile example, publish
    /// if asked, add the changelog entry, write the release record and regenerate the docs.
    pub fn release(&self, request: &ReleaseRequest) -> Result<ReleaseOutcome> {
        let family = self.family(&request.repository)?;
        let repository = family.repository().to_owned();
        if let ChangelogSource::Given(text) = &request.changelog
            && text.trim().is_empty()
        {
            return Err(plinth_catalog::Error::InvalidFamily {
                repository,
                reason: "the changelog entry is empty; describe the change".to_owned(),
            }
            .into());
        }
        let _lock = FamilyLock::try_acquire(self.catalog_dir(), &repository)?;
        // Under the lock, with a fresh listing: another release may have finished meanwhile.
        self.refresh_tags(&repository)?;
        let registry = self.history(&repository)?;
        refuse_unpublished_latest(&registry, &repository)?;
        let version = resolve_version(family, &registry, request.bump)?;
        Self::refuse_draft_without_previous(&request.changelog, &registry, family, &version)?;
        if request.publish {
            self.refuse_substituted_publish(&repository)?;
        }
        self.reporter
            .status(&format!("Releasing {repository} {version}."));
        // A file family's working files are staged as the version's record first: built from
        // where they will stay, kept only if the release goes through.
        let staged = match family.declaration(&version) {
            Ok(_) => None,
            Err(_) => family.stage_version(&version)?,
        };
        let family = staged.as_ref().map_or(family, |s| s.family());
        let built = self.build_and_check(family, &version)?;
        // Asked (or drafted) now that the new version's packages are known, before anything
        // is published or written.
        let text = self.changelog_entry(&request.changelog, &registry, &built)?;
        let example = family.dockerfile_example(&version)?;
        let published = if request.publish {
            let address = self.push_built(&built, false, &|_: &Digest| false)?;
            Some(address)
        } else {
            self.reporter.status(&format!(
                "Skipping publication. You can publish it later by running `plinth publish {repository} {version}`."
            ));
            None
        };
        let entry = ChangelogEntry::new(version.clone(), text, example);
        Changelog::update(&self.changelog_path(&repository), |changelog| {
            if changelog.get(&version).is_some() {
                return Err(plinth_catalog::Error::VersionExists {
                    version: version.clone(),
                });
            }
            changelog.insert(entry);
            Ok(())
        })?;
        if let Some(staged) = staged {
            staged.commit()?;
        }
        self.reporter
            .status(&format!("Added {version} to the registry."));
        let mut records = ReleaseRecords::load(self.catalog_dir(), &repository)?;
        records.upsert(VersionRecord::of(&built));
        records.write(self.catalog_dir())?;
        self.write_docs()?;
        Ok(ReleaseOutcome {
            version,
            digest: built.root.digest.clone(),
            published,
        })
    }
}
