//! A family's version rows: what is declared about each version (recipe, checks, provenance,
//! recorded facts).

use std::fmt;
use std::sync::Arc;

use plinth_oci::{Digest, Platform};
use plinth_recipe::{Container, ImageSource};

use crate::checks::Check;
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
