//! The older rpm database formats, filled with real headers `rpm` wrote. Debian's rpm can read
//! Berkeley DB (`bdb_ro`) but write neither it nor ndb, so: the Berkeley DB hash file is made
//! by Berkeley DB's own `db5.3_load`; the ndb file is written here from rpm's format
//! (`lib/backend/ndb/rpmpkg.c`: header, slot pages, blobs with an Adler-32), as no tool on
//! this machine writes one.

use std::io::Write;
use std::process::{Command, Stdio};

use plinth_test::{External, require_external};

/// A Berkeley DB hash `Packages` file made by `db5.3_load`: native-endian package numbers as
/// keys, the headers as values. `None` when the tool is missing and skipping is allowed.
pub fn berkeley_db(headers: &[(u32, Vec<u8>)]) -> Option<Vec<u8>> {
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
        input.push_str(&escaped(&number.to_ne_bytes()));
        input.push('\n');
        input.push_str(&escaped(header));
        input.push('\n');
    }
    let mut child = Command::new("db5.3_load")
        .args(["-T", "-t", "hash"])
        .arg(&path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "db5.3_load failed");
    Some(std::fs::read(&path).unwrap())
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
