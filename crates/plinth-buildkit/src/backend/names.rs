//! Names and small files of a BuildKit build: docker's architecture names, per-platform tags
//! and cache references, the recipe id of an unnamed build, secret files.

use std::path::Path;

use plinth_oci::Platform;
use plinth_recipe::Container;

use crate::error::{Error, Result};

/// A file only the owner can read, for a secret.
pub(super) fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("create", path))?;
    file.write_all(bytes).map_err(Error::io("write", path))
}

/// Docker's `info` names amd64 `x86_64` and arm64 `aarch64`.
pub(super) fn docker_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub(super) fn platform_slug(platform: &Platform) -> String {
    match &platform.variant {
        Some(v) => format!("{}-{v}", platform.architecture),
        None => platform.architecture.clone(),
    }
}

/// A name no other build of this process or another uses at the same time.
pub(super) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// `host/repo[:tag]` → `host/repo:<tag or buildcache>-<arch>`.
pub(crate) fn platform_cache_ref(reference: &str, platform: &Platform) -> String {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match reference[slash..].rfind(':') {
        Some(colon) => (&reference[..slash + colon], &reference[slash + colon + 1..]),
        None => (reference, "buildcache"),
    };
    format!("{repo}:{tag}-{}", platform_slug(platform))
}

/// The step-cache id of a recipe built without one: its root.
pub(super) fn default_recipe_id(container: &Container) -> String {
    container
        .ops()
        .iter()
        .find_map(|op| match op {
            plinth_recipe::Op::From { source } => Some(format!("from/{}", source.address())),
            _ => None,
        })
        .unwrap_or_else(|| "scratch".to_owned())
}
