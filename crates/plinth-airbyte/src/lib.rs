//! The built-in Airbyte catalog: `airbyte/python-connector-base` and `airbyte/java-connector-base`
//! with every known version, its recipe (argv exact), its checks and its recorded facts.
//!
//! This crate is a family crate like `examples/my-family`: it declares [`plinth_catalog::TableFamily`]s over
//! `plinth-catalog` and `plinth-recipe`, and adds its own check kinds ([`kinds`], built on
//! [`plinth_catalog::checks::CustomCheck`]). The `plinth` binary serves [`catalog`] as its
//! built-in catalog; because that binary is `plinth-cli`'s, this crate depends on the floors
//! below the CLI instead of the `plinth` facade (which re-exports the CLI).
//!
//! Provenance follows the reference: **code** (read in the code of the time), **example** (rebuilt
//! from the recorded Dockerfile example), **inferred**, **partial** and **not recovered**. Versions
//! that were published without a recorded recipe (python 1.2.0-rc.1 and 3.0.2, java 1.0.0-rc.3)
//! are declared without recipe, so building them fails with a plain message; java 2.0.0-rc.1 keeps
//! only the steps its example shows, so its example renders but it cannot be built.
//!
//! ```
//! use plinth_catalog::family::Family;
//!
//! let catalog = plinth_airbyte::catalog();
//! assert_eq!(catalog.title(), "airbyte-connectors-base-images");
//! assert_eq!(
//!     catalog.repositories(),
//!     ["airbyte/python-connector-base", "airbyte/java-connector-base", "plinth/python-connector-base"]
//! );
//! let python = catalog.get("airbyte/python-connector-base").unwrap();
//! let err = python.recipe(&"3.0.2".parse().unwrap(), &plinth_oci::Platform::linux_amd64()).unwrap_err();
//! assert!(err.to_string().starts_with("cannot build airbyte/python-connector-base 3.0.2: its recipe is not known"));
//! ```

#![deny(missing_docs)]

pub mod checks;
pub mod consumers;
pub mod debian_python;
mod java;
pub mod kinds;
pub mod nltk;
mod python;
pub mod roots;
pub mod steps;

use std::sync::Arc;

use plinth_catalog::family::{ChecksDecl, Family, Provenance, RecipeDecl, VersionDecl};
use plinth_catalog::{Catalog, Changelog};
use plinth_oci::Digest;
use plinth_recipe::ImageSource;

pub use debian_python::{DEBIAN_PYTHON_REPOSITORY, debian_python_family};
pub use java::java_family;
pub use python::python_family;

/// The python family's repository.
pub const PYTHON_REPOSITORY: &str = "airbyte/python-connector-base";
/// The java family's repository.
pub const JAVA_REPOSITORY: &str = "airbyte/java-connector-base";
/// Declared upstream only to list its tags for manifest-only connectors: no recipe, no changelog.
pub const SOURCE_DECLARATIVE_MANIFEST_REPOSITORY: &str = "airbyte/source-declarative-manifest";

/// The title of the catalog's README, the original repository's name.
pub const CATALOG_TITLE: &str = "airbyte-connectors-base-images";
/// Whose connectors use the images.
pub const CATALOG_OWNER: &str = "Airbyte";

/// Versions whose changelog text exists only outside the original's master branch (3.0.1-rc.1's
/// text is in PR #51578, closed without merging), so the original's changelog JSON has no entry.
pub const UNMERGED_CHANGELOG_ENTRIES: [(&str, &str); 1] = [(PYTHON_REPOSITORY, "3.0.1-rc.1")];

/// The original's changelog JSON of `family` as its master branch holds it: the declared
/// changelog without [`UNMERGED_CHANGELOG_ENTRIES`]. The repository's `catalog/` directory
/// holds these files (`generated/changelogs/`), so `plinth generate-docs` there renders the
/// original's history.
pub fn original_changelog(family: &dyn Family) -> plinth_catalog::Result<Changelog> {
    let mut changelog = family.declared_changelog()?;
    for (repository, version) in UNMERGED_CHANGELOG_ENTRIES {
        if repository == family.repository() {
            changelog.remove(&parse_version(version));
        }
    }
    Ok(changelog)
}

/// The catalog: python, then java (the order of the original's prompts and README), then this
/// project's [`plinth/python-connector-base`](debian_python), which builds without Docker Hub.
///
/// Its consumers are connectors: `upgrade-consumers` reads their `metadata.yaml`
/// ([`consumers::ConnectorMetadata`]) as well as Dockerfiles.
pub fn catalog() -> Catalog {
    Catalog::new(CATALOG_TITLE, CATALOG_OWNER)
        .with_family(Arc::new(python_family()))
        .and_then(|c| c.with_family(Arc::new(java_family())))
        .and_then(|c| c.with_family(Arc::new(debian_python_family())))
        .expect("the three repositories differ")
        .with_consumer_format(Arc::new(consumers::ConnectorMetadata))
}

fn parse_version(version: &str) -> plinth_catalog::Version {
    version
        .parse()
        .expect("the Airbyte tables hold valid versions")
}

fn version_decl(version: &str, digest: &str, root: Option<&'static str>) -> VersionDecl {
    let digest: Digest = format!("sha256:{digest}")
        .parse()
        .expect("the Airbyte tables hold valid digests");
    let decl = VersionDecl::new(parse_version(version)).with_published_digest(digest);
    match root {
        Some(root) => decl.with_root_image(
            ImageSource::parse(root).expect("the Airbyte root addresses are valid"),
        ),
        None => decl,
    }
}

/// A version with a known recipe: `from root`, then `steps`.
fn row(
    version: &str,
    digest: &str,
    root: &'static str,
    steps: &'static [steps::Step],
) -> VersionDecl {
    version_decl(version, digest, Some(root))
        .with_recipe(move |_platform| steps::recipe(root, steps))
}

/// A tag published without changelog entry or recorded recipe.
fn published_only(version: &str, digest: &str) -> VersionDecl {
    version_decl(version, digest, None)
        .with_recipe_decl(RecipeDecl::Unknown {
            reason: "it was published without a changelog entry and its recipe was not recovered; \
                     pull the published image by digest instead"
                .to_owned(),
        })
        .with_checks(ChecksDecl::Unknown {
            reason: "it was published without recorded checks".to_owned(),
        })
        .with_provenance(Provenance::NotRecovered)
}
