//! Variables: `ARG`, `ENV`, `LABEL` and the expansion of words, following BuildKit's dispatcher.
//!
//! BuildKit keeps one ordered "run state" env per stage: the base image's env, then every `ENV`
//! and every `ARG` that has a value, the later setting of a name winning. Words expand against
//! it, and `RUN` gets it as its environment; only `ENV` reaches the image config. `ENV a=x b=$a`
//! expands all its words before setting any (`$a` is the value from before the instruction);
//! `ARG a=x b=$a` sets them one by one.

use std::collections::{BTreeMap, BTreeSet};

use plinth_oci::Platform;

use super::{Reader, Stage};
use crate::op::Op;
use crate::words::{Var, expand, expand_raw, split_words};

/// The `PATH` BuildKit gives a stage whose base sets none (`system.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Platform build args BuildKit defines for every build; a stage sees them after `ARG NAME`.
pub(super) const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// The values of [`PLATFORM_ARGS`] for a build of `target` on `build`.
pub(super) fn platform_args(target: &Platform, build: &Platform) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (prefix, p) in [("TARGET", target), ("BUILD", build)] {
        out.insert(format!("{prefix}PLATFORM"), p.to_string());
        out.insert(format!("{prefix}OS"), p.os.clone());
        out.insert(format!("{prefix}ARCH"), p.architecture.clone());
        out.insert(
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        );
    }
    out
}

/// A stage's variables as BuildKit's run state holds them (minus the base image's env).
#[derive(Clone, Debug, Default)]
pub(crate) struct Vars {
    /// Values set by `ENV` or by an `ARG` with a value, the later one winning.
    values: BTreeMap<String, String>,
    /// The names in `values` whose value came from an `ARG`: build-time env for `RUN`.
    from_args: BTreeSet<String>,
    /// Whether the stage starts from an image, whose env the reader does not know.
    pub from_image: bool,
}

impl Vars {
    /// Variables of a stage on an image whose env the reader does not know.
    pub fn unknown_base() -> Self {
        Self {
            from_image: true,
            ..Self::default()
        }
    }

    /// Variables of a stage on scratch: only `PATH`, which BuildKit sets when a base has none.
    pub fn scratch() -> Self {
        Self::from_base_env(&[])
    }

    /// Variables of a stage on an image with this env (BuildKit adds `PATH` when it is missing).
    pub fn from_base_env(env: &[(String, String)]) -> Self {
        let mut vars = Self::default();
        for (name, value) in env {
            vars.set_env(name, value);
        }
        if !vars.values.contains_key("PATH") {
            vars.set_env("PATH", DEFAULT_PATH);
        }
        vars
    }

    fn set_env(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_owned(), value.to_owned());
        self.from_args.remove(name);
    }

    fn set_arg(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_owned(), value.to_owned());
        self.from_args.insert(name.to_owned());
    }

    /// The value of `name` in the run state (`ENV`, an `ARG` with a value, the base's env).
    pub fn value(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }

    /// The `ARG` values `RUN` gets as environment.
    pub fn build_env(&self) -> BTreeMap<String, String> {
        self.from_args
            .iter()
            .map(|n| (n.clone(), self.values[n].clone()))
            .collect()
    }
}

