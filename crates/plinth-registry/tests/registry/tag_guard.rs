//! `PushOptions::if_tag_absent_or_same`: the guard `plinth publish` uses so a published version
//! never moves. A plain push still overwrites, as registries do.

use std::sync::Arc;
use std::time::Duration;

use plinth_oci::Reference;
use plinth_registry::{Error, NoTransferReporter, PushOptions};
use plinth_test::proxy::{Fault, RequestKind, Rule};
use plinth_test::{FaultProxy, LocalRegistry};

use crate::{big_image, chain, client, new_store, small_image};

fn guarded() -> PushOptions {
    PushOptions::new().if_tag_absent_or_same()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_push_refuses_another_digest_and_is_a_no_op_for_the_same() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let (_a, store_a) = new_store();
    let (_b, store_b) = new_store();
    let old = small_image(&store_a);
    let new = big_image(&store_b);
    let direct: Reference = registry.image("guard/app:1.0.0").parse().unwrap();
    let via_proxy: Reference = proxy.image("guard/app:1.0.0").parse().unwrap();
    client(&store_a)
        .push_image(old.digest(), &direct, Arc::new(NoTransferReporter))
        .await
        .unwrap();

    // Another digest under the tag: refused before a single byte is sent.
    let c = client(&store_b);
    let err = c
        .push_image_with(
            new.digest(),
            &via_proxy,
            &guarded(),
            Arc::new(NoTransferReporter),
        )
        .await
        .expect_err("the tag holds another image");
    let text = chain(&err);
    let Error::TagExists {
        tag,
        existing,
        new: pushed,
    } = &err
    else {
        panic!("expected TagExists: {text}")
    };
    assert!(tag.ends_with("guard/app:1.0.0"), "{text}");
    assert_eq!(existing, old.digest());
    assert_eq!(pushed, new.digest());
    assert!(
        text.contains(&old.digest().to_string()) && text.contains("refusing"),
        "{text}"
    );
    // The tag is looked at together with the blobs and platform manifests; nothing is written.
    let counts = proxy.counts();
    assert!(
        counts
            .keys()
            .all(|k| matches!(k, RequestKind::HeadManifest | RequestKind::HeadBlob)),
        "only HEADs: {counts:?}"
    );
    assert!(proxy.count(RequestKind::HeadManifest) >= 1, "{counts:?}");
    let check = client(&store_a);
    assert_eq!(
        &check.head_manifest(&direct).await.unwrap().unwrap().digest,
        old.digest()
    );

    // The same digest: nothing to do, and nothing done.
    proxy.clear_requests();
    let c_old = client(&store_a);
    let report = c_old
        .push_image_with(
            old.digest(),
            &via_proxy,
            &guarded(),
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert!(report.unchanged, "{report:?}");
    assert_eq!(report.digest.as_ref(), Some(old.digest()));
    assert_eq!(
        (
            report.blobs_uploaded,
            report.blobs_skipped,
            report.manifests_pushed
        ),
        (0, old.blobs().len(), 0)
    );
    // One HEAD of the tag and nothing else (no `/v2/` probe): a tag that points at the image
    // means the registry has everything the image names.
    let counts = proxy.counts();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [(RequestKind::HeadManifest, 1)]
    );

    // An absent tag: a normal push, checked once before and once right before the tag is written.
    proxy.clear_requests();
    let fresh: Reference = proxy.image("guard/app:2.0.0").parse().unwrap();
    let report = c
        .push_image_with(
            new.digest(),
            &fresh,
            &guarded(),
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert!(!report.unchanged);
    assert_eq!(report.blobs_uploaded, new.blobs().len());
    // Tag before, two children, tag again before the write, read-back.
    assert_eq!(
        proxy.count(RequestKind::HeadManifest),
        5,
        "{:?}",
        proxy.counts()
    );

    // Without the guard the client overwrites, as the registry would.
    let report = c
        .push_image(new.digest(), &via_proxy, Arc::new(NoTransferReporter))
        .await
        .unwrap();
    assert!(!report.unchanged);
    assert_eq!(
        &check.head_manifest(&direct).await.unwrap().unwrap().digest,
        new.digest()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_push_loses_to_a_publisher_that_tagged_meanwhile() {
    let registry = LocalRegistry::shared();
    let proxy = FaultProxy::start(registry);
    let (_a, store_a) = new_store();
    let (_b, store_b) = new_store();
    let theirs = small_image(&store_a);
    let ours = big_image(&store_b);
    let direct: Reference = registry.image("guard/race:1.0.0").parse().unwrap();
    let via_proxy: Reference = proxy.image("guard/race:1.0.0").parse().unwrap();

    // Our push stalls on its first blob HEAD, after it found the tag absent; meanwhile the
    // other publisher tags its image.
    let stall = proxy.add_rule(Rule::on_kind(
        RequestKind::HeadBlob,
        Fault::Delay(Duration::from_secs(3)),
    ));
    let other = tokio::spawn({
        let direct = direct.clone();
        let digest = theirs.digest().clone();
        let c = client(&store_a);
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.push_image(&digest, &direct, Arc::new(NoTransferReporter))
                .await
                .unwrap();
        }
    });
    let err = client(&store_b)
        .push_image_with(
            ours.digest(),
            &via_proxy,
            &guarded(),
            Arc::new(NoTransferReporter),
        )
        .await
        .expect_err("the tag was taken while we uploaded");
    other.await.unwrap();
    assert_eq!(proxy.fired(stall), 1);
    assert!(
        matches!(&err, Error::TagExists { existing, .. } if existing == theirs.digest()),
        "{}",
        chain(&err)
    );
    assert_eq!(
        proxy.count_matching("PUT", r"/manifests/1\.0\.0$"),
        0,
        "our tag was never written"
    );
    let now = client(&store_a)
        .head_manifest(&direct)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&now.digest, theirs.digest());
}
