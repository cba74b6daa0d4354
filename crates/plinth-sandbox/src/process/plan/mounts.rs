//! The mounts inside the new root: docker's system mounts (`/proc` with runc's read-only and
//! masked entries, a private `/dev`, a read-only `/sys`, the run's `resolv.conf` and `hosts`),
//! then the spec's own bind, cache and tmpfs mounts.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::MsFlags;

use super::{Action, PlanInput, RootMount, Steps, cpath, cstring};
use crate::error::{Error, Result};
use crate::scaffold::{MountPointKind, mount_point_kind};
use crate::spec::{MountKind, MountSpec, RunSpec, relative_target};

/// What no system mount may do: carry set-uid binaries, device nodes or executables.
const HARDENED: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// `/proc` entries that reach the host kernel, shown read-only (runc's defaults).
const PROC_READ_ONLY: [&str; 5] = [
    "proc/sys",
    "proc/sysrq-trigger",
    "proc/irq",
    "proc/bus",
    "proc/fs",
];
/// `/proc` files hidden behind `/dev/null` (the masked paths of docker's and containerd's
/// default spec, which BuildKit uses).
const PROC_MASKED_FILES: [&str; 6] = [
    "proc/kcore",
    "proc/keys",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/latency_stats",
    "proc/sched_debug",
];
/// `/proc` directories hidden behind an empty read-only tmpfs (the same defaults).
const PROC_MASKED_DIRS: [&str; 3] = ["proc/acpi", "proc/asound", "proc/scsi"];
/// `/sys` directories hidden the same way once `/sys` is mounted: firmware tables, and the
/// power-capping energy counters (which leak what the host computes, CVE-2020-8694).
const SYS_MASKED_DIRS: [&str; 2] = ["sys/firmware", "sys/devices/virtual/powercap"];

/// A mount at `target`, relative to the root (where a symlink cannot lead out of it).
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

/// The remount that makes the bind mount at `target` read-only, `nosuid`, `nodev` and
/// `noexec` (a bind takes its flags only from a remount after it).
fn hardened_read_only_remount(target: &str) -> Result<RootMount> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | HARDENED;
    root_mount(target, None, None, None, flags, None)
}

/// Appends the system mounts, in the order docker makes them: `/proc` first (its masks need
/// it), then `/dev`, `/sys` and the run's files under `/etc`.
pub(super) fn push_system_mounts(steps: &mut Steps, input: &PlanInput<'_>) -> Result<()> {
    push_proc(steps)?;
    push_dev(steps)?;
    steps.mount(
        root_mount(
            "sys",
            Some(MountPointKind::Dir),
            Some(b"sysfs"),
            Some("sysfs"),
            HARDENED | MsFlags::MS_RDONLY,
            None,
        )?,
        "mount /sys read-only",
    );
    push_masked_dirs(steps, &SYS_MASKED_DIRS)?;
    push_etc_files(steps, input)
}

