//! `WORKDIR`: the directory is made at once, as BuildKit makes it.

use super::{PlatformBuilder, Prepared};
use crate::error::Result;
use crate::files::{CopyItem, ItemKind, resolve_owner};

impl PlatformBuilder<'_> {
    /// BuildKit makes the workdir (and its missing parents) right away, 0755 and owned by the
    /// image user, so it exists even when no RUN follows.
    pub(super) fn prepare_workdir(&mut self, index: usize, path: &str) -> Result<Prepared> {
        let dir = self.destination(path)?;
        let dirs = self.engine.snapshots.read_dirs(&self.state.layers)?;
        let Ok(missing) = crate::files::missing_dirs(&dirs, &dir, index) else {
            return Ok(Prepared::Nothing);
        };
        let Some(first) = missing.first() else {
            return Ok(Prepared::Nothing);
        };
        let user = self
            .state
            .config
            .config
            .as_ref()
            .and_then(|c| c.user.clone())
            .filter(|u| !u.is_empty());
        let (uid, gid) = match user {
            Some(u) => resolve_owner(&dirs, &u, index)?,
            None => (0, 0),
        };
        let parent = first.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
        let mtime = self
            .engine
            .source_date_epoch
            .unwrap_or_else(crate::time::now_epoch);
        let items = missing
            .iter()
            .map(|rel| CopyItem {
                rel: rel[parent.len()..].trim_start_matches('/').to_owned(),
                kind: ItemKind::Dir,
                uid: u64::from(uid),
                gid: u64::from(gid),
                mode: 0o755,
                mtime,
            })
            .collect();
        Ok(Prepared::Items {
            dest: format!("/{parent}"),
            items,
            dest_owner: (u64::from(uid), u64::from(gid)),
        })
    }
}
