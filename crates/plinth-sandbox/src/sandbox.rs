//! [`Sandbox`]: prepares the host side of a run, then hands over to [`process`](crate::process).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::cgroup::{self, PidsCgroup};
use crate::error::{Error, Result};
use crate::network::SharedNetwork;
use crate::process::output::{OutputSink, RunOutcome};
use crate::process::plan::{Action, PlanInput, VOLATILE_MARKER, build_plan};
use crate::process::spawn::{Attach, Pipes, spawn_and_supervise};
use crate::scaffold::{MountPointKind, Scaffold, mount_point_kind};
use crate::spec::{MountKind, NetworkMode, OverlayRootfs, Rootfs, RunSpec, relative_target};
use crate::user::{ResolvedUser, resolve_user_with};
use crate::{caps, network, privilege, rootfs_read, seccomp};

/// Runs commands in isolated rootfs views. Cheap to create; holds only a state directory where
/// each run keeps its generated `/etc` files (removed when the run ends), next to the mount
/// point all runs share and the scaffold layers runs with the same mount points share (see
/// [`scaffold`](crate::scaffold)).
#[derive(Debug, Clone)]
pub struct Sandbox {
    state_dir: PathBuf,
    /// The network namespace and slirp4netns of [`NetworkMode::Private`] runs, started by the
    /// first one (see [`network`](crate::network)); shared by clones.
    network: Arc<Mutex<Option<Arc<SharedNetwork>>>>,
}

impl Sandbox {
    /// A sandbox keeping per-run state under `state_dir` (created if missing). It should be on a
    /// local filesystem; it never holds anything the command writes.
    ///
    /// Run directories and cgroups left behind by killed processes are removed here (see
    /// [`Sandbox::remove_stale_runs`]); a failure to remove them is logged, not returned.
    pub fn new(state_dir: impl Into<PathBuf>) -> Result<Self> {
        let state_dir = state_dir.into();
        fs::create_dir_all(&state_dir)
            .map_err(|e| Error::io("create the sandbox state directory", &state_dir, e))?;
        let sandbox = Sandbox {
            state_dir,
            network: Arc::default(),
        };
        if let Err(e) = sandbox.remove_stale_runs() {
            tracing::debug!(error = %e, "could not remove stale sandbox run directories");
        }
        Ok(sandbox)
    }

    /// The shared network, started (or restarted, if slirp4netns has died) when needed.
    /// slirp4netns logs to a run file that is removed once it has started (it keeps writing to
    /// the open file).
    fn shared_network(&self) -> Result<Arc<SharedNetwork>> {
        let mut slot = self.network.lock().map_err(|_| {
            Error::NetworkHelper("a run panicked while starting the network".into())
        })?;
        match slot.as_ref() {
            Some(network) if network.is_alive() => Ok(network.clone()),
            _ => {
                let log = self.run_file(".network.log")?;
                let network = Arc::new(SharedNetwork::start(log)?);
                *slot = Some(network.clone());
                Ok(network)
            }
        }
    }

    /// Starts the network of [`NetworkMode::Private`] runs on a thread of its own, so that
    /// slirp4netns configures the namespace while the caller prepares its run (resolving and
    /// unpacking the root, the overlay directories); the first run then finds it ready, or
    /// waits only for the rest. Nothing happens when it is running already. A failure is only
    /// logged: the run that needs the network starts it again and reports why it cannot.
    pub fn start_network_early(&self) {
        if matches!(self.network.lock().as_deref(), Ok(Some(n)) if n.is_alive()) {
            return;
        }
        let sandbox = self.clone();
        std::thread::spawn(move || {
            let started = sandbox.shared_network().and_then(|n| n.wait_ready());
            if let Err(e) = started {
                tracing::debug!(error = %e, "the network could not be started ahead of the first run");
            }
        });
    }

    /// `run-<pid>-`: what the names of this process's run files start with.
    fn run_prefix(&self) -> String {
        format!("{RUN_DIR_PREFIX}{}-", std::process::id())
    }

