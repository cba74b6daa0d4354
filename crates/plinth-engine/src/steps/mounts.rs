//! The mounts of one exec (`RUN --mount=type=bind|tmpfs|secret|ssh`), found before the step's key:
//! a bind source's tree (its digest is a key input, as BuildKit keys a mount by its contents);
//! a secret or an SSH agent only by its id and placement, which the op key already holds, never
//! its value or socket.

use std::collections::BTreeMap;

use plinth_executor::{BuildInput, InputKind};
use plinth_recipe::state::normalize_path;
use plinth_recipe::{BindSource, Network, RunMount, SecretMount, SshMount};

use super::{PlatformBuilder, Prepared};
use crate::error::{Error, Result};
use crate::files::{CopyItem, host_tree, host_tree_ignoring, image_tree, tree_digest};

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

impl PlatformBuilder<'_> {
    pub(super) fn prepare_exec(
        &mut self,
        index: usize,
        network: Network,
        mounts: &[RunMount],
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
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
                    let items = match source {
                        BindSource::Host(path) => {
                            let items = host_tree(path)?;
                            let kind = if path.is_dir() {
                                InputKind::HostDirectory
                            } else {
                                InputKind::HostFile
                            };
                            let digest = if path.is_dir() {
                                tree_digest(&items)?
                            } else {
                                crate::files::file_digest(path)?
                            };
                            self.inputs.push(BuildInput::new(
                                kind,
                                path.display().to_string(),
                                digest,
                            ));
                            items
                        }
                        BindSource::HostIgnoring {
                            path,
                            within,
                            ignore,
                        } => {
                            // As for COPY: only what survives the ignore file is read and
                            // hashed.
                            let items = host_tree_ignoring(path, within, ignore, index)?;
                            self.inputs.push(BuildInput::new(
                                InputKind::HostDirectory,
                                path.display().to_string(),
                                tree_digest(&items)?,
                            ));
                            items
                        }
                        BindSource::Container { container, path } => {
                            let helper = self.build_helper(container, &format!("mount-{index}-{n}"))?;
                            let dirs = self.engine.snapshots.read_dirs(helper.layers())?;
                            image_tree(&dirs, &normalize_path(path), index)?
                        }
                    };
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
                    PreparedMount::Secret(secret.clone())
                }
                RunMount::Ssh(ssh) => {
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
                    PreparedMount::Ssh(ssh.clone())
                }
            });
        }
        Ok(Prepared::Exec(prepared))
    }
}
