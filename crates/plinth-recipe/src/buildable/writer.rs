//! Writing the stages of the buildable view: one `FROM` block per stage, one line (or two) per
//! step, helper containers first as named stages.

use std::collections::BTreeMap;

use plinth_oci::ImageLocation;

use super::flags::{copy_line, json};
use super::{BuildContext, BuildableOptions, ContextEntry, ContextSource, NamedImage};
use crate::Container;
use crate::chmod::FileMode;
use crate::declared_ids::DeclaredIds;
use crate::error::{Error, Result};
use crate::op::{DirectorySource, FileSource, Op};
use crate::setting::ImageSetting;
use crate::source::{ImageSource, SourceKind};
use crate::state::Step;
use crate::words::{is_plain, quote_double, word};

pub(super) struct Writer<'a> {
    pub(super) options: &'a BuildableOptions,
    pub(super) stages: Vec<(Container, String)>,
    pub(super) blocks: Vec<String>,
    pub(super) context: BuildContext,
    pub(super) needs_syntax: bool,
}

/// What rendering one stage carries from step to step.
struct StageLines {
    lines: Vec<String>,
    /// Build-time variables written as `ARG` so far: an ARG stays in effect for the rest of the
    /// stage.
    args_in_effect: BTreeMap<String, String>,
    /// User and group ids the stage's own steps create (for cache mount owners).
    declared: DeclaredIds,
}

/// The error for a step BuildKit cannot be told to do.
fn unrepresentable(step: usize, reason: String) -> Error {
    Error::Unrepresentable { step, reason }
}

/// `s` as one Dockerfile word, or the error naming `what` held a line break.
fn step_word(step: usize, s: &str, what: &str) -> Result<String> {
    word(s).ok_or_else(|| {
        unrepresentable(
            step,
            format!("the {what} `{}` holds a line break", s.escape_debug()),
        )
    })
}

/// `value` double-quoted, or the error naming `what` held a line break.
fn step_value(step: usize, value: &str, what: &str) -> Result<String> {
    quote_double(value)
        .ok_or_else(|| unrepresentable(step, format!("the value of {what} holds a line break")))
}

