//! rpm: the sqlite database (`var/lib/rpm/rpmdb.sqlite`, or `usr/lib/sysimage/rpm/` as newer
//! Fedora has it) as on Amazon Linux 2023 and Fedora 33+: table `Packages(hnum, blob)`, each
//! blob one package's header. The header format is read natively here.
//!
//! The older Berkeley DB database (`var/lib/rpm/Packages`: Amazon Linux 2, CentOS 7) and ndb
//! (`Packages.db`: SUSE) are read natively too ([`bdb`], [`ndb`]); each holds the same header
//! blobs as the sqlite one.

mod bdb;
mod ndb;

use crate::error::{Error, Result};
use crate::files::ImageFiles;
use crate::license::License;
use crate::model::{OsRelease, Package, PackageKind};
use crate::purl::purl;

/// Where rpm keeps its sqlite database, newest layout first.
pub const SQLITE_PATHS: [&str; 2] = [
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "var/lib/rpm/rpmdb.sqlite",
];

/// Where rpm keeps an ndb database.
pub const NDB_PATHS: [&str; 2] = [
    "usr/lib/sysimage/rpm/Packages.db",
    "var/lib/rpm/Packages.db",
];

/// Where rpm keeps a Berkeley DB database.
pub const BDB_PATH: &str = "var/lib/rpm/Packages";

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// The rpm packages of the image, and the warnings about databases it could not read.
pub fn packages(files: &ImageFiles, os: Option<&OsRelease>) -> Result<(Vec<Package>, Vec<String>)> {
    if let Some((path, bytes)) = SQLITE_PATHS
        .iter()
        .find_map(|p| files.read(p).map(|b| (*p, b)))
    {
        let found_in = format!("/{path}");
        let blobs = sqlite_headers(bytes).map_err(|reason| Error::Database {
            path: found_in.clone(),
            reason,
        })?;
        return Ok((from_headers(&blobs, os, &found_in)?, Vec::new()));
    }
    let other = NDB_PATHS
        .iter()
        .find_map(|p| files.read(p).map(|b| (*p, b, ndb::headers(b))))
        .or_else(|| files.read(BDB_PATH).map(|b| (BDB_PATH, b, bdb::headers(b))));
    let Some((path, _, blobs)) = other else {
        return Ok((Vec::new(), Vec::new()));
    };
    let found_in = format!("/{path}");
    let blobs = blobs.map_err(|reason| Error::Database {
        path: found_in.clone(),
        reason,
    })?;
    Ok((from_headers(&blobs, os, &found_in)?, Vec::new()))
}

/// The packages of header blobs read from the database at `found_in`.
fn from_headers(blobs: &[Vec<u8>], os: Option<&OsRelease>, found_in: &str) -> Result<Vec<Package>> {
    let mut out = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        let header = Header::parse(blob).map_err(|reason| Error::Database {
            path: found_in.to_owned(),
            reason: format!("package {}: {reason}", i + 1),
        })?;
        if let Some(package) = header.package(os, found_in) {
            out.push(package);
        }
    }
    Ok(out)
}

/// The header blobs of an sqlite database, by `hnum`.
fn sqlite_headers(bytes: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String> {
    let dir = tempfile::Builder::new()
        .prefix("plinth-rpmdb-")
        .tempdir()
        .map_err(|e| format!("cannot make a temp directory: {e}"))?;
    let db = dir.path().join("rpmdb.sqlite");
    std::fs::write(&db, bytes).map_err(|e| format!("cannot copy it out: {e}"))?;
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| e.to_string())?;
    let mut statement = conn
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("it has no readable Packages table: {e}"))?;
    let rows = statement
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    rows.collect::<std::result::Result<_, _>>()
        .map_err(|e| e.to_string())
}

/// One package's header: its index entries over its data store.
pub struct Header<'a> {
    entries: Vec<(u32, u32, usize, u32)>,
    data: &'a [u8],
}

