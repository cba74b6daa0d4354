//! Which versions of a package a Debian suite carries, read from the archive's package indexes
//! (`dists/SUITE/COMPONENT/binary-ARCH/Packages.xz`, or `.gz`), as `apt-get update` reads them:
//! the suite's `InRelease` verified against Debian's keyring, then the index against the hash
//! it lists; an index already in the store for that release is not downloaded again.
//!
//! A Debian image's apt sources name the suite and its companions: `SUITE` and `SUITE-updates`
//! on `deb.debian.org/debian`, `SUITE-security` on `deb.debian.org/debian-security`. A version
//! installs when any of them carries it. With a mirror, only the mirror's `SUITE` is read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

use plinth_oci::Store;

use crate::error::{Error, Result};

/// The Debian archive.
pub const DEBIAN_ARCHIVE: &str = "http://deb.debian.org/debian";
/// The Debian security archive.
pub const DEBIAN_SECURITY_ARCHIVE: &str = "http://deb.debian.org/debian-security";
/// The components read (the Debian images' sources name `main` only).
pub const COMPONENTS: [&str; 1] = ["main"];

/// One apt source: an archive and a suite.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AptSource {
    /// The archive's base URL (the directory holding `dists/`), without a trailing `/`.
    pub uri: String,
    /// The suite.
    pub suite: String,
    /// Whether the suite must exist (the main suite) or may be missing (its companions).
    pub required: bool,
}

/// The sources of `suite`: the mirror's suite when a mirror is given, else Debian's three.
pub fn sources_for(suite: &str, mirror: Option<&str>) -> Vec<AptSource> {
    let source = |uri: &str, suite: String, required| AptSource {
        uri: uri.trim_end_matches('/').to_owned(),
        suite,
        required,
    };
    match mirror {
        Some(m) => vec![source(m, suite.to_owned(), true)],
        None => vec![
            source(DEBIAN_ARCHIVE, suite.to_owned(), true),
            source(DEBIAN_ARCHIVE, format!("{suite}-updates"), false),
            source(DEBIAN_SECURITY_ARCHIVE, format!("{suite}-security"), false),
        ],
    }
}

/// Package → versions (with the suite carrying each) for one architecture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageIndex {
    versions: BTreeMap<String, BTreeSet<(String, String)>>,
    /// The indexes read, as URLs.
    pub read: Vec<String>,
}

impl PackageIndex {
    /// Adds the paragraphs of a `Packages` file from `suite`.
    pub fn add_packages(&mut self, text: &str, suite: &str) {
        for paragraph in text.split("\n\n") {
            let mut name = None;
            let mut version = None;
            for line in paragraph.lines() {
                if let Some(v) = line.strip_prefix("Package:") {
                    name = Some(v.trim());
                } else if let Some(v) = line.strip_prefix("Version:") {
                    version = Some(v.trim());
                }
            }
            if let (Some(name), Some(version)) = (name, version) {
                self.versions
                    .entry(name.to_owned())
                    .or_default()
                    .insert((version.to_owned(), suite.to_owned()));
            }
        }
    }

    /// Whether any suite carries `name` at `version`.
    pub fn carries(&self, name: &str, version: &str) -> bool {
        self.versions
            .get(name)
            .is_some_and(|v| v.iter().any(|(ver, _)| ver == version))
    }

    /// The versions of `name`, newest first, each with the suite carrying it.
    pub fn versions(&self, name: &str) -> Vec<(String, String)> {
        let mut list: Vec<(String, String)> = self
            .versions
            .get(name)
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default();
        list.sort_by(|a, b| super::debian_version::compare(&b.0, &a.0).then(a.1.cmp(&b.1)));
        list
    }
}

