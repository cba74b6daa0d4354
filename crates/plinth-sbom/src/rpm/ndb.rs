//! rpm's ndb database, `Packages.db` (SUSE, rpm's own "new database"): a 32-byte header
//! (`RpmP`, version 0, generation, the number of slot pages), slot pages of 16-byte slots
//! (`Slot`, package index, block offset, block count; offset 0 is a free slot), and blobs in
//! 16-byte blocks, each `BlbS`, package index, timestamp, length, the header, zero padding, then
//! an Adler-32 of everything before it, the length again and `BlbE`. All little-endian.

const DB_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8; 4] = b"BlbE";
const PAGE_SIZE: usize = 4096;
const HEADER_SIZE: usize = 32;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;
const BLOB_HEAD_SIZE: usize = 16;
const BLOB_TAIL_SIZE: usize = 12;

fn le(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("it ends at byte {} inside a field", bytes.len()))
}

/// Adler-32 (RFC 1950), which ndb keeps over each blob.
pub fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// The package headers of an ndb `Packages.db`, by package index.
pub fn headers(db: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if db.get(..4) != Some(DB_MAGIC.as_slice()) {
        return Err("it is not an rpm ndb database (no RpmP magic)".to_owned());
    }
    let version = le(db, 4)?;
    if version != 0 {
        return Err(format!("it is ndb version {version}; version 0 is read"));
    }
    let slot_pages = le(db, 12)? as usize;
    let slots_end = slot_pages
        .checked_mul(PAGE_SIZE)
        .filter(|&end| end <= db.len())
        .ok_or_else(|| format!("its {slot_pages} slot pages run past the end of the file"))?;
    let mut found = Vec::new();
    for at in (HEADER_SIZE..slots_end).step_by(SLOT_SIZE) {
        if &db[at..at + 4] != SLOT_MAGIC {
            return Err(format!("the slot at byte {at} has no Slot magic"));
        }
        let (index, offset, blocks) = (le(db, at + 4)?, le(db, at + 8)?, le(db, at + 12)?);
        if offset == 0 {
            continue;
        }
        found.push((index, blob(db, index, offset as usize, blocks as usize)?));
    }
    found.sort_by_key(|(index, _)| *index);
    Ok(found.into_iter().map(|(_, header)| header).collect())
}

/// The header in the blob of package `index` at block `offset`, `blocks` blocks long, checked
/// against its head, tail and checksum.
fn blob(db: &[u8], index: u32, offset: usize, blocks: usize) -> Result<Vec<u8>, String> {
    let bad = |what: &str| format!("the blob of package {index} {what}");
    let start = offset
        .checked_mul(BLOCK_SIZE)
        .ok_or_else(|| bad("lies out of range"))?;
    let end = blocks
        .checked_mul(BLOCK_SIZE)
        .and_then(|len| start.checked_add(len))
        .filter(|&end| end <= db.len())
        .ok_or_else(|| bad("runs past the end of the file (truncated?)"))?;
    let bytes = &db[start..end];
    if bytes.len() < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE || &bytes[..4] != BLOB_HEAD_MAGIC {
        return Err(bad("has no BlbS head"));
    }
    if le(bytes, 4)? != index {
        return Err(bad("names another package"));
    }
    let len = le(bytes, 12)? as usize;
    if (BLOB_HEAD_SIZE + len + BLOB_TAIL_SIZE).div_ceil(BLOCK_SIZE) != blocks {
        return Err(bad(&format!(
            "is {blocks} blocks, which a {len}-byte header does not fill"
        )));
    }
    let tail = bytes.len() - BLOB_TAIL_SIZE;
    if &bytes[tail + 8..] != BLOB_TAIL_MAGIC || le(bytes, tail + 4)? as usize != len {
        return Err(bad("has no matching BlbE tail"));
    }
    if le(bytes, tail)? != adler32(&bytes[..tail]) {
        return Err(bad("fails its Adler-32 checksum"));
    }
    Ok(bytes[BLOB_HEAD_SIZE..BLOB_HEAD_SIZE + len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_rfc_1950() {
        // The value zlib gives for "Wikipedia".
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn other_files_and_broken_slots_are_refused() {
        assert!(headers(b"SQLite format 3\0").unwrap_err().contains("RpmP"));
        let mut db = vec![0u8; PAGE_SIZE];
        db[..4].copy_from_slice(DB_MAGIC);
        db[12..16].copy_from_slice(&2u32.to_le_bytes());
        assert!(headers(&db).unwrap_err().contains("past the end"));
        db[12..16].copy_from_slice(&1u32.to_le_bytes());
        assert!(headers(&db).unwrap_err().contains("Slot magic"));
        for at in (HEADER_SIZE..PAGE_SIZE).step_by(SLOT_SIZE) {
            db[at..at + 4].copy_from_slice(SLOT_MAGIC);
        }
        assert_eq!(headers(&db).unwrap(), Vec::<Vec<u8>>::new());
        // A slot pointing past the end.
        db[HEADER_SIZE + 4..HEADER_SIZE + 16]
            .copy_from_slice(&[1, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0]);
        assert!(headers(&db).unwrap_err().contains("truncated"));
    }
}
