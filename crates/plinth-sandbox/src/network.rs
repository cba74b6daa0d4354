//! Outbound network for runs in a network namespace of their own: `slirp4netns`, a user-mode
//! TCP/IP stack that owns a tap device in the namespace and makes the runs' connections from
//! the host as ordinary sockets (NAT without bridges, iptables or `CAP_NET_ADMIN` on the host).
//!
//! The namespace sees `10.0.2.100/24` on `tap0`, the gateway `10.0.2.2` and a DNS forwarder at
//! `10.0.2.3` that asks the host's resolvers. `--disable-host-loopback` keeps the host's
//! `127.0.0.0/8` out of reach: a service listening only on the host's loopback is not reachable
//! from a build step, as with docker's bridge network.
//!
//! # One namespace per sandbox, not per run
//!
//! Starting slirp4netns (a glib program) costs 8 ms on an idle machine and 30 ms or more on a
//! busy one, more than the rest of a run's set-up together. So a [`Sandbox`](crate::Sandbox)
//! creates one network namespace and one slirp4netns the first time a run needs them, and
//! every later run with [`NetworkMode::Private`](crate::NetworkMode::Private) joins that
//! namespace with `setns(2)`, which costs microseconds. Runs of one sandbox (the steps of one
//! build) therefore share a network namespace, as the containers of one pod do; the host and
//! other builds stay apart. A caller that knows a run with the network is coming can start it
//! ahead ([`Sandbox::start_network_early`](crate::Sandbox::start_network_early)): the engine
//! does when an exec step misses the cache (slirp4netns then starts while the overlay is
//! prepared) and at the start of a `--no-cache` build (while the root is resolved and
//! unpacked). The namespace is held by an fd, not by a process or a mount, so
//! nothing is left behind: slirp4netns watches an exit pipe and quits when this process ends,
//! however it ends.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// The program, looked up in `PATH`.
pub const SLIRP4NETNS: &str = "slirp4netns";
/// The DNS forwarder slirp4netns offers in the namespace.
pub const DNS_SERVER: &str = "10.0.2.3";
/// How long slirp4netns may take to configure the namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The fd numbers slirp4netns gets its pipes and the namespace on.
const READY_FD: RawFd = 3;
const EXIT_FD: RawFd = 4;
const NETNS_FD: RawFd = 5;

/// A network namespace with a slirp4netns serving it; slirp4netns is stopped on drop.
#[derive(Debug)]
pub(crate) struct SharedNetwork {
    netns: OwnedFd,
    /// `None` once stopped.
    child: Mutex<Option<Child>>,
    /// slirp4netns exits when this, the write end of its exit pipe, closes.
    _exit: OwnedFd,
    /// Whether slirp4netns has configured the namespace yet.
    readiness: Mutex<Readiness>,
}

/// How far slirp4netns is: starting (with the read end of its ready pipe, and its log for the
/// error if it fails), ready, or failed (the error's text).
#[derive(Debug)]
enum Readiness {
    Starting { ready: File, log: NamedTempFile },
    Ready,
    Failed(String),
}

/// A new network namespace, held by the returned fd only. Made on a short-lived thread:
/// `unshare(CLONE_NEWNET)` moves just the calling thread, and the namespace outlives it
/// through the fd.
fn new_netns() -> Result<OwnedFd> {
    std::thread::spawn(|| -> std::io::Result<OwnedFd> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
        Ok(File::open("/proc/thread-self/ns/net")?.into())
    })
    .join()
    .map_err(|_| Error::NetworkHelper("the thread creating the network namespace panicked".into()))?
    .map_err(|e| Error::io("create a network namespace", "/proc/thread-self/ns/net", e))
}

