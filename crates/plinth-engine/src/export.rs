//! Exports of built images: OCI layout directories, docker-archive files, store refs, pushes.

use std::path::Path;
use std::sync::Arc;

use plinth_oci::docker_archive::{ExportImage, write_docker_archive_file};
use plinth_oci::layout::OciLayout;
use plinth_oci::{Descriptor, Platform, Reference};
use plinth_registry::{PushReport, Reporter as PushReporter};

use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Writes `root` (an index or a manifest in the store) into the OCI layout at `dir`
    /// (created if missing; other images in it stay), tagged `tag`. Returns the `index.json`
    /// entry. `skopeo inspect oci:DIR[:TAG]` reads it.
    pub fn export_oci_layout(
        &self,
        root: &Descriptor,
        dir: &Path,
        tag: Option<&str>,
    ) -> Result<Descriptor> {
        let layout = OciLayout::create(dir)?;
        Ok(layout.export_from_store(&self.inner.store, root, tag)?)
    }

    /// Writes one platform of `root` as a `docker load`-able tarball at `file`, tagged with
    /// `repo_tags` (each needs a tag).
    pub fn export_docker_archive(
        &self,
        root: &Descriptor,
        platform: &Platform,
        file: &Path,
        repo_tags: &[Reference],
    ) -> Result<()> {
        let mut image = ExportImage::new(root.clone()).with_platform(platform.clone());
        for tag in repo_tags {
            image = image.with_repo_tag(tag.clone());
        }
        Ok(write_docker_archive_file(
            &self.inner.store,
            &[image],
            file,
        )?)
    }

    /// Points the store ref `name` at `root`.
    pub fn tag_in_store(&self, name: &str, root: &Descriptor) -> Result<()> {
        Ok(self.inner.store.set_ref(name, root)?)
    }

    /// Pushes `root` (index or manifest) to `target` with the engine's registry client: children
    /// first, the tag last (see [`plinth_registry::Client::push_image`]).
    pub fn push(
        &self,
        root: &Descriptor,
        target: &Reference,
        reporter: Arc<dyn PushReporter>,
    ) -> Result<PushReport> {
        let client = &self.inner.client;
        plinth_executor::block_on(client.push_image(&root.digest, target, reporter))
            .unwrap_or_else(|| {
                Err(plinth_registry::Error::Config(
                    "the registry client's runtime failed".into(),
                ))
            })
            .map_err(|e| Error::Push {
                target: target.to_string(),
                source: Box::new(e),
            })
    }
}