    /// A new run file in the state directory, `run-<pid>-<random><suffix>`, removed on drop
    /// (or with the stale runs of its process). Files, not a directory per run: removing a
    /// directory waits for the discard of its block on a filesystem mounted `discard` without
    /// a journal, 1 to 5 ms each on a busy machine.
    fn run_file(&self, suffix: &str) -> Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix(&self.run_prefix())
            .suffix(suffix)
            .tempfile_in(&self.state_dir)
            .map_err(|e| Error::io("create a run file in", &self.state_dir, e))
    }

    /// The directory every run mounts its root on: one for all, since each run mounts in a
    /// mount namespace of its own, where nobody else sees the mount (the host sees an empty
    /// directory). A directory per run would cost its removal after each run.
    fn mount_point(&self) -> Result<PathBuf> {
        let dir = self.state_dir.join(MOUNT_POINT);
        match fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(dir),
            Err(e) => Err(Error::io("create the mount point", &dir, e)),
        }
    }

    /// Remove the run directories (`run-<pid>-*`) whose process is gone, as after `kill -9`,
    /// and their cgroups; a live process's runs are never touched. Run directories hold no
    /// mounts on the host side (every mount is in the run's own mount namespace), so removing
    /// one is removing files. Returns how many directories were removed.
    pub fn remove_stale_runs(&self) -> Result<usize> {
        let entries = match fs::read_dir(&self.state_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io("list", &self.state_dir, e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &self.state_dir, e))?;
            let name = entry.file_name();
            let Some(creator) = name.to_str().and_then(run_dir_creator) else {
                continue;
            };
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(creator), None)
                == Err(nix::errno::Errno::ESRCH)
            {
                let path = entry.path();
                let gone = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                gone.map_err(|e| Error::io("remove", &path, e))?;
                removed += 1;
            }
        }
        cgroup::remove_stale(run_dir_creator);
        Ok(removed)
    }

    /// Run `spec` to completion, streaming its output to `sink`.
    ///
    /// Returns `Ok` whenever the command started, whatever its exit status; `Err` when the spec
    /// is invalid, the user cannot be resolved, the sandbox could not be set up or the command
    /// could not be executed. Blocking: call it from `spawn_blocking` in async code.
    pub fn run(&self, spec: &RunSpec, sink: &mut dyn OutputSink) -> Result<RunOutcome> {
        spec.validate()?;
        privilege::check_privileges()?;
        let span = tracing::debug_span!("sandbox_run", argv = ?spec.argv, network = ?spec.network);
        let _enter = span.enter();

        let user = self::resolve_spec_user(spec)?;
        let root_mount = self.mount_point()?;
        let resolv_conf = self.run_file(".resolv.conf")?;
        let hosts = self.run_file(".hosts")?;
        write_etc_files(spec, &resolv_conf, &hosts)?;
        prepare_mount_sources(spec)?;
        let mut work_lock = None;
        let scaffold = match &spec.rootfs {
            Rootfs::Overlay(overlay) => {
                check_overlay_dirs(overlay)?;
                work_lock = Some(lock_work_dir(overlay.work())?);
                refuse_unfinished_work_dir(overlay)?;
                Some(Scaffold::for_spec(
                    &self.state_dir,
                    &self.run_prefix(),
                    spec,
                )?)
            }
            Rootfs::Directory(dir) => {
                create_dir_mount_points(dir, spec)?;
                None
            }
        };

        let pipes = Pipes::new()?;
        let pids = PidsCgroup::acquire(spec.pids_limit)?;
        let network = match spec.network {
            NetworkMode::Private => Some(self.shared_network()?),
            NetworkMode::Host | NetworkMode::None => None,
        };
        let steps = build_plan(&PlanInput {
            spec,
            root_mount: &root_mount,
            scaffold: scaffold.as_ref().map(Scaffold::path),
            resolv_conf: resolv_conf.path(),
            hosts: hosts.path(),
            user: &user,
            stdio: pipes.child_stdio(),
            go: pipes.child_go(),
            cgroup_tasks: pids.as_ref().and_then(PidsCgroup::child_joins),
            netns: network.as_ref().map(|n| n.netns()),
            seccomp: &seccomp::filters()?.programs,
            last_cap: caps::last_cap(),
        })?;
        let finished = spawn_and_supervise(
            &steps,
            Attach {
                new_network: spec.network == NetworkMode::None,
                network: network.as_deref(),
                pids,
            },
            pipes,
            spec.timeout,
            spec.tail_bytes,
            sink,
        );
        // Whether or not supervision failed, the child has been reaped by now.
        if let Rootfs::Overlay(overlay) = &spec.rootfs {
            clear_volatile_marker(overlay.work())?;
        }
        let finished = finished?;
        drop((work_lock, network));
        if let Some(failure) = finished.setup_failure {
            return Err(match steps.get(failure.step).map(|s| &s.action) {
                Some(Action::Exec(exec)) => Error::Exec {
                    program: spec.argv[0].clone(),
                    searched: exec
                        .candidates
                        .iter()
                        .map(|c| c.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(", "),
                    source: failure.errno,
                },
                step => Error::Setup {
                    step: step.map_or_else(
                        || "unknown step".to_owned(),
                        |_| steps[failure.step].what.clone(),
                    ),
                    source: failure.errno,
                },
            });
        }
        tracing::debug!(status = %finished.status, duration = ?finished.duration, "sandbox run finished");
        Ok(RunOutcome {
            status: finished.status,
            stdout_tail: finished.stdout_tail,
            stderr_tail: finished.stderr_tail,
            timed_out: finished.timed_out,
            duration: finished.duration,
        })
    }
}

