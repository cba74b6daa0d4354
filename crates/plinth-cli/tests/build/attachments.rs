//! `plinth build --push` attaches what a release attaches (provenance, SBOMs, the check report
//! where checks ran); `plinth sbom` prefers an attached SBOM (from the registry through the
//! loopback registry's `sha256-<hex>` tag fallback, or from the local store) over generating
//! one; `plinth gc` keeps the attachments of a kept image and drops them with it.

use plinth_oci::{Store, store::GcOptions};
use plinth_test::{External, LocalRegistry, TestContext, output, require_external, stderr_of};

use crate::{busybox_layout, stdout_ok, write_dockerfile};

/// (name, version) of every SPDX package but the image itself.
fn spdx_packages(doc: &serde_json::Value) -> Vec<(String, String)> {
    let mut packages: Vec<_> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] != "CONTAINER")
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    packages.sort();
    packages
}

/// A busybox image with one pip-installed distribution, pushed with `--cst` checks.
fn push_checked_image(ctx: &TestContext, registry: &LocalRegistry) -> (String, String) {
    let root = busybox_layout(ctx.temp_dir());
    let dockerfile = write_dockerfile(
        ctx,
        &format!(
            "FROM {root}\n\
             RUN d=/usr/local/lib/python3.11/site-packages/attrs-23.2.0.dist-info && mkdir -p $d && \
             printf 'Metadata-Version: 2.1\\nName: attrs\\nVersion: 23.2.0\\nLicense-Expression: MIT\\n' > $d/METADATA\n"
        ),
    );
    let cst = ctx.temp_dir().join("checks.yaml");
    std::fs::write(
        &cst,
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: busybox\n    path: /bin/busybox\n    shouldExist: true\n",
    )
    .unwrap();
    let image = registry.image(&format!("attach/build-{}:1", std::process::id()));
    let digest = stdout_ok(
        ctx,
        ctx.build_push(&image)
            .arg("-f")
            .arg(&dockerfile)
            .arg("--cst")
            .arg(&cst),
    );
    (image, digest.trim().to_owned())
}

#[test]
fn a_pushed_build_attaches_sboms_and_checks_and_sbom_reads_them_back() {
    if !require_external(External::Root) {
        return;
    }
    let registry = LocalRegistry::shared();
    let ctx = TestContext::new();
    let (image, digest) = push_checked_image(&ctx, registry);

    // A fresh store: the SBOM comes from the registry, found under the referrers tag.
    let fresh = TestContext::new();
    let attached = output(&fresh, fresh.plinth().args(["sbom", &image]));
    assert!(attached.status.success());
    let stderr = stderr_of(&attached);
    assert!(
        stderr.contains("using the spdx SBOM attached to")
            && stderr.contains(&format!("under the sha256-{} tag", &digest[7..])),
        "{stderr}"
    );
    let spdx: serde_json::Value = serde_json::from_slice(&attached.stdout).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert!(
        spdx_packages(&spdx).contains(&("attrs".to_owned(), "23.2.0".to_owned())),
        "{spdx}"
    );
    assert!(
        serde_json::to_string(&spdx).unwrap().contains(&digest[7..]),
        "the attached document names the pushed manifest"
    );
    // `--generate` reads the layers instead, and finds the same packages.
    let generated = output(&fresh, fresh.plinth().args(["sbom", "--generate", &image]));
    assert!(generated.status.success());
    assert!(!stderr_of(&generated).contains("attached"));
    let generated: serde_json::Value = serde_json::from_slice(&generated.stdout).unwrap();
    assert_eq!(spdx_packages(&generated), spdx_packages(&spdx));
    assert_eq!(
        spdx["packages"][0]["externalRefs"], generated["packages"][0]["externalRefs"],
        "the attached document names the image by its pushed reference, as `--generate` does"
    );
    assert!(
        spdx["packages"][0]["externalRefs"][0]["referenceLocator"]
            .as_str()
            .is_some_and(|purl| purl.starts_with("pkg:oci/build-")),
        "{}",
        spdx["packages"][0]
    );
    let cdx = output(
        &fresh,
        fresh
            .plinth()
            .args(["sbom", "--format", "cyclonedx", &image]),
    );
    assert!(stderr_of(&cdx).contains("using the cyclonedx SBOM attached"));
    let cdx: serde_json::Value = serde_json::from_slice(&cdx.stdout).unwrap();
    assert_eq!(cdx["specVersion"], "1.5");

    // The checks ran, so their report travels with the image.
    let report = stdout_ok(
        &fresh,
        fresh
            .plinth()
            .args(["provenance", "--check-report", &image]),
    );
    assert!(report.contains("busybox"), "{report}");

    // gc keeps the attachments of the kept image: the store's copy is the registry's.
    stdout_ok(&ctx, ctx.plinth().args(["gc", "--now"]));
    let local = output(&ctx, ctx.plinth().args(["sbom", &image]));
    assert!(local.status.success());
    assert!(
        stderr_of(&local).contains("found in the local store"),
        "{}",
        stderr_of(&local)
    );
    assert_eq!(local.stdout, attached.stdout, "the same attached bytes");

    // Once nothing keeps the image, gc drops its attachments with it.
    let store = Store::open(ctx.plinth_home()).unwrap();
    let subject: plinth_oci::Digest = digest.parse().unwrap();
    let attachments = store.attachments_of(&subject).unwrap();
    assert_eq!(attachments.len(), 4, "provenance, check report, two SBOMs");
    for r in store.list_refs().unwrap() {
        if !r.name.starts_with("attachments/") {
            store.delete_ref(&r.name).unwrap();
        }
    }
    let report = store.gc(&GcOptions::immediate()).unwrap();
    assert_eq!(report.attachment_refs_removed, 4);
    assert!(store.attachments_of(&subject).unwrap().is_empty());
    for artifact in attachments {
        assert!(!store.has_blob(&artifact.digest));
    }
}
