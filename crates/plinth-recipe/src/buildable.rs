//! The buildable Dockerfile view: a Dockerfile that `docker build` (BuildKit) turns into the same
//! filesystem and config as the recipe, plus the [`BuildContext`] it needs.
//!
//! - `RUN` uses the exec form (`RUN ["sh","-c","…"]`), so argv is kept exactly.
//! - Active cache mounts become `RUN --mount=type=cache,target=…,id=<volume>[,uid=…,gid=…]` on every
//!   later `RUN`; a cache owner given as a name needs numeric ids: from [`BuildableOptions`], else
//!   those the recipe creates the user with (`adduser --uid 1000 --group airbyte`).
//! - An entrypoint is followed by `CMD []`, because the recipe's entrypoint clears inherited
//!   default arguments.
//! - Downloads become `ADD [--checksum=sha256:…] <url> <dest>`; unpinned ones get a comment.
//! - Host files, host directories and literal bytes are `COPY`'d from the build context, which the
//!   backend materialises from [`BuildContext::entries`] (`file-<n>`, `dir-<n>`).
//! - Helper containers become named stages (`FROM bash:latest AS stage0`) used by `COPY --from`.
//! - Root images from an OCI layout or docker-archive are named `plinth-image-<n>`; the backend
//!   passes them as named build contexts ([`BuildContext::images`]).
//! - `# syntax=docker/dockerfile:1` is added only when a feature needs it (`RUN --mount`,
//!   `RUN --network`, `ADD --checksum`, `--chmod`), unless turned off.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_oci::ImageLocation;

use crate::Container;
use crate::declared_ids::DeclaredIds;
use crate::error::{Error, Result};
use crate::op::{DirectorySource, FileSource, Network, Op};
use crate::run_mount::{BindSource, RunMount};
use crate::setting::ImageSetting;
use crate::source::{ImageSource, SourceKind};
use crate::state::CacheMount;
use crate::words::{is_plain, quote_double, word};

/// The `# syntax=` line written when a feature needs the external frontend.
pub const SYNTAX_HEADER: &str = "# syntax=docker/dockerfile:1";

/// Options of the buildable view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildableOptions {
    owner_ids: BTreeMap<String, (u32, u32)>,
    syntax_header: bool,
}

impl Default for BuildableOptions {
    fn default() -> Self {
        Self {
            owner_ids: BTreeMap::new(),
            syntax_header: true,
        }
    }
}

impl BuildableOptions {
    /// Defaults: no owner ids, syntax header when needed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Numeric ids for an owner name (`airbyte`) or spec (`airbyte:airbyte`) of cache mounts.
    pub fn with_owner_ids(mut self, owner: impl Into<String>, uid: u32, gid: u32) -> Self {
        self.owner_ids.insert(owner.into(), (uid, gid));
        self
    }

    /// Never write the `# syntax=` line (for a builder whose built-in frontend is recent enough
    /// and which cannot pull the frontend image).
    pub fn without_syntax_header(mut self) -> Self {
        self.syntax_header = false;
        self
    }
}

/// A rendered Dockerfile with the context it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildableDockerfile {
    /// The Dockerfile text (ends with a newline).
    pub text: String,
    /// What the backend must provide next to it.
    pub context: BuildContext,
}

/// What the backend materialises for a [`BuildableDockerfile`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildContext {
    /// Files and directories of the context directory, by relative path.
    pub entries: Vec<ContextEntry>,
    /// Named build contexts standing for local root images.
    pub images: Vec<NamedImage>,
}

/// One path of the build context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextEntry {
    /// Path relative to the context root (`file-0`, `dir-1`).
    pub path: String,
    /// What to put there.
    pub source: ContextSource,
}

