//! What a family says about itself for people: its title, description and owner, and, for a
//! family kept as files, where its Dockerfile and checks live. The catalog README and `plinth
//! catalog` show it.

use std::path::{Path, PathBuf};

use plinth_oci::Digest;
use serde::Serialize;

/// The Dockerfile one version of a family kept as files is built from, for provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecipeFile {
    /// Its path relative to the catalog directory
    /// (`families/base/versions/1.0.0/Dockerfile`).
    pub path: String,
    /// The digest of its bytes.
    pub digest: Digest,
}

/// A family's description (everything optional: a code family usually has none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FamilyAbout {
    /// A human title (`Team base image`).
    pub title: Option<String>,
    /// What the image is for.
    pub description: Option<String>,
    /// Who keeps the family.
    pub owner: Option<String>,
    /// Where the files of a family kept as files are; `None` for a code family.
    pub files: Option<FamilyFiles>,
}

/// Where a file family's files are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyFiles {
    /// The family folder (`families/base`).
    pub dir: PathBuf,
    /// The Dockerfile of the next version (`families/base/Dockerfile`).
    pub dockerfile: PathBuf,
    /// The checks folder (`families/base/checks`).
    pub checks: PathBuf,
    /// The recorded versions (`families/base/versions`).
    pub versions: PathBuf,
}

impl FamilyFiles {
    /// The paths relative to `base` (the catalog directory), where they are below it.
    pub fn relative_to(&self, base: &Path) -> Self {
        let rel = |p: &Path| p.strip_prefix(base).unwrap_or(p).to_path_buf();
        Self {
            dir: rel(&self.dir),
            dockerfile: rel(&self.dockerfile),
            checks: rel(&self.checks),
            versions: rel(&self.versions),
        }
    }
}

impl FamilyAbout {
    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.owner.is_none()
            && self.files.is_none()
    }
}
