//! Running commands in an image: `plinth run` and the catalog's sanity checks.
//!
//! A [`RunSession`] stacks the image's snapshots under one private upper directory: commands of
//! the same session see each other's changes (a check that writes a file and reads it back as
//! another user), [`RunSession::reset`] returns to the pristine image, and dropping the session
//! deletes the upper. The image itself is never changed. Commands run directly (no shell, no
//! entrypoint) with the image's env, user and workdir unless [`RunOptions`] override them.

use std::fs;
use std::path::PathBuf;

use plinth_oci::image::resolve_manifest;
use plinth_oci::{Descriptor, Digest, ImageConfig, Platform};
use plinth_recipe::ImageSource;
use plinth_sandbox::{
    MountSpec, NetworkMode, OutputSink, OutputStream, OverlayRootfs, Rootfs, RunSpec,
};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exec::config_user;
use crate::files::missing_dirs;
use crate::snapshot::remove_tree;

/// How to run one command.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The user (`name`, `uid`, `user:group`); the image's when `None`.
    pub user: Option<String>,
    /// Variables added to (or replacing those of) the image environment.
    pub env: Vec<(String, String)>,
    /// The working directory; the image's (or `/`) when `None`. Created when missing.
    pub workdir: Option<String>,
    /// The network (default: a network namespace of the run's own with outbound access).
    pub network: NetworkMode,
    /// Bind and cache mounts.
    pub mounts: Vec<MountSpec>,
    /// Keep all of stdout and stderr in [`RunOutput`] (otherwise only their last 64 KiB).
    pub capture: bool,
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutput {
    /// The exit code (`128 + signal` when killed by a signal).
    pub exit_code: i32,
    /// Its stdout (all of it with [`RunOptions::capture`], else the tail).
    pub stdout: Vec<u8>,
    /// Its stderr (all of it with [`RunOptions::capture`], else the tail).
    pub stderr: Vec<u8>,
}

impl RunOutput {
    /// Whether the command exited with 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A throwaway container of one image on one platform (see the module docs).
#[derive(Debug)]
pub struct RunSession {
    engine: Engine,
    platform: Platform,
    config: ImageConfig,
    layers: Vec<(Descriptor, Digest)>,
    dir: tempfile::TempDir,
    /// Keeps `Engine::gc` away from the snapshots this session stacks.
    _lock: plinth_oci::store::StoreLock,
}

struct Capture<'a> {
    inner: &'a mut dyn OutputSink,
    keep: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl OutputSink for Capture<'_> {
    fn on_output(&mut self, stream: OutputStream, chunk: &[u8]) {
        if self.keep {
            match stream {
                OutputStream::Stdout => self.stdout.extend_from_slice(chunk),
                OutputStream::Stderr => self.stderr.extend_from_slice(chunk),
            }
        }
        self.inner.on_output(stream, chunk);
    }
}

impl Engine {
    /// Opens a session on `image` (an index or a manifest in the store) for `platform`.
    pub fn open_image(&self, image: &Descriptor, platform: &Platform) -> Result<RunSession> {
        crate::platform::check_platform(platform)?;
        let store = &self.inner.store;
        let (manifest_desc, manifest) = resolve_manifest(store, image, Some(platform))?;
        let root = crate::resolve::read_image(store, manifest_desc, &manifest, false)?;
        self.session(root.config, root.layers, platform)
    }

    /// Opens a session on an image source (pulled or imported into the store first).
    pub fn open_source(&self, source: &ImageSource, platform: &Platform) -> Result<RunSession> {
        crate::platform::check_platform(platform)?;
        let root = crate::resolve::resolve_root(&self.inner, source, platform)?;
        self.session(root.config, root.layers, platform)
    }

    fn session(
        &self,
        config: ImageConfig,
        layers: Vec<(Descriptor, Digest)>,
        platform: &Platform,
    ) -> Result<RunSession> {
        let lock = self.inner.store.lock_shared()?;
        let dir = self.inner.snapshots.step_dir()?;
        let upper = dir.path().join("u");
        fs::create_dir(&upper).map_err(|e| Error::io("create", &upper, e))?;
        Ok(RunSession {
            engine: self.clone(),
            platform: platform.clone(),
            config,
            layers,
            dir,
            _lock: lock,
        })
    }

