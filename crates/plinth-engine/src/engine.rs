//! [`Engine`] and its configuration.

use std::path::PathBuf;
use std::sync::Arc;

use plinth_executor::{UrlFetcher, UrlMirror};
use plinth_oci::layer::{Compression, WriteOptions};
use plinth_oci::{MediaTypeFlavor, Store};
use plinth_registry::Client;
use plinth_sandbox::{NetworkMode, Sandbox};

use plinth_oci::Platform;
use plinth_recipe::DebianRoot;

use crate::cache::StepCache;
use crate::debian::{DebianRootRecord, DebianSettings};
use crate::error::Result;
use crate::snapshot::Snapshots;

/// How an [`Engine`] builds. Start from [`EngineConfig::new`] and use the `with_*` methods.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    store: Store,
    registry: Option<Client>,
    sandbox_dir: Option<PathBuf>,
    url_mirrors: Vec<UrlMirror>,
    network: NetworkMode,
    compression: Compression,
    source_date_epoch: Option<u64>,
    media_types: MediaTypeFlavor,
    debian: DebianSettings,
    step_ca_bundle: Option<PathBuf>,
    always_pull: bool,
}

impl EngineConfig {
    /// Builds into `store` with a default registry client, a network of their own for execs
    /// ([`NetworkMode::Private`]), gzip
    /// layers, OCI media types and no `SOURCE_DATE_EPOCH`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            registry: None,
            sandbox_dir: None,
            url_mirrors: Vec::new(),
            network: NetworkMode::Private,
            compression: Compression::Gzip,
            source_date_epoch: None,
            media_types: MediaTypeFlavor::Oci,
            debian: DebianSettings::default(),
            step_ca_bundle: None,
            always_pull: false,
        }
    }

    /// The registry client used to pull `from` images (its store should be the same store);
    /// registry mirrors, insecure registries and credentials come with it.
    pub fn with_registry(mut self, client: Client) -> Self {
        self.registry = Some(client);
        self
    }

    /// Where the sandbox keeps per-run state (default `<store>/sandbox`). It must be on the same
    /// filesystem as the store and under the same short root, so long overlay option strings
    /// can be given relative to it.
    pub fn with_sandbox_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sandbox_dir = Some(dir.into());
        self
    }

    /// Adds a URL mirror (`--url-mirror PREFIX=URL-or-dir`).
    pub fn with_url_mirror(mut self, mirror: UrlMirror) -> Self {
        self.url_mirrors.push(mirror);
        self
    }

    /// The network of execs that do not disable it (default: a network namespace of their own
    /// with outbound access; [`NetworkMode::Host`] is the explicit opt-in for the host's).
    pub fn with_network(mut self, network: NetworkMode) -> Self {
        self.network = network;
        self
    }

    /// The compression of new layers (default gzip).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// `SOURCE_DATE_EPOCH`: clamps layer mtimes and sets every `created` of new history
    /// entries and of the config, so deterministic steps give the same digests.
    pub fn with_source_date_epoch(mut self, epoch: Option<u64>) -> Self {
        self.source_date_epoch = epoch;
        self
    }

    /// Debian roots come from this archive (`--apt-mirror URL`, serving `dists/SUITE/InRelease`)
    /// instead of the machine's apt sources.
    pub fn with_apt_mirror(mut self, url: impl Into<String>) -> Self {
        self.debian.mirror = Some(url.into());
        self
    }

    /// The keyring Debian archives are verified against (default
    /// `/usr/share/keyrings/debian-archive-keyring.gpg`).
    pub fn with_debian_keyring(mut self, keyring: impl Into<PathBuf>) -> Self {
        self.debian.keyring = keyring.into();
        self
    }

    /// The apt configuration directory whose `sources.list` and `sources.list.d` name the
    /// archive when no mirror is given (default `/etc/apt`).
    pub fn with_apt_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.debian.apt_dir = dir.into();
        self
    }

    /// Build steps and runs trust the CA certificates in `bundle` (a host file, e.g.
    /// `/etc/ssl/certs/ca-certificates.crt` behind a TLS-intercepting proxy): it is mounted
    /// read-only at [`STEP_CA_BUNDLE_PATH`](crate::STEP_CA_BUNDLE_PATH) and `SSL_CERT_FILE`,
    /// `PIP_CERT`, `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` name it, for the step only: images
    /// are the same with or without it.
    pub fn with_step_ca_bundle(mut self, bundle: impl Into<PathBuf>) -> Self {
        self.step_ca_bundle = Some(bundle.into());
        self
    }

    /// `--pull`: a tagged root image is always looked up in its registry, and a registry that
    /// cannot be reached fails the build instead of falling back to the image an earlier build
    /// resolved for the same address (the default, for offline builds).
    pub fn with_always_pull(mut self, always: bool) -> Self {
        self.always_pull = always;
        self
    }

    /// OCI (default) or Docker schema 2 media types for manifests, configs and layers.
    pub fn with_media_types(mut self, flavor: MediaTypeFlavor) -> Self {
        self.media_types = flavor;
        self
    }
}

