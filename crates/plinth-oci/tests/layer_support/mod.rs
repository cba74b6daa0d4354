//! Helpers shared by the layer tests: a hand-made tar builder (so tests can write headers no
//! well-behaved library would), a sentinel directory that proves nothing was written outside the
//! unpack target, and a tree listing for round-trip comparisons.

#![allow(dead_code, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};

use plinth_oci::Error;
use plinth_oci::layer::{UnpackOptions, unpack_layer};
use sha2::{Digest as _, Sha256};

/// Fails unless running as root, or skips when `PLINTH_TEST_ALLOW_SKIP_ROOT=1` says so.
pub fn require_root() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    if std::env::var("PLINTH_TEST_ALLOW_SKIP_ROOT").as_deref() == Ok("1") {
        eprintln!("skipping: needs root (PLINTH_TEST_ALLOW_SKIP_ROOT=1)");
        return false;
    }
    panic!("this test needs root; set PLINTH_TEST_ALLOW_SKIP_ROOT=1 to skip it locally");
}

/// Fields of one hand-made header block.
#[derive(Clone, Debug)]
pub struct Hdr {
    pub name: Vec<u8>,
    pub mode: Vec<u8>,
    pub uid: Vec<u8>,
    pub gid: Vec<u8>,
    pub size: Vec<u8>,
    pub mtime: Vec<u8>,
    pub typeflag: u8,
    pub link: Vec<u8>,
    pub magic: Vec<u8>,
    pub dev_major: Vec<u8>,
    pub dev_minor: Vec<u8>,
    pub prefix: Vec<u8>,
    /// When set, written instead of the correct checksum.
    pub checksum: Option<Vec<u8>>,
}

impl Hdr {
    pub fn new(name: impl AsRef<[u8]>, typeflag: u8, size: u64) -> Self {
        Self {
            name: name.as_ref().to_vec(),
            mode: b"0000644".to_vec(),
            uid: b"0000000".to_vec(),
            gid: b"0000000".to_vec(),
            size: format!("{size:011o}").into_bytes(),
            mtime: b"00000000000".to_vec(),
            typeflag,
            link: Vec::new(),
            magic: b"ustar\x0000".to_vec(),
            dev_major: b"0000000".to_vec(),
            dev_minor: b"0000000".to_vec(),
            prefix: Vec::new(),
            checksum: None,
        }
    }

    pub fn link(mut self, link: impl AsRef<[u8]>) -> Self {
        self.link = link.as_ref().to_vec();
        self
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = format!("{mode:07o}").into_bytes();
        self
    }

    pub fn block(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        let put = |b: &mut [u8; 512], at: usize, len: usize, v: &[u8]| {
            let n = v.len().min(len);
            b[at..at + n].copy_from_slice(&v[..n]);
        };
        put(&mut b, 0, 100, &self.name);
        put(&mut b, 100, 8, &self.mode);
        put(&mut b, 108, 8, &self.uid);
        put(&mut b, 116, 8, &self.gid);
        put(&mut b, 124, 12, &self.size);
        put(&mut b, 136, 12, &self.mtime);
        b[156] = self.typeflag;
        put(&mut b, 157, 100, &self.link);
        put(&mut b, 257, 8, &self.magic);
        put(&mut b, 329, 8, &self.dev_major);
        put(&mut b, 337, 8, &self.dev_minor);
        put(&mut b, 345, 155, &self.prefix);
        b[148..156].fill(b' ');
        let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
        let ck = self
            .checksum
            .clone()
            .unwrap_or_else(|| format!("{sum:06o}\0 ").into_bytes());
        put(&mut b, 148, 8, &ck);
        b
    }
}

/// Builds a tar stream block by block.
#[derive(Default)]
pub struct RawTar {
    bytes: Vec<u8>,
}

impl RawTar {
    pub fn new() -> Self {
        Self::default()
    }

