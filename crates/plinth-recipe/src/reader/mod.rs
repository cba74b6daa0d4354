//! Reads the common Dockerfile subset into a [`Container`].
//!
//! Supported: parser directives (`# syntax=`, `# escape=`), comments, line continuations,
//! heredocs (`heredoc.rs`), `FROM [AS name]` (multi-stage, `scratch`), `ARG` (global and per
//! stage, with BuildKit's substitutions where Docker substitutes), `RUN` (shell form becomes
//! `["/bin/sh","-c",text]`, exec form kept; `--mount=type=cache`, `--network=none`), `ENV` and
//! `LABEL` (both forms), `USER`, `WORKDIR`, `ENTRYPOINT`/`CMD` (both forms), `COPY`/`ADD`
//! (context files and directories, `--from`, `--chown`, `--chmod`, URLs with `--checksum`).
//!
//! Everything else is reported, all problems at once, with line numbers. A variable that the
//! Dockerfile itself does not define (it would come from the base image's env) is an error rather
//! than a silent empty string. Context sources are looked up (metadata only) to tell files from
//! directories; nothing is read.
//!
//! `ENTRYPOINT` maps to [`Op::Entrypoint`], which clears CMD; when the stage had set CMD before,
//! the reader re-emits it so the result matches Docker's. A `CMD []` right after an entrypoint is
//! therefore redundant and is dropped, which makes the [buildable view](crate::buildable) read
//! back into the same operations.

mod bases;
mod commands;
mod context_ignore;
mod copy;
mod glob;
pub use glob::{expand_wildcard, has_wildcard};
mod heredoc;
mod lines;
mod plan;
mod run_flags;
mod settings;
mod stages;
mod vars;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use plinth_oci::Platform;

use crate::Container;
use crate::error::{Error, Problem, Result};
use crate::op::Op;

pub use bases::{BaseConfig, BaseError, BaseResolver, read_dockerfile_resolved};
pub use plan::{base_images, base_images_by_platform};
pub use vars::DEFAULT_PATH;
use vars::Vars;

/// Options of [`parse_dockerfile_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReaderOptions {
    /// The build context directory `COPY`/`ADD` sources are relative to.
    pub context_dir: PathBuf,
    /// `--build-arg` values; they apply to declared `ARG`s only.
    pub build_args: BTreeMap<String, String>,
    /// The platform built for: the values of the automatic `TARGET*` args (`BUILD*` are the
    /// host's). Without one, a Dockerfile that uses them is refused.
    pub platform: Option<Platform>,
    /// The Dockerfile's path, for its own ignore file (`<Dockerfile>.dockerignore`).
    pub dockerfile: Option<PathBuf>,
    /// The configs of the base images, by the name `FROM` gives them (after expansion; see
    /// [`base_images`]). A stage on an image missing here is read without its env: a variable
    /// only the image could set is then refused.
    pub base_configs: BTreeMap<String, BaseConfig>,
    /// The configs of the base images of stages pinned to another platform than the build's
    /// (`FROM --platform=…`), by that platform and the name `FROM` gives them (see
    /// [`base_images_by_platform`]).
    pub platform_base_configs: BTreeMap<(Platform, String), BaseConfig>,
    /// The stage to build (`--target`, a stage name); the last stage when absent.
    pub target: Option<String>,
    /// Ignore patterns applied after the ignore file's (or alone, without one): context paths
    /// that belong to the tool keeping the Dockerfile, not to the image (a file family's
    /// `family.toml` and `versions/`).
    pub context_excludes: Vec<String>,
}

impl ReaderOptions {
    /// Options with a context directory and no build args.
    pub fn new(context_dir: impl Into<PathBuf>) -> Self {
        Self {
            context_dir: context_dir.into(),
            build_args: BTreeMap::new(),
            platform: None,
            dockerfile: None,
            base_configs: BTreeMap::new(),
            platform_base_configs: BTreeMap::new(),
            target: None,
            context_excludes: Vec::new(),
        }
    }

