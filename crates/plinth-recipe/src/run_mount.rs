//! Mounts of one exec (a Dockerfile's `RUN --mount=type=bind|tmpfs|secret|ssh`): build-time
//! only, never part of the step's layer.
//!
//! Unlike a cache mount ([`Op::MountedCache`](crate::Op::MountedCache), which stays active for
//! later execs), these belong to the one [`Op::Exec`](crate::Op::Exec) that lists them, as in
//! BuildKit. What a mount shows takes part in the step's key the way BuildKit keys it: a bind
//! source's contents (the engine adds their digest), a secret's id and placement but never its
//! value.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Container;

/// One mount of an exec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunMount {
    /// A file or directory tree shown at `target`: read-only, or writable with the changes
    /// thrown away after the exec.
    Bind {
        /// Absolute mount point.
        target: String,
        /// What is shown there.
        source: BindSource,
        /// Writable (changes are discarded).
        #[serde(default, skip_serializing_if = "is_false")]
        rw: bool,
    },
    /// An empty tmpfs at `target`.
    Tmpfs {
        /// Absolute mount point.
        target: String,
        /// Size limit in bytes (the kernel's default, half the memory, when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// A secret given to the build (`--secret id=…`), as a file or an env var.
    Secret(SecretMount),
    /// An SSH agent given to the build (`--ssh id=…`), forwarded as a socket.
    Ssh(SshMount),
}

/// Where a bind mount's contents come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BindSource {
    /// A host file or directory (a Dockerfile's build context).
    Host(#[serde(with = "crate::op::host_path")] PathBuf),
    /// A directory of a build context that has an ignore file, shown through its patterns as
    /// BuildKit receives the context: what they exclude is absent from the mount.
    HostIgnoring {
        /// The directory on the host.
        #[serde(with = "crate::op::host_path")]
        path: PathBuf,
        /// Its path relative to the context root, `/`-separated (`""` for the root).
        within: String,
        /// The ignore patterns, as [`crate::ignore::read_patterns`] returns them.
        ignore: Vec<String>,
    },
    /// A path in another container, built first on the same platform (a stage or an image).
    Container {
        /// The container.
        container: Box<Container>,
        /// Absolute path in it.
        path: String,
    },
}

/// A secret mount: the value is the build's, looked up by `id`; only the placement is recipe.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretMount {
    /// The secret's id (`--secret id=…`).
    pub id: String,
    /// The file it is mounted as; `/run/secrets/<id>` when neither this nor `env` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// An env var that holds the value instead (or as well, with `target`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Fail when the build was not given the secret (else the mount is skipped).
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Permission bits of the file.
    #[serde(
        default = "default_secret_mode",
        skip_serializing_if = "is_default_mode"
    )]
    pub mode: u32,
    /// Owner uid of the file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub uid: u32,
    /// Owner gid of the file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gid: u32,
}

/// An SSH agent socket: the agent is the build's, looked up by `id`; only the placement is
/// recipe. The exec's `SSH_AUTH_SOCK` names the first one's target, as in BuildKit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshMount {
    /// The agent's id (`--ssh id=…`), `default` unless named.
    pub id: String,
    /// The socket's path (BuildKit's default, `/run/buildkit/ssh_agent.<n>` for the n-th ssh
    /// mount of the exec, is written out by the reader).
    pub target: String,
    /// Fail when the build was not given the agent (else the mount is skipped).
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Permission bits of the socket.
    #[serde(
        default = "default_ssh_mode",
        skip_serializing_if = "is_default_ssh_mode"
    )]
    pub mode: u32,
    /// Owner uid of the socket.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub uid: u32,
    /// Owner gid of the socket.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gid: u32,
}

/// BuildKit's id of an SSH agent a mount does not name.
pub const DEFAULT_SSH_ID: &str = "default";

/// BuildKit's mode of an SSH agent socket.
pub const DEFAULT_SSH_MODE: u32 = 0o600;

fn default_ssh_mode() -> u32 {
    DEFAULT_SSH_MODE
}

fn is_default_ssh_mode(mode: &u32) -> bool {
    *mode == DEFAULT_SSH_MODE
}

impl SshMount {
    /// The agent `id` at BuildKit's socket path for the `n`-th ssh mount of an exec (from 0),
    /// optional, mode 0600, owned by root.
    pub fn new(id: impl Into<String>, n: usize) -> Self {
        Self {
            id: id.into(),
            target: format!("/run/buildkit/ssh_agent.{n}"),
            required: false,
            mode: DEFAULT_SSH_MODE,
            uid: 0,
            gid: 0,
        }
    }
}

/// BuildKit's mode of a secret file.
pub const DEFAULT_SECRET_MODE: u32 = 0o400;

