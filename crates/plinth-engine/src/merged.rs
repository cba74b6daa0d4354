//! Reading the merged view of a stack of snapshot directories from the host side, the way
//! overlayfs shows it (whiteouts and opaque directories honoured), without mounting anything and
//! without ever following a symlink: a hostile image cannot make the engine read host files.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One entry of the merged view.
#[derive(Clone, Debug)]
pub(crate) struct MergedEntry {
    /// Where the visible copy lives on the host (in the topmost layer that has it).
    pub(crate) host_path: PathBuf,
    /// Its metadata (never of a symlink target).
    pub(crate) meta: Metadata,
    /// For directories: the layer directories that contribute to it, top first.
    contributors: Vec<PathBuf>,
}

impl MergedEntry {
    pub(crate) fn is_dir(&self) -> bool {
        self.meta.is_dir()
    }
}

/// What a path is in the merged view.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Nothing there.
    Missing,
    /// Found.
    Found(MergedEntry),
    /// A parent component (named) is a symlink or not a directory.
    Blocked(String),
}

pub(crate) fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

pub(crate) fn is_opaque(dir: &Path) -> bool {
    let mut value = [0u8; 4];
    matches!(
        rustix::fs::lgetxattr(dir, "trusted.overlay.opaque", &mut value),
        Ok(1) if value[0] == b'y'
    )
}

fn read_children(dirs: &[PathBuf]) -> Result<BTreeMap<OsString, MergedEntry>> {
    let mut out: BTreeMap<OsString, (MergedEntry, bool)> = BTreeMap::new();
    let mut hidden: BTreeSet<OsString> = BTreeSet::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", dir, e))?;
            let name = entry.file_name();
            if hidden.contains(&name) {
                continue;
            }
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| Error::io("inspect", &path, e))?;
            if let Some((found, open)) = out.get_mut(&name) {
                if *open {
                    if meta.is_dir() {
                        *open = !is_opaque(&path);
                        found.contributors.push(path);
                    } else {
                        *open = false;
                    }
                }
                continue;
            }
            if is_whiteout(&meta) {
                hidden.insert(name);
                continue;
            }
            let is_dir = meta.is_dir();
            let open = is_dir && !is_opaque(&path);
            let contributors = if is_dir {
                vec![path.clone()]
            } else {
                Vec::new()
            };
            out.insert(
                name,
                (
                    MergedEntry {
                        host_path: path,
                        meta,
                        contributors,
                    },
                    open,
                ),
            );
        }
    }
    Ok(out.into_iter().map(|(k, (v, _))| (k, v)).collect())
}

/// Looks `path` (absolute, normalised) up in `layers` (top first).
pub(crate) fn lookup(layers: &[PathBuf], path: &str) -> Result<Lookup> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut dirs: Vec<PathBuf> = layers.to_vec();
    let mut so_far = String::new();
    let mut found: Option<MergedEntry> = None;
    for (i, comp) in components.iter().enumerate() {
        if let Some(entry) = &found
            && (entry.meta.file_type().is_symlink() || !entry.is_dir())
        {
            return Ok(Lookup::Blocked(so_far));
        }
        let mut children = read_children(&dirs)?;
        so_far.push('/');
        so_far.push_str(comp);
        let Some(entry) = children.remove(OsString::from(comp).as_os_str()) else {
            return Ok(Lookup::Missing);
        };
        if i + 1 < components.len() {
            dirs = entry.contributors.clone();
        }
        found = Some(entry);
    }
    match found {
        Some(entry) => Ok(Lookup::Found(entry)),
        None => {
            // The root itself.
            let top = layers.first().cloned().unwrap_or_default();
            let meta = fs::symlink_metadata(&top).map_err(|e| Error::io("inspect", &top, e))?;
            Ok(Lookup::Found(MergedEntry {
                host_path: top,
                meta,
                contributors: layers.to_vec(),
            }))
        }
    }
}

/// How many symlinks [`resolve`] follows before it gives up, as Linux's `ELOOP` limit.
const MAX_LINKS: usize = 40;

/// `path` (absolute) with every symlink on it followed inside the image, as BuildKit resolves
/// a copy's destination (continuity's `fs.RootPath`): an absolute target starts again from the
/// image's root, `..` never climbs above it, components that do not exist stay as written.
pub(crate) fn resolve(layers: &[PathBuf], path: &str) -> Result<String> {
    let mut resolved: Vec<String> = Vec::new();
    // The layer directories of the directory `resolved` names: each component is looked up in
    // its parent's listing, never from the root again. `None` once a component is missing or no
    // directory (everything after it stays as written).
    let mut here: Option<Vec<PathBuf>> = Some(layers.to_vec());
    let mut pending: std::collections::VecDeque<String> =
        path.split('/').map(str::to_owned).collect();
    let mut links = 0;
    while let Some(component) = pending.pop_front() {
        match component.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop();
                here = contributors_of(layers, &resolved)?;
                continue;
            }
            _ => {}
        }
        let entry = match &here {
            Some(dirs) => read_children(dirs)?.remove(OsString::from(&component).as_os_str()),
            None => None,
        };
        let entry = match entry {
            Some(link) if link.meta.file_type().is_symlink() => link,
            other => {
                here = other.filter(MergedEntry::is_dir).map(|e| e.contributors);
                resolved.push(component);
                continue;
            }
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(Error::Image(format!(
                "`{path}` goes through more than {MAX_LINKS} symlinks in the image"
            )));
        }
        let target = fs::read_link(&entry.host_path)
            .map_err(|e| Error::io("read link", &entry.host_path, e))?;
        let target = target.to_string_lossy();
        if target.starts_with('/') {
            resolved.clear();
        }
        for part in target.split('/').rev() {
            pending.push_front(part.to_owned());
        }
        here = contributors_of(layers, &resolved)?;
    }
    Ok(format!("/{}", resolved.join("/")))
}

