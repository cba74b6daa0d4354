//! A recipe using every operation, built on busybox: contents, owners, config, history, the
//! cache (zero steps on rebuild, --no-cache, a changed step), determinism and failures.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use plinth_engine::{BuildOptions, BuildResult, CacheStatus, UrlMirror};
use plinth_oci::{Digest, Platform};
use plinth_recipe::{Container, DirectorySource, FileOptions, FileSource};

use crate::common::{
    FileServer, Recorder, TestEngine, busybox_layout, config_of, ok, require_root,
};

struct Inputs {
    host_file: tempfile::NamedTempFile,
    mirror: tempfile::TempDir,
    server: FileServer,
    mirrored_digest: Digest,
}

fn inputs() -> Inputs {
    let mut files = BTreeMap::new();
    files.insert("/url.txt".to_owned(), b"from the url\n".to_vec());
    files.insert(
        "/helper.txt".to_owned(),
        b"fetched by the helper\n".to_vec(),
    );
    let server = FileServer::start(files);
    let host_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(host_file.path(), "from the host\n").unwrap();
    let mirror = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(mirror.path().join("pkg")).unwrap();
    std::fs::write(mirror.path().join("pkg/m.txt"), "mirrored\n").unwrap();
    Inputs {
        host_file,
        mirror,
        server,
        mirrored_digest: Digest::of(b"mirrored\n"),
    }
}

fn recipe(inputs: &Inputs, first_exec: &str) -> Container {
    let from = busybox_layout();
    let helper = Container::from_address(&from)
        .unwrap()
        .with_exec([
            "sh",
            "-c",
            "mkdir -p /out/sub && echo nltk > /out/sub/corpus.txt",
        ])
        .with_file(
            "/out/helper.txt",
            FileSource::url(inputs.server.url("/helper.txt")),
        );
    Container::from_address(&from)
        .unwrap()
        .with_exec(["sh", "-c", first_exec])
        .with_env("GREETING", "hi there")
        .with_user("airbyte")
        .with_workdir("/airbyte")
        .with_exec([
            "sh",
            "-c",
            "id -u > /tmp/uid && pwd > /tmp/pwd && echo \"$GREETING\" > /tmp/greeting",
        ])
        .with_file_opts(
            "base.sh",
            FileSource::Bytes(b"#!/bin/sh\necho base \"$@\"\n".to_vec()),
            FileOptions::new().owner("airbyte").mode(0o755),
        )
        .with_file(
            "/airbyte/host.txt",
            FileSource::HostFile(inputs.host_file.path().to_owned()),
        )
        .with_file(
            "/airbyte/url.txt",
            FileSource::url(inputs.server.url("/url.txt")),
        )
        .with_file(
            "/airbyte/mirrored.txt",
            FileSource::pinned_url(
                "https://downloads.invalid/pkg/m.txt",
                inputs.mirrored_digest.clone(),
            ),
        )
        .with_directory_opts(
            "/usr/share/data",
            DirectorySource::container(&helper, "/out"),
            FileOptions::new().owner("airbyte"),
        )
        .with_mounted_cache_owned("/cache", "testvol", "airbyte")
        .with_exec([
            "sh",
            "-c",
            "echo run >> /cache/log && touch /tmp/used-cache",
        ])
        .without_mounted_cache("/cache")
        .with_entrypoint(["/airbyte/base.sh"])
        .with_label("io.airbyte.version", "1.0")
}

fn engine_for(inputs: &Inputs, epoch: Option<u64>) -> TestEngine {
    let mirror = format!(
        "https://downloads.invalid/={}",
        inputs.mirror.path().display()
    );
    TestEngine::with(|c| {
        c.with_source_date_epoch(epoch)
            .with_url_mirror(mirror.parse::<UrlMirror>().unwrap())
    })
}

#[test]
fn every_operation_builds_and_rebuilds_from_cache() {
    if !require_root() {
        return;
    }
    let amd64 = Platform::linux_amd64();
    let inputs = inputs();
    let t = engine_for(&inputs, None);
    let first_exec = "echo hello > /hello.txt && rm /etc/motd";
    let recorder = Recorder::new();
    let options = BuildOptions::new([amd64.clone()])
        .with_recipe_id("test/every-op")
        .with_reporter(recorder.clone());
    let result = ok(t.engine.build(&recipe(&inputs, first_exec), &options));
    let build = &result.platforms[0];
    assert!(build.steps_run() >= 9, "{:#?}", build.steps);

    // Files, owners, modes, the deletion.
    let root = t.unpack(&result, &amd64, "first");
    assert_files_owners_and_modes(&t, &root);
    // Config and history.
    assert_config_and_history(&t, &result, &inputs, first_exec, &root);
    let events = recorder.events.lock().unwrap().join("\n");
    assert!(events.contains("start 1 RUN [\"sh\",\"-c\""), "{events}");

    // A second build runs nothing and gives the same image.
    let rebuild = || recipe(&inputs, first_exec);
    assert_a_rebuild_runs_nothing(&t, &rebuild(), &options, &result);
    // --no-cache runs every step again.
    assert_no_cache_runs_every_step(&t, &rebuild(), &options);
    // Changing the first exec re-runs it and everything after it; explain says why.
    let changed = recipe(&inputs, "echo changed > /hello.txt && rm /etc/motd");
    assert_a_changed_step_reruns_what_follows(&t, &changed, &options);
    // The unpinned URL is fetched on every build, keyed by content.
    assert_an_unpinned_url_is_fetched_every_build(&t, &inputs, &rebuild, &options);
}

