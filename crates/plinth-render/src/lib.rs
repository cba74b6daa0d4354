//! Pure renderers over the plinth catalog: text in, text out, no I/O.
//!
//! - [`Readme`] / [`render_readme`]: the catalog README in the original package's format (examples
//!   per family, "Base images" tables, release how-to), rendered with minijinja.
//! - [`render_registry_json`]: the machine-readable `generated/registry.json` (the original's
//!   name for it), canonical and stable.
//!
//! Writing the results to disk (atomically) and the `--check` mode belong to the CLI.
//!
//! ```
//! use plinth_catalog::{Changelog, ChangelogEntry, VersionHistory};
//! use plinth_oci::{Digest, Reference};
//!
//! let repo: Reference = "airbyte/python-connector-base".parse().unwrap();
//! let changelog = Changelog::new([ChangelogEntry::new("1.0.0".parse().unwrap(), "Initial release", "FROM scratch")]);
//! let history = VersionHistory::new(&repo, changelog, [("1.0.0".to_owned(), Digest::of(b"i"))]);
//! let readme = plinth_render::render_readme("team-base-images", "Team", std::slice::from_ref(&history)).unwrap();
//! assert!(readme.starts_with("# team-base-images\n\nThis repository contains the base images used by Team connectors."));
//! assert!(readme.contains(&format!(
//!     "|  1.0.0 | ✅| docker.io/airbyte/python-connector-base:1.0.0@{} | Initial release |\n",
//!     Digest::of(b"i")
//! )));
//! let json = plinth_render::render_registry_json(&[history]).unwrap();
//! assert!(json.contains("\"latest_stable_published\": \"1.0.0\""));
//! ```

#![deny(missing_docs)]

pub mod error;
pub mod readme;
pub mod registry_json;

pub use error::{Error, Result};
pub use readme::{Declaration, PackageRelease, Readme, render_readme};
pub use registry_json::{REGISTRY_JSON_SCHEMA_VERSION, render_registry_json};
