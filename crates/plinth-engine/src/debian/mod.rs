//! Roots made from Debian's archive ([`DebianRoot`], `plinth/debian:SUITE…`).
//!
//! Resolving one for a platform:
//!
//! 1. The sources: `--apt-mirror`, else the machine's apt sources naming the suite (with its
//!    `-updates`/`-security` companions), else `deb.debian.org` (`archive`).
//! 2. Their `InRelease` files are downloaded and verified against Debian's keyring: the archive
//!    state. A bad signature, an expired or mislabelled release is an error.
//! 3. The cache key is the sha256 of the canonical JSON of the root, the platform, the archive
//!    state and the bootstrapper's version. A root stored under that key is used as is: no
//!    package download, no bootstrap.
//! 4. Otherwise `mmdebstrap` bootstraps it (`bootstrap`) and the result is stored under the key
//!    with a [`DebianRootRecord`]: the `InRelease` hashes and dates and every package version.
//!
//! If the archive cannot be reached, the root the last build of the same address used is taken
//! with a warning (as a moved tag is), so a machine that built once keeps building offline.

mod archive;
mod bootstrap;
mod index;
mod work;

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_oci::layer::Compression;
use plinth_oci::{Descriptor, Digest, MediaType, MediaTypeFlavor, Platform, Store};
use plinth_recipe::DebianRoot;
use serde::{Deserialize, Serialize};

pub use archive::{AptSource, DEBIAN_ARCHIVE_KEYRING, DEFAULT_DEBIAN_MIRROR, ReleaseState};
pub use bootstrap::{DEBIAN_ARCHIVE_LABEL, DEBIAN_ROOT_LABEL};
pub use index::{VerifiedIndex, read_package_index};

use crate::error::{Error, Result};

/// Media type of a [`DebianRootRecord`] blob.
pub const DEBIAN_ROOT_RECORD_MEDIA_TYPE: &str = "application/vnd.plinth.debian-root.v1+json";

/// Bumped when the way roots are made changes what they contain.
const DEBIAN_ROOT_VERSION: u32 = 1;

/// Where Debian roots come from (engine settings, not part of any recipe).
#[derive(Clone, Debug)]
pub(crate) struct DebianSettings {
    pub(crate) mirror: Option<String>,
    pub(crate) keyring: PathBuf,
    pub(crate) apt_dir: PathBuf,
}

impl Default for DebianSettings {
    fn default() -> Self {
        Self {
            mirror: None,
            keyring: PathBuf::from(DEBIAN_ARCHIVE_KEYRING),
            apt_dir: PathBuf::from("/etc/apt"),
        }
    }
}

/// What a Debian root was made from: kept in the store next to it (and read by
/// [`Engine::debian_root_record`](crate::Engine::debian_root_record)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebianRootRecord {
    /// The root's canonical address.
    pub root: String,
    /// The platform it was made for.
    pub platform: Platform,
    /// The signed state of every source used.
    pub archive: Vec<ReleaseState>,
    /// `mmdebstrap --version`.
    pub bootstrap: String,
    /// The `SOURCE_DATE_EPOCH` of the bootstrap and the layer: the newest archive date.
    pub source_date_epoch: u64,
    /// Every installed package (`name` or `name:arch`) and its version.
    pub packages: BTreeMap<String, String>,
    /// The image manifest of the root.
    pub manifest: Descriptor,
}

#[derive(Serialize)]
struct KeyInput<'a> {
    version: u32,
    root: String,
    platform: &'a Platform,
    archive: &'a [ReleaseState],
    bootstrap: &'a str,
}

fn key_of(
    root: &DebianRoot,
    platform: &Platform,
    archive: &[ReleaseState],
    bootstrap: &str,
) -> Digest {
    let bytes = plinth_oci::canonical::to_canonical_vec(&KeyInput {
        version: DEBIAN_ROOT_VERSION,
        root: root.address(),
        platform,
        archive,
        bootstrap,
    })
    .expect("key inputs are strings, numbers and lists");
    Digest::of(&bytes)
}

fn image_ref(key: &Digest) -> String {
    format!("debian/roots/{}", key.hex())
}

fn record_ref(key: &Digest) -> String {
    format!("debian/records/{}", key.hex())
}

fn latest_ref(root: &DebianRoot, platform: &Platform) -> String {
    format!("debian/latest/{platform}/{}", root.address())
}

