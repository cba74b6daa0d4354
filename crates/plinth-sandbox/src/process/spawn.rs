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
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
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
use crate::network::SharedNetwork;
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
pub(crate) struct Attach<'a> {
    /// A new, empty network namespace ([`NetworkMode::None`](crate::NetworkMode::None)); the
    /// other modes join the shared one or stay in the host's.
    pub(crate) new_network: bool,
    /// The shared network the child has joined, which must be ready before it goes on.
    pub(crate) network: Option<&'a SharedNetwork>,
    /// The run's cgroup, if the host has a pids controller; released when the child is gone.
    pub(crate) pids: Option<PidsCgroup>,
}

/// Clone the child into new namespaces, let it run `steps`, and supervise it to the end.
pub(crate) fn spawn_and_supervise(
    steps: &[Step],
    setup: Attach<'_>,
    pipes: Pipes,
    timeout: Option<Duration>,
    tail_bytes: usize,
    sink: &mut dyn OutputSink,
) -> Result<Finished> {
    let start = Instant::now();
    let pid = clone_child(steps, setup.new_network, pipes.status.1.as_raw_fd())?;
    // From here on, any early return kills and reaps the child.
    let mut guard = ChildGuard { pid, reaped: false };
    let streams = let_child_go_on(pid, &setup, pipes)?;
    let pidfd = pidfd_open(pid).map_err(|e| {
        Error::sys(
            "open a pidfd for the sandbox process (Linux 5.3 or later is needed)",
            e,
        )
    })?;
    let mut supervisor = Supervisor {
        pid,
        streams: streams.map(Some),
        tails: [Tail::new(tail_bytes), Tail::new(tail_bytes)],
        record: Vec::with_capacity(FAILURE_RECORD_BYTES),
        exit: None,
        timeout,
        deadline: timeout.map(|t| start + t),
        timed_out: false,
        buf: vec![0u8; 64 * 1024],
    };
    supervisor.run(&pidfd, sink, &mut guard)?;
    // The cgroup is released only now that the child is reaped.
    drop(setup);
    Ok(supervisor.finish(start))
}

/// The size of the record a failing child writes: the step index and the errno.
const FAILURE_RECORD_BYTES: usize = 8;

/// Where the child's output and status arrive, in the order [`Supervisor::streams`] keeps.
const STDOUT: usize = 0;
const STDERR: usize = 1;
const STATUS: usize = 2;
/// The pidfd's place among the polled descriptors (readable once the child has exited).
const PIDFD: usize = 3;

/// `clone(2)` the child into its new namespaces; it walks `steps` and, on a failure, writes
/// the failing step and errno to `status_fd` and exits 127.
fn clone_child(steps: &[Step], new_network: bool, status_fd: RawFd) -> Result<Pid> {
    // No CLONE_NEWCGROUP here: the child unshares it once the parent has moved it into its
    // cgroup, so that the namespace is rooted there.
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if new_network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    // Without CLONE_VM the child runs on its own copy of this stack, so the parent may free
    // it as soon as `clone` returns.
    let mut stack = vec![0u8; CHILD_STACK_BYTES];
    let child = Box::new(move || -> isize {
        let failure = init::execute(&Linux, steps);
        let mut record = [0u8; FAILURE_RECORD_BYTES];
        record[..4].copy_from_slice(&(failure.step as u32).to_le_bytes());
        record[4..].copy_from_slice(&(failure.errno as i32).to_le_bytes());
        // SAFETY: `status_fd` is the write end of the status pipe, open in the child; write(2)
        // and _exit(2) are async-signal-safe and `record` outlives the call.
        unsafe {
            libc::write(status_fd, record.as_ptr().cast(), record.len());
            libc::_exit(127)
        }
    });
    // SAFETY: the child runs on `stack` (large enough for the setup code, which does not
    // recurse) in a copy of this address space, touches only the plan built by the caller and
    // makes async-signal-safe system calls until it execs or calls _exit, as `init` documents.
    let pid = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }.map_err(
        |e| {
            Error::sys(
                "clone the sandbox process (are namespaces enabled in this kernel?)",
                e,
            )
        },
    )?;
    tracing::debug!(pid = pid.as_raw(), "sandbox process started");
    Ok(pid)
}

/// Closes the child's ends of the pipes (so their EOF means the child is gone), puts the child
/// into its cgroup and lets it go on. Returns the parent's read ends: stdout, stderr, status.
fn let_child_go_on(pid: Pid, setup: &Attach<'_>, pipes: Pipes) -> Result<[File; 3]> {
    let Pipes {
        stdout,
        stderr,
        status,
        go,
        stdin,
    } = pipes;
    drop((stdout.1, stderr.1, status.1, go.0, stdin));
    // The child waits for this byte before it unshares its cgroup namespace, so that the
    // namespace is rooted at the run's cgroup.
    if let Some(pids) = &setup.pids
        && pids.child_joins().is_none()
    {
        pids.add(pid)?;
    }
    // slirp4netns configured the namespace while the child set up its root.
    if let Some(network) = setup.network {
        network.wait_ready()?;
    }
    nix::unistd::write(&go.1, &[1]).map_err(|e| Error::sys("let the sandbox process go on", e))?;
    Ok([
        File::from(stdout.0),
        File::from(stderr.0),
        File::from(status.0),
    ])
}

