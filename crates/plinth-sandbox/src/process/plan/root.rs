//! Mounting the run's root at its private mount point: an overlay of the image's layers (with
//! the scaffold as the lowest layer) or a bind mount of a plain directory.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::overlay::overlay_options;
use super::{Action, PlanInput, Steps, cpath, cstring};
use crate::error::Result;
use crate::spec::{OverlayRootfs, Rootfs};

/// Appends the steps that mount the spec's rootfs on `root` (the C form of
/// `input.root_mount`).
pub(super) fn push_root_mount(
    steps: &mut Steps,
    input: &PlanInput<'_>,
    root: &CString,
) -> Result<()> {
    match &input.spec.rootfs {
        Rootfs::Overlay(overlay) => push_overlay_root(steps, input, overlay, root),
        Rootfs::Directory(dir) => push_directory_root(steps, input.root_mount, dir, root),
    }
}

fn push_overlay_root(
    steps: &mut Steps,
    input: &PlanInput<'_>,
    overlay: &OverlayRootfs,
    root: &CString,
) -> Result<()> {
    let mut lower: Vec<&Path> = overlay.lower().iter().map(PathBuf::as_path).collect();
    lower.extend(input.scaffold);
    let (base, data) = overlay_options(&lower, overlay.upper(), overlay.work())?;
    // Options too long for one page are given relative to a common base directory.
    if let Some(base) = base {
        steps.push(
            Action::HostChdir(cpath(&base)?),
            format!("change to directory `{}`", base.display()),
        );
    }
    steps.push(
        Action::MountRoot {
            source: c"overlay".into(),
            fstype: Some(c"overlay".into()),
            // Device nodes shipped in layers stay data: opening one fails.
            flags: MsFlags::MS_NODEV,
            data: Some(cstring(data.as_bytes(), "overlay options")?),
            target: root.clone(),
        },
        format!(
            "mount the overlay at `{}` (upper `{}`; upper and work must not be on overlayfs, and the kernel log has details)",
            input.root_mount.display(),
            overlay.upper().display()
        ),
    );
    Ok(())
}

fn push_directory_root(
    steps: &mut Steps,
    root_mount: &Path,
    dir: &Path,
    root: &CString,
) -> Result<()> {
    let root_display = root_mount.display();
    steps.push(
        Action::MountRoot {
            source: cpath(dir)?,
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REC,
            data: None,
            target: root.clone(),
        },
        format!(
            "bind-mount the rootfs `{}` at `{root_display}`",
            dir.display()
        ),
    );
    // A bind mount takes its flags from a remount.
    steps.push(
        Action::MountRoot {
            source: cpath(dir)?,
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NODEV,
            data: None,
            target: root.clone(),
        },
        format!("remount the rootfs at `{root_display}` nodev"),
    );
    Ok(())
}
