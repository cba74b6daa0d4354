//! `family.toml` and the catalog's optional `catalog.toml`: strict TOML (unknown keys are
//! errors), every error naming the file, the line and the key.

use std::path::Path;

use plinth_oci::Platform;
use serde::Deserialize;

use crate::error::{Error, Result};

/// `families/<name>/family.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyManifest {
    /// The repository, without registry (`team/base`).
    pub repository: String,
    /// A human title (`Team base image`).
    #[serde(default)]
    pub title: Option<String>,
    /// What the image is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Who keeps the family.
    #[serde(default)]
    pub owner: Option<String>,
    /// The platforms every version is built for (default `linux/amd64` and `linux/arm64`).
    #[serde(default = "default_platforms")]
    pub platforms: Vec<String>,
    /// How the Dockerfiles must pin their root images.
    #[serde(default)]
    pub root: RootPolicy,
}

/// The `[root]` table of `family.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootPolicy {
    /// `digest`: every `FROM` naming a registry image carries `@sha256:…`; `tag` (the default):
    /// a tag is enough. Debian archive roots (`plinth/debian:…`) are pinned by the archive and
    /// always allowed.
    #[serde(default)]
    pub pin: RootPin,
}

/// How a root image must be pinned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootPin {
    /// A tag is enough.
    #[default]
    Tag,
    /// A digest is required.
    Digest,
}

fn default_platforms() -> Vec<String> {
    vec!["linux/amd64".to_owned(), "linux/arm64".to_owned()]
}

/// `catalog.toml` at the root of the catalog directory (optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogManifest {
    /// The title of the catalog README (default: the binary's catalog's).
    #[serde(default)]
    pub title: Option<String>,
    /// Whose images they are (default: the binary's catalog's).
    #[serde(default)]
    pub owner: Option<String>,
    /// Whether the binary's own families are served too (default `true`); `false` serves only
    /// the families of this directory.
    #[serde(default = "yes")]
    pub builtin_families: bool,
}

fn yes() -> bool {
    true
}

/// Reads a TOML file into `T`; errors name the file, the line and the key.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::FamilyFile {
        path: path.to_path_buf(),
        message: format!("cannot read the file: {e}"),
    })?;
    toml::from_str(&text).map_err(|e| Error::FamilyFile {
        path: path.to_path_buf(),
        message: toml_message(&text, &e),
    })
}

/// `line L, column C: message` (toml's own rendering repeats the source line, kept as is).
fn toml_message(text: &str, err: &toml::de::Error) -> String {
    let Some(span) = err.span() else {
        return err.message().to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let key = text[span.clone()].trim();
    let key = if key.is_empty() || key.contains('\n') {
        String::new()
    } else {
        format!(" (at `{key}`)")
    };
    format!("line {line}, column {column}{key}: {}", err.message())
}

impl FamilyManifest {
    /// Reads and validates `family.toml`.
    pub fn load(path: &Path) -> Result<Self> {
        let manifest: FamilyManifest = read_toml(path)?;
        let invalid = |message: String| Error::FamilyFile {
            path: path.to_path_buf(),
            message,
        };
        if manifest.repository.trim().is_empty() || manifest.repository.contains(':') {
            return Err(invalid(format!(
                "key `repository`: `{}` is not a repository; write it without registry or tag, e.g. `team/base`",
                manifest.repository
            )));
        }
        if manifest.platforms.is_empty() {
            return Err(invalid(
                "key `platforms`: the list is empty; name at least one, e.g. [\"linux/amd64\"]"
                    .to_owned(),
            ));
        }
        for platform in &manifest.platforms {
            platform.parse::<Platform>().map_err(|e| {
                invalid(format!(
                    "key `platforms`: `{platform}` is not a platform ({e}); write OS/ARCH, e.g. `linux/arm64`"
                ))
            })?;
        }
        Ok(manifest)
    }

    /// The platforms, parsed.
    pub fn platforms(&self) -> Vec<Platform> {
        self.platforms
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<FamilyManifest> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("family.toml");
        std::fs::write(&path, text).unwrap();
        FamilyManifest::load(&path)
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = load("repository = \"team/base\"\nplatfroms = [\"linux/amd64\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("family.toml"), "{err}");
        assert!(err.contains("line 2, column 1 (at `platfroms`)"), "{err}");
        assert!(err.contains("unknown field `platfroms`"), "{err}");
    }

    #[test]
    fn bad_platform_and_bad_pin_are_refused() {
        let err = load("repository = \"team/base\"\nplatforms = [\"amd64\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key `platforms`: `amd64` is not a platform"),
            "{err}"
        );
        let err = load("repository = \"team/base\"\n[root]\npin = \"sha\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("unknown variant `sha`"), "{err}");
    }

    #[test]
    fn bad_toml_names_the_line_and_column() {
        let err = load("repository = \"team/base\"\ntitle = \"unterminated\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("family.toml"), "{err}");
        assert!(err.contains("line 2, column"), "{err}");
    }

    #[test]
    fn defaults() {
        let manifest = load("repository = \"team/base\"\n").unwrap();
        assert_eq!(
            manifest.platforms(),
            [Platform::linux_amd64(), Platform::linux_arm64()]
        );
        assert_eq!(manifest.root.pin, RootPin::Tag);
    }
}
