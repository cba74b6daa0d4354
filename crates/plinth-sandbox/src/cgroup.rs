//! A pids limit per run: a cgroup of its own under `plinth/` with `pids.max` set, so a fork bomb
//! in a build step stops at the limit instead of taking the host's process table.
//!
//! cgroup v1 (a `pids` hierarchy, as on hybrid hosts) and a pure cgroup v2 hierarchy are both
//! used when the parent directory is writable; elsewhere (a container without cgroup delegation)
//! the run goes ahead without a limit and a warning says so once per process.
//!
//! Moving a process into a cgroup through `cgroup.procs` takes the kernel's global threadgroup
//! lock for writing, which waits for an RCU grace period: 5 to 25 ms per run on a busy
//! two-core machine, on the critical path of every step. A thread moving itself is exempt
//! from that lock, so on cgroup v1 the run's child joins by itself, writing `0` to the
//! cgroup's `tasks` file (open in the parent, close-on-exec) before anything else can fork;
//! it is single-threaded, so that moves the whole process. cgroup v2 has no such file for
//! ordinary cgroups (`cgroup.threads` needs a threaded subtree); there the parent still writes
//! the child's pid to `cgroup.procs`.
//!
//! Creating and removing a cgroup costs about 5 ms each on a busy machine, so a process keeps
//! the empty cgroups of finished runs and gives them to its next runs (a build's steps reuse
//! one). They are named `run-<pid>-<n>`; those of a process that has ended are removed by the
//! next sandbox to start and by `plinth gc`.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};

use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Where cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The directory below the hierarchy that holds one cgroup per run.
const PARENT: &str = "plinth";

/// One run's cgroup; goes back to the process's idle list on drop.
#[derive(Debug)]
pub(crate) struct PidsCgroup {
    dir: PathBuf,
    /// The v1 `tasks` file, open for writing, for the child to join by itself; `None` on v2.
    tasks: Option<OwnedFd>,
}

/// Empty cgroups of finished runs, ready for the next ones.
static IDLE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Numbers the cgroups this process creates.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// An idle cgroup whose processes are all gone (the kernel may still be reaping the last ones
/// of a finished run; such a cgroup is skipped and kept for later).
fn take_idle() -> Option<PathBuf> {
    let mut idle = IDLE.lock().ok()?;
    let at = idle.iter().position(|dir| {
        fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty())
    })?;
    Some(idle.swap_remove(at))
}

/// The directory holding the run cgroups in the hierarchy that has the pids controller, with the
/// controller enabled for its children (v2), or `None`.
fn parent_dir() -> Option<PathBuf> {
    let v1 = Path::new(CGROUP_ROOT).join("pids");
    if v1.join("cgroup.procs").exists() {
        let parent = v1.join(PARENT);
        return fs::create_dir_all(&parent).ok().map(|()| parent);
    }
    let root = Path::new(CGROUP_ROOT);
    let controllers = fs::read_to_string(root.join("cgroup.controllers")).ok()?;
    if !controllers.split_whitespace().any(|c| c == "pids") {
        return None;
    }
    // v2: the root may hold processes and still delegate; `plinth/` holds none, so its children
    // can get the controller too.
    let parent = root.join(PARENT);
    fs::write(root.join("cgroup.subtree_control"), "+pids").ok()?;
    fs::create_dir_all(&parent).ok()?;
    fs::write(parent.join("cgroup.subtree_control"), "+pids").ok()?;
    Some(parent)
}

impl PidsCgroup {
    /// A cgroup allowing at most `limit` processes and threads, or `None` when this host gives
    /// no pids controller to write to.
    pub(crate) fn acquire(limit: u32) -> Result<Option<Self>> {
        if let Some(dir) = take_idle() {
            return PidsCgroup::ready(dir, limit).map(Some);
        }
        let Some(parent) = parent_dir() else {
            static WARN: Once = Once::new();
            WARN.call_once(|| {
                tracing::warn!(
                    "no writable pids cgroup under {CGROUP_ROOT}; build steps run without a process limit"
                );
            });
            return Ok(None);
        };
        let name = format!(
            "run-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = parent.join(name);
        fs::create_dir(&dir).map_err(|e| Error::io("create the cgroup", &dir, e))?;
        PidsCgroup::ready(dir, limit).map(Some)
    }

    /// `dir` with its limit set and, on v1, its `tasks` file open.
    fn ready(dir: PathBuf, limit: u32) -> Result<Self> {
        let max = dir.join("pids.max");
        fs::write(&max, limit.to_string()).map_err(|e| Error::io("write", &max, e))?;
        let tasks = fs::OpenOptions::new()
            .write(true)
            .open(dir.join("tasks"))
            .ok()
            .map(OwnedFd::from);
        Ok(PidsCgroup { dir, tasks })
    }

    /// The fd the child writes `0` to, to join the cgroup by itself (cgroup v1); `None` when the
    /// parent must [`add`](Self::add) it.
    pub(crate) fn child_joins(&self) -> Option<RawFd> {
        self.tasks.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Move `pid` (before it has started any other process) into the cgroup.
    pub(crate) fn add(&self, pid: Pid) -> Result<()> {
        let procs = self.dir.join("cgroup.procs");
        fs::write(&procs, pid.as_raw().to_string()).map_err(|e| Error::io("write", &procs, e))
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        if let Ok(mut idle) = IDLE.lock() {
            idle.push(std::mem::take(&mut self.dir));
        }
    }
}

/// Remove run cgroups left by killed processes: those whose name `creator` maps to a pid that
/// no longer exists. Returns how many.
pub(crate) fn remove_stale(creator: fn(&str) -> Option<i32>) -> usize {
    let mut removed = 0;
    for hierarchy in [
        Path::new(CGROUP_ROOT).join("pids"),
        PathBuf::from(CGROUP_ROOT),
    ] {
        let Ok(entries) = fs::read_dir(hierarchy.join(PARENT)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(creator) else {
                continue;
            };
            let gone =
                nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH);
            // A cgroup that still has processes cannot be removed; rmdir refuses it.
            if gone && fs::remove_dir(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}
