//! Whole images between an [`ImageLocation`] and the local store: the one place that reads
//! images in (registry pull, OCI layout import, docker-archive import) and writes them out
//! (push, OCI layout export, docker-archive export). `plinth copy`, `plinth build --output`,
//! the engine's root images and the release flow's push all go through here.
//!
//! The rules are skopeo's: an OCI layout or archive without a name holds one image; a
//! docker-archive holds one platform of an image (the host's unless told otherwise) and is
//! never written into an existing file unless asked ([`DeliverOptions::replacing_files`]); a
//! registry destination pinned with `@sha256:…` receives only that image.

use std::path::Path;
use std::sync::Arc;

use plinth_oci::docker_archive::{
    ExistingFile, ExportImage, ImportedImage, read_docker_archive, write_docker_archive_file,
};
use plinth_oci::image::resolve_manifest;
use plinth_oci::layout::{OciLayout, REF_NAME_ANNOTATION};
use plinth_oci::{ArchiveImage, Descriptor, ImageLocation, Platform, Reference, Store};

use crate::Client;
use crate::error::{Error, Result};
use crate::push::{PushOptions, PushReport};
use crate::reporter::TransferReporter;

/// What writing an image to a location did.
#[derive(Clone, Debug)]
pub enum Delivered {
    /// Pushed to a registry.
    Pushed(PushReport),
    /// Written to an OCI layout or a docker-archive; the root written (the `index.json` entry,
    /// or the image put into the archive).
    Written(Descriptor),
}

/// How [`deliver_image`] writes.
#[derive(Clone, Debug, Default)]
pub struct DeliverOptions {
    platform: Option<Platform>,
    existing_file: ExistingFile,
    push: PushOptions,
    archive_names: Vec<Reference>,
}

impl DeliverOptions {
    /// The defaults: the host's platform for a docker-archive, existing files refused, existing
    /// registry tags overwritten.
    pub fn new() -> Self {
        Self::default()
    }

    /// The platform a docker-archive takes from an index.
    #[must_use]
    pub fn with_platform(mut self, platform: Option<Platform>) -> Self {
        self.platform = platform;
        self
    }

    /// Replace an existing regular file at a docker-archive destination (never a FIFO, device,
    /// directory or symlink).
    #[must_use]
    pub fn replacing_files(mut self, replace: bool) -> Self {
        self.existing_file = if replace {
            ExistingFile::Replace
        } else {
            ExistingFile::Refuse
        };
        self
    }

    /// Options for a registry destination (e.g. refusing to move a tag).
    #[must_use]
    pub fn with_push_options(mut self, push: PushOptions) -> Self {
        self.push = push;
        self
    }

    /// Names a docker-archive destination without its own `:REF` tags the image with
    /// (`plinth build --tag REF --output docker-archive:FILE`).
    #[must_use]
    pub fn with_archive_names(mut self, names: Vec<Reference>) -> Self {
        self.archive_names = names;
        self
    }
}

/// Brings the image at `location` into the client's store and returns its root descriptor (an
/// index when the source has several platforms). `platforms` limits what a registry pull fetches
/// and picks among an untagged archive's images.
pub async fn fetch_image(
    client: &Client,
    location: &ImageLocation,
    platforms: &[Platform],
    reporter: Arc<dyn TransferReporter>,
) -> Result<Descriptor> {
    match location {
        ImageLocation::Registry(reference) => {
            let digest = client.pull_image(reference, platforms, reporter).await?;
            Ok(client.store().descriptor_of(&digest)?)
        }
        ImageLocation::OciLayout { .. } | ImageLocation::DockerArchive { .. } => {
            import_local(client.store(), location, platforms)
        }
    }
}

