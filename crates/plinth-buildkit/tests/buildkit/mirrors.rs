//! URL inputs through `--url-mirror`s: BuildKit builds fetch with the embedded engine's
//! `UrlFetcher`, so unreachable hosts served from a local directory or another server build,
//! pins are still verified, and the store ref `urls/…` is the one both engines share.

use std::collections::BTreeMap;

use plinth_buildkit::{BuildkitBackend, BuildkitConfig, Error};
use plinth_executor::{BuildOptions, MirrorTarget, UrlFetcher, UrlMirror};
use plinth_oci::{Digest, Platform, Store};
use plinth_recipe::{Container, FileSource};
use plinth_test::{External, require_external};

use crate::common::{FileServer, busybox_root, flatten, ok, require_all};

const TOOL_URL: &str = "https://unreachable.invalid/pkg/tool.sh";
const DATA_URL: &str = "https://unreachable.invalid/srv/data.txt";
const TOOL: &[u8] = b"#!/bin/sh\necho mirrored tool\n";
const DATA: &[u8] = b"served by the mirror server\n";

/// `https://unreachable.invalid/pkg/` from a local directory holding `tool.sh`, and
/// `https://unreachable.invalid/srv/` from a loopback server holding `/mirror/data.txt`.
struct Mirrors {
    dir: tempfile::TempDir,
    server: FileServer,
}

impl Mirrors {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pbk-mirror-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("tool.sh"), TOOL).unwrap();
        let server = FileServer::start(BTreeMap::from([(
            "/mirror/data.txt".to_owned(),
            DATA.to_vec(),
        )]));
        Self { dir, server }
    }

    fn list(&self) -> Vec<UrlMirror> {
        vec![
            UrlMirror::new(
                "https://unreachable.invalid/pkg/",
                MirrorTarget::Dir(self.dir.path().to_owned()),
            ),
            // Given as on the command line, through the same parser.
            format!(
                "https://unreachable.invalid/srv/={}",
                self.server.url("/mirror/")
            )
            .parse()
            .unwrap(),
        ]
    }
}

fn url_ref(url: &str) -> String {
    format!("urls/{}", Digest::of(url.as_bytes()).hex())
}

#[test]
fn unreachable_urls_build_from_their_mirrors() {
    if !require_all() {
        return;
    }
    let mirrors = Mirrors::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let backend = ok(BuildkitBackend::new(
        BuildkitConfig::new(store.clone()).with_url_mirrors(mirrors.list()),
    ));
    let recipe = Container::from_address(&busybox_root())
        .unwrap()
        .with_file(
            "/opt/tool.sh",
            FileSource::pinned_url(TOOL_URL, Digest::of(TOOL)),
        )
        .with_file("/opt/data.txt", FileSource::url(DATA_URL))
        // Read inside the BuildKit build: the files are really there for steps.
        .with_exec(["sh", "-c", "cat /opt/tool.sh /opt/data.txt > /opt/both"]);
    let amd64 = Platform::linux_amd64();
    let built = ok(backend.build(
        &recipe,
        &BuildOptions::new([amd64.clone()]).with_no_cache(true),
    ));

    let fs = flatten(&store, &built.root, &amd64);
    assert_eq!(fs["opt/tool.sh"].content, Digest::of(TOOL).to_string());
    assert_eq!(fs["opt/tool.sh"].mode, 0o600);
    assert_eq!(fs["opt/data.txt"].content, Digest::of(DATA).to_string());
    assert_eq!(
        fs["opt/both"].content,
        Digest::of(&[TOOL, DATA].concat()).to_string()
    );
    let inputs = &built.platforms[0].url_inputs;
    assert_eq!(inputs.get(TOOL_URL), Some(&Digest::of(TOOL)));
    assert_eq!(inputs.get(DATA_URL), Some(&Digest::of(DATA)));
    assert_eq!(
        mirrors.server.hits.lock().unwrap().get("/mirror/data.txt"),
        Some(&1),
        "the mirror server is asked once"
    );

    // The engine's ref keeps each URL's last content: an unpinned URL whose host and mirror are
    // both gone now comes from there, for the embedded engine as for BuildKit.
    for (url, bytes) in [(TOOL_URL, TOOL), (DATA_URL, DATA)] {
        let kept = store.get_ref(&url_ref(url)).unwrap().expect(url);
        assert_eq!(kept.digest, Digest::of(bytes), "{url}");
    }
    assert!(
        store
            .get_ref(&format!(
                "buildkit/urls/{}",
                Digest::of(DATA_URL.as_bytes()).hex()
            ))
            .unwrap()
            .is_none(),
        "no BuildKit-only copy"
    );
    mirrors.server.files.lock().unwrap().clear();
    let offline = UrlFetcher::new(&store, mirrors.list());
    assert_eq!(ok(offline.fetch(DATA_URL, None)), Digest::of(DATA));
}

#[test]
fn a_mirrored_url_is_still_checked_against_its_pin() {
    if !require_external(External::Docker) {
        return;
    }
    let mirrors = Mirrors::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let backend = ok(BuildkitBackend::new(
        BuildkitConfig::new(store.clone()).with_url_mirrors(mirrors.list()),
    ));
    // Never pulled: the URL inputs are fetched and checked before any builder is asked.
    let recipe = Container::from_address("127.0.0.1:5000/never/pulled:1")
        .unwrap()
        .with_file(
            "/opt/tool.sh",
            FileSource::pinned_url(TOOL_URL, Digest::of(b"what upstream published")),
        );
    let err = backend
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()]))
        .unwrap_err();
    let Error::Input(plinth_executor::Error::UrlChecksum {
        url,
        expected,
        actual,
    }) = &err
    else {
        panic!("not a checksum error: {err}")
    };
    assert_eq!(url, TOOL_URL);
    assert_eq!(expected, &Digest::of(b"what upstream published"));
    assert_eq!(actual, &Digest::of(TOOL));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the content of `{TOOL_URL}` does not match its pinned checksum"
        )),
        "{text}"
    );
    assert!(text.contains(&actual.to_string()), "{text}");
    assert!(
        store.get_ref(&url_ref(TOOL_URL)).unwrap().is_none(),
        "a mismatching download is not kept as the URL's content"
    );
}

#[test]
fn without_the_mirror_the_unreachable_url_fails_naming_it() {
    if !require_external(External::Docker) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = crate::common::local_backend(dir.path());
    let recipe = Container::from_address("127.0.0.1:5000/never/pulled:1")
        .unwrap()
        .with_file(
            "/opt/tool.sh",
            FileSource::pinned_url(TOOL_URL, Digest::of(TOOL)),
        );
    let err = backend
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()]))
        .unwrap_err();
    assert!(
        matches!(err, Error::Input(plinth_executor::Error::Fetch { .. })),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("failed to fetch `{TOOL_URL}`: ")),
        "{text}"
    );
}
