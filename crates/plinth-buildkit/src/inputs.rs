//! The inputs of a BuildKit build for its provenance: the root images with the digests BuildKit
//! printed when it resolved them, URL inputs (in [`PlatformBuild::url_inputs`]) and host files
//! hashed here. Host directories are named without a digest: the embedded engine's tree digest
//! is its own, and BuildKit reports none.
//!
//! [`PlatformBuild::url_inputs`]: plinth_executor::PlatformBuild::url_inputs

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use plinth_executor::{BuildInput, InputKind};
use plinth_oci::{Digest, ImageLocation, Reference};
use plinth_recipe::{BindSource, Container, DirectorySource, FileSource, Op, RunMount, SourceKind};

use crate::error::{Error, Result};
use crate::roots::LoadedRoot;

/// The inputs of `container` (the recipe as given, before URL inputs become host files;
/// helpers included), with the root digests of `loaded` (roots plinth handed to the builder:
/// the manifest it resolved, whatever the root's kind) or else of `resolved` (address as
/// BuildKit printed it → digest).
pub(crate) fn build_inputs(
    container: &Container,
    resolved: &BTreeMap<String, Digest>,
    loaded: &BTreeMap<String, LoadedRoot>,
) -> Result<Vec<BuildInput>> {
    let mut inputs = Vec::new();
    collect(container, &Roots { resolved, loaded }, &mut inputs)?;
    Ok(inputs)
}

/// Where a root's digest comes from.
struct Roots<'a> {
    resolved: &'a BTreeMap<String, Digest>,
    loaded: &'a BTreeMap<String, LoadedRoot>,
}

fn collect(container: &Container, roots: &Roots<'_>, inputs: &mut Vec<BuildInput>) -> Result<()> {
    let resolved = roots.resolved;
    for op in container.ops() {
        match op {
            Op::From { source } => {
                if let Some(root) = roots.loaded.get(source.address()) {
                    inputs.push(BuildInput::new(
                        InputKind::RootImage,
                        source.address(),
                        root.manifest.clone(),
                    ));
                } else if let SourceKind::Image(ImageLocation::Registry(reference)) = source.kind()
                {
                    inputs.push(BuildInput {
                        kind: InputKind::RootImage,
                        name: source.address().to_owned(),
                        digest: root_digest(reference, resolved),
                    });
                }
            }
            Op::File {
                source: FileSource::HostFile(path),
                ..
            } => inputs.push(BuildInput::new(
                InputKind::HostFile,
                path.display().to_string(),
                file_digest(path)?,
            )),
            Op::Directory { source, .. } => match source {
                DirectorySource::Host(dir) | DirectorySource::HostIgnoring { path: dir, .. } => {
                    inputs.push(BuildInput {
                        kind: InputKind::HostDirectory,
                        name: dir.display().to_string(),
                        digest: None,
                    })
                }
                DirectorySource::HostArchive(archive) => inputs.push(BuildInput::new(
                    InputKind::HostFile,
                    archive.display().to_string(),
                    file_digest(archive)?,
                )),
                DirectorySource::Container { container, .. } => {
                    collect(container, roots, inputs)?;
                }
            },
            Op::Exec { mounts, .. } => {
                for mount in mounts {
                    match mount {
                        RunMount::Bind {
                            source: BindSource::HostIgnoring { path, .. },
                            ..
                        } => inputs.push(BuildInput {
                            kind: InputKind::HostDirectory,
                            name: path.display().to_string(),
                            digest: None,
                        }),
                        RunMount::Bind {
                            source: BindSource::Host(path),
                            ..
                        } if path.is_dir() => inputs.push(BuildInput {
                            kind: InputKind::HostDirectory,
                            name: path.display().to_string(),
                            digest: None,
                        }),
                        RunMount::Bind {
                            source: BindSource::Host(path),
                            ..
                        } => inputs.push(BuildInput::new(
                            InputKind::HostFile,
                            path.display().to_string(),
                            file_digest(path)?,
                        )),
                        RunMount::Bind {
                            source: BindSource::Container { container, .. },
                            ..
                        } => collect(container, roots, inputs)?,
                        RunMount::Tmpfs { .. } | RunMount::Secret(_) => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The digest a root resolved to: the one the recipe pins, else the one BuildKit printed for
/// the same repository and tag.
fn root_digest(reference: &Reference, resolved: &BTreeMap<String, Digest>) -> Option<Digest> {
    if let Some(pinned) = reference.digest() {
        return Some(pinned.clone());
    }
    resolved.iter().find_map(|(address, digest)| {
        let printed: Reference = address.parse().ok()?;
        (printed.name() == reference.name() && printed.tag() == reference.tag())
            .then(|| digest.clone())
    })
}

fn file_digest(path: &Path) -> Result<Digest> {
    let mut file = std::fs::File::open(path).map_err(Error::io("open", path))?;
    let mut hasher = plinth_oci::digest::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(Error::io("read", path))?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_takes_its_pin_or_the_digest_buildkit_printed_for_its_name_and_tag() {
        let printed = Digest::of(b"printed");
        let resolved =
            BTreeMap::from([("docker.io/library/busybox:1.36".to_owned(), printed.clone())]);
        let by_tag: Reference = "busybox:1.36".parse().unwrap();
        assert_eq!(root_digest(&by_tag, &resolved), Some(printed));
        let other_tag: Reference = "busybox:1.37".parse().unwrap();
        assert_eq!(root_digest(&other_tag, &resolved), None);
        let pin = Digest::of(b"pin");
        let pinned = by_tag.with_digest(pin.clone());
        assert_eq!(root_digest(&pinned, &resolved), Some(pin));
    }
}
