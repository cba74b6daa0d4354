//! Tests that need something outside the Rust toolchain: root, docker, binfmt, system tools.
//!
//! Such a test starts with [`require_external!`]. When the requirement is met the test runs. When
//! it is not, the test panics with a message saying how to provide it, unless the developer set
//! `PLINTH_TEST_ALLOW_SKIP=1`, in which case it returns early and says so on stderr. CI never sets
//! that variable, so there every such test really runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set to `1` to let tests skip when a requirement is missing (local development only).
pub const ALLOW_SKIP_ENV: &str = "PLINTH_TEST_ALLOW_SKIP";

/// Set to `1` to make docker tests mandatory even when skipping is allowed (CI sets it).
pub const DOCKER_ENV: &str = "PLINTH_TEST_DOCKER";

/// Something a test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum External {
    /// Running as uid 0 (namespaces, mounts, chroot).
    Root,
    /// A dockerd that answers `docker info`.
    Docker,
    /// qemu-user registered in binfmt_misc for arm64 with the `F` (fix-binary) flag, so arm64
    /// binaries run inside chroots and containers.
    BinfmtArm64,
    /// A program on `PATH`, e.g. `Tool("skopeo")`.
    Tool(&'static str),
}

impl External {
    /// Checks the requirement; `Err` says what is missing and how to fix it.
    pub fn check(self) -> Result<(), String> {
        match self {
            Self::Root => {
                if current_uid() == Some(0) {
                    Ok(())
                } else {
                    Err("this test must run as root (uid 0): run it with sudo or in the CI container".into())
                }
            }
            Self::Docker => {
                let docker = find_in_path("docker")
                    .ok_or("`docker` is not on PATH; install it with `apt-get install -y docker.io`")?;
                let ok = Command::new(docker)
                    .arg("info")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    Ok(())
                } else {
                    Err("`docker info` failed: start dockerd (`.ci/run` shows how: `dockerd >/var/log/dockerd.log 2>&1 &`)".into())
                }
            }
            Self::BinfmtArm64 => check_binfmt(Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64")),
            Self::Tool(name) => find_in_path(name)
                .map(|_| ())
                .ok_or_else(|| format!("`{name}` is not on PATH; install the Debian package that provides it (see `.ci/run`)")),
        }
    }

    fn may_skip(self) -> bool {
        let allow = std::env::var(ALLOW_SKIP_ENV).is_ok_and(|v| v == "1");
        let docker_forced =
            self == Self::Docker && std::env::var(DOCKER_ENV).is_ok_and(|v| v == "1");
        allow && !docker_forced
    }
}

/// Returns `true` when the requirement holds. Otherwise returns `false` (the caller should return)
/// when `PLINTH_TEST_ALLOW_SKIP=1`, and panics with a fix-it message when it is not set.
#[allow(
    clippy::print_stderr,
    reason = "the test harness shows the skip notice to the developer"
)]
pub fn require_external(requirement: External) -> bool {
    match requirement.check() {
        Ok(()) => true,
        Err(why) if requirement.may_skip() => {
            eprintln!("skipped: {why} ({ALLOW_SKIP_ENV}=1)");
            false
        }
        Err(why) => panic!(
            "missing test requirement {requirement:?}: {why}\n\
             (set {ALLOW_SKIP_ENV}=1 to skip such tests locally; CI never skips them)"
        ),
    }
}

/// Returns from the calling test when a requirement is missing and skipping is allowed; panics
/// when it is missing and skipping is not allowed.
///
/// ```no_run
/// use plinth_test::{External, require_external};
/// fn docker_interop() {
///     require_external!(External::Docker);
///     // ... talk to dockerd
/// }
/// ```
#[macro_export]
macro_rules! require_external {
    ($($requirement:expr),+ $(,)?) => {
        $(
            if !$crate::require_external($requirement) {
                return;
            }
        )+
    };
}

/// The full path of `program` on `PATH`, if it is there.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The real uid of this process, read from `/proc/self/status`.
pub fn current_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

fn check_binfmt(entry: &Path) -> Result<(), String> {
    let fix = "register it with `update-binfmts --enable qemu-aarch64` (package qemu-user-static) and \
               check that the entry has flags `F`; `.ci/run` does this";
    let text = std::fs::read_to_string(entry).map_err(|_| {
        format!(
            "`{}` does not exist: qemu-aarch64 is not registered in binfmt_misc; {fix}",
            entry.display()
        )
    })?;
    parse_binfmt(&text).map_err(|what| format!("`{}` {what}; {fix}", entry.display()))
}

fn parse_binfmt(text: &str) -> Result<(), String> {
    if !text.lines().any(|l| l.trim() == "enabled") {
        return Err("is disabled".into());
    }
    let flags = text
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(str::trim)
        .unwrap_or("");
    if flags.contains('F') {
        Ok(())
    } else {
        Err(format!("lacks the fix-binary flag F (flags: `{flags}`)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binfmt_entry_needs_enabled_and_fix_binary() {
        let good =
            "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n";
        assert_eq!(parse_binfmt(good), Ok(()));
        let no_f = "enabled\ninterpreter /x\nflags: P\n";
        assert!(parse_binfmt(no_f).unwrap_err().contains("fix-binary"));
        let disabled = "disabled\nflags: PF\n";
        assert!(parse_binfmt(disabled).unwrap_err().contains("disabled"));
    }

    #[test]
    fn finds_sh_on_path() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("definitely-not-a-real-program-plinth").is_none());
    }

    #[test]
    fn tool_requirement_reports_the_missing_program() {
        let err = External::Tool("definitely-not-a-real-program-plinth")
            .check()
            .unwrap_err();
        assert!(
            err.contains("definitely-not-a-real-program-plinth"),
            "{err}"
        );
    }
}
