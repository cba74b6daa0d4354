//! SSH agents a build forwards (`plinth build --ssh default|ID[=SOCKET|KEY[,KEY…]]`, docker
//! buildx's flag): a `RUN --mount=type=ssh` step reaches the agent through a socket at its
//! mount point, never the keys themselves, and nothing of it is in a layer, a step key or a log.
//!
//! An id without a path takes `$SSH_AUTH_SOCK`; a path that is a socket is an agent to forward;
//! otherwise the paths are private key files, served by a private `ssh-agent` started on first
//! use and stopped with the build's options (as buildx serves key files from its own agent).
//! The keys go into that agent without their comments, as buildx's agent holds them, so
//! `ssh-add -l` in a step prints the same line under both ([`agent_key`]).

mod agent_key;

use std::collections::BTreeMap;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The SSH agents of one build, by id.
#[derive(Clone, Debug, Default)]
pub struct BuildSsh(BTreeMap<String, SshSource>);

/// Where one agent is.
#[derive(Clone, Debug)]
enum SshSource {
    /// An agent's socket.
    Socket(PathBuf),
    /// Key files, served by a private agent.
    Keys(Arc<KeyAgent>),
}

impl BuildSsh {
    /// No agents.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the agent `id` at the socket `path`.
    pub fn insert_socket(&mut self, id: impl Into<String>, path: impl Into<PathBuf>) {
        self.0.insert(id.into(), SshSource::Socket(path.into()));
    }

    /// The ids given.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the agent `id` was given.
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// Reads one `--ssh` value as docker buildx does: `ID` (the agent of `$SSH_AUTH_SOCK`),
    /// `ID=SOCKET` or `ID=KEY[,KEY…]`.
    pub fn add_flag(&mut self, spec: &str) -> Result<(), String> {
        let (id, paths) = match spec.split_once('=') {
            Some((id, paths)) => (id, paths.split(',').filter(|p| !p.is_empty()).collect()),
            None => (spec, Vec::new()),
        };
        if id.is_empty() || id.contains(',') {
            return Err(format!(
                "`--ssh {spec}` has no id: write `--ssh default`, `--ssh ID=SOCKET` or `--ssh ID=KEY[,KEY…]`"
            ));
        }
        let source = match paths.as_slice() {
            [] => {
                let socket = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()).ok_or_else(|| {
                    format!(
                        "`--ssh {spec}` forwards the agent of $SSH_AUTH_SOCK, which is not set: start one \
                         (`eval $(ssh-agent)` and `ssh-add KEY`) or name a socket or key files (`--ssh {id}=PATH`)"
                    )
                })?;
                SshSource::Socket(PathBuf::from(socket))
            }
            [one] if is_socket(Path::new(one)) => SshSource::Socket(PathBuf::from(one)),
            keys => {
                for key in keys {
                    let meta = std::fs::metadata(key).map_err(|e| {
                        format!("`--ssh {id}=…`: cannot read `{key}`: {e}; give an agent's socket or private key files")
                    })?;
                    if !meta.is_file() {
                        return Err(format!(
                            "`--ssh {id}=…`: `{key}` is neither an agent's socket nor a key file"
                        ));
                    }
                }
                SshSource::Keys(Arc::new(KeyAgent {
                    keys: keys.iter().map(PathBuf::from).collect(),
                    running: Mutex::new(None),
                }))
            }
        };
        self.0.insert(id.to_owned(), source);
        Ok(())
    }

    /// The socket of the agent `id` (a private agent holding its keys is started now if it is
    /// not yet); `None` when the build was not given it.
    pub fn socket(&self, id: &str) -> Option<Result<PathBuf, String>> {
        self.0.get(id).map(|source| match source {
            SshSource::Socket(path) => Ok(path.clone()),
            SshSource::Keys(agent) => agent.socket(id),
        })
    }

    /// The value of docker's `--ssh` for the agent `id` (`ID=SOCKET` or `ID=KEY,…`).
    pub fn docker_flag(&self, id: &str) -> Option<String> {
        self.0.get(id).map(|source| {
            let paths: Vec<String> = match source {
                SshSource::Socket(path) => vec![path.display().to_string()],
                SshSource::Keys(agent) => {
                    agent.keys.iter().map(|k| k.display().to_string()).collect()
                }
            };
            format!("{id}={}", paths.join(","))
        })
    }
}