/// The mount point of every run's root, in the state directory.
const MOUNT_POINT: &str = "root";

/// Run directories are `run-<pid of the creating process>-<random>`.
const RUN_DIR_PREFIX: &str = "run-";

/// The pid in a run directory's name (`None` for other names).
fn run_dir_creator(name: &str) -> Option<i32> {
    let (pid, _) = name.strip_prefix(RUN_DIR_PREFIX)?.split_once('-')?;
    pid.parse().ok().filter(|pid| *pid > 0)
}

fn read_text(spec: &RunSpec, path: &str) -> Result<String> {
    let bytes = rootfs_read::read_rootfs_file(&spec.rootfs, path)?.unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| Error::RootfsFile {
        path: path.into(),
        reason: "not valid UTF-8".into(),
    })
}

fn resolve_spec_user(spec: &RunSpec) -> Result<ResolvedUser> {
    let passwd = read_text(spec, "/etc/passwd")?;
    let group = read_text(spec, "/etc/group")?;
    resolve_user_with(
        &spec.user,
        &spec.extra_groups,
        (&passwd, &group),
        spec.supplementary_groups,
    )
}

/// Writes a run file whole (the child reads it only after the parent has written it) and lets
/// every user read it, as `/etc/resolv.conf` and `/etc/hosts` are.
fn write_run_file(file: &tempfile::NamedTempFile, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let path = file.path();
    file.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("set the mode of", path, e))?;
    file.as_file()
        .write_all(contents)
        .map_err(|e| Error::io("write", path, e))
}

/// `/etc/resolv.conf` and `/etc/hosts` for the sandbox: bind-mounted over the rootfs's own, so
/// they never end up in the upper directory.
fn write_etc_files(
    spec: &RunSpec,
    resolv_conf: &tempfile::NamedTempFile,
    hosts: &tempfile::NamedTempFile,
) -> Result<()> {
    let host_resolv = match spec.network {
        NetworkMode::Host => fs::read("/etc/resolv.conf").unwrap_or_default(),
        NetworkMode::Private => {
            network::resolv_conf(&fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
                .into_bytes()
        }
        NetworkMode::None => Vec::new(),
    };
    write_run_file(resolv_conf, &host_resolv)?;
    // BuildKit's form: the hostname on the loopback line.
    let hosts_text = format!(
        "127.0.0.1\tlocalhost {}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        spec.hostname
    );
    write_run_file(hosts, hosts_text.as_bytes())
}

/// Bind sources must exist; cache directories are created and given their owner on first use.
fn prepare_mount_sources(spec: &RunSpec) -> Result<()> {
    for m in spec.mounts() {
        match m.kind() {
            MountKind::Bind => {
                if !m.source().exists() {
                    return Err(Error::InvalidSpec(format!(
                        "bind mount source `{}` does not exist on the host",
                        m.source().display()
                    )));
                }
            }
            MountKind::Cache { uid, gid, mode } => {
                if !m.source().exists() {
                    fs::create_dir_all(m.source())
                        .map_err(|e| Error::io("create the cache directory", m.source(), e))?;
                    nix::unistd::chown(
                        m.source(),
                        Some(nix::unistd::Uid::from_raw(*uid)),
                        Some(nix::unistd::Gid::from_raw(*gid)),
                    )
                    .map_err(|e| Error::io("chown the cache directory", m.source(), e.into()))?;
                    fs::set_permissions(
                        m.source(),
                        std::os::unix::fs::PermissionsExt::from_mode(*mode),
                    )
                    .map_err(|e| Error::io("chmod the cache directory", m.source(), e))?;
                }
            }
            MountKind::Tmpfs { .. } => {}
        }
    }
    Ok(())
}

/// Lower layers must exist; upper and work are created when missing and must share a filesystem.
fn check_overlay_dirs(overlay: &OverlayRootfs) -> Result<()> {
    for lower in overlay.lower() {
        if !lower.is_dir() {
            return Err(Error::InvalidSpec(format!(
                "overlay lower directory `{}` does not exist",
                lower.display()
            )));
        }
    }
    let mut devices = Vec::new();
    for dir in [overlay.upper(), overlay.work()] {
        fs::create_dir_all(dir).map_err(|e| Error::io("create the overlay directory", dir, e))?;
        devices.push(
            fs::metadata(dir)
                .map_err(|e| Error::io("inspect", dir, e))?
                .dev(),
        );
    }
    if devices[0] != devices[1] {
        return Err(Error::InvalidSpec(format!(
            "overlay upper `{}` and work `{}` must be on the same filesystem",
            overlay.upper().display(),
            overlay.work().display()
        )));
    }
    Ok(())
}

/// The run's child is reaped, so its mount namespace and with it the overlay are gone: the
/// work directory can be used again (see [`VOLATILE_MARKER`]).
fn clear_volatile_marker(work: &Path) -> Result<()> {
    let marker = work.join(VOLATILE_MARKER);
    match fs::remove_dir_all(&marker) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove overlayfs's volatile marker", &marker, e)),
    }
}

