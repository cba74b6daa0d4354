//! An image named on the command line of the commands that compare or describe images
//! (`diff`, `verify`, `sbom`, `provenance`):
//! a family version (`REPOSITORY:VERSION`, or a bare version with `--family`), a name built
//! into the local store, or an image location (`docker://REF` or a bare reference,
//! `oci:DIR[:NAME]`, `docker-archive:FILE[:REF]`).

use std::sync::Arc;

use anyhow::Context as _;
use plinth_catalog::{Catalog, Version};
use plinth_oci::{Descriptor, ImageLocation, Reference};
use plinth_registry::{Client, NoTransferReporter, fetch_image};

use crate::cli::GlobalArgs;

/// What an image argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ImageArg {
    /// A version of a catalog family, as published in the target registry.
    FamilyVersion {
        /// The family's repository.
        repository: String,
        /// The version.
        version: Version,
    },
    /// A store name or an image location.
    Image(String),
}

impl ImageArg {
    /// Reads `text`: with `family` (`--family NAME`), a version of that family; else
    /// `REPOSITORY:VERSION` of a catalog family, else an image.
    pub(crate) fn parse(
        text: &str,
        family: Option<&str>,
        catalog: &Catalog,
    ) -> anyhow::Result<Self> {
        if let Some(family) = family {
            let repository = catalog.get(family)?.repository().to_owned();
            let version = text.parse().with_context(|| {
                format!("with `--family {family}`, `{text}` must be a version such as 1.2.0")
            })?;
            return Ok(Self::FamilyVersion {
                repository,
                version,
            });
        }
        if let Some((repository, version)) = text.rsplit_once(':')
            && let Some(family) = catalog.find(repository)
            && let Ok(version) = version.parse::<Version>()
        {
            return Ok(Self::FamilyVersion {
                repository: family.repository().to_owned(),
                version,
            });
        }
        Ok(Self::Image(text.to_owned()))
    }
}

/// An image brought into the client's store.
#[derive(Clone, Debug)]
pub(crate) struct LoadedImage {
    /// How to call it in output (`127.0.0.1:5000/team/base:1.0.0`, `oci:out:v1`).
    pub(crate) name: String,
    /// Its root in the store.
    pub(crate) root: Descriptor,
    /// Its registry reference, when it came from a registry (attachments live there).
    pub(crate) reference: Option<Reference>,
}

/// Where `repository` `version` is published (`--registry`, `--namespace`).
pub(crate) fn published_reference(
    global: &GlobalArgs,
    repository: &str,
    version: &Version,
) -> anyhow::Result<Reference> {
    Ok(crate::release_context::target(global)
        .reference(repository)?
        .with_tag(&version.to_string())?)
}

/// What `text` names in a registry: a catalog version (`REPOSITORY:VERSION`, as published to
/// `--registry`/`--namespace`), else the reference itself (`plinth provenance`, `plinth sbom`).
pub(crate) fn catalog_or_reference(
    global: &GlobalArgs,
    text: &str,
    catalog: &Catalog,
) -> anyhow::Result<Option<Reference>> {
    match ImageArg::parse(text, None, catalog)? {
        ImageArg::FamilyVersion {
            repository,
            version,
        } => Ok(Some(published_reference(global, &repository, &version)?)),
        ImageArg::Image(_) => Ok(None),
    }
}

/// Brings `arg` into `client`'s store (every platform).
pub(crate) async fn load_image(
    global: &GlobalArgs,
    client: &Client,
    arg: &ImageArg,
) -> anyhow::Result<LoadedImage> {
    let location = match arg {
        ImageArg::FamilyVersion {
            repository,
            version,
        } => ImageLocation::Registry(published_reference(global, repository, version)?),
        ImageArg::Image(text) => {
            if let Some(root) = client.store().get_ref(text)? {
                return Ok(LoadedImage {
                    name: text.clone(),
                    root,
                    reference: None,
                });
            }
            text.parse().with_context(|| {
                format!(
                    "`{text}` is neither a family version (REPOSITORY:VERSION), a built image nor an image location"
                )
            })?
        }
    };
    let root = fetch_image(client, &location, &[], Arc::new(NoTransferReporter))
        .await
        .with_context(|| format!("cannot read the image {location}"))?;
    Ok(LoadedImage {
        name: location.to_string(),
        root,
        reference: location.reference().cloned(),
    })
}
