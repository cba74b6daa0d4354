//! `plinth build --tag REF --push`: the pushed manifest carries the standard annotations, the
//! provenance of each platform is attached to it before the tag is written, and `plinth
//! provenance REF` reads it back through the loopback registry's tag fallback.

use plinth_oci::Digest;
use plinth_test::{External, LocalRegistry, require_external, skopeo_json};

use crate::{busybox_layout, output, stdout_ok};

#[test]
fn a_pushed_build_carries_its_provenance() {
    if !require_external(External::Root) {
        return;
    }
    let registry = LocalRegistry::shared();
    let ctx = plinth_test::TestContext::new().with_registry_filter(registry);
    let root = busybox_layout(ctx.temp_dir());
    let context = ctx.temp_dir().join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("hello.txt"), "hello\n").unwrap();
    let dockerfile = format!(
        "FROM {root}\nARG TOKEN\nCOPY hello.txt /hello.txt\nRUN [\"sh\", \"-c\", \"echo built > /built\"]\n"
    );
    std::fs::write(context.join("Dockerfile"), &dockerfile).unwrap();
    let image = registry.image(&format!("provenance/build-{}:1", std::process::id()));
    let digest = stdout_ok(
        &ctx,
        ctx.build_push(&image)
            .args(["--build-arg", "TOKEN=hunter2"])
            .arg(&context),
    );
    let digest = digest.trim();

    let out = output(&ctx, ctx.plinth().args(["provenance", &image]));
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("hunter2"),
        "a build arg's value is never attested"
    );
    let statements: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let [statement] = statements.as_array().unwrap().as_slice() else {
        panic!("one platform, one statement: {statements}")
    };
    assert_eq!(
        format!(
            "sha256:{}",
            statement["subject"][0]["digest"]["sha256"]
                .as_str()
                .unwrap()
        ),
        digest,
        "about the pushed manifest"
    );
    let definition = &statement["predicate"]["buildDefinition"];
    let recipe = &definition["externalParameters"]["recipe"];
    assert_eq!(recipe["source"], "dockerfile");
    assert_eq!(
        recipe["digest"],
        Digest::of(dockerfile.as_bytes()).to_string()
    );
    assert_eq!(
        recipe["buildArgs"]["TOKEN"],
        Digest::of(b"hunter2").to_string()
    );
    assert_eq!(definition["externalParameters"]["platform"], "linux/amd64");
    let deps = definition["resolvedDependencies"].as_array().unwrap();
    let kind = |k: &str| {
        deps.iter()
            .find(|d| d["annotations"]["kind"] == k)
            .unwrap_or_else(|| panic!("no {k} in {deps:?}"))
    };
    assert_eq!(kind("root-image")["name"], root.as_str());
    assert_eq!(
        kind("root-image")["digest"]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let hello = kind("host-file");
    assert!(hello["name"].as_str().unwrap().ends_with("hello.txt"));
    assert_eq!(hello["digest"]["sha256"], Digest::of(b"hello\n").hex());
    assert_eq!(
        statement["predicate"]["runDetails"]["builder"]["version"]["engine"],
        "embedded"
    );
    assert_annotated(&image, digest, &root, kind("root-image"));
    assert_eq!(
        definition["externalParameters"]["annotations"],
        serde_json::json!({"org.opencontainers.image.base.name": root}),
        "what the rebuild is annotated with"
    );
    assert_eq!(
        definition["externalParameters"]["platforms"],
        serde_json::json!(["linux/amd64"])
    );
    // No checks ran: no check report is attached.
    let report = output(
        &ctx,
        ctx.plinth().args(["provenance", "--check-report", &image]),
    );
    assert!(!report.status.success());
    assert!(
        String::from_utf8_lossy(&report.stderr).contains("no check report is attached"),
        "{report:?}"
    );
}

