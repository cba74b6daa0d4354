//! Whether this process may build sandboxes.

use crate::error::{Error, Result};

/// Succeeds when the process is root. Otherwise the error says whether user namespaces (which
/// a rootless mode would need) are available on this machine.
pub fn check_privileges() -> Result<()> {
    let euid = nix::unistd::geteuid().as_raw();
    if euid == 0 {
        return Ok(());
    }
    Err(Error::NotRoot {
        euid,
        userns: describe_user_namespaces(),
    })
}

fn read_number(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn describe_user_namespaces() -> String {
    if read_number("/proc/sys/user/max_user_namespaces") == Some(0) {
        return "user namespaces are disabled on this machine (sysctl user.max_user_namespaces = 0)".into();
    }
    if read_number("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
        return "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone = 0)".into();
    }
    "user namespaces are available, but rootless sandboxes are not supported yet".into()
}
