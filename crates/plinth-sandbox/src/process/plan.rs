//! The setup plan: every step the child takes between `clone` and `execve`, computed in the
//! parent, where allocating is allowed. The child only walks the list (see
//! [`init`](super::init)), so the ordering rules live here, in plain data that unit tests read.

use std::ffi::{CString, c_char};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

mod overlay;

use crate::caps;
use crate::error::{Error, Result};
use crate::scaffold::{MountPointKind, mount_point_kind};
use crate::spec::{DEFAULT_PATH, MountKind, NetworkMode, Rootfs, RunSpec, relative_target};
use crate::user::ResolvedUser;

use self::overlay::overlay_options;

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

/// The command to execute, with argv and envp laid out as C arrays.
#[derive(Debug)]
pub(crate) struct ExecPlan {
    /// Paths to try in order (argv\[0\] looked up in `PATH`).
    pub(crate) candidates: Vec<CString>,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    pub(crate) argv_ptrs: Vec<*const c_char>,
    pub(crate) envp_ptrs: Vec<*const c_char>,
}

impl ExecPlan {
    fn new(candidates: Vec<CString>, argv: Vec<CString>, envp: Vec<CString>) -> Self {
        // The pointers point into the CStrings' heap buffers, which do not move when the
        // vectors holding them are moved into this struct.
        let argv_ptrs = argv
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let envp_ptrs = envp
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        ExecPlan {
            candidates,
            _argv: argv,
            _envp: envp,
            argv_ptrs,
            envp_ptrs,
        }
    }
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

fn root_mount(
    target: &str,
    create: Option<MountPointKind>,
    source: Option<&[u8]>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<RootMount> {
    let path = Path::new(target);
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map_or(&b"."[..], |n| n.as_bytes());
    Ok(RootMount {
        target: cstring(target.as_bytes(), "mount target")?,
        parent: cpath(parent)?,
        name: cstring(name, "mount target")?,
        create,
        optional: false,
        self_bind: false,
        source: source.map(|s| cstring(s, "mount source")).transpose()?,
        fstype: fstype
            .map(|s| cstring(s.as_bytes(), "fstype"))
            .transpose()?,
        flags,
        data: data
            .map(|s| cstring(s.as_bytes(), "mount data"))
            .transpose()?,
    })
}

fn env_and_candidates(spec: &RunSpec, user: &ResolvedUser) -> (Vec<(String, String)>, Vec<String>) {
    let mut env = spec.env.clone();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), user.home.clone()));
    }
    let program = &spec.argv[0];
    let candidates = if program.contains('/') {
        vec![program.clone()]
    } else {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or(DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    (env, candidates)
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

/// Compute the setup steps for `input`.
pub(crate) fn build_plan(input: &PlanInput<'_>) -> Result<Vec<Step>> {
    let spec = input.spec;
    let mut steps = Steps(Vec::new());
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

    let root = cpath(input.root_mount)?;
    let root_display = input.root_mount.display();
    match &spec.rootfs {
        Rootfs::Overlay(o) => {
            let mut lower: Vec<&Path> = o.lower().iter().map(PathBuf::as_path).collect();
            lower.extend(input.scaffold);
            let (base, data) = overlay_options(&lower, o.upper(), o.work())?;
            if let Some(base) = base {
                steps.push(
                    Action::HostChdir(cpath(&base)?),
                    format!("change to directory `{}`", base.display()),
                );
            }
            steps.push(
                Action::MountRoot {
                    source: c"overlay".into(),
                    fstype: Some(c"overlay".into()),
                    // Device nodes shipped in layers stay data: opening one fails.
                    flags: MsFlags::MS_NODEV,
                    data: Some(cstring(data.as_bytes(), "overlay options")?),
                    target: root.clone(),
                },
                format!(
                    "mount the overlay at `{root_display}` (upper `{}`; upper and work must not be on overlayfs, and the kernel log has details)",
                    o.upper().display()
                ),
            );
        }
        Rootfs::Directory(dir) => {
            steps.push(
                Action::MountRoot {
                    source: cpath(dir)?,
                    fstype: None,
                    flags: MsFlags::MS_BIND | MsFlags::MS_REC,
                    data: None,
                    target: root.clone(),
                },
                format!(
                    "bind-mount the rootfs `{}` at `{root_display}`",
                    dir.display()
                ),
            );
            // A bind mount takes its flags from a remount.
            steps.push(
                Action::MountRoot {
                    source: cpath(dir)?,
                    fstype: None,
                    flags: MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NODEV,
                    data: None,
                    target: root.clone(),
                },
                format!("remount the rootfs at `{root_display}` nodev"),
            );
        }
    }
    steps.push(
        Action::OpenRoot(root.clone()),
        format!("open the root `{root_display}`"),
    );
    push_system_mounts(&mut steps, input)?;
    push_user_mounts(&mut steps, spec)?;

    steps.push(
        Action::SetHostname(cstring(spec.hostname.as_bytes(), "hostname")?),
        format!("set the hostname to `{}`", spec.hostname),
    );
    if spec.network != NetworkMode::Host {
        steps.push(Action::LoopbackUp, "bring the loopback interface up");
    }
    steps.push(Action::AwaitParent(input.go), "wait for the cgroup");
    steps.push(
        Action::UnshareCgroupNamespace,
        "create the cgroup namespace",
    );
    steps.push(
        Action::PivotRoot(root),
        format!("pivot_root into `{root_display}`"),
    );
    steps.push(
        Action::InstallSeccomp(input.seccomp),
        "install the seccomp filter",
    );
    // CAP_NET_RAW can sniff and forge traffic of the namespace it is in: fine in a namespace of
    // the run's own (docker keeps it for that reason), not in the host's.
    let keep = match spec.network {
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
        Action::Chdir(cpath(&spec.cwd)?),
        format!(
            "change to the working directory `{}` (it must exist in the rootfs)",
            spec.cwd.display()
        ),
    );

    let (env, candidates) = env_and_candidates(spec, user);
    let candidates = candidates
        .iter()
        .map(|c| cstring(c.as_bytes(), "command path"))
        .collect::<Result<_>>()?;
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes(), "argument"))
        .collect::<Result<_>>()?;
    let envp = env
        .iter()
        .map(|(k, v)| cstring(format!("{k}={v}").as_bytes(), "environment"))
        .collect::<Result<_>>()?;
    steps.push(
        Action::Exec(ExecPlan::new(candidates, argv, envp)),
        format!("execute `{}`", spec.argv[0]),
    );
    Ok(steps.0)
}

