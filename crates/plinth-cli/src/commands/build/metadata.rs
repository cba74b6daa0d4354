//! `--iidfile` and `--metadata-file`: the build's identity written as docker and buildx write it.
//!
//! The image ID follows docker: for one platform it is the config digest (what `docker build`
//! prints, what `docker image inspect` shows as `Id` after `--load`); for several platforms
//! there is no single config, so it is the index digest, as buildx writes it then.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use plinth_executor::BuildResult;
use plinth_oci::{Descriptor, Digest};
use serde::Serialize;

/// What the files say about a build.
pub(super) struct BuiltImage {
    root: Descriptor,
    /// Per platform: the manifest and config digests.
    platforms: BTreeMap<String, (Digest, Digest)>,
    names: Vec<String>,
}

impl BuiltImage {
    pub(super) fn of(built: &BuildResult, tags: &[String]) -> Self {
        Self {
            root: built.root.clone(),
            platforms: built
                .platforms
                .iter()
                .map(|p| {
                    (
                        p.platform.to_string(),
                        (
                            p.manifest.digest.clone(),
                            p.config_descriptor.digest.clone(),
                        ),
                    )
                })
                .collect(),
            names: tags.to_vec(),
        }
    }

    /// The image ID docker would give it (see the module docs).
    pub(super) fn image_id(&self) -> &Digest {
        match self.single_config() {
            Some(config) => config,
            None => &self.root.digest,
        }
    }

    fn single_config(&self) -> Option<&Digest> {
        match self.platforms.values().collect::<Vec<_>>().as_slice() {
            [(_, config)] => Some(config),
            _ => None,
        }
    }
}

/// buildx's metadata keys, plus each platform's digests.
#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(
        rename = "containerimage.config.digest",
        skip_serializing_if = "Option::is_none"
    )]
    config_digest: Option<&'a Digest>,
    #[serde(rename = "containerimage.descriptor")]
    descriptor: &'a Descriptor,
    #[serde(rename = "containerimage.digest")]
    digest: &'a Digest,
    #[serde(rename = "image.name", skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(rename = "plinth.platforms")]
    platforms: BTreeMap<&'a str, PlatformDigests<'a>>,
}

#[derive(Serialize)]
struct PlatformDigests<'a> {
    #[serde(rename = "containerimage.config.digest")]
    config_digest: &'a Digest,
    #[serde(rename = "containerimage.digest")]
    digest: &'a Digest,
}

/// `--iidfile` and `--metadata-file`, when given.
pub(super) fn write_files(
    iidfile: Option<&Path>,
    metadata_file: Option<&Path>,
    image: &BuiltImage,
) -> anyhow::Result<()> {
    if let Some(file) = iidfile {
        write_iidfile(file, image)?;
    }
    if let Some(file) = metadata_file {
        write_metadata_file(file, image)?;
    }
    Ok(())
}

/// Writes the image ID to `file`, without a newline, as docker does.
fn write_iidfile(file: &Path, image: &BuiltImage) -> anyhow::Result<()> {
    write_atomically(file, image.image_id().to_string().as_bytes())
        .with_context(|| format!("failed to write the `--iidfile` `{}`", file.display()))
}

/// Writes the metadata JSON to `file`.
fn write_metadata_file(file: &Path, image: &BuiltImage) -> anyhow::Result<()> {
    let metadata = Metadata {
        config_digest: image.single_config(),
        descriptor: &image.root,
        digest: &image.root.digest,
        name: (!image.names.is_empty()).then(|| image.names.join(",")),
        platforms: image
            .platforms
            .iter()
            .map(|(platform, (digest, config_digest))| {
                (
                    platform.as_str(),
                    PlatformDigests {
                        config_digest,
                        digest,
                    },
                )
            })
            .collect(),
    };
    let mut json = serde_json::to_vec_pretty(&metadata)?;
    json.push(b'\n');
    write_atomically(file, &json)
        .with_context(|| format!("failed to write the `--metadata-file` `{}`", file.display()))
}

/// Writes `bytes` to `file` through a temporary file beside it, renamed into place.
fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => ".".into(),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".plinth-")
        .tempfile_in(parent)?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.persist(file).map_err(|e| e.error)?;
    Ok(())
}
