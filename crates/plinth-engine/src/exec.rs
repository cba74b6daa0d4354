//! Running an exec step: overlay of the current snapshots, sandboxed command, upper dir → layer.
//!
//! The step sees the image's env, user and workdir (created in the step's layer when the image
//! lacks it, as `docker build` does) and the active cache mounts from `<store>/caches/<volume>`.
//! Its upper directory, minus the sandbox's mount points, becomes the layer (gzip by default,
//! mtimes clamped to `SOURCE_DATE_EPOCH`) and then, renamed, the snapshot of that layer.
//!
//! A step that changed nothing stores no layer of its own; the image gets BuildKit's empty
//! layer for it when its history entry is written (`steps/history.rs`).

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use plinth_executor::BuildSecrets;
use plinth_oci::layer::store_upper_layer;
use plinth_oci::{Descriptor, Digest};
use plinth_recipe::{CacheMount, Network};
use plinth_sandbox::{
    MountSpec, NetworkMode, OutputSink, OutputStream, OverlayRootfs, Rootfs, RunSpec,
    SupplementaryGroups, UserSpec,
};

use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::exec_mounts::{Materialized, make_parents, materialize, remove_stubs};
use crate::files::missing_dirs;
use crate::merged::{self, Lookup};
use crate::state::ImageState;
use crate::step_context::StepContext;
use crate::steps::{PreparedMount, PreparedSeed};

/// Lines of output kept for the error of a failing step.
const TAIL_LINES: usize = 30;

/// The hostname a build step sees, BuildKit's.
const BUILD_HOSTNAME: &str = "buildkitsandbox";

/// Forwards output lines to the reporter and keeps the last lines.
pub(crate) struct LineSink<'a> {
    ctx: &'a StepContext<'a>,
    partial: [Vec<u8>; 2],
    tail: VecDeque<String>,
    /// Secret values replaced by `****` in every line reported or kept.
    redact: Vec<String>,
}

impl<'a> LineSink<'a> {
    pub(crate) fn new(ctx: &'a StepContext<'a>) -> Self {
        Self {
            ctx,
            partial: [Vec::new(), Vec::new()],
            tail: VecDeque::new(),
            redact: Vec::new(),
        }
    }

    /// Replaces these values in the output (the step's secrets).
    pub(crate) fn with_redactions(mut self, values: Vec<String>) -> Self {
        self.redact = values;
        self
    }

    fn emit(&mut self, line: &[u8]) {
        let text = plinth_executor::redact_line(&String::from_utf8_lossy(line), &self.redact);
        let text = text.trim_end_matches('\r');
        self.ctx
            .reporter
            .on_step_output(self.ctx.platform, self.ctx.index, text);
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(text.to_owned());
    }

    /// Flushes partial lines and returns the kept tail.
    pub(crate) fn finish(mut self) -> String {
        for i in 0..2 {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                self.emit(&rest);
            }
        }
        self.tail.into_iter().collect::<Vec<_>>().join("\n")
    }
}

impl OutputSink for LineSink<'_> {
    fn on_output(&mut self, stream: OutputStream, chunk: &[u8]) {
        let i = match stream {
            OutputStream::Stdout => 0,
            OutputStream::Stderr => 1,
        };
        self.partial[i].extend_from_slice(chunk);
        while let Some(pos) = self.partial[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[i].drain(..=pos).collect();
            self.emit(&line[..line.len() - 1]);
        }
    }
}

/// The sandbox user of an image config (`root` when unset).
pub(crate) fn config_user(user: Option<&str>) -> Result<UserSpec, plinth_sandbox::Error> {
    match user.filter(|u| !u.is_empty()) {
        Some(u) => u.parse(),
        None => Ok(UserSpec::root()),
    }
}

/// What an exec step runs.
pub(crate) struct ExecRequest<'a> {
    pub(crate) argv: &'a [String],
    pub(crate) network: Network,
    /// Build args (over the image env).
    pub(crate) build_env: &'a BTreeMap<String, String>,
    /// The cache mounts active for it.
    pub(crate) caches: &'a [CacheMount],
    /// The seeds of its seeded caches.
    pub(crate) seeds: &'a [PreparedSeed],
    /// Its own mounts.
    pub(crate) mounts: &'a [PreparedMount],
    pub(crate) secrets: &'a BuildSecrets,
    pub(crate) ssh: &'a plinth_executor::BuildSsh,
}

