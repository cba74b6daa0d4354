//! The rules for a step's inputs that every executor applies alike, so the embedded engine and
//! BuildKit write the same files:
//!
//! - [`FileTarget::of`]: where a file step writes and with which mode. A destination ending in
//!   `/` names a directory and gets the source's name ([`FileSource::file_name`]); a source
//!   without a name there is an error naming the path. A file without an explicit mode gets
//!   [`DOWNLOAD_MODE`] (`0600`, Docker `ADD`'s for URLs) or [`FILE_MODE`] (`0644`).
//! - [`resolve_in_context`]: a host path read inside its build context as BuildKit reads it:
//!   symlinks are followed, but an absolute target starts again at the context root and `..`
//!   never climbs above it, so a link that points out of the context finds nothing there
//!   instead of reading the host's file.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::chmod::FileMode;
use crate::error::{Error, Result};
use crate::op::FileSource;

/// The mode of a downloaded file without an explicit one (Docker `ADD`'s and the engine's).
pub const DOWNLOAD_MODE: u32 = 0o600;
/// The mode of host files and literal bytes without an explicit one.
pub const FILE_MODE: u32 = 0o644;

/// How many symlinks one path may go through before it counts as a loop (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// The last path segment of a URL, without query or fragment; `None` when the URL has no path
/// or its path ends in `/`.
pub fn url_file_name(url: &str) -> Option<&str> {
    let after_scheme = url.split_once("://")?.1;
    let path = after_scheme.split(['?', '#']).next()?;
    let (_, path) = path.split_once('/')?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

impl FileSource {
    /// The name a file gets under a destination directory: the URL's last segment or the host
    /// file's name; literal bytes have none.
    pub fn file_name(&self) -> Option<String> {
        match self {
            FileSource::Url { url, .. } => url_file_name(url).map(str::to_owned),
            FileSource::HostFile(path) => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| !n.is_empty()),
            FileSource::Bytes(_) => None,
        }
    }

    /// The mode of the file when the step gives none.
    pub fn default_mode(&self) -> u32 {
        match self {
            FileSource::Url { .. } => DOWNLOAD_MODE,
            FileSource::HostFile(_) | FileSource::Bytes(_) => FILE_MODE,
        }
    }
}

/// Where a file step writes and the mode it writes with, explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTarget {
    /// The destination path, never ending in `/`.
    pub path: String,
    /// The file's mode.
    pub mode: u32,
}

impl FileTarget {
    /// The target of a file step writing `source` to `path` with `mode` (see the module docs;
    /// a symbolic mode changes the source's default mode).
    pub fn of(path: &str, source: &FileSource, mode: Option<&FileMode>) -> Result<Self> {
        let mut path = path.to_owned();
        if path.ends_with('/') {
            let name = source
                .file_name()
                .ok_or_else(|| Error::NamesDirectory { path: path.clone() })?;
            path.push_str(&name);
        }
        Ok(Self {
            path,
            mode: mode.map_or_else(
                || source.default_mode(),
                |m| m.apply(source.default_mode(), false),
            ),
        })
    }
}

/// The real path of `path` (relative to `context`; a leading `/` is the context root) inside
/// the directory `context`, as BuildKit resolves a `COPY` source: every symlink on the way,
/// the last one included, is followed with the context as its root, and `..` stops at the root.
/// The result has no symlink in it below `context`.
///
/// Fails with [`Error::NotInContext`] when nothing exists at the resolved place (a link out of
/// the context lands there), naming both the path as given and where it led, and with
/// [`Error::ContextIo`] when the context cannot be read.
pub fn resolve_in_context(context: &Path, path: &Path) -> Result<PathBuf> {
    // Components still to walk, last first, so a link's target can be pushed in front of them.
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, path);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join_all(context, &resolved).join(&name);
        let meta = match std::fs::symlink_metadata(&candidate) {
            Ok(meta) => meta,
            Err(e) if is_missing(&e) => {
                resolved.push(name);
                pending.reverse();
                resolved.extend(pending);
                return Err(not_in_context(path, &resolved));
            }
            Err(source) => {
                return Err(Error::ContextIo {
                    path: candidate,
                    source,
                });
            }
        };
        if !meta.file_type().is_symlink() {
            resolved.push(name);
            continue;
        }
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(Error::ContextIo {
                path: candidate,
                source: std::io::Error::from_raw_os_error(40), // ELOOP
            });
        }
        let target = std::fs::read_link(&candidate).map_err(|source| Error::ContextIo {
            path: candidate.clone(),
            source,
        })?;
        if target.has_root() {
            resolved.clear();
        }
        push_components(&mut pending, &target);
    }
    Ok(join_all(context, &resolved))
}

