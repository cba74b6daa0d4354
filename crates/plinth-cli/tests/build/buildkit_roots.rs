//! Roots of a BuildKit build come from plinth: the engine resolves each root once (it reads
//! its config to evaluate the Dockerfile anyway) and `docker load`s it into the builder under
//! `plinth-root:<config hex>`, so dockerd pulls nothing. A request-counting proxy in front of
//! the real registry sees every request of the build.

use std::collections::BTreeMap;
use std::process::Command;

use plinth_test::images::{BusyboxImage, busybox_in_layout};
use plinth_test::proxy::RequestKind;
use plinth_test::{External, FaultProxy, LocalRegistry, TestContext, output, require_external};

use super::{build_for, run_amd64_args, stdout_ok, write_dockerfile};

/// Removes the roots a test loaded into dockerd (they are named by config digest).
pub(super) struct LoadedRoots(pub(super) Vec<String>);

impl Drop for LoadedRoots {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker").args(["rmi", name]).output();
        }
    }
}

pub(super) fn docker_image_id(name: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", name])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn buildkit_builds_fetch_each_root_blob_once_and_the_daemon_pulls_nothing() {
    require_external!(External::Docker, External::Root, External::BinfmtArm64);
    let seed = TestContext::new();
    let (image, layout) = busybox_in_layout(
        seed.temp_dir(),
        &BusyboxImage::builder()
            .with_seed("bk-roots")
            .with_big_layer(1 << 20),
    );
    let registry = LocalRegistry::start();
    let proxy = FaultProxy::start(&registry);
    let root = proxy.image("bk-roots/image:1");
    stdout_ok(
        &seed,
        seed.plinth()
            .args(["copy", &format!("oci:{}:v1", layout.display()), &root]),
    );
    let _cleanup = LoadedRoots(
        image
            .platforms()
            .iter()
            .map(|p| format!("plinth-root:{}", p.config.digest.hex()))
            .collect(),
    );

    // `ENV PATH=…:$PATH` needs the base's config while reading: plinth resolves the root
    // before the build, and the build must not fetch it again.
    let ctx = TestContext::new();
    let dockerfile = write_dockerfile(
        &ctx,
        &format!("FROM {root}\nENV PATH=/opt/bin:$PATH\nRUN echo \"$PATH\" > /path-seen\n"),
    );
    let build = |tag: &str| {
        let mut cmd = build_for(&ctx, &dockerfile, "linux/amd64,linux/arm64");
        cmd.args(["--engine", "buildkit", "--tag", tag]);
        cmd
    };
    proxy.clear_requests();
    stdout_ok(&ctx, &mut build("bk-roots/cold"));
    let requests = proxy.requests();
    let mut blob_gets: BTreeMap<String, usize> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.kind == RequestKind::GetBlob) {
        *blob_gets.entry(r.path.clone()).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = image
        .blobs()
        .iter()
        .map(|d| (format!("/v2/bk-roots/image/blobs/{}", d.digest), 1))
        .collect();
    assert_eq!(
        blob_gets, expected,
        "every blob of both platforms fetched exactly once: {requests:#?}"
    );
    assert_eq!(
        manifest_gets(&proxy),
        expected_manifest_gets(&image, 1),
        "the tag once (read by the Dockerfile reader, reused by the build), each platform manifest once: {requests:#?}"
    );
    for p in image.platforms() {
        assert_eq!(
            docker_image_id(&format!("plinth-root:{}", p.config.digest.hex())),
            Some(p.config.digest.to_string()),
            "the {} root is in the daemon under its config digest",
            p.platform
        );
    }
    let run = stdout_ok(
        &ctx,
        ctx.plinth()
            .args(run_amd64_args("bk-roots/cold", &["cat", "/path-seen"])),
    );
    assert!(
        run.starts_with("/opt/bin:") && run.len() > "/opt/bin:\n".len(),
        "the base's PATH was extended: {run:?}"
    );

    // Warm: the store has the root, the daemon has it loaded; only the tag is looked up, once.
    proxy.clear_requests();
    stdout_ok(&ctx, &mut build("bk-roots/warm"));
    assert_eq!(
        proxy.count(RequestKind::GetBlob),
        0,
        "nothing downloaded again: {:#?}",
        proxy.requests()
    );
    assert_eq!(
        manifest_gets(&proxy),
        expected_manifest_gets(&image, 0),
        "{:#?}",
        proxy.requests()
    );
}

/// How often each manifest path was fetched.
fn manifest_gets(proxy: &FaultProxy) -> BTreeMap<String, usize> {
    let mut gets = BTreeMap::new();
    for r in proxy.requests() {
        if r.kind == RequestKind::GetManifest {
            *gets.entry(r.path).or_default() += 1;
        }
    }
    gets
}

/// The tag of `bk-roots/image:1` fetched once, and each platform manifest `per_platform` times.
fn expected_manifest_gets(image: &BusyboxImage, per_platform: usize) -> BTreeMap<String, usize> {
    let mut gets = BTreeMap::from([("/v2/bk-roots/image/manifests/1".to_owned(), 1)]);
    if per_platform > 0 {
        for p in image.platforms() {
            gets.insert(
                format!("/v2/bk-roots/image/manifests/{}", p.manifest.digest),
                per_platform,
            );
        }
    }
    gets
}

/// A root no registry serves (an OCI layout on this machine) builds with BuildKit on both
/// platforms: plinth imports it and hands it to the builder.
#[test]
fn buildkit_builds_on_a_local_layout_root_for_both_platforms() {
    require_external!(External::Docker, External::Root, External::BinfmtArm64);
    let ctx = TestContext::new();
    let (image, layout) = busybox_in_layout(
        ctx.temp_dir(),
        &BusyboxImage::builder().with_seed("bk-layout-root"),
    );
    let _cleanup = LoadedRoots(
        image
            .platforms()
            .iter()
            .map(|p| format!("plinth-root:{}", p.config.digest.hex()))
            .collect(),
    );
    let dockerfile = write_dockerfile(
        &ctx,
        &format!(
            "FROM oci:{}:v1\nRUN cp /etc/plinth-platform /root-of\n",
            layout.display()
        ),
    );
    let out = output(
        &ctx,
        build_for(&ctx, &dockerfile, "linux/amd64,linux/arm64").args([
            "--engine",
            "buildkit",
            "--tag",
            "bk-layout/built",
        ]),
    );
    assert!(
        out.status.success(),
        "the BuildKit build of a layout root failed"
    );
    // Each platform's layer names its platform in /etc/plinth-platform (the fixture's
    // busybox binary is amd64 on both, so `uname -m` would tell nothing).
    for platform in ["linux/amd64", "linux/arm64"] {
        let run = stdout_ok(
            &ctx,
            ctx.plinth().args([
                "run",
                "bk-layout/built",
                "--platform",
                platform,
                "--",
                "cat",
                "/root-of",
            ]),
        );
        assert_eq!(
            run,
            format!("{platform}\n"),
            "built on its own platform's root"
        );
    }
}