    /// Runs `argv` once in `image` for `platform`, in a throwaway upper deleted afterwards.
    pub fn run(
        &self,
        image: &Descriptor,
        platform: &Platform,
        argv: &[String],
        options: &RunOptions,
        sink: &mut dyn OutputSink,
    ) -> Result<RunOutput> {
        self.open_image(image, platform)?.run(argv, options, sink)
    }
}

impl RunSession {
    /// The image config (env, user, workdir, labels…).
    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    /// The platform.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    pub(crate) fn upper(&self) -> PathBuf {
        self.dir.path().join("u")
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn layers(&self) -> &[(Descriptor, Digest)] {
        &self.layers
    }

    /// Throws away every change made by earlier commands of this session.
    pub fn reset(&mut self) -> Result<()> {
        let upper = self.upper();
        remove_tree(&upper);
        fs::create_dir(&upper).map_err(|e| Error::io("create", &upper, e))
    }

    /// Runs `argv` and streams its output to `sink`. A non-zero exit is not an error.
    pub fn run(
        &self,
        argv: &[String],
        options: &RunOptions,
        sink: &mut dyn OutputSink,
    ) -> Result<RunOutput> {
        let inner = &self.engine.inner;
        let lowers = inner.snapshots.lowers(&self.layers)?;
        let upper = self.upper();
        let work = self.dir.path().join("w");
        remove_tree(&work);
        fs::create_dir(&work).map_err(|e| Error::io("create", &work, e))?;
        let runtime = self.config.config.clone().unwrap_or_default();
        let workdir = options
            .workdir
            .clone()
            .or(runtime.working_dir.clone())
            .filter(|w| !w.is_empty())
            .map(|w| plinth_recipe::state::normalize_path(&w))
            .unwrap_or_else(|| "/".to_owned());
        let read_dirs = inner.snapshots.read_dirs(&self.layers)?;
        if let Ok(missing) = missing_dirs(&read_dirs, &workdir, 0) {
            for rel in missing {
                let dir = upper.join(&rel);
                if !dir.exists() {
                    fs::create_dir(&dir).map_err(|e| Error::io("create the workdir", &dir, e))?;
                }
            }
        }
        let user_text = options.user.clone().or(runtime.user.clone());
        let user = config_user(user_text.as_deref()).map_err(|source| Error::Owner {
            index: 0,
            owner: user_text.clone().unwrap_or_default(),
            source: Box::new(source),
        })?;
        let mut spec = RunSpec::new(
            Rootfs::Overlay(OverlayRootfs::new(lowers, &upper, &work)),
            argv.iter().cloned(),
        )
        .with_cwd(&workdir)
        .with_user(user)
        .with_network(options.network);
        for (name, value) in self
            .config
            .env()
            .into_iter()
            .chain(options.env.iter().cloned())
        {
            spec = spec.with_env(name, value);
        }
        for mount in &options.mounts {
            spec = spec.with_mount(mount.clone());
        }
        let spec = crate::trust::with_host_trust(spec, inner.step_ca_bundle.as_deref());
        let mut capture = Capture {
            inner: sink,
            keep: options.capture,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let outcome = inner.sandbox.run(&spec, &mut capture);
        remove_tree(&work);
        let outcome = outcome.map_err(|source| Error::Sandbox {
            what: format!("`{}`", serde_json::to_string(argv).unwrap_or_default()),
            source: Box::new(source),
        })?;
        let (stdout, stderr) = if options.capture {
            (capture.stdout, capture.stderr)
        } else {
            (outcome.stdout_tail, outcome.stderr_tail)
        };
        Ok(RunOutput {
            exit_code: outcome.status.code(),
            stdout,
            stderr,
        })
    }

    /// Runs `argv` as `user` (the image's when `None`) with extra `env`, capturing its output:
    /// the shape of the catalog's `CommandRunner`.
    pub fn run_command(
        &self,
        argv: &[String],
        user: Option<&str>,
        env: &[(String, String)],
    ) -> Result<RunOutput> {
        let options = RunOptions {
            user: user.map(str::to_owned),
            env: env.to_vec(),
            capture: true,
            ..RunOptions::default()
        };
        self.run(argv, &options, &mut plinth_sandbox::DiscardOutput)
    }
}
