//! A file family released and published with BuildKit as the builder: both platforms built
//! through the local dockerd from the recorded folder, checked on both with the embedded
//! engine's sandbox, and `publish` of the recorded version gives the published digest again.
//!
//! BuildKit's images are not the embedded engine's bytes (its own layer tars), so the
//! digests are compared between BuildKit builds, not across engines.

use std::process::{Command, Output};

use plinth_test::{External, require_external};
use serde_json::Value;

use crate::fixture::{Catalog, FILE_REPOSITORY as REPOSITORY};
use crate::fixture::{assert_ok, assert_stderr_has, skopeo_digest, skopeo_json, text};

/// The setup both BuildKit file-family tests share after their release: the checks ran on both
/// platforms, the tag was pushed (its digest is returned), and every platform was built by
/// BuildKit. Returns the digest and each platform's config.
pub(super) fn released_with_buildkit(c: &Catalog, release: &Output) -> (String, Vec<Value>) {
    assert_ok(release);
    let stderr = String::from_utf8_lossy(&release.stderr);
    assert_eq!(
        stderr.matches("6 passed, 0 failed, 0 errored").count(),
        2,
        "checks ran on both platforms:\n{}",
        text(release)
    );
    let tag = format!("{}:1.0.0", c.published());
    let digest = skopeo_digest(&tag).expect("the tag was pushed");
    let index = skopeo_json(&tag, "--raw");
    let configs: Vec<Value> = index["manifests"]
        .as_array()
        .expect("an index")
        .iter()
        .map(|manifest| {
            let at = format!("{}@{}", c.published(), manifest["digest"].as_str().unwrap());
            skopeo_json(&at, "--config")
        })
        .collect();
    assert_eq!(configs.len(), 2, "{index}");
    // Built by BuildKit, as the provenance says (both engines write BuildKit's history).
    c.assert_built_by_buildkit(&tag);
    (digest, configs)
}

/// The Dockerfile moves on; `publish` (the command given, `publish REPOSITORY 1.0.0` with
/// BuildKit) builds the recorded recipe and finds the published `digest` again.
pub(super) fn publish_again_finds_the_same_digest(
    c: &Catalog,
    publish: &mut Command,
    digest: &str,
) {
    let dockerfile = c.family_dir().join("Dockerfile");
    let changed = std::fs::read_to_string(&dockerfile)
        .unwrap()
        .replace("echo 1 >", "echo 2 >");
    std::fs::write(&dockerfile, changed).unwrap();
    let out = c.run(publish);
    assert_ok(&out);
    assert_stderr_has(&out, "already published with the same digest");
    let tag = format!("{}:1.0.0", c.published());
    assert_eq!(skopeo_digest(&tag).unwrap(), digest);
}

#[test]
fn file_family_release_and_publish_with_buildkit() {
    if !crate::require_root() {
        return;
    }
    require_external!(External::Docker, External::BinfmtArm64);
    let mut c = Catalog::files("files-buildkit");
    // The builder pulls the stand-in root itself and has no `--registry-mirror`: name the
    // loopback registry directly.
    c.root = c.root.replacen("docker.io", &c.registry.host(), 1);

    let out = c.run(
        c.release_cmd("major", "Built by BuildKit", true)
            .args(["--engine", "buildkit"]),
    );
    let (digest, _) = released_with_buildkit(&c, &out);
    assert!(
        c.family_dir().join("versions/1.0.0/Dockerfile").is_file(),
        "the release recorded its files"
    );
    publish_again_finds_the_same_digest(
        &c,
        &mut c.cmd(&["publish", REPOSITORY, "1.0.0", "--engine", "buildkit"]),
        &digest,
    );
}
