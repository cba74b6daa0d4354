//! The [`Check`] value and its kinds: the generic ones, container-structure-test's, and the
//! [`CustomCheck`]s family crates declare.

use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::eval::{CheckSession, Verdict};
use crate::cst::{CommandTest, FileContentTest, FileExistenceTest, MetadataTest};

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
/// The generic kinds are the original tool's checks that any image family can use: same
/// commands, same pass rules, same failure messages (`{stdout}` is the whole standard output,
/// trailing newline included). Where the original raised on a non-zero exit, the message is
/// ``command `…` failed with exit code N: <stderr>``. Kinds that only make sense for one family
/// (the Airbyte python checks: `poetry_version`, `nltk_data`, …) live in that family's crate as
/// [`CustomCheck`]s.
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
    /// A container-structure-test command test.
    CstCommand(CommandTest),
    /// A container-structure-test file existence test.
    CstFileExistence(FileExistenceTest),
    /// A container-structure-test file content test.
    CstFileContent(FileContentTest),
    /// A container-structure-test metadata test (needs [`CommandRunner::image_config`](super::CommandRunner::image_config)).
    CstMetadata(MetadataTest),
    /// A kind declared by a family crate. It serializes as `{"kind": <its kind>, <its
    /// parameters>}`, like the kinds above; it cannot be read back from JSON, since only the
    /// crate that declares it knows how to run it.
    #[serde(untagged)]
    Custom(CustomKind),
}

/// A check kind a family crate declares: its commands and pass rule, in the family's own crate.
///
/// `plinth-catalog` runs it like its own kinds: [`evaluate`](Self::evaluate) gets a
/// [`CheckSession`] that records every command (for reports) and turns runner failures into
/// errors; a group kind lists its [`members`](Self::members) instead and is evaluated member by
/// member. Two custom kinds are equal when their [`kind`](Self::kind) and
/// [`parameters`](Self::parameters) are.
///
/// ```
/// use plinth_catalog::checks::{Check, CheckSession, CommandOutput, CommandRunner, CommandSpec, CustomCheck, RunnerError, Verdict};
///
/// /// `uname -m` must print `arch`.
/// #[derive(Debug)]
/// struct Machine { arch: String }
///
/// impl CustomCheck for Machine {
///     fn kind(&self) -> &'static str { "machine" }
///     fn parameters(&self) -> serde_json::Map<String, serde_json::Value> {
///         serde_json::Map::from_iter([("arch".to_owned(), self.arch.clone().into())])
///     }
///     fn evaluate(&self, session: &mut CheckSession<'_>) -> Result<(), Verdict> {
///         let out = session.exec(CommandSpec::new(["uname", "-m"]))?;
///         if out.stdout.trim() != self.arch {
///             return Err(Verdict::Fail(format!("unexpected machine: {}", out.stdout)));
///         }
///         Ok(())
///     }
/// }
///
/// struct Arm;
/// impl CommandRunner for Arm {
///     fn run(&self, _: &CommandSpec) -> Result<CommandOutput, RunnerError> {
///         Ok(CommandOutput::new(0, "aarch64\n", ""))
///     }
/// }
///
/// let check = Check::custom("machine", Machine { arch: "x86_64".to_owned() });
/// let outcome = check.evaluate(&Arm);
/// assert_eq!(outcome.message.as_deref(), Some("unexpected machine: aarch64\n"));
/// assert_eq!(serde_json::to_string(&check).unwrap(), r#"{"id":"machine","kind":"machine","arch":"x86_64"}"#);
/// ```
pub trait CustomCheck: fmt::Debug + Send + Sync + 'static {
    /// The kind's name in JSON and reports, snake_case (`poetry_version`).
    fn kind(&self) -> &'static str;

    /// The parameters, as they appear in JSON beside `kind` (a `kind` key here is ignored).
    fn parameters(&self) -> serde_json::Map<String, serde_json::Value>;

    /// Runs the check's commands through `session` and applies the pass rule. Not called for a
    /// group kind (one with [`members`](Self::members)).
    fn evaluate(&self, session: &mut CheckSession<'_>) -> Result<(), Verdict>;

    /// The members of a group kind, evaluated in order in place of [`evaluate`](Self::evaluate);
    /// empty (the default) for a kind with commands of its own.
    fn members(&self) -> Vec<Check> {
        Vec::new()
    }
}

/// A [`CustomCheck`] held by a [`CheckKind::Custom`] (cheap to clone).
#[derive(Clone)]
pub struct CustomKind(Arc<dyn CustomCheck>);

impl CustomKind {
    /// Wraps a custom check.
    pub fn new(check: impl CustomCheck) -> Self {
        Self(Arc::new(check))
    }

    /// The custom check.
    pub fn check(&self) -> &dyn CustomCheck {
        self.0.as_ref()
    }
}

impl fmt::Debug for CustomKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for CustomKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.parameters() == other.0.parameters()
    }
}

impl Eq for CustomKind {}

impl Serialize for CustomKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `kind` first, as the derived kinds write it, then the parameters.
        let parameters = self.0.parameters();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", self.0.kind())?;
        for (key, value) in parameters.iter().filter(|(key, _)| *key != "kind") {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for CustomKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        Err(serde::de::Error::custom(format!(
            "unknown check kind `{kind}`: only the generic and container-structure-test kinds can be \
             read from JSON; a family crate's kinds are declared in its code"
        )))
    }
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

    /// A check of a kind declared by a family crate.
    pub fn custom(id: impl Into<String>, check: impl CustomCheck) -> Self {
        Self::new(id, CheckKind::Custom(CustomKind::new(check)))
    }

    /// The members of a group check, in order (empty for other kinds).
    pub fn members(&self) -> Vec<Check> {
        match &self.kind {
            CheckKind::Custom(custom) => custom.check().members(),
            CheckKind::TimezoneIsUtc
            | CheckKind::CommandAvailable { .. }
            | CheckKind::EnvVar { .. }
            | CheckKind::UserExists { .. }
            | CheckKind::UserCanReadDir { .. }
            | CheckKind::UserCanWriteDir { .. }
            | CheckKind::FileExists { .. }
            | CheckKind::UserUidGid { .. }
            | CheckKind::CstCommand(_)
            | CheckKind::CstFileExistence(_)
            | CheckKind::CstFileContent(_)
            | CheckKind::CstMetadata(_) => Vec::new(),
        }
    }
}
