//! Cold two-platform builds against a healthy registry: every request answered, nothing retried.
//!
//! A build pulls each platform's root through one registry client. When each pull ran on a
//! runtime of its own, a pooled connection died with the runtime that opened it while the other
//! platform's pull was using it: the blob download failed and restarted after a second's backoff
//! in about half the runs (the registry crate's `cold_pulls` tests reproduce that with a runtime
//! per pull). A request logging proxy in front of the real registry sees every request of many
//! cold builds here.

use plinth_test::images::{BusyboxImage, busybox_in_layout};
use plinth_test::proxy::{Fault, RequestKind, RequestMatcher, Rule};
use plinth_test::{FaultProxy, LocalRegistry, TestContext};

use super::{build_for, output, stdout_ok, write_dockerfile};

/// Cold builds in a row; the failure this guards against showed in about one run in two.
const COLD_BUILDS: usize = 8;

/// A two-platform image (two layers each: busybox per platform, a 2 MiB layer both share)
/// pushed to a fresh registry, with a request-logging proxy in front of it.
struct Fixture {
    _seed: TestContext,
    image: BusyboxImage,
    registry: LocalRegistry,
    /// How much of the registry's log the push of the fixture wrote.
    log_start: usize,
    proxy: FaultProxy,
    root: String,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let seed = TestContext::new();
        let (image, layout) = busybox_in_layout(
            seed.temp_dir(),
            &BusyboxImage::builder()
                .with_seed(name)
                .with_big_layer(2 << 20),
        );
        let registry = LocalRegistry::start();
        let proxy = FaultProxy::start(&registry);
        let root = proxy.image(&format!("{name}/image:1"));
        stdout_ok(
            &seed,
            seed.plinth()
                .args(["copy", &format!("oci:{}:v1", layout.display()), &root]),
        );
        proxy.clear_requests();
        let log_start = registry.log().len();
        Self {
            _seed: seed,
            image,
            registry,
            log_start,
            proxy,
            root,
        }
    }

    /// What the registry itself logged as a problem (errors, warnings, disconnected clients)
    /// since the fixture was pushed.
    fn registry_problems(&self) -> Vec<String> {
        self.registry.log()[self.log_start..]
            .lines()
            .filter(|l| {
                ["level=error", "level=warn", "level=fatal", "disconnect"]
                    .iter()
                    .any(|w| l.contains(w))
            })
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn cold_two_platform_builds_make_no_failed_or_repeated_request() {
    let fixture = Fixture::new("cold-pulls");
    let (image, proxy, root) = (&fixture.image, &fixture.proxy, &fixture.root);
    let blobs = image.blobs().len();
    assert_eq!(
        blobs, 5,
        "two configs, two busybox layers, one shared layer"
    );

    for run in 0..COLD_BUILDS {
        proxy.clear_requests();
        let ctx = TestContext::new();
        let dockerfile = write_dockerfile(&ctx, &format!("FROM {root}\nLABEL run={run}\n"));
        let out = output(
            &ctx,
            &mut build_for(&ctx, &dockerfile, "linux/amd64,linux/arm64"),
        );
        assert!(out.status.success(), "cold build {run} failed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for word in ["restarting", "retrying", "WARN"] {
            assert!(
                !stderr.contains(word),
                "cold build {run} logged `{word}`:\n{stderr}"
            );
        }
        let requests = proxy.requests();
        let failed: Vec<_> = requests
            .iter()
            .filter(|r| r.response_cut_short || !r.status.is_some_and(|s| (200..300).contains(&s)))
            .collect();
        assert!(
            failed.is_empty(),
            "cold build {run}: requests without a 2xx answer or cut short: {failed:#?}"
        );
        assert_eq!(
            proxy.count(RequestKind::GetBlob),
            blobs,
            "cold build {run}: each blob downloaded exactly once: {requests:#?}"
        );
        let answered: u64 = requests.iter().map(|r| r.response_body_bytes).sum();
        assert!(
            answered >= image.blob_bytes(),
            "cold build {run}: {answered} bytes sent, the blobs alone are {}",
            image.blob_bytes()
        );
    }
    let problems = fixture.registry_problems();
    assert!(problems.is_empty(), "the registry logged: {problems:#?}");
}

/// A download cut in the middle is restarted, and the warning says why: the error and each of
/// its causes, down to what the connection did.
#[test]
fn a_restarted_download_says_why() {
    let fixture = Fixture::new("cut-download");
    let big = fixture.image.big_layer.clone().unwrap().digest;
    let rule = fixture.proxy.add_rule(
        Rule::new(
            RequestMatcher::method_path("GET", &format!("/blobs/sha256:{}", big.hex())),
            Fault::ResetResponseAfter(1 << 20),
        )
        .times(1),
    );
    let cold = TestContext::new();
    let ctx = &cold;
    let out_dir = ctx.temp_dir().join("pulled");
    let out = output(
        ctx,
        ctx.plinth().args([
            "copy",
            &fixture.root,
            &format!("oci:{}:v1", out_dir.display()),
        ]),
    );
    assert!(out.status.success(), "the pull recovers from one reset");
    assert_eq!(fixture.proxy.fired(rule), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = stderr
        .lines()
        .find(|l| l.contains("blob download failed, restarting"))
        .unwrap_or_else(|| panic!("no restart warning in:\n{stderr}"));
    let why = warning
        .split_once("restarting: ")
        .map(|(_, why)| why)
        .unwrap_or_else(|| panic!("the warning gives no reason: {warning}"));
    // The top error, then its causes (`: `-separated), ending with the connection's own words.
    assert!(why.starts_with("GET "), "{warning}");
    assert!(why.matches(": ").count() >= 2, "{warning}");
    assert!(
        ["reset", "closed", "connection", "body"]
            .iter()
            .any(|w| why.to_lowercase().contains(w)),
        "{warning}"
    );
}

/// Two builds at once into one cold store download the same blobs side by side: each writes its
/// own temp file and renames it into place, and neither sees the other fail.
#[test]
fn concurrent_cold_builds_into_one_store_make_no_failed_request() {
    let fixture = Fixture::new("concurrent-pulls");
    for run in 0..3 {
        fixture.proxy.clear_requests();
        let ctx = TestContext::new();
        let dockerfile =
            write_dockerfile(&ctx, &format!("FROM {}\nLABEL run={run}\n", fixture.root));
        let children: Vec<_> = (0..2)
            .map(|_| {
                ctx.plinth()
                    .args(["build", "-f", dockerfile.to_str().unwrap()])
                    .args(["--platform", "linux/amd64,linux/arm64"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let text = ctx.filter(&plinth_test::format_output(&out));
            assert!(out.status.success(), "run {run}: {text}");
            for word in ["restarting", "retrying", "WARN"] {
                assert!(!text.contains(word), "run {run} logged `{word}`:\n{text}");
            }
        }
        let failed: Vec<_> = fixture
            .proxy
            .requests()
            .into_iter()
            .filter(|r| r.response_cut_short || !r.status.is_some_and(|s| (200..300).contains(&s)))
            .collect();
        assert!(failed.is_empty(), "run {run}: {failed:#?}");
    }
    let problems = fixture.registry_problems();
    assert!(problems.is_empty(), "the registry logged: {problems:#?}");
}
