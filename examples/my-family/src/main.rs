//! An example user crate: one image family declared in code, with the whole plinth CLI.
//!
//! `my-family generate-release`, `my-family publish example/busybox-base 1.0.0`,
//! `my-family generate-docs`, … work exactly as `plinth`'s commands do for the Airbyte catalog.
//!
//! The family builds on a busybox root. Its address is read from `MY_FAMILY_ROOT_IMAGE` (default
//! `docker.io/library/busybox:1.36.1`) so the end-to-end tests can point it at an image in a
//! loopback registry; a real family would pin its root by digest in the code, as the Airbyte
//! families do.
//!
//! Releasing a version: declare it below (recipe + check changes), then run `generate-release`
//! with the bump that reaches it. The bump prompt shows which bumps give a declared version.

use std::process::ExitCode;
use std::sync::Arc;

use plinth::{Catalog, Check, CheckChange, Container, ImageSource, TableFamily, VersionDecl};

/// The title of the catalog's README.
pub const CATALOG_TITLE: &str = "my-family-base-images";
/// Whose images they are, as the README says.
pub const CATALOG_OWNER: &str = "Example";

/// The family's repository.
pub const REPOSITORY: &str = "example/busybox-base";
/// Where the root image's address comes from.
pub const ROOT_IMAGE_ENV: &str = "MY_FAMILY_ROOT_IMAGE";
/// The root image when the variable is not set.
pub const DEFAULT_ROOT_IMAGE: &str = "docker.io/library/busybox:1.36.1";

fn root_image() -> String {
    std::env::var(ROOT_IMAGE_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_ROOT_IMAGE.to_owned())
}

/// A version's recipe: the root, a release file and an environment variable naming the version.
fn recipe(root: &str, version: &'static str) -> plinth::crates::recipe::Result<Container> {
    Ok(Container::from_address(root)?
        .with_exec([
            "sh",
            "-c",
            &format!("echo {version} > /etc/my-family-release"),
        ])
        .with_env("MY_FAMILY_VERSION", version))
}

fn version(root: &str, version: &'static str) -> VersionDecl {
    let root_owned = root.to_owned();
    let decl = VersionDecl::new(version.parse().expect("the declared versions are valid"))
        .with_recipe(move |_platform| recipe(&root_owned, version));
    match ImageSource::parse(root) {
        Ok(source) => decl.with_root_image(source),
        Err(_) => decl,
    }
}

/// The family: 1.0.0 with its checks, 1.1.0 adding a working directory and one more check.
pub fn family() -> TableFamily {
    let root = root_image();
    TableFamily::new(
        REPOSITORY,
        vec![
            version(&root, "1.0.0").with_check_changes([
                CheckChange::Set(Check::timezone_is_utc()),
                CheckChange::Set(Check::user_exists("airbyte", 1000, 1000)),
                CheckChange::Set(Check::user_can_write_dir("airbyte", "/tmp")),
                CheckChange::Set(Check::file_exists("/etc/my-family-release")),
                CheckChange::Set(Check::env_var("MY_FAMILY_VERSION", "1.0.0")),
            ]),
            version(&root, "1.1.0").with_check_changes([CheckChange::Set(Check::env_var(
                "MY_FAMILY_VERSION",
                "1.1.0",
            ))]),
        ],
    )
    .expect("the example family is valid")
}

fn main() -> ExitCode {
    let catalog = Catalog::new(CATALOG_TITLE, CATALOG_OWNER)
        .with_family(Arc::new(family()))
        .expect("one family");
    plinth::main_with(catalog)
}
