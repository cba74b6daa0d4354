//! `LocalRegistry`: starts, serves, authenticates, deletes, stops.

use plinth_test::LocalRegistry;
use reqwest::StatusCode;

use crate::client::{client, push_blob, push_image};

#[test]
fn shared_registry_is_one_instance_that_answers() {
    let a = LocalRegistry::shared();
    let b = LocalRegistry::shared();
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.get_status("/v2/").unwrap(), 200);
    assert_eq!(a.host(), format!("127.0.0.1:{}", a.port()));
    assert_eq!(a.url(), format!("http://{}", a.host()));
    assert_eq!(a.image("x/y:1"), format!("{}/x/y:1", a.host()));
}

#[tokio::test]
async fn fresh_registries_are_isolated_and_stop_when_dropped() {
    let first = LocalRegistry::start();
    let second = LocalRegistry::start();
    assert_ne!(first.port(), second.port());
    let digest = push_blob(
        &client(),
        &first.url(),
        "iso/a",
        b"only in the first registry",
    )
    .await;
    assert!(first.has_blob_on_disk(&digest));
    assert!(!second.has_blob_on_disk(&digest));
    assert!(
        first.log().contains("POST /v2/iso/a/blobs/uploads/"),
        "access log missing:\n{}",
        first.log()
    );

    let port = first.port();
    let storage = first.storage_dir();
    drop(first);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the registry on port {port} still accepts connections after drop"
    );
    assert!(
        !storage.exists(),
        "the temp storage `{}` was not removed",
        storage.display()
    );
    assert_eq!(second.get_status("/v2/").unwrap(), 200);
}

#[tokio::test]
async fn basic_auth_registry_requires_the_credentials() {
    let registry = LocalRegistry::builder()
        .with_basic_auth("alice", "wonderland-42")
        .start();
    let auth = registry.auth().unwrap();
    assert_eq!(auth.username, "alice");
    assert_eq!(registry.get_status("/v2/").unwrap(), 401);

    let client = client();
    let url = format!("{}/v2/", registry.url());
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    let wrong = client
        .get(&url)
        .basic_auth("alice", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client
        .get(&url)
        .basic_auth("alice", Some("wonderland-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert!(
        !registry.log().contains("wonderland-42"),
        "the password leaked into the registry log"
    );
}

#[tokio::test]
async fn deletes_are_enabled() {
    let registry = LocalRegistry::shared();
    let client = client();
    let digest = push_image(&client, &registry.url(), "selftest/delete", "1").await;
    let url = format!("{}/v2/selftest/delete/manifests/{digest}", registry.url());
    let response = client.delete(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = client
        .get(&url)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
