//! Start-up cost of a no-op run, compared with `unshare -m -p -f chroot ROOT /bin/true`.
//! Ignored by default; run with `cargo test -p plinth-sandbox --test sandbox overhead -- --ignored --nocapture`.

use std::process::Command;
use std::time::{Duration, Instant};

use plinth_sandbox::{DiscardOutput, RunSpec};

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
    let spec = RunSpec::new(f.overlay(), ["true"]);
    let sandbox: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            assert!(
                f.sandbox
                    .run(&spec, &mut DiscardOutput)
                    .unwrap()
                    .status
                    .success()
            );
            start.elapsed()
        })
        .collect();
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
    eprintln!(
        "no-op run, median of {RUNS}: plinth sandbox (overlay, /proc, /dev, /sys, pivot_root) {:?}; unshare -m -p -f chroot {:?}",
        median(sandbox),
        median(unshare)
    );
}
