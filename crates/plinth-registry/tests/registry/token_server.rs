//! A token service for distribution's `auth: token:` mode: RS256 JWTs signed by a throw-away
//! certificate (made with `openssl`), whose `x5c` header chains to the registry's
//! `rootcertbundle`. Only this endpoint is ours; the registry checking the tokens is real.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use crate::mini_http::{MiniResponse, MiniServer};

pub const SERVICE: &str = "plinth-test-registry";
pub const ISSUER: &str = "plinth-test-issuer";

pub struct TokenServer {
    pub server: MiniServer,
    pub cert: PathBuf,
    /// Every token handed out (to check none leaks into logs).
    pub issued: Arc<Mutex<Vec<String>>>,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn query_values(target: &str, key: &str) -> Vec<String> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn sign(key: &Path, data: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, data).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

impl TokenServer {
    /// Starts the service; it grants the requested scopes to `user`/`password` and nothing to
    /// anyone else.
    pub async fn start(dir: &Path, user: &str, password: &str) -> Self {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let der = dir.join("token.der");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=plinth-test-token",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        openssl(&[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ]);
        let x5c = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&der).unwrap());
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let issued = Arc::new(Mutex::new(Vec::new()));
        let log = issued.clone();
        let server = MiniServer::start(move |req| {
            if !req.target.starts_with("/token") {
                return MiniResponse::new(404);
            }
            let authorized = req.header("authorization") == Some(expected.as_str());
            let scopes = query_values(&req.target, "scope");
            if !authorized && !scopes.is_empty() {
                return MiniResponse::new(401).json(serde_json::json!({"details": "bad credentials"}));
            }
            let access: Vec<serde_json::Value> = scopes
                .iter()
                .filter_map(|s| {
                    let mut p = s.splitn(3, ':');
                    let (kind, name, actions) = (p.next()?, p.next()?, p.next()?);
                    Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
                })
                .collect();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
            let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
            let claims = serde_json::json!({
                "iss": ISSUER, "sub": "pusher", "aud": query_values(&req.target, "service").first().cloned().unwrap_or_default(),
                "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand::random::<u64>()),
                "access": access,
            });
            let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
            let token = format!("{signing_input}.{}", b64url(&sign(&key, &signing_input)));
            log.lock().unwrap().push(token.clone());
            MiniResponse::new(200).json(serde_json::json!({"token": token, "expires_in": 300}))
        })
        .await;
        Self {
            server,
            cert,
            issued,
        }
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.server.host())
    }
}
