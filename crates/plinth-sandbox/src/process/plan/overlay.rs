//! The overlayfs mount options of a run's root: checked paths, and relative ones when the
//! absolute options would not fit the page `mount(2)` copies.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where overlayfs records a `volatile` mount in its work directory.
///
/// Without `volatile`, the unmount at the end of every run (when the run's mount namespace
/// goes) calls `syncfs` on the upper directory's whole filesystem: it waits for every dirty
/// page anyone has written there, a build's or a compiler's, and for a disk cache flush. That
/// was most of a `RUN true` step's cost on a busy machine (3 to 140 ms for one unmount here).
/// Nothing needs that sync: a step's upper directory becomes a layer blob, which the store
/// writes with its own `fsync`, and a snapshot, which is a cache unpacked without `fsync` like
/// every other snapshot (the engine re-creates snapshots from blobs). With `volatile` overlayfs
/// leaves `work/incompat/volatile` behind and refuses a later mount with the same work
/// directory, as a warning that the host may have crashed since; the sandbox removes the marker
/// itself once its run's namespace is gone, when it knows there was no crash in between.
pub(crate) const VOLATILE_MARKER: &str = "work/incompat/volatile";

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
        // whiteouts only, so that it can be turned into an OCI layer as is. volatile: see
        // `VOLATILE_MARKER`.
        format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off,volatile",
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
