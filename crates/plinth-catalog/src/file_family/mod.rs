//! Families without Rust: a base-image family as a folder of a catalog directory.
//!
//! ```text
//! <catalog dir>/
//!   catalog.toml                  optional: title, owner, builtin_families
//!   families/
//!     base/
//!       family.toml               repository, platforms, title, description, owner, [root] pin
//!       Dockerfile                the next version's recipe (its folder is the build context)
//!       checks/
//!         image.yaml              container-structure-test, schemaVersion 2.0.0
//!         more.plinth.yaml        plinth's own check kinds: `checks: [{id, kind, …}]`
//!       versions/
//!         1.0.0/                  what 1.0.0 was released from, exactly
//!           Dockerfile
//!           checks/…
//! ```
//!
//! The declared versions are the recorded ones (`versions/<X.Y.Z>/`); the working files are
//! the *next* version, numbered by the bump `generate-release` picks and recorded by it (see
//! [`crate::staged`]). A version folder without `checks/` inherits the checks of the version
//! before it, as a code family's version does when it declares no check change.
//!
//! Everything is read strictly and at once: unknown keys, a missing Dockerfile, a check file
//! that is not a container-structure-test file, a `FROM` without digest under
//! `[root] pin = "digest"` are errors naming the file (and the line and key where there is
//! one), before any command runs.

mod manifest;
mod stage;
mod version_dir;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plinth_oci::Platform;
use plinth_recipe::{BaseResolver, Container, ImageSubstitutions};

pub use manifest::{CatalogManifest, FamilyManifest, RootPin, RootPolicy};
pub use version_dir::{CHECKS_DIR, CONTEXT_EXCLUDES, DOCKERFILE, PLINTH_CHECKS_SUFFIXES};

use self::stage::{StagedFiles, staging_marker};
use self::version_dir::VersionFiles;
use crate::about::{FamilyAbout, FamilyFiles, RecipeFile};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::family::{ChecksDecl, Family, Provenance, VersionDecl};
use crate::staged::{FamilyKind, StagedVersion};
use crate::version::Version;

/// The folder of file families in a catalog directory.
pub const FAMILIES_DIR: &str = "families";
/// A family's manifest.
pub const FAMILY_TOML: &str = "family.toml";
/// The folder of a family's recorded versions.
pub const VERSIONS_DIR: &str = "versions";
/// The pre-release of the number local builds of the working files get (`1.0.1-working`).
pub const WORKING_TAG: &str = "working";
/// The catalog manifest, at the root of the catalog directory.
pub const CATALOG_TOML: &str = "catalog.toml";

/// A family read from `families/<name>/` (see the module docs).
#[derive(Clone, Debug)]
pub struct FileFamily {
    dir: PathBuf,
    manifest: FamilyManifest,
    platforms: Vec<Platform>,
    versions: Vec<VersionDecl>,
    files: BTreeMap<Version, Arc<VersionFiles>>,
}

impl FileFamily {
    /// Reads the family folder `dir`: its manifest, its working files and every recorded
    /// version.
    pub fn load(dir: &Path) -> Result<Self> {
        let manifest = FamilyManifest::load(&dir.join(FAMILY_TOML))?;
        // The working files must be readable now, though they are only built when released.
        VersionFiles::read(dir, manifest.root.pin)?;
        let mut family = Self {
            dir: dir.to_path_buf(),
            platforms: manifest.platforms(),
            manifest,
            versions: Vec::new(),
            files: BTreeMap::new(),
        };
        for (version, path) in recorded_versions(&dir.join(VERSIONS_DIR))? {
            family = family.with_version_dir(&version, &path)?;
        }
        Ok(family)
    }

