//! The example file family as it is, on its root from Debian's archive
//! (`plinth/debian:bookworm`, no stand-in), released and published with BuildKit on both
//! platforms: plinth bootstraps the root, hands it to dockerd with `docker load`, and the
//! builder builds `FROM` it without any registry. `publish` of the recorded version with
//! BuildKit finds the published digest again.
//!
//! Slow: the arm64 Debian bootstrap runs under qemu (the amd64 root is the shared fixture's).

use std::process::Command;

use plinth_test::{External, require_external};

use crate::fixture::{Catalog, FILE_REPOSITORY as REPOSITORY};
use crate::fixture::{assert_ok, assert_stderr_has, skopeo_digest, skopeo_json, text};

/// Removes the Debian roots loaded into dockerd (`plinth-root:*` images carrying plinth's
/// Debian root label) when the test ends.
struct LoadedDebianRoots;

impl Drop for LoadedDebianRoots {
    fn drop(&mut self) {
        let Ok(out) = Command::new("docker")
            .args([
                "images",
                "plinth-root",
                "--filter",
                "label=org.plinth.debian.root",
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ])
            .output()
        else {
            return;
        };
        for name in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = Command::new("docker").args(["rmi", name]).output();
        }
    }
}

#[test]
fn file_family_on_a_debian_root_releases_and_publishes_with_buildkit() {
    if !crate::require_root() {
        return;
    }
    require_external!(
        External::Docker,
        External::BinfmtArm64,
        External::Tool("mmdebstrap")
    );
    let c = Catalog::files("files-debian-buildkit");
    // The amd64 root comes from the shared fixture (made once a day); arm64 is bootstrapped
    // by the release, under qemu.
    c.ctx.seed_debian_root("plinth/debian:bookworm");
    let _cleanup = LoadedDebianRoots;
    // The catalog as a user has it: no `--substitute-image`, the root is Debian's archive.
    let plinth = |args: &[&str]| {
        let mut cmd = c.ctx.plinth();
        cmd.env("PLINTH_NO_PROMPT", "1")
            .current_dir(c.catalog_dir())
            .args(["--registry", &c.registry.host()])
            .args(["--namespace", &c.namespace])
            .args(args)
            .args(["--engine", "buildkit"]);
        cmd
    };
    let out = c.run(&mut plinth(&[
        "generate-release",
        "--family",
        REPOSITORY,
        "--bump",
        "major",
        "--changelog",
        "Debian root through BuildKit",
        "--publish",
    ]));
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
    let index = skopeo_json(&tag, "--raw");
    let mut archs = Vec::new();
    for manifest in index["manifests"].as_array().expect("an index") {
        let config = skopeo_json(
            &format!("{}@{}", c.published(), manifest["digest"].as_str().unwrap()),
            "--config",
        );
        let labels = &config["config"]["Labels"];
        assert!(
            labels["org.plinth.debian.root"]
                .as_str()
                .is_some_and(|r| r.starts_with("plinth/debian:bookworm")),
            "the image is on the Debian root: {config}"
        );
        archs.push(config["architecture"].as_str().unwrap().to_owned());
    }
    archs.sort();
    c.assert_built_by_buildkit(&tag);
    assert_eq!(archs, ["amd64", "arm64"]);

    // The Dockerfile moves on; `publish 1.0.0` rebuilds the recorded recipe on the same root
    // (the archive state is recorded in the store) and finds the published digest.
    let dockerfile = c.family_dir().join("Dockerfile");
    let changed = std::fs::read_to_string(&dockerfile)
        .unwrap()
        .replace("echo 1 >", "echo 2 >");
    std::fs::write(&dockerfile, changed).unwrap();
    let out = c.run(&mut plinth(&["publish", REPOSITORY, "1.0.0"]));
    assert_ok(&out);
    assert_stderr_has(&out, "already published with the same digest");
    assert_eq!(skopeo_digest(&tag).unwrap(), digest);
}
