//! Bringing files that already sit on the local disk (an OCI layout's blobs) into the store, and
//! handing stored blobs out to such directories, without copying bytes when the file system
//! allows it.
//!
//! Both directions hard-link when source and destination share a file system: the store and
//! the layout then share one inode. That is safe because blobs are immutable by convention (a
//! blob's name is the digest of its content; every writer, plinth's and other tools', writes a
//! new file and renames it into place instead of writing into an existing one), and plinth
//! makes every store blob read-only (`0444`) so that an accidental in-place write fails instead
//! of corrupting both copies. A linked layout blob becomes read-only too. Only files owned by
//! the user running plinth are linked into the store: another user's file could be changed
//! by its owner after it was verified. Anything else is copied, verified while it is read.

use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::OnceLock;

use tempfile::TempPath;

use super::Store;
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};

/// The read size when hashing or copying a blob file.
pub(crate) const COPY_BUFFER: usize = 1024 * 1024;

/// The mode of every blob in the store: read-only for everyone (see the module docs).
pub(crate) fn blob_file_mode() -> Permissions {
    Permissions::from_mode(0o444)
}

/// How a blob came into the store (or out of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transferred {
    /// The destination had it already; nothing was done.
    AlreadyPresent,
    /// Hard-linked: no byte was copied.
    Linked,
    /// Copied (another file system, or a file that could not be linked).
    Copied,
}

