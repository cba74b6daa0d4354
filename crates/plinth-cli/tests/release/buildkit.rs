//! The release flow with BuildKit as the builder: `generate-release --engine buildkit --publish`
//! builds both platforms through the local dockerd, runs the checks on both with the embedded
//! engine's sandbox, pushes the index and writes the changelog entry and release record.

use plinth_test::{External, require_external};

use crate::fixture::{
    Catalog, REPOSITORY, Root, assert_ok, assert_stderr_has, push_root, skopeo_digest,
    skopeo_json as inspect, text,
};

#[test]
fn generate_release_with_buildkit_checks_both_platforms_and_publishes() {
    if !crate::require_root() {
        return;
    }
    require_external!(External::Docker, External::BinfmtArm64);
    let c = Catalog::new("buildkit");
    // The builder pulls the root itself and has no `--registry-mirror`: name the loopback
    // registry directly.
    let root = push_root(c.registry, Root::Good).replacen("docker.io", &c.registry.host(), 1);

    let out = c.run(
        c.release_cmd("major", "Built by BuildKit", true)
            .args(["--engine", "buildkit"])
            .env("MY_FAMILY_ROOT_IMAGE", &root),
    );
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "(linux/amd64)",
        "(linux/arm64)",
        "Sanity checks passed.",
        "Added 1.0.0 to the registry.",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}`:\n{}",
            text(&out)
        );
    }
    assert_eq!(
        stderr.matches("5 passed, 0 failed, 0 errored").count(),
        2,
        "checks ran on both platforms:\n{}",
        text(&out)
    );

    // The tag points at what was printed, an index over both platforms.
    let tag = format!("{}:1.0.0", c.published());
    let digest = skopeo_digest(&tag).expect("the tag was pushed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{tag}@{digest}")
    );
    let index = inspect(&tag, "--raw");
    let manifests = index["manifests"].as_array().unwrap();
    let archs: Vec<&str> = manifests
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);

    // BuildKit built it (its provenance says so), with the recipe's environment.
    c.assert_built_by_buildkit(&tag);
    for m in manifests {
        let config = inspect(
            &format!("{}@{}", c.published(), m["digest"].as_str().unwrap()),
            "--config",
        );
        let env = config["config"]["Env"].as_array().unwrap();
        assert!(
            env.iter().any(|e| e == "MY_FAMILY_VERSION=1.0.0"),
            "{config}"
        );
    }

    // The changelog entry and the release record with the pushed platform digests.
    let changelog = c.changelog();
    assert_eq!(changelog[0]["version"], "1.0.0");
    assert_eq!(changelog[0]["changelog_entry"], "Built by BuildKit");
    let record = c.release_record();
    let version = &record["versions"][0];
    assert_eq!(version["index_digest"], digest.as_str());
    for m in manifests {
        let key = format!("linux/{}", m["platform"]["architecture"].as_str().unwrap());
        assert_eq!(version["platform_digests"][&key], m["digest"], "{record}");
    }

    // `publish --engine buildkit` of the same version: BuildKit's cache gives the same bytes,
    // so the published tag is left as it is.
    let out = c.run(
        c.cmd(&["publish", REPOSITORY, "1.0.0", "--engine", "buildkit"])
            .env("MY_FAMILY_ROOT_IMAGE", &root),
    );
    assert_ok(&out);
    assert_stderr_has(&out, "already published with the same digest");
    assert_eq!(skopeo_digest(&tag).unwrap(), digest);
}
