//! Roots handed to a builder by plinth ([`BuildkitConfig::with_roots`]): each `FROM` of a
//! recipe is resolved into plinth's store by a [`RootResolver`] (the embedded engine: pulled,
//! imported from a file, or bootstrapped from Debian's archive), `docker load`ed into the
//! builder's image store under a name made of its config digest, and the recipe's `FROM`
//! names that image. The builder then pulls nothing: a root's blobs are fetched once per
//! build, by plinth (which already read the root's config to evaluate the Dockerfile), and
//! roots no registry serves build with BuildKit too.
//!
//! The local name is `plinth-root:<config hex>`; the daemon's image ID of a loaded image is
//! its config digest, so an image already loaded is recognised by `docker image inspect` and
//! not sent again.
//!
//! [`BuildkitConfig::with_roots`]: crate::BuildkitConfig::with_roots

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::Stdio;

use plinth_executor::RootResolver;
use plinth_oci::docker_archive::{ExportImage, write_docker_archive};
use plinth_oci::image::resolve_manifest;
use plinth_oci::{Digest, Platform, Reference, Store};
use plinth_recipe::{Container, ImageSource, Op};

use crate::docker::{DockerCli, describe, run_with_timeout, tail};
use crate::docker_host::DockerHost;
use crate::error::{Error, Result};

/// The repository loaded roots are named in, in the builder's image store.
pub(crate) const LOCAL_ROOT_REPOSITORY: &str = "plinth-root";

/// One root as the builder receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoadedRoot {
    /// The name the rewritten `FROM` uses (`plinth-root:<config hex>`).
    pub(crate) local_name: String,
    /// The platform manifest the resolver gave (what the provenance records).
    pub(crate) manifest: Digest,
    /// The index it was taken from, for a multi-platform root.
    pub(crate) index_digest: Option<Digest>,
}

/// Every root of `container` (helper stages included), by address, in first-seen order.
pub(crate) fn root_sources(container: &Container) -> Vec<ImageSource> {
    let mut found: Vec<ImageSource> = Vec::new();
    collect_sources(container, &mut found);
    found
}

fn collect_sources(container: &Container, found: &mut Vec<ImageSource>) {
    for op in container.ops() {
        if let Op::From { source } = op
            && !found.iter().any(|s| s.address() == source.address())
        {
            found.push(source.clone());
        }
        for (_, helper) in op.helpers() {
            collect_sources(helper, found);
        }
    }
}

/// Resolves every root of `container` for `platform` with `resolver` and makes sure the
/// builder has it: address → the loaded root.
pub(crate) fn load_roots(
    resolver: &dyn RootResolver,
    store: &Store,
    docker: &DockerCli,
    builder: &DockerHost,
    container: &Container,
    platform: &Platform,
) -> Result<BTreeMap<String, LoadedRoot>> {
    let mut loaded = BTreeMap::new();
    for source in root_sources(container) {
        let resolved = resolver
            .resolve_root(&source, platform)
            .map_err(|source_err| Error::Root {
                image: source.address().to_owned(),
                platform: platform.to_string(),
                source: source_err,
            })?;
        let (manifest_desc, manifest) =
            resolve_manifest(store, &resolved.manifest, Some(platform))?;
        let config = manifest.config.digest.clone();
        let local_name = format!("{LOCAL_ROOT_REPOSITORY}:{}", config.hex());
        if has_image(docker, builder, &local_name, &config) {
            tracing::debug!(root = %source, %local_name, "root already in the builder");
        } else {
            let export = ExportImage::new(manifest_desc.clone())
                .with_platform(platform.clone())
                .with_repo_tag(local_name.parse::<Reference>()?);
            load(docker, builder, store, &export, &local_name)?;
            crate::loaded_roots::record_load(store, builder, &local_name, &config);
            tracing::info!(root = %source, %local_name, %builder, "root loaded into the builder");
        }
        loaded.insert(
            source.address().to_owned(),
            LoadedRoot {
                local_name,
                manifest: manifest_desc.digest,
                index_digest: resolved.index_digest,
            },
        );
    }
    Ok(loaded)
}

/// Whether the builder holds `name` as the image whose config is `config` (its image ID).
fn has_image(docker: &DockerCli, builder: &DockerHost, name: &str, config: &Digest) -> bool {
    let mut cmd = docker.command(builder);
    cmd.args(["image", "inspect", "--format", "{{.Id}}", name]);
    match run_with_timeout(&mut cmd, super::backend::INFO_TIMEOUT) {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).trim() == config.to_string()
        }
        _ => false,
    }
}

/// `docker load` of `export` as a docker-archive streamed from the store (nothing written to
/// disk on this side).
fn load(
    docker: &DockerCli,
    builder: &DockerHost,
    store: &Store,
    export: &ExportImage,
    name: &str,
) -> Result<()> {
    let mut cmd = docker.command(builder);
    cmd.arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let command = describe(&cmd);
    let mut child = cmd.spawn().map_err(Error::io("run", docker.program()))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    // A write error (the daemon stopped reading) is reported with what docker said.
    let written =
        write_docker_archive(store, std::slice::from_ref(export), stdin).and_then(|mut w| {
            w.flush()
                .map_err(|e| plinth_oci::Error::io("flush", name, e))
        });
    let out = child
        .wait_with_output()
        .map_err(Error::io("wait for", docker.program()))?;
    if !out.status.success() {
        return Err(Error::Docker {
            command,
            status: out.status.to_string(),
            detail: tail(&out.stderr, 8),
        });
    }
    written?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_recipe::DirectorySource;

    #[test]
    fn every_root_once_helpers_included_in_first_seen_order() {
        let helper = Container::from_address("127.0.0.1:5000/tools:1")
            .unwrap()
            .with_exec(["true"]);
        let container = Container::from_address("plinth/debian:bookworm")
            .unwrap()
            .with_directory(
                "/opt/tools",
                DirectorySource::Container {
                    container: Box::new(helper.clone()),
                    path: "/usr/bin".into(),
                },
            )
            .with_directory(
                "/opt/again",
                DirectorySource::Container {
                    container: Box::new(helper),
                    path: "/etc".into(),
                },
            );
        let addresses: Vec<String> = root_sources(&container)
            .iter()
            .map(|s| s.address().to_owned())
            .collect();
        assert_eq!(
            addresses,
            ["plinth/debian:bookworm", "127.0.0.1:5000/tools:1"]
        );
    }
}
