//! The cost of a no-op `RUN true` step (cache off, on a 1-layer busybox image) compared with a
//! bare `unshare -m -p -f chroot ROOT /bin/true`. A measurement, not a check: run with
//! `cargo test -p plinth-engine --test engine overhead -- --ignored --nocapture`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use plinth_engine::BuildOptions;
use plinth_oci::Platform;
use plinth_recipe::Container;

use crate::common::{TestEngine, busybox_layout, busybox_rootfs, ok, require_root};

const RUNS: usize = 30;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore = "a measurement, not a check"]
#[allow(clippy::print_stderr, reason = "prints the measurement")]
fn overhead_of_a_no_op_run_step() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(Some(0));
    let recipe = Container::from_address(&busybox_layout())
        .unwrap()
        .with_exec(["true"]);
    let options = BuildOptions::new([Platform::linux_amd64()]).with_no_cache(true);
    ok(t.engine.build(&recipe, &options));
    let mut step = Vec::new();
    let mut build = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let result = ok(t.engine.build(&recipe, &options));
        build.push(start.elapsed());
        step.push(result.platforms[0].steps[1].duration);
    }
    let rootfs = t.path("rootfs");
    busybox_rootfs(&rootfs, Path::new("/bin/busybox"));
    let bare: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new("unshare")
                .args(["-m", "-p", "-f", "chroot"])
                .arg(&rootfs)
                .arg("/bin/true")
                .status()
                .unwrap();
            assert!(status.success());
            start.elapsed()
        })
        .collect();
    let warm_options = BuildOptions::new([Platform::linux_amd64()]);
    let warm: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            ok(t.engine.build(&recipe, &warm_options));
            start.elapsed()
        })
        .collect();
    eprintln!(
        "median of {RUNS}: `RUN true` step {:?} (whole no-cache build {:?}); unshare -m -p -f chroot true {:?}; fully cached build {:?}",
        median(step),
        median(build),
        median(bare),
        median(warm)
    );
}
