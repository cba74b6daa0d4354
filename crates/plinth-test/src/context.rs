//! A temp directory per test, the `plinth` binary run inside it, and snapshot filters.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::registry::LocalRegistry;

/// The variable the CLI reads its store and state directory from.
pub const PLINTH_HOME_ENV: &str = "PLINTH_HOME";

/// The variable that points tests at a `plinth` binary to run instead of the one next to them.
pub const PLINTH_BIN_ENV: &str = "PLINTH_BIN";

/// Variables of the developer's environment that would change what the CLI does.
const SCRUBBED_ENV: &[&str] = &[
    "RUST_LOG",
    "SOURCE_DATE_EPOCH",
    "DOCKER_HUB_USERNAME",
    "DOCKER_HUB_PASSWORD",
    "DOCKER_CONFIG",
    "XDG_CACHE_HOME",
];

/// One test's world: a temp directory with a work dir, a `PLINTH_HOME` and a `HOME`, and the
/// filters that make command output stable for insta snapshots.
///
/// ```no_run
/// let ctx = plinth_test::TestContext::new();
/// let output = ctx.run(ctx.plinth().arg("--version"));
/// assert!(output.contains("success: true"));
/// ```
#[derive(Debug)]
pub struct TestContext {
    temp: tempfile::TempDir,
    bin: PathBuf,
    filters: Vec<(String, String)>,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    /// A fresh context; the `plinth` binary is found through `PLINTH_BIN` or next to the test
    /// binary in the target directory.
    pub fn new() -> Self {
        let temp = tempfile::Builder::new()
            .prefix("plinth-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("failed to create a temp directory for the test: {e}"));
        for sub in ["work", "plinth-home", "home"] {
            std::fs::create_dir_all(temp.path().join(sub)).unwrap_or_else(|e| {
                panic!(
                    "failed to create `{}`: {e}",
                    temp.path().join(sub).display()
                )
            });
        }
        let mut ctx = Self {
            temp,
            bin: default_plinth_bin(),
            filters: Vec::new(),
        };
        ctx.filters = ctx.default_filters();
        ctx
    }

    /// Runs this binary instead, e.g. `env!("CARGO_BIN_EXE_plinth")` in the CLI's own tests.
    pub fn with_bin(mut self, bin: impl Into<PathBuf>) -> Self {
        self.bin = bin.into();
        self
    }

    /// Adds a snapshot filter: every match of `regex` becomes `replacement`. Filters apply in the
    /// order they were added, after the built-in path filters and before the port filter.
    pub fn with_filter(mut self, regex: impl Into<String>, replacement: impl Into<String>) -> Self {
        let at = self.filters.len().saturating_sub(GENERIC_FILTERS);
        self.filters.insert(at, (regex.into(), replacement.into()));
        self
    }

    /// Shows this registry's `127.0.0.1:PORT` as `[REGISTRY]` in snapshots.
    pub fn with_registry_filter(self, registry: &LocalRegistry) -> Self {
        self.with_filter(regex::escape(&registry.host()), "[REGISTRY]")
    }

    /// Shows `host` (e.g. a fault proxy's) as `[name]` in snapshots.
    pub fn with_host_filter(self, host: &str, name: &str) -> Self {
        self.with_filter(regex::escape(host), format!("[{name}]"))
    }

    /// The root of this test's temp directory.
    pub fn temp_dir(&self) -> &Path {
        self.temp.path()
    }

    /// The working directory commands run in.
    pub fn work_dir(&self) -> PathBuf {
        self.temp.path().join("work")
    }

    /// The `PLINTH_HOME` commands get.
    pub fn plinth_home(&self) -> PathBuf {
        self.temp.path().join("plinth-home")
    }

    /// The `HOME` commands get (so no developer config such as `~/.docker` leaks in).
    pub fn home(&self) -> PathBuf {
        self.temp.path().join("home")
    }

    /// The `plinth` binary this context runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A `plinth` command with this context's environment.
    pub fn plinth(&self) -> Command {
        if !self.bin.is_file() {
            panic!(
                "the `plinth` binary is not at `{}`; build it with `cargo build -p plinth-cli` or set {PLINTH_BIN_ENV}",
                self.bin.display()
            );
        }
        self.command(&self.bin)
    }

    /// `plinth build --platform linux/amd64 --push --tag IMAGE`: the caller adds the build's
    /// other flags and what to build (`-f DOCKERFILE`, the context, or `REPOSITORY:VERSION`).
    pub fn build_push(&self, image: &str) -> Command {
        let mut cmd = self.plinth();
        cmd.args([
            "build",
            "--platform",
            "linux/amd64",
            "--push",
            "--tag",
            image,
        ]);
        cmd
    }

    /// Any program with this context's environment and working directory.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for name in SCRUBBED_ENV {
            cmd.env_remove(name);
        }
        cmd.current_dir(self.work_dir())
            .env(PLINTH_HOME_ENV, self.plinth_home())
            .env("HOME", self.home())
            .env("PLINTH_NO_PROGRESS", "1")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100");
        cmd
    }

    /// Runs `cmd` and returns its outcome formatted for a snapshot, with the filters applied:
    /// `success`, `exit_code`, then stdout and stderr sections.
    pub fn run(&self, cmd: &mut Command) -> String {
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"));
        self.filter(&format_output(&output))
    }

    /// The filters, as `(regex, replacement)` pairs, in the order they apply.
    pub fn filters(&self) -> &[(String, String)] {
        &self.filters
    }

    /// Applies the filters to `text`.
    pub fn filter(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (pattern, replacement) in &self.filters {
            let re = regex::Regex::new(pattern)
                .unwrap_or_else(|e| panic!("bad snapshot filter `{pattern}`: {e}"));
            text = re.replace_all(&text, replacement.as_str()).into_owned();
        }
        text
    }

    /// insta settings carrying the filters, for snapshots of things other than command runs.
    pub fn insta_settings(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        for (pattern, replacement) in &self.filters {
            settings.add_filter(pattern, replacement.as_str());
        }
        settings
    }

    fn default_filters(&self) -> Vec<(String, String)> {
        let mut filters = Vec::new();
        let named = [
            (self.plinth_home(), "[PLINTH_HOME]"),
            (self.work_dir(), "[WORK]"),
            (self.home(), "[HOME]"),
            (self.temp.path().to_owned(), "[TEMP]"),
        ];
        for (path, name) in named {
            // The canonical form differs when the temp dir sits behind a symlink.
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            for variant in [canonical, path] {
                let pattern = regex::escape(&variant.display().to_string());
                if !filters.iter().any(|(p, _)| *p == pattern) {
                    filters.push((pattern, name.to_owned()));
                }
            }
        }
        filters.extend(generic_filters());
        filters
    }
}

