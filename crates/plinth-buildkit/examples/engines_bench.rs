//! The benchmark behind `bench/buildkit/run`: an Airbyte-like recipe (a busybox stand-in with
//! the same step shapes) built by the embedded engine and by BuildKit, cold and warm, for
//! amd64 and arm64; prints medians and BuildKit/engine ratios.
//!
//! Cold runs put a fresh nonce in the first step (and the cache volume's name), so neither
//! engine has any step cached, and the engine starts from an empty store; warm runs rebuild the
//! same recipe. The BuildKit figures include `docker save` and the import into the store.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

#[path = "../tests/buildkit/common.rs"]
#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use plinth_buildkit::{BuildkitBackend, BuildkitConfig};
use plinth_engine::{BuildOptions, Engine, EngineConfig};
use plinth_oci::{Digest, Platform, Store};
use plinth_recipe::{Container, DirectorySource, ExecOptions, FileOptions, FileSource};

use common::{FileServer, busybox_root, ok};

/// The step shapes of an Airbyte python connector base: env, workdir, tool setup, a user, a
/// cache-mounted dependency install, downloaded and literal files, a host tree, entrypoint.
fn airbyte_like(
    root: &str,
    nonce: &str,
    fixtures: &std::path::Path,
    url: &str,
    digest: Digest,
) -> Container {
    Container::from_address(root)
        .unwrap()
        .with_label("io.airbyte.bench-run", nonce)
        .with_env("PIP_CACHE_DIR", "/root/.cache/pip")
        .with_env("AIRBYTE_ENTRYPOINT", "python /airbyte/integration_code/main.py")
        .with_workdir("/airbyte/integration_code")
        .with_exec(["sh", "-c", "mkdir -p /usr/local/lib/site && seq 1 20000 > /usr/local/lib/site/index && echo ok"])
        .with_mounted_cache("/root/.cache/pip", format!("bench-pip-{nonce}"))
        .with_exec([
            "sh",
            "-c",
            "for p in requests urllib3 certifi idna charset; do \
               test -f /root/.cache/pip/$p.whl || seq 1 50000 | sed s/^/$p-/ > /root/.cache/pip/$p.whl; \
               mkdir -p /usr/local/lib/site/$p && cp /root/.cache/pip/$p.whl /usr/local/lib/site/$p/; done",
        ])
        .without_mounted_cache("/root/.cache/pip")
        .with_file_opts("/usr/local/bin/tool.sh", FileSource::pinned_url(url, digest), FileOptions::new().mode(0o755))
        .with_file("/airbyte/base.sh", FileSource::Bytes(b"#!/bin/sh\nexec \"$@\"\n".to_vec()))
        .with_directory("/airbyte/integration_code", DirectorySource::Host(fixtures.join("code")))
        .with_exec_opts(["sh", "-c", "chown -R 1000:1000 /airbyte"], ExecOptions::default())
        .with_user("airbyte")
        .with_exec(["sh", "-c", "id -u > /home/airbyte/uid"])
        .with_entrypoint(["/bin/sh", "/airbyte/base.sh"])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `BENCH_RUNS` (3) and `BENCH_PLATFORMS` (`linux/amd64,linux/arm64`).
fn settings() -> (usize, Vec<Platform>) {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let platforms: Vec<Platform> = std::env::var("BENCH_PLATFORMS")
        .unwrap_or_else(|_| "linux/amd64,linux/arm64".into())
        .split(',')
        .map(|p| p.parse().expect("a platform"))
        .collect();
    (runs, platforms)
}

/// The host tree the recipe copies: 200 small python modules and a `main.py`, under `code/`.
fn write_code_tree(work: &std::path::Path) {
    let code = work.join("code");
    std::fs::create_dir_all(code.join("source")).unwrap();
    for i in 0..200 {
        std::fs::write(
            code.join(format!("source/mod{i}.py")),
            format!("X = {i}\n").repeat(50),
        )
        .unwrap();
    }
    std::fs::write(code.join("main.py"), "print('hi')\n").unwrap();
}

/// Timings by `"<engine> cold|warm"`, and the steps a warm build ran, by engine.
#[derive(Default)]
struct Timings {
    times: BTreeMap<&'static str, Vec<Duration>>,
    warm_steps: BTreeMap<&'static str, usize>,
}

impl Timings {
    /// A cold build from an empty store of its own, then a warm rebuild.
    fn engine(
        &mut self,
        store_dir: std::path::PathBuf,
        recipe: &Container,
        options: &BuildOptions,
    ) {
        let store = Store::open(store_dir).unwrap();
        let engine = ok(Engine::new(EngineConfig::new(store)));
        let t = Instant::now();
        ok(engine.build(recipe, options));
        self.times
            .entry("engine cold")
            .or_default()
            .push(t.elapsed());
        let t = Instant::now();
        let warm = ok(engine.build(recipe, options));
        self.times
            .entry("engine warm")
            .or_default()
            .push(t.elapsed());
        // A root named by tag is re-resolved against the registry (its step counts as run).
        self.warm_steps.entry("engine").or_insert(warm.steps_run());
    }

    /// A cold build (its nonce makes every step new to the builder), then a warm rebuild.
    fn buildkit(&mut self, backend: &BuildkitBackend, recipe: &Container, options: &BuildOptions) {
        let t = Instant::now();
        ok(backend.build(recipe, options));
        self.times
            .entry("buildkit cold")
            .or_default()
            .push(t.elapsed());
        let t = Instant::now();
        let warm = ok(backend.build(recipe, options));
        self.warm_steps
            .entry("buildkit")
            .or_insert(warm.steps_run());
        self.times
            .entry("buildkit warm")
            .or_default()
            .push(t.elapsed());
    }

    /// Medians, warm step counts and the BuildKit/engine ratios.
    fn print(self, ops: usize, platforms: &[Platform], runs: usize) {
        let names: Vec<String> = platforms.iter().map(ToString::to_string).collect();
        println!(
            "Airbyte-like recipe ({ops} ops), platforms {}, {runs} runs, medians:",
            names.join("+")
        );
        let m: BTreeMap<&str, Duration> = self
            .times
            .into_iter()
            .map(|(k, v)| (k, median(v)))
            .collect();
        for (k, v) in &m {
            println!("  {k:<14} {:>8.2} s", v.as_secs_f64());
        }
        println!(
            "  steps run in a warm build (all platforms): {:?}",
            self.warm_steps
        );
        for phase in ["cold", "warm"] {
            let (b, e) = (
                m[format!("buildkit {phase}").as_str()],
                m[format!("engine {phase}").as_str()],
            );
            println!(
                "  {phase}: buildkit / engine = {:.2}x",
                b.as_secs_f64() / e.as_secs_f64()
            );
        }
    }
}

fn main() {
    let (runs, platforms) = settings();
    let root = busybox_root();
    let tool = b"#!/bin/sh\necho tool\n".repeat(1000);
    let server = FileServer::start(BTreeMap::from([("/tool.sh".to_owned(), tool.clone())]));
    let work = tempfile::Builder::new()
        .prefix("pbk-bench-")
        .tempdir()
        .unwrap();
    write_code_tree(work.path());
    let recipe = |nonce: &str| {
        airbyte_like(
            &root,
            nonce,
            work.path(),
            &server.url("/tool.sh"),
            Digest::of(&tool),
        )
    };
    let options = BuildOptions::new(platforms.clone());

    let bk_store = Store::open(work.path().join("bk-store")).unwrap();
    let backend = ok(BuildkitBackend::new(BuildkitConfig::new(bk_store)));
    let mut timings = Timings::default();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for run in 0..runs {
        let r = recipe(&format!("{stamp}-{run}"));
        // Alternate which engine goes first, so both see the same machine load on average.
        if run % 2 == 0 {
            timings.engine(work.path().join(format!("engine-{run}")), &r, &options);
            timings.buildkit(&backend, &r, &options);
        } else {
            timings.buildkit(&backend, &r, &options);
            timings.engine(work.path().join(format!("engine-{run}")), &r, &options);
        }
        eprintln!("run {}/{runs} done", run + 1);
    }
    timings.print(recipe("x").ops().len(), &platforms, runs);
}
