//! A bootstrap of a Debian root killed with plinth (`kill -9` mid-mmdebstrap) leaves no mount and
//! no process behind, and the next build works and removes its working directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use plinth_test::{External, TestContext, require_external};

use crate::output;

/// The bootstrap working directories in the store's temp directory.
fn work_dirs(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home.join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("debian-root-"))
        })
        .collect()
}

/// Lines of this process's mount table naming `dir`.
fn mounts_naming(dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&dir))
        .map(str::to_owned)
        .collect()
}

/// The pids of processes whose command line names `dir` (mmdebstrap and its children name
/// the root), with the command line.
fn processes_naming(dir: &Path) -> Vec<(String, String)> {
    let dir = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let pid = e.file_name().to_string_lossy().into_owned();
            cmdline.contains(&dir).then_some((pid, cmdline))
        })
        .collect()
}

/// Mounts below `dir` seen by the bootstrap's own processes (in their mount namespace).
fn bootstrap_mounts(dir: &Path) -> Vec<String> {
    let name = dir.display().to_string();
    processes_naming(dir)
        .into_iter()
        .flat_map(|(pid, _)| {
            std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(&name))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_bootstrap_killed_with_plinth_leaves_no_mount_and_the_next_build_works() {
    require_external!(
        External::Root,
        External::Tool("mmdebstrap"),
        External::Tool("gpgv")
    );
    let ctx = TestContext::new();
    let dockerfile = ctx.temp_dir().join("Dockerfile");
    std::fs::write(
        &dockerfile,
        "FROM plinth/debian:bookworm\nRUN test -x /usr/bin/dpkg\n",
    )
    .unwrap();
    let build = || {
        let mut cmd = ctx.plinth();
        cmd.args(["build", "-f"])
            .arg(&dockerfile)
            .args(["--platform", "linux/amd64"]);
        cmd
    };
    let home = ctx.plinth_home();

    // 1. Killed once mmdebstrap has mounted what dpkg needs inside the root it makes. It mounts
    //    /dev/pts, /dev/shm and /sys before /proc, so the wait is for /proc, the last of them.
    let mut plinth = build()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut work = None;
    wait_for(
        "the bootstrap's /proc mount",
        Duration::from_secs(900),
        || {
            work = work.take().or_else(|| work_dirs(&home).into_iter().next());
            work.as_ref().is_some_and(|w| {
                bootstrap_mounts(&w.join("rootfs"))
                    .iter()
                    .any(|m| m.contains("/rootfs/proc "))
            })
        },
    );
    let work = work.unwrap();
    assert_eq!(
        mounts_naming(&work),
        Vec::<String>::new(),
        "the bootstrap's mounts stay in its own namespace"
    );
    plinth.kill().unwrap();
    plinth.wait().unwrap();
    wait_for(
        "the bootstrap's processes to end",
        Duration::from_secs(30),
        || processes_naming(&work).is_empty(),
    );
    assert_eq!(mounts_naming(&work), Vec::<String>::new());
    assert!(work.exists(), "the killed run's directory is still there");

    // 2. The next build works and removes the killed run's directory. The root itself comes
    //    from the run's shared one: a second bootstrap would test nothing more.
    ctx.seed_debian_root("plinth/debian:bookworm-minbase");
    let out = output(&ctx, &mut build());
    assert!(out.status.success(), "the build after the killed one works");
    assert!(!work.exists(), "{} is removed", work.display());
    assert_eq!(work_dirs(&home), Vec::<PathBuf>::new());
    assert_eq!(mounts_naming(&home), Vec::<String>::new());
}
