//! Starting the child and supervising it.
//!
//! # Why `clone` with namespace flags, and no re-exec
//!
//! A library cannot re-exec "its" binary the way youki or runc do: the caller may be any
//! program, a test harness included. So the parent builds the whole setup plan first (every
//! path as a `CString`, argv/envp as pointer arrays), then calls `clone(2)` with
//! `CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP [| CLONE_NEWNET]`.
//! The child is pid 1 of its new PID namespace straight away (no intermediate process as with
//! `unshare` + `fork`), so the parent waits for it directly and gets its real exit status, and
//! when it exits the kernel kills everything left in the namespace. Between `clone` and
//! `execve` the child only walks the plan with async-signal-safe system calls
//! ([`init`](super::init)); a failure is sent to the parent as a fixed-size record over a
//! close-on-exec pipe, whose EOF without data means `execve` succeeded.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use super::init::{self, Failure};
use super::output::{ExitStatus, OutputSink, OutputStream, Tail};
use super::plan::Step;
use crate::cgroup::PidsCgroup;
use crate::error::{Error, Result};
use crate::syscall::linux::{Linux, pidfd_open};

/// Stack for the cloned child until it execs; the setup code needs a few KiB.
const CHILD_STACK_BYTES: usize = 256 * 1024;

/// The pipes between parent and child.
pub(crate) struct Pipes {
    pub(crate) stdout: (OwnedFd, OwnedFd),
    pub(crate) stderr: (OwnedFd, OwnedFd),
    pub(crate) status: (OwnedFd, OwnedFd),
    /// The parent writes one byte when the child may go on (see [`Attach`]).
    pub(crate) go: (OwnedFd, OwnedFd),
    pub(crate) stdin: OwnedFd,
}

impl Pipes {
    pub(crate) fn new() -> Result<Self> {
        let pipe =
            || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("create a pipe", e));
        let stdin = nix::fcntl::open(
            c"/dev/null",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys("open /dev/null", e))?;
        Ok(Pipes {
            stdout: pipe()?,
            stderr: pipe()?,
            status: pipe()?,
            go: pipe()?,
            stdin,
        })
    }

    /// The fd the child waits on before `pivot_root`.
    pub(crate) fn child_go(&self) -> i32 {
        self.go.0.as_raw_fd()
    }

    /// The fds the child puts on 0, 1 and 2.
    pub(crate) fn child_stdio(&self) -> [i32; 3] {
        [
            self.stdin.as_raw_fd(),
            self.stdout.1.as_raw_fd(),
            self.stderr.1.as_raw_fd(),
        ]
    }
}

/// Kills and reaps the child if supervision ends early (error or panic).
struct ChildGuard {
    pid: Pid,
    reaped: bool,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(self.pid, None);
        }
    }
}

/// What supervision observed.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) setup_failure: Option<Failure>,
    pub(crate) stdout_tail: Vec<u8>,
    pub(crate) stderr_tail: Vec<u8>,
    pub(crate) timed_out: bool,
    pub(crate) duration: Duration,
}

/// What the child gets between `clone` and going on.
pub(crate) struct Attach {
    /// A new, empty network namespace ([`NetworkMode::None`](crate::NetworkMode::None)); the
    /// other modes join the shared one or stay in the host's.
    pub(crate) new_network: bool,
    /// The run's cgroup, if the host has a pids controller; released when the child is gone.
    pub(crate) pids: Option<PidsCgroup>,
}

