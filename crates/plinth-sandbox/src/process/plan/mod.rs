//! The setup plan: every step the child takes between `clone` and `execve`, computed in the
//! parent, where allocating is allowed. The child only walks the list (see
//! [`init`](super::init)), so the ordering rules live here, in plain data that unit tests read.
//!
//! This module holds the steps' types and their order ([`build_plan`]); the steps themselves
//! are made by concern: `root` (the root's overlay or bind mount), `mounts` (the system mounts
//! and the spec's own), `exec` (the command as `execve` takes it), `overlay` (overlayfs
//! options).

use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::MsFlags;

mod exec;
mod mounts;
mod overlay;
mod root;

use crate::caps;
use crate::error::{Error, Result};
use crate::scaffold::MountPointKind;
use crate::spec::{NetworkMode, RunSpec};
use crate::user::ResolvedUser;

pub(crate) use self::exec::ExecPlan;
pub(crate) use self::overlay::VOLATILE_MARKER;

/// A mount whose target is resolved inside the new root (symlinks cannot leave it).
#[derive(Debug)]
pub(crate) struct RootMount {
    /// Target relative to the root, e.g. `etc/resolv.conf`.
    pub(crate) target: CString,
    /// Parent directory of the target and the last component, to create a missing mount point.
    pub(crate) parent: CString,
    pub(crate) name: CString,
    /// Create the mount point when it is missing.
    pub(crate) create: Option<MountPointKind>,
    /// Skip silently when the target is missing (for masks of optional `/proc` entries).
    pub(crate) optional: bool,
    /// Bind the target onto itself (the source is the resolved target, not a host path).
    pub(crate) self_bind: bool,
    pub(crate) source: Option<CString>,
    pub(crate) fstype: Option<CString>,
    pub(crate) flags: MsFlags,
    pub(crate) data: Option<CString>,
}

/// One setup step.
#[derive(Debug)]
pub(crate) enum Action {
    /// fds, signals, session, umask.
    PrepareProcess {
        stdin: RawFd,
        stdout: RawFd,
        stderr: RawFd,
    },
    /// `mount --make-rprivate /`: nothing we mount propagates to the host.
    MakeMountsPrivate,
    /// chdir on the host side (so long overlay paths can be given relative).
    HostChdir(CString),
    /// Mount the rootfs (overlay or bind) at the private mount point.
    MountRoot {
        source: CString,
        fstype: Option<CString>,
        flags: MsFlags,
        data: Option<CString>,
        target: CString,
    },
    /// Open the mounted root; later targets resolve inside it.
    OpenRoot(CString),
    /// A mount inside the root.
    Mount(RootMount),
    /// Device nodes, symlinks and directories of the fresh `/dev` tmpfs.
    PopulateDev,
    /// `sethostname`.
    SetHostname(CString),
    /// Bring `lo` up in the new network namespace.
    LoopbackUp,
    /// Join the sandbox's shared network namespace (before `/sys` is mounted, so that it
    /// shows that namespace's interfaces).
    JoinNetwork(RawFd),
    /// Wait until the parent has put the process into its cgroup.
    AwaitParent(RawFd),
    /// Move into the run's cgroup through its v1 `tasks` file (open on this fd); the parent
    /// then has nothing to attach.
    JoinCgroup(RawFd),
    /// A new cgroup namespace, rooted at the cgroup the parent moved the process into.
    UnshareCgroupNamespace,
    /// Install the system call filters (while `CAP_SYS_ADMIN` is still held).
    InstallSeccomp(&'static [seccompiler::BpfProgram]),
    /// `pivot_root` into the root and detach the old one.
    PivotRoot(CString),
    /// Reduce the capability sets to `keep`.
    DropCapabilities { keep: u64, last_cap: u32 },
    /// `setgroups`, `setresgid`, `setresuid`, in that order.
    SetIds {
        uid: u32,
        gid: u32,
        groups: Vec<u32>,
    },
    /// chdir to the working directory inside the root.
    Chdir(CString),
    /// `execve` the command.
    Exec(ExecPlan),
}

/// An action and its description for error messages.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) action: Action,
    pub(crate) what: String,
}

/// Everything the plan is computed from.
pub(crate) struct PlanInput<'a> {
    pub(crate) spec: &'a RunSpec,
    /// Host directory the root is mounted on, in the child's mount namespace.
    pub(crate) root_mount: &'a Path,
    /// The scaffold layer (overlay roots only).
    pub(crate) scaffold: Option<&'a Path>,
    pub(crate) resolv_conf: &'a Path,
    pub(crate) hosts: &'a Path,
    pub(crate) user: &'a ResolvedUser,
    pub(crate) stdio: [RawFd; 3],
    /// Read end of the pipe the parent writes one byte to when the child may go on.
    pub(crate) go: RawFd,
    /// The v1 `tasks` file of the run's cgroup, when the child joins it itself.
    pub(crate) cgroup_tasks: Option<RawFd>,
    /// The shared network namespace to join ([`NetworkMode::Private`]).
    pub(crate) netns: Option<RawFd>,
    pub(crate) seccomp: &'static [seccompiler::BpfProgram],
    pub(crate) last_cap: u32,
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::InvalidSpec(format!("{what} contains a NUL byte")))
}

