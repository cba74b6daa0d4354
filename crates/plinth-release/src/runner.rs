//! Sanity checks run in built images: [`ImageChecker`] (what opens a built image to run
//! commands in; the embedded engine is one), the engine's [`RunSession`] as the catalog's
//! [`CommandRunner`], and [`check_image`] over every platform.

use std::sync::Mutex;

use plinth_catalog::checks::{
    Check, CheckReport, CommandOutput, CommandRunner, CommandSpec, FileContents, FileStat,
    RunnerError, run_checks,
};
use plinth_engine::{Engine, FileRead, RunSession};
use plinth_oci::{Descriptor, ImageConfig, Platform, Store};

use crate::error::{Error, Result};

/// Opens images of a store to run commands in them: the check runner of the release flow.
/// Checks always run in the embedded engine's sandbox, whichever [`Executor`] built the image
/// (BuildKit's results are imported into the same store).
///
/// [`Executor`]: plinth_executor::Executor
pub trait ImageChecker: Send + Sync {
    /// The store images are opened from.
    fn store(&self) -> &Store;

    /// A runner over a throwaway container of `image` (an index or manifest in
    /// [`store`](Self::store)) for `platform`.
    fn open(
        &self,
        image: &Descriptor,
        platform: &Platform,
    ) -> Result<Box<dyn CommandRunner>, RunnerError>;
}

impl ImageChecker for Engine {
    fn store(&self) -> &Store {
        Engine::store(self)
    }

    fn open(
        &self,
        image: &Descriptor,
        platform: &Platform,
    ) -> Result<Box<dyn CommandRunner>, RunnerError> {
        Ok(Box::new(SessionRunner::open(self, image, platform)?))
    }
}

/// A [`CommandRunner`] over one engine [`RunSession`]: commands run directly in a throwaway
/// container of the image; [`start_check`](CommandRunner::start_check) resets it to the pristine
/// image, so every check starts from the image as built (as the original tool's did).
#[derive(Debug)]
pub struct SessionRunner {
    session: Mutex<RunSession>,
    config: ImageConfig,
}

impl SessionRunner {
    /// A runner over `session`.
    pub fn new(session: RunSession) -> Self {
        let config = session.config().clone();
        Self {
            session: Mutex::new(session),
            config,
        }
    }

    /// Opens `image` (an index or manifest in the engine's store) for `platform`.
    pub fn open(
        engine: &Engine,
        image: &Descriptor,
        platform: &Platform,
    ) -> plinth_engine::Result<Self> {
        Ok(Self::new(engine.open_image(image, platform)?))
    }
}

impl CommandRunner for SessionRunner {
    fn run(&self, command: &CommandSpec) -> Result<CommandOutput, RunnerError> {
        let session = self
            .session
            .lock()
            .map_err(|_| "the run session is poisoned")?;
        let output = session.run_command(&command.argv, command.user.as_deref(), &command.env)?;
        Ok(CommandOutput::new(
            output.exit_code,
            output.stdout_text(),
            output.stderr_text(),
        ))
    }

    fn start_check(&self, _check_id: &str) -> Result<(), RunnerError> {
        let mut session = self
            .session
            .lock()
            .map_err(|_| "the run session is poisoned")?;
        Ok(session.reset()?)
    }

    fn image_config(&self) -> Option<&ImageConfig> {
        Some(&self.config)
    }

    fn stat_file(&self, path: &str) -> Result<Option<FileStat>, RunnerError> {
        let session = self
            .session
            .lock()
            .map_err(|_| "the run session is poisoned")?;
        Ok(session.stat_path(path)?.map(|info| FileStat {
            mode: info.mode,
            uid: info.uid,
            gid: info.gid,
        }))
    }

    fn read_file(&self, path: &str) -> Result<FileContents, RunnerError> {
        let session = self
            .session
            .lock()
            .map_err(|_| "the run session is poisoned")?;
        Ok(match session.read_path(path)? {
            FileRead::Contents(bytes) => FileContents::Bytes(bytes),
            FileRead::Missing => FileContents::Missing,
            FileRead::Directory => FileContents::Directory,
            FileRead::Special => FileContents::Special,
        })
    }
}

/// Runs `checks` in `image` on every platform of `platforms` (arm64 through binfmt on an amd64
/// host), one report per platform, in order. A check that fails is in its report; an `Err` means
/// the image could not be opened at all.
pub fn check_image(
    checker: &dyn ImageChecker,
    subject: &str,
    image: &Descriptor,
    platforms: &[Platform],
    checks: &[Check],
) -> Result<Vec<CheckReport>> {
    let mut reports = Vec::with_capacity(platforms.len());
    for platform in platforms {
        let _span = tracing::info_span!("checks", subject, %platform).entered();
        let runner = checker
            .open(image, platform)
            .map_err(|source| Error::CheckSetup {
                subject: subject.to_owned(),
                platform: platform.to_string(),
                source,
            })?;
        reports.push(run_checks(subject, platform, checks, runner.as_ref()));
    }
    Ok(reports)
}

/// `Ok` when every report passed, else [`Error::ChecksFailed`] naming each problem.
pub fn require_passed(reports: &[CheckReport]) -> Result<()> {
    let problems: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.problems().map(move |o| {
                format!(
                    "{} {} ({}): {}",
                    r.platform,
                    o.id,
                    o.status.as_str(),
                    o.message_first_line()
                )
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::ChecksFailed {
            summary: problems.join("; "),
        })
    }
}
