//! Reads the common Dockerfile subset into a [`Container`].
//!
//! Supported: parser directives (`# syntax=`, `# escape=`), comments, line continuations,
//! `FROM [AS name]` (multi-stage, `scratch`), `ARG` (global and per stage, with `${VAR}`/`$VAR`,
//! `${VAR:-x}`, `${VAR:+x}` substitution where Docker substitutes), `RUN` (shell form becomes
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

mod copy;
mod lines;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Container;
use crate::error::{Error, Problem, Result};
use crate::op::{Network, Op};
use crate::source::ImageSource;
use crate::state::{CacheMount, normalize_path};
use crate::words::{Var, expand, split_words};

/// Options of [`parse_dockerfile_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReaderOptions {
    /// The build context directory `COPY`/`ADD` sources are relative to.
    pub context_dir: PathBuf,
    /// `--build-arg` values; they apply to declared `ARG`s only.
    pub build_args: BTreeMap<String, String>,
}

impl ReaderOptions {
    /// Options with a context directory and no build args.
    pub fn new(context_dir: impl Into<PathBuf>) -> Self {
        Self {
            context_dir: context_dir.into(),
            build_args: BTreeMap::new(),
        }
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
    let mut problems = Vec::new();
    let (directives, lines) = lines::split_lines(text, &mut problems);
    let mut reader = Reader {
        options,
        escape: directives.escape,
        global_args: BTreeMap::new(),
        stages: Vec::new(),
        problems,
    };
    for line in &lines {
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
    Ok(reader.stages.pop().map(|s| s.container).unwrap_or_default())
}

/// Platform build args Docker predefines; a recipe takes the platform as a build parameter.
const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

pub(super) struct Stage {
    pub name: Option<String>,
    pub container: Container,
    /// Env set by ENV in this stage or the stage it derives from (for substitution).
    pub env: BTreeMap<String, String>,
    /// Args declared in this stage: `None` = declared without a value.
    pub args: BTreeMap<String, Option<String>>,
    /// Whether CMD was set in this stage (Docker keeps it across a later ENTRYPOINT).
    pub cmd_set: bool,
    /// Whether the last op is a CMD the reader re-emitted after an ENTRYPOINT.
    pub reemitted_cmd: bool,
}

pub(super) struct Reader<'a> {
    pub options: &'a ReaderOptions,
    pub escape: char,
    pub global_args: BTreeMap<String, Option<String>>,
    pub stages: Vec<Stage>,
    pub problems: Vec<Problem>,
}

type Flags = Vec<(String, Option<String>)>;

impl Reader<'_> {
    fn instruction(&mut self, text: &str) -> std::result::Result<(), String> {
        let (keyword, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let keyword = keyword.to_ascii_uppercase();
        let (flags, rest) = split_flags(rest.trim());
        match keyword.as_str() {
            "FROM" => return self.from(flags, rest),
            "ARG" => {
                no_flags(&keyword, &flags)?;
                return self.arg(rest);
            }
            "EXPOSE" | "VOLUME" | "HEALTHCHECK" | "ONBUILD" | "SHELL" | "STOPSIGNAL"
            | "MAINTAINER" => {
                return Err(format!(
                    "`{keyword}` is not supported: plinth recipes hold filesystem, env, labels, user, workdir, \
                     entrypoint and CMD only; remove the instruction{}",
                    if keyword == "MAINTAINER" {
                        " (or use `LABEL maintainer=…`)"
                    } else {
                        ""
                    }
                ));
            }
            "RUN" | "ENV" | "LABEL" | "USER" | "WORKDIR" | "ENTRYPOINT" | "CMD" | "COPY"
            | "ADD" => {}
            _ => return Err(format!("unknown instruction `{keyword}`")),
        }
        if self.stages.is_empty() {
            return Err(format!(
                "`{keyword}` comes before the first FROM; only ARG may"
            ));
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
                self.push(if keyword == "USER" {
                    Op::User { user: value }
                } else {
                    Op::Workdir { path: value }
                });
                Ok(())
            }
            "ENTRYPOINT" | "CMD" => {
                no_flags(&keyword, &flags)?;
                let argv = command_argv(rest)?;
                self.command(&keyword, argv);
                Ok(())
            }
            _ => self.copy_or_add(&keyword, flags, rest),
        }
    }

    pub(super) fn stage(&mut self) -> &mut Stage {
        // Callers check that a stage exists before dispatching stage instructions.
        self.stages.last_mut().expect("a FROM came first")
    }

    pub(super) fn push(&mut self, op: Op) {
        let stage = self.stage();
        if let Op::Env { name, value } = &op {
            stage.env.insert(name.clone(), value.clone());
        }
        stage.reemitted_cmd = false;
        stage.container = stage.container.with_op(op);
    }

