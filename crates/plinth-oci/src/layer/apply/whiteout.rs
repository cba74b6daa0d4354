//! Whiteouts and opaque directories: deleting what lower layers put there, or marking it for
//! overlayfs.

use std::os::fd::OwnedFd;

use rustix::fs::{FileType, Mode, XattrFlags};
use rustix::io::Errno;

use super::{Applier, join};
use crate::error::{Error, Result};
use crate::layer::entry::{OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use crate::layer::safe_fs;
use crate::layer::unpack::WhiteoutMode;

impl Applier<'_> {
    pub(super) fn whiteout(
        &mut self,
        parent_comps: &[Vec<u8>],
        name: &[u8],
        shown: &str,
    ) -> Result<()> {
        self.whiteouts += 1;
        let overlay = self.options.whiteouts() == WhiteoutMode::Overlay;
        let dir_path = self
            .root
            .path()
            .join(&*String::from_utf8_lossy(&join(parent_comps)));
        if name == OPAQUE_WHITEOUT.as_bytes() {
            let dir = match self.open_parent(parent_comps, overlay, shown) {
                Ok(fd) => fd,
                Err(Error::UnsafeEntry { reason, .. }) if reason.ends_with("does not exist") => {
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if overlay {
                return rustix::fs::fsetxattr(
                    &dir,
                    "trusted.overlay.opaque",
                    b"y",
                    XattrFlags::empty(),
                )
                .map_err(|e| Error::io("mark opaque", dir_path, e.into()));
            }
            let base = join(parent_comps);
            return self
                .clear_opaque(&dir, &base)
                .map_err(|e| Error::io("clear opaque directory", dir_path, e.into()));
        }
        if name.starts_with(b".wh..wh.") {
            tracing::debug!(entry = shown, "ignoring aufs metadata entry");
            return Ok(());
        }
        let victim = &name[WHITEOUT_PREFIX.len()..];
        if victim.is_empty() || victim == b"." || victim == b".." {
            return Err(Error::UnsafeEntry {
                entry: shown.to_owned(),
                reason: "the whiteout does not name a file it could delete".into(),
            });
        }
        let mut victim_comps = parent_comps.to_vec();
        victim_comps.push(victim.to_vec());
        if self.created.contains(&join(&victim_comps)) {
            // Whiteouts only hide what earlier layers put there (OCI image spec).
            return Ok(());
        }
        let dir = match self.open_parent(parent_comps, overlay, shown) {
            Ok(fd) => fd,
            Err(Error::UnsafeEntry { reason, .. }) if reason.ends_with("does not exist") => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let victim_path = dir_path.join(&*String::from_utf8_lossy(victim));
        safe_fs::remove_all_at(&dir, victim)
            .map_err(|e| Error::io("delete whited-out", &victim_path, e.into()))?;
        if overlay {
            rustix::fs::mknodat(
                &dir,
                victim,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(|e| Error::io("create overlay whiteout", &victim_path, e.into()))?;
        }
        Ok(())
    }

    /// Removes what earlier layers put under `dir`, keeping what this layer created.
    fn clear_opaque(&self, dir: &OwnedFd, base: &[u8]) -> Result<(), Errno> {
        for name in safe_fs::list_dir(dir)? {
            let path = if base.is_empty() {
                name.clone()
            } else {
                [base, b"/", &name].concat()
            };
            if !self.created.contains(&path) {
                safe_fs::remove_all_at(dir, &name)?;
            } else if let Some(st) = safe_fs::lstat_at(dir, &name)?
                && safe_fs::file_type(&st) == FileType::Directory
            {
                let child = safe_fs::open_subdir(dir, &name)?;
                self.clear_opaque(&child, &path)?;
            }
        }
        Ok(())
    }
}
