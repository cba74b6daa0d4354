//! `plinth/python-connector-base`: the Airbyte python connector base's recipe and checks on a
//! root made from Debian's archive, so it builds on any machine that reaches Debian's archive
//! and PyPI (no Docker Hub, no GitHub).
//!
//! It is this project's family, not Airbyte's: the steps are Airbyte's (timezone, the airbyte
//! user and cache directories, pip 24.0 and poetry from PyPI), the root is
//! `plinth/debian:bookworm-minbase` with Debian's python3 instead of the `python` image, and
//! socat, tesseract and poppler come with the root (see [`ROOT_PACKAGES`]). The differences,
//! each on purpose:
//!
//! - **No NLTK data**: Airbyte's recipe downloads it from GitHub; this family leaves it out
//!   (and the `nltk_data` check with it), so it needs no URL input at all.
//! - **No `apt-get upgrade` and no apt step**: the root is made from the archive's current
//!   state with socat, tesseract and poppler, so there is nothing to upgrade or pin; such steps
//!   would only make the image depend on the day it was built.
//! - **`PIP_BREAK_SYSTEM_PACKAGES=1`**: Debian marks its python as externally managed (PEP 668);
//!   the image is a base for connectors that `pip install` into the system python, as the
//!   `python` image allows. pip itself goes to `/usr/local`, ahead of Debian's on `PATH`.

use plinth_catalog::checks::Check;
use plinth_catalog::family::{CheckChange, ChecksDecl, Provenance, TableFamily, VersionDecl};
use plinth_recipe::{Container, DebianRoot};

use crate::kinds;
use crate::steps::Step;

/// The family's repository.
pub const DEBIAN_PYTHON_REPOSITORY: &str = "plinth/python-connector-base";

/// Debian's python3 in bookworm (the root's package; the `python_version` check holds it to it).
pub const DEBIAN_PYTHON_VERSION: &str = "3.11.2";

/// The packages of the root besides minbase: python, pip, `python` as a command (the checks and
/// connectors call it so), the CA store for pip, the timezone data, `adduser`, and the system
/// packages of Airbyte's recipe (socat, tesseract, poppler).
///
/// Airbyte installs the last three in a step with `name=version` pins; here the root brings them,
/// so the archive state the root is made from pins their versions (verified, recorded with every
/// other package, part of the cache key) and nothing rots: `poppler-utils=22.12.0-2+b1` vanished
/// from Debian, and bookworm's own `+deb12u2` cannot be pinned once bookworm-security serves
/// `+deb12u3` (it needs `libpoppler126` of exactly its version). The checks hold the upstream
/// versions: socat 1.7.4.4, tesseract 5.3.0, poppler 22.12.0.
pub const ROOT_PACKAGES: &[&str] = &[
    "adduser",
    "ca-certificates",
    "poppler-utils",
    "python-is-python3",
    "python3",
    "python3-pip",
    "socat",
    "tesseract-ocr",
    "tzdata",
];

/// The Debian root of every version.
pub fn debian_root() -> DebianRoot {
    DebianRoot::new("bookworm")
        .and_then(|r| r.with_packages(ROOT_PACKAGES))
        .expect("the root's suite and package names are valid")
}

/// The recipe: Airbyte's python 3.0.0 steps (without NLTK, the upgrade and the apt installs the
/// root already made) with `poetry`.
fn recipe(poetry: Step) -> Container {
    let c = Container::from_debian(debian_root());
    let c = [Step::Tz, Step::Userbase, Step::CacheCustom, Step::PipEnv]
        .into_iter()
        .fold(c, |c, step| step.apply(c));
    let c = c
        .with_env("PIP_BREAK_SYSTEM_PACKAGES", "1")
        // What the `python` image sets and connectors read.
        .with_env("LANG", "C.UTF-8")
        .with_env("PYTHON_VERSION", DEBIAN_PYTHON_VERSION);
    [Step::Pip24, Step::PoetryEnv, poetry]
        .into_iter()
        .fold(c, |c, step| step.apply(c))
}

