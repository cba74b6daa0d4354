//! `generate-docs`: the catalog `README.md` (the original's format, via `plinth-render`) and the
//! machine-readable `generated/registry.json`, both below the catalog directory.
//!
//! The README written here is the *catalog's* (the tables of every family's versions), at
//! `<catalog dir>/README.md`; a project keeps its catalog in its own directory so this never
//! touches the project's README. `--check` renders the same text and fails with a diff when a
//! file differs, for CI.

use std::path::{Path, PathBuf};

use plinth_catalog::VersionHistory;

use crate::error::{Error, Result};
use crate::record::write_atomic;
use crate::releaser::Releaser;

/// The catalog README, relative to the catalog directory.
pub const README_FILE: &str = "README.md";
/// The registry JSON, relative to the catalog directory.
pub const REGISTRY_JSON_FILE: &str = "generated/registry.json";

/// The generated files: path and content.
#[derive(Clone, Debug)]
pub struct Docs {
    /// `(path, text)` for the README and the registry JSON.
    pub files: Vec<(PathBuf, String)>,
}

/// A unified diff from `old` to `new`, labelled with `path`.
pub fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("{} (on disk)", path.display()),
            &format!("{} (generated)", path.display()),
        )
        .to_string()
}

impl Releaser {
    /// The version histories of every family, in catalog order.
    pub fn histories(&self) -> Result<Vec<VersionHistory>> {
        self.catalog
            .families()
            .iter()
            .map(|f| self.history(f.repository()))
            .collect()
    }

    /// Renders the docs without writing them.
    pub fn render_docs(&self) -> Result<Docs> {
        let histories = self.histories()?;
        let dir = self.catalog_dir();
        // The README sits in the catalog directory: a file family's paths are shown from there.
        let abouts = self.catalog.families().iter().map(|f| {
            let mut about = f.about();
            about.files = about.files.map(|files| files.relative_to(dir));
            about
        });
        let readme =
            plinth_render::Readme::new(self.catalog.title(), self.catalog.owner(), &histories)
                .with_family_abouts(abouts)
                .render()?;
        let json = plinth_render::render_registry_json(&histories)?;
        Ok(Docs {
            files: vec![
                (dir.join(README_FILE), readme),
                (dir.join(REGISTRY_JSON_FILE), json),
            ],
        })
    }

    /// Writes the docs (atomically; unchanged files are left alone).
    pub fn write_docs(&self) -> Result<Docs> {
        let docs = self.render_docs()?;
        for (path, text) in &docs.files {
            if std::fs::read_to_string(path).is_ok_and(|old| &old == text) {
                continue;
            }
            write_atomic(path, text.as_bytes())?;
        }
        self.reporter.status("README.md generated successfully.");
        self.reporter.status("Generated docs successfully.");
        Ok(docs)
    }

    /// Fails with [`Error::Stale`] (with a diff) when a generated file differs from what the
    /// catalog gives now.
    pub fn check_docs(&self) -> Result<Docs> {
        let docs = self.render_docs()?;
        for (path, text) in &docs.files {
            let old = match std::fs::read_to_string(path) {
                Ok(old) => old,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(Error::io("read", path)(e)),
            };
            if &old != text {
                return Err(Error::Stale {
                    path: path.clone(),
                    diff: unified_diff(path, &old, text),
                });
            }
        }
        Ok(docs)
    }
}
