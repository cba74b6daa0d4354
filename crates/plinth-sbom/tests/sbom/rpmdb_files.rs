//! The older rpm database formats, filled with real headers `rpm` wrote. Debian's rpm can read
//! Berkeley DB (`bdb_ro`) but write neither it nor ndb, so: the Berkeley DB hash file is made
//! by Berkeley DB's own `db5.3_load` and read back by Debian's `rpm` ([`rpm_lists`]); the ndb
//! file is written here from rpm's format (`lib/backend/ndb/rpmpkg.c`: header, slot pages,
//! blobs with an Adler-32), as no tool on this machine writes one.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use plinth_test::{External, require_external};

/// How a Berkeley DB `Packages` file is laid out: what differs between the machines and
/// Berkeley DB versions that wrote the databases found in images.
#[derive(Clone, Copy, Debug)]
pub struct BdbLayout {
    /// Big-endian (s390x, old ppc) instead of little-endian: readers must swap every field.
    pub big_endian: bool,
    /// The page size (512 to 65536); small pages put more headers on overflow chains.
    pub page_size: u32,
    /// Keys per hash bucket (`h_ffactor`), when set: fewer keys per bucket make more buckets,
    /// and rpm walks them through the meta page's spares.
    pub fill_factor: Option<u32>,
}

impl Default for BdbLayout {
    fn default() -> Self {
        Self {
            big_endian: false,
            page_size: 4096,
            fill_factor: None,
        }
    }
}

/// A Berkeley DB hash `Packages` file made by `db5.3_load`: package numbers as keys in the
/// database's byte order (as rpm writes them), the headers as values. `None` when the tool is
/// missing and skipping is allowed.
pub fn berkeley_db(headers: &[(u32, Vec<u8>)], layout: BdbLayout) -> Option<Vec<u8>> {
    if !require_external(External::Tool("db5.3_load")) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Packages");
    let escaped = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect::<String>()
    };
    let mut input = String::new();
    for (number, header) in headers {
        let key = if layout.big_endian {
            number.to_be_bytes()
        } else {
            number.to_le_bytes()
        };
        input.push_str(&escaped(&key));
        input.push('\n');
        input.push_str(&escaped(header));
        input.push('\n');
    }
    let mut load = Command::new("db5.3_load");
    load.args(["-T", "-t", "hash"])
        .arg("-c")
        .arg(format!(
            "db_lorder={}",
            if layout.big_endian { 4321 } else { 1234 }
        ))
        .arg("-c")
        .arg(format!("db_pagesize={}", layout.page_size));
    if let Some(factor) = layout.fill_factor {
        load.arg("-c").arg(format!("h_ffactor={factor}"));
    }
    let mut child = load.arg(&path).stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "db5.3_load failed");
    Some(std::fs::read(&path).unwrap())
}

/// What Berkeley DB's own `db5.3_stat` says of a database file, by the label of each line
/// ("Number of hash buckets" → "3").
pub fn berkeley_db_stats(db: &[u8]) -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Packages");
    std::fs::write(&path, db).unwrap();
    let out = Command::new("db5.3_stat")
        .arg("-d")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (value, label) = line.split_once('\t')?;
            Some((label.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The packages Debian's own `rpm` lists from a Berkeley DB `Packages` file, as
/// `NAME EPOCH:VERSION-RELEASE.ARCH`, sorted. The file is alone in its directory: rpm prefers
/// its configured backend (sqlite) whenever that backend's file is there, and falls back to
/// `bdb_ro` only when it finds nothing but `Packages`; with an empty `rpmdb.sqlite` beside it,
/// rpm lists nothing and says nothing. `None` when rpm is missing and skipping is allowed.
pub fn rpm_lists(db: &[u8]) -> Option<Vec<String>> {
    if !require_external(External::Tool("rpm")) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Packages"), db).unwrap();
    let out = rpm_query_all(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rpm -qa failed: {stderr}");
    assert!(
        stderr.contains("using bdb_ro backend"),
        "rpm did not read the file with its Berkeley DB reader: {stderr}"
    );
    assert!(
        !stderr.contains("error"),
        "rpm reported an error reading it: {stderr}"
    );
    let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    listed.sort();
    Some(listed)
}

fn rpm_query_all(dbpath: &Path) -> std::process::Output {
    Command::new("rpm")
        .arg("-qa")
        .arg("--dbpath")
        .arg(dbpath)
        .args([
            "--qf",
            "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n",
        ])
        .output()
        .unwrap()
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// An ndb `Packages.db` holding `headers`: one slot page, then each blob in 16-byte blocks.
pub fn ndb(headers: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut db = vec![0u8; 4096];
    db[..4].copy_from_slice(b"RpmP");
    db[8..12].copy_from_slice(&1u32.to_le_bytes()); // generation
    db[12..16].copy_from_slice(&1u32.to_le_bytes()); // slot pages
    db[16..20].copy_from_slice(&(headers.len() as u32 + 1).to_le_bytes()); // next index
    for slot in (32..4096).step_by(16) {
        db[slot..slot + 4].copy_from_slice(b"Slot");
    }
    // Slots in reverse order, as after deletions and re-adds: the reader sorts by index.
    for (i, (index, header)) in headers.iter().rev().enumerate() {
        let offset = db.len() / 16;
        let mut blob = Vec::new();
        blob.extend_from_slice(b"BlbS");
        blob.extend_from_slice(&index.to_le_bytes());
        blob.extend_from_slice(&0u32.to_le_bytes());
        blob.extend_from_slice(&(header.len() as u32).to_le_bytes());
        blob.extend_from_slice(header);
        let blocks = (16 + header.len() + 12).div_ceil(16);
        blob.resize(blocks * 16 - 12, 0);
        let sum = adler32(&blob);
        blob.extend_from_slice(&sum.to_le_bytes());
        blob.extend_from_slice(&(header.len() as u32).to_le_bytes());
        blob.extend_from_slice(b"BlbE");
        db.extend_from_slice(&blob);
        let slot = 32 + 16 * i;
        db[slot + 4..slot + 8].copy_from_slice(&index.to_le_bytes());
        db[slot + 8..slot + 12].copy_from_slice(&(offset as u32).to_le_bytes());
        db[slot + 12..slot + 16].copy_from_slice(&(blocks as u32).to_le_bytes());
    }
    db
}