fn push_system_mounts(steps: &mut Steps, input: &PlanInput<'_>) -> Result<()> {
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let dir = Some(MountPointKind::Dir);
    let file = Some(MountPointKind::File);

    steps.mount(
        root_mount("proc", dir, Some(b"proc"), Some("proc"), hardened, None)?,
        "mount /proc",
    );
    // Read-only views of the /proc entries that reach the host kernel (runc's defaults).
    for entry in [
        "proc/sys",
        "proc/sysrq-trigger",
        "proc/irq",
        "proc/bus",
        "proc/fs",
    ] {
        let mut bind = root_mount(
            entry,
            None,
            None,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        bind.self_bind = true;
        bind.optional = true;
        steps.mount(bind, format!("bind /{entry} onto itself"));
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | hardened;
        let mut ro = root_mount(entry, None, None, None, flags, None)?;
        ro.optional = true;
        steps.mount(ro, format!("remount /{entry} read-only"));
    }
    for entry in [
        "proc/kcore",
        "proc/keys",
        "proc/timer_list",
        "proc/latency_stats",
        "proc/sched_debug",
    ] {
        let mut mask = root_mount(
            entry,
            None,
            Some(b"/dev/null"),
            None,
            MsFlags::MS_BIND,
            None,
        )?;
        mask.optional = true;
        steps.mount(mask, format!("mask /{entry}"));
    }
    for entry in ["proc/acpi", "proc/scsi"] {
        let mut mask = root_mount(
            entry,
            None,
            Some(b"tmpfs"),
            Some("tmpfs"),
            MsFlags::MS_RDONLY | hardened,
            Some("size=0"),
        )?;
        mask.optional = true;
        steps.mount(mask, format!("mask /{entry}"));
    }
    steps.mount(
        root_mount(
            "dev",
            dir,
            Some(b"tmpfs"),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        )?,
        "mount a tmpfs on /dev",
    );
    steps.push(Action::PopulateDev, "create device nodes in /dev");
    steps.mount(
        root_mount(
            "dev/pts",
            None,
            Some(b"devpts"),
            Some("devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        )?,
        "mount /dev/pts",
    );
    steps.mount(
        root_mount(
            "dev/shm",
            None,
            Some(b"shm"),
            Some("tmpfs"),
            hardened,
            Some("mode=1777,size=65536k"),
        )?,
        "mount /dev/shm",
    );
    steps.mount(
        root_mount(
            "sys",
            dir,
            Some(b"sysfs"),
            Some("sysfs"),
            hardened | MsFlags::MS_RDONLY,
            None,
        )?,
        "mount /sys read-only",
    );
    for (target, source) in [
        ("etc/resolv.conf", input.resolv_conf),
        ("etc/hosts", input.hosts),
    ] {
        steps.mount(
            root_mount(
                target,
                file,
                Some(source.as_os_str().as_bytes()),
                None,
                MsFlags::MS_BIND,
                None,
            )?,
            format!("bind-mount `{}` on /{target}", source.display()),
        );
    }
    Ok(())
}

fn push_user_mounts(steps: &mut Steps, spec: &RunSpec) -> Result<()> {
    for m in spec.mounts() {
        let rel = relative_target(m.target())?;
        let rel_str = rel.to_str().ok_or_else(|| {
            Error::InvalidSpec(format!(
                "mount target `{}` is not UTF-8",
                m.target().display()
            ))
        })?;
        let label = match m.kind() {
            MountKind::Bind => "bind",
            MountKind::Cache { .. } => "cache",
            MountKind::Tmpfs { size } => {
                let data = match size {
                    Some(bytes) => format!("mode=1777,size={bytes}"),
                    None => "mode=1777".to_owned(),
                };
                let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
                steps.mount(
                    root_mount(
                        rel_str,
                        Some(MountPointKind::Dir),
                        Some(b"tmpfs"),
                        Some("tmpfs"),
                        flags,
                        Some(&data),
                    )?,
                    format!("mount a tmpfs on `{}`", m.target().display()),
                );
                continue;
            }
        };
        let source = m.source().as_os_str().as_bytes();
        let kind = Some(mount_point_kind(m.source()));
        steps.mount(
            root_mount(
                rel_str,
                kind,
                Some(source),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?,
            format!(
                "{label}-mount `{}` on `{}`",
                m.source().display(),
                m.target().display()
            ),
        );
        if m.readonly() {
            let flags = MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV;
            steps.mount(
                root_mount(rel_str, None, None, None, flags, None)?,
                format!("remount `{}` read-only", m.target().display()),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
