//! Docker's defaults for a build step: a private /dev with image device nodes unusable, a
//! network namespace of its own that cannot reach the host's loopback, a seccomp filter and a
//! pids limit, and no litter after a killed process.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use plinth_sandbox::{NetworkMode, Rootfs, RunSpec, Sandbox};

use crate::common::{Fixture, add_host_binary, require_root};

fn mknod(path: &std::path::Path, kind: nix::sys::stat::SFlag, major: u64, minor: u64) {
    nix::sys::stat::mknod(
        path,
        kind,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(major, minor),
    )
    .unwrap();
}

#[test]
fn device_nodes_in_layers_are_data_and_dev_is_private() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    // The host's RNG (as `c 10:183` would be hwrng) and a block device, shipped in a layer.
    mknod(
        &f.path("lower/tmp/rng"),
        nix::sys::stat::SFlag::S_IFCHR,
        1,
        8,
    );
    mknod(
        &f.path("lower/tmp/disk"),
        nix::sys::stat::SFlag::S_IFBLK,
        7,
        0,
    );
    let script = "head -c 8 /tmp/rng | wc -c; head -c 8 /tmp/disk | wc -c; \
                  head -c 8 /dev/urandom | wc -c; ls /dev | tr '\\n' ' '";
    for rootfs in [f.overlay(), Rootfs::Directory(f.path("lower"))] {
        let (outcome, out, err) = f.run(&RunSpec::new(rootfs, ["sh", "-c", script]));
        assert!(outcome.status.success(), "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[..3], ["0", "0", "8"], "stdout {out:?} stderr {err:?}");
        assert_eq!(
            err.matches("Permission denied").count(),
            2,
            "opening a layer's device node fails: {err}"
        );
        assert_eq!(
            lines[3].trim(),
            "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero"
        );
    }
    // Still there as data.
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(f.path("lower/tmp/rng"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// A server on the host's loopback counting the connections it accepts.
fn loopback_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhost-secret");
        }
    });
    (port, accepted)
}