impl Reader<'_> {
    /// Expands a word with the variables in scope (the stage's, or the global args before FROM).
    pub(super) fn expand(&self, word: &str) -> Result<String, String> {
        self.expand_in(word, self.stages.last().map(|s| &s.vars))
    }

    /// Expands a heredoc body (quotes kept) with the stage's variables.
    pub(super) fn expand_raw(&self, text: &str) -> Result<String, String> {
        self.expand_with(text, self.stages.last().map(|s| &s.vars), true)
    }

    /// Expands a word against `vars`, or against the global args when `vars` is `None`.
    pub(super) fn expand_in(&self, word: &str, vars: Option<&Vars>) -> Result<String, String> {
        self.expand_with(word, vars, false)
    }

    fn expand_with(
        &self,
        word: &str,
        vars: Option<&Vars>,
        heredoc: bool,
    ) -> Result<String, String> {
        let mut unknown: Option<String> = None;
        let result = {
            let mut lookup = |name: &str| -> Option<Var> {
                let found = match vars {
                    Some(v) => match v.values.get(name) {
                        Some(value) => Some(Var::Set(value.clone())),
                        // A name the Dockerfile never set is unset on scratch; on an image it
                        // may come from the image's env, which the reader does not see.
                        None if !v.from_image => Some(Var::Unset),
                        None => None,
                    },
                    None => match self.global_args.get(name) {
                        Some(Some(value)) => Some(Var::Set(value.clone())),
                        Some(None) => Some(Var::Unset),
                        None if PLATFORM_ARGS.contains(&name) => {
                            self.platform_args.get(name).cloned().map(Var::Set)
                        }
                        None => Some(Var::Unset),
                    },
                };
                if found.is_none() && unknown.is_none() {
                    unknown = Some(name.to_owned());
                }
                found
            };
            if heredoc {
                expand_raw(word, &mut lookup)
            } else {
                expand(word, self.escape, &mut lookup)
            }
        };
        if let Some(name) = unknown {
            if PLATFORM_ARGS.contains(&name.as_str()) {
                return Err(format!(
                    "`${name}` is a platform build arg: declare it with `ARG {name}` in this stage first, \
                     as BuildKit requires{}",
                    if self.platform_args.is_empty() {
                        " (and build for one platform: this read has none)"
                    } else {
                        ""
                    }
                ));
            }
            return Err(format!(
                "`${name}` is not set by an ARG or ENV earlier in this stage and may come from the base image's \
                 environment, which plinth does not read: set it with ENV or ARG first (e.g. `ENV {name}=…`)"
            ));
        }
        result
    }

    pub(super) fn arg(&mut self, rest: &str) -> Result<(), String> {
        let words = split_words(rest, self.escape);
        if words.is_empty() {
            return Err("ARG needs a name".into());
        }
        let mut recorded = Vec::with_capacity(words.len());
        for w in words {
            let (name, default) = match w.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (w.clone(), None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!("`{name}` is not an ARG name"));
            }
            let given = self.options.build_args.get(&name).cloned();
            if given.is_some() {
                self.used_build_args.insert(name.clone());
            }
            if self.stages.is_empty() {
                // Global args expand against the global args before them.
                let value = match (given, default) {
                    (Some(g), _) => Some(g),
                    (None, Some(d)) => Some(self.expand_in(&d, None)?),
                    (None, None) => self.platform_args.get(&name).cloned(),
                };
                self.global_args.insert(name, value);
                continue;
            }
            // The history shows the default as written (expanded), whatever was given.
            let shown = default
                .as_ref()
                .map(|d| self.expand(d).unwrap_or_else(|_| d.clone()));
            recorded.push((name.clone(), shown));
            self.stage().declared_args.push(name.clone());
            let value = match (given, default) {
                (Some(g), _) => Some(g),
                (None, Some(d)) => Some(self.expand(&d)?),
                (None, None) => match self.global_args.get(&name) {
                    Some(v) => v.clone(),
                    None => self.platform_args.get(&name).cloned(),
                },
            };
            if value.is_none() && PLATFORM_ARGS.contains(&name.as_str()) {
                return Err(format!(
                    "`ARG {name}` is a platform build arg and this read has no platform: build for one platform"
                ));
            }
            if let Some(value) = value {
                self.stage().vars.set_arg(&name, &value);
            }
        }
        if !self.stages.is_empty() {
            self.history(crate::history::arg_line(&recorded), false);
        }
        Ok(())
    }

    /// `ENV` and `LABEL`: every word expands against the variables from before the instruction.
    pub(super) fn name_values(&mut self, keyword: &str, rest: &str) -> Result<(), String> {
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
        let mut expanded = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let name = self.expand(&name)?;
            let value = self.expand(&value)?;
            if name.is_empty() {
                return Err(format!("{keyword} has an empty name"));
            }
            expanded.push((name, value));
        }
        let line = crate::history::pairs_line(keyword, &expanded);
        for (name, value) in expanded {
            self.push(if keyword == "ENV" {
                Op::Env { name, value }
            } else {
                Op::Label { name, value }
            });
        }
        self.history(line, false);
        Ok(())
    }
}

impl Stage {
    /// Records an operation's effect on the variables.
    pub(super) fn note_vars(&mut self, op: &Op) {
        if let Op::Env { name, value } = op {
            self.vars.set_env(name, value);
        }
    }
}
