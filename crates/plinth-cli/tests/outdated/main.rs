//! `plinth outdated`: a recipe's pins against a Debian archive and PyPI, and its pinned root
//! against its registry. One test serves a saved copy of bookworm's index (the real paragraphs of
//! socat, poppler-utils and tesseract-ocr, `data/Packages.xz`) and a saved PyPI answer from a
//! loopback server, so it does not depend on the archive's state; one asks Debian's archive and
//! PyPI themselves.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use plinth_oci::Store;
use plinth_oci::layout::OciLayout;
use plinth_test::images::BusyboxImage;
use plinth_test::{
    External, FileServer, LocalRegistry, TestContext, format_output, require_external,
};
use serde_json::Value;

const PINS: &str = "RUN apt-get update && apt-get install -y socat=1.7.4.4-2 poppler-utils=22.12.0-2+b1\n\
                    RUN pip install --upgrade pip==24.0 plinth-test-no-such-package==1.0\n";

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/outdated/data")
            .join(name),
    )
    .unwrap()
}

#[allow(
    clippy::print_stderr,
    reason = "the command's output explains a failing assertion"
)]
fn output(ctx: &TestContext, cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    eprintln!("{}", ctx.filter(&format_output(&out)));
    out
}

/// Pushes a busybox image made with `seed` to `target`; returns its index digest.
fn push_busybox(ctx: &TestContext, seed: &str, target: &str) -> String {
    let dir = ctx.temp_dir().join(format!("image-{seed}"));
    let store = Store::open(dir.join("store")).unwrap();
    let image = BusyboxImage::builder().with_seed(seed).build(&store);
    let layout = dir.join("layout");
    OciLayout::create(&layout)
        .unwrap()
        .export_from_store(&store, &image.index, Some("v1"))
        .unwrap();
    let out = output(
        ctx,
        ctx.plinth().args([
            "copy",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{target}"),
        ]),
    );
    assert!(out.status.success());
    image.index.digest.to_string()
}

fn write_dockerfile(ctx: &TestContext, text: &str) -> String {
    let path = ctx.temp_dir().join("Dockerfile");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn outdated_names_vanished_pins_and_moved_roots_from_a_saved_archive_index() {
    require_external!(External::Tool("docker-registry"));
    let registry = LocalRegistry::start();
    let ctx = TestContext::new().with_registry_filter(&registry);
    let tag = format!("{}/base/busybox:1", registry.host());
    let old = push_busybox(&ctx, "old", &tag);
    let dockerfile = write_dockerfile(&ctx, &format!("FROM {tag}@{old}\n{PINS}"));
    // The tag moves on after the recipe pinned it.
    let new = push_busybox(&ctx, "new", &tag);
    assert_ne!(old, new);

    let mirror = FileServer::start(BTreeMap::from([
        (
            "/debian/dists/bookworm/main/binary-amd64/Packages.xz".to_owned(),
            data("Packages.xz"),
        ),
        ("/pypi/pip/json".to_owned(), data("pypi-pip.json")),
    ]));
    let base = format!("http://127.0.0.1:{}", mirror.port);
    let outdated = |json: bool| {
        let mut cmd = ctx.plinth();
        cmd.args([
            "--apt-mirror",
            &format!("{base}/debian"),
            "outdated",
            "-f",
            &dockerfile,
        ])
        .args([
            "--platform",
            "linux/amd64",
            "--suite",
            "bookworm",
            "--pypi",
            &base,
        ]);
        if json {
            cmd.arg("--json");
        }
        output(&ctx, &mut cmd)
    };

    let out = outdated(true);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a pin that cannot install exits 1"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = &report["roots"][0];
    assert_eq!(root["tag"], "1");
    assert_eq!(root["pinned"], old.as_str());
    assert_eq!(root["current"], new.as_str());
    let amd64 = &root["platforms"][0];
    assert_eq!(amd64["platform"], "linux/amd64");
    assert_ne!(amd64["pinned"], amd64["current"], "{root}");
    assert_eq!(report["suites"][0]["suite"], "bookworm");
    assert_eq!(report["suites"][0]["from"], "given");

    let apt = report["apt"].as_array().unwrap();
    assert_eq!(apt.len(), 2);
    assert_eq!(apt[0]["pin"], "socat=1.7.4.4-2");
    assert_eq!(apt[0]["installable"], true);
    assert_eq!(apt[1]["pin"], "poppler-utils=22.12.0-2+b1");
    assert_eq!(apt[1]["step"], 2);
    assert_eq!(apt[1]["installable"], false);
    assert_eq!(
        apt[1]["available"],
        serde_json::json!([{"version": "22.12.0-2+deb12u2", "suite": "bookworm"}])
    );
    let pip = report["pip"].as_array().unwrap();
    assert_eq!(pip[0]["pin"], "pip==24.0");
    assert_eq!(pip[0]["installable"], true);
    assert_eq!(pip[0]["latest"], "26.3");
    assert_eq!(pip[0]["newer"], true);
    assert_eq!(pip[1]["pin"], "plinth-test-no-such-package==1.0");
    assert_eq!(pip[1]["installable"], false);
    assert_eq!(pip[1]["latest"], Value::Null);
    assert_eq!(
        report["indexes"],
        serde_json::json!([format!(
            "{base}/debian/dists/bookworm/main/binary-amd64/Packages.xz"
        )])
    );

    let out = outdated(false);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "root {tag}@{old}: the tag 1 moved from {old} to {new}"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "poppler-utils=22.12.0-2+b1  #2    linux/amd64  not in bookworm: it carries 22.12.0-2+deb12u2 (bookworm)"
        ),
        "{text}"
    );
    assert!(text.contains("pip==24.0"), "{text}");
    assert!(
        text.ends_with(&format!(
            "2 pin(s) cannot install; a build of {dockerfile} fails at them\n"
        )),
        "{text}"
    );
}

