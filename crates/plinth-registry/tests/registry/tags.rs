use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use plinth_oci::{MediaType, Reference};
use plinth_registry::{NoTransferReporter, TagListOptions};

use plinth_test::LocalRegistry;

use crate::{client, new_store, small_image};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_listing_with_digests_and_cache() {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let c = client(&store);
    let repo: Reference = format!("{}/plinth/tags", registry.host()).parse().unwrap();
    c.push_image(
        image.digest(),
        &repo.with_tag("1.0.0").unwrap(),
        Arc::new(NoTransferReporter),
    )
    .await
    .unwrap();
    let bytes = Bytes::from(store.read_blob(image.digest()).unwrap());
    for tag in ["1.10.0", "1.2.0", "2.0.0-rc.1", "latest", "dev"] {
        c.put_manifest(
            &repo.with_tag(tag).unwrap(),
            bytes.clone(),
            &MediaType::OciIndex,
        )
        .await
        .unwrap();
    }

    let opts = TagListOptions {
        page_size: Some(2),
        ttl: Duration::from_secs(600),
        refresh: false,
        with_digests: true,
        with_other_digests: true,
    };
    let before = c.request_count();
    let listing = c.list_tags(&repo, &opts).await.unwrap();
    let sent = c.request_count() - before;
    // 6 HEADs plus the pages (distribution 2.8 ignores `n=` and sends one page; pagination
    // itself is covered against a scripted server in protocol.rs).
    assert!(sent >= 7, "requests sent: {sent}");
    assert!(!listing.from_cache);
    let semver: Vec<&str> = listing
        .semver
        .iter()
        .map(|s| s.entry.tag.as_str())
        .collect();
    assert_eq!(semver, ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1"]);
    let other: Vec<&str> = listing.other.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(other, ["dev", "latest"]);
    assert!(
        listing
            .all()
            .all(|t| t.digest.as_ref() == Some(image.digest()))
    );
    assert_eq!(listing.latest().unwrap().entry.tag, "1.10.0");

    // Within the TTL: no request at all, same answer.
    let before = c.request_count();
    let cached = c.list_tags(&repo, &opts).await.unwrap();
    assert_eq!(c.request_count(), before);
    assert!(cached.from_cache);
    assert_eq!(
        cached.all().cloned().collect::<Vec<_>>(),
        listing.all().cloned().collect::<Vec<_>>()
    );
    // A fresh client over the same store also reads the cache from disk.
    let c2 = client(&store);
    assert!(c2.list_tags(&repo, &opts).await.unwrap().from_cache);
    assert_eq!(c2.request_count(), 0);

    // `refresh` goes to the registry and sees a new tag.
    c.put_manifest(
        &repo.with_tag("3.0.0").unwrap(),
        bytes.clone(),
        &MediaType::OciIndex,
    )
    .await
    .unwrap();
    let refreshed = c
        .list_tags(
            &repo,
            &TagListOptions {
                refresh: true,
                ..opts.clone()
            },
        )
        .await
        .unwrap();
    assert!(!refreshed.from_cache);
    assert_eq!(refreshed.latest().unwrap().entry.tag, "3.0.0");

    // TTL zero: always asks.
    let off = TagListOptions {
        ttl: Duration::ZERO,
        with_digests: false,
        ..opts.clone()
    };
    let before = c.request_count();
    let l = c.list_tags(&repo, &off).await.unwrap();
    assert!(
        !l.from_cache && c.request_count() - before >= 1,
        "pages only, no HEADs"
    );
    assert_eq!(l.all().count(), 7);
    assert!(l.all().all(|t| t.digest.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_repository_lists_no_tags() {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let c = client(&store);
    let repo: Reference = format!("{}/plinth/never-pushed", registry.host())
        .parse()
        .unwrap();
    let listing = c
        .list_tags(
            &repo,
            &TagListOptions {
                ttl: Duration::ZERO,
                ..TagListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listing.all().count(), 0);
}