fn default_secret_mode() -> u32 {
    DEFAULT_SECRET_MODE
}

fn is_default_mode(mode: &u32) -> bool {
    *mode == DEFAULT_SECRET_MODE
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl SecretMount {
    /// A secret mounted at `/run/secrets/<id>`, optional, mode 0400, owned by root.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            target: None,
            env: None,
            required: false,
            mode: DEFAULT_SECRET_MODE,
            uid: 0,
            gid: 0,
        }
    }

    /// The file the secret is mounted as, if any: the target, or `/run/secrets/<id>` when
    /// neither a target nor an env var is given.
    pub fn file_target(&self) -> Option<String> {
        match (&self.target, &self.env) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(format!("/run/secrets/{}", self.id)),
        }
    }
}

impl RunMount {
    /// The mount point, if the mount has one (a secret given only as an env var has none).
    pub fn target(&self) -> Option<String> {
        match self {
            RunMount::Bind { target, .. } | RunMount::Tmpfs { target, .. } => Some(target.clone()),
            RunMount::Secret(secret) => secret.file_target(),
            RunMount::Ssh(ssh) => Some(ssh.target.clone()),
        }
    }

    /// The helper container of a bind mount from a stage or image, with the path in it.
    pub fn helper(&self) -> Option<(&Container, &str)> {
        match self {
            RunMount::Bind {
                source: BindSource::Container { container, path },
                ..
            } => Some((container, path)),
            RunMount::Bind { .. }
            | RunMount::Tmpfs { .. }
            | RunMount::Secret(_)
            | RunMount::Ssh(_) => None,
        }
    }

    /// What is wrong with the mount, each problem a sentence (helper containers are checked
    /// by the caller).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(target) = self.target()
            && !target.starts_with('/')
        {
            out.push(format!("the mount point `{target}` must be absolute"));
        }
        match self {
            RunMount::Bind {
                source: BindSource::Container { path, .. },
                ..
            } if !path.starts_with('/') => {
                out.push(format!("the bind mount source `{path}` must be absolute"));
            }
            RunMount::Bind { .. } | RunMount::Tmpfs { .. } => {}
            RunMount::Secret(secret) => {
                if secret.id.is_empty() || secret.id.contains([',', '/', '=']) {
                    out.push(format!(
                        "`{}` is not a secret id: non-empty, without `,`, `/` or `=`",
                        secret.id
                    ));
                }
                if secret.mode > 0o7777 {
                    out.push(format!(
                        "secret mode {:o} has bits beyond 0o7777",
                        secret.mode
                    ));
                }
                if let Some(env) = &secret.env
                    && (env.is_empty() || env.contains('=') || env.contains(char::is_whitespace))
                {
                    out.push(format!("`{env}` is not an env var name"));
                }
            }
            RunMount::Ssh(ssh) => {
                if ssh.id.is_empty() || ssh.id.contains([',', '=']) {
                    out.push(format!(
                        "`{}` is not an SSH agent id: non-empty, without `,` or `=`",
                        ssh.id
                    ));
                }
                if ssh.mode > 0o7777 {
                    out.push(format!(
                        "ssh socket mode {:o} has bits beyond 0o7777",
                        ssh.mode
                    ));
                }
            }
        }
        out
    }

    /// The `--mount=…` value of a Dockerfile `RUN`, with `source` standing for where a bind
    /// mount's contents are (a context path or a stage's path) and `from` the stage, if any.
    pub fn dockerfile_flag(&self, source: Option<(&str, Option<&str>)>) -> String {
        match self {
            RunMount::Bind { target, rw, .. } => {
                let mut flag = "type=bind".to_owned();
                if let Some((path, from)) = source {
                    if let Some(from) = from {
                        flag.push_str(&format!(",from={from}"));
                    }
                    flag.push_str(&format!(",source={path}"));
                }
                flag.push_str(&format!(",target={target}"));
                if *rw {
                    flag.push_str(",rw");
                }
                flag
            }
            RunMount::Tmpfs { target, size } => {
                let mut flag = format!("type=tmpfs,target={target}");
                if let Some(size) = size {
                    flag.push_str(&format!(",size={size}"));
                }
                flag
            }
            RunMount::Secret(s) => {
                let mut flag = format!("type=secret,id={}", s.id);
                if let Some(t) = &s.target {
                    flag.push_str(&format!(",target={t}"));
                }
                if let Some(e) = &s.env {
                    flag.push_str(&format!(",env={e}"));
                }
                if s.required {
                    flag.push_str(",required=true");
                }
                if s.mode != DEFAULT_SECRET_MODE {
                    flag.push_str(&format!(",mode={:04o}", s.mode));
                }
                if s.uid != 0 {
                    flag.push_str(&format!(",uid={}", s.uid));
                }
                if s.gid != 0 {
                    flag.push_str(&format!(",gid={}", s.gid));
                }
                flag
            }
            RunMount::Ssh(s) => {
                let mut flag = format!("type=ssh,id={},target={}", s.id, s.target);
                if s.required {
                    flag.push_str(",required=true");
                }
                if s.mode != DEFAULT_SSH_MODE {
                    flag.push_str(&format!(",mode={:04o}", s.mode));
                }
                if s.uid != 0 {
                    flag.push_str(&format!(",uid={}", s.uid));
                }
                if s.gid != 0 {
                    flag.push_str(&format!(",gid={}", s.gid));
                }
                flag
            }
        }
    }
}

