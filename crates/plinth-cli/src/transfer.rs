//! Moving whole images between a [`Location`] and the local store: the shared half of `copy`,
//! `inspect` and (later) `build --output`.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use plinth_oci::docker_archive::{ExportImage, read_docker_archive, write_docker_archive_file};
use plinth_oci::layout::OciLayout;
use plinth_oci::{Descriptor, Platform};
use plinth_registry::{Client, PushReport, Reporter};

use crate::location::Location;

/// Brings the image at `location` into the store and returns its root descriptor (an index
/// when the source has several platforms). `platforms` limits what a registry pull fetches.
pub async fn fetch(
    client: &Client,
    location: &Location,
    platforms: &[Platform],
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<Descriptor> {
    let store = client.store();
    match location {
        Location::Registry(reference) => {
            let digest = client
                .pull_image(reference, platforms, reporter)
                .await
                .with_context(|| format!("failed to pull `{reference}`"))?;
            Ok(store.descriptor_of(&digest)?)
        }
        Location::OciLayout { dir, tag } => {
            let layout = OciLayout::open(dir)
                .with_context(|| format!("failed to open the OCI layout `{}`", dir.display()))?;
            Ok(layout.import_to_store(store, tag.as_deref())?)
        }
        Location::DockerArchive(path) => {
            let mut images = read_docker_archive(store, path)
                .with_context(|| format!("failed to read `{}`", path.display()))?;
            match images.len() {
                1 => Ok(images.remove(0).manifest),
                0 => bail!("`{}` holds no image", path.display()),
                n => bail!(
                    "`{}` holds {n} images; plinth reads archives with one image",
                    path.display()
                ),
            }
        }
    }
}

/// What writing an image somewhere did.
pub enum Delivered {
    /// Pushed to a registry.
    Pushed(PushReport),
    /// Written to a file or directory.
    Written(Descriptor),
}

/// Writes the image `root` from the store to `location`. A docker-archive holds one platform:
/// `platform` picks it from an index (the host's by default).
pub async fn deliver(
    client: &Client,
    root: &Descriptor,
    location: &Location,
    platform: Option<&Platform>,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<Delivered> {
    let store = client.store();
    match location {
        Location::Registry(reference) => {
            let report = client
                .push_image(&root.digest, reference, reporter)
                .await
                .with_context(|| format!("failed to push to `{reference}`"))?;
            Ok(Delivered::Pushed(report))
        }
        Location::OciLayout { dir, tag } => {
            let layout = OciLayout::create(dir)
                .with_context(|| format!("failed to create the OCI layout `{}`", dir.display()))?;
            Ok(Delivered::Written(layout.export_from_store(
                store,
                root,
                tag.as_deref(),
            )?))
        }
        Location::DockerArchive(path) => {
            let mut image = ExportImage::new(root.clone());
            if let Some(p) = platform {
                image = image.with_platform(p.clone());
            }
            write_docker_archive_file(store, &[image], path)
                .with_context(|| format!("failed to write `{}`", path.display()))?;
            Ok(Delivered::Written(root.clone()))
        }
    }
}
