//! The bootstrap's working directories, and what a killed bootstrap leaves behind.
//!
//! mmdebstrap in root mode mounts `/proc`, `/sys` and `/dev` pieces inside the root it makes
//! and unmounts them when it ends; killed (`kill -9`, or its parent killed), it cannot. So the
//! bootstrap runs in a mount and PID namespace of its own (`unshare`): its mounts never reach
//! the host's mount table, and when plinth dies, `setpriv --pdeathsig` kills the namespace's
//! first process and with it every process inside, which frees the namespace and its mounts.
//! Each working directory is named after the process that made it (`debian-root-<pid>-…`); the
//! next resolution removes those whose process is gone, unmounting first whatever is still
//! mounted below them (as a bootstrap run without the namespace would have left).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The prefix of a working directory; the creating process's pid follows.
const WORK_PREFIX: &str = "debian-root-";

/// A new working directory in `tmp`, named after this process.
pub(crate) fn work_dir(tmp: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{WORK_PREFIX}{}-", std::process::id()))
        .tempdir_in(tmp)
        .map_err(|e| Error::io("create a temp dir in", tmp, e))
}

/// `program args…` run in a mount and PID namespace of its own that dies with this process:
/// `setpriv --pdeathsig KILL` kills `unshare` when plinth dies, `--kill-child` then kills the
/// namespace's first process, and the kernel every other one.
pub(crate) fn guarded_command(program: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "KILL", "--", "unshare", "--mount"])
        .args([
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child=KILL",
        ])
        .args(["--", program]);
    cmd
}

/// Removes the working directories in `tmp` whose process is gone, after unmounting anything
/// still mounted below them. Failures are logged: a leftover must not stop a build.
pub(crate) fn remove_stale_work(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(creator_pid) else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let dir = entry.path();
        tracing::info!(dir = %dir.display(), pid, "removing the working directory of a killed bootstrap");
        for mount in mounts_below(&dir) {
            let out = Command::new("umount").arg("--lazy").arg(&mount).output();
            if !out.as_ref().is_ok_and(|o| o.status.success()) {
                tracing::warn!(mount = %mount.display(), ?out, "cannot unmount a leftover of a killed bootstrap");
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the working directory of a killed bootstrap");
        }
    }
}

/// The pid in `debian-root-<pid>-<random>`.
fn creator_pid(name: &str) -> Option<u32> {
    let (pid, _) = name.strip_prefix(WORK_PREFIX)?.split_once('-')?;
    pid.parse().ok()
}

/// The mount points at or below `dir` in this process's mount table, deepest first.
pub(crate) fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mount_point)
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape_mount_point(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_mount_points() {
        assert_eq!(creator_pid("debian-root-4242-a1b2c3"), Some(4242));
        assert_eq!(creator_pid("debian-root-a1b2c3"), None);
        assert_eq!(creator_pid("debian-release-4242-x"), None);
        assert_eq!(
            unescape_mount_point("/s/tmp/a\\040b/rootfs/proc"),
            PathBuf::from("/s/tmp/a b/rootfs/proc")
        );
        assert!(mounts_below(Path::new("/")).contains(&PathBuf::from("/")));
        assert!(mounts_below(Path::new("/no/such/dir/below")).is_empty());
    }
}
