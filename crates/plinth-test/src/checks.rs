//! A check runner answering recorded command outputs and file entries, for evaluating checks
//! without a container (feature `checks`). The real runs happen in the engine's and the CLI's
//! integration tests; tests on top of this pin the pass rules and messages.

use std::cell::RefCell;
use std::collections::BTreeMap;

use plinth_catalog::checks::{
    Check, CheckStatus, CommandOutput, CommandRunner, CommandSpec, FileContents, FileStat,
    RunnerError,
};
use plinth_oci::ImageConfig;

/// One recorded answer: the command (argv and user) and what it gave.
struct Answer {
    argv: Vec<String>,
    user: Option<String>,
    result: Result<CommandOutput, String>,
}

/// Answers commands from a table; an unexpected command is a runner error naming it.
#[derive(Default)]
pub struct Canned {
    answers: Vec<Answer>,
    /// Every command run, in order.
    pub calls: RefCell<Vec<CommandSpec>>,
    /// Every check started, in order.
    pub starts: RefCell<Vec<String>>,
    /// When set, starting a check fails with this message.
    pub fail_start: Option<String>,
    /// The image config the runner reports.
    pub config: Option<ImageConfig>,
    /// The container's filesystem: entries by path, with the contents of the files.
    pub files: BTreeMap<String, (FileStat, Option<Vec<u8>>)>,
    /// Every path looked up or read, in order.
    pub file_calls: RefCell<Vec<String>>,
}

/// A command output with an exit code, stdout and stderr.
pub fn out(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
    CommandOutput::new(code, stdout, stderr)
}

/// A successful command output with `stdout` and nothing on stderr.
pub fn ok(stdout: &str) -> CommandOutput {
    CommandOutput::new(0, stdout, "")
}

impl Canned {
    /// A runner with no answers, files or config.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `argv` run as the image's user.
    pub fn on(self, argv: &[&str], output: CommandOutput) -> Self {
        self.answer(argv, None, Ok(output))
    }

    /// Answers `argv` run as `user`.
    pub fn on_as(self, user: &str, argv: &[&str], output: CommandOutput) -> Self {
        self.answer(argv, Some(user), Ok(output))
    }

    /// Fails to run `argv` (a runner error).
    pub fn broken(self, argv: &[&str], error: &str) -> Self {
        self.answer(argv, None, Err(error.to_owned()))
    }

    /// A regular file with `mode` (permission bits), owners and contents.
    pub fn file(mut self, path: &str, mode: u32, uid: u32, gid: u32, contents: &str) -> Self {
        let stat = FileStat {
            mode: 0o100000 | mode,
            uid,
            gid,
        };
        self.files
            .insert(path.to_owned(), (stat, Some(contents.as_bytes().to_vec())));
        self
    }

    /// A directory with `mode` (permission bits) and owners.
    pub fn dir(mut self, path: &str, mode: u32, uid: u32, gid: u32) -> Self {
        let stat = FileStat {
            mode: 0o040000 | mode,
            uid,
            gid,
        };
        self.files.insert(path.to_owned(), (stat, None));
        self
    }

    /// Reports `config` as the image's config.
    pub fn with_config(mut self, config: ImageConfig) -> Self {
        self.config = Some(config);
        self
    }

    fn answer(
        mut self,
        argv: &[&str],
        user: Option<&str>,
        result: Result<CommandOutput, String>,
    ) -> Self {
        self.answers.push(Answer {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            user: user.map(str::to_owned),
            result,
        });
        self
    }

    /// The argv of every call, joined, with `@user` when one was given.
    pub fn call_lines(&self) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .map(|c| match &c.user {
                Some(u) => format!("{}@{u}", c.argv.join(" ")),
                None => c.argv.join(" "),
            })
            .collect()
    }
}

impl CommandRunner for Canned {
    fn run(&self, command: &CommandSpec) -> Result<CommandOutput, RunnerError> {
        self.calls.borrow_mut().push(command.clone());
        let answer = self
            .answers
            .iter()
            .find(|a| a.argv == command.argv && a.user == command.user)
            .ok_or_else(|| {
                format!(
                    "no recorded answer for `{}` as {:?}",
                    command.argv.join(" "),
                    command.user
                )
            })?;
        answer.result.clone().map_err(Into::into)
    }

    fn start_check(&self, check_id: &str) -> Result<(), RunnerError> {
        self.starts.borrow_mut().push(check_id.to_owned());
        match &self.fail_start {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    }

    fn image_config(&self) -> Option<&ImageConfig> {
        self.config.as_ref()
    }

    fn stat_file(&self, path: &str) -> Result<Option<FileStat>, RunnerError> {
        self.file_calls.borrow_mut().push(format!("stat {path}"));
        Ok(self.files.get(path).map(|(stat, _)| *stat))
    }

    fn read_file(&self, path: &str) -> Result<FileContents, RunnerError> {
        self.file_calls.borrow_mut().push(format!("read {path}"));
        Ok(match self.files.get(path) {
            None => FileContents::Missing,
            Some((_, None)) => FileContents::Directory,
            Some((_, Some(bytes))) => FileContents::Bytes(bytes.clone()),
        })
    }
}

/// Evaluates `check` with `argv` answered by each row's output and compares the outcome: `None`
/// expects a pass, `Some(message)` a failure with exactly that message. Every row must run
/// `argv` once and record its output.
pub fn assert_check_table(check: &Check, argv: &[&str], rows: &[(CommandOutput, Option<&str>)]) {
    for (i, (output, expected)) in rows.iter().enumerate() {
        let runner = Canned::new().on(argv, output.clone());
        let outcome = check.evaluate(&runner);
        let row = format!("row {i} of {}", check.id());
        match expected {
            None => assert!(outcome.passed(), "{row}: {outcome:?}"),
            Some(message) => {
                assert_eq!(outcome.status, CheckStatus::Failed, "{row}");
                assert_eq!(outcome.message.as_deref(), Some(*message), "{row}");
            }
        }
        assert_eq!(runner.call_lines(), [argv.join(" ")], "{row}");
        assert_eq!(outcome.commands.len(), 1, "{row}");
        assert_eq!(outcome.commands[0].output.as_ref(), Some(output), "{row}");
    }
}
