//! plinth for family crates: declare base-image families in Rust and get the whole `plinth`
//! command line for them, with one dependency.
//!
//! A family crate (see `examples/my-family`) declares each version of an image as a recipe (a
//! [`Container`]: `from`, `with_exec`, `with_env`, …) with its sanity checks ([`Check`], plus its
//! own kinds through [`checks::CustomCheck`]), collects its families in a [`Catalog`] with the
//! title and owner its docs carry, and hands that to [`main_with`]: `build`, `check`,
//! `generate-release`, `publish`, `generate-docs`, … then work on its families.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use plinth::{Catalog, Check, CheckChange, Container, TableFamily, VersionDecl};
//!
//! fn main() -> std::process::ExitCode {
//!     let family = TableFamily::new("team/base", vec![
//!         VersionDecl::new("1.0.0".parse().unwrap())
//!             .with_recipe(|_platform| {
//!                 Ok(Container::from_address("docker.io/library/debian:bookworm-slim")?
//!                     .with_exec(["useradd", "--uid", "1000", "app"]))
//!             })
//!             .with_check_changes([CheckChange::Set(Check::user_exists("app", 1000, 1000))]),
//!     ])
//!     .expect("a valid family");
//!     let catalog = Catalog::new("team-base-images", "Team")
//!         .with_family(Arc::new(family))
//!         .expect("one family");
//!     plinth::main_with(catalog)
//! }
//! ```
//!
//! Where the pieces live: recipes in `plinth-recipe`, families, checks and versions in
//! `plinth-catalog`, OCI types in `plinth-oci`, the command line in `plinth-cli`; the map of the
//! whole workspace is `ARCHITECTURE.md` at the repository root.

#![deny(missing_docs)]

pub use plinth_catalog::checks::{self, Check};
pub use plinth_catalog::consumer::{self, ConsumerFamilies, ConsumerFormat, ConsumerPin};
pub use plinth_catalog::family::{self, CheckChange, ChecksDecl, Provenance, RecipeDecl};
pub use plinth_catalog::{Catalog, Family, TableFamily, Version, VersionDecl};
pub use plinth_cli::main_with;
pub use plinth_oci::{Digest, Platform};
pub use plinth_recipe::{
    Container, DirectorySource, ExecOptions, FileOptions, FileSource, ImageSource, Network,
};

/// The crates behind the re-exports, for what the names above do not cover.
pub mod crates {
    pub use plinth_catalog as catalog;
    pub use plinth_cli as cli;
    pub use plinth_oci as oci;
    pub use plinth_recipe as recipe;
}