/// Reads the package indexes of `sources` for the Debian architecture `arch` (`amd64`, `arm64`),
/// each verified against the `InRelease` signed with a key of `keyring` and cached in `store`
/// on that release (`plinth_engine::read_package_index`, the code Debian roots are made with).
pub async fn read_index(
    store: &Store,
    keyring: &Path,
    sources: &[AptSource],
    arch: &str,
) -> Result<PackageIndex> {
    let mut index = PackageIndex::default();
    for source in sources {
        for component in COMPONENTS {
            let read = {
                let (store, keyring) = (store.clone(), keyring.to_owned());
                let archive = plinth_engine::AptSource {
                    uri: source.uri.clone(),
                    suite: source.suite.clone(),
                };
                let arch = arch.to_owned();
                // Downloads and gpgv run as blocking code, off the async workers.
                tokio::task::spawn_blocking(move || {
                    plinth_engine::read_package_index(&store, &keyring, &archive, component, &arch)
                })
                .await
                .map_err(|e| Error::AptIndex {
                    url: format!("{}/dists/{}", source.uri, source.suite),
                    reason: format!("reading the index panicked: {e}"),
                })?
            };
            match read.map_err(|e| Error::DebianArchive(Box::new(e)))? {
                Some(verified) => {
                    let text = decode(&verified.url, &verified.bytes)?;
                    index.add_packages(&text, &source.suite);
                    index.read.push(verified.url);
                }
                None if source.required => {
                    return Err(Error::AptIndex {
                        url: format!("{}/dists/{}/InRelease", source.uri, source.suite),
                        reason: format!(
                            "the archive has no such suite, or its release lists no `{component}/binary-{arch}/Packages` index; is the suite or architecture right, and does the mirror serve `dists/`?"
                        ),
                    });
                }
                None => {
                    tracing::debug!(uri = %source.uri, suite = %source.suite, "no index; the suite has no such companion")
                }
            }
        }
    }
    Ok(index)
}

/// The text of a `Packages.xz` or `Packages.gz` served at `url`.
fn decode(url: &str, bytes: &[u8]) -> Result<String> {
    let decoded = if url.ends_with(".xz") {
        decode_xz(bytes)
    } else {
        decode_gz(bytes)
    };
    decoded.map_err(|e| Error::AptIndex {
        url: url.to_owned(),
        reason: format!("cannot decompress it: {e}"),
    })
}

fn decode_xz(bytes: &[u8]) -> std::io::Result<String> {
    let mut text = String::new();
    liblzma::read::XzDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}

fn decode_gz(bytes: &[u8]) -> std::io::Result<String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_versions_newest_first_with_their_suite() {
        let mut index = PackageIndex::default();
        index.add_packages(
            "Package: poppler-utils\nSource: poppler\nVersion: 22.12.0-2+deb12u1\nArchitecture: amd64\n\nPackage: socat\nVersion: 1.7.4.4-2\n",
            "bookworm",
        );
        index.add_packages(
            "Package: poppler-utils\nVersion: 22.12.0-2+deb12u2\n\n",
            "bookworm-security",
        );
        assert!(index.carries("socat", "1.7.4.4-2"));
        assert!(!index.carries("poppler-utils", "22.12.0-2+b1"));
        assert_eq!(
            index.versions("poppler-utils"),
            [
                (
                    "22.12.0-2+deb12u2".to_owned(),
                    "bookworm-security".to_owned()
                ),
                ("22.12.0-2+deb12u1".to_owned(), "bookworm".to_owned())
            ]
        );
        assert!(index.versions("tesseract-ocr").is_empty());
    }

    #[test]
    fn sources_are_the_suite_and_its_companions_or_the_mirror() {
        let debian = sources_for("bookworm", None);
        assert_eq!(
            debian
                .iter()
                .map(|s| format!("{} {}", s.uri, s.suite))
                .collect::<Vec<_>>(),
            [
                "http://deb.debian.org/debian bookworm",
                "http://deb.debian.org/debian bookworm-updates",
                "http://deb.debian.org/debian-security bookworm-security"
            ]
        );
        let mirror = sources_for("bookworm", Some("http://127.0.0.1:8080/debian/"));
        assert_eq!(mirror.len(), 1);
        assert_eq!(mirror[0].uri, "http://127.0.0.1:8080/debian");
        assert!(mirror[0].required);
    }
}
