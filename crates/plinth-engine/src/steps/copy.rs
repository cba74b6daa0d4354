//! `COPY`/`ADD` of files and directories: their inputs found and hashed for the step key.

use std::collections::BTreeMap;

use plinth_executor::{BuildInput, InputKind};
use plinth_recipe::state::normalize_path;
use plinth_recipe::{DirectorySource, FileSource, FileTarget};

use super::{PlatformBuilder, Prepared};
use crate::archive_tree::{PendingArchive, override_copied_meta};
use crate::error::{Error, Result};
use crate::files::{
    CopyItem, ItemKind, file_digest, host_tree, host_tree_ignoring, image_tree, tree_digest,
};

impl PlatformBuilder<'_> {
    pub(super) fn prepare_file(
        &mut self,
        index: usize,
        path: &str,
        source: &FileSource,
        owner: Option<&str>,
        mode: Option<u32>,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        let kind = match source {
            FileSource::Url { url, sha256 } => {
                let digest = self.engine.fetcher.fetch(url, sha256.as_ref())?;
                inputs.insert("url".to_owned(), digest.to_string());
                self.url_inputs.insert(url.clone(), digest.clone());
                ItemKind::File(self.engine.store.blob_path(&digest))
            }
            FileSource::HostFile(p) => {
                let digest = file_digest(p)?;
                inputs.insert("host_file".to_owned(), digest.to_string());
                self.inputs.push(BuildInput::new(
                    InputKind::HostFile,
                    p.display().to_string(),
                    digest.clone(),
                ));
                ItemKind::File(p.clone())
            }
            FileSource::Bytes(b) => ItemKind::Bytes(b.clone()),
        };
        let mut dest = self.in_workdir(path);
        // A destination that is a directory in the image takes the file inside, as
        // `COPY file /existing-dir` does.
        let dirs = self.engine.snapshots.read_dirs(&self.state.layers)?;
        if !dest.ends_with('/')
            && dest != "/"
            && matches!(crate::merged::lookup(&dirs, &dest)?, crate::merged::Lookup::Found(e) if e.is_dir())
        {
            dest.push('/');
        }
        let target = FileTarget::of(&dest, source, mode).map_err(|e| Error::Step {
            index,
            reason: e.to_string(),
        })?;
        let (uid, gid) = match owner {
            Some(o) => self.owner_ids(o, index)?,
            None => (0, 0),
        };
        let item = CopyItem {
            rel: String::new(),
            kind,
            uid: u64::from(uid),
            gid: u64::from(gid),
            mode: target.mode,
            mtime: self
                .engine
                .source_date_epoch
                .unwrap_or_else(crate::time::now_epoch),
        };
        // Missing parents get the copy's owner, as with BuildKit's `--chown`.
        Ok(Prepared::Items {
            dest: target.path,
            items: vec![item],
            dest_owner: (u64::from(uid), u64::from(gid)),
        })
    }

    pub(super) fn prepare_directory(
        &mut self,
        index: usize,
        path: &str,
        source: &DirectorySource,
        owner: Option<&str>,
        mode: Option<u32>,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        let mut items = match source {
            DirectorySource::Host(dir) => {
                let items = host_tree(dir)?;
                let digest = tree_digest(&items)?;
                inputs.insert("host_dir".to_owned(), digest.to_string());
                self.inputs.push(BuildInput::new(
                    InputKind::HostDirectory,
                    dir.display().to_string(),
                    digest,
                ));
                items
            }
            DirectorySource::HostIgnoring {
                path: dir,
                within,
                ignore,
            } => {
                // Only what survives the ignore file is read and hashed: an ignored file's
                // change leaves the key alone.
                let items = host_tree_ignoring(dir, within, ignore, index)?;
                let digest = tree_digest(&items)?;
                inputs.insert("host_dir".to_owned(), digest.to_string());
                self.inputs.push(BuildInput::new(
                    InputKind::HostDirectory,
                    dir.display().to_string(),
                    digest,
                ));
                items
            }
            DirectorySource::HostArchive(archive) => {
                let digest = file_digest(archive)?;
                inputs.insert("host_archive".to_owned(), digest.to_string());
                let name = archive.display().to_string();
                self.inputs
                    .push(BuildInput::new(InputKind::HostFile, name, digest));
                let owner = match owner {
                    Some(o) => Some(self.owner_ids(o, index)?),
                    None => None,
                };
                return Ok(Prepared::Archive {
                    dest: self.in_workdir(path),
                    dest_owner: owner.map_or((0, 0), |(u, g)| (u64::from(u), u64::from(g))),
                    pending: PendingArchive {
                        archive: archive.clone(),
                        owner,
                        mode,
                    },
                });
            }
            DirectorySource::Container {
                container,
                path: from,
            } => {
                let helper = self.build_helper(container, &format!("helper-{index}"))?;
                inputs.insert("container".to_owned(), helper.manifest.digest.to_string());
                let dirs = self.engine.snapshots.read_dirs(helper.layers())?;
                image_tree(&dirs, &normalize_path(from), index)?
            }
        };
        let mut dest = self.in_workdir(path);
        if let Some(first) = items.first()
            && !matches!(first.kind, ItemKind::Dir)
            && dest.ends_with('/')
        {
            let name = match source {
                DirectorySource::Container { path: from, .. } => normalize_path(from)
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
                DirectorySource::Host(dir)
                | DirectorySource::HostArchive(dir)
                | DirectorySource::HostIgnoring { path: dir, .. } => dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            dest.push_str(&name);
        }
        let resolved = match owner {
            Some(o) => Some(self.owner_ids(o, index)?),
            None => None,
        };
        override_copied_meta(source, &mut items, resolved, mode);
        let dest_owner = resolved.map_or((0, 0), |(u, g)| (u64::from(u), u64::from(g)));
        Ok(Prepared::Items {
            dest,
            items,
            dest_owner,
        })
    }
}
