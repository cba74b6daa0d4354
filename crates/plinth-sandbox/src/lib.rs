//! The daemonless sandbox of plinth: namespaces, overlayfs, `pivot_root`, exec. The only crate
//! of the workspace with `unsafe` code.
//!
//! The build engine runs each build step with [`Sandbox::run`], and `plinth run` runs commands in
//! an image the same way. A [`RunSpec`] says what to run: the rootfs (an overlay stack whose
//! upper directory receives exactly the step's changes, or a plain directory), argv (no shell),
//! environment, working directory, user, network mode, bind and cache mounts and an optional
//! timeout. Output is streamed to an [`OutputSink`] while it runs and the last bytes of it are
//! kept in the [`RunOutcome`] for error messages.
//!
//! Each run gets new mount, PID, UTS, IPC and cgroup namespaces (and a network namespace with
//! only `lo` for [`NetworkMode::None`]), a fresh `/proc`, `/dev` and read-only `/sys`,
//! `pivot_root` into the rootfs with the host's root detached, a reduced capability set
//! ([`caps`]) and the user's uid, gid and groups from the rootfs's own `/etc/passwd` and
//! `/etc/group`. Mount points that the rootfs lacks come from a scaffold layer below the image
//! layers, so they never show up in the layer diff: see [`RunSpec::scaffold_paths`].
//!
//! Layout, by stage and by kernel object as in youki: `process` (plan → spawn → init),
//! `syscall` (the system calls behind a narrow trait, so the setup order is unit-tested without
//! root), [`scaffold`], `user`, [`binfmt`] (arm64 on amd64 through qemu-user).
//!
//! ```no_run
//! use plinth_sandbox::{OverlayRootfs, Rootfs, RunSpec, Sandbox, OutputStream};
//!
//! let sandbox = Sandbox::new("/var/lib/plinth/sandbox")?;
//! let rootfs = Rootfs::Overlay(OverlayRootfs::new(["/layers/2", "/layers/1"], "/step/upper", "/step/work"));
//! let spec = RunSpec::new(rootfs, ["sh", "-c", "echo hi"]).with_env("LANG", "C.UTF-8");
//! let outcome = sandbox.run(&spec, &mut |stream: OutputStream, chunk: &[u8]| {
//!     tracing::info!(?stream, "{}", String::from_utf8_lossy(chunk));
//! })?;
//! assert!(outcome.status.success());
//! # Ok::<(), plinth_sandbox::Error>(())
//! ```
//!
//! Needs root (see [`check_privileges`]) and Linux 5.6 or later (`openat2`, `pidfd_open`).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

pub mod binfmt;
pub mod caps;
mod cgroup;
mod error;
pub mod network;
mod privilege;
mod process;
mod rootfs_read;
mod sandbox;
pub mod scaffold;
mod seccomp;
mod spec;
mod syscall;
mod user;

pub use error::{Error, Result};
pub use privilege::check_privileges;
pub use process::output::{DiscardOutput, ExitStatus, OutputSink, OutputStream, RunOutcome};
pub use rootfs_read::read_rootfs_file;
pub use sandbox::Sandbox;
pub use scaffold::{MountPointKind, SYSTEM_MOUNT_POINTS};
pub use spec::{
    DEFAULT_HOSTNAME, DEFAULT_PATH, DEFAULT_PIDS_LIMIT, DEFAULT_TAIL_BYTES, IdOrName, MountKind,
    MountSpec, NetworkMode, OverlayRootfs, Rootfs, RunSpec, UserSpec,
};
pub use user::{
    ResolvedUser, SupplementaryGroups, resolve_file_owner, resolve_user, resolve_user_with,
};
