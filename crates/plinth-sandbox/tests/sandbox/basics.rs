//! Running commands: output, exit status, environment, user, errors.

use std::time::Duration;

use plinth_sandbox::{Error, ExitStatus, NetworkMode, RunSpec, UserSpec};

use crate::common::{Fixture, error_chain, require_root};

#[test]
fn echo_output_is_streamed_and_kept_in_the_tail() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let spec = RunSpec::new(f.overlay(), ["echo", "hi"]);
    let (outcome, out, err) = f.run(&spec);
    assert_eq!(outcome.status, ExitStatus::Exited(0));
    assert_eq!(out, "hi\n");
    assert_eq!(err, "");
    assert_eq!(outcome.stdout_tail, b"hi\n");
    assert!(!outcome.timed_out);
}

#[test]
fn stderr_is_separate_and_the_tail_is_bounded() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let spec = f
        .sh("echo out; i=0; while [ $i -lt 2000 ]; do echo line-$i >&2; i=$((i+1)); done")
        .with_tail_bytes(100);
    let (outcome, out, err) = f.run(&spec);
    assert_eq!(out, "out\n");
    assert_eq!(err.lines().count(), 2000, "the sink sees everything");
    assert_eq!(outcome.stderr_tail.len(), 100);
    assert!(String::from_utf8_lossy(&outcome.stderr_tail).ends_with("line-1999\n"));
}

#[test]
fn exit_codes_propagate() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let (outcome, _, _) = f.run(&f.sh("exit 7"));
    assert_eq!(outcome.status, ExitStatus::Exited(7));
    let (outcome, _, _) = f.run(&RunSpec::new(f.overlay(), ["false"]));
    assert_eq!(outcome.status, ExitStatus::Exited(1));
}

#[test]
fn a_timeout_kills_the_whole_sandbox() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    // The background sleep keeps stdout open: the run must still end at the timeout.
    let spec = f
        .sh("sleep 30 & echo started; wait")
        .with_timeout(Duration::from_millis(500));
    let (outcome, out, _) = f.run(&spec);
    assert!(outcome.timed_out);
    assert_eq!(outcome.status, ExitStatus::Signaled(9));
    assert_eq!(out, "started\n");
    assert!(
        outcome.duration < Duration::from_secs(10),
        "{:?}",
        outcome.duration
    );
}

#[test]
fn env_cwd_and_user_are_applied() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let spec = f
        .sh("echo $FOO; pwd; id -u; id -g; id -G; echo $HOME; echo $PATH")
        .with_env("FOO", "bar baz")
        .with_cwd("/tmp")
        .with_user("airbyte".parse().unwrap());
    let out = f.ok(&spec);
    assert_eq!(
        out,
        "bar baz\n/tmp\n1000\n1000\n1000 10\n/home/airbyte\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    let out = f.ok(&f
        .sh("id -u; id -g; id -G")
        .with_user("4242:77".parse().unwrap())
        .with_extra_group("wheel"));
    assert_eq!(out, "4242\n77\n77 10\n");
    let out = f.ok(&f.sh("id -u; echo $HOME").with_user(UserSpec::root()));
    assert_eq!(out, "0\n/root\n");
}

#[test]
fn only_the_given_environment_is_passed() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let out = f.ok(&RunSpec::new(f.overlay(), ["env"]).with_env("A", "1"));
    let mut keys: Vec<&str> = out.lines().map(|l| l.split('=').next().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["A", "HOME", "PATH"]);
}

#[test]
fn hostname_resolv_conf_and_hosts_are_provided() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let script = "hostname; cat /etc/resolv.conf; grep step-host /etc/hosts";
    let out = f.ok(&f
        .sh(script)
        .with_hostname("step-host")
        .with_network(NetworkMode::Host));
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    assert_eq!(
        out,
        format!("step-host\n{host_resolv}127.0.0.1\tlocalhost step-host\n")
    );
    // Its own network: the user-mode stack's DNS forwarder.
    let out = f.ok(&f.sh("head -n 1 /etc/resolv.conf"));
    assert_eq!(out, "nameserver 10.0.2.3\n");
}

#[test]
fn errors_say_what_is_wrong() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let err = f
        .sandbox
        .run(
            &RunSpec::new(f.overlay(), ["no-such-tool"]),
            &mut plinth_sandbox::DiscardOutput,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Exec { .. }), "{err:?}");
    assert!(
        error_chain(&err).contains("/usr/bin/no-such-tool"),
        "{}",
        error_chain(&err)
    );

    let err = f
        .sandbox
        .run(
            &f.sh("true").with_user("nobody".parse().unwrap()),
            &mut plinth_sandbox::DiscardOutput,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find user `nobody` in the rootfs's /etc/passwd"
    );

    let err = f
        .sandbox
        .run(
            &f.sh("true").with_cwd("/does/not/exist"),
            &mut plinth_sandbox::DiscardOutput,
        )
        .unwrap_err();
    let chain = error_chain(&err);
    assert!(
        chain.contains("working directory `/does/not/exist`") && chain.contains("ENOENT"),
        "{chain}"
    );

    let err = f
        .sandbox
        .run(
            &RunSpec::new(f.overlay(), Vec::<String>::new()),
            &mut plinth_sandbox::DiscardOutput,
        )
        .unwrap_err();
    assert!(err.to_string().contains("argv"), "{err}");
}

/// Regression: glibc's setresuid signals every thread it knows of and waits for them, which in
/// a cloned child of a multi-threaded process could wait forever. Many threads running
/// non-root sandboxes at once must all finish.
#[test]
fn concurrent_non_root_runs_from_many_threads_finish() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    std::thread::scope(|scope| {
        for thread in 0..6 {
            let f = &f;
            scope.spawn(move || {
                let (upper, work) = (
                    f.path(&format!("upper-{thread}")),
                    f.path(&format!("work-{thread}")),
                );
                let rootfs = plinth_sandbox::Rootfs::Overlay(plinth_sandbox::OverlayRootfs::new(
                    [f.path("lower")],
                    upper,
                    work,
                ));
                for _ in 0..5 {
                    let spec = RunSpec::new(rootfs.clone(), ["id", "-u"])
                        .with_user("airbyte".parse().unwrap())
                        .with_timeout(Duration::from_secs(20));
                    let outcome = f
                        .sandbox
                        .run(&spec, &mut plinth_sandbox::DiscardOutput)
                        .unwrap();
                    assert!(!outcome.timed_out, "a sandbox hung before exec");
                    assert_eq!(outcome.stdout_tail, b"1000\n");
                }
            });
        }
    });
}
