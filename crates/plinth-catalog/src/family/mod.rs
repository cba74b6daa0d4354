//! Image families as code: every version of a base image with its recipe and its checks.
//!
//! A [`Family`] is one image repository (`airbyte/python-connector-base`). It declares **every**
//! version it knows, oldest first, as a [`VersionDecl`] row: the recipe (a function of the
//! platform returning a [`Container`]), the sanity checks, the root image, and the recorded
//! facts (published digest, changelog text, provenance). Because each version keeps its own
//! recipe, `publish X` rebuilds X, not whatever the code holds today.
//!
//! Checks are **inherited**: a version's list is the previous version's list with the
//! [`CheckChange`]s of its row applied (a check with an existing id replaces it in place, so
//! `python_version 3.9.18` becomes `3.10.14` without moving; new checks are appended or inserted
//! before a named one; dropped ones go away). Versions whose checks are not known are skipped by
//! the inheritance.
//!
//! Users declare their own families in their own crate, either with [`TableFamily`] or by
//! implementing the trait (only [`Family::repository`] and [`Family::versions`] are required).
//!
//! ```
//! use plinth_catalog::checks::Check;
//! use plinth_catalog::family::{CheckChange, Family, TableFamily, VersionDecl};
//! use plinth_recipe::Container;
//!
//! let family = TableFamily::new("example/base", vec![
//!     VersionDecl::new("1.0.0".parse().unwrap())
//!         .with_recipe(|_platform| Container::from_address("docker.io/debian:bookworm-slim"))
//!         .with_check_changes([CheckChange::Set(Check::timezone_is_utc())]),
//!     VersionDecl::new("1.1.0".parse().unwrap())
//!         .with_recipe(|_platform| Ok(Container::from_address("docker.io/debian:bookworm-slim")?.with_exec(["true"])))
//!         .with_check_changes([CheckChange::Set(Check::command_available("bash"))]),
//! ]).unwrap();
//! let checks = family.checks(&"1.1.0".parse().unwrap()).unwrap();
//! assert_eq!(checks.iter().map(Check::id).collect::<Vec<_>>(), ["timezone_is_utc", "command_available:bash"]);
//! ```

use std::fmt;
use std::sync::Arc;

use plinth_oci::Platform;
use plinth_recipe::{BaseResolver, Container, ImageSource, ImageSubstitutions};

use crate::about::{FamilyAbout, RecipeFile};
use crate::changelog::{Changelog, ChangelogEntry};
use crate::checks::Check;
use crate::error::{Error, Result};
use crate::staged::{FamilyKind, StagedVersion};
use crate::version::Version;

mod decl;
mod inherit;
mod table;

pub use decl::{CheckChange, ChecksDecl, Provenance, RecipeDecl, RecipeFn, VersionDecl};
pub use inherit::resolve_checks;
pub use table::TableFamily;

/// An image family. Object-safe: catalogs hold `Arc<dyn Family>`.
pub trait Family: Send + Sync {
    /// The repository, without registry (`airbyte/python-connector-base`).
    fn repository(&self) -> &str;

    /// Every declared version, oldest first (strictly ascending precedence).
    fn versions(&self) -> &[VersionDecl];

