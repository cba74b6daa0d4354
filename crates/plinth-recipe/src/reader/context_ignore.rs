//! The build context as BuildKit receives it: through `<Dockerfile>.dockerignore` or
//! `.dockerignore` (see [`crate::ignore`]). `COPY`/`ADD` sources, their wildcards and the
//! directories they copy see only what the ignore file keeps. The reader's
//! [`ReaderOptions::context_excludes`] follow the file's patterns (a context without an ignore
//! file is then read as if it had one holding just those).

use std::path::Path;

use super::ReaderOptions;
use crate::ignore::{IgnoreRules, find_ignore_file, read_patterns};

/// The ignore file of a read, compiled.
pub(super) struct ContextIgnore {
    /// What excludes paths, for messages: ``the ignore file `PATH` ``, the context excludes, or both.
    pub file: String,
    /// The patterns, for [`crate::DirectorySource::HostIgnoring`].
    pub patterns: Vec<String>,
    rules: IgnoreRules,
}

impl ContextIgnore {
    /// The context's ignore file and the reader's context excludes, if there is either.
    pub fn load(options: &ReaderOptions) -> Result<Option<Self>, String> {
        let found = find_ignore_file(&options.context_dir, options.dockerfile.as_deref());
        if found.is_none() && options.context_excludes.is_empty() {
            return Ok(None);
        }
        let mut patterns = Vec::new();
        let mut what = Vec::new();
        if let Some(path) = found {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("failed to read the ignore file `{file}`: {e}"))?;
            patterns = read_patterns(&text);
            IgnoreRules::new(&patterns).map_err(|e| format!("the ignore file `{file}`: {e}"))?;
            what.push(format!("the ignore file `{file}`"));
        }
        if !options.context_excludes.is_empty() {
            patterns.extend(options.context_excludes.iter().cloned());
            what.push(format!(
                "the context excludes `{}`",
                options.context_excludes.join("`, `")
            ));
        }
        let rules =
            IgnoreRules::new(&patterns).map_err(|e| format!("{}: {e}", what.join(" and ")))?;
        Ok(Some(Self {
            file: what.join(" and "),
            patterns,
            rules,
        }))
    }

    /// Whether the context path `rel` reaches BuildKit: it is not excluded, or it is a
    /// directory holding something a `!` pattern keeps.
    pub fn visible(&self, context: &Path, rel: &str) -> bool {
        if !self.rules.excludes(rel) {
            return true;
        }
        if !self.rules.has_exceptions() {
            return false;
        }
        let mut below = Vec::new();
        list_below(&context.join(rel), "", &mut below);
        let refs: Vec<&str> = below.iter().map(String::as_str).collect();
        self.rules
            .kept(rel, &refs)
            .first()
            .copied()
            .unwrap_or(false)
    }
}

/// The paths below `dir` in pre-order, `""` (the directory itself) first; unreadable entries
/// are left out (the copy reports them).
fn list_below(dir: &Path, rel: &str, out: &mut Vec<String>) {
    out.push(rel.to_owned());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    names.sort_by_key(|e| e.file_name());
    for entry in names {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            list_below(&entry.path(), &child, out);
        } else {
            out.push(child);
        }
    }
}

/// `path` below `context` as a `/`-separated context path (`""` for the root).
pub(super) fn context_relative(context: &Path, path: &Path) -> String {
    path.strip_prefix(context)
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default()
}
