//! The [`Check`] value and its kinds.

use serde::{Deserialize, Serialize};

use crate::cst::{CommandTest, FileContentTest, FileExistenceTest, MetadataTest};

/// The variables `python_env_vars` requires, in the order they are checked. All of them come
/// from the official `python` root images.
pub const PYTHON_ENV_VARS: [&str; 5] = ["PYTHON_VERSION", "HOME", "PATH", "LANG", "GPG_KEY"];

/// One sanity check: an id (unique within a version's list; a later version replaces a check by
/// declaring another one with the same id) and what to check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    id: String,
    #[serde(flatten)]
    kind: CheckKind,
}

/// What a check runs and when it passes.
///
/// The kinds up to [`CdkSystemDependencies`](CheckKind::CdkSystemDependencies) are the original
/// tool's checks: same commands, same pass rules, same failure messages (`{stdout}` is the whole
/// standard output, trailing newline included). Where the original raised on a non-zero exit, the
/// message is ``command `…` failed with exit code N: <stderr>``.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckKind {
    /// `date`; passes when stdout contains `UTC`. Fails with `unexpected timezone: {stdout}`.
    TimezoneIsUtc,
    /// `[command, option]`; passes when it exits 0 with a non-empty stdout. Fails with
    /// `unexpected {command} version: {stdout}`.
    CommandAvailable {
        /// The program.
        command: String,
        /// Its version option (`--version`, `-V`, `version`).
        option: String,
    },
    /// `socat -V`; the first line starting with `socat version` must match
    /// `version (\d+\.\d+\.\d+\.\d+)` with group 1 equal to `version`.
    SocatVersion {
        /// Four parts, `1.7.4.4` (the apt pin `1.7.4.4-2` has five).
        version: String,
    },
    /// `printenv`; the variable must be defined and, if `value` is given, equal to it. Lines are
    /// split at the first `=` (the original split at every `=`, truncating such values).
    EnvVar {
        /// The variable.
        name: String,
        /// The expected value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// As `user`: `whoami`, `id -u`, `id -g`.
    UserExists {
        /// The user.
        user: String,
        /// Expected uid.
        uid: u32,
        /// Expected gid.
        gid: u32,
    },
    /// `touch {dir}/foo.txt` as the image's user, then `cat {dir}/foo.txt` as `user`.
    UserCanReadDir {
        /// The user.
        user: String,
        /// The directory.
        dir: String,
    },
    /// `touch {dir}/foo.txt` as `user`.
    UserCanWriteDir {
        /// The user.
        user: String,
        /// The directory.
        dir: String,
    },
    /// `test -f {path}`.
    FileExists {
        /// The file.
        path: String,
    },
    /// As `user`: `id -u`, `id -g`.
    UserUidGid {
        /// The user.
        user: String,
        /// Expected uid.
        uid: u32,
        /// Expected gid.
        gid: u32,
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
    /// An [`EnvVar`](CheckKind::EnvVar) check (no value) for each of [`PYTHON_ENV_VARS`].
    PythonEnvVars,
    /// `pip install nltk==3.8.1` (needs network), then a python one-liner finding the tagger and
    /// punkt data.
    NltkData,
    /// [`NltkData`](CheckKind::NltkData), then tesseract `5.3.0`, then poppler `22.12.0`.
    CdkSystemDependencies,
    /// A container-structure-test command test.
    CstCommand(CommandTest),
    /// A container-structure-test file existence test.
    CstFileExistence(FileExistenceTest),
    /// A container-structure-test file content test.
    CstFileContent(FileContentTest),
    /// A container-structure-test metadata test (needs [`CommandRunner::image_config`](super::CommandRunner::image_config)).
    CstMetadata(MetadataTest),
}

impl Check {
    /// A check with an explicit id.
    pub fn new(id: impl Into<String>, kind: CheckKind) -> Self {
        Self {
            id: id.into(),
            kind,
        }
    }

    /// The same check under another id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What it checks.
    pub fn kind(&self) -> &CheckKind {
        &self.kind
    }

    /// `timezone_is_utc`.
    pub fn timezone_is_utc() -> Self {
        Self::new("timezone_is_utc", CheckKind::TimezoneIsUtc)
    }

    /// `command_available:{command}` with `--version`.
    pub fn command_available(command: &str) -> Self {
        Self::command_available_with(command, "--version")
    }

    /// `command_available:{command}` with another version option.
    pub fn command_available_with(command: &str, option: &str) -> Self {
        Self::new(
            format!("command_available:{command}"),
            CheckKind::CommandAvailable {
                command: command.to_owned(),
                option: option.to_owned(),
            },
        )
    }

    /// `socat_version`.
    pub fn socat_version(version: &str) -> Self {
        Self::new(
            "socat_version",
            CheckKind::SocatVersion {
                version: version.to_owned(),
            },
        )
    }

    /// `env_var:{name}`, defined with any value.
    pub fn env_var_defined(name: &str) -> Self {
        Self::new(
            format!("env_var:{name}"),
            CheckKind::EnvVar {
                name: name.to_owned(),
                value: None,
            },
        )
    }

    /// `env_var:{name}`, defined with exactly `value`.
    pub fn env_var(name: &str, value: &str) -> Self {
        Self::new(
            format!("env_var:{name}"),
            CheckKind::EnvVar {
                name: name.to_owned(),
                value: Some(value.to_owned()),
            },
        )
    }

    /// `user_exists:{user}`.
    pub fn user_exists(user: &str, uid: u32, gid: u32) -> Self {
        Self::new(
            format!("user_exists:{user}"),
            CheckKind::UserExists {
                user: user.to_owned(),
                uid,
                gid,
            },
        )
    }

    /// `user_can_read_dir:{user}:{dir}`.
    pub fn user_can_read_dir(user: &str, dir: &str) -> Self {
        Self::new(
            format!("user_can_read_dir:{user}:{dir}"),
            CheckKind::UserCanReadDir {
                user: user.to_owned(),
                dir: dir.to_owned(),
            },
        )
    }

    /// `user_can_write_dir:{user}:{dir}`.
    pub fn user_can_write_dir(user: &str, dir: &str) -> Self {
        Self::new(
            format!("user_can_write_dir:{user}:{dir}"),
            CheckKind::UserCanWriteDir {
                user: user.to_owned(),
                dir: dir.to_owned(),
            },
        )
    }

    /// `file_exists:{path}`.
    pub fn file_exists(path: &str) -> Self {
        Self::new(
            format!("file_exists:{path}"),
            CheckKind::FileExists {
                path: path.to_owned(),
            },
        )
    }

    /// `user_uid_gid:{user}`.
    pub fn user_uid_gid(user: &str, uid: u32, gid: u32) -> Self {
        Self::new(
            format!("user_uid_gid:{user}"),
            CheckKind::UserUidGid {
                user: user.to_owned(),
                uid,
                gid,
            },
        )
    }

    /// `python_version`.
    pub fn python_version(version: &str) -> Self {
        Self::new(
            "python_version",
            CheckKind::PythonVersion {
                version: version.to_owned(),
            },
        )
    }

    /// `pip_version`.
    pub fn pip_version(version: &str) -> Self {
        Self::new(
            "pip_version",
            CheckKind::PipVersion {
                version: version.to_owned(),
            },
        )
    }

    /// `poetry_version`.
    pub fn poetry_version(version: &str) -> Self {
        Self::new(
            "poetry_version",
            CheckKind::PoetryVersion {
                version: version.to_owned(),
            },
        )
    }

    /// `tesseract_version`.
    pub fn tesseract_version(version: &str) -> Self {
        Self::new(
            "tesseract_version",
            CheckKind::TesseractVersion {
                version: version.to_owned(),
            },
        )
    }

    /// `poppler_version`.
    pub fn poppler_version(version: &str) -> Self {
        Self::new(
            "poppler_version",
            CheckKind::PopplerVersion {
                version: version.to_owned(),
            },
        )
    }

    /// `python_env_vars`.
    pub fn python_env_vars() -> Self {
        Self::new("python_env_vars", CheckKind::PythonEnvVars)
    }

    /// `nltk_data`.
    pub fn nltk_data() -> Self {
        Self::new("nltk_data", CheckKind::NltkData)
    }

    /// `cdk_system_dependencies`.
    pub fn cdk_system_dependencies() -> Self {
        Self::new("cdk_system_dependencies", CheckKind::CdkSystemDependencies)
    }

    /// The members of a group check, in order (empty for other kinds).
    pub fn members(&self) -> Vec<Check> {
        match &self.kind {
            CheckKind::PythonEnvVars => PYTHON_ENV_VARS
                .iter()
                .map(|n| Check::env_var_defined(n))
                .collect(),
            CheckKind::CdkSystemDependencies => {
                vec![
                    Check::nltk_data(),
                    Check::tesseract_version("5.3.0"),
                    Check::poppler_version("22.12.0"),
                ]
            }
            _ => Vec::new(),
        }
    }
}