/// Contents of a context entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextSource {
    /// Literal bytes for a file.
    Bytes(Vec<u8>),
    /// A host file to copy.
    HostFile(PathBuf),
    /// A host directory to copy recursively.
    HostDir(PathBuf),
    /// A build-context directory to copy recursively through its ignore patterns
    /// ([`crate::ignore::IgnoreRules::kept`]), as [`DirectorySource::HostIgnoring`] holds it.
    HostDirIgnoring {
        /// The directory on the host.
        path: PathBuf,
        /// Its path in the context the patterns apply to.
        within: String,
        /// The patterns.
        ignore: Vec<String>,
    },
}

/// A named build context for a local root image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedImage {
    /// The name used in `FROM`.
    pub name: String,
    /// The image.
    pub source: ImageSource,
}

impl Container {
    /// Renders the buildable Dockerfile view (see [`crate::buildable`]).
    pub fn buildable_dockerfile(&self, options: &BuildableOptions) -> Result<BuildableDockerfile> {
        self.validate()?;
        let mut w = Writer {
            options,
            stages: Vec::new(),
            blocks: Vec::new(),
            context: BuildContext::default(),
            needs_syntax: false,
        };
        w.render_stage(self, None)?;
        let mut text = String::new();
        if w.needs_syntax && options.syntax_header {
            text.push_str(SYNTAX_HEADER);
            text.push('\n');
        }
        text.push_str(&w.blocks.join("\n\n"));
        text.push('\n');
        Ok(BuildableDockerfile {
            text,
            context: w.context,
        })
    }
}

struct Writer<'a> {
    options: &'a BuildableOptions,
    stages: Vec<(Container, String)>,
    blocks: Vec<String>,
    context: BuildContext,
    needs_syntax: bool,
}