/// Pushes the normal and `..` components of `path` onto `pending` so the first pops first.
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(names.into_iter().rev());
}

fn join_all(context: &Path, names: &[OsString]) -> PathBuf {
    let mut out = context.to_path_buf();
    out.extend(names);
    out
}

fn is_missing(e: &std::io::Error) -> bool {
    // ENOTDIR: a file where the walk needed a directory, which BuildKit reports as not found too.
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(20)
}

fn not_in_context(path: &Path, resolved: &[OsString]) -> Error {
    let mut inside = PathBuf::from("/");
    inside.extend(resolved);
    Error::NotInContext {
        path: path.to_path_buf(),
        resolved: inside,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn file_targets_get_names_and_default_modes() {
        let url = FileSource::url("https://h/a/b.sh?x=1#f");
        assert_eq!(
            FileTarget::of("/opt/", &url, None).unwrap(),
            FileTarget {
                path: "/opt/b.sh".into(),
                mode: 0o600
            }
        );
        let host = FileSource::HostFile("/ctx/hello.txt".into());
        assert_eq!(
            FileTarget::of("/etc/", &host, Some(&0o755.into())).unwrap(),
            FileTarget {
                path: "/etc/hello.txt".into(),
                mode: 0o755
            }
        );
        let bytes = FileSource::Bytes(b"x".to_vec());
        assert_eq!(FileTarget::of("/b", &bytes, None).unwrap().mode, 0o644);
        let err = FileTarget::of("/etc/", &bytes, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`/etc/` names a directory and the file source has no name; give the full file path"
        );
        assert!(FileTarget::of("/d/", &FileSource::url("https://h/a/"), None).is_err());
        assert_eq!(url_file_name("https://h"), None);
    }

    #[test]
    fn links_resolve_inside_the_context() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        std::fs::create_dir_all(ctx.join("sub")).unwrap();
        std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
        std::fs::write(ctx.join("sub/file"), "inside").unwrap();
        symlink(dir.path().join("outside.txt"), ctx.join("abs_out")).unwrap();
        symlink("../outside.txt", ctx.join("rel_out")).unwrap();
        symlink("/sub/file", ctx.join("abs_in")).unwrap();
        symlink("sub", ctx.join("dir_in")).unwrap();
        symlink("loop", ctx.join("loop")).unwrap();

        let resolve = |p: &str| resolve_in_context(&ctx, Path::new(p));
        assert_eq!(resolve("abs_in").unwrap(), ctx.join("sub/file"));
        assert_eq!(resolve("/dir_in/file").unwrap(), ctx.join("sub/file"));
        assert_eq!(
            resolve("dir_in/../dir_in/./file").unwrap(),
            ctx.join("sub/file")
        );
        assert_eq!(resolve("dir_in").unwrap(), ctx.join("sub"));
        match resolve("rel_out") {
            Err(Error::NotInContext { path, resolved }) => {
                assert_eq!(path, Path::new("rel_out"));
                assert_eq!(resolved, Path::new("/outside.txt"));
            }
            other => panic!("{other:?}"),
        }
        match resolve("abs_out") {
            Err(Error::NotInContext { resolved, .. }) => {
                assert_eq!(resolved, dir.path().join("outside.txt"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve("sub/file/x"),
            Err(Error::NotInContext { .. })
        ));
        assert!(matches!(resolve("loop"), Err(Error::ContextIo { .. })));
    }
}
