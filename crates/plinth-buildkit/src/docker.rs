//! The docker client plinth drives, and how it is found.
//!
//! plinth runs BuildKit through the docker CLI rather than the Engine API: the CLI already
//! speaks every transport (`ssh://` through `docker system dial-stdio`, TLS, contexts), runs
//! the BuildKit session that streams the build context, and prints BuildKit's plain progress,
//! which plinth parses for steps, output and errors. Two kinds of client can do it:
//!
//! - one with the buildx plugin: `docker buildx build --load`;
//! - a client older than 23, which embeds a BuildKit client: `DOCKER_BUILDKIT=1 docker build`.
//!
//! Newer clients without buildx refuse BuildKit builds, so every `docker` on `PATH` is probed
//! and the first usable one wins, unless [`DOCKER_CLIENT_ENV`] names one.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::docker_host::DockerHost;
use crate::error::{Error, Result};

/// Environment variable naming the docker client to use (a path or a program on `PATH`).
pub const DOCKER_CLIENT_ENV: &str = "PLINTH_DOCKER";

/// How the client starts a BuildKit build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildMode {
    /// `docker buildx build --load`.
    Buildx,
    /// `DOCKER_BUILDKIT=1 docker build` (clients before 23).
    Classic,
}

/// A docker client able to run BuildKit builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerCli {
    program: PathBuf,
    mode: BuildMode,
}

impl DockerCli {
    /// A given client and mode, without probing.
    pub fn new(program: impl Into<PathBuf>, mode: BuildMode) -> Self {
        Self {
            program: program.into(),
            mode,
        }
    }

    /// Finds a usable client: [`DOCKER_CLIENT_ENV`] if set, else every `docker` on `PATH` in order.
    pub fn detect() -> Result<Self> {
        let candidates: Vec<PathBuf> = match std::env::var_os(DOCKER_CLIENT_ENV) {
            Some(p) if !p.is_empty() => vec![PathBuf::from(p)],
            _ => std::env::var_os("PATH")
                .map(|path| {
                    std::env::split_paths(&path)
                        .map(|dir| dir.join("docker"))
                        .filter(|p| p.is_file())
                        .collect()
                })
                .unwrap_or_default(),
        };
        let mut tried = Vec::new();
        for program in candidates {
            match probe(&program) {
                Ok(mode) => {
                    tracing::debug!(program = %program.display(), ?mode, "docker client");
                    return Ok(Self { program, mode });
                }
                Err(why) => tried.push(format!("{}: {why}", program.display())),
            }
        }
        if tried.is_empty() {
            tried.push("no `docker` on PATH".to_owned());
        }
        Err(Error::NoDockerClient {
            tried: tried.join("; "),
        })
    }

    /// The client program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// How it builds.
    pub fn mode(&self) -> BuildMode {
        self.mode
    }

    /// `docker [builder args]`, with BuildKit switched on and hints off.
    pub(crate) fn command(&self, builder: &DockerHost) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env("DOCKER_BUILDKIT", "1")
            .env("DOCKER_CLI_HINTS", "false")
            .env("BUILDKIT_PROGRESS", "plain")
            .args(builder.client_args())
            .stdin(Stdio::null());
        cmd
    }

    /// The subcommand words of a build that lands in the daemon's image store.
    pub(crate) fn build_words(&self) -> &'static [&'static str] {
        match self.mode {
            BuildMode::Buildx => &["buildx", "build", "--load"],
            BuildMode::Classic => &["build"],
        }
    }
}

fn probe(program: &Path) -> std::result::Result<BuildMode, String> {
    let mut buildx = Command::new(program);
    buildx.args(["buildx", "version"]);
    if run_with_timeout(&mut buildx, Duration::from_secs(20)).is_ok_and(|o| o.status.success()) {
        return Ok(BuildMode::Buildx);
    }
    let mut version = Command::new(program);
    version.arg("--version");
    let out = run_with_timeout(&mut version, Duration::from_secs(20))
        .map_err(|e| format!("cannot run it: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `Docker version 20.10.24+dfsg1, build 297e128`
    let major = text
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("unexpected `--version` output `{}`", text.trim()))?;
    if major < 23 {
        Ok(BuildMode::Classic)
    } else {
        Err(format!(
            "client {major}.x has no buildx plugin, and clients from 23 on need it for BuildKit"
        ))
    }
}

/// Runs `cmd` to completion, capturing stdout and stderr; kills it after `timeout`.
pub(crate) fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", timeout.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    })
}

/// The last `n` non-empty lines of `text`, joined.
pub(crate) fn tail(text: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs a short docker command and turns a failure into [`Error::Docker`].
pub(crate) fn run_docker(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let command = describe(cmd);
    let out = run_with_timeout(cmd, timeout).map_err(|e| Error::Docker {
        command: command.clone(),
        status: "not run".to_owned(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(Error::Docker {
            command,
            status: out.status.to_string(),
            detail: tail(&out.stderr, 8),
        });
    }
    Ok(out)
}

/// `docker -H … save …` as text, program name shortened.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut words = vec!["docker".to_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}
