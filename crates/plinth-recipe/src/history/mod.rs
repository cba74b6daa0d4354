//! Image history lines (`created_by`) exactly as BuildKit's Dockerfile frontend writes them
//! (`dockerfile2llb/convert.go`, `commitToHistory`, in the BuildKit of Docker 20.10): the one
//! renderer of history text.
//!
//! The Dockerfile reader records one [`Op::History`] per instruction with the words as
//! written (`COPY` sources, `ARG` defaults), which only it knows; a recipe declared in Rust has
//! none, and [`op_entry`] renders each operation in the same form. Either way an image reads
//! the same in `docker history` whichever way it was declared.
//!
//! The forms, per instruction: `RUN [|N K=V …] argv… # buildkit` (the args the stage declared,
//! in order, with their values), `COPY|ADD src… dest # buildkit` (no flags), `WORKDIR /abs`,
//! `ENV k=v …`, `LABEL k=v …`, `ARG k[=default] …`, `USER u`, `CMD ["a" "b"]` and
//! `ENTRYPOINT […]` (Go's `%q`), `EXPOSE map[80/tcp:{}]`, `VOLUME [/a /b]`, `SHELL [sh -c]`,
//! `STOPSIGNAL s`, `HEALTHCHECK &{["CMD-SHELL" "x"] "5s" "0s" "0s" '\x00'}`, `MAINTAINER m`;
//! `ONBUILD` records nothing. Layers: `RUN`, `COPY`, `ADD` and a `WORKDIR` other than `/`
//! each make one, empty when nothing changed.

mod exporter;
mod go_format;

pub use exporter::{
    EXPORTER_COMMENT, FILE_OPERATION_SNAPSHOT, account_for_layers, pulled_description,
    snapshot_description,
};

use crate::op::{DirectorySource, FileSource, Op};
use crate::setting::{HealthCheck, ImageSetting};
use crate::state::{ContainerState, join_path, normalize_path};

/// The `comment` of every entry BuildKit's Dockerfile frontend writes.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// What marks the entries of instructions that ran something (BuildKit's suffix).
const RAN_SUFFIX: &str = " # buildkit";

/// `RUN`: the stage's declared args (name and value, in declaration order), then the argv.
pub fn run_line(build_args: &[(String, String)], argv: &[String]) -> String {
    let mut words: Vec<String> = Vec::new();
    if !build_args.is_empty() {
        words.push(format!("|{}", build_args.len()));
        words.extend(build_args.iter().map(|(k, v)| format!("{k}={v}")));
    }
    words.extend(argv.iter().cloned());
    format!("RUN {}{RAN_SUFFIX}", words.join(" "))
}

/// `COPY`/`ADD`: the sources and destination as written (variables expanded), no flags.
pub fn copy_line(keyword: &str, sources: &[String], dest: &str) -> String {
    let mut line = keyword.to_owned();
    for word in sources.iter().map(String::as_str).chain([dest]) {
        line.push(' ');
        line.push_str(word);
    }
    line.push_str(RAN_SUFFIX);
    line
}

/// `ENV` and `LABEL`: every pair, expanded.
pub fn pairs_line(keyword: &str, pairs: &[(String, String)]) -> String {
    let mut line = keyword.to_owned();
    for (name, value) in pairs {
        line.push_str(&format!(" {name}={value}"));
    }
    line
}

/// `ARG`: every name, with its default as written in the Dockerfile (expanded), not the value
/// a `--build-arg` gave.
pub fn arg_line(args: &[(String, Option<String>)]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|(name, default)| match default {
            Some(d) => format!("{name}={d}"),
            None => name.clone(),
        })
        .collect();
    format!("ARG {}", words.join(" "))
}

/// `WORKDIR`: the path as given when absolute, else joined to the current workdir (and
/// cleaned, as Go's `path.Join` does). It makes a layer unless it is `/`.
pub fn workdir_entry(current: &str, path: &str) -> (String, bool) {
    let resolved = if path.starts_with('/') {
        path.to_owned()
    } else {
        join_path(&normalize_path(current), path)
    };
    let layer = resolved != "/";
    (format!("WORKDIR {resolved}"), layer)
}

/// `CMD` and `ENTRYPOINT`: the final argv (the shell prepended to a shell form), Go-quoted.
pub fn command_line(keyword: &str, argv: &[String]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| go_format::quote(a)).collect();
    format!("{keyword} [{}]", quoted.join(" "))
}

/// The entry of an image setting; `None` for those BuildKit records nothing for (`ONBUILD`,
/// and the base's triggers having run).
pub fn setting_line(setting: &ImageSetting) -> Option<String> {
    Some(match setting {
        ImageSetting::Expose { ports } => {
            let ports: std::collections::BTreeSet<&str> =
                ports.iter().map(String::as_str).collect();
            let entries: Vec<String> = ports.iter().map(|p| format!("{p}:{{}}")).collect();
            format!("EXPOSE map[{}]", entries.join(" "))
        }
        ImageSetting::Volume { paths } => format!("VOLUME [{}]", paths.join(" ")),
        ImageSetting::Healthcheck { check } => format!("HEALTHCHECK {}", healthcheck(check)),
        ImageSetting::StopSignal { signal } => format!("STOPSIGNAL {signal}"),
        ImageSetting::Shell { argv } => format!("SHELL [{}]", argv.join(" ")),
        ImageSetting::Author { name } => format!("MAINTAINER {name}"),
        ImageSetting::OnBuild { .. } | ImageSetting::OnBuildTriggersRan => return None,
    })
}