/// The parent's side of a run: forwards output, collects the setup failure record, kills the
/// child at the deadline and reaps it.
struct Supervisor {
    pid: Pid,
    /// Stdout, stderr and the status pipe; `None` once at EOF.
    streams: [Option<File>; 3],
    tails: [Tail; 2],
    /// What the status pipe carried (a failure record, or nothing when `execve` succeeded).
    record: Vec<u8>,
    exit: Option<ExitStatus>,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    timed_out: bool,
    buf: Vec<u8>,
}

impl Supervisor {
    /// Runs until the child is reaped and every stream is at EOF: output written by
    /// grandchildren that outlive pid 1 by a moment is still delivered.
    fn run(
        &mut self,
        pidfd: &OwnedFd,
        sink: &mut dyn OutputSink,
        guard: &mut ChildGuard,
    ) -> Result<()> {
        while self.exit.is_none() || self.streams.iter().any(Option::is_some) {
            for i in self.wait_ready(pidfd)? {
                if i == PIDFD {
                    self.exit = Some(reap(self.pid)?);
                    guard.reaped = true;
                } else {
                    self.read_stream(i, sink)?;
                }
            }
        }
        Ok(())
    }

    /// Polls the open streams (and the pidfd until the child is reaped); returns the ready
    /// ones, none after an interruption or when the deadline passed (the child is then killed
    /// and the loop goes on until its streams close).
    fn wait_ready(&mut self, pidfd: &OwnedFd) -> Result<Vec<usize>> {
        let mut ids: Vec<usize> = Vec::with_capacity(4);
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(4);
        for (i, s) in self.streams.iter().enumerate() {
            if let Some(f) = s {
                ids.push(i);
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            }
        }
        if self.exit.is_none() {
            ids.push(PIDFD);
            fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        }
        match nix::poll::poll(&mut fds, self.poll_timeout()) {
            Ok(0) => {
                tracing::warn!(
                    pid = self.pid.as_raw(),
                    timeout = ?self.timeout,
                    "sandbox timed out; killing it"
                );
                let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
                self.timed_out = true;
                return Ok(Vec::new());
            }
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(Vec::new()),
            Err(e) => return Err(Error::sys("poll the sandbox's output", e)),
        }
        Ok(ids
            .iter()
            .zip(&fds)
            .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| *i)
            .collect())
    }

    /// Until the deadline; forever once it has passed (the child is being killed) or without
    /// one.
    fn poll_timeout(&self) -> PollTimeout {
        match self.deadline {
            Some(d) if !self.timed_out => {
                let ms = d
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128);
                PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX)
            }
            _ => PollTimeout::NONE,
        }
    }

    /// Reads what stream `i` has: output goes to the sink and its tail, the status pipe's bytes
    /// to the failure record (never more than one record's worth).
    fn read_stream(&mut self, i: usize, sink: &mut dyn OutputSink) -> Result<()> {
        let Some(file) = self.streams[i].as_mut() else {
            return Ok(());
        };
        let n = match file.read(&mut self.buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(Error::io("read the sandbox's output from", "pipe", e)),
        };
        if n == 0 {
            self.streams[i] = None;
            return Ok(());
        }
        let chunk = &self.buf[..n];
        match i {
            STDOUT | STDERR => {
                let stream = if i == STDOUT {
                    OutputStream::Stdout
                } else {
                    OutputStream::Stderr
                };
                self.tails[i].push(chunk);
                sink.on_output(stream, chunk);
            }
            STATUS => {
                let room = FAILURE_RECORD_BYTES.saturating_sub(self.record.len());
                self.record.extend_from_slice(&chunk[..n.min(room)]);
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self, start: Instant) -> Finished {
        let record = self.record;
        let setup_failure = (record.len() == FAILURE_RECORD_BYTES).then(|| Failure {
            step: u32::from_le_bytes(record[..4].try_into().unwrap_or_default()) as usize,
            errno: Errno::from_raw(i32::from_le_bytes(
                record[4..].try_into().unwrap_or_default(),
            )),
        });
        let [stdout_tail, stderr_tail] = self.tails.map(Tail::into_vec);
        Finished {
            status: self.exit.unwrap_or(ExitStatus::Signaled(libc::SIGKILL)),
            setup_failure,
            stdout_tail,
            stderr_tail,
            timed_out: self.timed_out,
            duration: start.elapsed(),
        }
    }
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
