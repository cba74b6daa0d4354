//! Which stages a build needs, before any is read.
//!
//! BuildKit parses the whole Dockerfile (a parse error anywhere fails the build), then
//! dispatches only the target stage and the stages it depends on (its base stage, `COPY
//! --from`, `RUN --mount=from=`): an unneeded stage's base image is never resolved and its
//! dispatch-time errors (an unset `${V:?}`, a missing context file, …) are never reported.
//! The reader does the same: [`plan`] finds the needed stages from the instructions' words,
//! and the reader checks the unneeded ones only as far as BuildKit's parser does
//! ([`Reader::check_unneeded`]).

use std::collections::BTreeSet;

use plinth_oci::Platform;

use super::lines::Logical;
use super::{Flags, Reader, ReaderOptions, Stage, split_flags};
use crate::source::ImageSource;

/// One stage as the plan sees it.
#[derive(Clone, Debug, Default)]
struct StageWords {
    /// The name after `AS`, lower-case.
    name: Option<String>,
    /// The base as `FROM` names it after expanding the global args.
    base: Option<String>,
    /// The stage `FROM` names, when it names one.
    base_stage: Option<usize>,
    /// What `COPY --from` and `RUN --mount=from=` name, its base image's `ONBUILD` triggers
    /// included (they run in this stage).
    sources: Vec<String>,
    /// What its own `ONBUILD` triggers copy or mount from: needed by a stage built on this one,
    /// which runs them, not by this one.
    trigger_sources: Vec<String>,
    /// The platform `FROM --platform=…` pins it to, when not the build's.
    platform: Option<Platform>,
}

/// The stages of a Dockerfile and which of them the build needs.
#[derive(Clone, Debug, Default)]
pub(crate) struct StagePlan {
    stages: Vec<StageWords>,
    /// Indexes of the needed stages; every stage when the target names none.
    needed: BTreeSet<usize>,
}

impl StagePlan {
    /// Whether stage `index` (0-based, in file order) is needed.
    pub fn is_needed(&self, index: usize) -> bool {
        self.needed.contains(&index)
    }

    /// The stage `name` (a stage name or index) refers to, defined anywhere in the file.
    fn stage_named(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                name.parse::<usize>()
                    .ok()
                    .filter(|i| *i < self.stages.len())
            })
    }

    /// Whether a stage after stage `current` is named `name` (BuildKit refuses copying from it).
    pub fn is_later_stage(&self, name: &str, current: usize) -> bool {
        self.stage_named(name).is_some_and(|i| i >= current)
    }
}

/// Finds the stages of `lines` and the ones the target (`options.target`, else the last stage)
/// needs. Global args are expanded with a reader of their own.
pub(super) fn plan(lines: &[Logical], options: &ReaderOptions, escape: char) -> StagePlan {
    let mut reader = Reader::new(options, escape, Vec::new());
    let mut plan = StagePlan::default();
    for line in lines {
        let (keyword, rest) = keyword_and_rest(&line.text);
        if keyword.eq_ignore_ascii_case("ARG") && plan.stages.is_empty() {
            let (_, rest) = split_flags(rest);
            let _ = reader.arg(rest);
        } else if keyword.eq_ignore_ascii_case("FROM") {
            let (flags, rest) = split_flags(rest);
            // A flag that does not parse is reported when the stage is read.
            let platform = reader.stage_platform(&flags).ok().flatten();
            let words: Vec<&str> = rest.split_whitespace().collect();
            let base = words
                .first()
                .and_then(|image| reader.expand_in(image, None).ok());
            let base_stage = base.as_deref().and_then(|b| {
                let lower = b.to_ascii_lowercase();
                plan.stages
                    .iter()
                    .position(|s| s.name.as_deref() == Some(lower.as_str()))
                    .or_else(|| b.parse::<usize>().ok().filter(|i| *i < plan.stages.len()))
            });
            let name = match words.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                    Some(name.to_ascii_lowercase())
                }
                _ => None,
            };
            // A base image's triggers run in this stage: what they copy from, it needs.
            let sources = match (&base, base_stage) {
                (Some(image), None) => base_triggers(options, image, platform.as_ref())
                    .iter()
                    .flat_map(|trigger| sources_of(trigger))
                    .collect(),
                _ => Vec::new(),
            };
            plan.stages.push(StageWords {
                name,
                base,
                base_stage,
                sources,
                trigger_sources: Vec::new(),
                platform,
            });
        } else if let Some(stage) = plan.stages.last_mut() {
            match trigger_of(&line.text) {
                Some(trigger) => stage.trigger_sources.extend(sources_of(trigger)),
                None => stage.sources.extend(sources_of(&line.text)),
            }
        }
    }
    let target = match &options.target {
        None => plan.stages.len().checked_sub(1),
        Some(name) => {
            let lower = name.to_ascii_lowercase();
            plan.stages
                .iter()
                .position(|s| s.name.as_deref() == Some(lower.as_str()))
        }
    };
    let Some(target) = target else {
        // An unknown target is reported after the whole file is read: read every stage.
        plan.needed = (0..plan.stages.len()).collect();
        return plan;
    };
    let mut pending = vec![target];
    while let Some(index) = pending.pop() {
        if !plan.needed.insert(index) {
            continue;
        }
        let stage = &plan.stages[index];
        pending.extend(stage.base_stage);
        pending.extend(stage.sources.iter().filter_map(|s| plan.stage_named(s)));
        // The base stage's triggers run here.
        if let Some(base) = stage.base_stage {
            pending.extend(
                plan.stages[base]
                    .trigger_sources
                    .iter()
                    .filter_map(|s| plan.stage_named(s)),
            );
        }
    }
    plan
}

