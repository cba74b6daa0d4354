//! Protocol corners against a scripted server: `Link` pagination, 429 with `Retry-After`,
//! rate-limit headers, and the SSRF guard on tag-list links.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use plinth_oci::{Digest, Reference};
use plinth_registry::{Error, TagListOptions};

use crate::mini_http::{MiniResponse, MiniServer};
use crate::{client, new_store};

fn digest_of(tag: &str) -> Digest {
    Digest::of(tag.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_retry_after_and_rate_limit() {
    let throttled = Arc::new(AtomicUsize::new(0));
    let t = throttled.clone();
    let server = MiniServer::start(move |req| {
        let pages: [(&str, &[&str], Option<&str>); 3] = [
            (
                "/v2/team/app/tags/list?n=2",
                &["1.0.0", "latest"],
                Some("</v2/team/app/tags/list?n=2&last=latest>; rel=\"next\""),
            ),
            (
                "/v2/team/app/tags/list?n=2&last=latest",
                &["1.1.0", "0.9.0"],
                Some("<http://127.0.0.1/v2/team/app/tags/list?n=2&last=0.9.0>; rel=\"next\""),
            ),
            (
                "/v2/team/app/tags/list?n=2&last=0.9.0",
                &["weird_tag"],
                None,
            ),
        ];
        if req.target == "/v2/" {
            return MiniResponse::new(200);
        }
        for (target, tags, link) in pages {
            if req.target == target {
                // The second page is throttled once.
                if target.ends_with("last=latest") && t.fetch_add(1, Ordering::SeqCst) == 0 {
                    return MiniResponse::new(429).header("Retry-After", "1");
                }
                let mut r = MiniResponse::new(200)
                    .json(serde_json::json!({"name": "team/app", "tags": tags}))
                    .header("ratelimit-remaining", "42;w=21600");
                if let Some(l) = link {
                    // Point absolute links at this server's port.
                    r = r.header(
                        "Link",
                        &l.replace(
                            "127.0.0.1/",
                            &format!("127.0.0.1:{}/", PORT.load(Ordering::SeqCst)),
                        ),
                    );
                }
                return r;
            }
        }
        if let Some(tag) = req.target.strip_prefix("/v2/team/app/manifests/") {
            return MiniResponse::new(200)
                .header("Docker-Content-Digest", &digest_of(tag).to_string())
                .header("Content-Type", "application/vnd.oci.image.index.v1+json");
        }
        MiniResponse::new(404)
            .json(serde_json::json!({"errors": [{"code": "NAME_UNKNOWN", "message": "no"}]}))
    })
    .await;
    PORT.store(server.port as usize, Ordering::SeqCst);
    let (_d, store) = new_store();
    let c = client(&store);
    let repo: Reference = format!("{}/team/app", server.host()).parse().unwrap();
    let opts = TagListOptions {
        page_size: Some(2),
        ttl: Duration::ZERO,
        refresh: false,
        with_digests: true,
        with_other_digests: true,
    };
    let start = Instant::now();
    let listing = c.list_tags(&repo, &opts).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(
        throttled.load(Ordering::SeqCst),
        2,
        "the throttled page was asked twice"
    );
    let semver: Vec<&str> = listing
        .semver
        .iter()
        .map(|s| s.entry.tag.as_str())
        .collect();
    assert_eq!(semver, ["0.9.0", "1.0.0", "1.1.0"]);
    let other: Vec<&str> = listing.other.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(other, ["latest", "weird_tag"]);
    assert!(
        listing
            .all()
            .all(|e| e.digest.as_ref() == Some(&digest_of(&e.tag)))
    );
    assert_eq!(
        listing
            .rate_limit
            .as_ref()
            .and_then(|r| r.remaining_count()),
        Some(42)
    );
    assert_eq!(server.count(|r| r.method == "HEAD"), 5);

    let missing: Reference = format!("{}/team/none", server.host()).parse().unwrap();
    assert_eq!(c.list_tags(&missing, &opts).await.unwrap().all().count(), 0);
}

static PORT: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_reported_with_redacted_details() {
    let server = MiniServer::start(|req| {
        if req.target == "/v2/" {
            return MiniResponse::new(200);
        }
        MiniResponse::new(503).json(serde_json::json!({"errors": [{"code": "UNAVAILABLE", "message": "down for maintenance"}]})).header("Set-Cookie", "session=abc123")
    })
    .await;
    let (_d, store) = new_store();
    let c = client(&store);
    let r: Reference = format!("{}/team/app:1", server.host()).parse().unwrap();
    let err = c.get_manifest(&r).await.unwrap_err();
    assert_eq!(
        server.count(|q| q.target.contains("/manifests/")),
        4,
        "max attempts"
    );
    let Error::Http(h) = &err else {
        panic!("{err}")
    };
    assert_eq!(h.status, 503);
    assert_eq!(h.code.as_deref(), Some("UNAVAILABLE"));
    let text = err.to_string();
    assert!(
        text.contains("down for maintenance") && !text.contains("abc123"),
        "{text}"
    );
}