/// Copies the image at `source` to `destination` (`plinth copy`, skopeo's `copy`): fetched
/// into the client's store, narrowed to `options`' platform when one is set (a single manifest
/// instead of the whole index), then delivered. The store's shared lock is held throughout, so a
/// concurrent gc cannot drop blobs between the two. An OCI layout going to a registry skips the
/// store: it is pushed from its own files ([`Client::push_layout_image`]).
pub async fn copy_image(
    client: &Client,
    source: &ImageLocation,
    destination: &ImageLocation,
    options: &DeliverOptions,
    reporter: Arc<dyn TransferReporter>,
) -> Result<Delivered> {
    let _lock = client.store().lock_shared()?;
    let platforms: Vec<Platform> = options.platform.iter().cloned().collect();
    let side = |action: &'static str, location: &ImageLocation| {
        let location = location.to_string();
        move |e: Error| Error::Copy {
            action,
            location,
            source: Box::new(e),
        }
    };
    if let (ImageLocation::OciLayout { dir, name }, ImageLocation::Registry(target)) =
        (source, destination)
    {
        // Straight from the layout's files, each blob hashed while it is sent: importing it into
        // the store first would hash every byte before the upload could start.
        let layout = OciLayout::open(dir).map_err(|e| side("read", source)(e.into()))?;
        let root = layout_root(&layout, name.as_deref(), options.platform.as_ref())
            .map_err(side("read", source))?;
        check_pinned_target(&root, target).map_err(side("write", destination))?;
        return client
            .push_layout_image(&layout, &root.digest, target, &options.push, reporter)
            .await
            .map(Delivered::Pushed)
            .map_err(side("write", destination));
    }
    let mut root = fetch_image(client, source, &platforms, reporter.clone())
        .await
        .map_err(side("read", source))?;
    if let Some(platform) = &options.platform {
        root = resolve_manifest(client.store(), &root, Some(platform))
            .map_err(|e| side("read", source)(e.into()))?
            .0;
    }
    deliver_image(client, &root, destination, options, reporter)
        .await
        .map_err(side("write", destination))
}

/// The image `name` of a layout (its only one when `None`), narrowed to `platform` when set.
fn layout_root(
    layout: &OciLayout,
    name: Option<&str>,
    platform: Option<&Platform>,
) -> Result<Descriptor> {
    let mut root = layout.find(name)?;
    root.annotations.remove(REF_NAME_ANNOTATION);
    if let Some(platform) = platform {
        root = resolve_manifest(layout, &root, Some(platform))?.0;
    }
    Ok(root)
}

/// Imports an OCI layout or docker-archive image into `store` (no network, no runtime needed);
/// see [`fetch_image`]. Hold [`Store::lock_shared`] until a ref keeps the result.
pub fn import_local(
    store: &Store,
    location: &ImageLocation,
    platforms: &[Platform],
) -> Result<Descriptor> {
    match location {
        ImageLocation::Registry(reference) => Err(Error::Unsupported(format!(
            "`{reference}` is a registry image; fetch it with the registry client"
        ))),
        ImageLocation::OciLayout { dir, name } => {
            Ok(OciLayout::open(dir)?.import_to_store(store, name.as_deref())?)
        }
        ImageLocation::DockerArchive { file, image } => {
            let images = read_docker_archive(store, file)?;
            choose_archive_image(file, location, images, image, platforms)
        }
    }
}

