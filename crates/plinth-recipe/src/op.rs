//! The typed operations a [`Container`](crate::Container) is made of.
//!
//! Operations are plain data: they serialise to JSON, compare with `==` and hash. Their
//! [`op_key`](Op::op_key) is the canonical JSON of the operation; the engine chains it with the
//! parent step's key, the platform and the digests of the operation's inputs (host file contents,
//! downloaded bytes, a helper container's result), which the declaration alone cannot know.
//!
//! Paths inside the image are strings. A relative `path` of a file or directory operation is kept
//! relative here and resolves against the workdir current at that step at build time (see
//! [`ContainerState::resolve_path`](crate::ContainerState::resolve_path)), which is also what
//! Docker does with a relative `COPY`/`ADD` destination.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_oci::Digest;
use serde::{Deserialize, Serialize};

use crate::Container;
use crate::chmod::FileMode;
use crate::run_mount::RunMount;
use crate::setting::ImageSetting;
use crate::source::ImageSource;
use crate::state::CacheOptions;

/// One step of a recipe.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Replace the root filesystem and image config with those of an image. Everything the
    /// container held before (files, env, user, workdir, cache mounts) is discarded.
    From {
        /// The image, as written in the recipe.
        source: ImageSource,
    },
    /// Run `argv` directly (no shell) as the current user, in the current workdir, with the
    /// current env and the active cache mounts. Filesystem changes are kept.
    Exec {
        /// The program and its arguments; never empty.
        argv: Vec<String>,
        /// Whether the command may reach the network.
        #[serde(default, skip_serializing_if = "Network::is_enabled")]
        network: Network,
        /// Build-time variables (a Dockerfile's `ARG` values) set for this exec only, over the
        /// image env; they never reach the image config. Part of the step's key, as in BuildKit.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
        /// Mounts of this exec only (bind, tmpfs, secret), in the order given.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mounts: Vec<RunMount>,
    },
    /// Set an image environment variable (the value is literal: no `$VAR` expansion).
    Env {
        /// The name; no `=`, whitespace or NUL.
        name: String,
        /// The value.
        value: String,
    },
    /// Set an image label.
    Label {
        /// The key.
        name: String,
        /// The value.
        value: String,
    },
    /// Set the image user (`name`, `uid`, `name:group` or `uid:gid`), used by later execs too.
    User {
        /// The user spec.
        user: String,
    },
    /// Set the image workdir; a relative path resolves against the previous workdir.
    Workdir {
        /// The directory.
        path: String,
    },
    /// Set the entrypoint and clear the default arguments (CMD), as the original builder did.
    Entrypoint {
        /// The entrypoint argv (may be empty to clear it).
        argv: Vec<String>,
    },
    /// Set the default arguments (CMD).
    DefaultArgs {
        /// The arguments (may be empty).
        argv: Vec<String>,
    },
    /// Write one file. Parent directories are created (owned by root).
    File {
        /// Destination; relative paths resolve against the current workdir.
        path: String,
        /// Where the bytes come from.
        source: FileSource,
        /// Owner spec (`user[:group]`); root when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// The mode, octal or symbolic; when absent, `0o644` for host files and bytes, `0o600`
        /// for URLs (the mode Docker `ADD` and the original builder gave downloads).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<FileMode>,
    },
    /// Merge a directory tree into `path` (created if missing). A container source follows
    /// Docker's `COPY --from` rule: if its path names a file rather than a directory, the file is
    /// copied to `path`, or into it when `path` ends with `/`.
    Directory {
        /// Destination; relative paths resolve against the current workdir.
        path: String,
        /// Where the tree comes from.
        source: DirectorySource,
        /// Owner spec for every copied entry; kept from the source when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// The mode of every copied entry (octal, or symbolic applied to each entry's own);
        /// kept from the source when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<FileMode>,
    },
    /// Mount a persistent cache volume at `path` for every later exec (build time only: its
    /// contents never reach the image).
    MountedCache {
        /// Absolute mount point.
        path: String,
        /// The volume name; mounts with the same name share contents.
        volume: String,
        /// Owner spec of the cache directory; root when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// Mode, sharing and read-only; left out of the op's JSON (and key) when all default.
        #[serde(default, skip_serializing_if = "CacheOptions::is_default")]
        options: CacheOptions,
    },
    /// Stop mounting the cache at `path` for later execs.
    UnmountCache {
        /// The mount point given to [`Op::MountedCache`].
        path: String,
    },
    /// Set an image setting that changes no files (ports, volumes, health check, …).
    Config {
        /// The setting.
        setting: ImageSetting,
    },
    /// The image history entry of the operations since the previous `History` (or since
    /// `FROM`): one Dockerfile instruction as BuildKit's frontend records it (see
    /// [`history`](crate::history)). It changes nothing and has no step key of its own, so
    /// the text never changes a cache key. A container without any gets one entry per
    /// operation, rendered from the operation.
    History {
        /// The entry's `created_by`.
        created_by: String,
        /// Whether the instruction makes a layer (an empty one when its operations changed
        /// nothing), as BuildKit's `RUN`, `COPY`, `ADD` and a `WORKDIR` other than `/` do.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        layer: bool,
    },
}