/// The files of the first build: contents, owners, modes, the deletion, the cache volume.
fn assert_files_owners_and_modes(t: &TestEngine, root: &Path) {
    let read =
        |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("hello.txt"), "hello\n");
    assert!(
        !root.join("etc/motd").exists(),
        "the deleted file came back"
    );
    assert_eq!(read("tmp/uid"), "1000\n");
    assert_eq!(read("tmp/pwd"), "/airbyte\n");
    assert_eq!(read("tmp/greeting"), "hi there\n");
    assert_eq!(read("airbyte/host.txt"), "from the host\n");
    assert_eq!(read("airbyte/url.txt"), "from the url\n");
    assert_eq!(read("airbyte/mirrored.txt"), "mirrored\n");
    assert_eq!(read("usr/share/data/sub/corpus.txt"), "nltk\n");
    assert!(root.join("tmp/used-cache").exists());
    assert!(
        !root.join("cache/log").exists(),
        "cache contents leaked into the image"
    );
    let meta = |p: &str| std::fs::symlink_metadata(root.join(p)).unwrap();
    let base = meta("airbyte/base.sh");
    assert_eq!(
        (base.uid(), base.gid(), base.permissions().mode() & 0o7777),
        (1000, 1000, 0o755)
    );
    assert_eq!(meta("airbyte/url.txt").permissions().mode() & 0o777, 0o600);
    assert_eq!(meta("airbyte/host.txt").permissions().mode() & 0o777, 0o644);
    assert_eq!(
        meta("airbyte").uid(),
        1000,
        "the workdir is made by its own step, owned by the user then in effect, as BuildKit does"
    );
    assert_eq!(meta("usr/share/data/sub/corpus.txt").uid(), 1000);
    // A cache naming its owner is the volume as such mounts see it (BuildKit keys it so).
    let cache_log = t.store.root().join("caches/testvol@1000-1000-0755/log");
    assert_eq!(std::fs::read_to_string(&cache_log).unwrap(), "run\n");
    assert_eq!(
        std::fs::metadata(cache_log.parent().unwrap())
            .unwrap()
            .uid(),
        1000
    );
}

/// The image config (user, workdir, entrypoint, env, labels), its history and layers, and the
/// URL inputs recorded for the build.
fn assert_config_and_history(
    t: &TestEngine,
    result: &BuildResult,
    inputs: &Inputs,
    first_exec: &str,
    root: &Path,
) {
    let amd64 = Platform::linux_amd64();
    let build = &result.platforms[0];
    let read =
        |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let config = config_of(&t.store, &result.root, &amd64);
    let runtime = config.config.clone().unwrap();
    assert_eq!(runtime.user.as_deref(), Some("airbyte"));
    assert_eq!(runtime.working_dir.as_deref(), Some("/airbyte"));
    assert_eq!(
        runtime.entrypoint,
        Some(vec!["/airbyte/base.sh".to_owned()])
    );
    assert_eq!(runtime.cmd, None, "an entrypoint clears CMD");
    assert!(
        config
            .env()
            .contains(&("GREETING".to_owned(), "hi there".to_owned()))
    );
    assert_eq!(runtime.labels.unwrap()["io.airbyte.version"], "1.0");
    let created_by: Vec<String> = config
        .history
        .iter()
        .filter_map(|h| h.created_by.clone())
        .collect();
    // A recipe declared in Rust reads in the history as its Dockerfile lines would in
    // BuildKit's.
    assert!(
        created_by.contains(&format!("RUN sh -c {first_exec} # buildkit")),
        "{created_by:#?}"
    );
    assert!(
        config
            .history
            .iter()
            .skip(1)
            .all(|h| h.comment.as_deref() == Some("buildkit.dockerfile.v0")),
        "{:#?}",
        config.history
    );
    assert!(
        created_by.contains(&"ENV GREETING=hi there".to_owned()),
        "{created_by:#?}"
    );
    // Eight file-changing steps and the workdir, which its own step makes.
    assert_eq!(config.rootfs.diff_ids.len(), 1 + 9, "{created_by:#?}");
    assert_eq!(
        build.url_inputs[&inputs.server.url("/url.txt")],
        Digest::of(b"from the url\n")
    );
    // A helper container's downloads are inputs of the image too (release records list them).
    assert_eq!(read("usr/share/data/helper.txt"), "fetched by the helper\n");
    assert_eq!(
        build.url_inputs[&inputs.server.url("/helper.txt")],
        Digest::of(b"fetched by the helper\n")
    );
}

