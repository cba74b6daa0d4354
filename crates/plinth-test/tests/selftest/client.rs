//! A tiny distribution client on reqwest, enough to drive the fixtures through real HTTP.

use reqwest::{Client, Response, StatusCode};
use sha2::Digest as _;

pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

pub fn client() -> Client {
    // One connection per request keeps fault effects from leaking into the next request's
    // pooled connection; the proxy is also exercised with keep-alive in `pass_through`.
    Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

/// `POST` a new upload session; returns the absolute `Location`.
pub async fn start_upload(client: &Client, base: &str, repo: &str) -> String {
    let response = client
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{:?}",
        response.text().await
    );
    location(&response)
}

pub fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn with_digest(location: &str, digest: &str) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

/// Uploads a blob with POST, PATCH and PUT; returns its digest.
pub async fn push_blob(client: &Client, base: &str, repo: &str, data: &[u8]) -> String {
    let digest = digest(data);
    let location = start_upload(client, base, repo).await;
    let response = client
        .patch(&location)
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = self::location(&response);
    let response = client
        .put(with_digest(&location, &digest))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text().await
    );
    digest
}

/// A minimal OCI manifest over a config blob and one layer blob, both pushed first.
pub async fn push_image(client: &Client, base: &str, repo: &str, tag: &str) -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = b"not really a tar, the registry does not care";
    let config_digest = push_blob(client, base, repo, config).await;
    let layer_digest = push_blob(client, base, repo, layer).await;
    let manifest = manifest_json(&config_digest, config.len(), &layer_digest, layer.len());
    let response = put_manifest(client, base, repo, tag, &manifest)
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text().await
    );
    digest(manifest.as_bytes())
}

pub fn manifest_json(config: &str, config_size: usize, layer: &str, layer_size: usize) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    )
}

pub async fn put_manifest(
    client: &Client,
    base: &str,
    repo: &str,
    tag: &str,
    manifest: &str,
) -> reqwest::Result<Response> {
    client
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_owned())
        .send()
        .await
}
