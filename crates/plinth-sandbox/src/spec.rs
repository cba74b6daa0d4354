//! What to run and how: [`RunSpec`] and the types it is made of.

use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::user::SupplementaryGroups;

/// The default size of the stdout and stderr tails kept in a [`RunOutcome`](crate::RunOutcome).
pub const DEFAULT_TAIL_BYTES: usize = 64 * 1024;

/// The default hostname seen inside the sandbox.
pub const DEFAULT_HOSTNAME: &str = "plinth";

/// `PATH` used to find argv\[0\] (and put into the environment) when the spec sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The root filesystem of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rootfs {
    /// An overlayfs stack: read-only lower directories plus a writable upper directory that
    /// receives exactly what the command changed (the layer diff).
    Overlay(OverlayRootfs),
    /// A plain directory used in place (writes go straight into it). Missing mount points are
    /// created in it; they are listed by [`RunSpec::scaffold_paths`].
    Directory(PathBuf),
}

/// An overlayfs root: `lower` top first, `upper` and `work` on the same filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayRootfs {
    lower: Vec<PathBuf>,
    upper: PathBuf,
    work: PathBuf,
}

impl OverlayRootfs {
    /// An overlay of `lower` (top first) with `upper` receiving changes and `work` as the
    /// overlayfs work directory (empty, on the same filesystem as `upper`).
    pub fn new(
        lower: impl IntoIterator<Item = impl Into<PathBuf>>,
        upper: impl Into<PathBuf>,
        work: impl Into<PathBuf>,
    ) -> Self {
        OverlayRootfs {
            lower: lower.into_iter().map(Into::into).collect(),
            upper: upper.into(),
            work: work.into(),
        }
    }

    /// The read-only layers, top first.
    pub fn lower(&self) -> &[PathBuf] {
        &self.lower
    }

    /// The directory that receives the changes.
    pub fn upper(&self) -> &Path {
        &self.upper
    }

    /// The overlayfs work directory.
    pub fn work(&self) -> &Path {
        &self.work
    }
}

/// Which network the command sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// A network namespace of the run's own with outbound access through a user-mode stack
    /// (`slirp4netns`): the default, like `docker build`'s RUN. The host's loopback services
    /// are out of reach and `CAP_NET_RAW` only sees the run's own traffic.
    #[default]
    Private,
    /// Share the host's network namespace (`--network=host`, an explicit opt-in): the command
    /// sees the host's interfaces and loopback services. `CAP_NET_RAW` is dropped.
    Host,
    /// A new, empty network namespace with only the loopback interface up.
    None,
}

impl FromStr for NetworkMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "default" | "private" => Ok(NetworkMode::Private),
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            other => Err(Error::InvalidSpec(format!(
                "network `{other}` is not one of `default`, `host` or `none`"
            ))),
        }
    }
}

/// The default limit on processes and threads of one run (`pids.max` of its cgroup).
pub const DEFAULT_PIDS_LIMIT: u32 = 4096;

/// Who the command runs as, as written in a Dockerfile `USER`: `name`, `uid`, `uid:gid`,
/// `name:group`, `uid:group` or `name:gid`. Names are looked up in the rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    user: IdOrName,
    group: Option<IdOrName>,
}

/// A numeric id or a name to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    /// A numeric id, used as is.
    Id(u32),
    /// A name, looked up in `/etc/passwd` or `/etc/group` of the rootfs.
    Name(String),
}

impl IdOrName {
    fn parse(s: &str) -> Self {
        match s.parse::<u32>() {
            Ok(id) => IdOrName::Id(id),
            Err(_) => IdOrName::Name(s.to_owned()),
        }
    }
}

impl UserSpec {
    /// The root user.
    pub fn root() -> Self {
        UserSpec {
            user: IdOrName::Id(0),
            group: None,
        }
    }

    /// The user part.
    pub fn user(&self) -> &IdOrName {
        &self.user
    }

    /// The group part, if given.
    pub fn group(&self) -> Option<&IdOrName> {
        self.group.as_ref()
    }
}

impl FromStr for UserSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (user, group) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        if user.is_empty() || group.is_some_and(str::is_empty) || s.contains(['\n', '\0']) {
            return Err(Error::InvalidSpec(format!(
                "user `{s}` is not of the form `user`, `uid`, `user:group` or `uid:gid`"
            )));
        }
        Ok(UserSpec {
            user: IdOrName::parse(user),
            group: group.map(IdOrName::parse),
        })
    }
}

/// What a [`MountSpec`] mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// Bind-mount an existing host file or directory.
    Bind,
    /// A persistent cache directory, created on first use and then owned by `uid:gid` with
    /// `mode`.
    Cache {
        /// Owner applied when the directory is created.
        uid: u32,
        /// Group applied when the directory is created.
        gid: u32,
        /// Permission bits applied when the directory is created.
        mode: u32,
    },
    /// An empty tmpfs (mode 1777, as BuildKit's); the source is unused.
    Tmpfs {
        /// Size limit in bytes (the kernel's default when absent).
        size: Option<u64>,
    },
}

