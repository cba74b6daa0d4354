//! Where `plinth build` puts its result besides the store: the `--output`s, `--push` and
//! `--load`, checked before anything builds and delivered after the checks pass.

use std::sync::Arc;

use anyhow::Context as _;
use plinth_oci::{ArchiveImage, Descriptor, ImageLocation, Platform, Reference};
use plinth_registry::{Client, DeliverOptions, Delivered, deliver_image};

use crate::exit_status::usage_error;
use crate::output_arg::BuildOutput;
use crate::printer::Printer;
use crate::progress::TransferProgress;
use crate::settings::runtime;

/// Every output asked for: `--output`s, then `--push` as `type=registry` and `--load` as
/// `type=docker`. Refuses what cannot be delivered before anything builds.
pub(super) fn requested(
    outputs: &[BuildOutput],
    push: bool,
    load: bool,
    tags: &[Reference],
) -> anyhow::Result<Vec<BuildOutput>> {
    let mut all = outputs.to_vec();
    if push {
        all.push(BuildOutput::Registry(None));
    }
    if load {
        all.push(BuildOutput::DockerDaemon);
    }
    for output in &all {
        if let BuildOutput::Registry(None) = output
            && tags.is_empty()
        {
            return Err(usage_error(format!(
                "`--output {output}` pushes to the `--tag`s and none is given; add `--tag REF` or `name=REF`"
            )));
        }
        if let BuildOutput::Image(ImageLocation::Registry(reference)) = output {
            return Err(usage_error(format!(
                "`--output {reference}` is a registry: push with `--tag REF --push` or `--output type=registry,name=REF`"
            )));
        }
    }
    Ok(all)
}

/// A docker-archive and the docker daemon hold one platform: refuse a multi-platform build for
/// them, as BuildKit's docker exporter does, rather than cut it to one silently.
pub(super) fn refuse_multi_platform(
    outputs: &[BuildOutput],
    platforms: &[Platform],
) -> anyhow::Result<()> {
    if platforms.len() < 2 {
        return Ok(());
    }
    for output in outputs {
        let what = match output {
            BuildOutput::Image(ImageLocation::DockerArchive { .. }) => "a docker-archive",
            BuildOutput::DockerDaemon => "the docker daemon",
            _ => continue,
        };
        return Err(usage_error(format!(
            "`--output {output}`: {what} holds one platform and this build makes {} ({}); \
             build one with `--platform`, or write every platform with `--output oci:DIR[:NAME]`",
            platforms.len(),
            super::list(platforms)
        )));
    }
    Ok(())
}