/// Clone the child into new namespaces, let it run `steps`, and supervise it to the end.
pub(crate) fn spawn_and_supervise(
    steps: &[Step],
    setup: Attach,
    pipes: Pipes,
    timeout: Option<Duration>,
    tail_bytes: usize,
    sink: &mut dyn OutputSink,
) -> Result<Finished> {
    // No CLONE_NEWCGROUP here: the child unshares it once the parent has moved it into its
    // cgroup, so that the namespace is rooted there.
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if setup.new_network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let status_fd = pipes.status.1.as_raw_fd();
    let mut stack = vec![0u8; CHILD_STACK_BYTES];
    let child = Box::new(move || -> isize {
        let failure = init::execute(&Linux, steps);
        let mut record = [0u8; 8];
        record[..4].copy_from_slice(&(failure.step as u32).to_le_bytes());
        record[4..].copy_from_slice(&(failure.errno as i32).to_le_bytes());
        // SAFETY: `status_fd` is the write end of the status pipe, open in the child; write(2)
        // and _exit(2) are async-signal-safe and `record` outlives the call.
        unsafe {
            libc::write(status_fd, record.as_ptr().cast(), record.len());
            libc::_exit(127)
        }
    });
    let start = Instant::now();
    // SAFETY: the child runs on `stack` (large enough for the setup code, which does not
    // recurse) in a copy of this address space, touches only the plan built above and makes
    // async-signal-safe system calls until it execs or calls _exit, as `init` documents.
    let pid = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }.map_err(
        |e| {
            Error::sys(
                "clone the sandbox process (are namespaces enabled in this kernel?)",
                e,
            )
        },
    )?;
    let mut guard = ChildGuard { pid, reaped: false };
    let Pipes {
        stdout,
        stderr,
        status,
        go,
        stdin,
    } = pipes;
    drop((stdout.1, stderr.1, status.1, go.0, stdin));
    tracing::debug!(pid = pid.as_raw(), "sandbox process started");
    if let Some(pids) = &setup.pids {
        pids.add(pid)?;
    }
    nix::unistd::write(&go.1, &[1]).map_err(|e| Error::sys("let the sandbox process go on", e))?;
    drop(go.1);

    let pidfd = pidfd_open(pid).map_err(|e| {
        Error::sys(
            "open a pidfd for the sandbox process (Linux 5.3 or later is needed)",
            e,
        )
    })?;
    let mut streams: [Option<File>; 3] = [
        Some(File::from(stdout.0)),
        Some(File::from(stderr.0)),
        Some(File::from(status.0)),
    ];
    let mut tails = [Tail::new(tail_bytes), Tail::new(tail_bytes)];
    let mut record = Vec::with_capacity(8);
    let mut exit: Option<ExitStatus> = None;
    let deadline = timeout.map(|t| start + t);
    let mut timed_out = false;
    let mut buf = vec![0u8; 64 * 1024];

    while exit.is_none() || streams.iter().any(Option::is_some) {
        let mut ids: Vec<usize> = Vec::with_capacity(4);
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(4);
        for (i, s) in streams.iter().enumerate() {
            if let Some(f) = s {
                ids.push(i);
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            }
        }
        if exit.is_none() {
            ids.push(3);
            fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        }
        let wait = match deadline {
            Some(d) if !timed_out => {
                let ms = d
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128);
                PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX)
            }
            _ => PollTimeout::NONE,
        };
        match nix::poll::poll(&mut fds, wait) {
            Ok(0) => {
                tracing::warn!(
                    pid = pid.as_raw(),
                    ?timeout,
                    "sandbox timed out; killing it"
                );
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                timed_out = true;
                continue;
            }
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll the sandbox's output", e)),
        }
        let ready: Vec<usize> = ids
            .iter()
            .zip(&fds)
            .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| *i)
            .collect();
        drop(fds);
        for i in ready {
            if i == 3 {
                exit = Some(reap(pid)?);
                guard.reaped = true;
                continue;
            }
            let Some(file) = streams[i].as_mut() else {
                continue;
            };
            let n = match file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read the sandbox's output from", "pipe", e)),
            };
            if n == 0 {
                streams[i] = None;
                continue;
            }
            match i {
                0 | 1 => {
                    let stream = if i == 0 {
                        OutputStream::Stdout
                    } else {
                        OutputStream::Stderr
                    };
                    tails[i].push(&buf[..n]);
                    sink.on_output(stream, &buf[..n]);
                }
                _ => record.extend_from_slice(&buf[..n.min(8usize.saturating_sub(record.len()))]),
            }
        }
    }
    drop(setup);
    let setup_failure = (record.len() == 8).then(|| Failure {
        step: u32::from_le_bytes(record[..4].try_into().unwrap_or_default()) as usize,
        errno: Errno::from_raw(i32::from_le_bytes(
            record[4..].try_into().unwrap_or_default(),
        )),
    });
    let [stdout_tail, stderr_tail] = tails.map(Tail::into_vec);
    Ok(Finished {
        status: exit.unwrap_or(ExitStatus::Signaled(libc::SIGKILL)),
        setup_failure,
        stdout_tail,
        stderr_tail,
        timed_out,
        duration: start.elapsed(),
    })
}

fn reap(pid: Pid) -> Result<ExitStatus> {
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Ok(ExitStatus::Signaled(signal as i32));
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("wait for the sandbox process", e)),
        }
    }
}
