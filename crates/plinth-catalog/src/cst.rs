//! container-structure-test files (`schemaVersion: 2.0.0`) as [`Check`]s.
//!
//! [`CstFile::parse`] reads the YAML format of Google's container-structure-test and
//! [`CstFile::checks`] turns every test into a [`Check`] that runs through the same
//! [`CommandRunner`](crate::checks::CommandRunner) as the catalog's own checks:
//!
//! - `commandTests`: `setup` commands, the command, then `teardown`, in one check (so the setup's
//!   changes are visible); `globalEnvVars` and the test's `envVars` are passed as the command's
//!   environment, each value `$VAR`-expanded (Go's `os.Expand`, as the original) against the
//!   image's environment (with docker's default `PATH` when the image sets none, as the command
//!   sees it) and the variables before it, so `PATH: /env/bin:$PATH` prepends; the
//!   command and its arguments are expanded against all of them too. (container-structure-test's
//!   docker driver passes a test's own `envVars` to its main command unexpanded; its host driver
//!   and its documentation expand them, as plinth does.) The exit code must equal
//!   `exitCode` (default 0); `expectedOutput`/`excludedOutput` are regexes searched in stdout,
//!   `expectedError`/`excludedError` in stderr. Every mismatch is reported, with the original
//!   tool's wording.
//! - `fileExistenceTests`: the path, `$VAR`-expanded with the image's environment (not with
//!   `globalEnvVars`, which the original's docker driver also applies), is looked up in the
//!   image's filesystem through [`CommandRunner::stat_file`](crate::checks::CommandRunner::stat_file)
//!   (no command runs, so images without a shell work): symlinks on the way are followed inside
//!   the image's root, a final symlink is the entry itself (a dangling link exists, with mode
//!   `Lrwxrwxrwx`), as `docker cp` reports it to the original. The permissions are compared in
//!   Go's `FileMode` notation (`-rw-r--r--`, `drwxr-xr-x`, `urwxr-xr-x` for setuid). As in the
//!   original (since 2018), `shouldExist` defaults to `true`.
//! - `fileContentTests`: the file is read through
//!   [`CommandRunner::read_file`](crate::checks::CommandRunner::read_file), symlinks followed;
//!   `expectedContents`/`excludedContents` are regexes.
//! - `metadataTest`: compared with the image config the runner exposes
//!   ([`CommandRunner::image_config`](crate::checks::CommandRunner::image_config)); no command runs.
//!
//! Regexes use the `regex` crate, whose syntax is the RE2 syntax of the original (Go `regexp`).
//!
//! ```
//! use plinth_catalog::cst::CstFile;
//!
//! let file = CstFile::parse(r#"
//! schemaVersion: 2.0.0
//! commandTests:
//!   - name: python is 3.10
//!     command: python
//!     args: ["--version"]
//!     expectedOutput: ['Python 3\.10\.\d+']
//! "#, "example.yaml").unwrap();
//! let checks = file.checks();
//! assert_eq!(checks[0].id(), "cst:command:python is 3.10");
//! ```

mod eval;
mod expand;

use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::checks::Check;
use crate::checks::CheckKind;
use crate::error::{Error, Result};

pub use eval::go_file_mode;
pub(crate) use eval::{
    evaluate_command, evaluate_file_content, evaluate_file_existence, evaluate_metadata,
};

/// The only schema version read.
pub const SCHEMA_VERSION: &str = "2.0.0";

/// A container-structure-test file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CstFile {
    /// Must be `2.0.0`.
    pub schema_version: String,
    /// Variables set for every command test.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_env_vars: Vec<EnvVar>,
    /// Command tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command_tests: Vec<CommandTest>,
    /// File existence tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_existence_tests: Vec<FileExistenceTest>,
    /// File content tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_content_tests: Vec<FileContentTest>,
    /// The metadata test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_test: Option<MetadataTest>,
}

/// A `key`/`value` pair of `envVars`/`globalEnvVars`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    /// The name.
    pub key: String,
    /// The value.
    pub value: String,
}

/// A command test.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandTest {
    /// The test's name (unique in the file).
    pub name: String,
    /// Commands run before, each an argv.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<Vec<String>>,
    /// Commands run after, each an argv; their failures are reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teardown: Vec<Vec<String>>,
    /// The program.
    pub command: String,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Variables for this test (after the global ones, so they win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_vars: Vec<EnvVar>,
    /// Regexes that must match stdout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_output: Vec<String>,
    /// Regexes that must match stderr.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_error: Vec<String>,
    /// Regexes that must not match stdout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_output: Vec<String>,
    /// Regexes that must not match stderr.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_error: Vec<String>,
    /// The expected exit code (default 0).
    #[serde(default)]
    pub exit_code: i32,
}

/// A file existence test.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileExistenceTest {
    /// The test's name.
    pub name: String,
    /// The path.
    pub path: String,
    /// Whether the path must exist (`true` when omitted, as in the original).
    #[serde(default = "should_exist_by_default")]
    pub should_exist: bool,
    /// Go `FileMode` notation (`-rw-r--r--`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// Owner uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// `owner`, `group`, `other` or `any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_executable_by: Option<String>,
}

fn should_exist_by_default() -> bool {
    true
}

/// A file content test.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileContentTest {
    /// The test's name.
    pub name: String,
    /// The file.
    pub path: String,
    /// Regexes that must match the contents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_contents: Vec<String>,
    /// Regexes that must not match the contents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_contents: Vec<String>,
}

/// A `key`/`value` pair of the metadata test, compared literally or as a regex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetadataPair {
    /// The env var name or label key.
    pub key: String,
    /// The expected value.
    pub value: String,
    /// Whether `value` is a regex (searched in the actual value).
    #[serde(default)]
    pub is_regex: bool,
}