    /// The family folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &FamilyManifest {
        &self.manifest
    }

    /// The folder `version` is recorded in, when it is.
    pub fn version_dir(&self, version: &Version) -> Option<&Path> {
        self.files.get(version).map(|f| f.dir.as_path())
    }

    /// The files `version` is read from.
    fn files_of(&self, version: &Version) -> Result<&VersionFiles> {
        self.files
            .get(version)
            .map(AsRef::as_ref)
            .ok_or_else(|| Error::UnknownVersion {
                repository: self.repository().to_owned(),
                version: version.clone(),
            })
    }

    /// The family with `version` declared from the folder `dir`.
    fn with_version_dir(&self, version: &Version, dir: &Path) -> Result<Self> {
        let files = Arc::new(VersionFiles::read(dir, self.manifest.root.pin)?);
        let recipe_files = Arc::clone(&files);
        let mut decl = VersionDecl::new(version.clone())
            .with_recipe(move |platform| recipe_files.container(platform))
            .with_checks(match &files.checks {
                Some(list) => ChecksDecl::Replace(list.clone()),
                None => ChecksDecl::Inherit(Vec::new()),
            })
            .with_provenance(Provenance::Recorded);
        if let Some(root) = &files.root {
            decl = decl.with_root_image(root.clone());
        }
        let mut family = self.clone();
        family.files.insert(version.clone(), files);
        family.versions.retain(|d| d.version() != version);
        family.versions.push(decl);
        family.versions.sort_by(|a, b| a.version().cmp(b.version()));
        Ok(family)
    }
}

/// The recorded version folders of `versions_dir`, oldest first; staged ones are skipped.
fn recorded_versions(versions_dir: &Path) -> Result<Vec<(Version, PathBuf)>> {
    let entries = match std::fs::read_dir(versions_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::FamilyFile {
                path: versions_dir.to_path_buf(),
                message: format!("cannot list the folder: {e}"),
            });
        }
    };
    let mut versions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::FamilyFile {
            path: versions_dir.to_path_buf(),
            message: format!("cannot list the folder: {e}"),
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || staging_marker(versions_dir, &name).exists() {
            continue;
        }
        let path = entry.path();
        let version: Version = name.parse().map_err(|e: Error| Error::FamilyFile {
            path: path.clone(),
            message: format!(
                "`{name}` is not a version ({e}); `versions/` holds one folder per released version, named X.Y.Z"
            ),
        })?;
        if !path.is_dir() {
            return Err(Error::FamilyFile {
                path,
                message: "not a folder; `versions/` holds one folder per released version"
                    .to_owned(),
            });
        }
        versions.push((version, path));
    }
    versions.sort();
    Ok(versions)
}

impl Family for FileFamily {
    fn repository(&self) -> &str {
        &self.manifest.repository
    }

    fn versions(&self) -> &[VersionDecl] {
        &self.versions
    }

    fn platforms(&self) -> Vec<Platform> {
        self.platforms.clone()
    }

    fn recipe(&self, version: &Version, platform: &Platform) -> Result<Container> {
        let files = self.files_of(version)?;
        files
            .container(platform)
            .map_err(|e| files.read_error(platform, &e))
    }

    fn build_recipe(
        &self,
        version: &Version,
        platform: &Platform,
        bases: &dyn BaseResolver,
        substitutions: &ImageSubstitutions,
    ) -> Result<Container> {
        let files = self.files_of(version)?;
        files
            .build_container(platform, bases, substitutions)
            .map_err(|e| files.read_error(platform, &e))
    }

    /// The recorded Dockerfile, exactly.
    fn dockerfile_example(&self, version: &Version) -> Result<String> {
        self.files
            .get(version)
            .map(|f| f.text.clone())
            .ok_or_else(|| Error::UnknownVersion {
                repository: self.repository().to_owned(),
                version: version.clone(),
            })
    }

    fn kind(&self) -> FamilyKind {
        FamilyKind::Files
    }

    /// The recorded Dockerfile (the family's own for the working version), by its path from
    /// the catalog directory (`families/<name>/…`).
    fn recipe_file(&self, version: &Version) -> Option<RecipeFile> {
        let files = self.files.get(version)?;
        let catalog_dir = self.dir.parent().and_then(Path::parent)?;
        let path = files.dockerfile();
        let path = path.strip_prefix(catalog_dir).unwrap_or(&path);
        Some(RecipeFile {
            path: path
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
            digest: plinth_oci::Digest::of(files.text.as_bytes()),
        })
    }

