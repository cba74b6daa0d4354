//! The same recipe through BuildKit and the embedded engine, amd64 and arm64: same files, same
//! config.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plinth_buildkit::{BuildkitBackend, BuildkitConfig};
use plinth_engine::{Engine, EngineConfig};
use plinth_executor::{BuildOptions, BuildResult, CacheStatus, StepReport};
use plinth_oci::{Descriptor, Digest, ManifestDocument, Platform, Store};
use plinth_recipe::{Container, DirectorySource, FileOptions, FileSource, Op};

use crate::common::{FileServer, busybox_root, config_of, flatten, ok, require_all};

/// Every operation kind: exec, env, label, user, workdir, entrypoint, default args, files from
/// bytes, a host file and a pinned URL, directories from a helper container and the host, and a
/// cache mount.
pub fn recipe(root: &str, fixtures: &Path, tool_url: &str, tool_digest: Digest) -> Container {
    let helper = Container::from_address(root).unwrap().with_exec([
        "sh",
        "-c",
        "mkdir -p /out/sub && echo made > /out/sub/made.txt && ln -s sub/made.txt /out/link \
         && chmod 750 /out/sub && chown 1000:1000 /out/sub/made.txt",
    ]);
    Container::from_address(root)
        .unwrap()
        .with_env("APP_HOME", "/app")
        .with_env("GREETING", "hello \"quoted\" world")
        .with_label("io.plinth.test", "buildkit")
        .with_mounted_cache("/cache", "plinth-buildkit-compare")
        .with_exec([
            "sh",
            "-c",
            "mkdir -p /app && echo run >> /cache/runs && test -s /cache/runs && uname -m > /app/arch",
        ])
        .without_mounted_cache("/cache")
        .with_workdir("/app")
        .with_file("bytes.txt", FileSource::Bytes(b"literal bytes\n".to_vec()))
        .with_file_opts(
            "/app/host.txt",
            FileSource::HostFile(fixtures.join("host.txt")),
            FileOptions::new().owner("airbyte").mode(0o640),
        )
        .with_file("/app/dl/tool.sh", FileSource::pinned_url(tool_url, tool_digest))
        .with_directory("/app/from-helper", DirectorySource::container(&helper, "/out"))
        .with_directory("/app/host-dir", DirectorySource::Host(fixtures.join("tree")))
        .with_user("airbyte")
        .with_exec(["sh", "-c", "id -u > /home/airbyte/uid && pwd > /home/airbyte/pwd"])
        .with_entrypoint(["/bin/sh", "-c"])
        .with_default_args(["echo $GREETING"])
}