    /// A header followed by `data` padded to a block.
    pub fn entry(mut self, hdr: Hdr, data: &[u8]) -> Self {
        self.bytes.extend_from_slice(&hdr.block());
        self.data(data)
    }

    /// Raw data padded to a block.
    pub fn data(mut self, data: &[u8]) -> Self {
        self.bytes.extend_from_slice(data);
        let rem = data.len() % 512;
        if rem != 0 {
            self.bytes.resize(self.bytes.len() + 512 - rem, 0);
        }
        self
    }

    pub fn file(self, name: impl AsRef<[u8]>, data: &[u8]) -> Self {
        self.entry(Hdr::new(name, b'0', data.len() as u64), data)
    }

    pub fn dir(self, name: impl AsRef<[u8]>) -> Self {
        self.entry(Hdr::new(name, b'5', 0).mode(0o755), b"")
    }

    pub fn symlink(self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Self {
        self.entry(Hdr::new(name, b'2', 0).link(target).mode(0o777), b"")
    }

    pub fn hardlink(self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Self {
        self.entry(Hdr::new(name, b'1', 0).link(target), b"")
    }

    /// A PAX extended header with the given records.
    pub fn pax(self, records: &[(&str, &[u8])]) -> Self {
        let mut body = Vec::new();
        for (key, value) in records {
            let rest = key.len() + value.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            body.extend_from_slice(format!("{len} {key}=").as_bytes());
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        self.entry(Hdr::new("PaxHeaders.0/x", b'x', body.len() as u64), &body)
    }

    /// A GNU long name (`L`) or long link (`K`) header.
    pub fn gnu_long(self, typeflag: u8, value: &[u8]) -> Self {
        let mut data = value.to_vec();
        data.push(0);
        let mut hdr = Hdr::new("././@LongLink", typeflag, data.len() as u64);
        hdr.magic = b"ustar  \0".to_vec();
        self.entry(hdr, &data)
    }

    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// Adds the two zero blocks that end an archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0u8; 1024]);
        self.bytes
    }

    /// The bytes without an end marker.
    pub fn unfinished(self) -> Vec<u8> {
        self.bytes
    }
}

/// A directory tree around the unpack target: `<sentinel>/outer/inner/target`, with files
/// next to it that escaping entries would hit.
pub struct Sentinel {
    pub dir: tempfile::TempDir,
    pub target: PathBuf,
    before: BTreeMap<String, String>,
}

impl Sentinel {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("outer/inner/target");
        fs::create_dir_all(&target).unwrap();
        fs::write(dir.path().join("secret"), b"secret").unwrap();
        fs::write(dir.path().join("outer/secret"), b"outer secret").unwrap();
        fs::write(dir.path().join("outer/inner/sibling"), b"sibling").unwrap();
        fs::create_dir(dir.path().join("outer/keep")).unwrap();
        fs::write(dir.path().join("outer/keep/file"), b"kept").unwrap();
        let mut s = Self {
            dir,
            target,
            before: BTreeMap::new(),
        };
        s.before = s.listing();
        s
    }

    /// The sentinel root as an absolute path.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Everything under the sentinel except the target's contents.
    pub fn listing(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut |rel, path, meta| {
            if path.starts_with(&self.target) {
                return path != self.target;
            }
            out.insert(rel.to_owned(), describe(path, meta, true));
            true
        });
        out
    }

    /// Panics if anything outside the target changed.
    pub fn assert_untouched(&self) {
        let after = self.listing();
        assert_eq!(
            self.before, after,
            "something outside the unpack target changed"
        );
    }
}

fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(&str, &Path, &fs::Metadata) -> bool) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let descend = f(&rel, &path, &meta);
        if descend && meta.is_dir() {
            walk(root, &path, f);
        }
    }
}

