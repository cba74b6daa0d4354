//! The socket a `RUN --mount=type=ssh` step sees: a listener in the step's scratch directory,
//! with the owner and mode the mount asks for, relaying each connection to the build's agent.
//! The step never sees the agent's own socket (its path, owner and mode stay the user's), and
//! the keys never leave the agent, as with BuildKit's forwarded agent.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// A relay from a socket for one step to an agent; it stops when dropped.
pub(crate) struct AgentProxy {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl AgentProxy {
    /// Listens at `path` (owned by `uid:gid`, with `mode`) and relays to the agent at `agent`.
    pub(crate) fn start(path: &Path, agent: &Path, uid: u32, gid: u32, mode: u32) -> Result<Self> {
        let listener = UnixListener::bind(path)
            .map_err(|e| Error::io("listen for the ssh agent at", path, e))?;
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| Error::io("set the owner of", path, e))?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(|e| Error::io("set the mode of", path, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let stop = Arc::clone(&stop);
            let agent = agent.to_path_buf();
            std::thread::spawn(move || accept_loop(&listener, &agent, &stop))
        };
        Ok(Self {
            path: path.to_path_buf(),
            stop,
            acceptor: Some(acceptor),
        })
    }
}

impl Drop for AgentProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked accept, which then sees the stop.
        let _ = UnixStream::connect(&self.path);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &UnixListener, agent: &Path, stop: &AtomicBool) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "ssh agent relay: accept failed");
                continue;
            }
        };
        match UnixStream::connect(agent) {
            Ok(upstream) => {
                if let Err(e) = relay(client, upstream) {
                    tracing::debug!(error = %e, "ssh agent relay: connection failed");
                }
            }
            Err(e) => {
                tracing::warn!(agent = %agent.display(), error = %e, "the build's ssh agent does not answer");
            }
        }
    }
}

/// Copies both ways on threads of their own; each side's end is passed on as a shutdown.
fn relay(client: UnixStream, upstream: UnixStream) -> io::Result<()> {
    let (mut client_read, mut upstream_write) = (client.try_clone()?, upstream.try_clone()?);
    std::thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut upstream_read, mut client_write) = (upstream, client);
    std::thread::spawn(move || {
        let _ = io::copy(&mut upstream_read, &mut client_write);
        let _ = client_write.shutdown(std::net::Shutdown::Write);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    #[test]
    fn connections_are_relayed_and_the_socket_has_the_asked_mode() {
        let dir = tempfile::tempdir().unwrap();
        let agent_path = dir.path().join("agent");
        let agent = UnixListener::bind(&agent_path).unwrap();
        let echo = std::thread::spawn(move || {
            let (mut conn, _) = agent.accept().unwrap();
            let mut buf = [0u8; 5];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(&buf).unwrap();
        });
        let relay_path = dir.path().join("relay");
        let proxy = AgentProxy::start(&relay_path, &agent_path, 0, 0, 0o640).unwrap();
        let meta = std::fs::metadata(&relay_path).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
            0o640
        );
        let mut conn = UnixStream::connect(&relay_path).unwrap();
        conn.write_all(b"\0\0\0\x01\x0b").unwrap();
        let mut back = [0u8; 5];
        conn.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"\0\0\0\x01\x0b");
        echo.join().unwrap();
        drop(proxy);
    }
}