fn keyword_and_rest(text: &str) -> (&str, &str) {
    let (keyword, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    (keyword, rest.trim())
}

/// The trigger of an `ONBUILD` line.
fn trigger_of(text: &str) -> Option<&str> {
    let (keyword, rest) = keyword_and_rest(text);
    keyword.eq_ignore_ascii_case("ONBUILD").then_some(rest)
}

/// The `ONBUILD` triggers of a base image, when its config is known.
fn base_triggers<'a>(
    options: &'a ReaderOptions,
    image: &str,
    platform: Option<&Platform>,
) -> &'a [String] {
    let config = match platform {
        None => options.base_configs.get(image),
        Some(p) => options
            .platform_base_configs
            .get(&(p.clone(), image.to_owned())),
    };
    config.map_or(&[], |c| c.on_build.as_slice())
}

/// What an instruction copies or mounts from: `COPY --from=X`, `RUN --mount=…,from=X`.
fn sources_of(text: &str) -> Vec<String> {
    let (keyword, rest) = keyword_and_rest(text);
    let (flags, _) = split_flags(rest);
    let keyword = keyword.to_ascii_uppercase();
    let mut out = Vec::new();
    for (name, value) in flags {
        let Some(value) = value else { continue };
        match (keyword.as_str(), name.as_str()) {
            ("COPY", "from") => out.push(value),
            ("RUN", "mount") => out.extend(
                value
                    .split(',')
                    .filter_map(|field| field.strip_prefix("from="))
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    out
}

/// The images the needed stages of `text` start from, as `FROM` names them after expanding the
/// global args (stage names and `scratch` left out, each once), whatever platform they are
/// built for: the keys of [`ReaderOptions::base_configs`] (and, for the stages pinned to another
/// platform, of [`ReaderOptions::platform_base_configs`], see [`base_images_by_platform`]). An
/// unneeded stage's base is left out, as BuildKit never resolves it. Problems are left to
/// [`super::read_dockerfile`].
pub fn base_images(text: &str, options: &ReaderOptions) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, image) in needed_bases(text, options) {
        if !out.contains(&image) {
            out.push(image);
        }
    }
    out
}

/// The base images of the needed stages with the platform each is read and built for, each pair
/// once: `None` for the build's platform (the keys of [`ReaderOptions::base_configs`]), else the
/// platform `FROM --platform=…` pins the stage to (the keys of
/// [`ReaderOptions::platform_base_configs`]).
pub fn base_images_by_platform(
    text: &str,
    options: &ReaderOptions,
) -> Vec<(Option<Platform>, String)> {
    let mut out: Vec<(Option<Platform>, String)> = Vec::new();
    for base in needed_bases(text, options) {
        if !out.contains(&base) {
            out.push(base);
        }
    }
    out
}

/// Every needed stage's base image with the platform it is pinned to, in file order.
fn needed_bases(text: &str, options: &ReaderOptions) -> Vec<(Option<Platform>, String)> {
    let (directives, lines) = super::lines::split_lines(text, &mut Vec::new());
    let plan = plan(&lines, options, directives.escape);
    let mut out = Vec::new();
    for (index, stage) in plan.stages.iter().enumerate() {
        if !plan.is_needed(index) || stage.base_stage.is_some() {
            continue;
        }
        if let Some(image) = &stage.base
            && image != "scratch"
        {
            out.push((stage.platform.clone(), image.clone()));
        }
    }
    out
}

/// The flags BuildKit's parser knows for each instruction; any other is a parse error, reported
/// whether or not the stage is needed.
fn known_flags(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "FROM" => &["platform"],
        "RUN" => &["mount", "network", "security"],
        "COPY" => &["from", "chown", "chmod", "link", "parents", "exclude"],
        "ADD" => &[
            "chown",
            "chmod",
            "checksum",
            "link",
            "keep-git-dir",
            "exclude",
            "unpack",
        ],
        "HEALTHCHECK" => &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
        _ => &[],
    }
}

impl Reader<'_> {
    /// An instruction of a stage the build does not need: only what BuildKit's parser checks
    /// for the whole file (the instruction and its flags).
    pub(super) fn check_unneeded(
        &mut self,
        keyword: &str,
        flags: &Flags,
    ) -> std::result::Result<(), String> {
        let known = known_flags(keyword);
        match flags
            .iter()
            .find(|(name, _)| !known.contains(&name.as_str()))
        {
            Some((name, _)) => Err(format!(
                "the {keyword} flag `--{name}` is not one BuildKit knows (it refuses it in every stage, needed or not)"
            )),
            None => Ok(()),
        }
    }

    /// `FROM` of a stage the build does not need: its words and platform are checked, its base
    /// named, never resolved.
    pub(super) fn unneeded_from(
        &mut self,
        flags: &Flags,
        rest: &str,
    ) -> std::result::Result<(), String> {
        self.check_unneeded("FROM", flags)?;
        for (_, value) in flags {
            let value = self.expand_in(value.as_deref().unwrap_or(""), None)?;
            value.parse::<Platform>().map_err(|e| {
                format!("`FROM --platform={value}` is not a platform (`os/arch[/variant]`): {e}")
            })?;
        }
        let (image, name) = from_words(rest)?;
        let image = self.expand_in(image, None)?;
        if image != "scratch" && self.find_stage(&image).is_none() {
            ImageSource::parse(&image).map_err(|e| format!("{e}{}", super::source_chain(&e)))?;
        }
        self.stages.push(Stage::new(name, false));
        Ok(())
    }
}

/// `image` or `image AS name` (the name lower-cased).
pub(super) fn from_words(rest: &str) -> std::result::Result<(&str, Option<String>), String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        [image] => Ok((image, None)),
        [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            Ok((image, Some(name.to_ascii_lowercase())))
        }
        _ => Err("FROM takes `image` or `image AS name`".into()),
    }
}
