//! The scaffold: empty mount points the sandbox needs inside the rootfs.
//!
//! Creating `/proc` or `/etc/resolv.conf` in the merged overlay would write them into the upper
//! directory, i.e. into the layer the step produces. Instead each run gets a small read-only
//! directory holding just these empty files and directories, placed as the *lowest* overlay
//! layer: it fills in whatever the image lacks, and because it is the lowest layer every
//! directory the image does have keeps the image's owner and mode. Writes under a scaffold
//! directory that is not itself a mount point are copied up like any other change.
//!
//! A scaffold depends only on the set of mount points, so runs share them: each set has one
//! directory, `scaffolds/<hash of the set>` in the sandbox's state directory, made once (in a
//! run directory, then renamed) and kept. Making and removing six directories per run cost
//! more than the rest of a run's set-up on a filesystem mounted `discard` without a journal,
//! where every removed directory waits for its block's discard (1 to 5 ms each here).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::spec::{RunSpec, relative_target};

/// The directory of the shared scaffolds, in the sandbox's state directory.
const SCAFFOLDS: &str = "scaffolds";

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

/// The mount points `spec` needs: the system ones, then the spec's own.
fn mount_points(spec: &RunSpec) -> Result<Vec<(PathBuf, MountPointKind)>> {
    let mut points: Vec<(PathBuf, MountPointKind)> = SYSTEM_MOUNT_POINTS
        .iter()
        .map(|mp| (PathBuf::from(mp.path), mp.kind))
        .collect();
    for m in spec.mounts() {
        points.push((relative_target(m.target())?, mount_point_kind(m.source())));
    }
    Ok(points)
}

/// Fill `dir` (a fresh, empty directory) with `points`.
fn build_scaffold(dir: &Path, points: &[(PathBuf, MountPointKind)]) -> Result<()> {
    for (rel, kind) in points {
        create_mount_point(dir, rel, *kind)?;
    }
    Ok(())
}

/// Whether `dir` has every one of `points`, each of its kind.
fn holds(dir: &Path, points: &[(PathBuf, MountPointKind)]) -> bool {
    points.iter().all(|(rel, kind)| {
        fs::symlink_metadata(dir.join(rel)).is_ok_and(|m| match kind {
            MountPointKind::Dir => m.is_dir(),
            MountPointKind::File => m.is_file(),
        })
    })
}

/// The name of the shared scaffold of `points`: FNV-1a of their kinds and paths, stable
/// across builds of plinth. A collision only costs a private scaffold (see [`Scaffold::for_spec`]).
fn shared_name(points: &[(PathBuf, MountPointKind)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (rel, kind) in points {
        let tag: &[u8] = match kind {
            MountPointKind::Dir => b"d",
            MountPointKind::File => b"f",
        };
        for byte in tag
            .iter()
            .chain(rel.as_os_str().as_encoded_bytes())
            .chain(b"\0")
        {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// The scaffold layer of a run.
#[derive(Debug)]
pub(crate) struct Scaffold {
    path: PathBuf,
    /// A scaffold of this run's own, when the shared one could not be used; removed on drop.
    _private: Option<tempfile::TempDir>,
}

impl Scaffold {
    /// The shared scaffold for `spec`'s mount points, made under a name starting with
    /// `run_prefix` in the state directory (so that a killed process's goes with its other run
    /// files) and renamed into place when missing. When the name is taken by a directory without these mount points (a hash
    /// collision, or a directory someone changed), the run gets a private scaffold instead.
    pub(crate) fn for_spec(state_dir: &Path, run_prefix: &str, spec: &RunSpec) -> Result<Self> {
        let points = mount_points(spec)?;
        let shared = state_dir.join(SCAFFOLDS).join(shared_name(&points));
        if holds(&shared, &points) {
            return Ok(Scaffold {
                path: shared,
                _private: None,
            });
        }
        let new = tempfile::Builder::new()
            .prefix(&format!("{run_prefix}scaffold-"))
            .tempdir_in(state_dir)
            .map_err(|e| Error::io("create a scaffold directory in", state_dir, e))?;
        build_scaffold(new.path(), &points)?;
        let parent = state_dir.join(SCAFFOLDS);
        fs::create_dir_all(&parent)
            .map_err(|e| Error::io("create the scaffold directory", &parent, e))?;
        if fs::rename(new.path(), &shared).is_ok() || holds(&shared, &points) {
            // Renamed, or another run renamed its own first (then `new` is removed on drop).
            return Ok(Scaffold {
                path: shared,
                _private: None,
            });
        }
        Ok(Scaffold {
            path: new.path().to_path_buf(),
            _private: Some(new),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
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
        let state = t.path().join("state");
        fs::create_dir_all(&state).unwrap();
        let scaffold = Scaffold::for_spec(&state, "run-1-", &spec).unwrap();
        let dir = scaffold.path();
        assert!(dir.starts_with(state.join(SCAFFOLDS)));
        assert!(dir.join("proc").is_dir());
        assert!(dir.join("etc/resolv.conf").is_file());
        assert!(dir.join("opt/file.txt").is_file());
        assert!(dir.join("root/.cache/pip").is_dir());
        let paths = spec.scaffold_paths();
        assert!(paths.contains(&"etc/hosts".into()));
        assert!(paths.contains(&"root/.cache/pip".into()));
    }

    #[test]
    fn runs_with_the_same_mount_points_share_a_scaffold_and_a_taken_name_gives_a_private_one() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        fs::create_dir_all(&state).unwrap();
        let plain = RunSpec::new(Rootfs::Directory("/unused".into()), ["true"]);
        let cached =
            plain
                .clone()
                .with_mount(MountSpec::cache(t.path().join("c"), "/var/cache/apt", 0, 0));
        let first = Scaffold::for_spec(&state, "run-1-", &plain).unwrap();
        let again = Scaffold::for_spec(&state, "run-1-", &plain).unwrap();
        assert_eq!(first.path(), again.path());
        let other = Scaffold::for_spec(&state, "run-1-", &cached).unwrap();
        assert_ne!(first.path(), other.path());
        assert!(other.path().join("var/cache/apt").is_dir());
        let names = || -> Vec<String> {
            fs::read_dir(&state)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(), [SCAFFOLDS], "no temp directory left");
        // A directory under the shared name that lacks a mount point is not used.
        fs::remove_dir(other.path().join("var/cache/apt")).unwrap();
        let private = Scaffold::for_spec(&state, "run-1-", &cached).unwrap();
        let name = private.path().file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("run-1-scaffold-"), "{name}");
        assert!(private.path().join("var/cache/apt").is_dir());
        let kept = private.path().to_path_buf();
        drop(private);
        assert!(!kept.exists(), "a private scaffold goes with its run");
    }
}