/// A work directory still marked `volatile` while its lock is free was used by a run that
/// never finished (see [`VOLATILE_MARKER`]); overlayfs would refuse it with a bare `EINVAL`.
fn refuse_unfinished_work_dir(overlay: &OverlayRootfs) -> Result<()> {
    if overlay.work().join(VOLATILE_MARKER).exists() {
        return Err(Error::InvalidSpec(format!(
            "overlay work directory `{}` holds the mark of an earlier run that did not finish (its process or the host stopped during it), so its upper directory `{}` may be incomplete; give the run fresh upper and work directories",
            overlay.work().display(),
            overlay.upper().display()
        )));
    }
    Ok(())
}

/// Two overlays must never share an upper/work pair; hold an exclusive lock on the work dir
/// (works across processes) for the whole run.
fn lock_work_dir(work: &Path) -> Result<nix::fcntl::Flock<fs::File>> {
    let dir =
        fs::File::open(work).map_err(|e| Error::io("open the overlay work directory", work, e))?;
    nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            Error::InvalidSpec(format!(
                "overlay work directory `{}` is in use by another sandbox run; give each concurrent run its own upper and work directories",
                work.display()
            ))
        } else {
            Error::io("lock the overlay work directory", work, errno.into())
        }
    })
}

/// For a plain directory rootfs, create missing mount points in place. Walks component by
/// component without following symlinks; stops at a symlink (the child resolves it inside the
/// root and reports a missing target).
fn create_dir_mount_points(root: &Path, spec: &RunSpec) -> Result<()> {
    let mut wanted: Vec<(PathBuf, MountPointKind)> = crate::scaffold::SYSTEM_MOUNT_POINTS
        .iter()
        .map(|mp| (PathBuf::from(mp.path), mp.kind))
        .collect();
    for m in spec.mounts() {
        wanted.push((relative_target(m.target())?, mount_point_kind(m.source())));
    }
    let root_dev = fs::metadata(root)
        .map_err(|e| Error::io("inspect the rootfs", root, e))?
        .dev();
    'targets: for (rel, kind) in wanted {
        let components: Vec<Component<'_>> = rel.components().collect();
        let mut current = root.to_path_buf();
        for (i, c) in components.iter().enumerate() {
            current.push(c);
            let last = i + 1 == components.len();
            match fs::symlink_metadata(&current) {
                Ok(m) if m.file_type().is_symlink() || m.dev() != root_dev => continue 'targets,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let made = if last && kind == MountPointKind::File {
                        fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&current)
                            .map(drop)
                    } else {
                        fs::create_dir(&current)
                    };
                    made.map_err(|e| Error::io("create the mount point", &current, e))?;
                }
                Err(e) => return Err(Error::io("inspect", &current, e)),
            }
        }
    }
    Ok(())
}
