//! One version's files: the Dockerfile (its directory is the build context) and the `checks/`
//! folder (container-structure-test files and plinth check files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_oci::Platform;
use plinth_recipe::{
    BaseResolver, Container, ImageSource, ImageSubstitutions, ReaderOptions, base_images,
    read_dockerfile, read_dockerfile_resolved,
};
use serde::Deserialize;

use super::manifest::RootPin;
use crate::checks::Check;
use crate::cst::CstFile;
use crate::error::{Error, Result};

/// The Dockerfile of a version directory.
pub const DOCKERFILE: &str = "Dockerfile";
/// The checks folder of a version directory.
pub const CHECKS_DIR: &str = "checks";
/// The suffix of a check file holding plinth's own check kinds (`checks/image.plinth.yaml`);
/// every other `.yaml`/`.yml` file of `checks/` is a container-structure-test file.
pub const PLINTH_CHECKS_SUFFIXES: [&str; 2] = [".plinth.yaml", ".plinth.yml"];

/// What of a family folder never reaches the build context: plinth's own files (the manifest
/// and the recorded versions, whose staging markers live inside `versions/`).
pub const CONTEXT_EXCLUDES: [&str; 2] = ["family.toml", "versions"];

/// A check file of plinth's own kinds: `checks: [{id: …, kind: …, …}]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlinthCheckFile {
    checks: Vec<Check>,
}

/// What one version directory holds, read once.
#[derive(Clone, Debug)]
pub(crate) struct VersionFiles {
    /// The directory: the build context.
    pub dir: PathBuf,
    /// The Dockerfile's text, exactly.
    pub text: String,
    /// The checks, in file-name order; `None` when the directory has no `checks/` folder (the
    /// version then inherits the previous version's checks).
    pub checks: Option<Vec<Check>>,
    /// The root image of the last stage, as `FROM` writes it.
    pub root: Option<ImageSource>,
}

impl VersionFiles {
    /// Reads `dir`, enforcing the root pin policy.
    pub fn read(dir: &Path, pin: RootPin) -> Result<Self> {
        let dockerfile = dir.join(DOCKERFILE);
        let text = match std::fs::read_to_string(&dockerfile) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::FamilyFile {
                    path: dir.to_path_buf(),
                    message: format!(
                        "no `{DOCKERFILE}`: the directory of a family (and of each recorded version) holds the Dockerfile it is built from"
                    ),
                });
            }
            Err(e) => {
                return Err(Error::FamilyFile {
                    path: dockerfile,
                    message: format!("cannot read the file: {e}"),
                });
            }
        };
        let root = root_image(&dockerfile, &text, dir, pin)?;
        let checks = read_checks(&dir.join(CHECKS_DIR))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            text,
            checks,
            root,
        })
    }

    /// The Dockerfile's path.
    pub fn dockerfile(&self) -> PathBuf {
        self.dir.join(DOCKERFILE)
    }

    /// A read of the Dockerfile that failed, as an error naming the file (and the causes).
    pub fn read_error(&self, platform: &Platform, err: &plinth_recipe::Error) -> Error {
        let mut message = format!("cannot be read for {platform}: {err}");
        let mut cause = std::error::Error::source(err);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        Error::FamilyFile {
            path: self.dockerfile(),
            message,
        }
    }

    /// How the Dockerfile is read for `platform`: its directory is the context, without what
    /// plinth keeps there ([`CONTEXT_EXCLUDES`]) and what its `.dockerignore` leaves out.
    fn reader_options(&self, platform: &Platform) -> ReaderOptions {
        ReaderOptions::new(&self.dir)
            .with_dockerfile(self.dockerfile())
            .with_platform(platform.clone())
            .with_context_excludes(CONTEXT_EXCLUDES)
    }

    /// The recipe for `platform`, read without the base images' configs (a variable only a
    /// base image sets is refused): what listings and views use.
    pub fn container(&self, platform: &Platform) -> plinth_recipe::Result<Container> {
        Ok(read_dockerfile(&self.text, &self.reader_options(platform))?.container)
    }

    /// The recipe a build of `platform` builds: every stage read on its base image's config,
    /// as `plinth build -f` reads a Dockerfile.
    pub fn build_container(
        &self,
        platform: &Platform,
        bases: &dyn BaseResolver,
        substitutions: &ImageSubstitutions,
    ) -> plinth_recipe::Result<Container> {
        let options = self.reader_options(platform);
        Ok(read_dockerfile_resolved(&self.text, &options, bases, substitutions)?.container)
    }
}