fn cpath(path: &Path) -> Result<CString> {
    cstring(
        path.as_os_str().as_bytes(),
        &format!("path `{}`", path.display()),
    )
}

struct Steps(Vec<Step>);

impl Steps {
    fn push(&mut self, action: Action, what: impl Into<String>) {
        self.0.push(Step {
            action,
            what: what.into(),
        });
    }

    fn mount(&mut self, m: RootMount, what: impl Into<String>) {
        self.push(Action::Mount(m), what);
    }
}

/// Compute the setup steps for `input`. The order is the security argument: mounts are made
/// while the process still holds every capability and sees the host's paths, the cgroup
/// namespace only once the parent has placed the process, seccomp after `pivot_root` (it
/// forbids mounting) and before capabilities are dropped (installing a filter without
/// `no_new_privs` needs `CAP_SYS_ADMIN`), the ids last but for the exec.
pub(crate) fn build_plan(input: &PlanInput<'_>) -> Result<Vec<Step>> {
    let spec = input.spec;
    let mut steps = Steps(Vec::new());
    push_process_setup(&mut steps, input);

    let root = cpath(input.root_mount)?;
    root::push_root_mount(&mut steps, input, &root)?;
    steps.push(
        Action::OpenRoot(root.clone()),
        format!("open the root `{}`", input.root_mount.display()),
    );
    mounts::push_system_mounts(&mut steps, input)?;
    mounts::push_user_mounts(&mut steps, spec)?;

    push_namespaces_setup(&mut steps, input)?;
    push_lockdown(&mut steps, input, root);
    push_identity(&mut steps, input)?;
    exec::push_exec(&mut steps, spec, input.user)?;
    Ok(steps.0)
}

/// The process itself, before any mount: its fds and signals, mounts that cannot propagate
/// to the host, and the shared network namespace (joined first, so that `/sys` shows it).
fn push_process_setup(steps: &mut Steps, input: &PlanInput<'_>) {
    let [stdin, stdout, stderr] = input.stdio;
    steps.push(
        Action::PrepareProcess {
            stdin,
            stdout,
            stderr,
        },
        "prepare the child process",
    );
    steps.push(Action::MakeMountsPrivate, "make all mounts private");
    if let Some(netns) = input.netns {
        steps.push(
            Action::JoinNetwork(netns),
            "join the sandbox's network namespace",
        );
    }
}

/// The UTS, network and cgroup namespaces made ready once the root is complete.
fn push_namespaces_setup(steps: &mut Steps, input: &PlanInput<'_>) -> Result<()> {
    let spec = input.spec;
    steps.push(
        Action::SetHostname(cstring(spec.hostname.as_bytes(), "hostname")?),
        format!("set the hostname to `{}`", spec.hostname),
    );
    if spec.network != NetworkMode::Host {
        steps.push(Action::LoopbackUp, "bring the loopback interface up");
    }
    if let Some(tasks) = input.cgroup_tasks {
        steps.push(Action::JoinCgroup(tasks), "join the run's pids cgroup");
    }
    steps.push(
        Action::AwaitParent(input.go),
        "wait for the cgroup and the network",
    );
    steps.push(
        Action::UnshareCgroupNamespace,
        "create the cgroup namespace",
    );
    Ok(())
}

/// Into the root for good, then the system call filter and the capability drop.
fn push_lockdown(steps: &mut Steps, input: &PlanInput<'_>, root: CString) {
    steps.push(
        Action::PivotRoot(root),
        format!("pivot_root into `{}`", input.root_mount.display()),
    );
    steps.push(
        Action::InstallSeccomp(input.seccomp),
        "install the seccomp filter",
    );
    // CAP_NET_RAW can sniff and forge traffic of the namespace it is in: fine in a namespace of
    // the run's own (docker keeps it for that reason), not in the host's.
    let keep = match input.spec.network {
        NetworkMode::Host => caps::DEFAULT_KEEP & !(1 << caps::CAP_NET_RAW),
        NetworkMode::Private | NetworkMode::None => caps::DEFAULT_KEEP,
    };
    steps.push(
        Action::DropCapabilities {
            keep,
            last_cap: input.last_cap,
        },
        "drop capabilities",
    );
}

/// The run's user and working directory.
fn push_identity(steps: &mut Steps, input: &PlanInput<'_>) -> Result<()> {
    let user = input.user;
    steps.push(
        Action::SetIds {
            uid: user.uid,
            gid: user.gid,
            groups: user.groups.clone(),
        },
        format!(
            "switch to uid {} gid {} groups {:?}",
            user.uid, user.gid, user.groups
        ),
    );
    steps.push(
        Action::Chdir(cpath(&input.spec.cwd)?),
        format!(
            "change to the working directory `{}` (it must exist in the rootfs)",
            input.spec.cwd.display()
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests;
