//! The container state at each step: what an operation sees when it runs.
//!
//! Only what the recipe itself declares is known here; values inherited from the root image's
//! config (its env, workdir, user, …) are the engine's to merge in.

use crate::op::Op;
use crate::source::ImageSource;

/// A cache mount active for execs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheMount {
    /// Absolute mount point.
    pub path: String,
    /// Volume name.
    pub volume: String,
    /// Owner spec of the cache directory.
    pub owner: Option<String>,
    /// Mode, sharing and read-only (`RUN --mount=type=cache,…`).
    pub options: CacheOptions,
}

/// How concurrent steps share one cache volume (BuildKit's `sharing=`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CacheSharing {
    /// Every step mounts the same directory at once.
    #[default]
    Shared,
    /// A step waits until no other step has the volume mounted.
    Locked,
    /// A step that finds the volume in use gets another instance of it (kept for later).
    Private,
}

/// The options of a cache mount besides its place, volume and owner; all default to
/// BuildKit's (`0755`, shared, writable).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheOptions {
    /// Mode of the cache directory when it is created (`0755` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// How concurrent steps share it.
    #[serde(default, skip_serializing_if = "is_shared")]
    pub sharing: CacheSharing,
    /// Mounted read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly: bool,
    /// What a new cache starts with (`from=`/`source=`); empty when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<CacheSeed>,
}

/// Where a cache's first contents come from (BuildKit's `from=` and `source=`): the cache
/// starts as a copy of the container's file tree and shows its `path` at the mount point.
///
/// As in BuildKit, a seeded cache is its id *and* its seed: a rebuilt seed with other contents
/// starts another cache, and two mounts of one id and seed with different `path`s see two
/// directories of the same cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSeed {
    /// The container (a stage or an image), built first on the same platform.
    pub container: Box<crate::Container>,
    /// Absolute path in it (`/` for its root).
    pub path: String,
}

fn is_shared(sharing: &CacheSharing) -> bool {
    *sharing == CacheSharing::Shared
}

impl CacheOptions {
    /// Whether every option is BuildKit's default (the form recipes written before the
    /// options existed have).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The recipe-declared state of a container between two operations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerState {
    base: Option<ImageSource>,
    workdir: Option<String>,
    user: Option<String>,
    env: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    entrypoint: Option<Vec<String>>,
    default_args: Option<Vec<String>>,
    caches: Vec<CacheMount>,
}

impl ContainerState {
    /// The state of an empty (scratch) container.
    pub fn new() -> Self {
        Self::default()
    }

    /// The root image, if a `from` ran.
    pub fn base(&self) -> Option<&ImageSource> {
        self.base.as_ref()
    }

    /// The workdir the recipe set: `None` means the root image's; a relative value (only possible
    /// when no absolute workdir was set before) is relative to the root image's.
    pub fn workdir(&self) -> Option<&str> {
        self.workdir.as_deref()
    }

    /// The workdir in effect, given the root image's (`None` or empty means `/`).
    pub fn effective_workdir(&self, inherited: Option<&str>) -> String {
        let base = match inherited {
            Some(w) if w.starts_with('/') => normalize_path(w),
            Some(w) if !w.is_empty() => join_path("/", w),
            _ => "/".to_owned(),
        };
        match &self.workdir {
            Some(w) => join_path(&base, w),
            None => base,
        }
    }

    /// Resolves an operation's path against the workdir in effect (absolute paths are only
    /// normalised). A trailing `/` is kept, since it carries meaning for copies.
    pub fn resolve_path(&self, path: &str, inherited_workdir: Option<&str>) -> String {
        let trailing = path.len() > 1 && path.ends_with('/');
        let mut out = join_path(&self.effective_workdir(inherited_workdir), path);
        if trailing && out != "/" {
            out.push('/');
        }
        out
    }

    /// The user the recipe set (`None`: the root image's).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Env vars the recipe set, in first-set order (a later set replaces the value in place).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The recipe's value of an env var.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Labels the recipe set, in first-set order.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// The entrypoint the recipe set.
    pub fn entrypoint(&self) -> Option<&[String]> {
        self.entrypoint.as_deref()
    }

    /// The default arguments: `Some(&[])` after an entrypoint cleared them, `None` when inherited.
    pub fn default_args(&self) -> Option<&[String]> {
        self.default_args.as_deref()
    }

    /// Cache mounts active for the next exec, in mount order.
    pub fn caches(&self) -> &[CacheMount] {
        &self.caches
    }

