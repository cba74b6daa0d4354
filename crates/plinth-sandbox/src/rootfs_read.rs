//! Reading a file of the rootfs from the host side, without mounting anything: the merged view
//! of an overlay stack is computed by hand (whiteouts and opaque directories honoured) and no
//! symlink is ever followed, so a hostile image cannot make us read a host file.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path};

use crate::error::{Error, Result};
use crate::spec::Rootfs;
use crate::syscall::linux::is_opaque_dir;

/// Files bigger than this are refused (an `/etc/passwd` is a few KiB).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

fn is_whiteout(meta: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.file_type().is_char_device() && meta.rdev() == 0
}

enum Lookup {
    /// The path is not in this layer; look in the layers below.
    Absent,
    /// The path is hidden (whiteout, or below an opaque directory) for all layers below.
    Hidden,
    /// Found in this layer.
    Found(File),
    /// Found in this layer, and every layer below is hidden by an opaque directory, but the file
    /// is absent here.
    AbsentOpaque,
}

fn lookup_in_layer(layer: &Path, rel: &Path, display: &str) -> Result<Lookup> {
    let components: Vec<_> = rel.components().collect();
    let mut current = layer.to_path_buf();
    let mut opaque_above = false;
    for (i, c) in components.iter().enumerate() {
        let Component::Normal(name) = c else {
            return Err(Error::RootfsFile {
                path: display.into(),
                reason: "path is not normalized".into(),
            });
        };
        current.push(name);
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(if opaque_above {
                    Lookup::AbsentOpaque
                } else {
                    Lookup::Absent
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(Lookup::Hidden),
            Err(e) => return Err(Error::io("inspect", &current, e)),
        };
        if is_whiteout(&meta) {
            return Ok(Lookup::Hidden);
        }
        if meta.file_type().is_symlink() {
            return Err(Error::RootfsFile {
                path: display.into(),
                reason: format!(
                    "`{}` is a symlink in layer `{}`; plinth does not follow symlinks when reading users and groups",
                    Path::new("/")
                        .join(components[..=i].iter().collect::<std::path::PathBuf>())
                        .display(),
                    layer.display()
                ),
            });
        }
        let last = i + 1 == components.len();
        if last {
            if !meta.is_file() {
                return Err(Error::RootfsFile {
                    path: display.into(),
                    reason: "not a regular file".into(),
                });
            }
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&current)
                .map_err(|e| Error::io("open", &current, e))?;
            return Ok(Lookup::Found(file));
        }
        if !meta.is_dir() {
            // A file where a directory is expected hides everything below.
            return Ok(Lookup::Hidden);
        }
        if is_opaque_dir(&current) {
            opaque_above = true;
        }
    }
    Ok(Lookup::Absent)
}

/// The contents of `path` (absolute, inside the rootfs) as the sandbox would see it, or `None`
/// if it does not exist.
pub fn read_rootfs_file(rootfs: &Rootfs, path: &str) -> Result<Option<Vec<u8>>> {
    let rel = Path::new(path.trim_start_matches('/'));
    let layers: Vec<&Path> = match rootfs {
        Rootfs::Overlay(o) => o.lower().iter().map(|p| p.as_path()).collect(),
        Rootfs::Directory(d) => vec![d.as_path()],
    };
    for layer in layers {
        match lookup_in_layer(layer, rel, path)? {
            Lookup::Absent => continue,
            Lookup::Hidden | Lookup::AbsentOpaque => return Ok(None),
            Lookup::Found(file) => {
                let mut buf = Vec::new();
                file.take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io("read", layer.join(rel), e))?;
                if buf.len() as u64 > MAX_FILE_BYTES {
                    return Err(Error::RootfsFile {
                        path: path.into(),
                        reason: format!("larger than {MAX_FILE_BYTES} bytes"),
                    });
                }
                return Ok(Some(buf));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::OverlayRootfs;

    fn write(p: &Path, s: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }

    #[test]
    fn top_layer_wins_and_missing_is_none() {
        let t = tempfile::tempdir().unwrap();
        write(&t.path().join("top/etc/passwd"), "top");
        write(&t.path().join("bottom/etc/passwd"), "bottom");
        write(&t.path().join("bottom/etc/group"), "g");
        let rootfs = Rootfs::Overlay(OverlayRootfs::new(
            [t.path().join("top"), t.path().join("bottom")],
            t.path().join("u"),
            t.path().join("w"),
        ));
        assert_eq!(
            read_rootfs_file(&rootfs, "/etc/passwd").unwrap().unwrap(),
            b"top"
        );
        assert_eq!(
            read_rootfs_file(&rootfs, "/etc/group").unwrap().unwrap(),
            b"g"
        );
        assert_eq!(read_rootfs_file(&rootfs, "/etc/shadow").unwrap(), None);
    }

    #[test]
    fn symlinks_are_refused_not_followed() {
        let t = tempfile::tempdir().unwrap();
        write(&t.path().join("secret"), "host secret");
        std::fs::create_dir_all(t.path().join("root/etc")).unwrap();
        std::os::unix::fs::symlink(t.path().join("secret"), t.path().join("root/etc/passwd"))
            .unwrap();
        let rootfs = Rootfs::Directory(t.path().join("root"));
        let err = read_rootfs_file(&rootfs, "/etc/passwd").unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        std::fs::remove_dir_all(t.path().join("root/etc")).unwrap();
        std::os::unix::fs::symlink(t.path(), t.path().join("root/etc")).unwrap();
        assert!(read_rootfs_file(&rootfs, "/etc/secret").is_err());
    }

    #[test]
    fn a_file_over_a_directory_hides_lower_layers() {
        let t = tempfile::tempdir().unwrap();
        write(&t.path().join("top/etc"), "not a dir");
        write(&t.path().join("bottom/etc/passwd"), "bottom");
        let rootfs = Rootfs::Overlay(OverlayRootfs::new(
            [t.path().join("top"), t.path().join("bottom")],
            t.path().join("u"),
            t.path().join("w"),
        ));
        assert_eq!(read_rootfs_file(&rootfs, "/etc/passwd").unwrap(), None);
    }
}