/// The metadata test; only the fields given are compared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetadataTest {
    /// Env vars the config must define.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_vars: Vec<MetadataPair>,
    /// Labels the config must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<MetadataPair>,
    /// The exact entrypoint (`[]` means none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The exact default args (`[]` means none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The workdir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports that must be exposed (`8080` means `8080/tcp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed_ports: Vec<String>,
    /// Ports that must not be exposed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unexposed_ports: Vec<String>,
    /// Volumes that must be declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Volumes that must not be declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmounted_volumes: Vec<String>,
}

impl CstFile {
    /// Parses and validates a file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let file: CstFile = serde_saphyr::from_str(text).map_err(|source| Error::ParseCst {
            origin: origin.to_owned(),
            source: Box::new(source),
        })?;
        let problems = file.problems();
        if problems.is_empty() {
            Ok(file)
        } else {
            Err(Error::InvalidCst {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::InvalidCst {
            origin: origin.clone(),
            problems: vec![format!("cannot read the file: {e}")],
        })?;
        Self::parse(&text, &origin)
    }

    /// One check per test, in file order: commands, file existence, file content, metadata.
    /// Ids are `cst:command:NAME`, `cst:file_existence:NAME`, `cst:file_content:NAME` and
    /// `cst:metadata`.
    pub fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        for test in &self.command_tests {
            let mut test = test.clone();
            let mut env = self.global_env_vars.clone();
            env.append(&mut test.env_vars);
            test.env_vars = env;
            checks.push(Check::new(
                format!("cst:command:{}", test.name),
                CheckKind::CstCommand(test),
            ));
        }
        for test in &self.file_existence_tests {
            checks.push(Check::new(
                format!("cst:file_existence:{}", test.name),
                CheckKind::CstFileExistence(test.clone()),
            ));
        }
        for test in &self.file_content_tests {
            checks.push(Check::new(
                format!("cst:file_content:{}", test.name),
                CheckKind::CstFileContent(test.clone()),
            ));
        }
        if let Some(test) = &self.metadata_test {
            checks.push(Check::new(
                "cst:metadata",
                CheckKind::CstMetadata(test.clone()),
            ));
        }
        checks
    }

    /// Every problem that makes the file unusable, one line each.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.schema_version != SCHEMA_VERSION {
            problems.push(format!(
                "schemaVersion is `{}`; only `{SCHEMA_VERSION}` is supported",
                self.schema_version
            ));
        }
        let regexes = |place: &str, list: &[String], problems: &mut Vec<String>| {
            for pattern in list {
                if let Err(e) = Regex::new(pattern) {
                    problems.push(format!("{place}: `{pattern}` is not a valid regex: {e}"));
                }
            }
        };
        let mut names = std::collections::BTreeSet::new();
        for (i, t) in self.command_tests.iter().enumerate() {
            let place = format!("commandTests[{i}] ({})", t.name);
            if t.name.is_empty() {
                problems.push(format!("commandTests[{i}]: `name` is empty"));
            } else if !names.insert(("command", t.name.clone())) {
                problems.push(format!("{place}: the name is used by another command test"));
            }
            if t.command.is_empty() {
                problems.push(format!("{place}: `command` is empty"));
            }
            if t.setup
                .iter()
                .chain(&t.teardown)
                .any(|c| c.first().is_none_or(String::is_empty))
            {
                problems.push(format!("{place}: a setup or teardown command is empty"));
            }
            for list in [
                &t.expected_output,
                &t.expected_error,
                &t.excluded_output,
                &t.excluded_error,
            ] {
                regexes(&place, list, &mut problems);
            }
        }
        for (i, t) in self.file_existence_tests.iter().enumerate() {
            let place = format!("fileExistenceTests[{i}] ({})", t.name);
            if t.name.is_empty() {
                problems.push(format!("fileExistenceTests[{i}]: `name` is empty"));
            } else if !names.insert(("file_existence", t.name.clone())) {
                problems.push(format!(
                    "{place}: the name is used by another file existence test"
                ));
            }
            if t.path.is_empty() {
                problems.push(format!("{place}: `path` is empty"));
            }
            if let Some(by) = &t.is_executable_by
                && !["owner", "group", "other", "any"].contains(&by.as_str())
            {
                problems.push(format!(
                    "{place}: isExecutableBy is `{by}`; use owner, group, other or any"
                ));
            }
            if !t.should_exist && (t.permissions.is_some() || t.uid.is_some() || t.gid.is_some()) {
                problems.push(format!(
                    "{place}: permissions, uid or gid are given but shouldExist is false; drop them or set shouldExist: true"
                ));
            }
        }
        for (i, t) in self.file_content_tests.iter().enumerate() {
            let place = format!("fileContentTests[{i}] ({})", t.name);
            if t.name.is_empty() {
                problems.push(format!("fileContentTests[{i}]: `name` is empty"));
            } else if !names.insert(("file_content", t.name.clone())) {
                problems.push(format!(
                    "{place}: the name is used by another file content test"
                ));
            }
            if t.path.is_empty() {
                problems.push(format!("{place}: `path` is empty"));
            }
            regexes(&place, &t.expected_contents, &mut problems);
            regexes(&place, &t.excluded_contents, &mut problems);
        }
        if let Some(m) = &self.metadata_test {
            for pair in m.env_vars.iter().chain(&m.labels).filter(|p| p.is_regex) {
                regexes(
                    "metadataTest",
                    std::slice::from_ref(&pair.value),
                    &mut problems,
                );
            }
        }
        problems
    }
}