    /// Expands a word with the variables in scope (the stage's, or the global args before FROM).
    pub(super) fn expand(&self, word: &str) -> std::result::Result<String, String> {
        let mut unknown = Vec::new();
        let result = {
            let stage = self.stages.last();
            let mut lookup = |name: &str| -> Option<Var> {
                let found = match stage {
                    Some(s) => s.env.get(name).map(|v| Var::Set(v.clone())).or_else(|| {
                        s.args
                            .get(name)
                            .map(|v| v.clone().map_or(Var::Unset, Var::Set))
                    }),
                    None => self
                        .global_args
                        .get(name)
                        .map(|v| v.clone().map_or(Var::Unset, Var::Set)),
                };
                if found.is_none() && !unknown.iter().any(|u| u == name) {
                    unknown.push(name.to_owned());
                }
                found
            };
            expand(word, self.escape, &mut lookup)
        };
        if let Some(name) = unknown.first() {
            if PLATFORM_ARGS.contains(&name.as_str()) {
                return Err(format!(
                    "`${name}` is a platform build arg; plinth recipes take the platform as a build parameter, \
                     so the Dockerfile cannot depend on it"
                ));
            }
            return Err(format!(
                "`${name}` is not set by an ARG or ENV earlier in this stage; plinth reads a Dockerfile without \
                 the base image's environment, so declare it with ARG or ENV first"
            ));
        }
        result
    }

    fn from(&mut self, flags: Flags, rest: &str) -> std::result::Result<(), String> {
        if flags.iter().any(|(n, _)| n == "platform") {
            return Err("`FROM --platform` is not supported: the platform is a build parameter of the recipe".into());
        }
        no_flags("FROM", &flags)?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (image, name) = match words.as_slice() {
            [image] => (*image, None),
            [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                (*image, Some(name.to_ascii_lowercase()))
            }
            _ => return Err("FROM takes `image` or `image AS name`".into()),
        };
        // FROM sees the global args only.
        let saved = std::mem::take(&mut self.stages);
        let expanded = self.expand(image);
        self.stages = saved;
        let image = expanded?;
        let mut stage = Stage {
            name,
            container: Container::new(),
            env: BTreeMap::new(),
            args: BTreeMap::new(),
            cmd_set: false,
            reemitted_cmd: false,
        };
        if let Some(base) = self.find_stage(&image) {
            stage.container = base.container.clone();
            stage.env = base.env.clone();
        } else if image != "scratch" {
            let source =
                ImageSource::parse(&image).map_err(|e| format!("{e}{}", source_chain(&e)))?;
            stage.container = Container::from_image(source);
        }
        self.stages.push(stage);
        Ok(())
    }