/// The `--chown=OWNER` and `--chmod=MODE` (octal or symbolic) flags of a `COPY`/`ADD` with
/// this owner and mode, in that order. The buildable view and the engine's history both write
/// them.
pub fn owner_mode_flags(owner: Option<&str>, mode: Option<&FileMode>) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(o) = owner {
        flags.push(format!("--chown={o}"));
    }
    if let Some(m) = mode {
        flags.push(format!("--chmod={}", m.flag_value()));
    }
    flags
}

/// Network access of an exec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// The build's network (the default).
    #[default]
    Enabled,
    /// No network: only loopback.
    Disabled,
    /// The host's network (BuildKit's `network.host` entitlement: the build must allow it).
    Host,
}

impl Network {
    /// Whether this is the default.
    pub fn is_enabled(&self) -> bool {
        *self == Network::Enabled
    }

    /// The `RUN` flag that asks for this network (`--network=none`, `--network=host`); none
    /// for the default. The buildable view and the engine's history both write it.
    pub fn dockerfile_flag(&self) -> Option<&'static str> {
        match self {
            Network::Enabled => None,
            Network::Disabled => Some("--network=none"),
            Network::Host => Some("--network=host"),
        }
    }
}

/// Options of [`Container::with_exec_opts`](crate::Container::with_exec_opts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Network access.
    pub network: Network,
    /// Build-time variables for this exec only (see [`Op::Exec`]).
    pub env: BTreeMap<String, String>,
    /// Mounts of this exec only (see [`RunMount`]).
    pub mounts: Vec<RunMount>,
}

impl ExecOptions {
    /// Options for an exec without network.
    pub fn without_network() -> Self {
        Self {
            network: Network::Disabled,
            ..Self::default()
        }
    }

    /// Adds a build-time variable (not stored in the image config).
    pub fn with_build_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Adds a mount for this exec only.
    pub fn with_mount(mut self, mount: RunMount) -> Self {
        self.mounts.push(mount);
        self
    }
}

/// Owner and mode of a file or directory operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileOptions {
    /// Owner spec (`user[:group]`).
    pub owner: Option<String>,
    /// The mode, octal or symbolic.
    pub mode: Option<FileMode>,
}

impl FileOptions {
    /// No owner, no mode.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the owner spec.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Sets the mode: permission bits (`0o755`) or a [`FileMode`].
    pub fn mode(mut self, mode: impl Into<FileMode>) -> Self {
        self.mode = Some(mode.into());
        self
    }
}