    /// Applies one operation.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::From { source } => {
                *self = Self {
                    base: Some(source.clone()),
                    ..Self::default()
                };
            }
            Op::Exec { .. } | Op::File { .. } | Op::Directory { .. } | Op::Config { .. } => {}
            Op::Env { name, value } => set_pair(&mut self.env, name, value),
            Op::Label { name, value } => set_pair(&mut self.labels, name, value),
            Op::User { user } => self.user = Some(user.clone()),
            Op::Workdir { path } => {
                self.workdir = Some(match &self.workdir {
                    _ if path.starts_with('/') => normalize_path(path),
                    Some(prev) if prev.starts_with('/') => join_path(prev, path),
                    Some(prev) => join_relative(prev, path),
                    None => join_relative("", path),
                });
            }
            Op::Entrypoint { argv } => {
                self.entrypoint = Some(argv.clone());
                self.default_args = Some(Vec::new());
            }
            Op::DefaultArgs { argv } => self.default_args = Some(argv.clone()),
            Op::MountedCache {
                path,
                volume,
                owner,
                options,
            } => {
                let path = normalize_path(path);
                self.caches.retain(|c| c.path != path);
                self.caches.push(CacheMount {
                    path,
                    volume: volume.clone(),
                    owner: owner.clone(),
                    options: options.clone(),
                });
            }
            Op::UnmountCache { path } => {
                let path = normalize_path(path);
                self.caches.retain(|c| c.path != path);
            }
            Op::History { .. } => {}
        }
    }
}

fn set_pair(list: &mut Vec<(String, String)>, name: &str, value: &str) {
    match list.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_owned(),
        None => list.push((name.to_owned(), value.to_owned())),
    }
}

/// One operation with the state it runs in.
#[derive(Clone, Debug)]
pub struct Step<'a> {
    /// 0-based index in the container.
    pub index: usize,
    /// The operation.
    pub op: &'a Op,
    /// The state before the operation is applied.
    pub state: ContainerState,
}

/// Iterator over a container's operations with their states (see
/// [`Container::steps`](crate::Container::steps)).
#[derive(Clone, Debug)]
pub struct Steps<'a> {
    ops: std::slice::Iter<'a, Op>,
    index: usize,
    state: ContainerState,
}

impl<'a> Steps<'a> {
    pub(crate) fn new(ops: &'a [Op]) -> Self {
        Self {
            ops: ops.iter(),
            index: 0,
            state: ContainerState::new(),
        }
    }
}

impl<'a> Iterator for Steps<'a> {
    type Item = Step<'a>;

    fn next(&mut self) -> Option<Step<'a>> {
        let op = self.ops.next()?;
        let step = Step {
            index: self.index,
            op,
            state: self.state.clone(),
        };
        self.state.apply(op);
        self.index += 1;
        Some(step)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ops.size_hint()
    }
}

/// Lexically normalises an absolute path: no `.`, `..` or repeated `/`, no trailing `/`.
pub fn normalize_path(path: &str) -> String {
    join_path("/", path)
}

/// Joins `path` onto the absolute `base` unless `path` is absolute, then normalises.
pub fn join_path(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let full = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{base}/{path}")
    };
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Joins two relative paths without resolving past the (unknown) base.
fn join_relative(prev: &str, path: &str) -> String {
    if prev.is_empty() {
        path.to_owned()
    } else {
        format!("{}/{path}", prev.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_workdir() {
        let mut s = ContainerState::new();
        assert_eq!(s.resolve_path("base.sh", None), "/base.sh");
        assert_eq!(s.resolve_path("base.sh", Some("/app")), "/app/base.sh");
        s.apply(&Op::Workdir { path: "sub".into() });
        assert_eq!(s.workdir(), Some("sub"));
        assert_eq!(s.resolve_path("x", Some("/app")), "/app/sub/x");
        s.apply(&Op::Workdir {
            path: "/airbyte/".into(),
        });
        assert_eq!(
            s.resolve_path("base.sh", Some("/ignored")),
            "/airbyte/base.sh"
        );
        assert_eq!(s.resolve_path("../etc//x/./", None), "/etc/x/");
        assert_eq!(s.resolve_path("/", None), "/");
        s.apply(&Op::Workdir {
            path: "../opt".into(),
        });
        assert_eq!(s.workdir(), Some("/opt"));
    }

    #[test]
    fn from_resets_and_entrypoint_clears_cmd() {
        let mut s = ContainerState::new();
        s.apply(&Op::Env {
            name: "A".into(),
            value: "1".into(),
        });
        s.apply(&Op::Env {
            name: "B".into(),
            value: "2".into(),
        });
        s.apply(&Op::Env {
            name: "A".into(),
            value: "3".into(),
        });
        assert_eq!(
            s.env(),
            &[
                ("A".to_owned(), "3".to_owned()),
                ("B".to_owned(), "2".to_owned())
            ]
        );
        s.apply(&Op::DefaultArgs {
            argv: vec!["x".into()],
        });
        s.apply(&Op::Entrypoint {
            argv: vec!["/e".into()],
        });
        assert_eq!(s.default_args(), Some(&[][..]));
        s.apply(&Op::MountedCache {
            path: "/c/".into(),
            volume: "v".into(),
            owner: None,
            options: CacheOptions::default(),
        });
        assert_eq!(s.caches()[0].path, "/c");
        s.apply(&Op::UnmountCache { path: "/c".into() });
        assert!(s.caches().is_empty());
        s.apply(&Op::From {
            source: "busybox".parse().unwrap(),
        });
        assert_eq!(
            s,
            ContainerState {
                base: Some("busybox".parse().unwrap()),
                ..ContainerState::default()
            }
        );
    }
}