fn assert_a_rebuild_runs_nothing(
    t: &TestEngine,
    recipe: &Container,
    options: &BuildOptions,
    first: &BuildResult,
) {
    let again = ok(t.engine.build(recipe, options));
    assert_eq!(again.steps_run(), 0, "{:#?}", again.platforms[0].steps);
    assert_eq!(again.root, first.root);
    assert_eq!(again.platforms[0].url_inputs, first.platforms[0].url_inputs);
    assert!(
        again.platforms[0]
            .steps
            .iter()
            .all(|s| s.status == CacheStatus::Hit)
    );
}

fn assert_no_cache_runs_every_step(t: &TestEngine, recipe: &Container, options: &BuildOptions) {
    let fresh = ok(t.engine.build(recipe, &options.clone().with_no_cache(true)));
    for step in &fresh.platforms[0].steps {
        let trivial = step.description.starts_with("FROM") || step.description.contains("cache");
        assert!(trivial || step.status == CacheStatus::Miss, "{step:#?}");
    }
}

fn assert_a_changed_step_reruns_what_follows(
    t: &TestEngine,
    changed_recipe: &Container,
    options: &BuildOptions,
) {
    let changed = ok(t.engine.build(changed_recipe, options));
    let steps = &changed.platforms[0].steps;
    assert_eq!(steps[0].status, CacheStatus::Hit);
    assert_eq!(steps[1].status, CacheStatus::Miss);
    assert!(
        steps[1].explanation.contains("the operation changed"),
        "{}",
        steps[1].explanation
    );
    assert!(
        steps[1].explanation.contains("echo hello"),
        "{}",
        steps[1].explanation
    );
    for step in &steps[2..] {
        if !step.description.contains("cache at") && !step.description.starts_with("MOUNT") {
            assert_eq!(step.status, CacheStatus::Miss, "{step:#?}");
            assert!(
                step.explanation.contains("earlier step changed"),
                "{step:#?}"
            );
        }
    }
}

/// The URL without a digest is fetched on each of the builds so far, and new content there
/// misses the cache with the reason.
fn assert_an_unpinned_url_is_fetched_every_build(
    t: &TestEngine,
    inputs: &Inputs,
    recipe: &dyn Fn() -> Container,
    options: &BuildOptions,
) {
    assert!(inputs.server.hits.lock().unwrap()["/url.txt"] >= 4);
    inputs
        .server
        .files
        .lock()
        .unwrap()
        .insert("/url.txt".into(), b"new content\n".to_vec());
    let refetched = ok(t.engine.build(&recipe(), options));
    let url_step = refetched.platforms[0]
        .steps
        .iter()
        .find(|s| s.description.contains("/url.txt"))
        .unwrap();
    assert_eq!(url_step.status, CacheStatus::Miss);
    assert!(
        url_step.explanation.contains("input `url` changed"),
        "{}",
        url_step.explanation
    );
}

#[test]
fn source_date_epoch_builds_are_reproducible() {
    if !require_root() {
        return;
    }
    let amd64 = Platform::linux_amd64();
    let inputs = inputs();
    let t = engine_for(&inputs, Some(1_700_000_000));
    let recipe = recipe(
        &inputs,
        "echo hello > /hello.txt && mkdir -p /var/lib/x && rm /etc/motd",
    );
    let options = BuildOptions::new([amd64.clone()]).with_no_cache(true);
    let a = ok(t.engine.build(&recipe, &options));
    let b = ok(t.engine.build(&recipe, &options));
    assert_eq!(a.root, b.root);
    assert_eq!(
        b.platforms[0].config.created.as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
}

#[test]
fn a_failing_step_reports_exit_code_and_output_tail() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let recipe = Container::from_address(&busybox_layout())
        .unwrap()
        .with_exec([
            "sh",
            "-c",
            "for i in $(seq 1 50); do echo line$i; done; echo oops >&2; exit 3",
        ]);
    let err = t
        .engine
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()]))
        .unwrap_err();
    assert_eq!(err.exit_code(), Some(3), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("step #2") && text.contains("exit code 3"),
        "{text}"
    );
    assert!(text.contains("oops") && text.contains("line50"), "{text}");
    assert!(!text.contains("line10\n"), "only the tail is kept: {text}");
}

#[test]
fn pinned_url_mismatch_names_both_digests() {
    if !require_root() {
        return;
    }
    let inputs = inputs();
    let t = engine_for(&inputs, None);
    let wrong = Digest::of(b"something else");
    let recipe = Container::from_address(&busybox_layout())
        .unwrap()
        .with_file(
            "/x",
            FileSource::pinned_url(inputs.server.url("/url.txt"), wrong.clone()),
        );
    let err = t
        .engine
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()]))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&wrong.to_string()), "{text}");
    assert!(
        text.contains(&Digest::of(b"from the url\n").to_string()),
        "{text}"
    );
    assert!(text.contains("/url.txt"), "{text}");
}
