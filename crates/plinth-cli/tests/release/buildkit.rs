//! The release flow with BuildKit as the builder: `generate-release --engine buildkit --publish`
//! builds both platforms through the local dockerd, runs the checks on both with the embedded
//! engine's sandbox, pushes the index and writes the changelog entry and release record.

use plinth_test::{External, require_external};

use crate::fixture::{Catalog, REPOSITORY, Root, push_root, skopeo_digest, text};

/// What `skopeo inspect FLAG` says of `image`, as JSON (`--raw`: the manifest or index;
/// `--config`: the config behind a platform manifest `repo@digest`).
fn inspect(image: &str, flag: &str) -> serde_json::Value {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", flag])
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

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
        c.cmd(&[
            "generate-release",
            "--family",
            REPOSITORY,
            "--bump",
            "major",
            "--changelog",
            "Built by BuildKit",
            "--publish",
            "--engine",
            "buildkit",
        ])
        .env("MY_FAMILY_ROOT_IMAGE", &root),
    );
    assert!(out.status.success(), "{}", text(&out));
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

    // BuildKit built it (its history comments), with the recipe's environment.
    for m in manifests {
        let config = inspect(
            &format!("{}@{}", c.published(), m["digest"].as_str().unwrap()),
            "--config",
        );
        let history = config["history"].as_array().expect("history");
        assert!(
            history
                .iter()
                .any(|h| h["comment"] == "buildkit.dockerfile.v0"),
            "not a BuildKit image: {config}"
        );
        let env = config["config"]["Env"].as_array().unwrap();
        assert!(
            env.iter().any(|e| e == "MY_FAMILY_VERSION=1.0.0"),
            "{config}"
        );
    }

    // The changelog entry and the release record with the pushed platform digests.
    let changelog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.changelog()).unwrap()).unwrap();
    assert_eq!(changelog[0]["version"], "1.0.0");
    assert_eq!(changelog[0]["changelog_entry"], "Built by BuildKit");
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            c.catalog_dir()
                .join("generated/inputs/example_busybox_base.json"),
        )
        .unwrap(),
    )
    .unwrap();
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
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already published with the same digest"),
        "{}",
        text(&out)
    );
    assert_eq!(skopeo_digest(&tag).unwrap(), digest);
}
