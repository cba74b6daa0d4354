//! The immutable [`Container`] builder.

use std::fmt;
use std::sync::Arc;

use plinth_oci::Platform;
use serde::{Deserialize, Serialize};

use crate::debian::DebianRoot;
use crate::error::{Error, Result};
use crate::op::{DirectorySource, ExecOptions, FileOptions, FileSource, Op};
use crate::setting::{HealthCheck, ImageSetting};
use crate::source::ImageSource;
use crate::state::{CacheOptions, ContainerState, Steps};

mod validate;

use validate::validate_into;

/// An immutable chain of operations. Every `with_*` method returns a new container and leaves
/// `self` untouched, so a partial recipe can be shared by several variants.
///
/// A container without a [`from`](Container::from) starts from an empty filesystem (scratch).
/// The platform is not part of the container: recipes take it as a parameter and the engine
/// builds for it. The exception is a stage pinned to a platform of its own
/// ([`with_platform`](Container::with_platform), a Dockerfile's `FROM --platform=…`): its steps
/// run on that platform whatever the build's is, as BuildKit builds a cross-compiling stage.
///
/// ```
/// use plinth_recipe::{Container, FileOptions, FileSource};
///
/// let base = Container::from_address("docker.io/python:3.10.14-slim-bookworm").unwrap()
///     .with_exec(["ln", "-snf", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime"])
///     .with_env("PIP_CACHE_DIR", "/custom_cache/pip");
/// let app = base.with_workdir("/airbyte")
///     .with_file_opts("base.sh", FileSource::url("https://example.invalid/base.sh"), FileOptions::new().owner("airbyte"));
/// assert_eq!(base.ops().len(), 3);
/// assert_eq!(app.ops().len(), 5);
/// assert_eq!(base.dockerfile_example(), "FROM docker.io/python:3.10.14-slim-bookworm\n\
///     RUN ln -snf /usr/share/zoneinfo/Etc/UTC /etc/localtime\nENV PIP_CACHE_DIR=/custom_cache/pip");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    ops: Arc<[Op]>,
    /// The platform this container's steps run on when it is not the build's; absent (and not
    /// serialized, so recipe digests stay) for the usual container built for every platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<Platform>,
}

impl Container {
    /// An empty container (scratch).
    pub fn new() -> Self {
        Self::default()
    }

    /// A container from a list of operations.
    pub fn from_ops(ops: impl IntoIterator<Item = Op>) -> Self {
        Self {
            ops: ops.into_iter().collect(),
            platform: None,
        }
    }

    /// The container without its history entries ([`Op::History`]): what it builds, for
    /// comparing two readings of one recipe whose Dockerfiles differ in wording.
    /// Helper containers (`COPY --from`, mounts and cache seeds from a stage) lose theirs too.
    pub fn without_history(&self) -> Self {
        self.with_ops(self.ops.iter().filter_map(|op| match op {
            Op::History { .. } => None,
            other => Some(other.map_helpers(Container::without_history)),
        }))
    }

    /// How many steps an executor reports: the operations but the history entries.
    pub fn step_count(&self) -> usize {
        self.ops
            .iter()
            .filter(|op| !matches!(op, Op::History { .. }))
            .count()
    }

    /// Whether the container carries history entries of its own (a Dockerfile read).
    pub fn has_history(&self) -> bool {
        self.ops.iter().any(|op| matches!(op, Op::History { .. }))
    }

    /// A container with `ops` instead of this one's, on the same platform (a rewrite of its
    /// operations).
    pub fn with_ops(&self, ops: impl IntoIterator<Item = Op>) -> Self {
        Self {
            ops: ops.into_iter().collect(),
            platform: self.platform.clone(),
        }
    }

    /// The same container, its steps run on `platform` whatever platform the build is for
    /// (`FROM --platform=…`): a helper stage built there, or a final stage whose files come
    /// from there while the image is labelled with the build's platform, as BuildKit does.
    pub fn with_platform(&self, platform: Platform) -> Self {
        Self {
            ops: self.ops.clone(),
            platform: Some(platform),
        }
    }

    /// The platform set by [`with_platform`](Container::with_platform), if any.
    pub fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    /// The platform this container's steps run on in a build for `build_platform`.
    pub fn run_platform<'a>(&'a self, build_platform: &'a Platform) -> &'a Platform {
        self.platform.as_ref().unwrap_or(build_platform)
    }