    pub(super) fn find_stage(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_ascii_lowercase();
        if let Some(s) = self
            .stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(s);
        }
        name.parse::<usize>().ok().and_then(|i| self.stages.get(i))
    }

    fn arg(&mut self, rest: &str) -> std::result::Result<(), String> {
        let words = split_words(rest, self.escape);
        if words.is_empty() {
            return Err("ARG needs a name".into());
        }
        for w in words {
            let (name, value) = match w.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(self.expand(v)?)),
                None => (w.clone(), None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!("`{name}` is not an ARG name"));
            }
            let given = self.options.build_args.get(&name).cloned();
            if self.stages.is_empty() {
                self.global_args.insert(name, given.or(value));
            } else {
                let inherited = self.global_args.get(&name).cloned().flatten();
                self.stage()
                    .args
                    .insert(name, given.or(value).or(inherited));
            }
        }
        Ok(())
    }

    fn name_values(&mut self, keyword: &str, rest: &str) -> std::result::Result<(), String> {
        let words = split_words(rest, self.escape);
        if words.is_empty() {
            return Err(format!("{keyword} needs `name=value`"));
        }
        let mut pairs = Vec::new();
        if !words[0].contains('=') {
            // Old form: `ENV name value…`, the rest of the line is the value.
            let Some((name, value)) = rest.split_once(char::is_whitespace) else {
                return Err(format!(
                    "{keyword} `{rest}` has no value: write `{keyword} {rest}=value`"
                ));
            };
            pairs.push((name.to_owned(), value.trim_start().to_owned()));
        } else {
            for w in words {
                let Some((name, value)) = w.split_once('=') else {
                    return Err(format!("`{w}` is not of the form name=value"));
                };
                pairs.push((name.to_owned(), value.to_owned()));
            }
        }
        for (name, value) in pairs {
            let name = self.expand(&name)?;
            let value = self.expand(&value)?;
            if name.is_empty() {
                return Err(format!("{keyword} has an empty name"));
            }
            self.push(if keyword == "ENV" {
                Op::Env { name, value }
            } else {
                Op::Label { name, value }
            });
        }
        Ok(())
    }

    fn command(&mut self, keyword: &str, argv: Vec<String>) {
        let state = self.stage().container.final_state();
        if keyword == "ENTRYPOINT" {
            let cmd = if self.stage().cmd_set {
                state.default_args().map(<[String]>::to_vec)
            } else {
                None
            };
            self.push(Op::Entrypoint { argv });
            if let Some(cmd) = cmd.filter(|c| !c.is_empty()) {
                self.push(Op::DefaultArgs { argv: cmd });
                self.stage().reemitted_cmd = true;
            }
        } else {
            let stage = self.stage();
            if stage.reemitted_cmd {
                // The CMD kept across the ENTRYPOINT is replaced right away: drop the copy.
                let ops = stage.container.ops();
                stage.container = Container::from_ops(ops[..ops.len() - 1].iter().cloned());
                stage.reemitted_cmd = false;
            }
            self.stage().cmd_set = true;
            let state = self.stage().container.final_state();
            let redundant = argv.is_empty()
                && state.default_args() == Some(&[])
                && matches!(
                    self.stage().container.ops().last(),
                    Some(Op::Entrypoint { .. })
                );
            if !redundant {
                self.push(Op::DefaultArgs { argv });
            }
        }
    }

    fn run(&mut self, flags: Flags, rest: &str) -> std::result::Result<(), String> {
        let mut mounts = Vec::new();
        let mut network = Network::Enabled;
        for (name, value) in flags {
            let value = value.unwrap_or_default();
            match name.as_str() {
                "mount" => mounts.push(parse_cache_mount(&value)?),
                "network" => match value.as_str() {
                    "none" => network = Network::Disabled,
                    "default" => network = Network::Enabled,
                    "host" => {
                        return Err("`RUN --network=host` is not supported per step: give plinth `--network host` to run every step in the host's network (BuildKit asks for the `network.host` entitlement the same way)".into());
                    }
                    other => {
                        return Err(format!(
                            "`RUN --network={other}` is not supported: use `none` or `default`"
                        ));
                    }
                },
                other => return Err(format!("the RUN flag `--{other}` is not supported")),
            }
        }
        if rest.is_empty() {
            return Err("RUN needs a command".into());
        }
        if json_array(rest)?.is_none() {
            check_heredoc(rest)?;
        }
        let argv = command_argv(rest)?;
        if argv.is_empty() {
            return Err("`RUN []` has no command".into());
        }
        // Our cache mounts persist across execs; sync them to this RUN's set.
        let active = self.stage().container.final_state().caches().to_vec();
        for cache in &active {
            if !mounts.iter().any(|m: &CacheMount| m.path == cache.path) {
                self.push(Op::UnmountCache {
                    path: cache.path.clone(),
                });
            }
        }
        for m in mounts {
            if !active.contains(&m) {
                self.push(Op::MountedCache {
                    path: m.path,
                    volume: m.volume,
                    owner: m.owner,
                });
            }
        }
        self.push(Op::Exec { argv, network });
        Ok(())
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

fn command_argv(rest: &str) -> std::result::Result<Vec<String>, String> {
    Ok(match json_array(rest)? {
        Some(argv) => argv,
        None => vec!["/bin/sh".into(), "-c".into(), rest.to_owned()],
    })
}

pub(super) fn check_heredoc(rest: &str) -> std::result::Result<(), String> {
    let mut s = rest;
    while let Some(i) = s.find("<<") {
        let after = s[i + 2..].trim_start_matches('-');
        if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '"' || c == '\'')
        {
            return Err("heredocs (`<<EOF`) are not supported: write the commands in one RUN joined with `&&`, or COPY a file".into());
        }
        s = &s[i + 2..];
    }
    Ok(())
}

fn parse_cache_mount(spec: &str) -> std::result::Result<CacheMount, String> {
    let mut kind = "bind";
    let (mut target, mut id, mut uid, mut gid) = (None, None, None, None);
    for field in spec.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => kind = value,
            "target" | "dst" | "destination" => target = Some(value),
            "id" => id = Some(value),
            "uid" => {
                uid = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| format!("`uid={value}` is not a number"))?,
                )
            }
            "gid" => {
                gid = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| format!("`gid={value}` is not a number"))?,
                )
            }
            "sharing" if value == "shared" => {}
            other => {
                return Err(format!(
                    "the mount option `{other}` is not supported (plinth cache mounts are shared, keyed by id)"
                ));
            }
        }
    }
    if kind != "cache" {
        return Err(format!(
            "`RUN --mount=type={kind}` is not supported: only cache mounts are"
        ));
    }
    let target = target
        .filter(|t| t.starts_with('/'))
        .ok_or("a cache mount needs an absolute `target=`")?;
    let owner = match (uid, gid) {
        (None, None) => None,
        (u, g) => Some(format!("{}:{}", u.unwrap_or(0), g.unwrap_or(0))),
    };
    let path = normalize_path(target);
    Ok(CacheMount {
        volume: id.filter(|i| !i.is_empty()).unwrap_or(target).to_owned(),
        path,
        owner,
    })
}