/// The embedded build engine: builds [`Container`](plinth_recipe::Container)s into the store,
/// runs commands in images, exports them. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) client: Client,
    pub(crate) sandbox: Sandbox,
    pub(crate) snapshots: Snapshots,
    pub(crate) cache: StepCache,
    pub(crate) fetcher: UrlFetcher,
    pub(crate) network: NetworkMode,
    pub(crate) compression: Compression,
    pub(crate) source_date_epoch: Option<u64>,
    pub(crate) media_types: MediaTypeFlavor,
    pub(crate) debian: DebianSettings,
    pub(crate) step_ca_bundle: Option<PathBuf>,
    pub(crate) always_pull: bool,
    /// What each registry root's tag resolved to in this engine's lifetime.
    pub(crate) tag_roots: crate::resolve::TagRoots,
}

impl Engine {
    /// An engine over `config.store`. Creates the engine's directories in the store; does not
    /// need root until something runs.
    pub fn new(config: EngineConfig) -> Result<Self> {
        let store = config.store;
        let client = match config.registry {
            Some(c) => c,
            None => Client::builder(store.clone()).build().map_err(|e| {
                crate::Error::Image(format!("cannot create the registry client: {e}"))
            })?,
        };
        let sandbox_dir = config
            .sandbox_dir
            .unwrap_or_else(|| store.root().join("sandbox"));
        let sandbox = Sandbox::new(&sandbox_dir).map_err(|source| crate::Error::Sandbox {
            what: "the sandbox setup".into(),
            source: Box::new(source),
        })?;
        let inner = Inner {
            snapshots: Snapshots::new(&store)?,
            cache: StepCache::new(&store)?,
            fetcher: UrlFetcher::new(&store, config.url_mirrors),
            store,
            client,
            sandbox,
            network: config.network,
            compression: config.compression,
            source_date_epoch: config.source_date_epoch,
            media_types: config.media_types,
            debian: config.debian,
            step_ca_bundle: config.step_ca_bundle,
            always_pull: config.always_pull,
            tag_roots: crate::resolve::TagRoots::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The store the engine builds into.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// What the last root made or used for `root` on `platform` came from: the archive's
    /// `InRelease` hashes and dates and every package version.
    pub fn debian_root_record(
        &self,
        root: &DebianRoot,
        platform: &Platform,
    ) -> Result<Option<DebianRootRecord>> {
        crate::debian::read_latest(&self.inner.store, root, platform)
    }

    /// The registry client (for pushing results).
    pub fn registry(&self) -> &Client {
        &self.inner.client
    }

    /// The config of `source` for `platform`, resolved (and pulled into the store) as a build
    /// resolves a root: what the Dockerfile reader needs to evaluate a stage on it.
    pub fn resolve_config(
        &self,
        source: &plinth_recipe::ImageSource,
        platform: &plinth_oci::Platform,
    ) -> Result<plinth_oci::ImageConfig> {
        let root = crate::resolve::resolve_root(&self.inner, source, platform)?;
        Ok(root.config)
    }
}

/// The engine resolves a Dockerfile's base images as its builds resolve roots, so the build
/// after the read finds them in the store.
impl plinth_recipe::BaseResolver for Engine {
    fn base_config(
        &self,
        source: &plinth_recipe::ImageSource,
        platform: &plinth_oci::Platform,
    ) -> std::result::Result<plinth_recipe::BaseConfig, plinth_recipe::BaseError> {
        let config = self.resolve_config(source, platform)?;
        Ok(plinth_recipe::BaseConfig::of_image(&config))
    }
}

/// The engine resolves roots for an executor that hands them to its builders (BuildKit), so
/// a root is pulled, imported or bootstrapped once, by plinth, whichever executor builds.
impl plinth_executor::RootResolver for Engine {
    fn resolve_root(
        &self,
        source: &plinth_recipe::ImageSource,
        platform: &plinth_oci::Platform,
    ) -> std::result::Result<plinth_executor::ResolvedRootImage, plinth_executor::RootError> {
        let root = crate::resolve::resolve_root(&self.inner, source, platform)?;
        Ok(plinth_executor::ResolvedRootImage {
            manifest: root.manifest,
            index_digest: root.index,
        })
    }
}

/// BuildKit prints the digest it resolved a root to, an index's for a multi-platform root; the
/// engine's registry client (its mirrors and credentials) reads which platform manifest that
/// index names, so both executors' provenance records the platform manifest.
impl plinth_executor::RootManifests for Engine {
    fn platform_manifest(
        &self,
        reference: &plinth_oci::Reference,
        platform: &plinth_oci::Platform,
    ) -> Option<plinth_oci::Digest> {
        let client = self.inner.client.clone();
        let pinned = reference.clone();
        let fetched = plinth_executor::block_on(async move { client.get_manifest(&pinned).await });
        let document = match fetched?.and_then(|f| Ok((f.digest.clone(), f.document()?))) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(image = %reference, "cannot read the root's manifest: {e}");
                return None;
            }
        };
        match document {
            (digest, plinth_oci::ManifestDocument::Image(_)) => Some(digest),
            (_, plinth_oci::ManifestDocument::Index(index)) => index
                .manifests
                .iter()
                .find(|m| m.platform.as_ref().is_some_and(|p| platform.matches(p)))
                .map(|m| m.digest.clone()),
        }
    }
}

impl Inner {
    /// How new layers are written.
    pub(crate) fn write_options(&self) -> WriteOptions {
        WriteOptions::new()
            .with_compression(self.compression)
            .with_source_date_epoch(self.source_date_epoch)
    }

    /// The `created` time of a new history entry.
    pub(crate) fn created_now(&self) -> String {
        crate::time::rfc3339(
            self.source_date_epoch
                .unwrap_or_else(crate::time::now_epoch),
        )
    }
}
