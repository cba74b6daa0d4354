//! Resolving a `from` image for a platform: registry, OCI layout directory, docker-archive or
//! Debian's archive (see `debian`), into the store, down to one manifest, its config and its layers.
//!
//! A digest-pinned registry image whose manifest, config and layers are already in the store is
//! used without contacting the registry (offline builds). A tag is looked up once per engine
//! (one command): every platform, and the build after the Dockerfile reader read the root's
//! config, get the image that one lookup found ([`TagRoots`]). If the registry cannot be
//! reached and an earlier build resolved the same address, that image is used with a warning
//! (not with `EngineConfig::with_always_pull`). Every resolved root is kept by the store ref
//! `sources/<address>`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use plinth_oci::image::resolve_manifest;
use plinth_oci::{
    Descriptor, Digest, ImageConfig, ImageLocation, ImageManifest, Platform, Reference, Store,
};
use plinth_recipe::{ImageSource, SourceKind};
use plinth_registry::transfer::import_local;
use plinth_registry::{Client, NoTransferReporter};

use crate::engine::Inner;
use crate::error::{Error, Result};

/// A root image resolved for one platform.
#[derive(Clone, Debug)]
pub(crate) struct ResolvedRoot {
    /// The platform manifest.
    pub(crate) manifest: Descriptor,
    /// Its config.
    pub(crate) config: ImageConfig,
    /// Its layers with their diff_ids, bottom first.
    pub(crate) layers: Vec<(Descriptor, Digest)>,
    /// Whether anything was downloaded or imported.
    pub(crate) fetched: bool,
    /// The index the manifest was chosen from, when the root is an index.
    pub(crate) index: Option<Digest>,
}

fn source_ref(address: &str) -> String {
    format!("sources/{address}")
}

/// The root each tag of a registry root resolved to, for the engine's lifetime: a tag is asked
/// once per command, however many platforms and reads need it, and they all see one image
/// even if the tag moves meanwhile. One lock per address, so concurrent resolutions of one tag
/// wait for the first instead of asking too.
#[derive(Debug, Default)]
pub(crate) struct TagRoots(Mutex<BTreeMap<String, Arc<Mutex<Option<Descriptor>>>>>);

impl TagRoots {
    fn slot(&self, address: &str) -> Arc<Mutex<Option<Descriptor>>> {
        let mut slots = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry(address.to_owned()).or_default().clone()
    }
}

/// Resolves `source` for `platform` into the engine's store.
pub(crate) fn resolve_root(
    engine: &Inner,
    source: &ImageSource,
    platform: &Platform,
) -> Result<ResolvedRoot> {
    let store = &engine.store;
    let span = tracing::info_span!("resolve_root", source = %source, %platform);
    let _g = span.enter();
    let _lock = store.lock_shared()?;
    let (root, fetched) = match source.kind() {
        SourceKind::Image(ImageLocation::Registry(reference)) => {
            let (root, pulled) = resolve_tag_once(engine, source, reference, platform)?;
            // A tag that still names the image an earlier build pulled fetched nothing new.
            let fetched = pulled && !seen_before(store, source, &root)?;
            (root, fetched)
        }
        SourceKind::Debian(root) => {
            let context = crate::debian::DebianContext {
                store,
                settings: &engine.debian,
                compression: engine.compression,
                media_types: engine.media_types,
                is_complete: complete_in_store,
            };
            crate::debian::resolve_debian(&context, root, platform)?
        }
        SourceKind::Image(
            location @ (ImageLocation::OciLayout { .. } | ImageLocation::DockerArchive { .. }),
        ) => {
            let root = import_local(store, location, std::slice::from_ref(platform)).map_err(
                |e| match e {
                    plinth_registry::Error::Oci(e) => Error::from(e),
                    other => Error::Pull {
                        image: source.to_string(),
                        platform: platform.to_string(),
                        source: Box::new(other),
                    },
                },
            )?;
            let fetched = !seen_before(store, source, &root)?;
            (root, fetched)
        }
    };
    crate::cache::set_ref_if_changed(store, &source_ref(source.address()), &root)?;
    let (manifest_desc, manifest) = resolve_manifest(store, &root, Some(platform))?;
    let mut resolved = read_image(store, manifest_desc, &manifest, fetched)?;
    resolved.index = (root.digest != resolved.manifest.digest).then(|| root.digest.clone());
    if resolved.config.architecture != platform.architecture || resolved.config.os != platform.os {
        return Err(Error::Image(format!(
            "`{source}` is an image for {}/{}, not for {platform}; use a multi-platform image or one built for {platform}",
            resolved.config.os, resolved.config.architecture
        )));
    }
    Ok(resolved)
}

