//! The example file family as it is, on its root from Debian's archive
//! (`plinth/debian:bookworm`, no stand-in), released and published with BuildKit on both
//! platforms: plinth bootstraps the root, hands it to dockerd with `docker load`, and the
//! builder builds `FROM` it without any registry. `publish` of the recorded version with
//! BuildKit finds the published digest again.
//!
//! Slow: the arm64 Debian bootstrap runs under qemu (the amd64 root is the shared fixture's).

use std::process::Command;

use plinth_test::{External, require_external};

use crate::file_family_buildkit::{publish_again_finds_the_same_digest, released_with_buildkit};
use crate::fixture::{Catalog, FILE_REPOSITORY as REPOSITORY};

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
    let (digest, configs) = released_with_buildkit(&c, &out);
    let mut archs = Vec::new();
    for config in &configs {
        assert!(
            config["config"]["Labels"]["org.plinth.debian.root"]
                .as_str()
                .is_some_and(|r| r.starts_with("plinth/debian:bookworm")),
            "the image is on the Debian root: {config}"
        );
        archs.push(config["architecture"].as_str().unwrap().to_owned());
    }
    archs.sort();
    assert_eq!(archs, ["amd64", "arm64"]);

    // The root is the same when the recorded recipe is built again: the archive state is
    // recorded in the store.
    publish_again_finds_the_same_digest(
        &c,
        &mut plinth(&["publish", REPOSITORY, "1.0.0"]),
        &digest,
    );
}