#[test]
fn outdated_against_debians_archive_and_pypi() {
    let ctx = TestContext::new();
    let dockerfile = write_dockerfile(
        &ctx,
        &format!("FROM docker.io/library/debian:bookworm\n{PINS}"),
    );
    let out = output(
        &ctx,
        ctx.plinth().args([
            "outdated",
            "-f",
            &dockerfile,
            "--platform",
            "linux/amd64,linux/arm64",
            "--suite",
            "bookworm",
            "--json",
        ]),
    );
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Debian dropped the +b1 rebuild for its point-release updates; the archive carries those.
    let apt = report["apt"].as_array().unwrap();
    assert_eq!(apt.len(), 4, "two pins on two platforms");
    for pin in apt.iter().filter(|p| p["name"] == "poppler-utils") {
        assert_eq!(pin["installable"], false, "{pin}");
        let versions: Vec<&str> = pin["available"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert!(!versions.is_empty(), "{pin}");
        assert!(
            versions.iter().all(|v| v.starts_with("22.12.0-2+deb12u")),
            "{versions:?}"
        );
    }
    assert!(
        apt.iter()
            .filter(|p| p["name"] == "socat")
            .all(|p| p["installable"] == true)
    );
    let indexes = report["indexes"].as_array().unwrap();
    assert!(
        indexes
            .iter()
            .any(|u| u
                == "http://deb.debian.org/debian/dists/bookworm/main/binary-arm64/Packages.xz"),
        "{indexes:?}"
    );
    assert_eq!(report["pip"][0]["newer"], true);
    assert_eq!(report["pip"][1]["installable"], false);
}

#[test]
fn a_debian_root_is_checked_against_its_own_suite() {
    let ctx = TestContext::new();
    let dockerfile = write_dockerfile(&ctx, &format!("FROM plinth/debian:bookworm\n{PINS}"));
    let mirror = FileServer::start(BTreeMap::from([
        (
            "/debian/dists/bookworm/main/binary-amd64/Packages.xz".to_owned(),
            data("Packages.xz"),
        ),
        ("/pypi/pip/json".to_owned(), data("pypi-pip.json")),
    ]));
    let base = format!("http://127.0.0.1:{}", mirror.port);
    let out = output(
        &ctx,
        ctx.plinth()
            .args([
                "--apt-mirror",
                &format!("{base}/debian"),
                "outdated",
                "-f",
                &dockerfile,
            ])
            .args(["--platform", "linux/amd64", "--pypi", &base]),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "apt pins on linux/amd64 checked against bookworm (the Debian root's suite)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("not in bookworm: it carries 22.12.0-2+deb12u2 (bookworm)"),
        "{text}"
    );
    // No registry is asked: the root is made, not pulled.
    assert!(!text.contains("root "), "{text}");
}
