//! Outputs: OCI layout read by skopeo, docker-archive loaded by docker, a registry root pinned
//! by digest that later builds use without the registry, and `Engine::run` sessions.

use std::process::Command;
use std::sync::Arc;

use plinth_engine::{BuildOptions, CacheStatus, DiscardOutput, Engine, RunOptions};
use plinth_oci::docker_archive::read_docker_archive;
use plinth_oci::{Descriptor, ImageLocation, Platform, Reference};
use plinth_recipe::Container;
use plinth_registry::{DeliverOptions, Delivered, NoTransferReporter, deliver_image};
use plinth_test::{External, LocalRegistry, require_external};

use crate::common::{TestEngine, busybox_layout, ok, require_docker, require_root};

/// Writes a built image out through the transfer module, as `plinth build --output` does.
fn deliver(engine: &Engine, root: &Descriptor, location: &str) -> Delivered {
    let location: ImageLocation = location.parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(deliver_image(
            engine.registry(),
            root,
            &location,
            &DeliverOptions::new(),
            Arc::new(NoTransferReporter),
        ))
        .unwrap_or_else(|e| panic!("failed to write {location}: {e}"))
}

fn recipe() -> Container {
    Container::from_address(&busybox_layout())
        .unwrap()
        .with_exec(["sh", "-c", "echo exported > /exported && rm /etc/motd"])
        .with_entrypoint(["cat"])
        .with_default_args(["/exported"])
}

#[test]
fn oci_layout_and_docker_archive_exports() {
    if !require_root() {
        return;
    }
    require_external!(External::Tool("skopeo"));
    let amd64 = Platform::linux_amd64();
    let t = TestEngine::new(Some(0));
    let result = ok(t
        .engine
        .build(&recipe(), &BuildOptions::new([amd64.clone()])));

    let layout = t.path("layout");
    deliver(
        &t.engine,
        &result.root,
        &format!("oci:{}:v1", layout.display()),
    );
    let inspect = plinth_test::skopeo_json(["inspect", &format!("oci:{}:v1", layout.display())]);
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);

    let archive = t.path("image.tar");
    deliver(
        &t.engine,
        &result.root,
        &format!(
            "docker-archive:{}:plinth-test/engine-export:1",
            archive.display()
        ),
    );
    let check = plinth_oci::Store::open(t.path("check")).unwrap();
    let images = read_docker_archive(&check, &archive).unwrap();
    assert_eq!(images.len(), 1);

    if require_docker() {
        let load = Command::new("docker")
            .args(["load", "-i"])
            .arg(&archive)
            .output()
            .unwrap();
        assert!(
            load.status.success(),
            "{}",
            String::from_utf8_lossy(&load.stderr)
        );
        let run = Command::new("docker")
            .args(["run", "--rm", "docker.io/plinth-test/engine-export:1"])
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&run.stdout), "exported\n");
        let motd = Command::new("docker")
            .args([
                "run",
                "--rm",
                "--entrypoint",
                "ls",
                "docker.io/plinth-test/engine-export:1",
                "/etc/motd",
            ])
            .output()
            .unwrap();
        assert!(
            !motd.status.success(),
            "the deleted file is visible in docker run"
        );
    }

    // plinth run: a session sees its own changes, the image stays pristine.
    let mut session = ok(t.engine.open_image(&result.root, &amd64));
    let argv = |s: &str| vec!["sh".to_owned(), "-c".to_owned(), s.to_owned()];
    let out = ok(session.run_command(
        &argv("cat /exported; id -u; touch /tmp/mine"),
        Some("airbyte"),
        &[],
    ));
    assert_eq!(out.stdout_text(), "exported\n1000\n");
    assert!(ok(session.run_command(&argv("test -e /tmp/mine"), None, &[])).success());
    ok(session.reset());
    assert!(!ok(session.run_command(&argv("test -e /tmp/mine"), None, &[])).success());
    let out = ok(t.engine.run(
        &result.root,
        &amd64,
        &argv("exit 7"),
        &RunOptions::default(),
        &mut DiscardOutput,
    ));
    assert_eq!(out.exit_code, 7);
}

#[test]
fn a_digest_pinned_registry_root_is_used_from_the_store() {
    if !require_root() {
        return;
    }
    let registry = LocalRegistry::shared();
    let amd64 = Platform::linux_amd64();
    // Put the busybox root into the registry.
    let seed = TestEngine::new(Some(0));
    let base = ok(seed.engine.build(
        &Container::from_address(&busybox_layout()).unwrap(),
        &BuildOptions::new([amd64.clone()]),
    ));
    let target: Reference = registry.image("engine/busybox:1").parse().unwrap();
    deliver(&seed.engine, &base.root, &format!("docker://{target}"));
    let pinned = target.with_digest(base.root.digest.clone());

    let t = TestEngine::new(Some(0));
    let recipe = Container::from_image(pinned).with_exec(["sh", "-c", "echo from-registry > /r"]);
    let options = BuildOptions::new([amd64.clone()]);
    let first = ok(t.engine.build(&recipe, &options));
    assert_eq!(
        first.platforms[0].steps[0].status,
        CacheStatus::Miss,
        "pulled the first time"
    );
    let requests = t.engine.registry().request_count();
    let second = ok(t.engine.build(&recipe, &options));
    assert_eq!(
        t.engine.registry().request_count(),
        requests,
        "a pinned, cached root needs no registry"
    );
    assert_eq!(second.steps_run(), 0);
    assert_eq!(second.root, first.root);
    let root = t.unpack(&second, &amd64, "r");
    assert_eq!(
        std::fs::read_to_string(root.join("r")).unwrap(),
        "from-registry\n"
    );
}
