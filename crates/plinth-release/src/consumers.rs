//! `upgrade-consumers`: point the files that use a catalog's images at the address to pin.
//!
//! What a consumer file looks like is a [`ConsumerFormat`]: the catalog's own formats first
//! ([`Catalog::consumer_formats`](plinth_catalog::Catalog::consumer_formats), Airbyte's
//! connector `metadata.yaml` for the built-in catalog), then Dockerfiles ([`Dockerfiles`]),
//! which every catalog's consumers may be. This module holds the flow: pick the format, ask it
//! for the pins, look up the latest stable published address of each pin's family, have the
//! format rewrite them (read back to check), show the diff and replace the file atomically.

mod dockerfile;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plinth_catalog::consumer::repin;
use plinth_catalog::{ConsumerFamilies, ConsumerFormat};
use plinth_oci::Reference;

pub use dockerfile::Dockerfiles;

use crate::docs::unified_diff;
use crate::error::{Error, Result};
use crate::record::write_atomic;
use crate::releaser::Releaser;

/// One pin `upgrade-consumers` looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerPinUpdate {
    /// The family repository it follows.
    pub repository: String,
    /// The address it pins now (or already pinned).
    pub address: String,
}

/// What `upgrade-consumers` did to one file.
#[derive(Clone, Debug)]
pub struct ConsumerUpdate {
    /// The file.
    pub path: PathBuf,
    /// Its pins, in file order.
    pub pins: Vec<ConsumerPinUpdate>,
    /// The diff (empty when the file already pins every address).
    pub diff: String,
}

impl ConsumerUpdate {
    /// The addresses, comma-separated, for messages.
    pub fn addresses(&self) -> String {
        let addresses: Vec<&str> = self.pins.iter().map(|p| p.address.as_str()).collect();
        addresses.join(", ")
    }
}

/// The families of the releaser's catalog as its target registry publishes them.
struct TargetFamilies<'r>(&'r Releaser);

impl ConsumerFamilies for TargetFamilies<'_> {
    fn family_of(&self, address: &str) -> Option<String> {
        let reference: Reference = address.parse().ok()?;
        let own_name = |repository: &str| {
            repository
                .parse::<Reference>()
                .is_ok_and(|r| r.name() == reference.name())
        };
        self.0
            .catalog
            .repositories()
            .into_iter()
            .find(|repository| {
                self.0.settings.target.matches(repository, &reference) || own_name(repository)
            })
            .map(str::to_owned)
    }

    fn repositories(&self) -> Vec<String> {
        self.0
            .catalog
            .repositories()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

impl Releaser {
    /// The consumer formats tried in order: the catalog's, then Dockerfiles.
    pub fn consumer_formats(&self) -> Vec<Arc<dyn ConsumerFormat>> {
        let mut formats = self.catalog.consumer_formats().to_vec();
        formats.push(Arc::new(Dockerfiles));
        formats
    }

    /// The consumer file at `path` (a file, or a directory holding one, the first format's
    /// file found) with the format that reads it.
    fn consumer_file(&self, path: &Path) -> Result<(PathBuf, Arc<dyn ConsumerFormat>)> {
        let formats = self.consumer_formats();
        let names: Vec<&str> = formats.iter().map(|f| f.file_name()).collect();
        let unknown = |reason: String| Error::Consumer {
            path: path.to_path_buf(),
            reason,
        };
        if path.is_dir() {
            return formats
                .iter()
                .map(|f| (path.join(f.file_name()), f))
                .find(|(file, _)| file.is_file())
                .map(|(file, f)| (file, Arc::clone(f)))
                .ok_or_else(|| {
                    unknown(format!(
                        "the directory holds none of the consumer files this catalog reads (`{}`)",
                        names.join("`, `")
                    ))
                });
        }
        formats
            .iter()
            .find(|f| f.reads(path))
            .map(|f| (path.to_path_buf(), Arc::clone(f)))
            .ok_or_else(|| {
                unknown(format!(
                    "this catalog's consumers are `{}` files; name one of them or a directory holding one",
                    names.join("`, `")
                ))
            })
    }

    /// Points the consumer file at `path` (a file, or a directory holding one) at the latest
    /// stable published version of each family it pins; with `dry_run` only the diff is
    /// computed.
    pub fn upgrade_consumer(&self, path: &Path, dry_run: bool) -> Result<ConsumerUpdate> {
        let (path, format) = self.consumer_file(path)?;
        let bad = |reason: String| Error::Consumer {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
        let families = TargetFamilies(self);
        let pins = format.pins(&text, &families).map_err(bad)?;
        let mut changes = Vec::with_capacity(pins.len());
        for pin in pins {
            let address = self.latest(&pin.repository, true)?.address();
            changes.push((pin, address));
        }
        let updates = changes
            .iter()
            .map(|(pin, address)| ConsumerPinUpdate {
                repository: pin.repository.clone(),
                address: address.clone(),
            })
            .collect();
        let Some(new) = repin(format.as_ref(), &text, &changes, &families).map_err(bad)? else {
            return Ok(ConsumerUpdate {
                path,
                pins: updates,
                diff: String::new(),
            });
        };
        let diff = unified_diff(&path, &text, &new);
        if !dry_run {
            write_atomic(&path, new.as_bytes())?;
        }
        Ok(ConsumerUpdate {
            path,
            pins: updates,
            diff,
        })
    }
}
