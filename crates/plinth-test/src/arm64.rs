//! Debian's static arm64 busybox, for tests that run arm64 binaries through qemu-user-static.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Environment variable naming an arm64 busybox to use instead of fetching one.
pub const ARM64_BUSYBOX_ENV: &str = "PLINTH_TEST_ARM64_BUSYBOX";

/// Path of Debian's static arm64 busybox, panicking when it cannot be had.
///
/// See [`try_arm64_busybox`].
pub fn arm64_busybox() -> PathBuf {
    try_arm64_busybox().unwrap_or_else(|e| panic!("{}", crate::error_chain(&e)))
}

/// Path of Debian's static arm64 busybox: [`ARM64_BUSYBOX_ENV`] when set, else
/// `plinth-test-data/busybox-arm64` in the target directory, fetched once by this crate's
/// `data/fetch-arm64-busybox.sh` (needs root and a Debian mirror).
pub fn try_arm64_busybox() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(ARM64_BUSYBOX_ENV) {
        return Ok(p.into());
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"));
    let out = target.join("plinth-test-data/busybox-arm64");
    if out.exists() {
        return Ok(out);
    }
    let script = manifest.join("data/fetch-arm64-busybox.sh");
    let status = Command::new(&script)
        .arg(&out)
        .status()
        .map_err(|source| Error::Spawn {
            program: script.display().to_string(),
            hint: "it is a shell script in plinth-test's data directory; check it is there and executable".into(),
            source,
        })?;
    if !status.success() {
        return Err(Error::Environment(format!(
            "fetching the arm64 busybox failed ({status}); run `{} {}` as root, or set \
             {ARM64_BUSYBOX_ENV} to a static arm64 busybox",
            script.display(),
            out.display()
        )));
    }
    Ok(out)
}