    fn about(&self) -> FamilyAbout {
        FamilyAbout {
            title: self.manifest.title.clone(),
            description: self.manifest.description.clone(),
            owner: self.manifest.owner.clone(),
            files: Some(FamilyFiles {
                dir: self.dir.clone(),
                dockerfile: self.dir.join(DOCKERFILE),
                checks: self.dir.join(CHECKS_DIR),
                versions: self.dir.join(VERSIONS_DIR),
            }),
        }
    }

    fn has_working_version(&self) -> bool {
        true
    }

    fn stage_version(&self, version: &Version) -> Result<Option<Box<dyn StagedVersion>>> {
        Ok(Some(Box::new(StagedFiles::stage(self, version)?)))
    }

    /// The working files as `X.Y.(Z+1)-working` after the newest recorded version
    /// (`0.0.1-working` before the first), read in place.
    fn working_version(&self) -> Result<Option<(Arc<dyn Family>, Version)>> {
        let next = self
            .versions
            .last()
            .map_or_else(|| Version::new(0, 0, 1), |d| d.version().bump_patch());
        let version: Version = format!("{next}-{WORKING_TAG}").parse()?;
        let family = self.with_version_dir(&version, &self.dir)?;
        Ok(Some((Arc::new(family), version)))
    }
}

/// Every family of `<catalog_dir>/families/`, in folder-name order.
pub fn load_families(catalog_dir: &Path) -> Result<Vec<FileFamily>> {
    let dir = catalog_dir.join(FAMILIES_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::FamilyFile {
                path: dir,
                message: format!("cannot list the folder: {e}"),
            });
        }
    };
    let mut folders: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::FamilyFile {
            path: dir.clone(),
            message: format!("cannot list the folder: {e}"),
        })?;
        if !entry.file_name().to_string_lossy().starts_with('.') && entry.path().is_dir() {
            folders.push(entry.path());
        }
    }
    folders.sort();
    folders
        .iter()
        .map(|folder| {
            if folder.join(FAMILY_TOML).is_file() {
                FileFamily::load(folder)
            } else {
                Err(Error::FamilyFile {
                    path: folder.clone(),
                    message: format!(
                        "no `{FAMILY_TOML}`: every folder of `{FAMILIES_DIR}/` is a family; add one (with at least `repository = \"team/name\"`) or move the folder"
                    ),
                })
            }
        })
        .collect()
}

/// `base` with the file families of `catalog_dir` appended, and with the title, owner and
/// built-in families (with their consumer formats) its `catalog.toml` asks for. Nothing changes when the directory has
/// neither `catalog.toml` nor `families/`.
pub fn extend_catalog(base: &Catalog, catalog_dir: &Path) -> Result<Catalog> {
    let manifest_path = catalog_dir.join(CATALOG_TOML);
    let manifest: CatalogManifest = if manifest_path.is_file() {
        manifest::read_toml(&manifest_path)?
    } else {
        CatalogManifest {
            builtin_families: true,
            ..CatalogManifest::default()
        }
    };
    let mut catalog = Catalog::new(
        manifest.title.as_deref().unwrap_or(base.title()),
        manifest.owner.as_deref().unwrap_or(base.owner()),
    );
    if manifest.builtin_families {
        for family in base.families() {
            catalog = catalog.with_family(Arc::clone(family))?;
        }
        // The built-in consumer formats belong with the built-in families.
        for format in base.consumer_formats() {
            catalog = catalog.with_consumer_format(Arc::clone(format));
        }
    }
    for family in load_families(catalog_dir)? {
        if let Some(existing) = catalog.find(family.repository()) {
            return Err(Error::FamilyFile {
                path: family.dir().join(FAMILY_TOML),
                message: format!(
                    "key `repository`: `{}` is already a family of this catalog ({} family); pick another repository",
                    family.repository(),
                    existing.kind().as_str()
                ),
            });
        }
        catalog = catalog.with_family(Arc::new(family))?;
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests;
