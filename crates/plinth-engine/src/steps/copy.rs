//! File and directory steps (`COPY`, `ADD`, `Container::with_file`/`with_directory`): their
//! sources read and hashed for the key, their destination resolved against the image's
//! working directory, and the entries to write with their owners and modes.

use std::collections::BTreeMap;

use plinth_executor::{BuildInput, InputKind};
use plinth_recipe::state::{join_path, normalize_path};
use plinth_recipe::{DirectorySource, FileSource, FileTarget};

use super::{PlatformBuilder, Prepared};
use crate::archive_tree::{archive_tree, override_copied_meta};
use crate::error::{Error, Result};
use crate::files::{
    CopyItem, ItemKind, file_digest, host_tree, host_tree_ignoring, image_tree, resolve_owner,
    tree_digest,
};

impl PlatformBuilder<'_> {
    /// `path` against the image's working directory, keeping a trailing `/` (it names a
    /// directory).
    pub(super) fn in_workdir(&self, path: &str) -> String {
        let workdir = self
            .state
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_owned());
        let trailing = path.len() > 1 && path.ends_with('/');
        let mut out = join_path(&normalize_path(&workdir), path);
        if trailing && out != "/" {
            out.push('/');
        }
        out
    }

    /// The uid and gid of `owner` in the image built so far.
    fn owner_ids(&self, owner: &str, index: usize) -> Result<(u32, u32)> {
        let dirs = self.engine.snapshots.read_dirs(&self.state.layers)?;
        resolve_owner(&dirs, owner, index)
    }

    pub(super) fn prepare_file(
        &mut self,
        index: usize,
        path: &str,
        source: &FileSource,
        owner: Option<&str>,
        mode: Option<u32>,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        let kind = self.file_source(source, inputs)?;
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

    /// Where a file step's bytes come from; a download or a host file is hashed into
    /// `inputs` (and recorded as an input of the build).
    fn file_source(
        &mut self,
        source: &FileSource,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<ItemKind> {
        Ok(match source {
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
        let mut items = self.directory_items(index, source, inputs)?;
        let mut dest = self.in_workdir(path);
        // A single file copied to `dir/` keeps its own name, as `COPY file dir/` does.
        if let Some(first) = items.first()
            && !matches!(first.kind, ItemKind::Dir)
            && dest.ends_with('/')
        {
            dest.push_str(&source_name(source));
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

    /// The entries a directory step copies, its source hashed into `inputs`.
    fn directory_items(
        &mut self,
        index: usize,
        source: &DirectorySource,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Vec<CopyItem>> {
        match source {
            DirectorySource::Host(dir) => {
                let items = host_tree(dir)?;
                self.record_host_dir(dir, &items, inputs)?;
                Ok(items)
            }
            DirectorySource::HostIgnoring {
                path: dir,
                within,
                ignore,
            } => {
                // Only what survives the ignore file is read and hashed: an ignored file's
                // change leaves the key alone.
                let items = host_tree_ignoring(dir, within, ignore, index)?;
                self.record_host_dir(dir, &items, inputs)?;
                Ok(items)
            }
            DirectorySource::HostArchive(archive) => {
                let digest = file_digest(archive)?;
                inputs.insert("host_archive".to_owned(), digest.to_string());
                let name = archive.display().to_string();
                self.inputs
                    .push(BuildInput::new(InputKind::HostFile, name, digest));
                archive_tree(archive, index)
            }
            DirectorySource::Container {
                container,
                path: from,
            } => {
                let helper = self.build_helper(container, &format!("helper-{index}"))?;
                inputs.insert("container".to_owned(), helper.manifest.digest.to_string());
                let dirs = self.engine.snapshots.read_dirs(helper.layers())?;
                image_tree(&dirs, &normalize_path(from), index)
            }
        }
    }

    /// A host directory's tree digest as the step's input and the build's.
    fn record_host_dir(
        &mut self,
        dir: &std::path::Path,
        items: &[CopyItem],
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let digest = tree_digest(items)?;
        inputs.insert("host_dir".to_owned(), digest.to_string());
        self.inputs.push(BuildInput::new(
            InputKind::HostDirectory,
            dir.display().to_string(),
            digest,
        ));
        Ok(())
    }
}

/// The last component of a directory step's source, the name a single copied file keeps.
fn source_name(source: &DirectorySource) -> String {
    match source {
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
    }
}