/// Runs the request on top of `state`; returns the layer it produced, if it changed anything.
pub(crate) fn run_exec(
    ctx: &StepContext<'_>,
    state: &ImageState,
    request: &ExecRequest<'_>,
) -> Result<Option<(Descriptor, Digest)>> {
    let engine = ctx.engine;
    if request.network == Network::Enabled && engine.network == NetworkMode::Private {
        // slirp4netns starts while the overlay is prepared.
        engine.sandbox.start_network_early();
    }
    let lowers = engine.snapshots.lowers(&state.layers)?;
    let read_dirs = engine.snapshots.read_dirs(&state.layers)?;
    // Upper and work are step directories of the snapshot store, so that the upper can be
    // renamed into place as the layer's snapshot; each directory is its own temp directory,
    // without a common parent: removing a directory can cost a few ms (a discard of its block
    // on some filesystems), so a step makes as few as it can.
    let upper_dir = engine.snapshots.step_dir()?;
    let work_dir = engine.snapshots.step_dir()?;
    let upper = upper_dir.path().to_path_buf();
    let work = work_dir.path();
    let runtime = state.config.config.clone().unwrap_or_default();
    let workdir = runtime
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .map(|w| plinth_recipe::state::normalize_path(&w))
        .unwrap_or_else(|| "/".to_owned());
    make_missing_workdir(&read_dirs, &upper, &workdir, ctx.index)?;

    let spec = RunSpec::new(
        Rootfs::Overlay(OverlayRootfs::new(lowers, &upper, work)),
        request.argv.iter().cloned(),
    )
    .with_cwd(&workdir);
    let spec = with_image_run_state(ctx, state, request, runtime.user.as_deref(), spec)?;
    // The locks of `locked` and `private` caches are held until the step is over.
    let (spec, _cache_locks) =
        crate::cache_mounts::with_caches(ctx, (request.caches, request.seeds), &read_dirs, spec)?;

    // The step's own mounts: scratch copies and secret files live until the run is over, and
    // the mount points made for them in the upper are removed after it.
    let scratch = match request.mounts {
        [] => None,
        _ => Some(engine.snapshots.step_dir()?),
    };
    let own = match &scratch {
        Some(dir) => materialize(
            request.mounts,
            (request.secrets, request.ssh),
            dir.path(),
            ctx.index,
        )?,
        None => Materialized::default(),
    };
    let targets: Vec<&Path> = own.mounts.iter().map(MountSpec::target).collect();
    let stubs = make_parents(&read_dirs, &upper, &targets)?;
    let mut spec = spec;
    for (name, value) in &own.env {
        spec = spec.with_env(name, value);
    }
    for mount in own.mounts {
        spec = spec.with_mount(mount);
    }
    let spec = crate::trust::with_host_trust(spec, engine.step_ca_bundle.as_deref());

    run_to_success(ctx, &spec, own.redact, request.argv)?;
    // The agent relays stop before the scratch directory holding their sockets goes.
    drop(own.agents);
    remove_mount_points(&upper, &spec.scaffold_paths());
    remove_stubs(&upper, &stubs);
    drop((scratch, work_dir));
    // Renamed into the snapshots when the step changed something; removed on drop otherwise.
    let layer = upper_to_layer(ctx, upper);
    drop(upper_dir);
    layer
}

/// A workdir step makes its directory; one still missing here (its step came before a
/// `from`-less recipe's first layer, or a later step removed it) is made root-owned in the
/// upper, which then holds the copied-up parents it needs.
fn make_missing_workdir(
    read_dirs: &[PathBuf],
    upper: &Path,
    workdir: &str,
    index: usize,
) -> Result<()> {
    // A workdir under a symlink or a file is left to fail in the sandbox, which names it.
    let Ok(missing) = missing_dirs(read_dirs, workdir, index) else {
        return Ok(());
    };
    if let Some(first) = missing.first() {
        copy_up_parents(read_dirs, upper, first)?;
    }
    for rel in missing {
        let dir = upper.join(&rel);
        fs::create_dir(&dir).map_err(|e| Error::io("create the workdir", &dir, e))?;
    }
    Ok(())
}

/// The image's user and env, the step's network and build args, as BuildKit's run state
/// gives them to a `RUN`.
fn with_image_run_state(
    ctx: &StepContext<'_>,
    state: &ImageState,
    request: &ExecRequest<'_>,
    image_user: Option<&str>,
    spec: RunSpec,
) -> Result<RunSpec> {
    let user = config_user(image_user).map_err(|source| Error::Owner {
        index: ctx.index,
        owner: image_user.unwrap_or_default().to_owned(),
        source: Box::new(source),
    })?;
    let network = match request.network {
        Network::Disabled => NetworkMode::None,
        Network::Enabled => ctx.engine.network,
        // Allowed or refused when the step was prepared.
        Network::Host => NetworkMode::Host,
    };
    // A RUN step sees what BuildKit's gives it: its hostname (also on /etc/hosts' loopback
    // line), its supplementary groups (no primary group of its own) and read-only
    // /etc/hosts and /etc/resolv.conf.
    let mut spec = spec
        .with_user(user)
        .with_network(network)
        .with_hostname(BUILD_HOSTNAME)
        .with_supplementary_groups(SupplementaryGroups::BuildKit)
        .with_read_only_network_files();
    for (name, value) in state.config.env() {
        if !request.build_env.contains_key(&name) {
            spec = spec.with_env(name, value);
        }
    }
    // Build args come after the image env and win over it, as in BuildKit's run state.
    for (name, value) in request.build_env {
        spec = spec.with_env(name, value);
    }
    Ok(spec)
}