    /// Leaves the context paths matching `patterns` (`.dockerignore` syntax) out of the
    /// context, after the ignore file's patterns.
    pub fn with_context_excludes<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.context_excludes
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Builds the stage `name` instead of the last one (`--target`).
    pub fn with_target(mut self, name: impl Into<String>) -> Self {
        self.target = Some(name.into());
        self
    }

    /// Adds the config of a base image, by its name in `FROM`.
    pub fn with_base_config(mut self, image: impl Into<String>, config: BaseConfig) -> Self {
        self.base_configs.insert(image.into(), config);
        self
    }

    /// Adds the config of a base image on another platform than the build's, by that platform
    /// and its name in `FROM`.
    pub fn with_platform_base_config(
        mut self,
        platform: Platform,
        image: impl Into<String>,
        config: BaseConfig,
    ) -> Self {
        self.platform_base_configs
            .insert((platform, image.into()), config);
        self
    }

    /// Sets the Dockerfile's path.
    pub fn with_dockerfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.dockerfile = Some(path.into());
        self
    }

    /// Sets the platform built for.
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Adds a build arg.
    pub fn with_build_arg(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.build_args.insert(name.into(), value.into());
        self
    }
}

/// Reads `text` with `context_dir` as the build context; the result is the last stage.
pub fn parse_dockerfile(text: &str, context_dir: impl AsRef<Path>) -> Result<Container> {
    parse_dockerfile_with(text, &ReaderOptions::new(context_dir.as_ref()))
}

/// Reads `text` with options.
pub fn parse_dockerfile_with(text: &str, options: &ReaderOptions) -> Result<Container> {
    read_dockerfile(text, options).map(|read| read.container)
}

/// A Dockerfile read into a recipe, with the warnings BuildKit would print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerfileRead {
    /// The last stage.
    pub container: Container,
    /// Warnings (a `--build-arg` no stage declares, …).
    pub warnings: Vec<String>,
}

/// Build args every build accepts without an `ARG`: they reach RUN's environment only.
pub(super) const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Reads `text` with options, keeping the warnings.
pub fn read_dockerfile(text: &str, options: &ReaderOptions) -> Result<DockerfileRead> {
    let mut problems = Vec::new();
    let (directives, lines) = lines::split_lines(text, &mut problems);
    let plan = plan::plan(&lines, options, directives.escape);
    let mut reader = Reader::new(options, directives.escape, problems);
    reader.plan = plan;
    for line in &lines {
        reader.heredocs.clone_from(&line.heredocs);
        if let Err(message) = reader.instruction(&line.text) {
            reader.problems.push(Problem {
                line: line.line,
                message,
            });
        }
    }
    if reader.stages.is_empty() && reader.problems.is_empty() {
        reader.problems.push(Problem {
            line: 1,
            message: "the Dockerfile has no FROM instruction".into(),
        });
    }
    if !reader.problems.is_empty() {
        reader.problems.sort_by_key(|p| p.line);
        return Err(Error::Dockerfile {
            problems: reader.problems,
        });
    }
    let unused: Vec<&str> = options
        .build_args
        .keys()
        .map(String::as_str)
        .filter(|k| !reader.used_build_args.contains(*k) && !PROXY_ARGS.contains(k))
        .collect();
    let mut warnings = Vec::new();
    if !unused.is_empty() {
        warnings.push(format!(
            "build args no stage declares with ARG were not used: {}",
            unused.join(", ")
        ));
    }
    let container = match &options.target {
        None => reader.stages.pop().map(|s| s.container).unwrap_or_default(),
        Some(target) => {
            let wanted = target.to_ascii_lowercase();
            match reader
                .stages
                .iter()
                .position(|s| s.name.as_deref() == Some(wanted.as_str()))
            {
                Some(i) => reader.stages.swap_remove(i).container,
                None => {
                    let names: Vec<&str> = reader
                        .stages
                        .iter()
                        .filter_map(|s| s.name.as_deref())
                        .collect();
                    return Err(Error::Target {
                        target: target.clone(),
                        stages: if names.is_empty() {
                            "none: name one with `FROM image AS name`".to_owned()
                        } else {
                            names.join(", ")
                        },
                    });
                }
            }
        }
    };
    Ok(DockerfileRead {
        container,
        warnings,
    })
}

