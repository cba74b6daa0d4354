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

use plinth_oci::{Digest, Platform};
use plinth_recipe::{BaseResolver, Container, ImageSource, ImageSubstitutions};

use crate::about::{FamilyAbout, RecipeFile};
use crate::changelog::{Changelog, ChangelogEntry};
use crate::checks::Check;
use crate::error::{Error, Result};
use crate::staged::{FamilyKind, StagedVersion};
use crate::version::Version;

/// A recipe: the container of one version for one platform.
pub type RecipeFn = Arc<dyn Fn(&Platform) -> plinth_recipe::Result<Container> + Send + Sync>;

/// What is known about how a version was built.
#[derive(Clone)]
pub enum RecipeDecl {
    /// The whole recipe.
    Known(RecipeFn),
    /// Only the operations the version's recorded Dockerfile example shows; the operations an
    /// example omits (workdir, files, entrypoint, user, …) are not known. The example can be
    /// rendered, the image cannot be built.
    Partial {
        /// The visible operations.
        visible: RecipeFn,
        /// What is missing, in plain words.
        missing: String,
    },
    /// Nothing is known (a tag that was published without a recorded recipe).
    Unknown {
        /// Why, in plain words.
        reason: String,
    },
}

impl fmt::Debug for RecipeDecl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipeDecl::Known(_) => f.write_str("Known"),
            RecipeDecl::Partial { missing, .. } => {
                f.debug_struct("Partial").field("missing", missing).finish()
            }
            RecipeDecl::Unknown { reason } => {
                f.debug_struct("Unknown").field("reason", reason).finish()
            }
        }
    }
}

/// A change to the inherited check list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckChange {
    /// Replace the check with the same id where it stands, or append it when the id is new.
    Set(Check),
    /// Insert a new check just before the check with id `before` (which must exist).
    InsertBefore {
        /// The id of the check that will follow.
        before: String,
        /// The new check (its id must be new).
        check: Check,
    },
    /// Remove the check with this id (which must exist).
    Drop(String),
}

/// How a version's checks are declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChecksDecl {
    /// The previous version's list (empty for the first version) with these changes, in order.
    Inherit(Vec<CheckChange>),
    /// A fresh list; nothing is inherited.
    Replace(Vec<Check>),
    /// Not known; later versions inherit from the version before this one.
    Unknown {
        /// Why, in plain words.
        reason: String,
    },
}

/// How much of a version's declaration was read from sources, for docs and reviews.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provenance {
    /// Read in the code of the time.
    Code,
    /// Rebuilt from the version's recorded Dockerfile example.
    Example,
    /// Deduced, not seen as code.
    Inferred,
    /// Only part of it is known.
    Partial,
    /// Not recovered: a published tag only.
    NotRecovered,
    /// The files recorded when the version was released (a file family).
    Recorded,
}

impl Provenance {
    /// `code`, `example`, `inferred`, `partial`, `not recovered` or `recorded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Code => "code",
            Provenance::Example => "example",
            Provenance::Inferred => "inferred",
            Provenance::Partial => "partial",
            Provenance::NotRecovered => "not recovered",
            Provenance::Recorded => "recorded",
        }
    }
}

/// One version of a family: recipe, checks and recorded facts.
#[derive(Clone, Debug)]
pub struct VersionDecl {
    version: Version,
    recipe: RecipeDecl,
    checks: ChecksDecl,
    root_image: Option<ImageSource>,
    published_digest: Option<Digest>,
    changelog: Option<String>,
    provenance: Provenance,
    notes: Vec<String>,
}

impl VersionDecl {
    /// A version with no recipe yet, inheriting its checks unchanged, provenance [`Provenance::Code`].
    pub fn new(version: Version) -> Self {
        Self {
            version,
            recipe: RecipeDecl::Unknown {
                reason: "no recipe is declared".to_owned(),
            },
            checks: ChecksDecl::Inherit(Vec::new()),
            root_image: None,
            published_digest: None,
            changelog: None,
            provenance: Provenance::Code,
            notes: Vec::new(),
        }
    }

    /// Sets the recipe.
    pub fn with_recipe(
        mut self,
        recipe: impl Fn(&Platform) -> plinth_recipe::Result<Container> + Send + Sync + 'static,
    ) -> Self {
        self.recipe = RecipeDecl::Known(Arc::new(recipe));
        self
    }

    /// Sets the recipe declaration.
    pub fn with_recipe_decl(mut self, recipe: RecipeDecl) -> Self {
        self.recipe = recipe;
        self
    }

    /// Sets the checks declaration.
    pub fn with_checks(mut self, checks: ChecksDecl) -> Self {
        self.checks = checks;
        self
    }

    /// Inherits the previous checks with `changes`.
    pub fn with_check_changes(self, changes: impl IntoIterator<Item = CheckChange>) -> Self {
        self.with_checks(ChecksDecl::Inherit(changes.into_iter().collect()))
    }

    /// Sets the root image.
    pub fn with_root_image(mut self, root: ImageSource) -> Self {
        self.root_image = Some(root);
        self
    }

    /// Records the published index digest.
    pub fn with_published_digest(mut self, digest: Digest) -> Self {
        self.published_digest = Some(digest);
        self
    }

