//! Flags, environment and defaults resolved in one place into what the libraries take.

use anyhow::Context as _;
use plinth_oci::Store;
use plinth_registry::{Client, Credentials};

use crate::cli::GlobalArgs;

/// Opens the local store (`PLINTH_HOME` or the user cache dir).
pub fn open_store() -> anyhow::Result<Store> {
    let root = plinth_oci::store::default_root();
    Store::open(&root).with_context(|| format!("failed to open the local store at `{}`", root.display()))
}

/// A registry client for the local store, configured from the global flags and the usual
/// credential sources (the Docker Hub variables, then Docker's `config.json` and its helpers).
pub fn registry_client(global: &GlobalArgs, store: Store) -> anyhow::Result<Client> {
    let mut builder = Client::builder(store).with_credentials(Credentials::from_env());
    for registry in &global.insecure_registries {
        builder = builder.with_insecure_registry(registry.clone());
    }
    for mirror in &global.registry_mirrors {
        builder = builder.with_docker_hub_mirror(mirror.clone());
    }
    Ok(builder.build()?)
}

/// A runtime for the async registry client. Commands are short-lived; one runtime per command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}
