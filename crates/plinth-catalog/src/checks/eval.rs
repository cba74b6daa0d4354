//! Evaluation of checks through a [`CommandRunner`].

use super::kind::{Check, CheckKind};
use super::{CheckOutcome, CheckStatus, CommandOutput, CommandRecord, CommandRunner, CommandSpec};

/// How a check ended when it did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The image does not satisfy the check; the message says why.
    Fail(String),
    /// The check could not be evaluated.
    Error(String),
}

/// The commands of one check evaluation, recorded as they run (the report lists them).
pub struct CheckSession<'a> {
    runner: &'a dyn CommandRunner,
    records: Vec<CommandRecord>,
}

impl<'a> CheckSession<'a> {
    pub(crate) fn new(runner: &'a dyn CommandRunner) -> Self {
        Self {
            runner,
            records: Vec::new(),
        }
    }

    /// The runner the commands go to (for the image config of metadata checks).
    pub fn runner(&self) -> &'a dyn CommandRunner {
        self.runner
    }

    /// Runs a command; a runner failure becomes [`Verdict::Error`].
    pub fn run(&mut self, spec: CommandSpec) -> Result<CommandOutput, Verdict> {
        match self.runner.run(&spec) {
            Ok(output) => {
                self.records.push(CommandRecord {
                    command: spec,
                    output: Some(output.clone()),
                    error: None,
                });
                Ok(output)
            }
            Err(error) => {
                let text = plinth_oci::error_chain(error.as_ref());
                let message = format!(
                    "could not run `{}`{}: {text}",
                    spec.display(),
                    as_user(&spec)
                );
                self.records.push(CommandRecord {
                    command: spec,
                    output: None,
                    error: Some(text),
                });
                Err(Verdict::Error(message))
            }
        }
    }

    /// Runs a command that must exit 0; a non-zero exit fails the check with the exec error.
    pub fn exec(&mut self, spec: CommandSpec) -> Result<CommandOutput, Verdict> {
        let description = (spec.display(), as_user(&spec));
        let output = self.run(spec)?;
        if output.success() {
            Ok(output)
        } else {
            Err(Verdict::Fail(exec_failure(
                &description.0,
                &description.1,
                &output,
            )))
        }
    }

    /// Runs a command whose non-zero exit fails the check with `message`.
    pub fn exec_or(
        &mut self,
        spec: CommandSpec,
        message: impl FnOnce() -> String,
    ) -> Result<CommandOutput, Verdict> {
        let output = self.run(spec)?;
        if output.success() {
            Ok(output)
        } else {
            Err(Verdict::Fail(message()))
        }
    }
}

fn as_user(spec: &CommandSpec) -> String {
    spec.user
        .as_ref()
        .map(|u| format!(" as user {u}"))
        .unwrap_or_default()
}

/// The text of an exec that exited non-zero, in place of the original's wrapped `ExecError`.
fn exec_failure(argv: &str, user: &str, output: &CommandOutput) -> String {
    let stderr = output.stderr.trim();
    let mut text = format!(
        "command `{argv}`{user} failed with exit code {}",
        output.exit_code
    );
    if !stderr.is_empty() {
        let cut: String = stderr.chars().take(500).collect();
        text.push_str(": ");
        text.push_str(&cut);
    }
    text
}

/// Python's `str.splitlines` for the line breaks commands print (`\n`, `\r\n`, `\r`), as
/// the original's checks split command output.
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

impl Check {
    /// Runs the check through `runner` and says whether it passed.
    ///
    /// [`CommandRunner::start_check`] is called first with the check's id. Group checks (custom
    /// kinds with [`members`](super::CustomCheck::members)) evaluate every member, in order, and take
    /// the status and message of the first member that did not pass.
    pub fn evaluate(&self, runner: &dyn CommandRunner) -> CheckOutcome {
        if let Err(error) = runner.start_check(self.id()) {
            return CheckOutcome {
                id: self.id().to_owned(),
                status: CheckStatus::Error,
                message: Some(format!(
                    "could not prepare a container for the check: {}",
                    plinth_oci::error_chain(error.as_ref())
                )),
                commands: Vec::new(),
                children: Vec::new(),
            };
        }
        self.evaluate_in(runner)
    }

    fn evaluate_in(&self, runner: &dyn CommandRunner) -> CheckOutcome {
        let members = self.members();
        if !members.is_empty() {
            let children: Vec<CheckOutcome> =
                members.iter().map(|m| m.evaluate_in(runner)).collect();
            let first_bad = children.iter().find(|c| !c.passed());
            return CheckOutcome {
                id: self.id().to_owned(),
                status: first_bad.map_or(CheckStatus::Passed, |c| c.status),
                message: first_bad.and_then(|c| c.message.clone()),
                commands: Vec::new(),
                children,
            };
        }
        let mut session = CheckSession::new(runner);
        let result = evaluate_kind(self.kind(), &mut session);
        let (status, message) = match result {
            Ok(()) => (CheckStatus::Passed, None),
            Err(Verdict::Fail(m)) => (CheckStatus::Failed, Some(m)),
            Err(Verdict::Error(m)) => (CheckStatus::Error, Some(m)),
        };
        CheckOutcome {
            id: self.id().to_owned(),
            status,
            message,
            commands: session.records,
            children: Vec::new(),
        }
    }
}

