//! The scaffold: empty mount points the sandbox needs inside the rootfs.
//!
//! Creating `/proc` or `/etc/resolv.conf` in the merged overlay would write them into the upper
//! directory, i.e. into the layer the step produces. Instead each run gets a small read-only
//! directory holding just these empty files and directories, placed as the *lowest* overlay
//! layer: it fills in whatever the image lacks, and because it is the lowest layer every
//! directory the image does have keeps the image's owner and mode. Writes under a scaffold
//! directory that is not itself a mount point are copied up like any other change.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};
use crate::spec::{RunSpec, relative_target};

/// Whether a mount point is a directory or a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountPointKind {
    /// A directory.
    Dir,
    /// A regular file (for bind mounts of single files).
    File,
}

/// A mount point the sandbox always uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemMountPoint {
    /// Path relative to the rootfs, without a leading `/`.
    pub path: &'static str,
    /// File or directory.
    pub kind: MountPointKind,
}

/// The mount points every run uses, whatever its spec.
pub const SYSTEM_MOUNT_POINTS: &[SystemMountPoint] = &[
    SystemMountPoint {
        path: "proc",
        kind: MountPointKind::Dir,
    },
    SystemMountPoint {
        path: "dev",
        kind: MountPointKind::Dir,
    },
    SystemMountPoint {
        path: "sys",
        kind: MountPointKind::Dir,
    },
    SystemMountPoint {
        path: "etc/resolv.conf",
        kind: MountPointKind::File,
    },
    SystemMountPoint {
        path: "etc/hosts",
        kind: MountPointKind::File,
    },
];

/// The kind of mount point a user mount needs: a directory for a directory source, else a file.
pub(crate) fn mount_point_kind(source: &Path) -> MountPointKind {
    match fs::metadata(source) {
        // Anything but a directory (a file, a socket such as a forwarded SSH agent's) is
        // bind-mounted onto a file.
        Ok(m) if !m.is_dir() => MountPointKind::File,
        _ => MountPointKind::Dir,
    }
}

fn create_mount_point(root: &Path, rel: &Path, kind: MountPointKind) -> Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| Error::io("create scaffold directory", parent, e))?;
    }
    match kind {
        MountPointKind::Dir => {
            fs::create_dir_all(&path).map_err(|e| Error::io("create scaffold directory", &path, e))
        }
        MountPointKind::File => fs::File::create(&path)
            .map(drop)
            .map_err(|e| Error::io("create scaffold file", &path, e)),
    }
}

/// Fill `dir` (a fresh, empty directory) with the mount points `spec` needs.
pub(crate) fn build_scaffold(dir: &Path, spec: &RunSpec) -> Result<()> {
    for mp in SYSTEM_MOUNT_POINTS {
        create_mount_point(dir, Path::new(mp.path), mp.kind)?;
    }
    for m in spec.mounts() {
        let rel = relative_target(m.target())?;
        create_mount_point(dir, &rel, mount_point_kind(m.source()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{MountSpec, Rootfs};

    #[test]
    fn scaffold_holds_system_and_user_mount_points() {
        let t = tempfile::tempdir().unwrap();
        let file_src = t.path().join("f");
        fs::write(&file_src, "x").unwrap();
        let spec = RunSpec::new(Rootfs::Directory("/unused".into()), ["true"])
            .with_mount(MountSpec::bind(&file_src, "/opt/file.txt"))
            .with_mount(MountSpec::cache(
                t.path().join("cache"),
                "/root/.cache/pip",
                0,
                0,
            ));
        let dir = t.path().join("scaffold");
        fs::create_dir(&dir).unwrap();
        build_scaffold(&dir, &spec).unwrap();
        assert!(dir.join("proc").is_dir());
        assert!(dir.join("etc/resolv.conf").is_file());
        assert!(dir.join("opt/file.txt").is_file());
        assert!(dir.join("root/.cache/pip").is_dir());
        let paths = spec.scaffold_paths();
        assert!(paths.contains(&"etc/hosts".into()));
        assert!(paths.contains(&"root/.cache/pip".into()));
    }
}