/// The registry references the outputs push to.
pub(super) fn push_targets(outputs: &[BuildOutput], tags: &[Reference]) -> Vec<Reference> {
    let mut targets: Vec<Reference> = Vec::new();
    for output in outputs {
        let named: Vec<Reference> = match output {
            BuildOutput::Registry(Some(name)) => vec![name.clone()],
            BuildOutput::Registry(None) => tags.to_vec(),
            _ => continue,
        };
        for target in named {
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    targets
}

/// What delivering needs: the built image and how to name it.
pub(super) struct Delivery<'a> {
    pub(super) client: &'a Client,
    pub(super) root: &'a Descriptor,
    pub(super) platforms: &'a [Platform],
    pub(super) tags: &'a [Reference],
    pub(super) force: bool,
    pub(super) printer: Printer,
    /// The provenance of each platform, attached before a registry tag is written.
    pub(super) attachments: Vec<plinth_attest::Attachment>,
}

impl Delivery<'_> {
    /// Delivers the result to `output`.
    pub(super) fn deliver(&self, output: &BuildOutput) -> anyhow::Result<()> {
        match output {
            BuildOutput::Image(location) => {
                self.write_image(location)?;
                self.printer.status(format!("wrote {output}"));
                if let ImageLocation::OciLayout { .. } = location {
                    self.printer.status(format!(
                        "run it with `plinth run {output} -- COMMAND`, or load it into docker with \
                         `skopeo copy {output} docker-daemon:NAME:TAG`"
                    ));
                }
            }
            BuildOutput::OciTar { file, name } => {
                self.refuse_existing(file)?;
                let staging = tempfile::Builder::new()
                    .prefix(".plinth-oci-")
                    .tempdir_in(parent_of(file))
                    .with_context(|| format!("failed to write {output}"))?;
                let layout = staging.path().join("layout");
                let name = name.clone().or_else(|| {
                    self.tags
                        .first()
                        .map(|t| t.tag().unwrap_or("latest").to_owned())
                });
                self.write_image(&ImageLocation::OciLayout {
                    dir: layout.clone(),
                    name,
                })?;
                plinth_oci::rootfs::write_tar_of_dir(&layout, file, None)
                    .with_context(|| format!("failed to write {output}"))?;
                self.printer.status(format!("wrote {output}"));
            }
            BuildOutput::Registry(name) => {
                for target in push_targets(&[BuildOutput::Registry(name.clone())], self.tags) {
                    self.push(&target)?;
                }
            }
            BuildOutput::Store => self
                .printer
                .status("kept in the local store (type=image without push)"),
            BuildOutput::DockerDaemon => self.load()?,
            BuildOutput::Local(dir) => {
                plinth_oci::rootfs::export_tree(
                    self.client.store(),
                    self.root,
                    self.platforms,
                    dir,
                )
                .with_context(|| format!("failed to write {output}"))?;
                self.printer.status(format!("wrote {output}"));
            }
            BuildOutput::Tar(file) => {
                self.refuse_existing(file)?;
                plinth_oci::rootfs::export_tree_tar(
                    self.client.store(),
                    self.root,
                    self.platforms,
                    file,
                    Some(crate::settings::build_epoch()?),
                )
                .with_context(|| format!("failed to write {output}"))?;
                self.printer.status(format!("wrote {output}"));
            }
        }
        Ok(())
    }

    fn write_image(&self, location: &ImageLocation) -> anyhow::Result<()> {
        let reporter = Arc::new(TransferProgress::new(self.printer));
        let options = DeliverOptions::new()
            .with_platform(self.platforms.first().cloned())
            .replacing_files(self.force)
            .with_archive_names(
                self.tags
                    .iter()
                    .map(archive_name)
                    .collect::<anyhow::Result<_>>()?,
            );
        runtime()?
            .block_on(deliver_image(
                self.client,
                self.root,
                location,
                &options,
                reporter,
            ))
            .with_context(|| format!("failed to write {location}"))?;
        Ok(())
    }

    fn push(&self, target: &Reference) -> anyhow::Result<()> {
        let reporter = Arc::new(TransferProgress::new(self.printer));
        if !self.attachments.is_empty() {
            // The image by digest, then what is attached to it, then the tag: a tag never
            // names an image whose attestations are missing.
            let by_digest = ImageLocation::Registry(
                target
                    .repository_only()
                    .with_digest(self.root.digest.clone()),
            );
            runtime()?.block_on(deliver_image(
                self.client,
                self.root,
                &by_digest,
                &DeliverOptions::new(),
                reporter.clone(),
            ))?;
            runtime()?
                .block_on(plinth_attest::push_attachments(
                    self.client,
                    target,
                    &self.attachments,
                    reporter.clone(),
                ))
                .with_context(|| format!("failed to attach the attestations of {target}"))?;
        }
        let location = ImageLocation::Registry(target.clone());
        if let Delivered::Pushed(report) = runtime()?.block_on(deliver_image(
            self.client,
            self.root,
            &location,
            &DeliverOptions::new(),
            reporter,
        ))? {
            self.printer.status(format!(
                "pushed {target}: {} blobs uploaded, {} mounted, {} already present",
                report.blobs_uploaded, report.blobs_mounted, report.blobs_skipped
            ));
        }
        Ok(())
    }

    /// `--load`: a docker-archive named by the tags, handed to `docker load`.
    fn load(&self) -> anyhow::Result<()> {
        let staging = tempfile::Builder::new()
            .prefix("plinth-load-")
            .tempdir()
            .context("failed to create a directory for the archive to load")?;
        let archive = staging.path().join("image.tar");
        self.write_image(&ImageLocation::DockerArchive {
            file: archive.clone(),
            image: ArchiveImage::Only,
        })?;
        let loaded = plinth_buildkit::load_into_docker(&archive)?;
        for line in loaded.lines() {
            self.printer.status(line);
        }
        Ok(())
    }

    fn refuse_existing(&self, file: &std::path::Path) -> anyhow::Result<()> {
        if !self.force && std::fs::symlink_metadata(file).is_ok() {
            return Err(usage_error(format!(
                "`{}` exists; add `--force` to replace it",
                file.display()
            )));
        }
        Ok(())
    }
}

fn parent_of(path: &std::path::Path) -> std::path::PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => ".".into(),
    }
}

/// The name `--tag` gives an image in a docker-archive: `docker load` needs a tag, and a name
/// alone means `:latest`, as `docker build -t NAME` has it.
fn archive_name(tag: &Reference) -> anyhow::Result<Reference> {
    match tag.tag() {
        Some(_) => Ok(tag.clone()),
        None => Ok(tag.with_tag("latest")?),
    }
}
