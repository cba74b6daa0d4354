//! Garbage collection: mark from the refs, sweep unreferenced blobs and orphan temp files.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::Store;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::walk_present;

/// What [`Store::gc`] may remove.
#[derive(Clone, Debug)]
pub struct GcOptions {
    /// Unreferenced blobs younger than this are kept: a writer that stored blobs without holding
    /// [`Store::lock_shared`] until its ref was set still gets to set it. Default 10 minutes.
    pub grace: Duration,
    /// Temp files (interrupted writes) older than this are removed. Default 1 hour.
    pub temp_max_age: Duration,
    /// How long to wait for other plinth operations to release the store. Default 60 s.
    pub lock_timeout: Duration,
    /// Report what would be removed without removing it.
    pub dry_run: bool,
    /// Also hash every kept blob and remove those that do not match their digest (`plinth gc
    /// --verify`): the images using them fetch them again from their source on the next pull.
    pub verify: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(600),
            temp_max_age: Duration::from_secs(3600),
            lock_timeout: Duration::from_secs(60),
            dry_run: false,
            verify: false,
        }
    }
}

impl GcOptions {
    /// Removes everything unreferenced now, whatever its age (tests, `plinth gc --now`).
    pub fn immediate() -> Self {
        Self {
            grace: Duration::ZERO,
            temp_max_age: Duration::ZERO,
            ..Self::default()
        }
    }
}

/// What [`Store::gc`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs reachable from a ref.
    pub blobs_kept: u64,
    /// Blobs removed (or that would be, in a dry run).
    pub blobs_removed: u64,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub blobs_in_grace: u64,
    /// Temp files removed.
    pub temp_files_removed: u64,
    /// Bytes freed by both kinds of removal.
    pub bytes_freed: u64,
    /// The digests removed, sorted.
    pub removed: Vec<Digest>,
    /// Attachment refs removed because their subject was not kept (see
    /// [`Store::set_attachment_ref`]).
    pub attachment_refs_removed: u64,
    /// Kept blobs whose content did not match their digest, removed (with
    /// [`GcOptions::verify`]; in a dry run, found only). Sorted.
    pub corrupt: Vec<Digest>,
}

fn older_than(path: &Path, meta: &fs::Metadata, age: Duration, now: SystemTime) -> bool {
    if age.is_zero() {
        return true;
    }
    match meta.modified() {
        Ok(mtime) => now.duration_since(mtime).map(|d| d >= age).unwrap_or(false),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no modification time; keeping");
            false
        }
    }
}

impl Store {
    /// Collects garbage under the exclusive store lock: keeps every blob reachable from a ref
    /// (index → manifests → config and layers; manifests that were never pulled are skipped)
    /// and every artifact attached to a kept manifest (removing the attachment refs of the
    /// others),
    /// removes the other blobs older than [`GcOptions::grace`] and temp files older than
    /// [`GcOptions::temp_max_age`].
    ///
    /// Marking happens before anything is removed; if a ref points at a corrupt manifest, gc
    /// fails without removing anything and names the ref.
    pub fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        let _lock = self.lock_exclusive(options.lock_timeout)?;
        let now = SystemTime::now();
        let mut marked = BTreeSet::new();
        let (attachment_refs, refs): (Vec<_>, Vec<_>) =
            self.list_refs()?.into_iter().partition(|r| {
                r.name
                    .starts_with(super::attachments::ATTACHMENT_REF_PREFIX)
            });
        for r in refs {
            let reachable = walk_present(self, &r.descriptor).map_err(|e| {
                Error::InvalidManifest(format!("cannot mark from ref `{}`: {e}; delete that ref or store the image again, then rerun gc", r.name))
            })?;
            marked.extend(reachable.into_iter().map(|d| d.digest));
        }
        let orphaned = self.mark_attachments(&attachment_refs, &mut marked)?;

        let mut report = GcReport::default();
        // Their subjects are gone: the refs go first, then their blobs with the other
        // unmarked ones (the grace period applies to those as to any blob).
        for name in &orphaned {
            if !options.dry_run {
                self.delete_ref(name)?;
            }
            report.attachment_refs_removed += 1;
        }
        let blob_dir = self.root().join("blobs").join("sha256");
        let entries = fs::read_dir(&blob_dir).map_err(|e| Error::io("list", &blob_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &blob_dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let digest = format!("sha256:{name}").parse::<Digest>().ok();
            if let Some(d) = digest.as_ref().filter(|d| marked.contains(*d)) {
                if options.verify && !self.blob_matches(d, options.dry_run)? {
                    report.corrupt.push(d.clone());
                    continue;
                }
                report.blobs_kept += 1;
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("stat", path, e)),
            };
            if !older_than(&path, &meta, options.grace, now) {
                report.blobs_in_grace += 1;
                continue;
            }
            if !options.dry_run {
                remove_path(&path, &meta)?;
            }
            report.blobs_removed += 1;
            report.bytes_freed += meta.len();
            if let Some(d) = digest {
                report.removed.push(d);
            }
        }

        let tmp_dir = self.root().join("tmp");
        if let Ok(entries) = fs::read_dir(&tmp_dir) {
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("list", &tmp_dir, e))?;
                let path = entry.path();
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if older_than(&path, &meta, options.temp_max_age, now) {
                    if !options.dry_run {
                        remove_path(&path, &meta)?;
                    }
                    report.temp_files_removed += 1;
                    report.bytes_freed += meta.len();
                }
            }
        }
        report.removed.sort();
        report.corrupt.sort();
        tracing::info!(
            corrupt = report.corrupt.len(),
            kept = report.blobs_kept,
            removed = report.blobs_removed,
            temp = report.temp_files_removed,
            bytes = report.bytes_freed,
            dry_run = options.dry_run,
            "store garbage collected"
        );
        Ok(report)
    }
}

impl Store {
    /// Whether a blob's content matches its digest; a corrupt one is removed unless `dry_run`.
    fn blob_matches(&self, digest: &Digest, dry_run: bool) -> Result<bool> {
        if dry_run {
            let (actual, _) = super::import::hash_file(&self.blob_path(digest))
                .map_err(|e| Error::io("read", self.blob_path(digest), e))?;
            return Ok(&actual == digest);
        }
        match self.verify_blob(digest) {
            Ok(()) => Ok(true),
            Err(Error::DigestMismatch { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn remove_path(path: &Path, meta: &fs::Metadata) -> Result<()> {
    let res = if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}
