//! The check kinds only Airbyte's python images use, built on [`CustomCheck`]: same commands,
//! pass rules and failure messages as the original tool's `sanity_checks.py`.

use std::sync::LazyLock;

use plinth_catalog::checks::{Check, CheckSession, CommandSpec, CustomCheck, Verdict, split_lines};
use regex::Regex;
use serde::Serialize;

/// The variables `python_env_vars` requires, in the order they are checked. All of them come
/// from the official `python` root images.
pub const PYTHON_ENV_VARS: [&str; 5] = ["PYTHON_VERSION", "HOME", "PATH", "LANG", "GPG_KEY"];

/// What an Airbyte check runs and when it passes (`{stdout}` is the whole standard output,
/// trailing newline included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AirbyteCheck {
    /// `socat -V`; the first line starting with `socat version` must match
    /// `version (\d+\.\d+\.\d+\.\d+)` with group 1 equal to `version`.
    SocatVersion {
        /// Four parts, `1.7.4.4` (the apt pin `1.7.4.4-2` has five).
        version: String,
    },
    /// `python --version`; stdout must **equal** `Python {version}\n`.
    PythonVersion {
        /// `3.10.14`.
        version: String,
    },
    /// `pip --version`; stdout must start with `pip {version}` (so `24.0` accepts `24.0.1`).
    PipVersion {
        /// `24.0`.
        version: String,
    },
    /// `poetry --version`; stdout must start with `Poetry (version {version}`.
    PoetryVersion {
        /// `1.6.1`.
        version: String,
    },
    /// `tesseract --version`; stdout must start with `tesseract {version}`.
    TesseractVersion {
        /// `5.3.0`.
        version: String,
    },
    /// `pdftotext -v`; **stderr** must contain `pdftotext version {version}`.
    PopplerVersion {
        /// `22.12.0`.
        version: String,
    },
    /// A group: an `env_var` check (no value) for each of [`PYTHON_ENV_VARS`].
    PythonEnvVars,
    /// `pip install nltk==3.8.1` (needs network), then a python one-liner finding the tagger and
    /// punkt data.
    NltkData,
    /// A group: [`NltkData`](AirbyteCheck::NltkData), then tesseract `5.3.0`, then poppler
    /// `22.12.0`.
    CdkSystemDependencies,
}

static SOCAT_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"version (\d+\.\d+\.\d+\.\d+)").expect("the socat pattern is valid")
});

fn fail<T>(message: String) -> Result<T, Verdict> {
    Err(Verdict::Fail(message))
}

