//! Roots made from Debian's archive (`Container::from_debian`): reproducible, cached on the
//! archive state, verified against Debian's keyring, amd64 and arm64.
//!
//! The archive is Debian's own (deb.debian.org), reached through a recording proxy or a
//! loopback mirror serving tampered copies of its files.

use std::collections::BTreeMap;
use std::process::Command;

use plinth_engine::{
    BuildOptions, CacheStatus, DEBIAN_ARCHIVE_LABEL, DEBIAN_ROOT_LABEL, DiscardOutput, RunOptions,
};
use plinth_oci::Platform;
use plinth_recipe::{Container, DebianRoot};
use plinth_test::{External, FaultProxy, FileServer, require_external};

use crate::common::{TestEngine, config_of, error_chain, ok, require_root};

const UPSTREAM: &str = "deb.debian.org:80";

fn minbase() -> DebianRoot {
    DebianRoot::new("bookworm").unwrap()
}

/// The requests a bootstrap made: `InRelease` GETs and `.deb` GETs.
fn count(proxy: &FaultProxy, suffix: &str) -> usize {
    proxy
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(suffix))
        .count()
}

#[test]
fn debian_root_is_reproducible_recorded_and_cached_on_the_archive_state() {
    if !require_root() {
        return;
    }
    require_external!(External::Tool("mmdebstrap"), External::Tool("gpgv"));
    let proxy = FaultProxy::try_start_to(UPSTREAM).unwrap();
    let mirror = format!("{}/debian", proxy.url());
    let engine =
        |epoch| TestEngine::with(|c| c.with_apt_mirror(&mirror).with_source_date_epoch(epoch));
    let recipe = Container::from_debian(minbase()).with_exec([
        "sh",
        "-c",
        "dpkg-query -W -f='${Version}' dpkg > /dpkg-version",
    ]);
    let amd64 = Platform::linux_amd64();
    let options = BuildOptions::new([amd64.clone()]);

    // 1. Made from the archive: packages downloaded, the state and every version recorded.
    let a = engine(Some(0));
    let first = ok(a.engine.build(&recipe, &options));
    let steps = &first.platforms[0].steps;
    assert_eq!(
        steps[0].status,
        CacheStatus::Miss,
        "{}",
        steps[0].explanation
    );
    assert!(
        count(&proxy, ".deb") > 50,
        "a minbase bootstrap downloads its packages"
    );
    let record = ok(a.engine.debian_root_record(&minbase(), &amd64)).expect("a record");
    assert_eq!(record.root, "plinth/debian:bookworm-minbase");
    assert_eq!(record.archive.len(), 1);
    assert_eq!(record.archive[0].suite, "bookworm");
    assert_eq!(record.archive[0].uri, mirror);
    assert_eq!(record.source_date_epoch, record.archive[0].date_epoch);
    let dpkg = record.packages.get("dpkg:amd64").expect("dpkg is recorded");
    assert!(record.packages.len() > 80, "{}", record.packages.len());
    let unpacked = a.unpack(&first, &amd64, "first");
    assert_eq!(
        &std::fs::read_to_string(unpacked.join("dpkg-version")).unwrap(),
        dpkg
    );
    let config = config_of(&a.store, &first.root, &amd64);
    let labels = config
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap();
    assert_eq!(labels[DEBIAN_ROOT_LABEL], "plinth/debian:bookworm-minbase");
    assert!(
        labels[DEBIAN_ARCHIVE_LABEL]
            .starts_with(&format!("bookworm@{} (", record.archive[0].in_release)),
        "{labels:?}"
    );
    assert!(
        !unpacked.join("dev/null").exists(),
        "an image carries no device nodes"
    );
    let lists = std::fs::read_dir(unpacked.join("var/lib/apt/lists"))
        .into_iter()
        .flatten();
    assert!(
        lists
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with("InRelease")),
        "apt's lists are cleaned, as in Debian's images"
    );

    // 2. Again with the archive unchanged: one InRelease download, no package, no bootstrap.
    proxy.clear_requests();
    let again = ok(a.engine.build(&recipe, &options));
    assert_eq!(again.root, first.root);
    assert!(
        again.platforms[0]
            .steps
            .iter()
            .all(|s| s.status == CacheStatus::Hit),
        "{:?}",
        again.platforms[0]
            .steps
            .iter()
            .map(|s| &s.explanation)
            .collect::<Vec<_>>()
    );
    let paths: Vec<String> = proxy.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/debian/dists/bookworm/InRelease"]);

    // 3. Another store, the same archive state: the same bytes, so the same digests.
    let b = engine(Some(0));
    let other = ok(b.engine.build(&recipe, &options));
    assert_eq!(
        other.platforms[0].steps[0].status,
        CacheStatus::Miss,
        "a fresh store bootstraps"
    );
    let record_b = ok(b.engine.debian_root_record(&minbase(), &amd64)).unwrap();
    assert_eq!(
        record_b.archive, record.archive,
        "the archive moved during the test"
    );
    assert_eq!(
        record_b.manifest, record.manifest,
        "same archive state, same root"
    );
    assert_eq!(other.root, first.root);
}