fn choose_archive_image(
    file: &Path,
    location: &ImageLocation,
    mut images: Vec<ImportedImage>,
    wanted: &ArchiveImage,
    platforms: &[Platform],
) -> Result<Descriptor> {
    let refuse = |reason: String| {
        Error::Oci(plinth_oci::Error::InvalidArchive {
            kind: "docker-archive",
            path: file.to_owned(),
            reason,
        })
    };
    let names = |images: &[ImportedImage]| {
        let tags: Vec<&str> = images
            .iter()
            .flat_map(|i| &i.repo_tags)
            .map(String::as_str)
            .collect();
        if tags.is_empty() {
            "none".to_owned()
        } else {
            tags.join(", ")
        }
    };
    match wanted {
        ArchiveImage::Index(index) => {
            let count = images.len();
            if *index >= count {
                return Err(refuse(format!(
                    "there is no image @{index}: the archive holds {count} (@0 to @{})",
                    count.saturating_sub(1)
                )));
            }
            Ok(images.swap_remove(*index).manifest)
        }
        ArchiveImage::Tagged(reference) => {
            let found = images.iter().position(|i| {
                i.repo_tags
                    .iter()
                    .any(|t| t.parse::<Reference>().is_ok_and(|t| &t == reference))
            });
            match found {
                Some(i) => Ok(images.swap_remove(i).manifest),
                None => Err(refuse(format!(
                    "no image is tagged `{}` (tags here: {})",
                    reference.familiar(),
                    names(&images)
                ))),
            }
        }
        ArchiveImage::Only => {
            if images.len() == 1 {
                return Ok(images.swap_remove(0).manifest);
            }
            // Several images, one platform asked for: the one image for it (an archive written
            // per platform), as a build's root image needs.
            if let [platform] = platforms {
                let mut matching = images.iter().filter(|i| {
                    i.manifest
                        .platform
                        .as_ref()
                        .is_some_and(|p| platform.matches(p))
                });
                if let (Some(only), None) = (matching.next(), matching.next()) {
                    return Ok(only.manifest.clone());
                }
            }
            Err(refuse(format!(
                "the archive holds {} images (tags: {}); name one as `{location}:NAME:TAG` or `{location}:@N`",
                images.len(),
                names(&images)
            )))
        }
    }
}

/// Writes the image `root` (in the client's store) to `location`. A registry destination with a
/// digest must be that image's digest. A docker-archive gets one platform of an index (the
/// options' platform, else the host's), tagged with the location's `:REF` or the options'
/// archive names.
pub async fn deliver_image(
    client: &Client,
    root: &Descriptor,
    location: &ImageLocation,
    options: &DeliverOptions,
    reporter: Arc<dyn TransferReporter>,
) -> Result<Delivered> {
    let store = client.store();
    match location {
        ImageLocation::Registry(reference) => Ok(Delivered::Pushed(
            push_to_registry(client, root, reference, &options.push, reporter).await?,
        )),
        ImageLocation::OciLayout { dir, name } => {
            let layout = OciLayout::create(dir)?;
            Ok(Delivered::Written(layout.export_from_store(
                store,
                root,
                name.as_deref(),
            )?))
        }
        ImageLocation::DockerArchive { file, image } => {
            let names = match image {
                ArchiveImage::Only => options.archive_names.clone(),
                ArchiveImage::Tagged(reference) => vec![reference.clone()],
                ArchiveImage::Index(index) => {
                    return Err(Error::Unsupported(format!(
                        "`{location}` names an image by position (@{index}), which only a source can do; write `docker-archive:FILE:NAME:TAG` or `docker-archive:FILE`"
                    )));
                }
            };
            // An archive holds images, not indexes: narrow to the platform (the host's, or an
            // index's only one), as skopeo does.
            let (manifest, _) = resolve_manifest(store, root, options.platform.as_ref())?;
            let mut export = ExportImage::new(manifest.clone());
            for name in names {
                export = export.with_repo_tag(name);
            }
            write_docker_archive_file(store, &[export], file, options.existing_file)?;
            Ok(Delivered::Written(manifest))
        }
    }
}

/// The registry half of [`deliver_image`]: pushes `root` to `target`, refusing a target pinned
/// to another digest (`REPO:TAG@sha256:…` that is not this image).
pub async fn push_to_registry(
    client: &Client,
    root: &Descriptor,
    target: &Reference,
    options: &PushOptions,
    reporter: Arc<dyn TransferReporter>,
) -> Result<PushReport> {
    check_pinned_target(root, target)?;
    client
        .push_image_with(&root.digest, target, options, reporter)
        .await
}

/// Refuses a target pinned to another digest (`REPO:TAG@sha256:…` that is not `root`).
fn check_pinned_target(root: &Descriptor, target: &Reference) -> Result<()> {
    match target.digest() {
        Some(pinned) if pinned != &root.digest => Err(Error::PinnedTargetDiffers {
            target: target.to_string(),
            image: root.digest.clone(),
        }),
        _ => Ok(()),
    }
}
