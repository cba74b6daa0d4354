//! Whether a platform can run on this machine.

use plinth_oci::Platform;

use crate::error::{Error, Result};

/// Checks that `platform` can run here: natively, or through a binfmt_misc handler (registered
/// now when running as root and qemu-user-static is installed).
pub(crate) fn check_platform(platform: &Platform) -> Result<()> {
    if platform.os != "linux" {
        return Err(Error::Image(format!(
            "cannot build for {platform}: only linux images can be built"
        )));
    }
    if platform.architecture == plinth_sandbox::binfmt::host_arch() {
        return Ok(());
    }
    plinth_sandbox::binfmt::ensure(&platform.architecture).map_err(|source| Error::Platform {
        platform: platform.to_string(),
        source: Box::new(source),
    })
}