#[test]
fn debian_roots_for_amd64_and_arm64_build_concurrently() {
    if !require_root() || plinth_sandbox::binfmt::host_arch() != "amd64" {
        return;
    }
    require_external!(
        External::Tool("mmdebstrap"),
        External::Tool("arch-test"),
        External::BinfmtArm64
    );
    // The `essential` variant (dpkg, coreutils, no apt) keeps qemu's share of the test small.
    let root = DebianRoot::new("bookworm")
        .unwrap()
        .with_variant("essential")
        .unwrap();
    let t = TestEngine::new(Some(0));
    let platforms = [Platform::linux_amd64(), Platform::linux_arm64()];
    let result = ok(t.engine.build(
        &Container::from_debian(root.clone()),
        &BuildOptions::new(platforms.clone()),
    ));
    assert!(result.index.is_some(), "two platforms make an index");
    for platform in &platforms {
        let config = config_of(&t.store, &result.root, platform);
        assert_eq!(config.architecture, platform.architecture);
        let out = ok(t.engine.run(
            &result.root,
            platform,
            &["dpkg".to_owned(), "--print-architecture".to_owned()],
            &RunOptions {
                capture: true,
                ..RunOptions::default()
            },
            &mut DiscardOutput,
        ));
        assert!(out.success(), "{}", out.stderr_text());
        assert_eq!(out.stdout_text().trim(), platform.architecture);
        let record = ok(t.engine.debian_root_record(&root, platform)).unwrap();
        let arch = &platform.architecture;
        assert!(
            record.packages.contains_key(&format!("coreutils:{arch}")),
            "{:?}",
            record.packages.keys().take(10).collect::<Vec<_>>()
        );
    }
}

/// `InRelease` of bookworm as Debian serves it now.
fn real_in_release() -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "60"])
        .arg(format!("http://{UPSTREAM}/debian/dists/bookworm/InRelease"))
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn build_error(mirror: &str) -> String {
    let t = TestEngine::with(|c| c.with_apt_mirror(mirror));
    let err = t
        .engine
        .build(
            &Container::from_debian(minbase()),
            &BuildOptions::new([Platform::linux_amd64()]),
        )
        .expect_err("the archive must be refused");
    error_chain(&err)
}

#[test]
fn tampered_unsigned_or_corrupt_archives_are_refused() {
    if !require_root() {
        return;
    }
    require_external!(
        External::Tool("mmdebstrap"),
        External::Tool("gpgv"),
        External::Tool("curl")
    );
    let real = real_in_release();
    let text = String::from_utf8(real.clone()).unwrap();
    let path = "/debian/dists/bookworm/InRelease";

    // One hash digit changed inside the signed text.
    let at = text.find("SHA256:\n ").unwrap() + "SHA256:\n ".len();
    let mut tampered = real.clone();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let server = FileServer::start(BTreeMap::from([(path.to_owned(), tampered)]));
    let err = build_error(&server.url("/debian"));
    assert!(
        err.contains(&format!(
            "refusing the Debian archive at `{}`",
            server.url(path)
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
        server.hits.lock().unwrap().len(),
        1,
        "nothing but InRelease was asked for"
    );

    // The signed text without its signature.
    let body = text
        .split_once("\n\n")
        .unwrap()
        .1
        .split("-----BEGIN PGP SIGNATURE-----")
        .next()
        .unwrap();
    let server = FileServer::start(BTreeMap::from([(
        path.to_owned(),
        body.as_bytes().to_vec(),
    )]));
    let err = build_error(&server.url("/debian"));
    assert!(err.contains("its signature does not verify"), "{err}");

    // A genuine InRelease over a corrupt package index: apt's hash check stops the bootstrap.
    let sha256 = text.split("SHA256:\n").nth(1).unwrap();
    let index_hash = sha256
        .lines()
        .find(|l| l.ends_with(" main/binary-amd64/Packages.xz"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    let garbage = b"not a package index".repeat(100);
    let server = FileServer::start(BTreeMap::from([
        (path.to_owned(), real.clone()),
        (
            format!("/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/{index_hash}"),
            garbage.clone(),
        ),
        (
            "/debian/dists/bookworm/main/binary-amd64/Packages.xz".to_owned(),
            garbage,
        ),
    ]));
    let err = build_error(&server.url("/debian"));
    assert!(
        err.contains("cannot make the Debian root `plinth/debian:bookworm-minbase` for linux/amd64: mmdebstrap exited"),
        "{err}"
    );
    assert!(
        err.to_lowercase().contains("mismatch") || err.contains("unexpected size"),
        "{err}"
    );
}
