//! Registry errors as people read them: each failed answer is one sentence naming what plinth
//! was doing, on which repository and reference, the status, the registry's code and message,
//! and what to do. Headers and bodies stay out of it (they go to the debug log).

use std::sync::Arc;

use plinth_oci::Reference;
use plinth_registry::{Client, Credentials, Error, NoTransferReporter, RetryPolicy};
use plinth_test::proxy::{Fault, RequestKind, Rule};
use plinth_test::{FaultProxy, LocalRegistry};

use crate::{chain, client, client_for, new_store, small_image};

/// No dump in a sentence: no header names, no body, no raw JSON.
fn assert_no_dump(text: &str) {
    for raw in [
        "content-type",
        "body:",
        "{\"errors\"",
        "docker-distribution-api-version",
    ] {
        assert!(!text.contains(raw), "`{raw}` in:\n{text}");
    }
}

fn assert_contains_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
}

async fn push_err(
    client: &Client,
    image: &plinth_test::images::BusyboxImage,
    target: &str,
) -> Error {
    let target: Reference = target.parse().unwrap();
    client
        .push_image(image.digest(), &target, Arc::new(NoTransferReporter))
        .await
        .expect_err("the push is refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_without_credentials_says_to_log_in() {
    let registry = LocalRegistry::builder().with_default_basic_auth().start();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let anonymous = client_for(&store)
        .with_credentials(Credentials::anonymous())
        .build()
        .unwrap();
    let err = push_err(&anonymous, &image, &registry.image("errors/anonymous:1")).await;
    let text = chain(&err);
    assert_eq!(err.status(), Some(401), "{text}");
    let repository = format!("`{}/errors/anonymous`", registry.host());
    assert_contains_all(
        &text,
        &[
            &repository,
            // The push first asks for the tag with a `HEAD`, whose answer has no body to quote.
            "failed: the registry answered HTTP 401; the registry wants credentials",
            "log in with `docker login`",
        ],
    );
    assert_no_dump(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_the_registry_lost_is_named_with_its_repository() {
    let registry = LocalRegistry::start();
    let (_d, store) = new_store();
    let image = small_image(&store);
    let target = registry.image("errors/lost-blob:1");
    client(&store)
        .push_image(
            image.digest(),
            &target.parse().unwrap(),
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let layer = image.platforms()[0].layers[0].digest.clone();
    let deleted = reqwest::Client::new()
        .delete(format!(
            "{}/v2/errors/lost-blob/blobs/{layer}",
            registry.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted.status().as_u16(),
        202,
        "the registry deletes the layer"
    );

    let (_d2, fresh) = new_store();
    let err = client(&fresh)
        .pull_image(&target.parse().unwrap(), &[], Arc::new(NoTransferReporter))
        .await
        .expect_err("the layer is gone");
    let text = chain(&err);
    assert_eq!(err.status(), Some(404), "{text}");
    let reading = format!(
        "reading blob `{layer}` of `{}/errors/lost-blob` failed: the registry answered HTTP 404 \
         BLOB_UNKNOWN (blob unknown to registry); the registry has lost content this image needs",
        registry.host()
    );
    assert_contains_all(&text, &[&reading]);
    assert_no_dump(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_after_retries_says_it_persisted() {
    let registry = LocalRegistry::shared();
    let (_d, store) = new_store();
    let image = small_image(&store);
    client(&store)
        .push_image(
            image.digest(),
            &registry.image("errors/failing:1").parse().unwrap(),
            Arc::new(NoTransferReporter),
        )
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let proxy = FaultProxy::start(registry);
    let rule = proxy.add_rule(Rule::on_kind(RequestKind::GetManifest, Fault::status(502)).always());
    let (_d2, fresh) = new_store();
    let err = client(&fresh)
        .pull_image(
            &proxy.image("errors/failing:1").parse().unwrap(),
            &[],
            Arc::new(NoTransferReporter),
        )
        .await
        .expect_err("the manifest never comes");
    let text = chain(&err);
    assert_eq!(
        proxy.fired(rule),
        RetryPolicy::default().max_attempts,
        "{text}"
    );
    let reading = format!(
        "reading tag `1` of `{}/errors/failing` failed: the registry answered HTTP 502 UNKNOWN \
         (injected by the test fault proxy); the registry failed on its side and kept failing \
         while plinth retried",
        proxy.host()
    );
    assert_contains_all(&text, &[&reading]);
    assert_no_dump(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_repository_says_whose_rights_to_check() {
    let proxy = FaultProxy::start(LocalRegistry::shared());
    proxy.add_rule(
        Rule::on(
            "POST",
            "/v2/errors/denied/blobs/uploads/",
            Fault::status(403),
        )
        .always(),
    );
    let (_d, store) = new_store();
    let image = small_image(&store);
    let err = push_err(&client(&store), &image, &proxy.image("errors/denied:1")).await;
    let text = chain(&err);
    assert_eq!(err.status(), Some(403), "{text}");
    let uploading = format!(
        "uploading a blob to `{}/errors/denied` failed: the registry answered HTTP 403 DENIED \
         (injected by the test fault proxy); the credentials in use may not do this here",
        proxy.host()
    );
    assert_contains_all(&text, &[&uploading, "failed to push blob `sha256:"]);
    assert_no_dump(&text);
}
