//! `plinth copy`, `inspect` and `ls` against a real `docker-registry`, read back by skopeo and docker.

mod archive;
mod errors;
mod image;
mod ls;

use std::process::Command;

use plinth_oci::Digest;
use plinth_test::proxy::RequestKind;
use plinth_test::{External, FaultProxy, LocalRegistry, TestContext, require_external};
use serde_json::Value;

use crate::image::busybox_layout;

pub(crate) fn run_ok(ctx: &TestContext, cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{}",
        ctx.filter(&plinth_test::format_output(&out))
    );
    String::from_utf8(out.stdout).unwrap()
}

fn uploads(proxy: &FaultProxy) -> usize {
    proxy.count(RequestKind::StartUpload)
        + proxy.count(RequestKind::PatchUpload)
        + proxy.count(RequestKind::PutBlob)
}

#[test]
fn copy_layout_to_registry_then_republish_and_mount() {
    let ctx = TestContext::new();
    let registry = LocalRegistry::start();
    let proxy = FaultProxy::start(&registry);
    let layout = busybox_layout(ctx.temp_dir(), "v1");

    let target = proxy.image("test/busybox:1.0.0");
    let digest = run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{target}"),
        ]),
    );
    let digest: Digest = digest
        .trim()
        .parse()
        .expect("copy prints the pushed digest");
    assert!(uploads(&proxy) > 0, "the first push uploads blobs");

    // skopeo reads what plinth wrote, and the bytes hash to the digest plinth printed.
    if require_external(External::Tool("skopeo")) {
        let raw = run_ok(
            &ctx,
            ctx.command("skopeo").args([
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{}", registry.image("test/busybox:1.0.0")),
            ]),
        );
        assert_eq!(Digest::of(raw.as_bytes()), digest);
        let platforms: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(platforms["manifests"].as_array().unwrap().len(), 2);
    }

    // Re-publishing the same image uploads nothing, and asks for nothing but the tag: a tag that
    // points at the image means the registry has all of it. No `/v2/` probe either: the
    // registry is anonymous, and one that was not would say so in its answer. One request in
    // all, from a fresh process (nothing learnt from the first copy).
    proxy.clear_requests();
    let again = run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{target}"),
        ]),
    );
    assert_eq!(again.trim(), digest.to_string());
    assert_eq!(uploads(&proxy), 0, "requests: {:?}", proxy.counts());
    assert_eq!(
        proxy.count(RequestKind::HeadBlob),
        0,
        "{:?}",
        proxy.counts()
    );
    let sent: Vec<(String, String)> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        sent,
        [(
            "HEAD".to_owned(),
            "/v2/test/busybox/manifests/1.0.0".to_owned()
        )],
        "an unchanged re-publish is one HEAD of the tag"
    );

    // Copying to a second repository mounts the blobs instead of uploading them.
    proxy.clear_requests();
    let second = proxy.image("other/busybox:1.0.0");
    run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &format!("docker://{target}"),
            &format!("docker://{second}"),
        ]),
    );
    assert!(
        proxy.count(RequestKind::MountBlob) >= 2,
        "requests: {:?}",
        proxy.counts()
    );
    assert_eq!(
        proxy.count(RequestKind::PatchUpload) + proxy.count(RequestKind::PutBlob),
        0,
        "requests: {:?}",
        proxy.counts()
    );

    // `ls` lists the tag with its digest; a second listing within the TTL sends no request.
    proxy.clear_requests();
    let listing: Value = serde_json::from_str(&run_ok(
        &ctx,
        ctx.plinth()
            .args(["ls", &proxy.image("test/busybox"), "--json"]),
    ))
    .unwrap();
    assert_eq!(listing["tags"][0]["tag"], "1.0.0");
    assert_eq!(listing["tags"][0]["digest"], digest.to_string());
    let sent = proxy.requests().len();
    assert!(sent > 0);
    let cached: Value = serde_json::from_str(&run_ok(
        &ctx,
        ctx.plinth()
            .args(["ls", &proxy.image("test/busybox"), "--json"]),
    ))
    .unwrap();
    assert_eq!(cached["from_cache"], true);
    assert_eq!(
        proxy.requests().len(),
        sent,
        "a cached listing sends no request"
    );

    // `inspect` shows one platform's config.
    let inspected: Value = serde_json::from_str(&run_ok(
        &ctx,
        ctx.plinth()
            .args(["inspect", &target, "--platform", "linux/arm64", "--json"]),
    ))
    .unwrap();
    assert_eq!(inspected["config"]["architecture"], "arm64");
    assert_eq!(inspected["manifest"]["layers"].as_array().unwrap().len(), 1);
}

#[test]
fn docker_pulls_and_runs_what_plinth_pushed_and_loads_its_archive() {
    if !require_external(External::Docker) {
        return;
    }
    let ctx = TestContext::new();
    let registry = LocalRegistry::start();
    let layout = busybox_layout(ctx.temp_dir(), "v1");
    let target = registry.image("docker/busybox:2.0.0");
    run_ok(
        &ctx,
        ctx.plinth()
            .args(["copy", &format!("oci:{}:v1", layout.display()), &target]),
    );
    let out = run_ok(
        &ctx,
        Command::new("docker").args([
            "run",
            "--rm",
            "--pull",
            "always",
            &target,
            "echo",
            "pulled and ran",
        ]),
    );
    assert_eq!(out.trim(), "pulled and ran");

    let archive = ctx.temp_dir().join("busybox.tar");
    run_ok(
        &ctx,
        ctx.plinth().args([
            "copy",
            &target,
            &format!("docker-archive:{}", archive.display()),
            "--platform",
            "linux/amd64",
        ]),
    );
    let loaded = run_ok(
        &ctx,
        Command::new("docker").args(["load", "-i", archive.to_str().unwrap()]),
    );
    let id = loaded.trim().rsplit(' ').next().unwrap().to_owned();
    let out = run_ok(
        &ctx,
        Command::new("docker").args(["run", "--rm", &id, "cat", "/etc/passwd"]),
    );
    assert!(out.contains("airbyte:x:1000:1000"), "{out}");
    let _ = Command::new("docker")
        .args(["rmi", "-f", &target, &id])
        .output();
}

#[test]
fn bad_locations_and_references_are_explained() {
    let ctx = TestContext::new();
    let out = ctx
        .plinth()
        .args(["copy", "Busybox:1", "oci:x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`Busybox`") && stderr.contains("lowercase"),
        "{stderr}"
    );
    let out = ctx.plinth().args(["inspect", "dir:/tmp"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported"));
}