fn fail<T>(message: String) -> Result<T, Verdict> {
    Err(Verdict::Fail(message))
}

fn evaluate_kind(kind: &CheckKind, s: &mut CheckSession<'_>) -> Result<(), Verdict> {
    match kind {
        CheckKind::TimezoneIsUtc => {
            let out = s.exec(CommandSpec::new(["date"]))?;
            if !out.stdout.contains("UTC") {
                return fail(format!("unexpected timezone: {}", out.stdout));
            }
        }
        CheckKind::CommandAvailable { command, option } => {
            let out = s.exec(CommandSpec::new([command.as_str(), option.as_str()]))?;
            if out.stdout.is_empty() {
                return fail(format!("unexpected {command} version: {}", out.stdout));
            }
        }
        CheckKind::EnvVar { name, value } => {
            let out = s.exec(CommandSpec::new(["printenv"]))?;
            // Later definitions win, as in the original's dict comprehension; a line without `=`
            // (the continuation of a multi-line value) defines nothing.
            let found = split_lines(&out.stdout)
                .into_iter()
                .filter_map(|l| l.split_once('='))
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v)
                .next_back();
            match (found, value) {
                (None, _) => {
                    return fail(format!("the {name} environment variable is not defined."));
                }
                (Some(actual), Some(expected)) if actual != expected => {
                    return fail(format!(
                        "the {name} environment variable is defined but has an unexpected value: {actual}."
                    ));
                }
                _ => {}
            }
        }
        CheckKind::UserExists { user, uid, gid } => {
            let who = s.exec_or(CommandSpec::new(["whoami"]).as_user(user), || {
                format!("The user {user} does not exist in the container.")
            })?;
            if who.stdout.trim() != user {
                return fail(format!("The user {user} does not exist in the container."));
            }
            check_ids(s, user, *uid, *gid)?;
        }
        CheckKind::UserCanReadDir { user, dir } => {
            let file = format!("{dir}/foo.txt");
            let message = || format!("{dir} is not readable by {user}.");
            s.exec_or(CommandSpec::new(["touch", file.as_str()]), message)?;
            s.exec_or(
                CommandSpec::new(["cat", file.as_str()]).as_user(user),
                message,
            )?;
        }
        CheckKind::UserCanWriteDir { user, dir } => {
            let file = format!("{dir}/foo.txt");
            s.exec_or(
                CommandSpec::new(["touch", file.as_str()]).as_user(user),
                || format!("{dir} is not writable by the {user}."),
            )?;
        }
        CheckKind::FileExists { path } => {
            s.exec_or(CommandSpec::new(["test", "-f", path.as_str()]), || {
                format!("{path} does not exist.")
            })?;
        }
        CheckKind::UserUidGid { user, uid, gid } => check_ids(s, user, *uid, *gid)?,
        CheckKind::CstCommand(test) => crate::cst::evaluate_command(test, s)?,
        CheckKind::CstFileExistence(test) => crate::cst::evaluate_file_existence(test, s)?,
        CheckKind::CstFileContent(test) => crate::cst::evaluate_file_content(test, s)?,
        CheckKind::CstMetadata(test) => {
            crate::cst::evaluate_metadata(test, s.runner().image_config())?
        }
        // A group is expanded by `evaluate_in`; its own `evaluate` is never called.
        CheckKind::Custom(custom) => custom.check().evaluate(s)?,
    }
    Ok(())
}

fn check_ids(s: &mut CheckSession<'_>, user: &str, uid: u32, gid: u32) -> Result<(), Verdict> {
    let out = s.exec(CommandSpec::new(["id", "-u"]).as_user(user))?;
    let id = out.stdout.trim();
    if id.parse::<u32>().ok() != Some(uid) {
        return fail(format!("Unexpected user id: {id}"));
    }
    let out = s.exec(CommandSpec::new(["id", "-g"]).as_user(user))?;
    let id = out.stdout.trim();
    if id.parse::<u32>().ok() != Some(gid) {
        return fail(format!("Unexpected group id: {id}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_lines;

    #[test]
    fn split_lines_matches_python() {
        assert_eq!(split_lines("a\nb\r\nc\rd"), ["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n"), ["a"]);
        assert_eq!(split_lines("a\n\nb"), ["a", "", "b"]);
        assert!(split_lines("").is_empty());
    }
}
