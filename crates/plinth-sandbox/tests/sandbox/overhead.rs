//! Start-up cost of a no-op run, compared with `unshare -m -p -f chroot ROOT /bin/true`.
//! Ignored by default; run with `cargo test -p plinth-sandbox --test sandbox overhead -- --ignored --nocapture`.

use std::process::Command;
use std::time::{Duration, Instant};

use plinth_sandbox::{DiscardOutput, NetworkMode, RunSpec};

use crate::common::{Fixture, require_root};

const RUNS: u32 = 50;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore = "a measurement, not a check"]
#[allow(clippy::print_stderr, reason = "prints the measurement")]
fn overhead_of_a_no_op_run() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    // Interleaved, so that a busy machine weighs on every figure alike.
    let modes = [NetworkMode::Private, NetworkMode::None, NetworkMode::Host];
    let mut sandbox: [Vec<Duration>; 3] = Default::default();
    for _ in 0..RUNS {
        for (i, mode) in modes.iter().enumerate() {
            let spec = RunSpec::new(f.overlay(), ["true"]).with_network(*mode);
            let start = Instant::now();
            assert!(
                f.sandbox
                    .run(&spec, &mut DiscardOutput)
                    .unwrap()
                    .status
                    .success()
            );
            sandbox[i].push(start.elapsed());
        }
    }
    let unshare: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new("unshare")
                .args(["-m", "-p", "-f", "chroot"])
                .arg(f.path("lower"))
                .arg("/bin/true")
                .status()
                .unwrap();
            assert!(status.success());
            start.elapsed()
        })
        .collect();
    let [private, none, host] = sandbox.map(median);
    eprintln!(
        "no-op run, median of {RUNS}: plinth sandbox (overlay, /proc, /dev, /sys, pivot_root, seccomp, pids cgroup) with its own network (slirp4netns) {private:?}, network none {none:?}, host network {host:?}; unshare -m -p -f chroot {:?}",
        median(unshare)
    );
}