    /// The platforms every version is built for; `linux/amd64` and `linux/arm64` by default.
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::linux_amd64(), Platform::linux_arm64()]
    }

    /// The declaration of `version`.
    fn declaration(&self, version: &Version) -> Result<&VersionDecl> {
        self.versions()
            .iter()
            .find(|d| d.version() == version)
            .ok_or_else(|| Error::UnknownVersion {
                repository: self.repository().to_owned(),
                version: version.clone(),
            })
    }

    /// The newest declared version.
    fn latest_version(&self) -> Option<&Version> {
        self.versions().last().map(VersionDecl::version)
    }

    /// The recipe of `version` for `platform`; [`Error::RecipeUnknown`] when it is not (fully)
    /// known.
    fn recipe(&self, version: &Version, platform: &Platform) -> Result<Container> {
        let decl = self.declaration(version)?;
        match decl.recipe() {
            RecipeDecl::Known(f) => call_recipe(self.repository(), decl, f, platform),
            RecipeDecl::Partial { missing, .. } => Err(Error::RecipeUnknown {
                repository: self.repository().to_owned(),
                version: version.clone(),
                reason: format!("only the steps of its Dockerfile example are known; {missing}"),
            }),
            RecipeDecl::Unknown { reason } => Err(Error::RecipeUnknown {
                repository: self.repository().to_owned(),
                version: version.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// The recipe a build of `version` builds for `platform`. A family kept as Dockerfiles reads
    /// each stage on its base image's config, which `bases` resolves (after `substitutions`), as
    /// `plinth build -f` and BuildKit do; a code family's is [`Family::recipe`].
    fn build_recipe(
        &self,
        version: &Version,
        platform: &Platform,
        bases: &dyn BaseResolver,
        substitutions: &ImageSubstitutions,
    ) -> Result<Container> {
        let _ = (bases, substitutions);
        self.recipe(version, platform)
    }

    /// The Dockerfile example of `version`: the documentation text of the original tool, rendered
    /// from the `linux/amd64` recipe (or from its visible steps when only those are known).
    fn dockerfile_example(&self, version: &Version) -> Result<String> {
        let decl = self.declaration(version)?;
        let amd64 = Platform::linux_amd64();
        match decl.recipe() {
            RecipeDecl::Known(f) | RecipeDecl::Partial { visible: f, .. } => {
                Ok(call_recipe(self.repository(), decl, f, &amd64)?.dockerfile_example())
            }
            RecipeDecl::Unknown { reason } => Err(Error::RecipeUnknown {
                repository: self.repository().to_owned(),
                version: version.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// The sanity checks of `version`, in execution order, after inheritance.
    fn checks(&self, version: &Version) -> Result<Vec<Check>> {
        resolve_checks(self.repository(), self.versions(), version)
    }

    /// The root image of `version`, as written in its recipe.
    fn root_image(&self, version: &Version) -> Option<ImageSource> {
        self.declaration(version)
            .ok()
            .and_then(|d| d.root_image().cloned())
    }

    /// What the family says about itself for people (nothing unless overridden).
    fn about(&self) -> FamilyAbout {
        FamilyAbout::default()
    }

    /// The Dockerfile `version` is built from, for a family kept as files.
    fn recipe_file(&self, version: &Version) -> Option<RecipeFile> {
        let _ = version;
        None
    }

    /// How the family is declared; [`FamilyKind::Code`] unless overridden.
    fn kind(&self) -> FamilyKind {
        FamilyKind::Code
    }

    /// Whether the family's next version comes from working files rather than a declaration
    /// (then any bump can be released; see [`Family::stage_version`]).
    fn has_working_version(&self) -> bool {
        false
    }

    /// Stages the working files as `version` for a release (see [`crate::staged`]); `None` for a
    /// family whose versions are all declared.
    fn stage_version(&self, version: &Version) -> Result<Option<Box<dyn StagedVersion>>> {
        let _ = version;
        Ok(None)
    }

    /// The family with its working files declared, for local builds and checks of what the
    /// next release would be (never recorded); `None` for a family whose versions are all
    /// declared.
    fn working_version(&self) -> Result<Option<(Arc<dyn Family>, Version)>> {
        Ok(None)
    }

    /// The changelog the declarations imply: one entry per version with changelog text, with its
    /// rendered example, newest first.
    fn declared_changelog(&self) -> Result<Changelog> {
        let mut entries = Vec::new();
        for decl in self.versions() {
            if let Some(text) = decl.changelog() {
                entries.push(ChangelogEntry::new(
                    decl.version().clone(),
                    text,
                    self.dockerfile_example(decl.version())?,
                ));
            }
        }
        Ok(Changelog::new(entries))
    }
}

impl fmt::Debug for dyn Family + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("repository", &self.repository())
            .field(
                "versions",
                &self
                    .versions()
                    .iter()
                    .map(|d| d.version().to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn call_recipe(
    repository: &str,
    decl: &VersionDecl,
    f: &RecipeFn,
    platform: &Platform,
) -> Result<Container> {
    f(platform).map_err(|source| Error::Recipe {
        repository: repository.to_owned(),
        version: decl.version().clone(),
        platform: platform.to_string(),
        source: Box::new(source),
    })
}
