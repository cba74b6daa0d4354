//! The mounts of one exec (`RUN --mount=type=bind|tmpfs|secret|ssh`), found before the step's key:
//! a bind source's tree (its digest is a key input, as BuildKit keys a mount by its contents);
//! a secret or an SSH agent only by its id and placement, which the op key already holds, never
//! its value or socket. The seeds of seeded cache mounts are found here too.

use std::collections::BTreeMap;

use plinth_executor::{BuildInput, InputKind};
use plinth_recipe::state::normalize_path;
use plinth_recipe::{BindSource, CacheMount, HelperRole, Network, RunMount, SecretMount, SshMount};

use super::PlatformBuilder;
use super::helpers::helper_name;
use crate::error::{Error, Result};
use crate::files::{CopyItem, ItemKind, host_tree, host_tree_ignoring, image_tree, tree_digest};

/// One mount with what it shows.
pub(crate) enum PreparedMount {
    /// A tree written to a scratch directory and bound at `target`.
    Bind {
        target: String,
        items: Vec<CopyItem>,
        rw: bool,
    },
    /// An empty tmpfs.
    Tmpfs { target: String, size: Option<u64> },
    /// A secret, looked up by id when the step runs.
    Secret(SecretMount),
    /// An SSH agent, looked up by id when the step runs.
    Ssh(SshMount),
}

/// A seeded cache's seed, found before the step's key.
pub(crate) struct PreparedSeed {
    /// The cache's mount point.
    pub(crate) path: String,
    /// The seed container's snapshot (its layers): a seeded cache is its id and this.
    pub(crate) identity: plinth_oci::Digest,
    /// The seed path, its symlinks resolved in the container.
    pub(crate) source: String,
    /// The tree there (the root item first).
    pub(crate) items: Vec<CopyItem>,
    /// The digest of that tree.
    pub(crate) contents: plinth_oci::Digest,
}

