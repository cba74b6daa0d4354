//! `plinth outdated`: a recipe's pins against a Debian archive and PyPI, and its pinned root
//! against its registry. One test serves a saved copy of bookworm's index (the real paragraphs of
//! socat, poppler-utils and tesseract-ocr, `data/Packages.xz`) and a saved PyPI answer from a
//! loopback server, so it does not depend on the archive's state; one asks Debian's archive and
//! PyPI themselves.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use plinth_oci::Digest;
use plinth_test::images::push_busybox_with_plinth;
use plinth_test::{
    External, FileServer, LocalRegistry, TestContext, format_output, output, require_external,
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

fn write_dockerfile(ctx: &TestContext, text: &str) -> String {
    let path = ctx.temp_dir().join("Dockerfile");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The saved index's path in a mirror.
const INDEX: &str = "/debian/dists/bookworm/main/binary-amd64/Packages.xz";

/// Runs `program` with `args`, panicking with its output when it fails.
fn run_ok(program: &str, args: &[&str], env: &[(&str, &Path)]) {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        format_output(&out)
    );
}

/// A loopback Debian mirror for `bookworm` (and PyPI's answer about pip), its `InRelease`
/// signed with a key made for this test (`keyring`) and listing `listed`'s size and sha256 for
/// `main/binary-amd64/Packages.xz`, while the mirror serves `served` there.
struct SignedMirror {
    server: FileServer,
    keyring: String,
}

fn signed_mirror(ctx: &TestContext, name: &str, listed: &[u8], served: Vec<u8>) -> SignedMirror {
    let dir = ctx.temp_dir().join(format!("archive-{name}"));
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let env = [("GNUPGHOME", home.as_path())];
    let gpg = |args: &[&str]| {
        run_ok(
            "gpg",
            &[
                &["--batch", "--pinentry-mode", "loopback", "--passphrase", ""],
                args,
            ]
            .concat(),
            &env,
        )
    };
    gpg(&[
        "--quick-gen-key",
        "plinth test archive <archive@plinth.invalid>",
        "ed25519",
        "sign",
        "never",
    ]);
    let keyring = dir.join("keyring.gpg");
    gpg(&["--output", keyring.to_str().unwrap(), "--export"]);
    let date = Command::new("date")
        .args(["-u", "+%a, %d %b %Y %H:%M:%S UTC"])
        .output()
        .unwrap();
    let release = format!(
        "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: {}\nArchitectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages.xz\n",
        String::from_utf8(date.stdout).unwrap().trim(),
        Digest::of(listed).hex(),
        listed.len()
    );
    let (release_path, in_release) = (dir.join("Release"), dir.join("InRelease"));
    std::fs::write(&release_path, release).unwrap();
    gpg(&[
        "--output",
        in_release.to_str().unwrap(),
        "--clearsign",
        release_path.to_str().unwrap(),
    ]);
    run_ok("gpgconf", &["--kill", "gpg-agent"], &env);
    let server = FileServer::start(BTreeMap::from([
        (
            "/debian/dists/bookworm/InRelease".to_owned(),
            std::fs::read(&in_release).unwrap(),
        ),
        (INDEX.to_owned(), served),
        ("/pypi/pip/json".to_owned(), data("pypi-pip.json")),
    ]));
    SignedMirror {
        server,
        keyring: keyring.display().to_string(),
    }
}

impl SignedMirror {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.server
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

#[test]
fn outdated_names_vanished_pins_and_moved_roots_from_a_saved_archive_index() {
    require_external!(
        External::Tool("docker-registry"),
        External::Tool("gpg"),
        External::Tool("gpgv")
    );
    let registry = LocalRegistry::start();
    let ctx = TestContext::new().with_registry_filter(&registry);
    let tag = format!("{}/base/busybox:1", registry.host());
    let old = push_busybox_with_plinth(&ctx, Some("old"), &tag);
    let dockerfile = write_dockerfile(&ctx, &format!("FROM {tag}@{old}\n{PINS}"));
    // The tag moves on after the recipe pinned it.
    let new = push_busybox_with_plinth(&ctx, Some("new"), &tag);
    assert_ne!(old, new);

    let index = data("Packages.xz");
    let mirror = signed_mirror(&ctx, "saved", &index, index.clone());
    let base = mirror.base();
    let outdated = |json: bool| {
        let mut cmd = ctx.plinth();
        cmd.args([
            "--apt-mirror",
            &format!("{base}/debian"),
            "--apt-keyring",
            &mirror.keyring,
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
    assert_eq!(apt[0]["suggested"], Value::Null, "an installable pin stays");
    assert_eq!(apt[1]["suggested"], "poppler-utils=22.12.0-2+deb12u2");
    let pip = report["pip"].as_array().unwrap();
    assert_eq!(pip[0]["pin"], "pip==24.0");
    assert_eq!(pip[0]["installable"], true);
    assert_eq!(pip[0]["latest"], "26.3");
    assert_eq!(pip[0]["newer"], true);
    assert_eq!(pip[0]["suggested"], "pip==26.3");
    assert_eq!(pip[1]["pin"], "plinth-test-no-such-package==1.0");
    assert_eq!(pip[1]["installable"], false);
    assert_eq!(pip[1]["latest"], Value::Null);
    assert_eq!(
        pip[1]["suggested"],
        Value::Null,
        "PyPI knows no such package"
    );
    assert_eq!(
        report["indexes"],
        serde_json::json!([format!(
            "{base}/debian/dists/bookworm/main/binary-amd64/Packages.xz"
        )])
    );

    assert_eq!(mirror.hits("/debian/dists/bookworm/InRelease"), 1);
    assert_eq!(mirror.hits(INDEX), 1);

    // The second run reads the index from the store: the InRelease is asked again (it says
    // whether anything changed), the index is not.
    let out = outdated(false);
    assert_eq!(mirror.hits("/debian/dists/bookworm/InRelease"), 2);
    assert_eq!(mirror.hits(INDEX), 1, "the index is cached on the release");
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
    require_external!(External::Tool("gpg"), External::Tool("gpgv"));
    let ctx = TestContext::new();
    let dockerfile = write_dockerfile(&ctx, &format!("FROM plinth/debian:bookworm\n{PINS}"));
    let index = data("Packages.xz");
    let mirror = signed_mirror(&ctx, "root", &index, index.clone());
    let base = mirror.base();
    let out = output(
        &ctx,
        ctx.plinth()
            .args([
                "--apt-mirror",
                &format!("{base}/debian"),
                "--apt-keyring",
                &mirror.keyring,
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

#[test]
fn outdated_refuses_an_unsigned_release_and_an_index_its_release_does_not_list() {
    require_external!(External::Tool("gpg"), External::Tool("gpgv"));
    let ctx = TestContext::new();
    let dockerfile = write_dockerfile(&ctx, &format!("FROM plinth/debian:bookworm\n{PINS}"));
    let outdated = |mirror: &SignedMirror, keyring: Option<&str>| {
        let base = mirror.base();
        let mut cmd = ctx.plinth();
        cmd.args(["--apt-mirror", &format!("{base}/debian")]);
        if let Some(keyring) = keyring {
            cmd.args(["--apt-keyring", keyring]);
        }
        cmd.args([
            "outdated",
            "-f",
            &dockerfile,
            "--platform",
            "linux/amd64",
            "--pypi",
            &base,
        ]);
        output(&ctx, &mut cmd)
    };
    let index = data("Packages.xz");

    // Signed, but not by a key of Debian's keyring (the default).
    let mirror = signed_mirror(&ctx, "unknown-key", &index, index.clone());
    let out = outdated(&mirror, None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!(
            "refusing the Debian archive at `{}/debian/dists/bookworm/InRelease`",
            mirror.base()
        )),
        "{err}"
    );
    assert!(
        err.contains(
            "its signature does not verify against `/usr/share/keyrings/debian-archive-keyring.gpg`"
        ),
        "{err}"
    );
    assert_eq!(
        mirror.hits(INDEX),
        0,
        "nothing past a refused InRelease is read"
    );

    // A genuine release over an index that is not the one it lists.
    let mut corrupt = index.clone();
    corrupt[100] ^= 0xff;
    let mirror = signed_mirror(&ctx, "corrupt-index", &index, corrupt.clone());
    let out = outdated(&mirror, Some(&mirror.keyring));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!(
            "refusing the Debian archive at `{}{INDEX}`: it is {} bytes with {}, but the signed `InRelease`",
            mirror.base(),
            corrupt.len(),
            Digest::of(&corrupt)
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "lists {} bytes with {}",
            index.len(),
            Digest::of(&index)
        )),
        "{err}"
    );
    assert_eq!(mirror.hits(INDEX), 1);
}