/// The root of the last stage, after checking every `FROM` against the pin policy.
fn root_image(path: &Path, text: &str, dir: &Path, pin: RootPin) -> Result<Option<ImageSource>> {
    let images = base_images(text, &ReaderOptions::new(dir));
    let mut root = None;
    for image in images {
        // A name that does not parse is reported with its line when the Dockerfile is read.
        let Ok(source) = ImageSource::parse(&image) else {
            continue;
        };
        if pin == RootPin::Digest
            && source.debian().is_none()
            && source.reference().is_some_and(|r| r.digest().is_none())
        {
            return Err(Error::FamilyFile {
                path: path.to_path_buf(),
                message: format!(
                    "line {}: `FROM {image}` has no digest, but family.toml sets `[root] pin = \"digest\"`; \
                     write `FROM {image}@sha256:…` (`plinth inspect {image}` prints it)",
                    from_line(text, &image)
                ),
            });
        }
        root = Some(source);
    }
    Ok(root)
}

/// The line of the first `FROM` naming `image` (1 when not found verbatim).
fn from_line(text: &str, image: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            line.get(..4)
                .is_some_and(|k| k.eq_ignore_ascii_case("FROM"))
                && line.contains(image)
        })
        .map_or(1, |i| i + 1)
}

/// The checks of a `checks/` folder, files in name order; `None` when there is no folder.
fn read_checks(dir: &Path) -> Result<Option<Vec<Check>>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::FamilyFile {
                path: dir.to_path_buf(),
                message: format!("cannot list the folder: {e}"),
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::FamilyFile {
            path: dir.to_path_buf(),
            message: format!("cannot list the folder: {e}"),
        })?;
        files.push(entry.path());
    }
    files.sort();
    let mut checks: Vec<Check> = Vec::new();
    let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let file_checks = if PLINTH_CHECKS_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            read_plinth_checks(&path)?
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            CstFile::load(&path)?.checks()
        } else {
            return Err(Error::FamilyFile {
                path,
                message:
                    "not a check file: `checks/` holds container-structure-test files (`*.yaml`) \
                          and plinth check files (`*.plinth.yaml`) only; move it elsewhere"
                        .to_owned(),
            });
        };
        for check in file_checks {
            if let Some(first) = origin.get(check.id()) {
                return Err(Error::FamilyFile {
                    path,
                    message: format!(
                        "the check id `{}` is also used in `{}`; give one of the tests another name",
                        check.id(),
                        first.display()
                    ),
                });
            }
            origin.insert(check.id().to_owned(), path.clone());
            checks.push(check);
        }
    }
    Ok(Some(checks))
}

fn read_plinth_checks(path: &Path) -> Result<Vec<Check>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::FamilyFile {
        path: path.to_path_buf(),
        message: format!("cannot read the file: {e}"),
    })?;
    let file: PlinthCheckFile = serde_saphyr::from_str(&text).map_err(|e| Error::FamilyFile {
        path: path.to_path_buf(),
        message: format!(
            "{e}; a plinth check file is `checks:` followed by a list of `{{id: …, kind: …}}` \
             (kinds: timezone_is_utc, command_available, env_var, user_exists, user_can_read_dir, \
             user_can_write_dir, file_exists, user_uid_gid, …)"
        ),
    })?;
    Ok(file.checks)
}
