//! Attestations and annotations of a published version, on the loopback distribution 2.x
//! (no referrers API, so the `sha256-<digest>` tag fallback is what is exercised): a failed
//! attachment leaves no version tag; a publish annotates every manifest and the index, keeps
//! the index to platform images, and attaches a provenance statement and a check report to
//! each platform manifest, which `plinth provenance` reads back.

use plinth_test::FaultProxy;
use plinth_test::proxy::{Fault, RequestMatcher, Rule};
use serde_json::Value;

use crate::fixture::{
    Catalog, REPOSITORY, assert_fails, assert_ok, assert_stderr_has, skopeo_digest, skopeo_json,
};

/// `skopeo inspect --raw` of `image` as JSON.
fn raw(image: &str) -> Value {
    skopeo_json(image, "--raw")
}

#[test]
fn published_versions_carry_annotations_provenance_and_check_reports() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("attest");
    let (revision, index_digest) = release_from_a_git_catalog(&c);
    let tagged = format!("{}:1.0.0", c.published());
    a_failed_attachment_leaves_no_tag(&c, &tagged, &index_digest);

    // The publish, directly: the same digest as recorded at release time.
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.0.0"]));
    assert_ok(&out);
    assert_stderr_has(&out, "Attached 8 attestations");
    assert_eq!(
        skopeo_digest(&tagged).as_deref(),
        Some(index_digest.as_str())
    );

    let index = raw(&tagged);
    assert_index_annotations(&c, &index, &revision);
    let subjects = assert_platform_manifests_and_referrers(&c, &index, &revision);
    assert_provenance_statements(&c, &tagged, &subjects, &index["annotations"]);
    assert_check_report(&c, &tagged, &subjects[1]);

    // A platform the image lacks is named.
    let out = c.run(&mut c.cmd(&["provenance", &tagged, "--platform", "linux/s390x"]));
    assert_fails(&out, 1, "linux/amd64, linux/arm64");

    // The catalog version names the same published image.
    let by_version = format!("{REPOSITORY}:1.0.0");
    for args in [&["provenance"][..], &["provenance", "--check-report"]] {
        let of_tag = c.run(&mut c.cmd(&[args, &[tagged.as_str()][..]].concat()));
        let of_version = c.run(&mut c.cmd(&[args, &[by_version.as_str()][..]].concat()));
        assert_ok(&of_version);
        assert_eq!(of_version.stdout, of_tag.stdout, "{args:?} {by_version}");
    }
    let out = c.run(&mut c.cmd(&["provenance", &format!("{REPOSITORY}:9.9.9")]));
    assert_fails(&out, 1, "9.9.9");

    // skopeo still copies the whole image.
    let layout = c.ctx.work_dir().join("copy");
    plinth_test::skopeo([
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{tagged}"),
        &format!("oci:{}:v", layout.display()),
    ]);
}

/// Releases 1.0.0 (unpublished) from a catalog that is a git repository whose remote URL has a
/// token, and commits the release's files, as a catalog's workflow does: the published image
/// still names the revision it was released from, so re-publishing reproduces its digest.
/// Returns the revision and the recorded index digest.
fn release_from_a_git_catalog(c: &Catalog) -> (String, String) {
    // A token in the remote URL must never reach an image.
    c.init_git(&[&[
        "remote",
        "add",
        "origin",
        "https://ci:s3cr3t-token@git.example.com/team/catalog.git",
    ]]);
    let revision = c.git(&["rev-parse", "HEAD"]).trim().to_owned();

    let out = c.run(&mut c.release_cmd("major", "First release", false));
    assert_ok(&out);
    c.git(&["add", "-A"]);
    c.git(&["commit", "-q", "-m", "release 1.0.0"]);
    let record = c.release_record();
    let recorded = record["versions"][0].clone();
    assert_eq!(recorded["revision"], revision.as_str());
    assert_eq!(
        recorded["source"],
        "https://git.example.com/team/catalog.git"
    );
    let index_digest = recorded["index_digest"].as_str().unwrap().to_owned();
    (revision, index_digest)
}

/// A failed attachment: the referrers tag cannot be written. No version tag appears; the image
/// itself went up by digest, ahead of its attachments.
fn a_failed_attachment_leaves_no_tag(c: &Catalog, tagged: &str, index_digest: &str) {
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
    assert_fails(&out, 1, "failed to attach the attestations");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("s3cr3t"),
        "{}",
        crate::fixture::text(&out)
    );
    assert_eq!(
        skopeo_digest(tagged),
        None,
        "no tag to an image without its attestations"
    );
    assert_eq!(
        raw(&format!("{}@{index_digest}", c.published()))["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
}

/// The index: platform images only, with the standard annotations.
fn assert_index_annotations(c: &Catalog, index: &Value, revision: &str) {
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
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
    assert_eq!(annotations["org.opencontainers.image.revision"], revision);
    assert_eq!(annotations["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(
        annotations["org.opencontainers.image.base.name"],
        c.root.as_str()
    );
    assert_eq!(
        annotations["org.opencontainers.image.base.digest"],
        root_index_digest(c),
        "the root is pinned, so the index names its digest"
    );
    assert!(annotations["org.opencontainers.image.created"].is_string());
}

/// The digest the root image is pinned to.
fn root_index_digest(c: &Catalog) -> &str {
    c.root.rsplit_once('@').unwrap().1
}

/// Each platform manifest's annotations, and its referrers tag listing a provenance, a check
/// report and two SBOMs. Returns the platform manifests' digests.
fn assert_platform_manifests_and_referrers(
    c: &Catalog,
    index: &Value,
    revision: &str,
) -> Vec<String> {
    let mut subjects = Vec::new();
    for entry in index["manifests"].as_array().unwrap() {
        let digest = entry["digest"].as_str().unwrap().to_owned();
        let manifest = raw(&format!("{}@{digest}", c.published()));
        let a = &manifest["annotations"];
        assert_eq!(a["org.opencontainers.image.version"], "1.0.0");
        assert_eq!(a["org.opencontainers.image.revision"], revision);
        assert!(
            a["org.opencontainers.image.base.digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:") && d != root_index_digest(c)),
            "a platform manifest names its root's platform manifest: {manifest}"
        );
        assert!(a["org.opencontainers.image.created"].is_string());
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
    subjects
}

/// The `sha256:…` digest an in-toto statement is about.
fn subject_of(statement: &Value) -> String {
    format!(
        "sha256:{}",
        statement["subject"][0]["digest"]["sha256"]
            .as_str()
            .unwrap()
    )
}

/// `plinth provenance`: one statement per platform, about that platform's manifest.
fn assert_provenance_statements(
    c: &Catalog,
    tagged: &str,
    subjects: &[String],
    annotations: &Value,
) {
    let out = c.run(&mut c.cmd(&["provenance", tagged]));
    assert_ok(&out);
    let statements: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statements = statements.as_array().unwrap();
    assert_eq!(statements.len(), 2);
    for (statement, subject) in statements.iter().zip(subjects) {
        assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(subject_of(statement), *subject);
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
}

/// The check report of the arm64 platform, about the arm64 manifest `subject`.
fn assert_check_report(c: &Catalog, tagged: &str, subject: &str) {
    let out = c.run(&mut c.cmd(&[
        "provenance",
        tagged,
        "--platform",
        "linux/arm64",
        "--check-report",
    ]));
    assert_ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["predicateType"],
        "https://example.invalid/plinth/check-report/v1"
    );
    assert_eq!(subject_of(&report), subject);
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
}