impl Writer<'_> {
    fn stage_name(&mut self, helper: &Container) -> Result<String> {
        if let Some((_, name)) = self.stages.iter().find(|(c, _)| c == helper) {
            return Ok(name.clone());
        }
        let name = format!("stage{}", self.stages.len());
        self.render_stage(helper, Some(&name))?;
        self.stages.push((helper.clone(), name.clone()));
        Ok(name)
    }

    fn add_entry(&mut self, prefix: &str, source: ContextSource) -> String {
        let path = format!("{prefix}-{}", self.context.entries.len());
        self.context.entries.push(ContextEntry {
            path: path.clone(),
            source,
        });
        path
    }

    fn render_stage(&mut self, container: &Container, name: Option<&str>) -> Result<()> {
        // A `from` discards everything before it, so only the ops after the last one matter.
        let start = container
            .ops()
            .iter()
            .rposition(|op| matches!(op, Op::From { .. }))
            .unwrap_or(0);
        let declared = DeclaredIds::from_ops(&container.ops()[start..]);
        for op in &container.ops()[start..] {
            if let Op::Directory {
                source:
                    DirectorySource::Container {
                        container: helper, ..
                    },
                ..
            } = op
            {
                self.stage_name(helper)?;
            }
            if let Op::Exec { mounts, .. } = op {
                for (helper, _) in mounts.iter().filter_map(RunMount::helper) {
                    self.stage_name(helper)?;
                }
            }
        }
        let suffix = name.map(|n| format!(" AS {n}")).unwrap_or_default();
        let mut lines = Vec::new();
        match container.ops().get(start) {
            Some(Op::From { source }) => {
                lines.push(format!("FROM {}{suffix}", self.image_name(source)))
            }
            _ => lines.push(format!("FROM scratch{suffix}")),
        }
        let mut args_in_effect: BTreeMap<String, String> = BTreeMap::new();
        for step in container.steps().skip(start) {
            let i = step.index;
            let unrepresentable = |reason: String| Error::Unrepresentable { step: i, reason };
            let w = |s: &str, what: &str| {
                word(s).ok_or_else(|| {
                    unrepresentable(format!(
                        "the {what} `{}` holds a line break",
                        s.escape_debug()
                    ))
                })
            };
            match step.op {
                Op::From { .. } | Op::MountedCache { .. } | Op::UnmountCache { .. } => {}
                Op::Exec {
                    argv,
                    network,
                    env,
                    mounts,
                } => {
                    // Build-time variables are ARGs: they reach this RUN's environment and
                    // not the image config. An ARG stays in effect for the rest of the stage.
                    if let Some(stale) = args_in_effect.keys().find(|k| !env.contains_key(*k)) {
                        return Err(unrepresentable(format!(
                            "the build-time variable `{stale}` of an earlier exec would still be set for this one; \
                             give every later exec of the stage the same build-time variables"
                        )));
                    }
                    for (name, value) in env {
                        if args_in_effect.get(name) != Some(value) {
                            let quoted = quote_double(value).ok_or_else(|| {
                                unrepresentable(format!(
                                    "the value of build-time variable `{name}` holds a line break"
                                ))
                            })?;
                            lines.push(format!(
                                "ARG {}={quoted}",
                                w(name, "build-time variable name")?
                            ));
                            args_in_effect.insert(name.clone(), value.clone());
                        }
                    }
                    let mut flags = String::new();
                    for cache in step.state.caches() {
                        flags
                            .push_str(&self.mount_flag(cache, &declared).map_err(unrepresentable)?);
                        flags.push(' ');
                    }
                    for mount in mounts {
                        let flag = self.run_mount_flag(mount)?;
                        if !flag.split(',').all(is_plain) {
                            return Err(unrepresentable(format!(
                                "the mount `{}` cannot be written in `RUN --mount`: use letters, digits and `/._-:+@=~%^` in its paths and id",
                                flag.escape_debug()
                            )));
                        }
                        flags.push_str(&format!("--mount={flag} "));
                    }
                    match network {
                        Network::Enabled => {}
                        Network::Disabled => flags.push_str("--network=none "),
                        Network::Host => flags.push_str("--network=host "),
                    }
                    self.needs_syntax |= !flags.is_empty();
                    lines.push(format!("RUN {flags}{}", json(argv)));
                }
                Op::Env { name, value } => {
                    // ENV wins over an earlier ARG of the same name.
                    args_in_effect.remove(name);
                    let value = quote_double(value).ok_or_else(|| {
                        unrepresentable(format!("the value of env var `{name}` holds a line break"))
                    })?;
                    lines.push(format!("ENV {}={value}", w(name, "env var name")?));
                }
                Op::Label { name, value } => {
                    let value = quote_double(value).ok_or_else(|| {
                        unrepresentable(format!("the value of label `{name}` holds a line break"))
                    })?;
                    lines.push(format!("LABEL {}={value}", w(name, "label key")?));
                }
                Op::Config {
                    setting: ImageSetting::OnBuildTriggersRan,
                } => {
                    return Err(unrepresentable(
                        "the base's ONBUILD triggers ran here as plinth read them, and BuildKit would run them \
                         again itself, against the generated build context: build it with `--engine embedded`"
                            .to_owned(),
                    ));
                }
                Op::Config { setting } => lines.push(setting.dockerfile_line()),
                Op::User { user } => lines.push(format!("USER {}", w(user, "user")?)),
                Op::Workdir { path } => lines.push(format!("WORKDIR {}", w(path, "workdir")?)),
                Op::Entrypoint { argv } => {
                    lines.push(format!("ENTRYPOINT {}", json(argv)));
                    lines.push("CMD []".to_owned());
                }
                Op::DefaultArgs { argv } => lines.push(format!("CMD {}", json(argv))),
                Op::File {
                    path,
                    source,
                    owner,
                    mode,
                } => {
                    let mut flags = Vec::new();
                    let (keyword, src) = match source {
                        FileSource::Url { url, sha256 } => {
                            match sha256 {
                                Some(d) => {
                                    flags.push(format!("--checksum={d}"));
                                    self.needs_syntax = true;
                                }
                                None => lines.push("# unpinned download: pin it with a sha256 to make the build reproducible".into()),
                            }
                            ("ADD", url.clone())
                        }
                        FileSource::HostFile(p) => {
                            // Under its own name, so a copy into an existing directory keeps
                            // it, as the embedded engine does.
                            let entry = self.add_entry("file", ContextSource::HostFile(p.clone()));
                            match p.file_name().and_then(|n| n.to_str()) {
                                Some(name) => {
                                    let named = format!("{entry}/{name}");
                                    if let Some(last) = self.context.entries.last_mut() {
                                        last.path = named.clone();
                                    }
                                    ("COPY", named)
                                }
                                None => ("COPY", entry),
                            }
                        }
                        FileSource::Bytes(b) => (
                            "COPY",
                            self.add_entry("file", ContextSource::Bytes(b.clone())),
                        ),
                    };
                    self.owner_mode_flags(owner.as_deref(), *mode, &mut flags);
                    lines.push(copy_line(keyword, &flags, &[&src, path]).map_err(unrepresentable)?);
                }
                Op::Directory {
                    path,
                    source,
                    owner,
                    mode,
                } => {
                    let mut flags = Vec::new();
                    // ADD extracts an archive from the context; everything else is a COPY.
                    let keyword = match source {
                        DirectorySource::HostArchive(_) => "ADD",
                        _ => "COPY",
                    };
                    let src = match source {
                        DirectorySource::HostArchive(p) => {
                            self.add_entry("archive", ContextSource::HostFile(p.clone()))
                        }
                        DirectorySource::Container {
                            container: helper,
                            path: src,
                        } => {
                            flags.push(format!("--from={}", self.stage_name(helper)?));
                            src.clone()
                        }
                        DirectorySource::Host(p) => {
                            self.add_entry("dir", ContextSource::HostDir(p.clone()))
                        }
                        DirectorySource::HostIgnoring {
                            path,
                            within,
                            ignore,
                        } => self.add_entry(
                            "dir",
                            ContextSource::HostDirIgnoring {
                                path: path.clone(),
                                within: within.clone(),
                                ignore: ignore.clone(),
                            },
                        ),
                    };
                    self.owner_mode_flags(owner.as_deref(), *mode, &mut flags);
                    lines.push(copy_line(keyword, &flags, &[&src, path]).map_err(unrepresentable)?);
                }
            }
        }
        self.blocks.push(lines.join("\n"));
        Ok(())
    }

    fn image_name(&mut self, source: &ImageSource) -> String {
        match source.kind() {
            SourceKind::Image(ImageLocation::Registry(_)) => source
                .address()
                .strip_prefix("docker://")
                .unwrap_or(source.address())
                .to_owned(),
            SourceKind::Image(
                ImageLocation::OciLayout { .. } | ImageLocation::DockerArchive { .. },
            )
            | SourceKind::Debian(_) => {
                if let Some(n) = self.context.images.iter().find(|n| &n.source == source) {
                    return n.name.clone();
                }
                let name = format!("plinth-image-{}", self.context.images.len());
                self.context.images.push(NamedImage {
                    name: name.clone(),
                    source: source.clone(),
                });
                name
            }
        }
    }

    /// A `RUN --mount` value; a bind mount's source becomes a context entry or a stage.
    fn run_mount_flag(&mut self, mount: &RunMount) -> Result<String> {
        let source = match mount {
            RunMount::Bind {
                source: BindSource::Host(path),
                ..
            } => {
                if path.is_dir() {
                    Some((
                        self.add_entry("dir", ContextSource::HostDir(path.clone())),
                        None,
                    ))
                } else {
                    let entry = self.add_entry("file", ContextSource::HostFile(path.clone()));
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("file")
                        .to_owned();
                    let named = format!("{entry}/{name}");
                    if let Some(last) = self.context.entries.last_mut() {
                        last.path = named.clone();
                    }
                    Some((named, None))
                }
            }
            RunMount::Bind {
                source:
                    BindSource::HostIgnoring {
                        path,
                        within,
                        ignore,
                    },
                ..
            } => Some((
                self.add_entry(
                    "dir",
                    ContextSource::HostDirIgnoring {
                        path: path.clone(),
                        within: within.clone(),
                        ignore: ignore.clone(),
                    },
                ),
                None,
            )),
            RunMount::Bind {
                source: BindSource::Container { container, path },
                ..
            } => Some((path.clone(), Some(self.stage_name(container)?))),
            RunMount::Tmpfs { .. } | RunMount::Secret(_) => None,
        };
        Ok(mount.dockerfile_flag(
            source
                .as_ref()
                .map(|(path, from)| (path.as_str(), from.as_deref())),
        ))
    }

    fn owner_mode_flags(
        &mut self,
        owner: Option<&str>,
        mode: Option<u32>,
        flags: &mut Vec<String>,
    ) {
        if let Some(o) = owner {
            flags.push(format!("--chown={o}"));
        }
        if let Some(m) = mode {
            flags.push(format!("--chmod={m:o}"));
            self.needs_syntax = true;
        }
    }

    fn mount_flag(
        &self,
        cache: &CacheMount,
        declared: &DeclaredIds,
    ) -> std::result::Result<String, String> {
        for (what, value) in [("mount point", &cache.path), ("volume name", &cache.volume)] {
            if !is_plain(value) || value.contains(',') {
                return Err(format!(
                    "the cache {what} `{}` cannot be written in `RUN --mount`: use letters, digits and `/._-:+@=~%^` only",
                    value.escape_debug()
                ));
            }
        }
        let mut flag = format!(
            "--mount=type=cache,target={},id={}",
            cache.path, cache.volume
        );
        if let Some(owner) = &cache.owner {
            let (uid, gid) = self.owner_ids(owner, declared)?;
            flag.push_str(&format!(",uid={uid},gid={gid}"));
        }
        Ok(flag)
    }

    /// Ids given in the options win; then those the recipe declares (`adduser --uid …`).
    fn owner_ids(
        &self,
        owner: &str,
        declared: &DeclaredIds,
    ) -> std::result::Result<(u32, u32), String> {
        let (user, group) = owner
            .split_once(':')
            .map_or((owner, None), |(u, g)| (u, Some(g)));
        let known = |name: &str| {
            self.options
                .owner_ids
                .get(name)
                .copied()
                .or_else(|| declared.user(name))
        };
        let uid = user
            .parse::<u32>()
            .ok()
            .or_else(|| known(owner).or_else(|| known(user)).map(|ids| ids.0));
        let gid = match group {
            None => uid.and_then(|u| {
                if user.parse::<u32>().is_ok() {
                    Some(u)
                } else {
                    known(owner).or_else(|| known(user)).map(|ids| ids.1)
                }
            }),
            Some(g) => g
                .parse::<u32>()
                .ok()
                .or_else(|| known(owner).map(|ids| ids.1))
                .or_else(|| known(g).map(|ids| ids.1))
                .or_else(|| declared.group(g)),
        };
        match (uid, gid) {
            (Some(u), Some(g)) => Ok((u, g)),
            _ => Err(format!(
                "the cache mount owner `{owner}` is a name, but `RUN --mount` needs numeric ids, and the recipe \
                 does not create `{user}` with explicit ids: create it with them (`adduser --uid UID --group {user}`), \
                 write the owner as `uid:gid`, or give the view the ids of `{user}`"
            )),
        }
    }
}

fn json(argv: &[String]) -> String {
    // Serialising a list of strings cannot fail.
    serde_json::to_string(argv).expect("a list of strings always encodes as JSON")
}

/// `COPY`/`ADD` with bare words when possible, else the JSON form (each element still goes
/// through the word lexer, so it is quoted for it first).
fn copy_line(
    keyword: &str,
    flags: &[String],
    args: &[&str],
) -> std::result::Result<String, String> {
    let mut words = Vec::with_capacity(args.len());
    for a in args {
        words.push(
            word(a).ok_or_else(|| format!("the path `{}` holds a line break", a.escape_debug()))?,
        );
    }
    let mut line = keyword.to_owned();
    for f in flags {
        line.push(' ');
        line.push_str(f);
    }
    line.push(' ');
    if words.iter().any(|w| w.contains(char::is_whitespace)) {
        line.push_str(&json(&words));
    } else {
        line.push_str(&words.join(" "));
    }
    Ok(line)
}