fn describe(path: &Path, m: &fs::Metadata, with_times: bool) -> String {
    let ft = m.file_type();
    let kind = if ft.is_dir() {
        "dir".to_owned()
    } else if ft.is_symlink() {
        format!("symlink->{}", fs::read_link(path).unwrap().display())
    } else if ft.is_char_device() {
        format!(
            "char {}:{}",
            rustix::fs::major(m.rdev()),
            rustix::fs::minor(m.rdev())
        )
    } else if ft.is_block_device() {
        format!(
            "block {}:{}",
            rustix::fs::major(m.rdev()),
            rustix::fs::minor(m.rdev())
        )
    } else if ft.is_fifo() {
        "fifo".to_owned()
    } else {
        format!(
            "file sha256:{}",
            hex::encode(Sha256::digest(fs::read(path).unwrap()))
        )
    };
    let mut s = format!(
        "{kind} mode={:o} owner={}:{}",
        m.mode() & 0o7777,
        m.uid(),
        m.gid()
    );
    if with_times {
        s.push_str(&format!(
            " nlink={} mtime={}.{}",
            m.nlink(),
            m.mtime(),
            m.mtime_nsec()
        ));
    } else if !ft.is_dir() {
        s.push_str(&format!(" mtime={}", m.mtime()));
    }
    if !ft.is_symlink() {
        for name in ["security.capability", "user.test"] {
            let mut buf = [0u8; 256];
            if let Ok(n) = rustix::fs::lgetxattr(path, name, &mut buf[..]) {
                s.push_str(&format!(" {name}={}", hex::encode(&buf[..n])));
            }
        }
    }
    s
}

/// A comparable listing of a tree: type, contents, mode, owner, file mtime, xattrs, and which
/// earlier path each hard link shares its inode with.
pub fn tree_listing(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    walk(root, root, &mut |rel, path, meta| {
        let mut d = describe(path, meta, false);
        if meta.is_dir() {
            d.push_str(&format!(" mtime={}", meta.mtime()));
        } else if meta.nlink() > 1 {
            let first = inodes
                .entry((meta.dev(), meta.ino()))
                .or_insert_with(|| rel.to_owned());
            d.push_str(&format!(" linkgroup={first}"));
        }
        out.insert(rel.to_owned(), d);
        true
    });
    out
}

/// The path as bytes (for hand-made headers that point at absolute sentinel paths).
pub fn path_bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

/// Every path under `root` in walk order (parents before children).
pub fn all_paths(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, root, &mut |_, path, _| {
        out.push(path.to_path_buf());
        true
    });
    out
}

// --- rejection checks shared by the hostile-tar suites ---

/// Unpacks `tar` into a fresh sentinel target (after `setup`) and checks the rejection.
pub fn reject_in(s: &Sentinel, tar: &[u8], options: &UnpackOptions, entry: &str, reason: &str) {
    let err = unpack_layer(tar, &s.target, options).expect_err("a hostile layer must be refused");
    match &err {
        Error::UnsafeEntry {
            entry: e,
            reason: r,
        } => {
            assert!(
                e.contains(entry),
                "error names entry `{e}`, expected `{entry}` (reason: {r})"
            );
            assert!(
                r.contains(reason),
                "reason `{r}` does not mention `{reason}` (entry `{e}`)"
            );
        }
        other => panic!("expected an unsafe-entry error for `{entry}`, got: {other}"),
    }
    assert!(
        err.to_string().contains(entry),
        "the message shows the entry: {err}"
    );
    s.assert_untouched();
}

pub fn reject(tar: Vec<u8>, entry: &str, reason: &str) {
    let s = Sentinel::new();
    reject_in(&s, &tar, &UnpackOptions::new(), entry, reason);
}

/// Like [`reject`], with a symlink `lower` in the target pointing at the sentinel root, as an
/// earlier layer could have left it.
pub fn reject_with_lower_symlink(tar: Vec<u8>, entry: &str, reason: &str) {
    let s = Sentinel::new();
    symlink(s.root(), s.target.join("lower")).unwrap();
    reject_in(&s, &tar, &UnpackOptions::new(), entry, reason);
}
