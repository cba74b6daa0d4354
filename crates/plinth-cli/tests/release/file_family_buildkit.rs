//! A file family released and published with BuildKit as the builder: both platforms built
//! through the local dockerd from the recorded folder, checked on both with the embedded
//! engine's sandbox, and `publish` of the recorded version gives the published digest again.
//!
//! BuildKit's images are not the embedded engine's bytes (its own layer tars), so the
//! digests are compared between BuildKit builds, not across engines.

use plinth_test::{External, require_external};

use crate::fixture::{Catalog, FILE_REPOSITORY as REPOSITORY};
use crate::fixture::{assert_ok, assert_stderr_has, skopeo_digest, text};

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
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("6 passed, 0 failed, 0 errored").count(),
        2,
        "checks ran on both platforms:\n{}",
        text(&out)
    );
    let tag = format!("{}:1.0.0", c.published());
    let digest = skopeo_digest(&tag).expect("the tag was pushed");
    assert!(
        c.family_dir().join("versions/1.0.0/Dockerfile").is_file(),
        "the release recorded its files"
    );

    // Built by BuildKit, as the provenance says (both engines write BuildKit's history).
    c.assert_built_by_buildkit(&tag);

    // The Dockerfile moves on; `publish 1.0.0` with BuildKit builds the recorded recipe and
    // finds the published digest.
    let dockerfile = c.family_dir().join("Dockerfile");
    let changed = std::fs::read_to_string(&dockerfile)
        .unwrap()
        .replace("echo 1 >", "echo 2 >");
    std::fs::write(&dockerfile, changed).unwrap();
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.0.0", "--engine", "buildkit"]));
    assert_ok(&out);
    assert_stderr_has(&out, "already published with the same digest");
    assert_eq!(skopeo_digest(&tag).unwrap(), digest);
}