/// Whether an earlier build resolved `source` to the same root (a local source read again).
fn seen_before(store: &Store, source: &ImageSource, root: &Descriptor) -> Result<bool> {
    Ok(store
        .get_ref(&source_ref(source.address()))?
        .is_some_and(|old| old.digest == root.digest))
}

/// Reads the config of a stored manifest and pairs its layers with their diff_ids.
pub(crate) fn read_image(
    store: &Store,
    manifest_desc: Descriptor,
    manifest: &ImageManifest,
    fetched: bool,
) -> Result<ResolvedRoot> {
    let config = ImageConfig::parse(&store.read_blob(&manifest.config.digest)?)?;
    let layers = plinth_executor::pair_layers(&manifest_desc, manifest, &config)?;
    Ok(ResolvedRoot {
        manifest: manifest_desc,
        config,
        layers,
        fetched,
        index: None,
    })
}

/// Whether the store holds `root`'s manifest for `platform` with its config and layers.
pub(crate) fn complete_in_store(store: &Store, root: &Descriptor, platform: &Platform) -> bool {
    match resolve_manifest(store, root, Some(platform)) {
        Ok((_, m)) => std::iter::once(&m.config)
            .chain(&m.layers)
            .all(|d| store.has_blob(&d.digest)),
        Err(_) => false,
    }
}

/// [`resolve_registry`], asking the registry for a tag only the first time this engine needs
/// it; later calls take the root it gave, pulling only what another platform still lacks.
fn resolve_tag_once(
    engine: &Inner,
    source: &ImageSource,
    reference: &Reference,
    platform: &Platform,
) -> Result<(Descriptor, bool)> {
    let store = &engine.store;
    let resolve = |reference: &Reference| {
        resolve_registry(
            store,
            &engine.client,
            source,
            reference,
            platform,
            engine.always_pull,
        )
    };
    if reference.digest().is_some() {
        return resolve(reference);
    }
    let slot = engine.tag_roots.slot(source.address());
    let mut known = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(root) = known.clone() else {
        let (root, pulled) = resolve(reference)?;
        *known = Some(root.clone());
        return Ok((root, pulled));
    };
    if complete_in_store(store, &root, platform) {
        return Ok((root, false));
    }
    // The index is in the store (the first lookup stored it): this pulls the platform's
    // manifest and blobs by digest, without asking for the tag again.
    resolve(&reference.with_digest(root.digest.clone()))
}

fn resolve_registry(
    store: &Store,
    client: &Client,
    source: &ImageSource,
    reference: &Reference,
    platform: &Platform,
    always_pull: bool,
) -> Result<(Descriptor, bool)> {
    if let Some(digest) = reference.digest()
        && store.has_blob(digest)
    {
        let root = store.descriptor_of(digest)?;
        if complete_in_store(store, &root, platform) {
            tracing::debug!(%digest, "pinned root image already in the store");
            return Ok((root, false));
        }
    }
    let pulled = plinth_executor::block_on(client.pull_image(
        reference,
        std::slice::from_ref(platform),
        Arc::new(NoTransferReporter),
    ));
    let err = match pulled {
        Some(Ok(digest)) => return Ok((store.descriptor_of(&digest)?, true)),
        Some(Err(e)) => e,
        None => plinth_registry::Error::Config("the registry client's runtime failed".into()),
    };
    if reference.digest().is_none()
        && !always_pull
        && let Some(root) = store.get_ref(&source_ref(source.address()))?
        && complete_in_store(store, &root, platform)
    {
        tracing::warn!(image = %reference, error = %err, digest = %root.digest, "cannot reach the registry; using the image an earlier build resolved");
        return Ok((root, false));
    }
    Err(Error::Pull {
        image: reference.to_string(),
        platform: platform.to_string(),
        source: Box::new(err),
    })
}