    /// `Container::new().from(source)`.
    pub fn from_image(source: impl Into<ImageSource>) -> Self {
        Self::new().from(source)
    }

    /// A container whose root is made from Debian's archive (see [`DebianRoot`]):
    /// `Container::from_debian(DebianRoot::new("bookworm")?.with_packages(["python3"])?)`.
    pub fn from_debian(root: DebianRoot) -> Self {
        Self::from_image(root)
    }

    /// Parses `address` as an [`ImageSource`] and starts a container from it.
    pub fn from_address(address: &str) -> Result<Self> {
        Ok(Self::from_image(ImageSource::parse(address)?))
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Whether the container has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations with the state each one runs in.
    pub fn steps(&self) -> Steps<'_> {
        Steps::new(&self.ops)
    }

    /// The state after the last operation.
    pub fn final_state(&self) -> ContainerState {
        let mut state = ContainerState::new();
        for op in self.ops.iter() {
            state.apply(op);
        }
        state
    }

    /// A new container with `op` appended.
    pub fn with_op(&self, op: Op) -> Self {
        let mut ops = Vec::with_capacity(self.ops.len() + 1);
        ops.extend(self.ops.iter().cloned());
        ops.push(op);
        Self {
            ops: ops.into(),
            platform: self.platform.clone(),
        }
    }

    /// Replaces the filesystem and config with those of an image.
    pub fn from(&self, source: impl Into<ImageSource>) -> Self {
        self.with_op(Op::From {
            source: source.into(),
        })
    }

    /// Runs a command (no shell).
    pub fn with_exec<I, S>(&self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_exec_opts(argv, ExecOptions::default())
    }