/// What making a Debian root needs from the engine, handed in by the root resolver so this
/// module depends on nothing above it.
pub(crate) struct DebianContext<'e> {
    /// Where roots, records and indexes are kept.
    pub(crate) store: &'e Store,
    /// Where the archive is and how it is verified.
    pub(crate) settings: &'e DebianSettings,
    /// How the root's layer is written.
    pub(crate) compression: Compression,
    /// The media types of the root's manifest, config and layer.
    pub(crate) media_types: MediaTypeFlavor,
    /// Whether the store holds a root manifest's config and layers for a platform (the
    /// resolver's rule for every root).
    pub(crate) is_complete: fn(&Store, &Descriptor, &Platform) -> bool,
}

/// Resolves `root` for `platform` to a root manifest in the store; `true` when it was made now.
pub(crate) fn resolve_debian(
    context: &DebianContext<'_>,
    root: &DebianRoot,
    platform: &Platform,
) -> Result<(Descriptor, bool)> {
    let store = context.store;
    let settings = context.settings;
    let sources = archive::sources_for(root.suite(), settings.mirror.as_deref(), &settings.apt_dir);
    let tmp = store.root().join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let bootstrap_version = bootstrap::mmdebstrap_version()?;
    // Two tries: the archive is republished a few times a day, and a bootstrap that overlapped
    // with one is made again from the new state.
    work::remove_stale_work(&tmp);
    for _ in 0..2 {
        let work = work::work_dir(&tmp)?;
        let mut checked = Vec::new();
        for source in &sources {
            match archive::fetch_state(source, &settings.keyring, work.path()) {
                Ok(state) => checked.push(state),
                Err(archive::StateError::Refused(e)) => return Err(e),
                Err(archive::StateError::Unreachable(e)) => {
                    return offline_fallback(context, root, platform, e);
                }
            }
        }
        let key = key_of(root, platform, &checked, &bootstrap_version);
        if let Some(manifest) = store.get_ref(&image_ref(&key))?
            && (context.is_complete)(store, &manifest, platform)
        {
            tracing::debug!(root = %root, %platform, key = %key, "Debian root already made from this archive state");
            if let Some(record) = store.get_ref(&record_ref(&key))? {
                store.set_ref(&latest_ref(root, platform), &record)?;
            }
            return Ok((manifest, false));
        }
        let Some(made) =
            bootstrap::bootstrap(context, root, platform, &sources, &checked, work.path())?
        else {
            continue;
        };
        let record = DebianRootRecord {
            root: root.address(),
            platform: platform.clone(),
            source_date_epoch: made.archive.iter().map(|s| s.date_epoch).max().unwrap_or(0),
            archive: made.archive,
            bootstrap: bootstrap_version.clone(),
            packages: made.packages,
            manifest: made.manifest.clone(),
        };
        let bytes = plinth_oci::canonical::to_canonical_vec(&record)?;
        let digest = store.write_blob(&bytes)?;
        let record_desc = Descriptor::new(
            MediaType::Other(DEBIAN_ROOT_RECORD_MEDIA_TYPE.into()),
            digest,
            bytes.len() as u64,
        );
        store.set_ref(&image_ref(&key), &made.manifest)?;
        store.set_ref(&record_ref(&key), &record_desc)?;
        store.set_ref(&latest_ref(root, platform), &record_desc)?;
        return Ok((made.manifest, true));
    }
    Err(Error::Bootstrap {
        root: root.address(),
        platform: platform.to_string(),
        reason: "the archive changed during two bootstraps in a row; run the build again".into(),
    })
}

/// The root the last build of the same address made, when the archive cannot be reached.
fn offline_fallback(
    context: &DebianContext<'_>,
    root: &DebianRoot,
    platform: &Platform,
    unreachable: Error,
) -> Result<(Descriptor, bool)> {
    if let Some(record) = read_latest(context.store, root, platform)?
        && (context.is_complete)(context.store, &record.manifest, platform)
    {
        tracing::warn!(
            root = %root, %platform, error = %unreachable,
            archive = %bootstrap::archive_label(&record.archive),
            "cannot reach the archive; using the root an earlier build made"
        );
        return Ok((record.manifest, false));
    }
    Err(unreachable)
}

/// The record of the last root made or used for `root` on `platform`.
pub(crate) fn read_latest(
    store: &Store,
    root: &DebianRoot,
    platform: &Platform,
) -> Result<Option<DebianRootRecord>> {
    let Some(desc) = store.get_ref(&latest_ref(root, platform))? else {
        return Ok(None);
    };
    let bytes = store.read_blob(&desc.digest)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::CorruptRecord {
            name: latest_ref(root, platform),
            reason: e.to_string(),
        })
}
