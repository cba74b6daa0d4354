//! Flags, environment and defaults resolved in one place into what the libraries take.

use anyhow::Context as _;
use plinth_oci::Store;
use plinth_registry::{Client, Credentials};

use crate::cli::GlobalArgs;

/// Opens the local store (`PLINTH_HOME` or the user cache dir).
pub fn open_store() -> anyhow::Result<Store> {
    let root = plinth_oci::store::default_root();
    Store::open(&root)
        .with_context(|| format!("failed to open the local store at `{}`", root.display()))
}

/// A registry client for the local store, configured from the global flags and the usual
/// credential sources (the Docker Hub variables, then Docker's `config.json` and its helpers).
pub fn registry_client(global: &GlobalArgs, store: Store) -> anyhow::Result<Client> {
    registry_client_with(global, store, Credentials::from_env())
}

/// The one registry-client factory: `credentials` (the release commands may add one asked for
/// on a terminal) with the global flags' insecure registries and Docker Hub mirrors.
pub fn registry_client_with(
    global: &GlobalArgs,
    store: Store,
    credentials: Credentials,
) -> anyhow::Result<Client> {
    let mut builder = Client::builder(store).with_credentials(credentials);
    for registry in &global.insecure_registries {
        builder = builder.with_insecure_registry(registry.clone());
    }
    for mirror in &global.registry_mirrors {
        builder = builder.with_docker_hub_mirror(mirror.clone());
    }
    Ok(builder.build()?)
}

/// The process's one async runtime (shared with the engine, the fetcher and the release flow),
/// for the async registry client.
pub fn runtime() -> anyhow::Result<tokio::runtime::Handle> {
    Ok(plinth_executor::shared_runtime()?)
}

/// The timestamp builds use when `SOURCE_DATE_EPOCH` is not set: 1970-01-01, as apko and ko
/// use. A digest then depends on the recipe and its inputs only, and `plinth build` gives the
/// digest `publish` gives for the same recipe. (A date derived from a family's release would
/// not exist for a Dockerfile, and would change the digest of unchanged content.)
pub const DEFAULT_SOURCE_DATE_EPOCH: u64 = 0;

/// The build engine over the local store, with the registry client (for `from` images) and the
/// `--url-mirror`s. Timestamps are clamped to `SOURCE_DATE_EPOCH`, else to
/// [`DEFAULT_SOURCE_DATE_EPOCH`].
pub fn engine(global: &GlobalArgs, store: Store) -> anyhow::Result<plinth_engine::Engine> {
    engine_with_client(global, registry_client(global, store)?, false)
}

/// The build engine over `client`'s store, with timestamps clamped to [`build_epoch`];
/// `always_pull` is `plinth build --pull` (no fallback to earlier resolutions of a tag).
pub fn engine_with_client(
    global: &GlobalArgs,
    client: Client,
    always_pull: bool,
) -> anyhow::Result<plinth_engine::Engine> {
    let epoch = Some(build_epoch()?);
    let mut config = plinth_engine::EngineConfig::new(client.store().clone())
        .with_registry(client)
        .with_always_pull(always_pull)
        .with_network(global.network.mode())
        .with_source_date_epoch(epoch);
    for mirror in url_mirrors(global)? {
        config = config.with_url_mirror(mirror);
    }
    if let Some(url) = &global.apt_mirror {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!(
                "invalid `--apt-mirror {url}`: give the archive's http:// or https:// URL, the directory holding `dists/` (e.g. `http://deb.debian.org/debian`)"
            );
        }
        config = config.with_apt_mirror(url.as_str());
    }
    if let Some(keyring) = &global.apt_keyring {
        config = config.with_debian_keyring(keyring);
    }
    let bundle = global.step_ca_bundle.clone().or_else(|| {
        std::env::var_os(crate::env::PLINTH_STEP_CA_BUNDLE)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    });
    if let Some(bundle) = bundle {
        if !bundle.is_file() {
            anyhow::bail!(
                "the step CA bundle `{}` is not a file; give a PEM bundle such as /etc/ssl/certs/ca-certificates.crt",
                bundle.display()
            );
        }
        config = config.with_step_ca_bundle(bundle);
    }
    plinth_engine::Engine::new(config).context("failed to start the build engine")
}

/// The `--url-mirror`s, for the embedded engine and the BuildKit backend alike.
pub fn url_mirrors(global: &GlobalArgs) -> anyhow::Result<Vec<plinth_executor::UrlMirror>> {
    global
        .url_mirrors
        .iter()
        .map(|mirror| {
            mirror
                .parse()
                .with_context(|| format!("invalid `--url-mirror {mirror}`"))
        })
        .collect()
}

/// The reproducible timestamp of builds: `SOURCE_DATE_EPOCH` when set and not empty, else
/// [`DEFAULT_SOURCE_DATE_EPOCH`].
pub fn build_epoch() -> anyhow::Result<u64> {
    Ok(source_date_epoch()?.unwrap_or(DEFAULT_SOURCE_DATE_EPOCH))
}

/// `SOURCE_DATE_EPOCH`, when set and not empty.
pub fn source_date_epoch() -> anyhow::Result<Option<u64>> {
    match std::env::var(crate::env::SOURCE_DATE_EPOCH) {
        Ok(value) if !value.is_empty() => Ok(Some(
            plinth_oci::layer::parse_source_date_epoch(&value)
                .with_context(|| format!("invalid SOURCE_DATE_EPOCH `{value}`"))?,
        )),
        _ => Ok(None),
    }
}