/// A host path made visible at an absolute path inside the sandbox. It never shows up in the
/// upper directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    source: PathBuf,
    target: PathBuf,
    readonly: bool,
    kind: MountKind,
}

impl MountSpec {
    /// Bind-mount host `source` (file or directory) at `target`, read-write.
    pub fn bind(source: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        MountSpec {
            source: source.into(),
            target: target.into(),
            readonly: false,
            kind: MountKind::Bind,
        }
    }

    /// A cache directory at host `source` (created with owner `uid:gid` and mode `0755` on
    /// first use), mounted read-write at `target`.
    pub fn cache(
        source: impl Into<PathBuf>,
        target: impl Into<PathBuf>,
        uid: u32,
        gid: u32,
    ) -> Self {
        MountSpec {
            source: source.into(),
            target: target.into(),
            readonly: false,
            kind: MountKind::Cache {
                uid,
                gid,
                mode: 0o755,
            },
        }
    }

    /// The mode a cache directory is created with (no effect on other mounts).
    pub fn with_cache_mode(mut self, new_mode: u32) -> Self {
        if let MountKind::Cache { mode, .. } = &mut self.kind {
            *mode = new_mode & 0o7777;
        }
        self
    }

    /// An empty tmpfs at `target`, gone when the command ends.
    pub fn tmpfs(target: impl Into<PathBuf>, size: Option<u64>) -> Self {
        MountSpec {
            source: PathBuf::from("/"),
            target: target.into(),
            readonly: false,
            kind: MountKind::Tmpfs { size },
        }
    }

    /// Make the mount read-only (or not).
    pub fn with_readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// The host path.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The absolute path inside the sandbox.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Whether the mount is read-only.
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// Bind or cache.
    pub fn kind(&self) -> &MountKind {
        &self.kind
    }
}

/// Everything about one sandboxed command. Build it with [`RunSpec::new`] and the `with_*`
/// methods.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub(crate) rootfs: Rootfs,
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: PathBuf,
    pub(crate) user: UserSpec,
    pub(crate) extra_groups: Vec<IdOrName>,
    pub(crate) supplementary_groups: SupplementaryGroups,
    pub(crate) hostname: String,
    pub(crate) network_files_readonly: bool,
    pub(crate) network: NetworkMode,
    pub(crate) mounts: Vec<MountSpec>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) tail_bytes: usize,
    pub(crate) pids_limit: u32,
}

impl RunSpec {
    /// Run `argv` (no shell: argv\[0\] is looked up in `PATH` inside the rootfs) in `rootfs`, as
    /// root, in `/`, with an empty environment apart from `PATH` and `HOME`.
    pub fn new(rootfs: Rootfs, argv: impl IntoIterator<Item = impl Into<String>>) -> Self {
        RunSpec {
            rootfs,
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            user: UserSpec::root(),
            extra_groups: Vec::new(),
            supplementary_groups: SupplementaryGroups::DockerRun,
            hostname: DEFAULT_HOSTNAME.to_owned(),
            network_files_readonly: false,
            network: NetworkMode::Private,
            mounts: Vec::new(),
            timeout: None,
            tail_bytes: DEFAULT_TAIL_BYTES,
            pids_limit: DEFAULT_PIDS_LIMIT,
        }
    }