    /// Records the changelog text (exact).
    pub fn with_changelog(mut self, text: impl Into<String>) -> Self {
        self.changelog = Some(text.into());
        self
    }

    /// Sets the provenance.
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = provenance;
        self
    }

    /// Adds a note (why a step is there, what is inferred).
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The recipe declaration.
    pub fn recipe(&self) -> &RecipeDecl {
        &self.recipe
    }

    /// The checks declaration.
    pub fn checks(&self) -> &ChecksDecl {
        &self.checks
    }

    /// The root image, as the recipe writes it.
    pub fn root_image(&self) -> Option<&ImageSource> {
        self.root_image.as_ref()
    }

    /// The recorded published index digest.
    pub fn published_digest(&self) -> Option<&Digest> {
        self.published_digest.as_ref()
    }

    /// The recorded changelog text.
    pub fn changelog(&self) -> Option<&str> {
        self.changelog.as_deref()
    }

    /// The provenance.
    pub fn provenance(&self) -> Provenance {
        self.provenance
    }

    /// The notes.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

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

/// The check list of `version` after inheritance over `versions` (oldest first).
pub fn resolve_checks(
    repository: &str,
    versions: &[VersionDecl],
    version: &Version,
) -> Result<Vec<Check>> {
    let invalid = |reason: String| Error::InvalidFamily {
        repository: repository.to_owned(),
        reason,
    };
    let mut current: Vec<Check> = Vec::new();
    for decl in versions {
        let is_target = decl.version() == version;
        match decl.checks() {
            ChecksDecl::Unknown { reason } => {
                if is_target {
                    return Err(Error::ChecksUnknown {
                        repository: repository.to_owned(),
                        version: version.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            ChecksDecl::Replace(list) => current = list.clone(),
            ChecksDecl::Inherit(changes) => {
                for change in changes {
                    apply_change(&mut current, change).map_err(|reason| {
                        invalid(format!("version {}: {reason}", decl.version()))
                    })?;
                }
            }
        }
        if let Some(dup) = current
            .iter()
            .enumerate()
            .find_map(|(i, c)| current[..i].iter().find(|o| o.id() == c.id()))
        {
            return Err(invalid(format!(
                "version {}: two checks have the id `{}`",
                decl.version(),
                dup.id()
            )));
        }
        if is_target {
            return Ok(current);
        }
    }
    Err(Error::UnknownVersion {
        repository: repository.to_owned(),
        version: version.clone(),
    })
}

fn apply_change(list: &mut Vec<Check>, change: &CheckChange) -> std::result::Result<(), String> {
    let position = |list: &[Check], id: &str| list.iter().position(|c| c.id() == id);
    match change {
        CheckChange::Set(check) => match position(list, check.id()) {
            Some(i) => list[i] = check.clone(),
            None => list.push(check.clone()),
        },
        CheckChange::InsertBefore { before, check } => {
            if position(list, check.id()).is_some() {
                return Err(format!(
                    "cannot insert `{}`: a check with that id is inherited; use Set to replace it",
                    check.id()
                ));
            }
            let i = position(list, before).ok_or_else(|| {
                format!(
                    "cannot insert `{}` before `{before}`: no inherited check has that id",
                    check.id()
                )
            })?;
            list.insert(i, check.clone());
        }
        CheckChange::Drop(id) => {
            let i = position(list, id)
                .ok_or_else(|| format!("cannot drop `{id}`: no inherited check has that id"))?;
            list.remove(i);
        }
    }
    Ok(())
}

/// A family declared as a table of versions.
#[derive(Clone, Debug)]
pub struct TableFamily {
    repository: String,
    platforms: Vec<Platform>,
    versions: Vec<VersionDecl>,
}

impl TableFamily {
    /// A family for `linux/amd64` and `linux/arm64`. The versions must be in strictly ascending
    /// precedence and their check declarations must resolve (every one is checked here).
    pub fn new(repository: impl Into<String>, versions: Vec<VersionDecl>) -> Result<Self> {
        let repository = repository.into();
        let invalid = |reason: String| Error::InvalidFamily {
            repository: repository.clone(),
            reason,
        };
        if repository.is_empty() {
            return Err(invalid("the repository is empty".to_owned()));
        }
        for pair in versions.windows(2) {
            if pair[0].version() >= pair[1].version() {
                return Err(invalid(format!(
                    "versions must be declared oldest first without duplicates, but {} comes before {}",
                    pair[0].version(),
                    pair[1].version()
                )));
            }
        }
        for decl in &versions {
            match resolve_checks(&repository, &versions, decl.version()) {
                Ok(_) | Err(Error::ChecksUnknown { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            repository,
            platforms: vec![Platform::linux_amd64(), Platform::linux_arm64()],
            versions,
        })
    }

    /// The same family built for other platforms.
    pub fn with_platforms(mut self, platforms: Vec<Platform>) -> Self {
        self.platforms = platforms;
        self
    }
}

impl Family for TableFamily {
    fn repository(&self) -> &str {
        &self.repository
    }

    fn versions(&self) -> &[VersionDecl] {
        &self.versions
    }

    fn platforms(&self) -> Vec<Platform> {
        self.platforms.clone()
    }
}