pub(super) struct Stage {
    pub name: Option<String>,
    pub container: Container,
    /// ENV and ARG values in scope (for expansion and RUN's build-time env).
    pub vars: Vars,
    /// The shell of shell-form instructions, when not `/bin/sh -c` (SHELL, or the base's).
    pub shell: Option<Vec<String>>,
    /// Whether CMD was set in this stage (Docker keeps it across a later ENTRYPOINT).
    pub cmd_set: bool,
    /// Whether the last op is a CMD the reader re-emitted after an ENTRYPOINT.
    pub reemitted_cmd: bool,
    /// The stage's `ONBUILD` triggers, which a stage built on this one runs.
    pub on_build: Vec<String>,
    /// Whether the build needs the stage (see `plan.rs`); an unneeded stage is only parsed.
    pub needed: bool,
    /// The names this stage declared with `ARG`, in order (repeats kept): the args BuildKit
    /// lists before a `RUN` in the history. A stage on a stage starts without any.
    pub declared_args: Vec<String>,
    /// The base image's workdir (a relative `WORKDIR` is recorded joined to it).
    pub base_workdir: Option<String>,
}

impl Stage {
    /// A stage as its `FROM` line starts it, before a base stage's state is copied in.
    pub(super) fn new(name: Option<String>, needed: bool) -> Self {
        Self {
            name,
            container: Container::new(),
            vars: Vars::scratch(),
            shell: None,
            cmd_set: false,
            reemitted_cmd: false,
            on_build: Vec::new(),
            needed,
            declared_args: Vec::new(),
            base_workdir: None,
        }
    }
}

pub(super) struct Reader<'a> {
    pub options: &'a ReaderOptions,
    pub escape: char,
    /// Args declared before the first FROM: `None` = declared without a value.
    pub global_args: BTreeMap<String, Option<String>>,
    /// The automatic platform args (empty when the read has no platform).
    pub platform_args: BTreeMap<String, String>,
    /// `--build-arg` names some ARG declared.
    pub used_build_args: BTreeSet<String>,
    pub stages: Vec<Stage>,
    pub problems: Vec<Problem>,
    /// The heredocs of the instruction being read.
    pub heredocs: Vec<heredoc::Heredoc>,
    /// The stages and which the build needs.
    pub(super) plan: plan::StagePlan,
    /// How many FROM instructions were read (failed ones included): the current stage's
    /// index in the plan, plus one.
    pub froms_seen: usize,
}

type Flags = Vec<(String, Option<String>)>;

impl<'a> Reader<'a> {
    fn new(options: &'a ReaderOptions, escape: char, problems: Vec<Problem>) -> Self {
        Reader {
            options,
            escape,
            global_args: BTreeMap::new(),
            platform_args: options
                .platform
                .as_ref()
                .map(|p| vars::platform_args(p, &Platform::host()))
                .unwrap_or_default(),
            used_build_args: BTreeSet::new(),
            stages: Vec::new(),
            problems,
            heredocs: Vec::new(),
            plan: plan::StagePlan::default(),
            froms_seen: 0,
        }
    }
}