/// `http_get HOST PORT PATH` in perl without modules (static busybox's wget crashes in glibc's
/// resolver): resolves through the rootfs's /etc/resolv.conf, prints the body, or dies with the
/// reason on stderr.
const HTTP_GET: &str = r#"
alarm 20;
my ($host, $port, $path) = @ARGV;
my $addr = gethostbyname($host) or die "resolve $host: $!\n";
socket(S, 2, 1, 0) or die "socket: $!\n";
connect(S, pack("S n a4 x8", 2, $port, $addr)) or die "connect: $!\n";
syswrite(S, "GET $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
my $response = "";
while (sysread(S, my $chunk, 65536)) { $response .= $chunk }
$response =~ s/^.*?\r\n\r\n//s;
print $response;
"#;

fn http_get(f: &Fixture, host: &str, port: u16, path: &str) -> RunSpec {
    add_host_binary(&f.path("lower"), "/usr/bin/perl");
    RunSpec::new(
        f.overlay(),
        [
            "/usr/bin/perl",
            "-e",
            HTTP_GET,
            host,
            &port.to_string(),
            path,
        ],
    )
}

#[test]
fn a_step_has_its_own_network_without_the_hosts_loopback() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let (port, accepted) = loopback_server();
    // 10.0.2.2 is the user-mode stack's address for the host (refused as unreachable);
    // 127.0.0.1 is the step's own loopback.
    for (host, error) in [
        ("10.0.2.2", "connect: Network is unreachable\n"),
        ("127.0.0.1", "connect: Connection refused\n"),
    ] {
        let (outcome, out, err) = f.run(&http_get(&f, host, port, "/"));
        assert!(!outcome.status.success(), "{host}: {out}");
        assert_eq!(err, error, "{host}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    assert_eq!(f.ok(&f.sh("ls /sys/class/net | tr '\\n' ' '")), "lo tap0 ");
    // The explicit opt-in reaches it: the check above can fail.
    let host = f.ok(&http_get(&f, "127.0.0.1", port, "/").with_network(NetworkMode::Host));
    assert_eq!(host, "host-secret");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn a_step_reaches_debians_archive_through_its_own_network() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let out = f.ok(&http_get(
        &f,
        "deb.debian.org",
        80,
        "/debian/dists/bookworm/Release",
    ));
    assert!(out.starts_with("Origin: Debian\nLabel: Debian\n"), "{out}");
}

#[test]
fn namespaces_and_the_kernel_keyring_are_refused() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    add_host_binary(&f.path("lower"), "/usr/bin/perl");
    #[cfg(target_arch = "x86_64")]
    let (keyctl, add_key, unshare) = (250, 248, 272);
    #[cfg(target_arch = "aarch64")]
    let (keyctl, add_key, unshare) = (219, 217, 97);
    // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1), add_key("user", "k", "v", 1,
    // KEY_SPEC_SESSION_KEYRING), unshare(CLONE_NEWUSER), then fork with a namespace flag.
    let probe = format!(
        "$r = syscall({keyctl}, 0, -3, 1); print \"keyctl $r $!\\n\"; \
         my ($t, $k, $v) = (\"user\", \"k\", \"v\"); \
         $r = syscall({add_key}, $t, $k, $v, 1, -3); print \"add_key $r $!\\n\"; \
         $r = syscall({unshare}, 0x10000000); print \"unshare $r $!\\n\";"
    );
    let out = f.ok(&RunSpec::new(f.overlay(), ["/usr/bin/perl", "-e", &probe]));
    assert_eq!(
        out,
        "keyctl -1 Operation not permitted\nadd_key -1 Operation not permitted\n\
         unshare -1 Operation not permitted\n"
    );
    let (outcome, _, err) = f.run(&f.sh("unshare -U true"));
    assert!(!outcome.status.success(), "unshare -U must fail: {err}");
    assert!(err.contains("Operation not permitted"), "{err}");
    // An ordinary fork (clone without namespace flags) still works.
    assert_eq!(f.ok(&f.sh("(echo child)")), "child\n");
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let start = Instant::now();
    // The inner shell dies at its first failed fork (ash's rule); its sleeps stay. Counted with
    // shell builtins only: no fork is left once the limit is reached.
    let script = "sh -c 'i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done' 2>/dev/null; \
                  set -- /proc/[0-9]*; echo $#";
    let out = f.ok(&f
        .sh(script)
        .with_pids_limit(64)
        .with_timeout(Duration::from_secs(30)));
    let running: u32 = out.trim().parse().unwrap();
    assert!(
        (32..=64).contains(&running),
        "{running} processes; the limit is 64"
    );
    // A real one, stopped by the limit and then by the timeout.
    let outcome = f
        .sandbox
        .run(
            &f.sh("b() { b | b & }; b; sleep 60")
                .with_pids_limit(32)
                .with_timeout(Duration::from_secs(3)),
            &mut plinth_sandbox::DiscardOutput,
        )
        .unwrap();
    assert!(outcome.timed_out);
    assert!(start.elapsed() < Duration::from_secs(25));
}

#[test]
fn run_directories_of_killed_processes_are_removed() {
    if !require_root() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let stale = state.path().join(format!("run-{gone_pid}-abc123"));
    let live = state
        .path()
        .join(format!("run-{}-def456", std::process::id()));
    for dir in [&stale, &live] {
        std::fs::create_dir_all(dir.join("scaffold/etc")).unwrap();
        std::fs::create_dir(dir.join("root")).unwrap();
        std::fs::write(dir.join("resolv.conf"), "nameserver 10.0.2.3\n").unwrap();
    }
    let stale_file = state
        .path()
        .join(format!("run-{gone_pid}-ghi789.resolv.conf"));
    std::fs::write(&stale_file, "nameserver 10.0.2.3\n").unwrap();
    let sandbox = Sandbox::new(state.path()).unwrap();
    assert!(
        !stale.exists(),
        "a killed process's run directory goes at start"
    );
    assert!(!stale_file.exists(), "and so do its run files");
    assert!(live.exists(), "a live process's run directory stays");
    std::fs::create_dir(&stale).unwrap();
    assert_eq!(sandbox.remove_stale_runs().unwrap(), 1);
    assert!(!stale.exists() && live.exists());
}