impl PlatformBuilder<'_> {
    pub(super) fn prepare_exec(
        &mut self,
        index: usize,
        network: Network,
        mounts: &[RunMount],
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Vec<PreparedMount>> {
        if network == Network::Host && !self.settings.allow_host_network {
            return Err(Error::Step {
                index,
                reason: "the step asks for the host's network (`RUN --network=host`), which this build does not allow: \
                         allow it with `--allow network.host` (or run every step there with `--network host`)"
                    .to_owned(),
            });
        }
        let mut prepared = Vec::with_capacity(mounts.len());
        for (n, mount) in mounts.iter().enumerate() {
            prepared.push(match mount {
                RunMount::Bind { target, source, rw } => {
                    let items = self.bind_items(index, n, source)?;
                    inputs.insert(format!("mount {target}"), tree_digest(&items)?.to_string());
                    PreparedMount::Bind {
                        target: target.clone(),
                        items,
                        rw: *rw,
                    }
                }
                RunMount::Tmpfs { target, size } => PreparedMount::Tmpfs {
                    target: target.clone(),
                    size: *size,
                },
                RunMount::Secret(secret) => {
                    self.require_secret(index, secret)?;
                    PreparedMount::Secret(secret.clone())
                }
                RunMount::Ssh(ssh) => {
                    self.require_ssh(index, ssh)?;
                    PreparedMount::Ssh(ssh.clone())
                }
            });
        }
        Ok(prepared)
    }

    /// The tree a bind mount shows; host sources are recorded as build inputs.
    fn bind_items(&mut self, index: usize, n: usize, source: &BindSource) -> Result<Vec<CopyItem>> {
        match source {
            BindSource::Host(path) => {
                let items = host_tree(path)?;
                let (kind, digest) = if path.is_dir() {
                    (InputKind::HostDirectory, tree_digest(&items)?)
                } else {
                    (InputKind::HostFile, crate::files::file_digest(path)?)
                };
                self.inputs
                    .push(BuildInput::new(kind, path.display().to_string(), digest));
                Ok(items)
            }
            BindSource::HostIgnoring {
                path,
                within,
                ignore,
            } => {
                // As for COPY: only what survives the ignore file is read and hashed.
                let items = host_tree_ignoring(path, within, ignore, index)?;
                self.inputs.push(BuildInput::new(
                    InputKind::HostDirectory,
                    path.display().to_string(),
                    tree_digest(&items)?,
                ));
                Ok(items)
            }
            BindSource::Container { container, path } => {
                let helper =
                    self.build_helper(container, &helper_name(index, HelperRole::Mount(n)))?;
                let dirs = self.engine.snapshots.read_dirs(helper.layers())?;
                image_tree(&dirs, &normalize_path(path), index)
            }
        }
    }

    /// The seeds of the seeded caches among `caches`: the tree at each seed path, read from
    /// the seed container built when its cache was mounted. BuildKit keys the exec by that
    /// tree's contents, and the cache itself by the seed's snapshot.
    pub(super) fn prepare_seeds(
        &mut self,
        index: usize,
        caches: &[CacheMount],
    ) -> Result<Vec<PreparedSeed>> {
        let mut seeds = Vec::new();
        for cache in caches {
            let Some(seed) = &cache.options.seed else {
                continue;
            };
            let Some(build) = self.cache_seeds.get(&cache.path) else {
                return Err(Error::Step {
                    index,
                    reason: format!("the seed of the cache at `{}` was not built", cache.path),
                });
            };
            let layers = build.layers();
            let identity = plinth_oci::Digest::of(
                layers
                    .iter()
                    .map(|(layer, _)| layer.digest.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
                    .as_bytes(),
            );
            let dirs = self.engine.snapshots.read_dirs(layers)?;
            let source = crate::merged::resolve(&dirs, &normalize_path(&seed.path))?;
            let items = image_tree(&dirs, &source, index).map_err(|_| Error::Step {
                index,
                reason: format!(
                    "the cache mount at `{}` starts from `{}` of its `from`, which has no such path \
                     (BuildKit fails to mount it too): name a path the stage or image has",
                    cache.path, seed.path
                ),
            })?;
            if items
                .first()
                .is_some_and(|root| !matches!(root.kind, ItemKind::Dir))
            {
                return Err(Error::Step {
                    index,
                    reason: format!(
                        "the cache mount at `{}` starts from `{}` of its `from`, which is not a directory: \
                         seed a cache from a directory",
                        cache.path, seed.path
                    ),
                });
            }
            seeds.push(PreparedSeed {
                path: cache.path.clone(),
                identity,
                source,
                contents: tree_digest(&items)?,
                items,
            });
        }
        Ok(seeds)
    }

    /// A `required=true` secret the build was not given stops the step before it runs.
    fn require_secret(&self, index: usize, secret: &SecretMount) -> Result<()> {
        if secret.required && self.settings.secrets.get(&secret.id).is_none() {
            return Err(Error::Step {
                index,
                reason: format!(
                    "the step needs the secret `{}` (`required=true`), which the build was not given: \
                     pass it with `--secret id={},src=FILE` or `--secret id={},env=VAR`",
                    secret.id, secret.id, secret.id
                ),
            });
        }
        Ok(())
    }

    /// A `required=true` SSH agent the build was not given stops the step before it runs.
    fn require_ssh(&self, index: usize, ssh: &SshMount) -> Result<()> {
        if ssh.required && !self.settings.ssh.contains(&ssh.id) {
            return Err(Error::Step {
                index,
                reason: format!(
                    "the step needs the SSH agent `{}` (`required=true`), which the build was not given: \
                     pass it with `--ssh {}` (the agent of $SSH_AUTH_SOCK), `--ssh {}=SOCKET` or `--ssh {}=KEY`",
                    ssh.id, ssh.id, ssh.id, ssh.id
                ),
            });
        }
        Ok(())
    }
}
