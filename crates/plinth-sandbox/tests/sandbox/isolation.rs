//! Escape resistance: the command sees only its rootfs and declared mounts.

use plinth_sandbox::{NetworkMode, RunSpec, caps};

use crate::common::{Fixture, require_root};

#[test]
fn the_command_is_pid_1_of_its_own_pid_namespace() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let out = f.ok(&f.sh("echo $$; ls /proc | grep -c '^[0-9]'"));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1"));
    let pids: u32 = lines.next().unwrap().parse().unwrap();
    assert!(
        pids <= 3,
        "only the shell and its children are visible, got {pids}"
    );
}

#[test]
fn network_none_has_only_loopback_and_it_is_up() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let out = f.ok(&f
        .sh("ls /sys/class/net; grep -c : /proc/net/dev; cat /sys/class/net/lo/flags")
        .with_network(NetworkMode::None));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "lo");
    assert_eq!(lines[1], "1", "only lo in /proc/net/dev");
    let flags = u32::from_str_radix(lines[2].trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "IFF_UP");
}

#[test]
fn host_network_is_shared_on_request() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let inside = f.ok(&f.sh("ls /sys/class/net").with_network(NetworkMode::Host));
    let mut host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    host.sort();
    let mut inside: Vec<String> = inside.lines().map(String::from).collect();
    inside.sort();
    assert_eq!(inside, host);
}

#[test]
fn host_files_are_out_of_reach() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let secret = f.path("host-secret");
    std::fs::write(&secret, "TOP-SECRET\n").unwrap();
    let secret = secret.display().to_string();
    // A symlink in the image pointing at an absolute host path resolves inside the rootfs.
    std::os::unix::fs::symlink(&secret, f.path("lower/etc/evil-link")).unwrap();
    let script = format!(
        "cat {secret}; cat /proc/1/root{secret}; cat /../../..{secret}; cat /etc/evil-link; \
         echo pwned > /etc/evil-link; cd /../../../ && ls -a | grep -c state; \
         ls /proc/1/root/ | grep -c lower; true"
    );
    let (outcome, out, err) = f.run(&f.sh(&script));
    assert!(outcome.status.success());
    assert!(
        !out.contains("TOP-SECRET") && !err.contains("TOP-SECRET"),
        "stdout {out:?} stderr {err:?}"
    );
    assert_eq!(out, "0\n0\n");
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "TOP-SECRET\n",
        "host file untouched"
    );
    assert!(err.contains("No such file or directory"), "{err}");
}

#[test]
fn mknod_mount_and_kernel_knobs_are_denied() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let attempts = [
        "mknod /tmp/sda b 8 0",
        "mknod /tmp/null c 1 3",
        "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m",
        "mkdir -p /tmp/p && mount -t proc proc /tmp/p",
        "umount /proc",
        "umount -l /etc/resolv.conf",
        "echo 1 > /proc/sys/kernel/sysrq",
        "echo h > /proc/sysrq-trigger",
        "mount -o remount,rw /sys",
        "hostname evil",
    ];
    for attempt in attempts {
        let (outcome, out, err) = f.run(&f.sh(attempt));
        assert!(
            !outcome.status.success(),
            "`{attempt}` must fail: {out} {err}"
        );
    }
    assert!(!f.path("upper/tmp/sda").exists() && !f.path("upper/tmp/null").exists());
}

#[test]
fn capabilities_are_reduced_and_dropped_for_users() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let caps_of = |spec: &RunSpec| -> Vec<(String, u64)> {
        f.ok(spec)
            .lines()
            .filter_map(|l| l.split_once(":\t"))
            .map(|(k, v)| (k.to_owned(), u64::from_str_radix(v.trim(), 16).unwrap()))
            .collect()
    };
    let root = caps_of(&f.sh("grep ^Cap /proc/self/status"));
    for (name, value) in &root {
        match name.as_str() {
            "CapInh" | "CapAmb" => assert_eq!(*value, 0, "{name}"),
            _ => assert_eq!(*value, caps::DEFAULT_KEEP, "{name}"),
        }
    }
    let user = caps_of(
        &f.sh("grep ^Cap /proc/self/status")
            .with_user("airbyte".parse().unwrap()),
    );
    for (name, value) in &user {
        match name.as_str() {
            "CapBnd" => assert_eq!(*value, caps::DEFAULT_KEEP),
            _ => assert_eq!(*value, 0, "{name} of a non-root user"),
        }
    }
}

#[test]
fn the_test_process_mount_table_is_untouched() {
    if !require_root() {
        return;
    }
    // Other processes on the machine (dockerd, parallel tests) mount and unmount under their own
    // directories while this runs; only mounts outside those can be attributed to the sandbox.
    let ours = || -> Vec<String> {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| !l.contains("/var/lib/docker") && !l.contains("/run/docker"))
            .map(str::to_owned)
            .collect()
    };
    let before = ours();
    let f = Fixture::new();
    f.ok(&f.sh("true"));
    let after = ours();
    assert_eq!(before, after);
}

/// A network started ahead of the first run (while a build prepares its root) serves that run
/// however far it got: just started, or long ready. Runs share it; no second slirp4netns.
#[test]
fn a_network_started_early_serves_the_first_and_later_runs() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    // slirp4netns processes this test process started (nextest runs each test in its own).
    let slirps = || {
        let me = std::process::id().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .filter(|stat| {
                let (name, rest) = stat.split_once(") ").unwrap_or_default();
                name.ends_with("(slirp4netns") && rest.split(' ').nth(1) == Some(me.as_str())
            })
            .count()
    };
    assert_eq!(slirps(), 0);
    // Right away: the run waits for the start in progress instead of starting its own.
    f.sandbox.start_network_early();
    let first = f.ok(&f.sh("ls /sys/class/net | tr '\\n' ' '; cat /sys/class/net/tap0/address"));
    assert!(first.starts_with("lo tap0 "), "{first}");
    // Already running: nothing new is started, and the next run joins the same namespace.
    f.sandbox.start_network_early();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let second = f.ok(&f.sh("ls /sys/class/net | tr '\\n' ' '; cat /sys/class/net/tap0/address"));
    assert_eq!(second, first, "the same tap0, so the same namespace");
    assert_eq!(slirps(), 1, "one slirp4netns for this sandbox");
}

#[test]
fn system_mounts_are_buildkits_and_a_build_step_cannot_write_its_network_files() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let probe = "grep -E ' /dev/(mqueue|pts) ' /proc/mounts | cut -d' ' -f2-4; \
                 ls -A /sys/firmware | wc -l; \
                 (echo '10.9.9.9 x' >> /etc/hosts) 2>/dev/null && echo hosts-written || echo hosts-read-only; \
                 (echo 'nameserver 10.9.9.9' >> /etc/resolv.conf) 2>/dev/null && echo resolv-written || echo resolv-read-only";
    // As `docker run` has them: writable network files.
    let run = f.ok(&f.sh(probe));
    let lines: Vec<&str> = run.lines().collect();
    assert_eq!(
        lines,
        [
            "/dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666",
            "/dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime",
            "0",
            "hosts-written",
            "resolv-written",
        ],
        "{run}"
    );
    // As a BuildKit step has them: read-only.
    let step = f.ok(&f.sh(probe).with_read_only_network_files());
    assert_eq!(
        step.lines().skip(3).collect::<Vec<_>>(),
        ["hosts-read-only", "resolv-read-only"],
        "{step}"
    );
}