/// `/proc`, then runc's read-only and masked views of the entries that reach the host kernel.
/// They are optional: a kernel without one of them has nothing to protect there.
fn push_proc(steps: &mut Steps) -> Result<()> {
    steps.mount(
        root_mount(
            "proc",
            Some(MountPointKind::Dir),
            Some(b"proc"),
            Some("proc"),
            HARDENED,
            None,
        )?,
        "mount /proc",
    );
    for entry in PROC_READ_ONLY {
        // A read-only bind needs the bind first, then a remount that sets the flags.
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
        let mut ro = hardened_read_only_remount(entry)?;
        ro.optional = true;
        steps.mount(ro, format!("remount /{entry} read-only"));
    }
    for entry in PROC_MASKED_FILES {
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
    push_masked_dirs(steps, &PROC_MASKED_DIRS)
}

/// Each of `dirs` (those the kernel has) behind an empty read-only tmpfs.
fn push_masked_dirs(steps: &mut Steps, dirs: &[&str]) -> Result<()> {
    for &entry in dirs {
        let mut mask = root_mount(
            entry,
            None,
            Some(b"tmpfs"),
            Some("tmpfs"),
            MsFlags::MS_RDONLY | HARDENED,
            Some("size=0"),
        )?;
        mask.optional = true;
        steps.mount(mask, format!("mask /{entry}"));
    }
    Ok(())
}

/// A private `/dev` tmpfs with the device nodes docker provides, its own `devpts` instance
/// and `/dev/shm`: the image's own `/dev` (if any) is never used.
fn push_dev(steps: &mut Steps) -> Result<()> {
    steps.mount(
        root_mount(
            "dev",
            Some(MountPointKind::Dir),
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
            // `gid=5`: new terminals belong to the `tty` group, as in runc's default spec.
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        )?,
        "mount /dev/pts",
    );
    steps.mount(
        root_mount(
            "dev/mqueue",
            Some(MountPointKind::Dir),
            Some(b"mqueue"),
            Some("mqueue"),
            HARDENED,
            None,
        )?,
        "mount /dev/mqueue",
    );
    steps.mount(
        root_mount(
            "dev/shm",
            None,
            Some(b"shm"),
            Some("tmpfs"),
            HARDENED,
            Some("mode=1777,size=65536k"),
        )?,
        "mount /dev/shm",
    );
    Ok(())
}

/// The run's `resolv.conf` and `hosts`, bound over the image's (created when missing);
/// read-only when the spec asks (a build step's, as BuildKit mounts them).
fn push_etc_files(steps: &mut Steps, input: &PlanInput<'_>) -> Result<()> {
    for (target, source) in [
        ("etc/resolv.conf", input.resolv_conf),
        ("etc/hosts", input.hosts),
    ] {
        steps.mount(
            root_mount(
                target,
                Some(MountPointKind::File),
                Some(source.as_os_str().as_bytes()),
                None,
                MsFlags::MS_BIND,
                None,
            )?,
            format!("bind-mount `{}` on /{target}", source.display()),
        );
        if input.spec.network_files_readonly {
            steps.mount(
                hardened_read_only_remount(target)?,
                format!("remount /{target} read-only"),
            );
        }
    }
    Ok(())
}

/// Appends the spec's own mounts, in the order given.
pub(super) fn push_user_mounts(steps: &mut Steps, spec: &RunSpec) -> Result<()> {
    for m in spec.mounts() {
        let rel = relative_target(m.target())?;
        let rel_str = rel.to_str().ok_or_else(|| {
            Error::InvalidSpec(format!(
                "mount target `{}` is not UTF-8",
                m.target().display()
            ))
        })?;
        match m.kind() {
            MountKind::Bind => push_bind(steps, m, rel_str, "bind")?,
            MountKind::Cache { .. } => push_bind(steps, m, rel_str, "cache")?,
            MountKind::Tmpfs { size } => push_tmpfs(steps, m, rel_str, *size)?,
        }
    }
    Ok(())
}

fn push_tmpfs(steps: &mut Steps, m: &MountSpec, rel: &str, size: Option<u64>) -> Result<()> {
    let data = match size {
        Some(bytes) => format!("mode=1777,size={bytes}"),
        None => "mode=1777".to_owned(),
    };
    steps.mount(
        root_mount(
            rel,
            Some(MountPointKind::Dir),
            Some(b"tmpfs"),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(&data),
        )?,
        format!("mount a tmpfs on `{}`", m.target().display()),
    );
    Ok(())
}

/// A host path (a bind or a cache directory) bound at `rel`, remounted read-only when asked.
fn push_bind(steps: &mut Steps, m: &MountSpec, rel: &str, label: &str) -> Result<()> {
    steps.mount(
        root_mount(
            rel,
            Some(mount_point_kind(m.source())),
            Some(m.source().as_os_str().as_bytes()),
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
            root_mount(rel, None, None, None, flags, None)?,
            format!("remount `{}` read-only", m.target().display()),
        );
    }
    Ok(())
}