impl Writer<'_> {
    pub(super) fn new(options: &BuildableOptions) -> Writer<'_> {
        Writer {
            options,
            stages: Vec::new(),
            blocks: Vec::new(),
            context: BuildContext::default(),
            needs_syntax: false,
        }
    }

    pub(super) fn stage_name(&mut self, helper: &Container) -> Result<String> {
        if let Some((_, name)) = self.stages.iter().find(|(c, _)| c == helper) {
            return Ok(name.clone());
        }
        let name = format!("stage{}", self.stages.len());
        self.render_stage(helper, Some(&name))?;
        self.stages.push((helper.clone(), name.clone()));
        Ok(name)
    }

    pub(super) fn add_entry(&mut self, prefix: &str, source: ContextSource) -> String {
        let path = format!("{prefix}-{}", self.context.entries.len());
        self.context.entries.push(ContextEntry {
            path: path.clone(),
            source,
        });
        path
    }

    /// Adds a host file to the context under its own name (`file-<n>/<name>`), so a copy into an
    /// existing directory keeps that name, as the embedded engine does.
    pub(super) fn add_named_file(&mut self, path: &std::path::Path, fallback: &str) -> String {
        let entry = self.add_entry("file", ContextSource::HostFile(path.to_owned()));
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .or((!fallback.is_empty()).then_some(fallback))
        else {
            return entry;
        };
        let named = format!("{entry}/{name}");
        if let Some(last) = self.context.entries.last_mut() {
            last.path = named.clone();
        }
        named
    }

    /// Renders `container` as one block (`FROM … [AS name]` and its steps), after the stages of
    /// the helpers it copies or mounts from.
    pub(super) fn render_stage(&mut self, container: &Container, name: Option<&str>) -> Result<()> {
        // A `from` discards everything before it, so only the ops after the last one matter.
        let start = container
            .ops()
            .iter()
            .rposition(|op| matches!(op, Op::From { .. }))
            .unwrap_or(0);
        let ops = &container.ops()[start..];
        self.render_helper_stages(ops)?;
        let suffix = name.map(|n| format!(" AS {n}")).unwrap_or_default();
        // A stage pinned to a platform says so; the others take the build's.
        let platform = container
            .platform()
            .map(|p| format!("--platform={p} "))
            .unwrap_or_default();
        let from = match ops.first() {
            Some(Op::From { source }) => {
                format!("FROM {platform}{}{suffix}", self.image_name(source))
            }
            _ => format!("FROM {platform}scratch{suffix}"),
        };
        let mut stage = StageLines {
            lines: vec![from],
            args_in_effect: BTreeMap::new(),
            declared: DeclaredIds::from_ops(ops),
        };
        for step in container.steps().skip(start) {
            self.render_step(&mut stage, &step)?;
        }
        self.blocks.push(stage.lines.join("\n"));
        Ok(())
    }

    /// Names (and so renders, first) every helper stage the ops copy, mount or seed a cache
    /// from.
    fn render_helper_stages(&mut self, ops: &[Op]) -> Result<()> {
        for op in ops {
            for (_, helper) in op.helpers() {
                self.stage_name(helper)?;
            }
        }
        Ok(())
    }

    fn render_step(&mut self, stage: &mut StageLines, step: &Step<'_>) -> Result<()> {
        let i = step.index;
        match step.op {
            // BuildKit writes the history of the lines it builds itself.
            Op::From { .. }
            | Op::MountedCache { .. }
            | Op::UnmountCache { .. }
            | Op::History { .. } => {}
            Op::Exec { .. } => self.render_exec(stage, step)?,
            Op::Env { name, value } => {
                // ENV wins over an earlier ARG of the same name.
                stage.args_in_effect.remove(name);
                let value = step_value(i, value, &format!("env var `{name}`"))?;
                let name = step_word(i, name, "env var name")?;
                stage.lines.push(format!("ENV {name}={value}"));
            }
            Op::Label { name, value } => {
                let value = step_value(i, value, &format!("label `{name}`"))?;
                let name = step_word(i, name, "label key")?;
                stage.lines.push(format!("LABEL {name}={value}"));
            }
            Op::Config {
                setting: ImageSetting::OnBuildTriggersRan,
            } => {
                return Err(unrepresentable(
                    i,
                    "the base's ONBUILD triggers ran here as plinth read them, and BuildKit would run them \
                     again itself, against the generated build context: build it with `--engine embedded`"
                        .to_owned(),
                ));
            }
            Op::Config { setting } => stage.lines.push(setting.dockerfile_line()),
            Op::User { user } => stage
                .lines
                .push(format!("USER {}", step_word(i, user, "user")?)),
            Op::Workdir { path } => stage
                .lines
                .push(format!("WORKDIR {}", step_word(i, path, "workdir")?)),
            Op::Entrypoint { argv } => {
                stage.lines.push(format!("ENTRYPOINT {}", json(argv)));
                // BuildKit's ENTRYPOINT clears the CMD unless the stage set one; clearing a
                // stage's own takes a `CMD []` (a line that marks the config's `ArgsEscaped`,
                // as the recipe's earlier CMD already did).
                if step.state.default_args().is_some_and(|a| !a.is_empty()) {
                    stage.lines.push("CMD []".to_owned());
                }
            }
            Op::DefaultArgs { argv } => stage.lines.push(format!("CMD {}", json(argv))),
            Op::File {
                path,
                source,
                owner,
                mode,
            } => self.render_file(stage, i, path, source, owner.as_deref(), mode.as_ref())?,
            Op::Directory {
                path,
                source,
                owner,
                mode,
            } => self.render_directory(stage, i, path, source, owner.as_deref(), mode.as_ref())?,
        }
        Ok(())
    }

    /// An exec step: the `ARG` lines its build-time variables need, then
    /// `RUN [--mount=…] [--network=…] ["argv",…]`.
    fn render_exec(&mut self, stage: &mut StageLines, step: &Step<'_>) -> Result<()> {
        let Op::Exec {
            argv,
            network,
            env,
            mounts,
        } = step.op
        else {
            // `render_step` hands only exec steps here.
            return Ok(());
        };
        let i = step.index;
        // Build-time variables are ARGs: they reach this RUN's environment and not the image
        // config. An ARG stays in effect for the rest of the stage.
        if let Some(stale) = stage.args_in_effect.keys().find(|k| !env.contains_key(*k)) {
            return Err(unrepresentable(
                i,
                format!(
                    "the build-time variable `{stale}` of an earlier exec would still be set for this one; \
                     give every later exec of the stage the same build-time variables"
                ),
            ));
        }
        for (name, value) in env {
            if stage.args_in_effect.get(name) != Some(value) {
                let quoted = step_value(i, value, &format!("build-time variable `{name}`"))?;
                let key = step_word(i, name, "build-time variable name")?;
                stage.lines.push(format!("ARG {key}={quoted}"));
                stage.args_in_effect.insert(name.clone(), value.clone());
            }
        }
        let mut flags = String::new();
        for cache in step.state.caches() {
            let seed_stage = match &cache.options.seed {
                Some(seed) => Some(self.stage_name(&seed.container)?),
                None => None,
            };
            let flag = self
                .mount_flag(cache, seed_stage.as_deref(), &stage.declared)
                .map_err(|reason| unrepresentable(i, reason))?;
            flags.push_str(&flag);
            flags.push(' ');
        }
        for mount in mounts {
            let flag = self.run_mount_flag(mount)?;
            if !flag.split(',').all(is_plain) {
                return Err(unrepresentable(
                    i,
                    format!(
                        "the mount `{}` cannot be written in `RUN --mount`: use letters, digits and `/._-:+@=~%^` in its paths and id",
                        flag.escape_debug()
                    ),
                ));
            }
            flags.push_str(&format!("--mount={flag} "));
        }
        if let Some(flag) = network.dockerfile_flag() {
            flags.push_str(flag);
            flags.push(' ');
        }
        self.needs_syntax |= !flags.is_empty();
        stage.lines.push(format!("RUN {flags}{}", json(argv)));
        Ok(())
    }

    /// A file step: `ADD [--checksum=…] URL DEST` for a download, else a `COPY` from the context.
    fn render_file(
        &mut self,
        stage: &mut StageLines,
        step: usize,
        path: &str,
        source: &FileSource,
        owner: Option<&str>,
        mode: Option<&FileMode>,
    ) -> Result<()> {
        let mut flags = Vec::new();
        let (keyword, src) = match source {
            FileSource::Url { url, sha256 } => {
                match sha256 {
                    Some(d) => {
                        flags.push(format!("--checksum={d}"));
                        self.needs_syntax = true;
                    }
                    None => stage.lines.push(
                        "# unpinned download: pin it with a sha256 to make the build reproducible"
                            .into(),
                    ),
                }
                ("ADD", url.clone())
            }
            FileSource::HostFile(p) => ("COPY", self.add_named_file(p, "")),
            FileSource::Bytes(b) => (
                "COPY",
                self.add_entry("file", ContextSource::Bytes(b.clone())),
            ),
        };
        self.owner_mode_flags(owner, mode, &mut flags);
        let line = copy_line(keyword, &flags, &[&src, path])
            .map_err(|reason| unrepresentable(step, reason))?;
        stage.lines.push(line);
        Ok(())
    }

    /// A directory step: `ADD` of a context archive (extracted), else `COPY [--from=stage]`.
    fn render_directory(
        &mut self,
        stage: &mut StageLines,
        step: usize,
        path: &str,
        source: &DirectorySource,
        owner: Option<&str>,
        mode: Option<&FileMode>,
    ) -> Result<()> {
        let mut flags = Vec::new();
        let (keyword, src) = match source {
            DirectorySource::HostArchive(p) => (
                "ADD",
                self.add_entry("archive", ContextSource::HostFile(p.clone())),
            ),
            DirectorySource::Container {
                container: helper,
                path: src,
            } => {
                flags.push(format!("--from={}", self.stage_name(helper)?));
                ("COPY", src.clone())
            }
            DirectorySource::Host(p) => (
                "COPY",
                self.add_entry("dir", ContextSource::HostDir(p.clone())),
            ),
            DirectorySource::HostIgnoring {
                path,
                within,
                ignore,
            } => (
                "COPY",
                self.add_entry(
                    "dir",
                    ContextSource::HostDirIgnoring {
                        path: path.clone(),
                        within: within.clone(),
                        ignore: ignore.clone(),
                    },
                ),
            ),
        };
        self.owner_mode_flags(owner, mode, &mut flags);
        let line = copy_line(keyword, &flags, &[&src, path])
            .map_err(|reason| unrepresentable(step, reason))?;
        stage.lines.push(line);
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
}