/// Go's `%q` of BuildKit's `*HealthConfig`: `&{[test…] interval timeout start-period retries}`,
/// durations as `time.Duration` prints them and the retry count as a quoted rune. (A
/// `--start-interval`, which this BuildKit does not know, goes after the start period, where
/// later BuildKit keeps it.)
fn healthcheck(check: &HealthCheck) -> String {
    let test: Vec<String> = check.test.iter().map(|t| go_format::quote(t)).collect();
    let mut fields = vec![format!("[{}]", test.join(" "))];
    let mut durations = vec![check.interval, check.timeout, check.start_period];
    if check.start_interval.is_some() {
        durations.push(check.start_interval);
    }
    for ns in durations {
        fields.push(go_format::quote(&go_format::duration(ns.unwrap_or(0))));
    }
    fields.push(go_format::quote_rune(check.retries.unwrap_or(0)));
    format!("&{{{}}}", fields.join(" "))
}

/// One history entry: its `created_by` and whether it comes with a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The `created_by` text.
    pub created_by: String,
    /// Whether the step makes a layer (an empty one when it changed nothing).
    pub layer: bool,
}

impl HistoryEntry {
    fn new(created_by: String, layer: bool) -> Self {
        Self { created_by, layer }
    }
}

/// The container without its own (top-level) history entries, and each entry with the number
/// of the container's other operations before it: what an executor runs, numbered as the user
/// counts steps, and where each instruction's entry closes.
pub fn split_entries(
    container: &crate::Container,
) -> (crate::Container, Vec<(usize, HistoryEntry)>) {
    let mut ops = Vec::with_capacity(container.ops().len());
    let mut entries = Vec::new();
    for op in container.ops() {
        match op {
            Op::History { created_by, layer } => {
                entries.push((ops.len(), HistoryEntry::new(created_by.clone(), *layer)));
            }
            other => ops.push(other.clone()),
        }
    }
    (container.with_ops(ops), entries)
}

/// The entry of one operation of a recipe without [`Op::History`] entries (one declared in
/// Rust), in the form the same step written as a Dockerfile line gets from BuildKit; `state` is
/// the state before it. `None` for operations BuildKit records nothing for (`FROM`, whose
/// entries are the base's, cache mount markers, `ONBUILD`).
pub fn op_entry(op: &Op, state: &ContainerState) -> Option<HistoryEntry> {
    let ran = |line: String| Some(HistoryEntry::new(line, true));
    let noted = |line: String| Some(HistoryEntry::new(line, false));
    match op {
        Op::From { .. } | Op::MountedCache { .. } | Op::UnmountCache { .. } => None,
        Op::History { created_by, layer } => Some(HistoryEntry::new(created_by.clone(), *layer)),
        Op::Exec { argv, env, .. } => {
            let args: Vec<(String, String)> =
                env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            ran(run_line(&args, argv))
        }
        Op::Env { name, value } => noted(pairs_line("ENV", &[(name.clone(), value.clone())])),
        Op::Label { name, value } => noted(pairs_line("LABEL", &[(name.clone(), value.clone())])),
        Op::User { user } => noted(format!("USER {user}")),
        Op::Workdir { path } => {
            let (line, layer) = workdir_entry(state.workdir().unwrap_or("/"), path);
            Some(HistoryEntry::new(line, layer))
        }
        Op::Entrypoint { argv } => noted(command_line("ENTRYPOINT", argv)),
        Op::DefaultArgs { argv } => noted(command_line("CMD", argv)),
        Op::File { path, source, .. } => {
            let (keyword, from) = match source {
                FileSource::Url { url, .. } => ("ADD", url.clone()),
                FileSource::HostFile(p) => ("COPY", host_name(p)),
                FileSource::Bytes(_) => ("COPY", file_name(path)),
            };
            ran(copy_line(keyword, &[from], path))
        }
        Op::Directory { path, source, .. } => {
            let (keyword, from) = match source {
                DirectorySource::Container { path: from, .. } => ("COPY", from.clone()),
                DirectorySource::Host(dir) | DirectorySource::HostIgnoring { path: dir, .. } => {
                    ("COPY", host_name(dir))
                }
                DirectorySource::HostArchive(archive) => ("ADD", host_name(archive)),
            };
            ran(copy_line(keyword, &[from], path))
        }
        Op::Config { setting } => setting_line(setting).and_then(noted),
    }
}

/// A host input as a context path: its file name. The directory the build ran in is no part
/// of the image (two checkouts of one recipe give one digest).
fn host_name(path: &std::path::Path) -> String {
    path.file_name()
        .map_or_else(|| ".".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The last component of an image path (the name a file written from bytes has).
fn file_name(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(".")
        .to_owned()
}

#[cfg(test)]
mod tests;