fn is_socket(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// A private `ssh-agent` holding key files, started on first use, stopped when the last
/// [`BuildSsh`] holding it goes.
#[derive(Debug)]
struct KeyAgent {
    keys: Vec<PathBuf>,
    running: Mutex<Option<RunningAgent>>,
}

#[derive(Debug)]
struct RunningAgent {
    child: Child,
    socket: PathBuf,
    /// The private directory holding the socket (and, briefly, converted copies of keys).
    dir: tempfile::TempDir,
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        // Our own child: stopped by its handle, then reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl KeyAgent {
    fn socket(&self, id: &str) -> Result<PathBuf, String> {
        let mut running = self
            .running
            .lock()
            .map_err(|_| "the SSH key agent's lock was poisoned".to_owned())?;
        if let Some(agent) = running.as_ref() {
            return Ok(agent.socket.clone());
        }
        let agent = self.start(id)?;
        let socket = agent.socket.clone();
        *running = Some(agent);
        Ok(socket)
    }

    fn start(&self, id: &str) -> Result<RunningAgent, String> {
        let dir = tempfile::Builder::new()
            .prefix("plinth-ssh-")
            .tempdir()
            .map_err(|e| format!("`--ssh {id}`: cannot make a directory for its agent: {e}"))?;
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "`--ssh {id}=KEY…` needs `ssh-agent` (openssh-client) to serve the keys: {e}; \
                     install it, or start an agent yourself and pass its socket (`--ssh {id}=$SSH_AUTH_SOCK`)"
                )
            })?;
        let agent = RunningAgent { child, socket, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_socket(&agent.socket) {
            if Instant::now() > deadline {
                return Err(format!(
                    "`--ssh {id}`: ssh-agent did not open its socket within 10 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for key in &self.keys {
            agent_key::add_key_file(&agent.socket, key, agent.dir.path()).map_err(|e| {
                let why = match e {
                    agent_key::KeyError::Passphrase => format!(
                        "it has a passphrase, which a build never asks for; add it to your own agent \
                         (`ssh-add KEY`) and pass `--ssh {id}=$SSH_AUTH_SOCK`"
                    ),
                    agent_key::KeyError::Other(why) => why,
                };
                format!("`--ssh {id}`: the key `{}` could not be loaded: {why}", key.display())
            })?;
        }
        Ok(agent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_as_buildx_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let key = dir.path().join("id_test");
        std::fs::write(&key, "not read until used").unwrap();
        let mut ssh = BuildSsh::new();
        ssh.add_flag(&format!("default={}", socket.display()))
            .unwrap();
        ssh.add_flag(&format!("keys={}", key.display())).unwrap();
        assert_eq!(ssh.ids().collect::<Vec<_>>(), ["default", "keys"]);
        assert_eq!(ssh.socket("default").unwrap().unwrap(), socket);
        assert_eq!(
            ssh.docker_flag("keys").unwrap(),
            format!("keys={}", key.display())
        );
        assert!(ssh.socket("absent").is_none());
        let err = ssh
            .add_flag(&format!("x={}", dir.path().join("missing").display()))
            .unwrap_err();
        assert!(
            err.contains("cannot read") && err.contains("missing"),
            "{err}"
        );
        let err = ssh
            .add_flag(&format!("x={}", dir.path().display()))
            .unwrap_err();
        assert!(
            err.contains("neither an agent's socket nor a key file"),
            "{err}"
        );
        assert!(ssh.add_flag("=x").unwrap_err().contains("has no id"));
    }
}