impl<'a> Header<'a> {
    /// Reads a header blob as rpm stores it in its database (no lead, no magic): the entry
    /// count and data size, big-endian, then the entries, then the data.
    pub fn parse(blob: &'a [u8]) -> std::result::Result<Self, String> {
        let be = |at: usize| -> std::result::Result<u32, String> {
            blob.get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| format!("the header ends at byte {at}"))
        };
        let count = be(0)? as usize;
        let data_len = be(4)? as usize;
        let data_start = count
            .checked_mul(16)
            .and_then(|n| n.checked_add(8))
            .filter(|start| start.checked_add(data_len).is_some_and(|end| end <= blob.len()))
            .ok_or_else(|| {
                format!("the header declares {count} entries and {data_len} data bytes, more than its {} bytes", blob.len())
            })?;
        let mut entries = Vec::with_capacity(count);
        for i in 0..count {
            let at = 8 + i * 16;
            entries.push((be(at)?, be(at + 4)?, be(at + 8)? as usize, be(at + 12)?));
        }
        Ok(Self {
            entries,
            data: &blob[data_start..data_start + data_len],
        })
    }

    /// The string value of `tag` (the first of an i18n string).
    pub fn string(&self, tag: u32) -> Option<&'a str> {
        let &(_, kind, offset, _) = self.entries.iter().find(|e| e.0 == tag)?;
        if kind != TYPE_STRING && kind != TYPE_I18NSTRING {
            return None;
        }
        let rest = self.data.get(offset..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// The first integer of `tag`.
    pub fn int32(&self, tag: u32) -> Option<u32> {
        let &(_, kind, offset, count) = self.entries.iter().find(|e| e.0 == tag)?;
        if kind != TYPE_INT32 || count == 0 {
            return None;
        }
        let b = self.data.get(offset..offset + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn package(&self, os: Option<&OsRelease>, found_in: &str) -> Option<Package> {
        let name = self.string(TAG_NAME)?;
        // Imported signing keys are stored as packages named gpg-pubkey; they are not software.
        if name == "gpg-pubkey" {
            return None;
        }
        let version = match (self.string(TAG_VERSION)?, self.string(TAG_RELEASE)) {
            (v, Some(r)) if !r.is_empty() => format!("{v}-{r}"),
            (v, _) => v.to_owned(),
        };
        let epoch = self.int32(TAG_EPOCH).map(u64::from);
        let arch = self.string(TAG_ARCH).map(str::to_owned);
        let source = self
            .string(TAG_SOURCERPM)
            .and_then(source_name)
            .filter(|s| s != name);
        let epoch_text = epoch.map(|e| e.to_string());
        let namespace = os.map(|o| o.id.as_str());
        let distro = os.map(OsRelease::distro);
        Some(Package {
            kind: PackageKind::Rpm,
            name: name.to_owned(),
            purl: purl(
                "rpm",
                namespace,
                name,
                &version,
                &[
                    ("arch", arch.as_deref()),
                    ("distro", distro.as_deref()),
                    ("epoch", epoch_text.as_deref()),
                    ("upstream", source.as_deref()),
                ],
            ),
            version,
            epoch,
            arch,
            source,
            licenses: self
                .string(TAG_LICENSE)
                .map(License::parse)
                .into_iter()
                .collect(),
            found_in: found_in.to_owned(),
        })
    }
}

/// `bash-5.2.15-1.amzn2023.src.rpm` → `bash`.
fn source_name(srpm: &str) -> Option<String> {
    let base = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, _release) = base.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names() {
        assert_eq!(
            source_name("bash-5.2.15-1.amzn2023.src.rpm").as_deref(),
            Some("bash")
        );
        assert_eq!(
            source_name("python3-pip-21.3.1-2.amzn2023.0.5.src.rpm").as_deref(),
            Some("python3-pip")
        );
        assert_eq!(source_name("nonsense"), None);
    }

    #[test]
    fn truncated_headers_are_refused() {
        assert!(Header::parse(&[0, 0, 0]).is_err());
        assert!(Header::parse(&[0, 0, 0, 9, 0, 0, 0, 0]).is_err());
        let err = Header::parse(&[0, 0, 0, 1, 0, 0, 1, 0]).err().unwrap();
        assert!(err.contains("more than its 8 bytes"), "{err}");
    }
}
