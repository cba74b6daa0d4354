//! A catalog: the families a binary serves, in order, and the names its docs carry.
//!
//! ```
//! use std::sync::Arc;
//!
//! use plinth_catalog::{Catalog, TableFamily};
//!
//! let catalog = Catalog::new("team-base-images", "Team")
//!     .with_family(Arc::new(TableFamily::new("team/base", Vec::new()).unwrap()))
//!     .unwrap();
//! assert_eq!(catalog.title(), "team-base-images");
//! assert_eq!(catalog.repositories(), ["team/base"]);
//! assert!(catalog.get("docker.io/team/base").is_ok());
//! ```

use std::fmt;
use std::sync::Arc;

use crate::consumer::ConsumerFormat;
use crate::error::{Error, Result};
use crate::family::Family;

/// An ordered list of families (the order of prompts and docs), looked up by repository, with
/// the title and owner its generated README names and the formats its consumers pin images in.
#[derive(Clone)]
pub struct Catalog {
    title: String,
    owner: String,
    families: Vec<Arc<dyn Family>>,
    consumer_formats: Vec<Arc<dyn ConsumerFormat>>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("title", &self.title)
            .field("families", &self.repositories())
            .finish()
    }
}

impl Catalog {
    /// An empty catalog. `title` heads its README (`# {title}`); `owner` is whose images they
    /// are ("the base images used by {owner} connectors").
    pub fn new(title: impl Into<String>, owner: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            owner: owner.into(),
            families: Vec::new(),
            consumer_formats: Vec::new(),
        }
    }

    /// The title of the catalog's README.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Whose images the catalog holds.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The catalog with `family` appended; fails if its repository is already there.
    pub fn with_family(mut self, family: Arc<dyn Family>) -> Result<Self> {
        if self.find(family.repository()).is_some() {
            return Err(Error::InvalidFamily {
                repository: family.repository().to_owned(),
                reason: "the catalog already has a family with this repository".to_owned(),
            });
        }
        self.families.push(family);
        Ok(self)
    }

    /// The catalog with `format` added to the formats its consumers use (`plinth
    /// upgrade-consumers`); formats added first are tried first, Dockerfiles (the release
    /// flow's default) last.
    pub fn with_consumer_format(mut self, format: Arc<dyn ConsumerFormat>) -> Self {
        self.consumer_formats.push(format);
        self
    }

    /// The consumer formats the catalog adds to the default, in order.
    pub fn consumer_formats(&self) -> &[Arc<dyn ConsumerFormat>] {
        &self.consumer_formats
    }

    /// The families, in order.
    pub fn families(&self) -> &[Arc<dyn Family>] {
        &self.families
    }

    /// The repositories, in order.
    pub fn repositories(&self) -> Vec<&str> {
        self.families.iter().map(|f| f.repository()).collect()
    }

    /// The family of `repository` (a leading `docker.io/` is ignored).
    pub fn find(&self, repository: &str) -> Option<&dyn Family> {
        let wanted = repository.strip_prefix("docker.io/").unwrap_or(repository);
        self.families
            .iter()
            .find(|f| f.repository() == wanted)
            .map(|f| f.as_ref())
    }

    /// Like [`find`](Self::find), with an error listing the known repositories.
    pub fn get(&self, repository: &str) -> Result<&dyn Family> {
        self.find(repository).ok_or_else(|| Error::UnknownFamily {
            repository: repository.to_owned(),
            known: self.repositories().join(", "),
        })
    }
}
