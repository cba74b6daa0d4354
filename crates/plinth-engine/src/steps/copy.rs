//! File and directory steps (`COPY`, `ADD`, `Container::with_file`/`with_directory`): their
//! sources read and hashed for the key, their destination resolved against the image's
//! working directory, and the entries to write with their owners and modes.

use std::collections::BTreeMap;

use plinth_executor::{BuildInput, InputKind};
use plinth_recipe::reader::{expand_wildcard, has_wildcard};
use plinth_recipe::state::{join_path, normalize_path};
use plinth_recipe::{Container, DirectorySource, FileMode, FileSource, FileTarget, HelperRole};

use super::helpers::helper_name;
use super::{PlatformBuilder, Prepared};
use crate::archive_tree::{PendingArchive, override_copied_meta};
use crate::error::{Error, Result};
use crate::files::{
    CopyItem, ItemKind, file_digest, host_tree, host_tree_ignoring, image_tree, resolve_owner,
    tree_digest,
};

impl PlatformBuilder<'_> {
    /// Where a step writes `path`: against the image's working directory, every symlink on it
    /// followed inside the image (`COPY x /lib/` writes to `/usr/lib/` when `/lib` links
    /// there, as BuildKit does), a trailing `/` kept (it names a directory).
    pub(super) fn destination(&self, path: &str) -> Result<String> {
        let dest = self.in_workdir(path);
        let dirs = self.engine.snapshots.read_dirs(&self.state.layers)?;
        let mut resolved = crate::merged::resolve(&dirs, &dest)?;
        if dest.ends_with('/') && resolved != "/" {
            resolved.push('/');
        }
        Ok(resolved)
    }

    /// `path` against the image's working directory, keeping a trailing `/` (it names a
    /// directory).
    fn in_workdir(&self, path: &str) -> String {
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
        mode: Option<&FileMode>,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        let kind = self.file_source(source, inputs)?;
        let mut dest = self.destination(path)?;
        self.directory_as_dir(&mut dest)?;
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
        mode: Option<&FileMode>,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        if let DirectorySource::HostArchive(archive) = source {
            return self.prepare_archive(index, path, archive, owner, mode, inputs);
        }
        if let DirectorySource::Container {
            container,
            path: pattern,
        } = source
            && has_wildcard(pattern)
        {
            let from = (source, container.as_ref(), pattern.as_str());
            return self.prepare_wildcard_from(index, path, from, (owner, mode), inputs);
        }
        let items = self.directory_items(index, source, inputs)?;
        let mut dest = self.destination(path)?;
        if items
            .first()
            .is_some_and(|i| !matches!(i.kind, ItemKind::Dir))
        {
            self.single_file_dest(&mut dest, &source_name(source))?;
        }
        self.items_step(index, source, (dest, items), (owner, mode))
    }

    /// The step writing `items` under `dest`, with the copy's `--chown` and `--chmod` applied
    /// (to what `source` lets them touch) and the owner of a destination it creates.
    fn items_step(
        &self,
        index: usize,
        source: &DirectorySource,
        (dest, mut items): (String, Vec<CopyItem>),
        (owner, mode): (Option<&str>, Option<&FileMode>),
    ) -> Result<Prepared> {
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

    /// `COPY --from=STAGE PATTERN`: the pattern expanded against the stage's files when the
    /// stage is built, as BuildKit expands it when it copies; each match is a source of the
    /// one instruction (a later match's file wins), so it makes one layer.
    fn prepare_wildcard_from(
        &mut self,
        index: usize,
        dest: &str,
        (source, container, pattern): (&DirectorySource, &Container, &str),
        (owner, mode): (Option<&str>, Option<&FileMode>),
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        let helper = self.build_helper(container, &helper_name(index, HelperRole::Copy))?;
        inputs.insert("container".to_owned(), helper.manifest.digest.to_string());
        let dirs = self.engine.snapshots.read_dirs(helper.layers())?;
        let step_error = |reason: String| Error::Step { index, reason };
        let matches = expand_wildcard(
            pattern,
            |dir| {
                let dir = crate::merged::resolve(&dirs, &format!("/{dir}")).ok()?;
                crate::merged::list(&dirs, &dir).ok().flatten()
            },
            |path| {
                matches!(
                    crate::merged::lookup(&dirs, &format!("/{path}")),
                    Ok(crate::merged::Lookup::Found(_))
                )
            },
        )
        .map_err(step_error)?;
        let mut dest = self.destination(dest)?;
        let base_name = |m: &str| m.rsplit('/').next().unwrap_or(m).to_owned();
        let mut items = Vec::new();
        match matches.as_slice() {
            [] => {
                return Err(step_error(format!(
                    "`{pattern}` matches nothing in the stage it copies from"
                )));
            }
            [only] => {
                items = image_tree(&dirs, &format!("/{only}"), index)?;
                if items
                    .first()
                    .is_some_and(|i| !matches!(i.kind, ItemKind::Dir))
                {
                    self.single_file_dest(&mut dest, &base_name(only))?;
                }
            }
            several if !self.directory_as_dir(&mut dest)? => {
                // BuildKit copies each match to the destination as if it were the only
                // source: files one over the other (the last stays), directories' contents
                // merged.
                let trees = several
                    .iter()
                    .map(|m| image_tree(&dirs, &format!("/{m}"), index))
                    .collect::<Result<Vec<_>>>()?;
                let is_dir =
                    |t: &Vec<CopyItem>| t.first().is_some_and(|i| matches!(i.kind, ItemKind::Dir));
                if trees.iter().all(is_dir) {
                    items = trees.into_iter().rev().flatten().collect();
                } else if trees.iter().any(is_dir) {
                    return Err(step_error(format!(
                        "`{pattern}` matches both files and directories in the stage: end the destination with `/` to copy them into a directory"
                    )));
                } else {
                    items = trees.into_iter().next_back().unwrap_or_default();
                }
            }
            several => {
                // The destination directory, made when missing; then the matches, later ones
                // first (the layer keeps the first entry of a path).
                items.push(CopyItem {
                    rel: String::new(),
                    kind: ItemKind::Dir,
                    uid: 0,
                    gid: 0,
                    mode: 0o755,
                    mtime: 0,
                });
                for m in several.iter().rev() {
                    let mut tree = image_tree(&dirs, &format!("/{m}"), index)?;
                    if let [file] = tree.as_mut_slice()
                        && !matches!(file.kind, ItemKind::Dir)
                    {
                        file.rel = base_name(m);
                    }
                    items.extend(tree);
                }
            }
        }
        self.items_step(index, source, (dest, items), (owner, mode))
    }

    /// Whether `dest` names a directory: it ends with `/`, or is a directory in the image
    /// (then a `/` is added, so `COPY file /existing-dir` copies into it, as BuildKit does).
    fn directory_as_dir(&self, dest: &mut String) -> Result<bool> {
        if dest.ends_with('/') {
            return Ok(true);
        }
        let dirs = self.engine.snapshots.read_dirs(&self.state.layers)?;
        let is_dir = matches!(
            crate::merged::lookup(&dirs, dest)?,
            crate::merged::Lookup::Found(e) if e.is_dir()
        );
        if is_dir {
            dest.push('/');
        }
        Ok(is_dir)
    }

    /// Where a single file copied to `dest` lands: inside it, under `name`, when `dest` names
    /// a directory ([`Self::directory_as_dir`]), else at `dest`.
    fn single_file_dest(&self, dest: &mut String, name: &str) -> Result<()> {
        if self.directory_as_dir(dest)? {
            dest.push_str(name);
        }
        Ok(())
    }

    /// An `ADD` of a local archive: its digest is the key's input; the archive itself is read
    /// only if the step runs ([`Prepared::Archive`]).
    fn prepare_archive(
        &mut self,
        index: usize,
        path: &str,
        archive: &std::path::Path,
        owner: Option<&str>,
        mode: Option<&FileMode>,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        let digest = file_digest(archive)?;
        inputs.insert("host_archive".to_owned(), digest.to_string());
        let name = archive.display().to_string();
        self.inputs
            .push(BuildInput::new(InputKind::HostFile, name, digest));
        let owner = match owner {
            Some(o) => Some(self.owner_ids(o, index)?),
            None => None,
        };
        Ok(Prepared::Archive {
            dest: self.destination(path)?,
            dest_owner: owner.map_or((0, 0), |(u, g)| (u64::from(u), u64::from(g))),
            pending: PendingArchive {
                archive: archive.to_path_buf(),
                owner,
                mode: mode.cloned(),
            },
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
            DirectorySource::HostArchive(_) => {
                unreachable!("prepare_directory defers archives to prepare_archive")
            }
            DirectorySource::Container {
                container,
                path: from,
            } => {
                let helper = self.build_helper(container, &helper_name(index, HelperRole::Copy))?;
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
