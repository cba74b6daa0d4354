//! Fixtures: a busybox rootfs used as an overlay lower layer, and helpers to run in it.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use plinth_sandbox::{OutputStream, OverlayRootfs, Rootfs, RunOutcome, RunSpec, Sandbox};

/// Set to `1` to let root-only tests skip locally. CI never sets it.
pub const ALLOW_SKIP_ENV: &str = "PLINTH_TEST_ALLOW_SKIP";

pub const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "uname", "touch", "mkdir", "rm", "env", "date", "true",
    "false", "printenv", "pwd", "grep", "wc", "ln", "sleep", "stat", "chroot", "mknod", "mount",
    "umount", "hostname", "readlink", "ps", "head", "cut", "tr", "chmod", "kill", "test",
];

pub const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nairbyte:x:1000:1000:airbyte:/home/airbyte:/bin/sh\n";
pub const GROUP: &str = "root:x:0:\nwheel:x:10:airbyte\nairbyte:x:1000:\n";

/// Whether root-only tests can run; panics with a fix-it message when they can't and skipping
/// is not allowed.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var(ALLOW_SKIP_ENV).is_ok_and(|v| v == "1") {
        return false;
    }
    panic!("the sandbox tests must run as root; set {ALLOW_SKIP_ENV}=1 to skip them locally")
}

/// A static busybox rootfs in `dir`, without `/proc`, `/dev` or `/sys` (the scaffold provides
/// them), so that tests can check that nothing the sandbox needs leaks into the upper dir.
pub fn busybox_rootfs(dir: &Path, busybox: &Path) {
    for sub in ["bin", "etc", "tmp", "root", "home/airbyte"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    for applet in APPLETS {
        symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::fs::write(dir.join("etc/passwd"), PASSWD).unwrap();
    std::fs::write(dir.join("etc/group"), GROUP).unwrap();
    std::fs::write(dir.join("etc/lower-file"), "from the lower layer\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    nix::unistd::chown(
        &dir.join("home/airbyte"),
        Some(1000.into()),
        Some(1000.into()),
    )
    .unwrap();
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("plinth-sandbox-test-")
            .tempdir()
            .unwrap();
        busybox_rootfs(&dir.path().join("lower"), Path::new("/bin/busybox"));
        for d in ["upper", "work"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let sandbox = Sandbox::new(dir.path().join("state")).unwrap();
        Fixture { dir, sandbox }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn overlay(&self) -> Rootfs {
        Rootfs::Overlay(OverlayRootfs::new(
            [self.path("lower")],
            self.path("upper"),
            self.path("work"),
        ))
    }

    pub fn sh(&self, script: &str) -> RunSpec {
        RunSpec::new(self.overlay(), ["sh", "-c", script])
    }

    /// Run and return the outcome plus everything streamed to stdout and stderr.
    pub fn run(&self, spec: &RunSpec) -> (RunOutcome, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let outcome = self
            .sandbox
            .run(
                spec,
                &mut |stream: OutputStream, chunk: &[u8]| match stream {
                    OutputStream::Stdout => out.extend_from_slice(chunk),
                    OutputStream::Stderr => err.extend_from_slice(chunk),
                },
            )
            .unwrap_or_else(|e| panic!("sandbox run failed: {}", error_chain(&e)));
        (
            outcome,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    /// Run a script that must succeed; returns its stdout.
    pub fn ok(&self, spec: &RunSpec) -> String {
        let (outcome, out, err) = self.run(spec);
        assert!(
            outcome.status.success(),
            "{} failed with {}: stdout {out:?} stderr {err:?}",
            spec.argv()[2],
            outcome.status
        );
        out
    }

    /// Every path in the upper directory, relative, sorted.
    pub fn upper_entries(&self) -> Vec<String> {
        let mut entries = Vec::new();
        walk(&self.path("upper"), &self.path("upper"), &mut entries);
        entries.sort();
        entries
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        out.push(path.strip_prefix(base).unwrap().display().to_string());
        if entry.file_type().unwrap().is_dir() {
            walk(base, &path, out);
        }
    }
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Copy host binary `bin` and the shared libraries `ldd` lists for it into `root`, at the same
/// paths, so the rootfs can run it (for probes busybox has no applet for).
pub fn add_host_binary(root: &Path, bin: &str) {
    let ldd = std::process::Command::new("ldd").arg(bin).output().unwrap();
    assert!(ldd.status.success(), "ldd {bin}");
    let mut files = vec![PathBuf::from(bin)];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            files.push(PathBuf::from(path));
        }
    }
    for file in files {
        let dest = root.join(file.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&file, &dest).unwrap();
    }
}
