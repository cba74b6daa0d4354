//! What a catalog holds, version by version: declared (with what is known of the recipe),
//! buildable, in the changelog, published, with the declaration's provenance and notes. The
//! `plinth catalog` command prints it as a table or JSON.
//!
//! A version is listed when the family declares it, the changelog has an entry for it, or the
//! registry has its tag (the [`VersionHistory`] given for the family, when there is one).
//!
//! ```
//! use std::sync::Arc;
//!
//! use plinth_catalog::listing::{CatalogListing, RecipeState};
//! use plinth_catalog::{Catalog, TableFamily, VersionDecl};
//! use plinth_recipe::Container;
//!
//! let family = TableFamily::new("team/base", vec![
//!     VersionDecl::new("1.0.0".parse().unwrap())
//!         .with_recipe(|_| Container::from_address("docker.io/library/debian:bookworm-slim"))
//!         .with_note("The first one."),
//! ]).unwrap();
//! let catalog = Catalog::new("team-base-images", "Team").with_family(Arc::new(family)).unwrap();
//! let listing = CatalogListing::new(&catalog, &Default::default());
//! let row = &listing.families[0].versions[0];
//! assert_eq!(row.recipe, Some(RecipeState::Known));
//! assert!(row.buildable);
//! assert_eq!(row.published, None);
//! assert_eq!(row.notes, ["The first one."]);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::family::{Family, RecipeDecl};
use crate::history::VersionHistory;
use crate::staged::FamilyKind;
use crate::version::Version;

/// The whole catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogListing {
    /// The catalog's title.
    pub title: String,
    /// Whose images they are.
    pub owner: String,
    /// One entry per family, in catalog order.
    pub families: Vec<FamilyListing>,
}

/// One family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyListing {
    /// The repository (`airbyte/python-connector-base`).
    pub repository: String,
    /// How it is declared: `code` or `files`.
    pub kind: FamilyKind,
    /// Its title, when it has one (`family.toml`'s `title`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is for, when it says (`family.toml`'s `description`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who keeps it, when it says (`family.toml`'s `owner`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The folder of a family kept as files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Where its tags were read (`docker.io/airbyte/python-connector-base`), when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// The platforms every version is built for.
    pub platforms: Vec<String>,
    /// Every version, newest first (the order of the catalog README).
    pub versions: Vec<VersionListing>,
}

/// What is known of a declared version's recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipeState {
    /// The whole recipe.
    Known,
    /// Only the steps its Dockerfile example shows.
    Partial,
    /// Nothing.
    Unknown,
}

impl RecipeState {
    /// `known`, `partial` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipeState::Known => "known",
            RecipeState::Partial => "partial",
            RecipeState::Unknown => "unknown",
        }
    }
}

/// One version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionListing {
    /// The version.
    pub version: String,
    /// Whether the family declares it.
    pub declared: bool,
    /// What is known of its recipe; `None` when it is not declared.
    pub recipe: Option<RecipeState>,
    /// Whether its recipe gives a container for every platform of the family.
    pub buildable: bool,
    /// Why it cannot be built, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_buildable: Option<String>,
    /// Its changelog text, when the changelog has an entry.
    pub changelog: Option<String>,
    /// The published address (`…:tag@sha256:…`), when the registry listing has its tag.
    pub published: Option<String>,
    /// The index digest the declaration records as published, when it records one.
    pub recorded_digest: Option<String>,
    /// How much of the declaration was read from sources (`code`, `example`, `inferred`, …).
    pub provenance: Option<String>,
    /// The declaration's notes.
    pub notes: Vec<String>,
}

impl CatalogListing {
    /// The listing of `catalog`, with the version history of each family that has one in
    /// `histories` (keyed by the family's repository; a family without one lists its
    /// declarations only).
    pub fn new(catalog: &Catalog, histories: &BTreeMap<String, VersionHistory>) -> Self {
        let families = catalog
            .families()
            .iter()
            .map(|family| family_listing(family.as_ref(), histories.get(family.repository())))
            .collect();
        Self {
            title: catalog.title().to_owned(),
            owner: catalog.owner().to_owned(),
            families,
        }
    }
}

fn family_listing(family: &dyn Family, history: Option<&VersionHistory>) -> FamilyListing {
    let mut versions: BTreeSet<Version> = family
        .versions()
        .iter()
        .map(|d| d.version().clone())
        .collect();
    if let Some(history) = history {
        versions.extend(history.entries().iter().map(|e| e.version().clone()));
    }
    let versions = versions
        .into_iter()
        .rev()
        .map(|version| version_listing(family, history, &version))
        .collect();
    let about = family.about();
    FamilyListing {
        repository: family.repository().to_owned(),
        kind: family.kind(),
        title: about.title,
        description: about.description,
        owner: about.owner,
        dir: about.files.map(|f| f.dir.display().to_string()),
        published_at: history.map(|h| h.repository().name().to_owned()),
        platforms: family.platforms().iter().map(ToString::to_string).collect(),
        versions,
    }
}

fn version_listing(
    family: &dyn Family,
    history: Option<&VersionHistory>,
    version: &Version,
) -> VersionListing {
    let decl = family.declaration(version).ok();
    let entry = history.and_then(|h| h.entry(version));
    let build_error = decl.and_then(|_| {
        family
            .platforms()
            .iter()
            .find_map(|p| family.recipe(version, p).err())
            .map(|e| e.to_string())
    });
    VersionListing {
        version: version.to_string(),
        declared: decl.is_some(),
        recipe: decl.map(|d| match d.recipe() {
            RecipeDecl::Known(_) => RecipeState::Known,
            RecipeDecl::Partial { .. } => RecipeState::Partial,
            RecipeDecl::Unknown { .. } => RecipeState::Unknown,
        }),
        buildable: decl.is_some() && build_error.is_none(),
        not_buildable: match decl {
            Some(_) => build_error,
            None => Some(format!(
                "{} does not declare {version}",
                family.repository()
            )),
        },
        changelog: entry
            .and_then(|e| e.changelog_entry())
            .map(|c| c.changelog_entry().to_owned()),
        published: entry.and_then(|e| e.published_image()).map(|p| p.address()),
        recorded_digest: decl
            .and_then(|d| d.published_digest())
            .map(ToString::to_string),
        provenance: decl.map(|d| d.provenance().as_str().to_owned()),
        notes: decl.map(|d| d.notes().to_vec()).unwrap_or_default(),
    }
}
