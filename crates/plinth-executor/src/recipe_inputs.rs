//! The host inputs a recipe reads — host files, archives and directories, in its own steps,
//! its `RUN --mount`s and its helper containers — each with its digest, as both executors
//! record them in the provenance: what BuildKit's provenance lists, and what `verify --rebuild`
//! compares with a provenance before rebuilding.

use std::path::Path;

use plinth_recipe::ignore::IgnoreRules;
use plinth_recipe::{BindSource, Container, DirectorySource, FileSource, Op, RunMount};

use crate::error::{Error, Result};
use crate::host_tree::{file_digest, host_tree, host_tree_digest, host_tree_ignoring};
use crate::inputs::{BuildInput, InputKind, normalize_inputs};

/// The host inputs of `container` with their digests, sorted, each once.
pub fn recipe_host_inputs(container: &Container) -> Result<Vec<BuildInput>> {
    let mut inputs = Vec::new();
    collect(container, &mut inputs)?;
    normalize_inputs(&mut inputs);
    Ok(inputs)
}

fn collect(container: &Container, inputs: &mut Vec<BuildInput>) -> Result<()> {
    for op in container.ops() {
        match op {
            Op::File {
                source: FileSource::HostFile(path),
                ..
            } => inputs.push(host_file(path)?),
            Op::Directory { source, .. } => match source {
                DirectorySource::Host(dir) => inputs.push(host_directory(dir, None)?),
                DirectorySource::HostIgnoring {
                    path,
                    within,
                    ignore,
                } => inputs.push(host_directory(path, Some((within, ignore)))?),
                DirectorySource::HostArchive(archive) => inputs.push(host_file(archive)?),
                DirectorySource::Container { .. } => {}
            },
            Op::Exec { mounts, .. } => {
                for mount in mounts {
                    match mount {
                        RunMount::Bind {
                            source:
                                BindSource::HostIgnoring {
                                    path,
                                    within,
                                    ignore,
                                },
                            ..
                        } => inputs.push(host_directory(path, Some((within, ignore)))?),
                        RunMount::Bind {
                            source: BindSource::Host(path),
                            ..
                        } if path.is_dir() => inputs.push(host_directory(path, None)?),
                        RunMount::Bind {
                            source: BindSource::Host(path),
                            ..
                        } => inputs.push(host_file(path)?),
                        RunMount::Bind {
                            source: BindSource::Container { .. },
                            ..
                        }
                        | RunMount::Tmpfs { .. }
                        | RunMount::Secret(_)
                        | RunMount::Ssh(_) => {}
                    }
                }
            }
            _ => {}
        }
        // Helper containers' own inputs (stages copied, mounted or seeding a cache).
        for (_, helper) in op.helpers() {
            collect(helper, inputs)?;
        }
    }
    Ok(())
}

fn host_file(path: &Path) -> Result<BuildInput> {
    Ok(BuildInput::new(
        InputKind::HostFile,
        path.display().to_string(),
        file_digest(path)?,
    ))
}

/// A host directory by its tree digest: all of it, or what its context's ignore file keeps
/// (`within` the context, with these patterns), as the embedded engine copies it.
fn host_directory(dir: &Path, ignoring: Option<(&String, &Vec<String>)>) -> Result<BuildInput> {
    let entries = match ignoring {
        None => host_tree(dir)?,
        Some((within, patterns)) => {
            let rules = IgnoreRules::new(patterns).map_err(|reason| Error::IgnorePatterns {
                path: dir.to_path_buf(),
                reason,
            })?;
            host_tree_ignoring(dir, within, &rules)?
        }
    };
    Ok(BuildInput::new(
        InputKind::HostDirectory,
        dir.display().to_string(),
        host_tree_digest(&entries)?,
    ))
}