/// How many filters at the end of the list are the generic ones (ports, times).
const GENERIC_FILTERS: usize = 2;

fn generic_filters() -> [(String, String); GENERIC_FILTERS] {
    [
        (
            r"127\.0\.0\.1:\d{2,5}".to_owned(),
            "127.0.0.1:[PORT]".to_owned(),
        ),
        (
            r"\b(?:\d+m ?)?\d+(?:\.\d+)?(?:ms|s)\b".to_owned(),
            "[TIME]".to_owned(),
        ),
    ]
}

/// Runs `cmd` (a [`TestContext::plinth`] command, usually) and shows its exit status and both
/// streams, filtered, on stderr, which the test harness prints when the test fails; returns
/// them for the assertions.
#[allow(
    clippy::print_stderr,
    reason = "the command's output explains a failing assertion"
)]
pub fn output(ctx: &TestContext, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"));
    eprintln!("{}", ctx.filter(&format_output(&out)));
    out
}

/// A command's stdout as text (invalid UTF-8 replaced).
pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's stderr as text (invalid UTF-8 replaced).
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Formats an exit status and both streams the way snapshots show them.
pub fn format_output(output: &Output) -> String {
    let code = output
        .status
        .code()
        .map_or_else(|| "signal".to_owned(), |c| c.to_string());
    format!(
        "success: {}\nexit_code: {code}\n----- stdout -----\n{}\n----- stderr -----\n{}\n",
        output.status.success(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// Where the `plinth` binary is: `PLINTH_BIN`, else `<target>/<profile>/plinth` next to the
/// running test binary (which lives in `<target>/<profile>/deps/`).
fn default_plinth_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os(PLINTH_BIN_ENV) {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("plinth")
}

/// Runs a command from a [`TestContext`] and compares its filtered output with an inline
/// snapshot; evaluates to the filtered output.
///
/// ```no_run
/// let ctx = plinth_test::TestContext::new();
/// plinth_test::plinth_snapshot!(ctx, ctx.plinth().arg("--version"), @"");
/// ```
#[macro_export]
macro_rules! plinth_snapshot {
    ($ctx:expr, $cmd:expr, @$snapshot:literal) => {{
        let output = $ctx.run($cmd);
        $ctx.insta_settings().bind(|| {
            $crate::insta::assert_snapshot!(output, @$snapshot);
        });
        output
    }};
    ($ctx:expr, $cmd:expr) => {{
        let output = $ctx.run($cmd);
        $ctx.insta_settings().bind(|| {
            $crate::insta::assert_snapshot!(output);
        });
        output
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_hide_temp_paths_ports_and_times() {
        let ctx = TestContext::new().with_filter("sha256:[0-9a-f]{4}", "[SHORT]");
        let text = format!(
            "store at {}/blobs, cwd {}, pushed to 127.0.0.1:41234 in 1.25s sha256:abcd",
            ctx.plinth_home().display(),
            ctx.work_dir().display()
        );
        assert_eq!(
            ctx.filter(&text),
            "store at [PLINTH_HOME]/blobs, cwd [WORK], pushed to 127.0.0.1:[PORT] in [TIME] [SHORT]"
        );
    }

    #[test]
    fn commands_get_an_isolated_environment() {
        let ctx = TestContext::new();
        let out = ctx.run(
            ctx.command("sh")
                .args(["-c", "echo $PLINTH_HOME; echo $HOME; pwd; exit 3"]),
        );
        assert_eq!(
            out,
            "success: false\nexit_code: 3\n----- stdout -----\n[PLINTH_HOME]\n[HOME]\n[WORK]\n\n----- stderr -----\n\n"
        );
    }

    #[test]
    fn snapshot_macro_applies_filters() {
        let ctx = TestContext::new();
        crate::plinth_snapshot!(ctx, ctx.command("sh").args(["-c", "echo $PLINTH_HOME >&2"]), @r"
        success: true
        exit_code: 0
        ----- stdout -----

        ----- stderr -----
        [PLINTH_HOME]
        ");
    }
}