pub fn fixtures(dir: &Path) {
    std::fs::write(dir.join("host.txt"), "from the host\n").unwrap();
    std::fs::create_dir_all(dir.join("tree/nested")).unwrap();
    std::fs::write(dir.join("tree/nested/script.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(
        dir.join("tree/nested/script.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(dir.join("tree/plain.txt"), "plain\n").unwrap();
    std::os::unix::fs::symlink("nested/script.sh", dir.join("tree/run")).unwrap();
}

#[test]
fn buildkit_and_the_embedded_engine_build_the_same_image_on_amd64_and_arm64() {
    if !require_all() {
        return;
    }
    let root = busybox_root();
    let tool = b"#!/bin/sh\necho tool\n".to_vec();
    let server = FileServer::start(BTreeMap::from([("/tool.sh".to_owned(), tool.clone())]));
    let work = tempfile::Builder::new()
        .prefix("pbk-cmp-")
        .tempdir()
        .unwrap();
    fixtures(work.path());
    let recipe = recipe(
        &root,
        work.path(),
        &server.url("/tool.sh"),
        Digest::of(&tool),
    );
    let platforms = [Platform::linux_amd64(), Platform::linux_arm64()];
    let options = BuildOptions::new(platforms.clone());

    let bk_store = Store::open(work.path().join("bk-store")).unwrap();
    let backend = ok(BuildkitBackend::new(BuildkitConfig::new(bk_store.clone())));
    // Cold: `--no-cache`, so earlier runs of this test on the same daemon do not count.
    let built = ok(backend.build(&recipe, &options.clone().with_no_cache(true)));
    let index = built.index.clone().expect("two platforms make an index");
    let ManifestDocument::Index(doc) = bk_store.read_document(&index).unwrap() else {
        panic!("not an index")
    };
    assert_eq!(doc.platforms().len(), 2);
    let filesystem_steps = filesystem_steps(&recipe);
    assert_cold_build_reports(&backend, &recipe, &built, &filesystem_steps);
    assert_eq!(
        server.hits.lock().unwrap().get("/tool.sh"),
        Some(&1),
        "a pinned URL is fetched once"
    );

    let engine_store = Store::open(work.path().join("engine-store")).unwrap();
    let engine = ok(Engine::new(EngineConfig::new(engine_store.clone())));
    let reference = ok(engine.build(&recipe, &options));
    for platform in &platforms {
        let ours = (&bk_store, &built.root);
        let theirs = (&engine_store, &reference.root);
        assert_same_files(&backend, ours, theirs, platform);
        assert_same_config(ours, theirs, platform);
    }

    // Warm: everything from BuildKit's cache, and the same files.
    let warm = ok(backend.build(&recipe, &options));
    for p in &warm.platforms {
        // Step 0 (`FROM`) may be re-resolved against the registry; every other step is cached.
        assert!(
            p.steps
                .iter()
                .all(|s| s.index == 0 || s.status == CacheStatus::Hit),
            "{}: {:?}",
            p.platform,
            p.steps
        );
        assert_eq!(after_from(&p.steps), filesystem_steps);
    }
    for platform in &platforms {
        assert_eq!(
            flatten(&bk_store, &warm.root, platform),
            flatten(&bk_store, &built.root, platform)
        );
    }
}

/// The indexes of the recipe's steps that change files: BuildKit reports these (not
/// config-only ones), in recipe order.
fn filesystem_steps(recipe: &Container) -> Vec<usize> {
    recipe
        .ops()
        .iter()
        .enumerate()
        .filter(|(_, op)| {
            matches!(
                op,
                Op::Exec { .. } | Op::File { .. } | Op::Directory { .. } | Op::Workdir { .. }
            )
        })
        .map(|(i, _)| i)
        .collect()
}

/// The reported step indexes but `FROM`'s, which may be missing: BuildKit names it after the
/// helper stage that shares it.
fn after_from(steps: &[StepReport]) -> Vec<usize> {
    steps.iter().map(|s| s.index).filter(|i| *i != 0).collect()
}

/// Each platform of the cold (`--no-cache`) build reports every file-changing step as run, the
/// cache mount as BuildKit's own, no warning, and a Dockerfile without a syntax line.
fn assert_cold_build_reports(
    backend: &BuildkitBackend,
    recipe: &Container,
    built: &BuildResult,
    filesystem_steps: &[usize],
) {
    for p in &built.platforms {
        assert_eq!(
            after_from(&p.steps),
            filesystem_steps,
            "{}: {:#?}",
            p.platform,
            p.steps
        );
        // `--no-cache`: every step after `FROM` ran.
        assert!(
            p.steps
                .iter()
                .all(|s| s.index == 0 || s.status == CacheStatus::Miss),
            "{:#?}",
            p.steps
        );
        assert!(p.steps_run() >= filesystem_steps.len());
        let first_run = p.steps.iter().find(|s| s.index == filesystem_steps[0]);
        assert!(
            first_run.is_some_and(|s| s.description.starts_with("RUN --mount=type=cache")),
            "{first_run:?}"
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let dockerfile = ok(backend.dockerfile(recipe, &p.platform));
        assert!(!dockerfile.contains("# syntax"), "{dockerfile}");
        assert!(
            dockerfile.contains("RUN --mount=type=cache,target=/cache"),
            "{dockerfile}"
        );
    }
}

/// An image in a store: the store and the image's root descriptor.
type StoredImage<'a> = (&'a Store, &'a Descriptor);

/// BuildKit's image (`ours`) and the engine's (`theirs`) hold the same files on `platform`
/// (but the cache mount stub old daemons leave), with the contents, owners and modes the recipe
/// asks for.
fn assert_same_files(
    backend: &BuildkitBackend,
    (our_store, our_root): StoredImage,
    (their_store, their_root): StoredImage,
    platform: &Platform,
) {
    let info = ok(backend.check_builder(platform));
    let ours = flatten(our_store, our_root, platform);
    let theirs = flatten(their_store, their_root, platform);
    let mut differences = Vec::new();
    for path in ours
        .keys()
        .chain(theirs.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (ours.get(path), theirs.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            // Daemons before Docker 23 leave the cache mount point as an empty directory
            // (a documented limit of the backend).
            (Some(a), None)
                if path.as_str() == "cache"
                    && !info.removes_mount_stubs()
                    && (a.kind, a.mode, a.uid, a.gid) == ('d', 0o755, 0, 0) => {}
            (a, b) => differences.push(format!("{path}: buildkit {a:?} / engine {b:?}")),
        }
    }
    assert!(
        differences.is_empty(),
        "{platform}: the file systems differ:\n{}",
        differences.join("\n")
    );
    let machine = if platform.architecture == "arm64" {
        "aarch64"
    } else {
        "x86_64"
    };
    assert_eq!(
        ours["app/arch"].content,
        Digest::of(format!("{machine}\n").as_bytes()).to_string()
    );
    assert_eq!(
        ours["home/airbyte/uid"].content,
        Digest::of(b"1000\n").to_string()
    );
    assert_eq!(ours["app/dl/tool.sh"].mode, 0o600);
    assert_eq!(
        (ours["app/host.txt"].uid, ours["app/host.txt"].mode),
        (1000, 0o640)
    );
}

/// The two images' configs agree on user, env, entrypoint, cmd, labels and workdir.
fn assert_same_config(
    (our_store, our_root): StoredImage,
    (their_store, their_root): StoredImage,
    platform: &Platform,
) {
    let (a, b) = (
        config_of(our_store, our_root, platform),
        config_of(their_store, their_root, platform),
    );
    let (ra, rb) = (
        a.config.clone().unwrap_or_default(),
        b.config.clone().unwrap_or_default(),
    );
    assert_eq!(a.architecture, platform.architecture);
    assert_eq!(ra.user, rb.user, "user");
    assert_eq!(a.env(), b.env(), "env");
    assert_eq!(ra.entrypoint, rb.entrypoint, "entrypoint");
    assert_eq!(ra.cmd, rb.cmd, "cmd");
    assert_eq!(ra.labels, rb.labels, "labels");
    assert_eq!(ra.working_dir, rb.working_dir, "workdir");
    assert_eq!(ra.user.as_deref(), Some("airbyte"));
}
