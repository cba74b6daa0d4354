//! [`TableFamily`]: a family declared as a table of versions in code.

use plinth_oci::Platform;

use super::{Family, VersionDecl, resolve_checks};
use crate::error::{Error, Result};

/// A family declared as a table of versions.
#[derive(Clone, Debug)]
pub struct TableFamily {
    repository: String,
    platforms: Vec<Platform>,
    versions: Vec<VersionDecl>,
}

impl TableFamily {
    /// A family for `linux/amd64` and `linux/arm64`. The versions must be in strictly ascending
    /// precedence and their check declarations must resolve (every one is checked here).
    pub fn new(repository: impl Into<String>, versions: Vec<VersionDecl>) -> Result<Self> {
        let repository = repository.into();
        let invalid = |reason: String| Error::InvalidFamily {
            repository: repository.clone(),
            reason,
        };
        if repository.is_empty() {
            return Err(invalid("the repository is empty".to_owned()));
        }
        for pair in versions.windows(2) {
            if pair[0].version() >= pair[1].version() {
                return Err(invalid(format!(
                    "versions must be declared oldest first without duplicates, but {} comes before {}",
                    pair[0].version(),
                    pair[1].version()
                )));
            }
        }
        for decl in &versions {
            match resolve_checks(&repository, &versions, decl.version()) {
                Ok(_) | Err(Error::ChecksUnknown { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            repository,
            platforms: vec![Platform::linux_amd64(), Platform::linux_arm64()],
            versions,
        })
    }

    /// The same family built for other platforms.
    pub fn with_platforms(mut self, platforms: Vec<Platform>) -> Self {
        self.platforms = platforms;
        self
    }
}

impl Family for TableFamily {
    fn repository(&self) -> &str {
        &self.repository
    }

    fn versions(&self) -> &[VersionDecl] {
        &self.versions
    }

    fn platforms(&self) -> Vec<Platform> {
        self.platforms.clone()
    }
}