/// Where a file's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FileSource {
    /// A download. With a checksum the engine verifies (and may cache by) it; without one the
    /// input is unpinned and the build is not reproducible.
    Url {
        /// `http://` or `https://` URL.
        url: String,
        /// Expected sha256 of the body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<Digest>,
    },
    /// A file on the build host, read at build time (relative paths resolve against the
    /// directory the build runs in).
    HostFile(#[serde(with = "host_path")] PathBuf),
    /// Literal contents.
    Bytes(#[serde(with = "base64_bytes")] Vec<u8>),
}

impl FileSource {
    /// A download without a checksum.
    pub fn url(url: impl Into<String>) -> Self {
        Self::Url {
            url: url.into(),
            sha256: None,
        }
    }

    /// A download pinned by the sha256 of its body.
    pub fn pinned_url(url: impl Into<String>, sha256: Digest) -> Self {
        Self::Url {
            url: url.into(),
            sha256: Some(sha256),
        }
    }
}

/// Where a directory tree comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DirectorySource {
    /// A path in another container, built first (on the same platform) and never published.
    Container {
        /// The helper container.
        container: Box<Container>,
        /// Absolute path in the helper container.
        path: String,
    },
    /// A directory on the build host.
    Host(#[serde(with = "host_path")] PathBuf),
    /// A local tar archive (plain, gzip, xz or zstd; see [`crate::archive`]) extracted into the
    /// destination as a Dockerfile `ADD` extracts it: owners, modes and links from the archive,
    /// missing parents made `0755`, existing directories merged.
    HostArchive(#[serde(with = "host_path")] PathBuf),
    /// A directory of a Dockerfile's build context, read through the context's ignore file
    /// (see [`crate::ignore`]): what the patterns exclude is left out, as BuildKit never
    /// receives it. The patterns are part of the step key; ignored files' contents are not.
    HostIgnoring {
        /// The directory on the host.
        #[serde(with = "host_path")]
        path: PathBuf,
        /// Its path relative to the context root, `/`-separated (`""` for the root).
        within: String,
        /// The ignore patterns, as [`crate::ignore::read_patterns`] returns them.
        ignore: Vec<String>,
    },
}

impl DirectorySource {
    /// `path` of a helper container.
    pub fn container(container: &Container, path: impl Into<String>) -> Self {
        Self::Container {
            container: Box::new(container.clone()),
            path: path.into(),
        }
    }
}

impl Op {
    /// The canonical JSON of this operation: the stable part of its cache key.
    pub fn op_key(&self) -> Vec<u8> {
        // Every field is a string, integer, bool, sequence or a struct of those (paths that are not
        // UTF-8 go through `host_path` as byte arrays), so encoding cannot fail.
        plinth_oci::canonical::to_canonical_vec(self).expect("operations always encode as JSON")
    }

    /// The digest of [`op_key`](Self::op_key).
    pub fn op_digest(&self) -> Digest {
        Digest::of(&self.op_key())
    }

    /// A short lowercase name of the operation kind (`exec`, `env`, …), for logs and errors.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Op::From { .. } => "from",
            Op::Exec { .. } => "exec",
            Op::Env { .. } => "env",
            Op::Label { .. } => "label",
            Op::User { .. } => "user",
            Op::Workdir { .. } => "workdir",
            Op::Entrypoint { .. } => "entrypoint",
            Op::DefaultArgs { .. } => "default_args",
            Op::File { .. } => "file",
            Op::Directory { .. } => "directory",
            Op::MountedCache { .. } => "mounted_cache",
            Op::UnmountCache { .. } => "unmount_cache",
            Op::Config { .. } => "config",
            Op::History { .. } => "history",
        }
    }
}

/// Host paths as JSON strings, or as byte arrays when they are not UTF-8.
pub(crate) mod host_path {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Raw(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => s.serialize_str(text),
            None => path.as_os_str().as_bytes().serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Text(t) => PathBuf::from(t),
            Repr::Raw(b) => PathBuf::from(OsString::from_vec(b)),
        })
    }
}

/// Literal bytes as standard base64.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn op_key_is_canonical_and_minimal() {
        let op = Op::Exec {
            argv: vec!["ln".into(), "-snf".into()],
            network: Network::Enabled,
            env: BTreeMap::new(),
            mounts: Vec::new(),
        };
        assert_eq!(
            String::from_utf8(op.op_key()).unwrap(),
            r#"{"argv":["ln","-snf"],"op":"exec"}"#
        );
        let op = Op::Exec {
            argv: vec!["true".into()],
            network: Network::Disabled,
            env: BTreeMap::from([("V".to_owned(), "2.0".to_owned())]),
            mounts: Vec::new(),
        };
        assert_eq!(
            String::from_utf8(op.op_key()).unwrap(),
            r#"{"argv":["true"],"env":{"V":"2.0"},"network":"disabled","op":"exec"}"#
        );
        let op = Op::File {
            path: "a".into(),
            source: FileSource::Bytes(b"hi".to_vec()),
            owner: None,
            mode: Some(0o755.into()),
        };
        assert_eq!(
            String::from_utf8(op.op_key()).unwrap(),
            r#"{"mode":493,"op":"file","path":"a","source":{"bytes":"aGk="}}"#
        );
    }

    #[test]
    fn ops_round_trip_through_json_including_odd_paths() {
        let odd = PathBuf::from(OsStr::from_bytes(b"/tmp/\xff"));
        let ops = [
            Op::File {
                path: "x".into(),
                source: FileSource::HostFile(odd.clone()),
                owner: Some("a:b".into()),
                mode: None,
            },
            Op::Directory {
                path: "/d".into(),
                source: DirectorySource::Host(odd),
                owner: None,
                mode: Some(0o700.into()),
            },
            Op::File {
                path: "/f".into(),
                source: FileSource::pinned_url("https://x/y", Digest::of(b"y")),
                owner: None,
                mode: None,
            },
            Op::MountedCache {
                path: "/c".into(),
                volume: "v".into(),
                owner: Some("airbyte".into()),
                options: CacheOptions::default(),
            },
            Op::MountedCache {
                path: "/c".into(),
                volume: "v".into(),
                owner: None,
                options: CacheOptions {
                    mode: Some(0o700),
                    sharing: crate::CacheSharing::Locked,
                    readonly: true,
                    seed: None,
                },
            },
        ];
        for op in ops {
            let back: Op = serde_json::from_slice(&op.op_key()).unwrap();
            assert_eq!(back, op);
        }
    }
}