/// The pushed manifest `digest` of `image` carries the standard annotations `publish` writes,
/// as far as they are known: the root as the Dockerfile names it, its platform manifest (the
/// provenance's `root_dependency`), the reproducible `created`; no source or revision (the
/// context is no git checkout) and no version (a Dockerfile has none). Its attestations are
/// found through the referrers tag schema's `sha256-<hex>` tag (distribution 2.x has no
/// referrers API).
fn assert_annotated(image: &str, digest: &str, root: &str, root_dependency: &serde_json::Value) {
    let manifest = skopeo_json([
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{image}"),
    ]);
    let annotations = manifest["annotations"]
        .as_object()
        .unwrap_or_else(|| panic!("the pushed manifest has no annotations: {manifest}"));
    assert_eq!(annotations["org.opencontainers.image.base.name"], root);
    assert_eq!(
        annotations["org.opencontainers.image.base.digest"],
        format!(
            "sha256:{}",
            root_dependency["digest"]["sha256"].as_str().unwrap()
        )
    );
    assert_eq!(
        annotations["org.opencontainers.image.created"],
        "1970-01-01T00:00:00Z"
    );
    for unknown in ["source", "revision", "version"] {
        let key = format!("org.opencontainers.image.{unknown}");
        assert!(!annotations.contains_key(&key), "{key} is not invented");
    }
    let repository = image.rsplit_once(':').unwrap().0;
    let tags = skopeo_json([
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{repository}"),
    ]);
    let fallback = digest.replace(':', "-");
    assert!(
        tags["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| *t == *fallback),
        "the attestations of {digest} are under the tag {fallback}: {tags}"
    );
}

/// The same Dockerfile built by the embedded engine and by BuildKit: both provenances name the
/// same inputs with the same digests — the root by its platform manifest (the index it was
/// chosen from named as `indexDigest`), the host file by content, the host directory by the
/// tree digest both executors share — and differ only in the builder.
#[test]
fn both_engines_attest_the_same_inputs_with_the_same_digests() {
    if !require_external(External::Root) || !require_external(External::Docker) {
        return;
    }
    let registry = LocalRegistry::shared();
    let ctx = plinth_test::TestContext::new().with_registry_filter(registry);
    let pid = std::process::id();
    let root = registry.image(&format!("provenance/engines-root-{pid}:1"));
    let index = plinth_test::images::push_busybox_with_plinth(&ctx, None, &root);
    let context = ctx.temp_dir().join("context");
    std::fs::create_dir_all(context.join("dir/sub")).unwrap();
    std::fs::write(context.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(context.join("dir/a"), "a\n").unwrap();
    std::fs::write(context.join("dir/sub/b"), "b\n").unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            "FROM {root}\nCOPY hello.txt /hello.txt\nCOPY dir/ /opt/dir/\n\
             RUN [\"sh\", \"-c\", \"echo built > /built\"]\n"
        ),
    )
    .unwrap();
    let statement = |engine: &str| -> serde_json::Value {
        let image = registry.image(&format!("provenance/engines-{pid}:{engine}"));
        stdout_ok(
            &ctx,
            ctx.build_push(&image)
                .args(["--engine", engine])
                .arg(&context),
        );
        let out = output(&ctx, ctx.plinth().args(["provenance", &image]));
        assert!(out.status.success(), "{out:?}");
        let statements: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        statements[0]["predicate"].clone()
    };
    let embedded = statement("embedded");
    let buildkit = statement("buildkit");

    let definition = |p: &serde_json::Value| p["buildDefinition"].clone();
    assert_eq!(
        definition(&embedded),
        definition(&buildkit),
        "the same recipe and inputs"
    );
    assert_eq!(
        embedded["runDetails"]["builder"]["version"]["engine"],
        "embedded"
    );
    assert_eq!(
        buildkit["runDetails"]["builder"]["version"]["engine"],
        "buildkit"
    );

    let deps = embedded["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .clone();
    let kind = |k: &str| {
        deps.iter()
            .find(|d| d["annotations"]["kind"] == k)
            .unwrap_or_else(|| panic!("no {k} in {deps:?}"))
            .clone()
    };
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{root}"))
        .output()
        .unwrap();
    let raw: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let amd64 = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let root_dep = kind("root-image");
    assert_eq!(
        format!("sha256:{}", root_dep["digest"]["sha256"].as_str().unwrap()),
        amd64,
        "the platform manifest digest"
    );
    assert_eq!(root_dep["annotations"]["indexDigest"], index.as_str());
    let directory = kind("host-directory");
    assert!(
        directory["name"].as_str().unwrap().ends_with("dir"),
        "{directory}"
    );
    assert_eq!(
        directory["digest"]["sha256"].as_str().map(str::len),
        Some(64),
        "a host directory has its digest: {directory}"
    );
    assert_eq!(
        kind("host-file")["digest"]["sha256"],
        Digest::of(b"hello\n").hex()
    );
}