impl Store {
    /// Brings the file at `path` into the store as blob `digest` of `size` bytes: hard-linked
    /// when it is on the store's file system and owned by the current user, else copied.
    /// Either way its content is hashed once and must match `digest` (a layout may come from
    /// anywhere); on a mismatch nothing enters the store.
    ///
    /// A linked file is not synced again: its content is already on disk wherever it came
    /// from, and only a name is added. Hold [`Store::lock_shared`] until a ref keeps the blob.
    pub fn import_file(&self, path: &Path, digest: &Digest, size: u64) -> Result<Transferred> {
        if self.has_blob(digest) {
            self.freshen(digest);
            return Ok(Transferred::AlreadyPresent);
        }
        let meta = fs::metadata(path).map_err(|e| Error::io("stat", path, e))?;
        if !meta.is_file() {
            return Err(Error::io(
                "read",
                path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a regular file (a pipe, device or directory); blobs must be regular files",
                ),
            ));
        }
        if meta.len() != size {
            return Err(Error::SizeMismatch {
                digest: digest.clone(),
                expected: size,
                actual: meta.len(),
            });
        }
        let _lock = self.lock_shared()?;
        // A link shares the source's inode, so it is made only when the source already has the
        // store's read-only mode: changing the mode of a link would change the source's too
        // (importing `oci:SRC` must leave SRC as it was), and a writable source could change
        // the blob under the store. Anything else is copied.
        if self.current_uid().is_some_and(|uid| uid == meta.uid())
            && meta.mode() & 0o7777 == blob_file_mode().mode()
            && let Some(linked) = self.link_into_tmp(path)
        {
            let (actual, len) =
                hash_file(&linked).map_err(|e| Error::io("read", linked.to_path_buf(), e))?;
            if &actual != digest || len != size {
                return Err(mismatch(digest, actual, size, len));
            }
            let dest = self.blob_path(digest);
            linked
                .persist(&dest)
                .map_err(|e| Error::io("rename into", &dest, e.error))?;
            return Ok(Transferred::Linked);
        }
        let mut src = crate::fs::open_regular(path).map_err(|e| Error::io("open", path, e))?;
        let mut writer = self.blob_writer()?;
        let mut buf = vec![0; COPY_BUFFER];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read", path, e)),
            };
            writer
                .write_all(&buf[..n])
                .map_err(|e| Error::io("write", self.root().join("tmp"), e))?;
        }
        if writer.len() != size {
            return Err(Error::SizeMismatch {
                digest: digest.clone(),
                expected: size,
                actual: writer.len(),
            });
        }
        writer.commit(Some(digest))?;
        Ok(Transferred::Copied)
    }

    /// Puts blob `digest` at `dest` (replacing what is there, atomically): a hard link when
    /// `dest` is on the store's file system, else a copy written with `mode`, synced, and
    /// verified while it is read. A link is verified before it is made: the store verified the
    /// blob when it was written, but a byte flipped on disk since would otherwise be exported
    /// (and shared, through the link) without a word; a corrupt blob is removed from the store
    /// ([`Store::verify_blob`]) and the export fails.
    pub fn link_blob_to(
        &self,
        digest: &Digest,
        dest: &Path,
        mode: Permissions,
    ) -> Result<Transferred> {
        let src = self.blob_path(digest);
        if src.exists() {
            self.verify_blob(digest)?;
        }
        let dir = dest.parent().unwrap_or(Path::new("."));
        match tempfile::Builder::new()
            .prefix(".tmp-link-")
            .make_in(dir, |tmp| fs::hard_link(&src, tmp))
        {
            Ok(linked) => {
                linked
                    .into_temp_path()
                    .persist(dest)
                    .map_err(|e| Error::io("rename into", dest, e.error))?;
                return Ok(Transferred::Linked);
            }
            Err(_) if !src.exists() => return Err(Error::BlobNotFound(digest.clone())),
            Err(e) => {
                tracing::debug!(from = %src.display(), to = %dest.display(), "cannot hard-link, copying: {e}");
            }
        }
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(mode)
            .tempfile_in(dir)
            .map_err(|e| Error::io("create temp file in", dir, e))?;
        let mut reader = self.reader(digest)?;
        let mut out = tmp.as_file();
        let mut buf = vec![0; COPY_BUFFER];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read", &src, e)),
            };
            out.write_all(&buf[..n])
                .map_err(|e| Error::io("write", tmp.path().to_owned(), e))?;
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("sync", tmp.path().to_owned(), e))?;
        tmp.persist(dest)
            .map_err(|e| Error::io("rename into", dest, e.error))?;
        Ok(Transferred::Copied)
    }

    /// The user id this process creates files as (learned once from a temp file in the
    /// store, which needs no unsafe code), or `None` when that cannot be found out.
    fn current_uid(&self) -> Option<u32> {
        static UID: OnceLock<Option<u32>> = OnceLock::new();
        *UID.get_or_init(|| {
            tempfile::NamedTempFile::new_in(self.root().join("tmp"))
                .and_then(|f| f.as_file().metadata())
                .map(|m| m.uid())
                .ok()
        })
    }

    /// A hard link to `path` under the store's `tmp/` (removed when dropped unless persisted),
    /// or `None` when the file cannot be linked there (another file system, no permission):
    /// the caller copies instead.
    fn link_into_tmp(&self, path: &Path) -> Option<TempPath> {
        match tempfile::Builder::new()
            .prefix(".link-")
            .make_in(self.root().join("tmp"), |tmp| fs::hard_link(path, tmp))
        {
            Ok(linked) => Some(linked.into_temp_path()),
            Err(e) => {
                tracing::debug!(from = %path.display(), "cannot hard-link into the store, copying: {e}");
                None
            }
        }
    }
}

