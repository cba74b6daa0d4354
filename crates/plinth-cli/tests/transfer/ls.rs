//! `plinth ls` against a real registry behind a counting proxy: which tags get a `HEAD`, and
//! that a tag plinth itself just wrote is never hidden by the listing cache.

use plinth_test::proxy::RequestKind;
use plinth_test::{FaultProxy, LocalRegistry, TestContext};
use serde_json::Value;

use crate::image::busybox_layout;
use crate::run_ok;

fn ls(ctx: &TestContext, repository: &str, extra: &[&str]) -> Value {
    let out = run_ok(
        ctx,
        ctx.plinth().args(["ls", repository, "--json"]).args(extra),
    );
    serde_json::from_str(&out).unwrap()
}

/// `(tag, digest)` pairs of one section of `ls --json` (`null` digests as `None`).
fn tags(listing: &Value, section: &str) -> Vec<(String, Option<String>)> {
    listing[section]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap().to_owned(),
                t["digest"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn ls_heads_semver_tags_only_unless_asked_and_sees_plinths_own_pushes() {
    let ctx = TestContext::new();
    let registry = LocalRegistry::start();
    let proxy = FaultProxy::start(&registry);
    let layout = busybox_layout(ctx.temp_dir(), "v1");
    let source = format!("oci:{}:v1", layout.display());
    let repository = proxy.image("ls/busybox");
    let mut digest = String::new();
    for tag in ["1.0.0", "1.1.0", "latest", "dev"] {
        let target = format!("{repository}:{tag}");
        digest = run_ok(&ctx, ctx.plinth().args(["copy", &source, &target]))
            .trim()
            .to_owned();
    }

    // Semver tags get their digest (one HEAD each); `latest` and `dev` are listed apart,
    // without one, and cost nothing but their line in the tag list.
    proxy.clear_requests();
    let listing = ls(&ctx, &repository, &[]);
    assert_eq!(listing["from_cache"], false);
    let some = |d: &str| Some(d.to_owned());
    assert_eq!(
        tags(&listing, "tags"),
        [
            ("1.1.0".into(), some(&digest)),
            ("1.0.0".into(), some(&digest))
        ]
    );
    assert_eq!(
        tags(&listing, "non_semver_tags"),
        [("dev".into(), None), ("latest".into(), None)]
    );
    assert_eq!(
        proxy.count(RequestKind::ListTags),
        1,
        "{:?}",
        proxy.counts()
    );
    assert_eq!(
        proxy.count(RequestKind::HeadManifest),
        2,
        "{:?}",
        proxy.counts()
    );
    assert_eq!(proxy.requests().len(), 3, "{:?}", proxy.counts());
    // As text: versions with their digests, then the other tags by name alone.
    let out = ctx.plinth().args(["ls", &repository]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(names, ["dev", "latest"], "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 tags that are not semantic versions:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Asked for: the cached listing lacks those digests, so the registry is asked again.
    proxy.clear_requests();
    let all = ls(&ctx, &repository, &["--all-digests"]);
    assert_eq!(all["from_cache"], false);
    assert_eq!(
        tags(&all, "non_semver_tags"),
        [
            ("dev".into(), some(&digest)),
            ("latest".into(), some(&digest))
        ]
    );
    assert_eq!(
        proxy.count(RequestKind::HeadManifest),
        4,
        "{:?}",
        proxy.counts()
    );
    // ... and that fuller listing then serves both kinds of listing from the cache.
    proxy.clear_requests();
    assert_eq!(
        ls(&ctx, &repository, &["--all-digests"])["from_cache"],
        true
    );
    assert_eq!(ls(&ctx, &repository, &[])["from_cache"], true);
    assert_eq!(proxy.requests().len(), 0, "{:?}", proxy.counts());

    // plinth pushes a new tag: the next listing, well within the TTL, shows it.
    let pushed = format!("{repository}:2.0.0");
    run_ok(&ctx, ctx.plinth().args(["copy", &source, &pushed]));
    proxy.clear_requests();
    let after = ls(&ctx, &repository, &[]);
    assert_eq!(
        after["from_cache"], false,
        "a write drops the cached listing"
    );
    assert_eq!(after["tags"][0]["tag"], "2.0.0");
    assert_eq!(after["tags"][0]["digest"], digest.as_str());
    assert_eq!(
        proxy.count(RequestKind::ListTags),
        1,
        "{:?}",
        proxy.counts()
    );

    // An unchanged re-push writes nothing, so the listing it leaves cached stays valid.
    run_ok(&ctx, ctx.plinth().args(["copy", &source, &pushed]));
    proxy.clear_requests();
    assert_eq!(ls(&ctx, &repository, &[])["from_cache"], true);
    assert_eq!(proxy.requests().len(), 0, "{:?}", proxy.counts());
}