    /// Runs a command with options.
    pub fn with_exec_opts<I, S>(&self, argv: I, options: ExecOptions) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_op(Op::Exec {
            argv: argv.into_iter().map(Into::into).collect(),
            network: options.network,
            env: options.env,
            mounts: options.mounts,
        })
    }

    /// Sets an env var (literal value).
    pub fn with_env(&self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_op(Op::Env {
            name: name.into(),
            value: value.into(),
        })
    }

    /// Sets a label.
    pub fn with_label(&self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_op(Op::Label {
            name: name.into(),
            value: value.into(),
        })
    }

    /// Sets an image setting (ports, volumes, health check, …; see [`ImageSetting`]).
    pub fn with_setting(&self, setting: ImageSetting) -> Self {
        self.with_op(Op::Config { setting })
    }

    /// Exposes ports (`80/tcp`, `53/udp`).
    pub fn with_exposed_ports<I, S>(&self, ports: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_setting(ImageSetting::Expose {
            ports: ports.into_iter().map(Into::into).collect(),
        })
    }

    /// Declares volumes.
    pub fn with_volumes<I, S>(&self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_setting(ImageSetting::Volume {
            paths: paths.into_iter().map(Into::into).collect(),
        })
    }

    /// Sets the health check.
    pub fn with_healthcheck(&self, check: HealthCheck) -> Self {
        self.with_setting(ImageSetting::Healthcheck { check })
    }

    /// Sets the stop signal.
    pub fn with_stop_signal(&self, signal: impl Into<String>) -> Self {
        self.with_setting(ImageSetting::StopSignal {
            signal: signal.into(),
        })
    }

    /// Adds an ONBUILD trigger.
    pub fn with_onbuild(&self, trigger: impl Into<String>) -> Self {
        self.with_setting(ImageSetting::OnBuild {
            trigger: trigger.into(),
        })
    }

    /// Sets the image's shell (the config's `Shell`).
    pub fn with_shell<I, S>(&self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_setting(ImageSetting::Shell {
            argv: argv.into_iter().map(Into::into).collect(),
        })
    }

    /// Sets the image's author.
    pub fn with_author(&self, name: impl Into<String>) -> Self {
        self.with_setting(ImageSetting::Author { name: name.into() })
    }

    /// Sets the user.
    pub fn with_user(&self, user: impl Into<String>) -> Self {
        self.with_op(Op::User { user: user.into() })
    }

    /// Sets the workdir.
    pub fn with_workdir(&self, path: impl Into<String>) -> Self {
        self.with_op(Op::Workdir { path: path.into() })
    }

    /// Sets the entrypoint and clears the default arguments.
    pub fn with_entrypoint<I, S>(&self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_op(Op::Entrypoint {
            argv: argv.into_iter().map(Into::into).collect(),
        })
    }

    /// Sets the default arguments (CMD).
    pub fn with_default_args<I, S>(&self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_op(Op::DefaultArgs {
            argv: argv.into_iter().map(Into::into).collect(),
        })
    }

    /// Writes a file (owned by root, default mode).
    pub fn with_file(&self, path: impl Into<String>, source: FileSource) -> Self {
        self.with_file_opts(path, source, FileOptions::default())
    }

    /// Writes a file with an owner and/or mode.
    pub fn with_file_opts(
        &self,
        path: impl Into<String>,
        source: FileSource,
        options: FileOptions,
    ) -> Self {
        self.with_op(Op::File {
            path: path.into(),
            source,
            owner: options.owner,
            mode: options.mode,
        })
    }

    /// Merges a directory tree.
    pub fn with_directory(&self, path: impl Into<String>, source: DirectorySource) -> Self {
        self.with_directory_opts(path, source, FileOptions::default())
    }

    /// Merges a directory tree with an owner and/or mode for every entry.
    pub fn with_directory_opts(
        &self,
        path: impl Into<String>,
        source: DirectorySource,
        options: FileOptions,
    ) -> Self {
        self.with_op(Op::Directory {
            path: path.into(),
            source,
            owner: options.owner,
            mode: options.mode,
        })
    }

    /// Mounts a cache volume for all later execs (owned by root).
    pub fn with_mounted_cache(&self, path: impl Into<String>, volume: impl Into<String>) -> Self {
        self.with_op(Op::MountedCache {
            path: path.into(),
            volume: volume.into(),
            owner: None,
            options: CacheOptions::default(),
        })
    }

    /// Mounts a cache volume owned by `owner` for all later execs.
    pub fn with_mounted_cache_owned(
        &self,
        path: impl Into<String>,
        volume: impl Into<String>,
        owner: impl Into<String>,
    ) -> Self {
        self.with_op(Op::MountedCache {
            path: path.into(),
            volume: volume.into(),
            owner: Some(owner.into()),
            options: CacheOptions::default(),
        })
    }

    /// Mounts a cache volume for all later execs with BuildKit's `mode`, `sharing` and
    /// `readonly` options, owned by `owner` (root when `None`).
    pub fn with_mounted_cache_options(
        &self,
        path: impl Into<String>,
        volume: impl Into<String>,
        owner: Option<&str>,
        options: CacheOptions,
    ) -> Self {
        self.with_op(Op::MountedCache {
            path: path.into(),
            volume: volume.into(),
            owner: owner.map(str::to_owned),
            options,
        })
    }

    /// Stops mounting the cache at `path` for later execs.
    pub fn without_mounted_cache(&self, path: impl Into<String>) -> Self {
        self.with_op(Op::UnmountCache { path: path.into() })
    }

    /// Checks the rules of the operation model and lists every violation.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        validate_into(self, "", &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidRecipe { problems })
        }
    }

    /// The documentation view of the original tool (see [`crate::example`]).
    pub fn dockerfile_example(&self) -> String {
        crate::example::render_example(self)
    }
}

impl fmt::Debug for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(platform) = &self.platform {
            write!(f, "[{platform}] ")?;
        }
        f.debug_list().entries(self.ops.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_methods_leave_the_original_untouched() {
        let a = Container::new().with_env("A", "1");
        let b = a.with_env("B", "2");
        assert_eq!(a.ops().len(), 1);
        assert_eq!(b.ops().len(), 2);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(
            json,
            r#"{"ops":[{"op":"env","name":"A","value":"1"},{"op":"env","name":"B","value":"2"}]}"#
        );
        assert_eq!(serde_json::from_str::<Container>(&json).unwrap(), b);
    }

    #[test]
    fn a_platform_is_serialized_only_when_set_and_survives_new_steps() {
        let plain = Container::new().with_env("A", "1");
        let pinned = plain
            .with_platform(Platform::linux_arm64())
            .with_env("B", "2");
        assert_eq!(pinned.platform(), Some(&Platform::linux_arm64()));
        assert_eq!(
            pinned.with_ops(plain.ops().iter().cloned()).platform(),
            Some(&Platform::linux_arm64())
        );
        let json = serde_json::to_string(&pinned).unwrap();
        assert!(
            json.ends_with(r#""platform":{"architecture":"arm64","os":"linux"}}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Container>(&json).unwrap(), pinned);
        assert!(!serde_json::to_string(&plain).unwrap().contains("platform"));
        assert_ne!(pinned.with_ops(plain.ops().iter().cloned()), plain);
    }
}