/// Hashes a file, reading it once with a large buffer: its digest and length.
pub(crate) fn hash_file(path: &Path) -> io::Result<(Digest, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Hasher::new();
    let mut buf = vec![0; COPY_BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    let len = hasher.len();
    Ok((hasher.finish(), len))
}

fn mismatch(digest: &Digest, actual: Digest, size: u64, len: u64) -> Error {
    if &actual != digest {
        Error::DigestMismatch {
            expected: digest.clone(),
            actual,
        }
    } else {
        Error::SizeMismatch {
            digest: digest.clone(),
            expected: size,
            actual: len,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    fn setup() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        (dir, store)
    }

    fn count_tmp(store: &Store) -> usize {
        fs::read_dir(store.root().join("tmp")).unwrap().count()
    }

    #[test]
    fn imports_own_files_by_hard_link_read_only_and_verified() {
        let (dir, store) = setup();
        let path = dir.path().join("blob");
        let content = vec![7u8; 3 * COPY_BUFFER + 11];
        fs::write(&path, &content).unwrap();
        // Read-only already, as plinth's own layouts (links of store blobs) are.
        fs::set_permissions(&path, blob_file_mode()).unwrap();
        let digest = Digest::of(&content);
        let size = content.len() as u64;

        let how = store.import_file(&path, &digest, size).unwrap();
        assert_eq!(how, Transferred::Linked);
        let stored = fs::metadata(store.blob_path(&digest)).unwrap();
        assert_eq!(
            stored.ino(),
            fs::metadata(&path).unwrap().ino(),
            "one inode"
        );
        assert_eq!(stored.mode() & 0o777, 0o444, "store blobs are read-only");
        assert_eq!(store.read_blob(&digest).unwrap(), content);
        assert_eq!(
            store.import_file(&path, &digest, size).unwrap(),
            Transferred::AlreadyPresent
        );
        assert_eq!(count_tmp(&store), 0);
    }

    /// Importing `oci:SRC` must not change SRC: a writable file is copied, and keeps its mode.
    #[test]
    fn a_writable_source_is_copied_and_keeps_its_mode() {
        let (dir, store) = setup();
        let path = dir.path().join("blob");
        fs::write(&path, b"a layout someone else made").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        let digest = Digest::of(b"a layout someone else made");
        let how = store.import_file(&path, &digest, 26).unwrap();
        assert_eq!(how, Transferred::Copied);
        let source = fs::metadata(&path).unwrap();
        assert_eq!(
            source.mode() & 0o7777,
            0o640,
            "the source's mode is unchanged"
        );
        assert_eq!(source.nlink(), 1, "the source is not linked into the store");
        assert_eq!(
            store.read_blob(&digest).unwrap(),
            b"a layout someone else made"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let (dir, store) = setup();
        let path = dir.path().join("blob");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let err = store.import_file(&path, &Digest::of(b"x"), 1).unwrap_err();
        assert!(format!("{err:?}").contains("not a regular file"), "{err:?}");
    }

    #[test]
    fn a_file_that_does_not_match_never_enters_the_store() {
        let (dir, store) = setup();
        let path = dir.path().join("blob");
        fs::write(&path, b"what the index says").unwrap();
        let claimed = Digest::of(b"what the index sayz");
        let err = store.import_file(&path, &claimed, 19).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
        let err = store.import_file(&path, &claimed, 20).unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err:?}");
        assert!(!store.has_blob(&claimed));
        assert_eq!(count_tmp(&store), 0, "no link left behind");
    }

    #[test]
    fn another_users_file_is_copied_not_linked() {
        let (dir, store) = setup();
        let path = dir.path().join("blob");
        fs::write(&path, b"owned by someone else").unwrap();
        // Only root can give a file away; elsewhere this case cannot be set up.
        if std::os::unix::fs::chown(&path, Some(65534), None).is_err() {
            return;
        }
        let digest = Digest::of(b"owned by someone else");
        assert_eq!(
            store.import_file(&path, &digest, 21).unwrap(),
            Transferred::Copied
        );
        let stored = fs::metadata(store.blob_path(&digest)).unwrap();
        assert_ne!(stored.ino(), fs::metadata(&path).unwrap().ino());
        assert_eq!(stored.mode() & 0o777, 0o444);
        assert_eq!(store.read_blob(&digest).unwrap(), b"owned by someone else");
    }

    #[test]
    fn stored_blobs_are_linked_out_and_replace_what_is_there() {
        let (dir, store) = setup();
        let digest = store.write_blob(b"layer bytes").unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        let dest = out.join(digest.hex());
        fs::write(&dest, b"stale partial").unwrap();
        let how = store
            .link_blob_to(&digest, &dest, Permissions::from_mode(0o644))
            .unwrap();
        assert_eq!(how, Transferred::Linked);
        assert_eq!(fs::read(&dest).unwrap(), b"layer bytes");
        assert_eq!(
            fs::metadata(&dest).unwrap().ino(),
            fs::metadata(store.blob_path(&digest)).unwrap().ino()
        );
        assert_eq!(fs::read_dir(&out).unwrap().count(), 1, "no temp file left");
        let missing = Digest::of(b"absent");
        let err = store
            .link_blob_to(&missing, &out.join("x"), Permissions::from_mode(0o644))
            .unwrap_err();
        assert!(matches!(err, Error::BlobNotFound(_)), "{err:?}");
    }
}