impl Container {
    /// The ids of the secrets the recipe's execs mount, helper containers included.
    pub fn secret_ids(&self) -> std::collections::BTreeSet<String> {
        self.mount_ids(&|mount| match mount {
            RunMount::Secret(secret) => Some(&secret.id),
            RunMount::Bind { .. } | RunMount::Tmpfs { .. } | RunMount::Ssh(_) => None,
        })
    }

    /// The ids of the SSH agents the recipe's execs mount, helper containers included.
    pub fn ssh_ids(&self) -> std::collections::BTreeSet<String> {
        self.mount_ids(&|mount| match mount {
            RunMount::Ssh(ssh) => Some(&ssh.id),
            RunMount::Bind { .. } | RunMount::Tmpfs { .. } | RunMount::Secret(_) => None,
        })
    }

    fn mount_ids(
        &self,
        id_of: &dyn Fn(&RunMount) -> Option<&String>,
    ) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for op in self.ops() {
            if let crate::Op::Exec { mounts, .. } = op {
                out.extend(mounts.iter().filter_map(id_of).cloned());
            }
            for (_, helper) in op.helpers() {
                out.extend(helper.mount_ids(id_of));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_defaults_stay_out_of_the_key_form() {
        let mount = RunMount::Secret(SecretMount::new("tok"));
        assert_eq!(
            plinth_oci::canonical::to_canonical_vec(&mount).unwrap(),
            br#"{"id":"tok","type":"secret"}"#
        );
        assert_eq!(mount.target().as_deref(), Some("/run/secrets/tok"));
        let env_only = SecretMount {
            env: Some("TOKEN".into()),
            ..SecretMount::new("tok")
        };
        assert_eq!(env_only.file_target(), None);
        let back: RunMount = serde_json::from_str(r#"{"type":"secret","id":"tok"}"#).unwrap();
        assert_eq!(back, mount);
    }

    #[test]
    fn problems_name_what_is_wrong() {
        let bad = RunMount::Secret(SecretMount {
            target: Some("rel".into()),
            mode: 0o17777,
            ..SecretMount::new("a,b")
        });
        let problems = bad.problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("`rel` must be absolute"));
        assert!(problems[1].contains("`a,b` is not a secret id"));
        assert!(problems[2].contains("17777"));
    }

    #[test]
    fn flags_render_as_buildkit_reads_them() {
        let secret = RunMount::Secret(SecretMount {
            target: Some("/s".into()),
            env: Some("T".into()),
            required: true,
            mode: 0o440,
            uid: 5,
            gid: 6,
            ..SecretMount::new("tok")
        });
        assert_eq!(
            secret.dockerfile_flag(None),
            "type=secret,id=tok,target=/s,env=T,required=true,mode=0440,uid=5,gid=6"
        );
        let bind = RunMount::Bind {
            target: "/m".into(),
            source: BindSource::Host("/ctx".into()),
            rw: true,
        };
        assert_eq!(
            bind.dockerfile_flag(Some(("/out", Some("stage0")))),
            "type=bind,from=stage0,source=/out,target=/m,rw"
        );
        let ssh = RunMount::Ssh(SshMount {
            required: true,
            mode: 0o666,
            uid: 1000,
            ..SshMount::new("gh", 1)
        });
        assert_eq!(
            ssh.dockerfile_flag(None),
            "type=ssh,id=gh,target=/run/buildkit/ssh_agent.1,required=true,mode=0666,uid=1000"
        );
        assert_eq!(
            plinth_oci::canonical::to_canonical_vec(&RunMount::Ssh(SshMount::new("default", 0)))
                .unwrap(),
            br#"{"id":"default","target":"/run/buildkit/ssh_agent.0","type":"ssh"}"#
        );
        let tmpfs = RunMount::Tmpfs {
            target: "/t".into(),
            size: Some(1024),
        };
        assert_eq!(
            tmpfs.dockerfile_flag(None),
            "type=tmpfs,target=/t,size=1024"
        );
    }
}