/// The checks of 1.0.0: Airbyte's python 3.0.0 list without the NLTK data, for Debian's python
/// and the environment this family sets.
fn checks_1_0_0() -> ChecksDecl {
    ChecksDecl::Replace(vec![
        Check::timezone_is_utc(),
        Check::command_available("bash"),
        kinds::python_version(DEBIAN_PYTHON_VERSION),
        kinds::pip_version("24.0"),
        Check::user_exists("airbyte", 1000, 1000),
        Check::user_can_read_dir("airbyte", "/airbyte"),
        Check::user_can_read_dir("airbyte", "/custom_cache"),
        Check::user_can_write_dir("airbyte", "/airbyte"),
        kinds::poetry_version("1.6.1"),
        Check::env_var_defined("PYTHON_VERSION"),
        Check::env_var_defined("PATH"),
        Check::env_var_defined("LANG"),
        Check::env_var("PIP_CACHE_DIR", "/custom_cache/pip"),
        Check::command_available_with("socat", "-V"),
        kinds::socat_version("1.7.4.4"),
        kinds::tesseract_version("5.3.0"),
        kinds::poppler_version("22.12.0"),
    ])
}

/// The family: 1.0.0 (poetry 1.6.1, as Airbyte's 3.0.0) and 1.1.0 (poetry 1.8.4, as 4.0.0).
pub fn debian_python_family() -> TableFamily {
    let versions = vec![
        VersionDecl::new("1.0.0".parse().expect("a valid version"))
            .with_root_image(debian_root().into())
            .with_recipe(|_platform| Ok(recipe(Step::Poetry161)))
            .with_checks(checks_1_0_0())
            .with_changelog(
                "Initial release: Airbyte's python connector base 3.0.0 recipe on a Debian bookworm \
                 root from Debian's archive with python 3.11.2, socat 1.7.4.4, tesseract 5.3.0 and \
                 poppler 22.12.0; pip 24.0 and poetry 1.6.1 from PyPI; without the NLTK data",
            )
            .with_provenance(Provenance::Code)
            .with_note("Ours, not Airbyte's: Airbyte's python 3.0.0 steps without the NLTK data and the apt steps; the root brings socat, tesseract and poppler."),
        VersionDecl::new("1.1.0".parse().expect("a valid version"))
            .with_root_image(debian_root().into())
            .with_recipe(|_platform| Ok(recipe(Step::Poetry184)))
            .with_check_changes([CheckChange::Set(kinds::poetry_version("1.8.4"))])
            .with_changelog("Poetry 1.8.4, as Airbyte's python connector base 4.0.0")
            .with_provenance(Provenance::Code),
    ];
    TableFamily::new(DEBIAN_PYTHON_REPOSITORY, versions).expect("the family table is valid")
}

#[cfg(test)]
mod tests {
    use plinth_catalog::family::Family;
    use plinth_oci::Platform;

    use super::*;

    #[test]
    fn recipe_starts_from_debian_and_checks_inherit() {
        let family = debian_python_family();
        let newest = "1.1.0".parse().unwrap();
        let recipe = family.recipe(&newest, &Platform::linux_arm64()).unwrap();
        let example = recipe.dockerfile_example();
        assert!(
            example.starts_with(
                "FROM plinth/debian:bookworm-minbase?include=adduser,ca-certificates,poppler-utils,python-is-python3,python3,python3-pip,socat,tesseract-ocr,tzdata\n\
                 RUN ln -snf /usr/share/zoneinfo/Etc/UTC /etc/localtime\n"
            ),
            "{example}"
        );
        assert!(
            example.contains("RUN pip install poetry==1.8.4"),
            "{example}"
        );
        assert!(!example.contains("nltk"), "{example}");
        let checks = family.checks(&newest).unwrap();
        let poetry = checks.iter().find(|c| c.id() == "poetry_version").unwrap();
        assert_eq!(poetry, &kinds::poetry_version("1.8.4"));
        assert_eq!(checks.len(), 17);
    }
}