impl CustomCheck for AirbyteCheck {
    fn kind(&self) -> &'static str {
        match self {
            AirbyteCheck::SocatVersion { .. } => "socat_version",
            AirbyteCheck::PythonVersion { .. } => "python_version",
            AirbyteCheck::PipVersion { .. } => "pip_version",
            AirbyteCheck::PoetryVersion { .. } => "poetry_version",
            AirbyteCheck::TesseractVersion { .. } => "tesseract_version",
            AirbyteCheck::PopplerVersion { .. } => "poppler_version",
            AirbyteCheck::PythonEnvVars => "python_env_vars",
            AirbyteCheck::NltkData => "nltk_data",
            AirbyteCheck::CdkSystemDependencies => "cdk_system_dependencies",
        }
    }

    fn parameters(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("kind");
                map
            }
            // An internally tagged enum of struct and unit variants always serializes to an object.
            _ => serde_json::Map::new(),
        }
    }

    fn members(&self) -> Vec<Check> {
        match self {
            AirbyteCheck::PythonEnvVars => PYTHON_ENV_VARS
                .iter()
                .map(|n| Check::env_var_defined(n))
                .collect(),
            AirbyteCheck::CdkSystemDependencies => {
                vec![
                    nltk_data(),
                    tesseract_version("5.3.0"),
                    poppler_version("22.12.0"),
                ]
            }
            AirbyteCheck::SocatVersion { .. }
            | AirbyteCheck::PythonVersion { .. }
            | AirbyteCheck::PipVersion { .. }
            | AirbyteCheck::PoetryVersion { .. }
            | AirbyteCheck::TesseractVersion { .. }
            | AirbyteCheck::PopplerVersion { .. }
            | AirbyteCheck::NltkData => Vec::new(),
        }
    }

    fn evaluate(&self, s: &mut CheckSession<'_>) -> Result<(), Verdict> {
        match self {
            AirbyteCheck::SocatVersion { version } => {
                let out = s.exec(CommandSpec::new(["socat", "-V"]))?;
                let Some(line) = split_lines(&out.stdout)
                    .into_iter()
                    .find(|l| l.starts_with("socat version"))
                else {
                    return fail(format!(
                        "Could not parse the socat version from the output: {}",
                        out.stdout
                    ));
                };
                let Some(found) = SOCAT_VERSION.captures(line).map(|c| c[1].to_owned()) else {
                    return fail(format!(
                        "Could not find the socat version in the version output: {line}"
                    ));
                };
                if &found != version {
                    return fail(format!("unexpected socat version: {found}"));
                }
            }
            AirbyteCheck::PythonVersion { version } => {
                let out = s.exec(CommandSpec::new(["python", "--version"]))?;
                if out.stdout != format!("Python {version}\n") {
                    return fail(format!("unexpected python version: {}", out.stdout));
                }
            }
            AirbyteCheck::PipVersion { version } => {
                let out = s.exec(CommandSpec::new(["pip", "--version"]))?;
                if !out.stdout.starts_with(&format!("pip {version}")) {
                    return fail(format!("unexpected pip version: {}", out.stdout));
                }
            }
            AirbyteCheck::PoetryVersion { version } => {
                let out = s.exec(CommandSpec::new(["poetry", "--version"]))?;
                if !out
                    .stdout
                    .starts_with(&format!("Poetry (version {version}"))
                {
                    return fail(format!("unexpected poetry version: {}", out.stdout));
                }
            }
            AirbyteCheck::TesseractVersion { version } => {
                let out = s.exec(CommandSpec::new(["tesseract", "--version"]))?;
                if !out.stdout.starts_with(&format!("tesseract {version}")) {
                    return fail(format!("unexpected tesseract version: {}", out.stdout));
                }
            }
            AirbyteCheck::PopplerVersion { version } => {
                let out = s.exec(CommandSpec::new(["pdftotext", "-v"]))?;
                if !out.stderr.contains(&format!("pdftotext version {version}")) {
                    return fail(format!("unexpected poppler version: {}", out.stderr));
                }
            }
            AirbyteCheck::NltkData => {
                // The install needs network access from the check container.
                s.exec(CommandSpec::new(["pip", "install", "nltk==3.8.1"]))?;
                s.exec(CommandSpec::new([
                    "python",
                    "-c",
                    "import nltk;nltk.data.find(\"taggers/averaged_perceptron_tagger\");nltk.data.find(\"tokenizers/punkt\")",
                ]))?;
            }
            AirbyteCheck::PythonEnvVars | AirbyteCheck::CdkSystemDependencies => {
                // The evaluator runs a group's members instead of calling this.
                return Err(Verdict::Error(
                    "a group check has no command of its own".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// `socat_version`.
pub fn socat_version(version: &str) -> Check {
    Check::custom(
        "socat_version",
        AirbyteCheck::SocatVersion {
            version: version.to_owned(),
        },
    )
}

/// `python_version`.
pub fn python_version(version: &str) -> Check {
    Check::custom(
        "python_version",
        AirbyteCheck::PythonVersion {
            version: version.to_owned(),
        },
    )
}

/// `pip_version`.
pub fn pip_version(version: &str) -> Check {
    Check::custom(
        "pip_version",
        AirbyteCheck::PipVersion {
            version: version.to_owned(),
        },
    )
}

/// `poetry_version`.
pub fn poetry_version(version: &str) -> Check {
    Check::custom(
        "poetry_version",
        AirbyteCheck::PoetryVersion {
            version: version.to_owned(),
        },
    )
}

/// `tesseract_version`.
pub fn tesseract_version(version: &str) -> Check {
    Check::custom(
        "tesseract_version",
        AirbyteCheck::TesseractVersion {
            version: version.to_owned(),
        },
    )
}

/// `poppler_version`.
pub fn poppler_version(version: &str) -> Check {
    Check::custom(
        "poppler_version",
        AirbyteCheck::PopplerVersion {
            version: version.to_owned(),
        },
    )
}

/// `python_env_vars`.
pub fn python_env_vars() -> Check {
    Check::custom("python_env_vars", AirbyteCheck::PythonEnvVars)
}

/// `nltk_data`.
pub fn nltk_data() -> Check {
    Check::custom("nltk_data", AirbyteCheck::NltkData)
}

/// `cdk_system_dependencies`.
pub fn cdk_system_dependencies() -> Check {
    Check::custom(
        "cdk_system_dependencies",
        AirbyteCheck::CdkSystemDependencies,
    )
}
