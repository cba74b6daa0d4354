//! A suite's package index (`dists/SUITE/COMPONENT/binary-ARCH/Packages.xz`), verified as apt
//! verifies it and cached in the store.
//!
//! The `InRelease` is downloaded every time (it is small and says whether anything changed) and
//! its signature checked against the keyring, exactly as for a bootstrap. The index is then
//! the one whose sha256 that signed text lists: taken from the store when a blob with that
//! digest is there (so the cache is keyed on the verified `InRelease`), else downloaded (its
//! `by-hash/SHA256/<hex>` copy first, as apt does), checked against the listed size and hash,
//! and stored. A ref per source and index path
//! (`debian/indexes/…`, annotated with the `InRelease` hash) keeps the newest one from `gc`.

use std::path::Path;
use std::time::Duration;

use plinth_oci::{Descriptor, MediaType, Store};

use super::archive::{AptSource, ReleaseState, download, fetch_release};
use crate::error::{Error, Result};

/// Annotation of an index ref: the `InRelease` that listed the index.
const IN_RELEASE_ANNOTATION: &str = "org.plinth.debian.in-release";

/// Media type of a stored package index (its bytes as the archive serves them).
const PACKAGES_MEDIA_TYPE: &str = "application/vnd.plinth.debian-packages";

/// How long an index download may take (bookworm's `main` is about 9 MiB compressed).
const INDEX_TIMEOUT: Duration = Duration::from_secs(300);

/// A package index of a verified release.
#[derive(Clone, Debug)]
pub struct VerifiedIndex {
    /// Where the archive serves it (`…/dists/SUITE/main/binary-amd64/Packages.xz`).
    pub url: String,
    /// Its bytes, compressed as the URL's extension says (`.xz` or `.gz`).
    pub bytes: Vec<u8>,
    /// The signed state of the release that lists it.
    pub release: ReleaseState,
    /// Whether it came from the store (nothing but the `InRelease` was downloaded).
    pub cached: bool,
}

/// Reads `dists/SUITE/COMPONENT/binary-ARCH/Packages.xz` (or `.gz`) of `source`, verified
/// against the `InRelease` signed with a key of `keyring`; `None` when the archive has no such
/// suite or its release lists no such index.
///
/// # Errors
/// The archive cannot be reached, its `InRelease` does not verify, or the index does not match
/// the size and hash its release lists.
pub fn read_package_index(
    store: &Store,
    keyring: &Path,
    source: &AptSource,
    component: &str,
    arch: &str,
) -> Result<Option<VerifiedIndex>> {
    let tmp = store.root().join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let work = tempfile::Builder::new()
        .prefix("debian-release-")
        .tempdir_in(&tmp)
        .map_err(|e| Error::io("create a temp dir in", &tmp, e))?;
    let Some(release) = fetch_release(source, keyring, work.path())? else {
        return Ok(None);
    };
    let listed = ["xz", "gz"].into_iter().find_map(|ext| {
        let path = format!("{component}/binary-{arch}/Packages.{ext}");
        release.sha256_of(&path).map(|hash| (path, hash))
    });
    let Some((path, (digest, size))) = listed else {
        return Ok(None);
    };
    let url = format!("{}/dists/{}/{path}", source.uri, source.suite);
    let index_ref = format!("debian/indexes/{}/{}/{path}", source.uri, source.suite);
    let in_release = release.state.in_release.to_string();
    if store.has_blob(&digest) {
        let bytes = store.read_blob(&digest)?;
        if plinth_oci::Digest::of(&bytes) == digest {
            tracing::debug!(%url, %in_release, "package index from the store");
            keep(store, &index_ref, &digest, size, &in_release)?;
            return Ok(Some(VerifiedIndex {
                url,
                bytes,
                release: release.state,
                cached: true,
            }));
        }
        store.verify_blob(&digest)?;
    }
    let refused = |reason: String| Error::DebianArchive {
        url: url.clone(),
        reason,
    };
    // The immutable by-hash copy first, as apt fetches it (`Acquire-By-Hash`): a mirror in the
    // middle of an update serves the new index under the old `InRelease`'s path, never under
    // the old hash. Archives without by-hash directories answer 404: then the path itself.
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let by_hash = format!(
        "{}/dists/{}/{dir}/by-hash/SHA256/{}",
        source.uri,
        source.suite,
        digest.hex()
    );
    let bytes = match download(&by_hash, INDEX_TIMEOUT)? {
        Some(bytes) => bytes,
        None => download(&url, INDEX_TIMEOUT)?.ok_or_else(|| {
            refused(format!(
                "its release lists it, but the archive serves neither it nor its by-hash copy `{by_hash}` (404); the mirror is incomplete"
            ))
        })?,
    };
    let got = plinth_oci::Digest::of(&bytes);
    if bytes.len() as u64 != size || got != digest {
        return Err(refused(format!(
            "it is {} bytes with {got}, but the signed `InRelease` ({in_release}) lists {size} bytes with {digest}; the mirror is corrupt or in the middle of an update",
            bytes.len()
        )));
    }
    store.write_blob(&bytes)?;
    keep(store, &index_ref, &digest, size, &in_release)?;
    tracing::debug!(%url, bytes = bytes.len(), "package index downloaded and verified");
    Ok(Some(VerifiedIndex {
        url,
        bytes,
        release: release.state,
        cached: false,
    }))
}

/// Points the source's index ref at `digest`, so `gc` keeps the newest index.
fn keep(
    store: &Store,
    name: &str,
    digest: &plinth_oci::Digest,
    size: u64,
    in_release: &str,
) -> Result<()> {
    let mut descriptor = Descriptor::new(
        MediaType::Other(PACKAGES_MEDIA_TYPE.into()),
        digest.clone(),
        size,
    );
    descriptor
        .annotations
        .insert(IN_RELEASE_ANNOTATION.into(), in_release.to_owned());
    Ok(store.set_ref(name, &descriptor)?)
}