impl Reader<'_> {
    fn instruction(&mut self, text: &str) -> std::result::Result<(), String> {
        let (keyword, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let keyword = keyword.to_ascii_uppercase();
        let (flags, rest) = split_flags(rest.trim());
        if keyword == "FROM" {
            self.froms_seen += 1;
        }
        // The stage this instruction belongs to, counting FROMs that failed too, as the plan does.
        let unneeded = self
            .froms_seen
            .checked_sub(1)
            .is_some_and(|stage| !self.plan.is_needed(stage));
        match keyword.as_str() {
            "FROM" if unneeded => return self.unneeded_from(&flags, rest),
            "FROM" => return self.from(flags, rest),
            "ARG" if unneeded => {
                return self.check_unneeded(&keyword, &flags);
            }
            "ARG" => {
                no_flags(&keyword, &flags)?;
                return self.arg(rest);
            }
            "RUN" | "ENV" | "LABEL" | "USER" | "WORKDIR" | "ENTRYPOINT" | "CMD" | "COPY"
            | "ADD" | "EXPOSE" | "VOLUME" | "HEALTHCHECK" | "ONBUILD" | "SHELL" | "STOPSIGNAL"
            | "MAINTAINER" => {}
            _ => return Err(format!("unknown instruction `{keyword}`")),
        }
        if self.stages.is_empty() {
            return Err(format!(
                "`{keyword}` comes before the first FROM; only ARG may"
            ));
        }
        if unneeded {
            return self.check_unneeded(&keyword, &flags);
        }
        match keyword.as_str() {
            "RUN" => self.run(flags, rest),
            "ENV" | "LABEL" => {
                no_flags(&keyword, &flags)?;
                self.name_values(&keyword, rest)
            }
            "USER" | "WORKDIR" => {
                no_flags(&keyword, &flags)?;
                if rest.is_empty() {
                    return Err(format!("`{keyword}` needs an argument"));
                }
                let value = self.expand(rest)?;
                if keyword == "USER" {
                    self.push(Op::User {
                        user: value.clone(),
                    });
                    self.history(format!("USER {value}"), false);
                } else {
                    let stage = self.stage();
                    let current = stage
                        .container
                        .final_state()
                        .effective_workdir(stage.base_workdir.as_deref());
                    let (line, layer) = crate::history::workdir_entry(&current, &value);
                    self.push(Op::Workdir { path: value });
                    self.history(line, layer);
                }
                Ok(())
            }
            "ENTRYPOINT" | "CMD" => {
                no_flags(&keyword, &flags)?;
                let argv = self.command_argv(rest)?;
                let line = crate::history::command_line(&keyword, &argv);
                self.command(&keyword, argv);
                self.history(line, false);
                Ok(())
            }
            "COPY" | "ADD" => self.copy_or_add(&keyword, flags, rest),
            _ => self.setting(&keyword, flags, rest, text),
        }
    }

    pub(super) fn stage(&mut self) -> &mut Stage {
        // Callers check that a stage exists before dispatching stage instructions.
        self.stages.last_mut().expect("a FROM came first")
    }

    pub(super) fn push(&mut self, op: Op) {
        let stage = self.stage();
        stage.note_vars(&op);
        if !matches!(op, Op::History { .. }) {
            stage.reemitted_cmd = false;
        }
        stage.container = stage.container.with_op(op);
    }

    /// Closes the instruction just read with its history entry (see [`crate::history`]).
    pub(super) fn history(&mut self, created_by: String, layer: bool) {
        self.push(Op::History { created_by, layer });
    }
}

fn source_chain(e: &Error) -> String {
    std::error::Error::source(e)
        .map(|s| format!(": {s}"))
        .unwrap_or_default()
}

fn no_flags(keyword: &str, flags: &Flags) -> std::result::Result<(), String> {
    match flags.first() {
        Some((name, _)) => Err(format!("the {keyword} flag `--{name}` is not supported")),
        None => Ok(()),
    }
}

/// Leading `--name[=value]` words.
pub(super) fn split_flags(mut rest: &str) -> (Flags, &str) {
    let mut flags = Vec::new();
    while let Some(after) = rest.strip_prefix("--") {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let flag = &after[..end];
        match flag.split_once('=') {
            Some((n, v)) => flags.push((n.to_ascii_lowercase(), Some(v.to_owned()))),
            None => flags.push((flag.to_ascii_lowercase(), None)),
        }
        rest = after[end..].trim_start();
    }
    (flags, rest)
}

/// A JSON array of strings, `Ok(None)` when `rest` is not JSON (shell form).
pub(super) fn json_array(rest: &str) -> std::result::Result<Option<Vec<String>>, String> {
    let trimmed = rest.trim_start();
    if !trimmed.starts_with('[') {
        return Ok(None);
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
        Err(_) => Ok(None),
        Ok(values) => values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                other => Err(format!(
                    "the JSON array holds `{other}`; it must hold strings only"
                )),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
    }
}