    /// Add (or replace) one environment variable.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.env.push((key, value)),
        }
        self
    }

    /// Set the working directory (absolute, must exist in the rootfs).
    pub fn with_cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = cwd.into();
        self
    }

    /// Run as `user`.
    pub fn with_user(mut self, user: UserSpec) -> Self {
        self.user = user;
        self
    }

    /// Add a supplementary group (numeric gid or a name from the rootfs's `/etc/group`).
    pub fn with_extra_group(mut self, group: &str) -> Self {
        self.extra_groups.push(IdOrName::parse(group));
        self
    }

    /// Which supplementary groups the user gets (`docker run`'s unless set).
    pub fn with_supplementary_groups(mut self, rule: SupplementaryGroups) -> Self {
        self.supplementary_groups = rule;
        self
    }

    /// Set the hostname seen inside the sandbox.
    pub fn with_hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = hostname.into();
        self
    }

    /// Mount `/etc/hosts` and `/etc/resolv.conf` read-only, as BuildKit mounts them in a
    /// build step (`docker run` mounts them writable, the default here).
    pub fn with_read_only_network_files(mut self) -> Self {
        self.network_files_readonly = true;
        self
    }

    /// Choose the network.
    pub fn with_network(mut self, network: NetworkMode) -> Self {
        self.network = network;
        self
    }

    /// Add a bind or cache mount.
    pub fn with_mount(mut self, mount: MountSpec) -> Self {
        self.mounts.push(mount);
        self
    }

    /// Kill the whole sandbox after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Allow at most `limit` processes and threads at a time (default
    /// [`DEFAULT_PIDS_LIMIT`]); `fork` fails with `EAGAIN` beyond it.
    pub fn with_pids_limit(mut self, limit: u32) -> Self {
        self.pids_limit = limit;
        self
    }

    /// Keep the last `bytes` of stdout and stderr in the outcome.
    pub fn with_tail_bytes(mut self, bytes: usize) -> Self {
        self.tail_bytes = bytes;
        self
    }

    /// The rootfs.
    pub fn rootfs(&self) -> &Rootfs {
        &self.rootfs
    }

    /// The command.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The environment, in order.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The mounts.
    pub fn mounts(&self) -> &[MountSpec] {
        &self.mounts
    }

    /// The paths (relative to the rootfs, without a leading `/`) that the sandbox mounts over:
    /// the fixed [`SYSTEM_MOUNT_POINTS`](crate::SYSTEM_MOUNT_POINTS) plus every mount target.
    ///
    /// For an overlay rootfs they are provided by a scaffold layer placed below the image
    /// layers, so normally they never appear in the upper directory; if the image hides the
    /// scaffold (a whiteout over `/proc`, say) the sandbox creates the mount point in the upper
    /// directory instead. Either way a layer writer must leave exactly these paths (the entries
    /// themselves, not their parents) out of the diff.
    pub fn scaffold_paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = crate::scaffold::SYSTEM_MOUNT_POINTS
            .iter()
            .map(|p| PathBuf::from(p.path))
            .collect();
        for m in &self.mounts {
            if let Ok(rel) = relative_target(&m.target) {
                paths.push(rel);
            }
        }
        paths
    }

    /// The network.
    pub fn network(&self) -> NetworkMode {
        self.network
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.pids_limit == 0 {
            return Err(Error::InvalidSpec(
                "the pids limit must allow at least the command itself (1 or more)".into(),
            ));
        }
        if self.argv.is_empty() || self.argv[0].is_empty() {
            return Err(Error::InvalidSpec("the command (argv) is empty".into()));
        }
        if !self.cwd.is_absolute() {
            return Err(Error::InvalidSpec(format!(
                "working directory `{}` is not absolute",
                self.cwd.display()
            )));
        }
        if self.hostname.is_empty() || self.hostname.len() > 64 {
            return Err(Error::InvalidSpec(format!(
                "hostname `{}` must be 1 to 64 bytes long",
                self.hostname
            )));
        }
        for (k, _) in &self.env {
            if k.is_empty() || k.contains('=') {
                return Err(Error::InvalidSpec(format!(
                    "environment variable name `{k}` is empty or contains `=`"
                )));
            }
        }
        for m in &self.mounts {
            relative_target(&m.target)?;
            if !m.source.is_absolute() {
                return Err(Error::InvalidSpec(format!(
                    "mount source `{}` is not an absolute host path",
                    m.source.display()
                )));
            }
        }
        if let Rootfs::Overlay(o) = &self.rootfs
            && o.lower.is_empty()
        {
            return Err(Error::InvalidSpec(
                "an overlay rootfs needs at least one lower directory".into(),
            ));
        }
        Ok(())
    }
}

/// `/a/b` → `a/b`, refusing relative paths and `..`.
pub(crate) fn relative_target(target: &Path) -> Result<PathBuf> {
    let mut rel = PathBuf::new();
    let mut absolute = false;
    for c in target.components() {
        match c {
            Component::RootDir => absolute = true,
            Component::CurDir => {}
            Component::Normal(n) => rel.push(n),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::InvalidSpec(format!(
                    "mount target `{}` must not contain `..`",
                    target.display()
                )));
            }
        }
    }
    if !absolute || rel.as_os_str().is_empty() {
        return Err(Error::InvalidSpec(format!(
            "mount target `{}` must be an absolute path below `/`",
            target.display()
        )));
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_spec_forms() {
        let u: UserSpec = "airbyte".parse().unwrap();
        assert_eq!(u.user(), &IdOrName::Name("airbyte".into()));
        assert_eq!(u.group(), None);
        let u: UserSpec = "1000:50".parse().unwrap();
        assert_eq!(u.user(), &IdOrName::Id(1000));
        assert_eq!(u.group(), Some(&IdOrName::Id(50)));
        let u: UserSpec = "app:staff".parse().unwrap();
        assert_eq!(u.group(), Some(&IdOrName::Name("staff".into())));
        assert!("".parse::<UserSpec>().is_err());
        assert!("a:".parse::<UserSpec>().is_err());
        assert!(":5".parse::<UserSpec>().is_err());
    }

    #[test]
    fn mount_targets_must_be_absolute_and_clean() {
        assert_eq!(
            relative_target(Path::new("/root/.cache")).unwrap(),
            PathBuf::from("root/.cache")
        );
        assert!(relative_target(Path::new("root")).is_err());
        assert!(relative_target(Path::new("/")).is_err());
        assert!(relative_target(Path::new("/a/../../etc")).is_err());
    }

    #[test]
    fn env_replaces_existing_key() {
        let spec = RunSpec::new(Rootfs::Directory("/r".into()), ["true"])
            .with_env("A", "1")
            .with_env("B", "2")
            .with_env("A", "3");
        assert_eq!(
            spec.env(),
            &[("A".into(), "3".into()), ("B".into(), "2".into())]
        );
    }
}
