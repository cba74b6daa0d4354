//! `plinth sbom`: generated from what is in a built image, read from the store, an OCI layout
//! and a registry.

use plinth_test::{External, TestContext, require_external};

use super::{build_amd64, busybox_layout, run_amd64_args, stdout_ok, write_dockerfile};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The SPDX packages named `name`: (versionInfo, purl).
fn spdx_packages(doc: &serde_json::Value, name: &str) -> Vec<(String, String)> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| {
            (
                p["versionInfo"].as_str().unwrap_or_default().to_owned(),
                p["externalRefs"][0]["referenceLocator"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_debian_root_with_socat_lists_socat_at_its_dpkg_version() {
    require_external!(
        External::Root,
        External::Tool("mmdebstrap"),
        External::Tool("gpgv")
    );
    let ctx = TestContext::new();
    // The run's shared minbase root; socat comes from the archive, into dpkg's status.
    ctx.seed_debian_root("plinth/debian:bookworm-minbase");
    let dockerfile = write_dockerfile(
        &ctx,
        "FROM plinth/debian:bookworm-minbase\n\
         RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends socat && rm -rf /var/lib/apt/lists/*\n\
         RUN echo built > /built\n",
    );
    let out = ctx.temp_dir().join("out");
    stdout_ok(
        &ctx,
        build_amd64(&ctx, &dockerfile).args([
            "--tag",
            "test/socat",
            "--output",
            &format!("oci:{}:v1", out.display()),
        ]),
    );
    // What dpkg itself says is installed.
    let version = stdout_ok(
        &ctx,
        ctx.plinth().args(run_amd64_args(
            "test/socat",
            &["dpkg-query", "-W", "-f=${Version}", "socat"],
        )),
    );
    assert!(!version.is_empty());
    let spdx = json(&stdout_ok(&ctx, ctx.plinth().args(["sbom", "test/socat"])));
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let encoded = version.replace('+', "%2B").replace(':', "%3A");
    assert_eq!(
        spdx_packages(&spdx, "socat"),
        [(
            version.clone(),
            format!("pkg:deb/debian/socat@{encoded}?arch=amd64&distro=debian-12")
        )]
    );
    assert!(
        spdx["packages"].as_array().unwrap().len() > 80,
        "every package of the root is listed"
    );
    assert_eq!(spdx["creationInfo"]["created"], "1970-01-01T00:00:00Z");

    // The same image from its OCI layout, as CycloneDX, into a file: the same subject digest.
    let file = ctx.temp_dir().join("sbom.cdx.json");
    stdout_ok(
        &ctx,
        ctx.plinth().args([
            "sbom",
            &format!("oci:{}:v1", out.display()),
            "--format",
            "cyclonedx",
            "-o",
            file.to_str().unwrap(),
        ]),
    );
    let cdx = json(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(cdx["specVersion"], "1.5");
    assert_eq!(
        cdx["metadata"]["component"]["version"], spdx["packages"][0]["versionInfo"],
        "both name the same manifest digest"
    );
    let socat: Vec<_> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "socat")
        .collect();
    assert_eq!(socat.len(), 1);
    assert_eq!(socat[0]["version"], version.as_str());
}

#[test]
fn python_distributions_in_a_pushed_image_are_listed_from_the_registry() {
    if !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let registry = plinth_test::LocalRegistry::shared();
    let root = busybox_layout(ctx.temp_dir());
    let site = ctx.temp_dir().join("site");
    let dist_info = site.join("attrs-23.2.0.dist-info");
    std::fs::create_dir_all(&dist_info).unwrap();
    std::fs::write(
        dist_info.join("METADATA"),
        "Metadata-Version: 2.1\nName: attrs\nVersion: 23.2.0\nLicense-Expression: MIT\n",
    )
    .unwrap();
    std::fs::write(dist_info.join("RECORD"), "attrs/__init__.py,,\n").unwrap();
    let dockerfile = write_dockerfile(
        &ctx,
        &format!(
            "FROM {root}\n\
             COPY site /usr/local/lib/python3.11/site-packages\n\
             RUN d=/usr/local/lib/python3.11/site-packages/Poetry_Core-1.9.0.dist-info && mkdir -p $d && \
             printf 'Metadata-Version: 2.1\\nName: poetry-core\\nVersion: 1.9.0\\nClassifier: License :: OSI Approved :: MIT License\\n' > $d/METADATA\n"
        ),
    );
    let image = registry.image(&format!("sbom/python-{}:1", std::process::id()));
    stdout_ok(&ctx, ctx.build_push(&image).arg("-f").arg(&dockerfile));
    // A fresh store: the image comes from the registry.
    let fresh = TestContext::new();
    let spdx = json(&stdout_ok(
        &fresh,
        fresh
            .plinth()
            .args(["sbom", "--generate", &format!("docker://{image}")]),
    ));
    assert_eq!(
        spdx_packages(&spdx, "attrs"),
        [("23.2.0".to_owned(), "pkg:pypi/attrs@23.2.0".to_owned())]
    );
    assert_eq!(
        spdx_packages(&spdx, "poetry-core"),
        [("1.9.0".to_owned(), "pkg:pypi/poetry-core@1.9.0".to_owned())]
    );
    let attrs = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "attrs")
        .unwrap();
    assert_eq!(attrs["licenseDeclared"], "MIT");
    assert_eq!(
        spdx["packages"][0]["checksums"][0]["checksumValue"]
            .as_str()
            .map(str::len),
        Some(64),
        "the pushed manifest's digest is the subject"
    );
}