/// The layer directories of the directory at `components` (from the root), `None` when it is
/// missing or no directory.
fn contributors_of(layers: &[PathBuf], components: &[String]) -> Result<Option<Vec<PathBuf>>> {
    Ok(
        match lookup(layers, &format!("/{}", components.join("/")))? {
            Lookup::Found(dir) if dir.is_dir() => Some(dir.contributors),
            _ => None,
        },
    )
}

/// The names in the merged directory `path`; `None` when it is missing or no directory.
pub(crate) fn list(layers: &[PathBuf], path: &str) -> Result<Option<Vec<String>>> {
    let Lookup::Found(dir) = lookup(layers, path)? else {
        return Ok(None);
    };
    if !dir.is_dir() {
        return Ok(None);
    }
    Ok(Some(
        read_children(&dir.contributors)?
            .into_keys()
            .filter_map(|name| name.into_string().ok())
            .collect(),
    ))
}

/// Every entry below a merged directory, depth first with parents before children, as
/// `(path relative to the directory, entry)`.
pub(crate) fn walk(dir: &MergedEntry) -> Result<Vec<(String, MergedEntry)>> {
    let mut out = Vec::new();
    walk_into(&dir.contributors, "", &mut out)?;
    Ok(out)
}

fn walk_into(dirs: &[PathBuf], prefix: &str, out: &mut Vec<(String, MergedEntry)>) -> Result<()> {
    for (name, entry) in read_children(dirs)? {
        let name = String::from_utf8(name.as_bytes().to_vec()).map_err(|_| {
            Error::Image(format!(
                "`{prefix}/{}` is not a UTF-8 name, which layers written by plinth cannot carry",
                name.to_string_lossy()
            ))
        })?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let children = entry.is_dir().then(|| entry.contributors.clone());
        out.push((rel.clone(), entry));
        if let Some(children) = children {
            walk_into(&children, &rel, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    #[test]
    fn top_layer_wins_and_trees_merge() {
        let t = tempfile::tempdir().unwrap();
        let (top, bottom) = (t.path().join("top"), t.path().join("bottom"));
        write(&top.join("d/a"), "top a");
        write(&bottom.join("d/a"), "bottom a");
        write(&bottom.join("d/b"), "bottom b");
        write(&bottom.join("d/sub/c"), "c");
        let layers = vec![top.clone(), bottom.clone()];
        let Lookup::Found(d) = lookup(&layers, "/d").unwrap() else {
            panic!()
        };
        let names: Vec<String> = walk(&d).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "sub", "sub/c"]);
        let Lookup::Found(a) = lookup(&layers, "/d/a").unwrap() else {
            panic!()
        };
        assert_eq!(fs::read_to_string(a.host_path).unwrap(), "top a");
        assert!(matches!(lookup(&layers, "/d/x").unwrap(), Lookup::Missing));
        assert!(matches!(
            lookup(&layers, "/d/a/x").unwrap(),
            Lookup::Blocked(p) if p == "/d/a"
        ));
    }

    #[test]
    fn symlinks_on_a_path_are_followed_inside_the_image() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("top");
        fs::create_dir_all(top.join("usr/lib")).unwrap();
        fs::create_dir_all(top.join("run")).unwrap();
        fs::create_dir_all(top.join("var")).unwrap();
        std::os::unix::fs::symlink("usr/lib", top.join("lib")).unwrap();
        std::os::unix::fs::symlink("/run", top.join("var/run")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", top.join("run/up")).unwrap();
        std::os::unix::fs::symlink("loop", top.join("loop")).unwrap();
        let layers = [top];
        let r = |p: &str| resolve(&layers, p).unwrap();
        assert_eq!(r("/lib/x86_64/libc.so"), "/usr/lib/x86_64/libc.so");
        assert_eq!(r("/var/run/t.txt"), "/run/t.txt");
        assert_eq!(r("/var/run/up/passwd"), "/etc/passwd");
        assert_eq!(r("/new/dir"), "/new/dir");
        fs::write(layers[0].join("f"), "f").unwrap();
        assert_eq!(r("/f/x"), "/f/x", "below a file, the path stays as written");
        assert_eq!(
            r("/lib/../etc"),
            "/usr/etc",
            "`..` applies to the resolved path"
        );
        assert_eq!(r("/"), "/");
        assert!(resolve(&layers, "/loop/x").is_err());
    }

    #[test]
    fn symlinked_parents_block() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("top");
        fs::create_dir_all(&top).unwrap();
        std::os::unix::fs::symlink("/etc", top.join("lnk")).unwrap();
        assert!(matches!(
            lookup(&[top], "/lnk/passwd").unwrap(),
            Lookup::Blocked(p) if p == "/lnk"
        ));
    }
}