impl SharedNetwork {
    /// Create the namespace and start slirp4netns for it, logging to `log`; returns once it has
    /// started, before it has configured the namespace: a run joins the namespace and sets up
    /// its root meanwhile, and [`wait_ready`](Self::wait_ready)s only before its command may
    /// start (slirp4netns takes 2 to 40 ms to get there on a busy machine).
    pub(crate) fn start(log: NamedTempFile) -> Result<Self> {
        let netns = new_netns()?;
        let (ready_read, ready_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("create a pipe", e))?;
        let (exit_read, exit_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("create a pipe", e))?;
        let log_file = log
            .as_file()
            .try_clone()
            .map_err(|e| Error::io("open", log.path(), e))?;
        let mut command = Command::new(SLIRP4NETNS);
        command
            .args([
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                "--netns-type=path",
                &format!("--ready-fd={READY_FD}"),
                &format!("--exit-fd={EXIT_FD}"),
                &format!("/proc/self/fd/{NETNS_FD}"),
                "tap0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let moves = [
            (ready_write.as_raw_fd(), READY_FD),
            (exit_read.as_raw_fd(), EXIT_FD),
            (netns.as_raw_fd(), NETNS_FD),
        ];
        // SAFETY: the closure runs in the forked child before exec and only calls dup and dup2,
        // which are async-signal-safe. Each source is first copied above the targets so that a
        // source numbered like an earlier target is not overwritten; dup2 clears close-on-exec
        // on the copies, so exactly these three fds (and no other thread's) reach slirp4netns.
        unsafe {
            command.pre_exec(move || {
                let mut high = [0; 3];
                for (slot, (from, _)) in high.iter_mut().zip(moves) {
                    *slot = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 10);
                    if *slot < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (from, (_, to)) in high.iter().zip(moves) {
                    if libc::dup2(*from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NetworkHelper(format!(
                    "`{SLIRP4NETNS}` is not installed; build steps get their own network namespace through it (Debian/Ubuntu: `apt-get install slirp4netns`), or choose the host network or none"
                ))
            } else {
                Error::io("start", SLIRP4NETNS, e)
            }
        })?;
        drop((ready_write, exit_read));
        let pid = child.id();
        tracing::debug!(pid, "slirp4netns started");
        Ok(SharedNetwork {
            netns,
            child: Mutex::new(Some(child)),
            _exit: exit_write,
            readiness: Mutex::new(Readiness::Starting {
                ready: File::from(ready_read),
                log,
            }),
        })
    }

    /// Returns once slirp4netns has configured the namespace, or why it could not.
    pub(crate) fn wait_ready(&self) -> Result<()> {
        let mut readiness = self.readiness.lock().map_err(|_| {
            Error::NetworkHelper("a run panicked while starting the network".into())
        })?;
        match &mut *readiness {
            Readiness::Ready => Ok(()),
            Readiness::Failed(why) => Err(Error::NetworkHelper(why.clone())),
            Readiness::Starting { ready, log } => {
                let outcome = self.await_ready_byte(ready, log.path());
                *readiness = match &outcome {
                    Ok(()) => Readiness::Ready,
                    Err(e) => Readiness::Failed(e.to_string()),
                };
                outcome
            }
        }
    }

    /// The namespace, for `setns(2)` in a run's child.
    pub(crate) fn netns(&self) -> RawFd {
        self.netns.as_raw_fd()
    }

    /// Whether slirp4netns is still running.
    pub(crate) fn is_alive(&self) -> bool {
        self.child.lock().is_ok_and(|mut child| {
            child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        })
    }

    /// Kills slirp4netns and reaps it on a thread of its own. Its exit closes its tap device,
    /// and the kernel unregisters the device before the exit completes, waiting for RCU grace
    /// periods: 20 to 30 ms on a busy machine, which a build would otherwise spend at its very
    /// end. Nothing needs that to be over; if this process ends first, init reaps it.
    fn stop(&self) {
        let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) else {
            return;
        };
        let _ = child.kill();
        let reaper = std::thread::Builder::new()
            .name("slirp4netns-reaper".into())
            .spawn(move || {
                let _ = child.wait();
            });
        if let Err(e) = reaper {
            tracing::debug!(error = %e, "slirp4netns is left for init to reap");
        }
    }

    fn await_ready_byte(&self, ready: &mut File, log: &Path) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut byte = [0u8; 1];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) if left.is_zero() => {
                    return Err(self.failure(log, "did not configure the network in time"));
                }
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(Error::sys("wait for slirp4netns", e)),
            }
            return match ready.read(&mut byte) {
                Ok(1) => Ok(()),
                Ok(_) => Err(self.failure(log, "exited before the network was configured")),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(Error::io("read the ready pipe of", SLIRP4NETNS, e)),
            };
        }
    }

    fn failure(&self, log: &Path, what: &str) -> Error {
        self.stop();
        let output = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = output.lines().rev().take(5).collect();
        Error::NetworkHelper(format!(
            "{SLIRP4NETNS} {what}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    }
}

impl Drop for SharedNetwork {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `/etc/resolv.conf` for a run behind slirp4netns: its DNS forwarder, with the host's search
/// domains and options kept.
pub(crate) fn resolv_conf(host: &str) -> String {
    let mut out = format!("nameserver {DNS_SERVER}\n");
    for line in host.lines() {
        let line = line.trim();
        if line.starts_with("search") || line.starts_with("domain") || line.starts_with("options") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_points_at_the_forwarder_and_keeps_search_domains() {
        let host =
            "# comment\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n";
        assert_eq!(
            resolv_conf(host),
            "nameserver 10.0.2.3\noptions edns0 trust-ad\nsearch corp.example\n"
        );
    }
}
