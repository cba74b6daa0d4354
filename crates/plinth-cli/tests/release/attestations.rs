//! Attestations and annotations of a published version, on the loopback distribution 2.x
//! (no referrers API, so the `sha256-<digest>` tag fallback is what is exercised): a failed
//! attachment leaves no version tag; a publish annotates every manifest and the index, keeps
//! the index to platform images, and attaches a provenance statement and a check report to
//! each platform manifest, which `plinth provenance` reads back.

use std::process::Command;

use plinth_test::FaultProxy;
use plinth_test::proxy::{Fault, RequestMatcher, Rule};
use serde_json::Value;

use crate::fixture::{Catalog, REPOSITORY, skopeo_digest, text};

/// `skopeo inspect --raw` of `image` as JSON.
fn raw(image: &str) -> Value {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn published_versions_carry_annotations_provenance_and_check_reports() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("attest");
    let git = |args: &[&str]| {
        let out = c.run(
            c.ctx
                .command("git")
                .arg("-C")
                .arg(c.catalog_dir())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args),
        );
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    std::fs::create_dir_all(c.catalog_dir()).unwrap();
    git(&["init", "-q"]);
    // A token in the remote URL must never reach an image.
    git(&[
        "remote",
        "add",
        "origin",
        "https://ci:s3cr3t-token@git.example.com/team/catalog.git",
    ]);
    git(&["commit", "-q", "--allow-empty", "-m", "empty catalog"]);
    let revision = git(&["rev-parse", "HEAD"]);

    let out = c.run(&mut c.cmd(&[
        "generate-release",
        "--family",
        REPOSITORY,
        "--bump",
        "major",
        "--changelog",
        "First release",
        "--no-publish",
    ]));
    assert!(out.status.success(), "{}", text(&out));
    // The release's files are committed, as a catalog's workflow does: the published image
    // still names the revision it was released from, so re-publishing reproduces its digest.
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "release 1.0.0"]);
    let record: Value = serde_json::from_slice(
        &std::fs::read(
            c.catalog_dir()
                .join("generated/inputs/example_busybox_base.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let recorded = record["versions"][0].clone();
    assert_eq!(recorded["revision"], revision.as_str());
    assert_eq!(
        recorded["source"],
        "https://git.example.com/team/catalog.git"
    );
    let index_digest = recorded["index_digest"].as_str().unwrap().to_owned();

    // A failed attachment: the referrers tag cannot be written. No version tag appears.
    let proxy = FaultProxy::start(c.registry);
    proxy.add_rule(
        Rule::new(
            RequestMatcher::method_path("PUT", r"/manifests/sha256-[0-9a-f]{64}$"),
            Fault::status(500),
        )
        .always(),
    );
    let mut via_proxy = c.cmd(&["publish", REPOSITORY, "1.0.0"]);
    via_proxy.args(["--registry", &proxy.host()]);
    let out = c.run(&mut via_proxy);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to attach the attestations"),
        "{}",
        text(&out)
    );
    assert!(!stderr.contains("s3cr3t"), "{}", text(&out));
    let tagged = format!("{}:1.0.0", c.published());
    assert_eq!(
        skopeo_digest(&tagged),
        None,
        "no tag to an image without its attestations"
    );
    // The image itself went up by digest, ahead of its attachments.
    assert_eq!(
        raw(&format!("{}@{index_digest}", c.published()))["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );

    // The publish, directly: the same digest as recorded at release time.
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.0.0"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Attached 8 attestations"),
        "{}",
        text(&out)
    );
    assert_eq!(
        skopeo_digest(&tagged).as_deref(),
        Some(index_digest.as_str())
    );

    // The index: platform images only, with the standard annotations.
    let index = raw(&tagged);
    let entries = index["manifests"].as_array().unwrap();
    let platforms: Vec<String> = entries
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let annotations = &index["annotations"];
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        "https://git.example.com/team/catalog.git"
    );
    assert_eq!(
        annotations["org.opencontainers.image.revision"],
        revision.as_str()
    );
    assert_eq!(annotations["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(
        annotations["org.opencontainers.image.base.name"],
        c.root.as_str()
    );
    let root_index_digest = c.root.rsplit_once('@').unwrap().1;
    assert_eq!(
        annotations["org.opencontainers.image.base.digest"], root_index_digest,
        "the root is pinned, so the index names its digest"
    );
    assert!(annotations["org.opencontainers.image.created"].is_string());
    let mut subjects = Vec::new();
    for entry in entries {
        let digest = entry["digest"].as_str().unwrap().to_owned();
        let manifest = raw(&format!("{}@{digest}", c.published()));
        let a = &manifest["annotations"];
        assert_eq!(a["org.opencontainers.image.version"], "1.0.0");
        assert_eq!(a["org.opencontainers.image.revision"], revision.as_str());
        assert!(
            a["org.opencontainers.image.base.digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:") && d != root_index_digest),
            "a platform manifest names its root's platform manifest: {manifest}"
        );
        assert!(a["org.opencontainers.image.created"].is_string());
        // The referrers tag lists a provenance and a check report.
        let hex = digest.strip_prefix("sha256:").unwrap();
        let referrers = raw(&format!("{}:sha256-{hex}", c.published()));
        let mut types: Vec<&str> = referrers["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["annotations"]["in-toto.io/predicate-type"]
                    .as_str()
                    .or(r["artifactType"].as_str())
                    .unwrap()
            })
            .collect();
        types.sort_unstable();
        assert_eq!(
            types,
            [
                "application/spdx+json",
                "application/vnd.cyclonedx+json",
                "https://example.invalid/plinth/check-report/v1",
                "https://slsa.dev/provenance/v1"
            ]
        );
        subjects.push(digest);
    }

    // `plinth provenance`: one statement per platform, about that platform's manifest.
    let out = c.run(&mut c.cmd(&["provenance", &tagged]));
    assert!(out.status.success(), "{}", text(&out));
    let statements: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statements = statements.as_array().unwrap();
    assert_eq!(statements.len(), 2);
    for (statement, subject) in statements.iter().zip(&subjects) {
        assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(
            format!(
                "sha256:{}",
                statement["subject"][0]["digest"]["sha256"]
                    .as_str()
                    .unwrap()
            ),
            *subject
        );
        let predicate = &statement["predicate"];
        let recipe = &predicate["buildDefinition"]["externalParameters"]["recipe"];
        assert_eq!(recipe["repository"], REPOSITORY);
        assert_eq!(recipe["version"], "1.0.0");
        assert!(
            recipe["recipeDigest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        let deps = predicate["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        let root = deps
            .iter()
            .find(|d| d["annotations"]["kind"] == "root-image")
            .unwrap_or_else(|| panic!("the root is a dependency: {predicate}"));
        assert_eq!(root["name"], c.root.as_str());
        assert_eq!(root["digest"]["sha256"].as_str().unwrap().len(), 64);
        let builder = &predicate["runDetails"]["builder"];
        assert_eq!(builder["version"]["engine"], "embedded");
        assert_eq!(builder["version"]["plinth"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            predicate["runDetails"]["metadata"]["startedOn"],
            annotations["org.opencontainers.image.created"],
            "the reproducible time, not the wall clock"
        );
    }

    // The check report of one platform.
    let out = c.run(&mut c.cmd(&[
        "provenance",
        &tagged,
        "--platform",
        "linux/arm64",
        "--check-report",
    ]));
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["predicateType"],
        "https://example.invalid/plinth/check-report/v1"
    );
    assert_eq!(
        format!(
            "sha256:{}",
            report["subject"][0]["digest"]["sha256"].as_str().unwrap()
        ),
        subjects[1]
    );
    let predicate = &report["predicate"];
    assert_eq!(predicate["platform"], "linux/arm64");
    assert_eq!(predicate["passed"], true);
    assert_eq!(predicate["checker"]["plinth"], env!("CARGO_PKG_VERSION"));
    let checks = predicate["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5, "{predicate}");
    assert!(
        checks.iter().all(|c| c["status"] == "passed"),
        "{predicate}"
    );

    // A platform the image lacks is named.
    let out = c.run(&mut c.cmd(&["provenance", &tagged, "--platform", "linux/s390x"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("linux/amd64, linux/arm64"),
        "{}",
        text(&out)
    );

    // skopeo still copies the whole image.
    let layout = c.ctx.work_dir().join("copy");
    let out = Command::new("skopeo")
        .args(["copy", "--all", "--src-tls-verify=false"])
        .arg(format!("docker://{tagged}"))
        .arg(format!("oci:{}:v", layout.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
