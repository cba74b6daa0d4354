//! The overlayfs mount options of a run's root: checked paths, and relative ones when the
//! absolute options would not fit the page `mount(2)` copies.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Mount options longer than this do not fit the one page `mount(2)` copies.
const MAX_MOUNT_DATA: usize = 4000;

fn check_overlay_path(path: &Path) -> Result<()> {
    let s = path.as_os_str().as_bytes();
    if s.iter().any(|b| matches!(b, b',' | b':' | b'\\')) {
        return Err(Error::InvalidSpec(format!(
            "overlay directory `{}` contains `,`, `:` or `\\`, which overlayfs options cannot carry; use another path",
            path.display()
        )));
    }
    Ok(())
}

/// The overlay options, and a directory to chdir to first when they are too long otherwise.
pub(super) fn overlay_options(
    lower: &[&Path],
    upper: &Path,
    work: &Path,
) -> Result<(Option<PathBuf>, String)> {
    let render = |base: Option<&Path>| {
        let rel = |p: &Path| match base {
            Some(b) => p.strip_prefix(b).unwrap_or(p).display().to_string(),
            None => p.display().to_string(),
        };
        let lowers: Vec<String> = lower.iter().map(|p| rel(p)).collect();
        // redirect_dir and metacopy off: the upper directory must hold plain files and
        // whiteouts only, so that it can be turned into an OCI layer as is.
        format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off",
            lowers.join(":"),
            rel(upper),
            rel(work)
        )
    };
    for p in lower.iter().copied().chain([upper, work]) {
        check_overlay_path(p)?;
    }
    let options = render(None);
    if options.len() <= MAX_MOUNT_DATA {
        return Ok((None, options));
    }
    let mut base = upper.parent().map(Path::to_path_buf).unwrap_or_default();
    while !lower
        .iter()
        .copied()
        .chain([work])
        .all(|p| p.starts_with(&base))
    {
        if !base.pop() {
            break;
        }
    }
    let options = render(Some(&base));
    if options.len() > MAX_MOUNT_DATA {
        return Err(Error::InvalidSpec(format!(
            "the overlay options for {} layers are {} bytes, more than the {MAX_MOUNT_DATA} mount(2) accepts; keep layers under one short common directory",
            lower.len(),
            options.len()
        )));
    }
    Ok((Some(base), options))
}