/// Runs `spec` in the sandbox, its output (secrets redacted) to the reporter; a command that
/// does not succeed is an error holding the last lines of its output.
fn run_to_success(
    ctx: &StepContext<'_>,
    spec: &RunSpec,
    redact: Vec<String>,
    argv: &[String],
) -> Result<()> {
    let mut sink = LineSink::new(ctx).with_redactions(redact);
    let outcome = ctx.engine.sandbox.run(spec, &mut sink);
    let tail = sink.finish();
    let outcome = outcome.map_err(|source| Error::Sandbox {
        what: format!("step #{} `{}`", ctx.index + 1, ctx.description),
        source: Box::new(source),
    })?;
    if outcome.status.success() {
        return Ok(());
    }
    Err(Error::StepFailed {
        index: ctx.index,
        platform: ctx.platform.to_string(),
        argv: serde_json::to_string(argv).unwrap_or_default(),
        status: if outcome.timed_out {
            format!("{} (timed out)", outcome.status)
        } else {
            outcome.status.to_string()
        },
        exit_code: outcome.status.code(),
        tail,
    })
}

/// The upper directory as a stored layer, then renamed into the snapshot of that layer;
/// `None` when the step changed nothing.
fn upper_to_layer(ctx: &StepContext<'_>, upper: PathBuf) -> Result<Option<(Descriptor, Digest)>> {
    let engine = ctx.engine;
    let empty = fs::read_dir(&upper)
        .map_err(|e| Error::io("list", &upper, e))?
        .next()
        .is_none();
    if empty {
        return Ok(None);
    }
    let info = store_upper_layer(&engine.store, &upper, &engine.write_options()).map_err(|e| {
        match e {
            // What the step left that no layer can hold is the step's problem, named by it.
            plinth_oci::Error::UnsafeEntry { entry, reason } => Error::Step {
                index: ctx.index,
                reason: format!("it left `/{entry}`: {reason}"),
            },
            other => other.into(),
        }
    })?;
    let descriptor = Descriptor::new(
        engine.media_types.layer(info.compression),
        info.digest.clone(),
        info.size,
    );
    engine.snapshots.install(upper, &info.diff_id)?;
    Ok(Some((descriptor, info.diff_id)))
}

/// Creates in `upper` the parents of `rel` that only lower layers hold, with their owner and
/// mode, so a new directory can be made under a directory an earlier layer made (overlayfs
/// merges a plain upper directory with the lower one of the same path).
fn copy_up_parents(lower: &[PathBuf], upper: &Path, rel: &str) -> Result<()> {
    let mut so_far = String::new();
    let parents: Vec<&str> = rel.split('/').collect();
    for component in &parents[..parents.len().saturating_sub(1)] {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(component);
        let dir = upper.join(&so_far);
        if fs::symlink_metadata(&dir).is_ok() {
            continue;
        }
        let Lookup::Found(entry) = merged::lookup(lower, &format!("/{so_far}"))? else {
            continue;
        };
        fs::create_dir(&dir).map_err(|e| Error::io("create the workdir", &dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(entry.meta.mode() & 0o7777))
            .map_err(|e| Error::io("set the mode of", &dir, e))?;
        std::os::unix::fs::lchown(&dir, Some(entry.meta.uid()), Some(entry.meta.gid()))
            .map_err(|e| Error::io("set the owner of", &dir, e))?;
    }
    Ok(())
}

/// Removes mount points the sandbox had to create in the upper directory (when the image hides
/// its scaffold); they are never part of the step's changes. Only empty ones are removed.
fn remove_mount_points(upper: &Path, paths: &[PathBuf]) {
    for rel in paths {
        let path = upper.join(rel);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let removed = if meta.is_dir() {
            fs::remove_dir(&path)
        } else if meta.is_file() && meta.len() == 0 {
            fs::remove_file(&path)
        } else {
            continue;
        };
        if let Err(e) = removed {
            tracing::debug!(path = %path.display(), error = %e, "mount point kept in the layer");
        }
    }
}

/// Starts the network of private-network steps ahead of a build that will run its exec steps
/// whatever the cache holds (`--no-cache`), so slirp4netns comes up while the root is resolved
/// and unpacked. A cached build does not start it before a step misses: a fully cached
/// rebuild never needs it.
pub(crate) fn start_network_ahead_of(engine: &Inner, container: &plinth_recipe::Container) {
    let needs_network = container.steps().any(|step| {
        matches!(
            step.op,
            plinth_recipe::Op::Exec {
                network: Network::Enabled,
                ..
            }
        )
    });
    if needs_network && engine.network == NetworkMode::Private {
        engine.sandbox.start_network_early();
    }
}
