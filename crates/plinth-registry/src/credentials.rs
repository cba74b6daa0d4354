//! Where credentials come from, in order: explicit ones (CLI flags), the Docker Hub environment
//! variables, then the Docker `config.json` (`credHelpers[registry]`, `credsStore`, `auths`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// Username for Docker Hub, read when no explicit credential is given for `docker.io`.
pub const DOCKER_HUB_USERNAME_ENV: &str = "DOCKER_HUB_USERNAME";
/// Password or access token for Docker Hub.
pub const DOCKER_HUB_PASSWORD_ENV: &str = "DOCKER_HUB_PASSWORD";
/// Directory holding Docker's `config.json` (default `~/.docker`).
pub const DOCKER_CONFIG_ENV: &str = "DOCKER_CONFIG";
/// The key Docker uses for Docker Hub in `config.json` and with credential helpers.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// A credential for one registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// No credential: anonymous access.
    Anonymous,
    /// A username and a password (or personal access token).
    Basic {
        /// The user name.
        username: String,
        /// The password or access token.
        password: Secret,
    },
    /// An OAuth2 refresh token (`identitytoken` in `config.json`).
    IdentityToken(Secret),
}

/// Resolves credentials for registries.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    explicit: BTreeMap<String, Credential>,
    docker_hub_env: Option<Credential>,
    config_path: Option<PathBuf>,
    helper_dir: Option<PathBuf>,
}

impl Credentials {
    /// No credentials at all: every registry is accessed anonymously.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The usual sources: the Docker Hub environment variables and the Docker config file.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let docker_hub_env = match (var(DOCKER_HUB_USERNAME_ENV), var(DOCKER_HUB_PASSWORD_ENV)) {
            (Some(username), Some(password)) => Some(Credential::Basic {
                username,
                password: Secret::new(password),
            }),
            _ => None,
        };
        let config_path = std::env::var_os(DOCKER_CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
            .map(|d| d.join("config.json"));
        Self {
            explicit: BTreeMap::new(),
            docker_hub_env,
            config_path,
            helper_dir: None,
        }
    }

    /// Uses this Docker config file instead of the default one.
    pub fn with_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_path = Some(path.into());
        self
    }

    /// Looks for `docker-credential-<name>` helpers in this directory instead of on `PATH`.
    pub fn with_helper_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.helper_dir = Some(dir.into());
        self
    }

    /// Adds an explicit credential for a registry (`docker.io`, `ghcr.io`, `host:port`); it wins
    /// over every other source.
    pub fn with_explicit(mut self, registry: &str, credential: Credential) -> Self {
        self.explicit
            .insert(normalize_registry_key(registry), credential);
        self
    }

    /// The credential for `registry`, following the precedence above.
    pub async fn resolve(&self, registry: &str) -> Result<Credential> {
        let key = normalize_registry_key(registry);
        if let Some(c) = self.explicit.get(&key) {
            return Ok(c.clone());
        }
        if key == "docker.io"
            && let Some(c) = &self.docker_hub_env
        {
            return Ok(c.clone());
        }
        let Some(path) = &self.config_path else {
            return Ok(Credential::Anonymous);
        };
        let Some(config) = read_config(path, registry)? else {
            return Ok(Credential::Anonymous);
        };
        let server = helper_server_url(&key);
        if let Some(helper) = config
            .cred_helpers
            .iter()
            .find(|(k, _)| normalize_registry_key(k) == key)
            .map(|(_, v)| v)
        {
            return run_helper(self.helper_dir.as_deref(), helper, &server, registry).await;
        }
        if let Some(helper) = config.creds_store.as_deref().filter(|s| !s.is_empty()) {
            match run_helper(self.helper_dir.as_deref(), helper, &server, registry).await? {
                Credential::Anonymous => {}
                found => return Ok(found),
            }
        }
        if let Some(entry) = config
            .auths
            .iter()
            .find(|(k, _)| normalize_registry_key(k) == key)
            .map(|(_, v)| v)
        {
            return auth_entry_credential(entry, registry, path);
        }
        Ok(Credential::Anonymous)
    }
}

/// The form registry names take as keys: Docker Hub spellings become `docker.io`, schemes and
/// paths are dropped (`https://index.docker.io/v1/` → `docker.io`).
pub fn normalize_registry_key(key: &str) -> String {
    let host = key.trim();
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(host);
    let host = host.split('/').next().unwrap_or("").to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" | "docker.io" => {
            "docker.io".to_owned()
        }
        _ => host,
    }
}

fn helper_server_url(key: &str) -> String {
    if key == "docker.io" {
        DOCKER_HUB_CONFIG_KEY.to_owned()
    } else {
        key.to_owned()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

fn read_config(path: &Path, registry: &str) -> Result<Option<DockerConfig>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    // Never echo the file content: serde's error carries only a position.
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Credentials {
            registry: registry.to_owned(),
            reason: format!(
                "`{}` is not valid Docker config JSON (line {}, column {}); fix or remove it",
                path.display(),
                e.line(),
                e.column()
            ),
        })
}

fn auth_entry_credential(entry: &AuthEntry, registry: &str, path: &Path) -> Result<Credential> {
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Credential::IdentityToken(Secret::new(token)));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = || Error::Credentials {
            registry: registry.to_owned(),
            reason: format!(
                "the `auth` entry in `{}` is not base64 of `user:password`; run `docker login` again",
                path.display()
            ),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, pass) = decoded.split_once(':').ok_or_else(bad)?;
        return Ok(Credential::Basic {
            username: user.to_owned(),
            password: Secret::new(pass),
        });
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Credential::Basic {
            username: u.clone(),
            password: Secret::new(p.clone()),
        });
    }
    Ok(Credential::Anonymous)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperReply {
    username: String,
    secret: String,
}

/// Runs `docker-credential-<helper> get` with the server URL on stdin.
async fn run_helper(
    dir: Option<&Path>,
    helper: &str,
    server: &str,
    registry: &str,
) -> Result<Credential> {
    let program = format!("docker-credential-{helper}");
    let path = dir.map_or_else(|| PathBuf::from(&program), |d| d.join(&program));
    let fail = |reason: String| Error::Credentials {
        registry: registry.to_owned(),
        reason,
    };
    let mut child = tokio::process::Command::new(&path)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run `{program}` ({e}); install it or remove it from the Docker config"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .await
            .map_err(|e| fail(format!("cannot write to `{program}`: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| fail(format!("`{program}` failed: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // The helper protocol reports a missing entry on stdout with this text.
        if msg.contains("credentials not found") {
            return Ok(Credential::Anonymous);
        }
        return Err(fail(format!(
            "`{program} get` exited with {}; its output is not shown because it may hold secrets",
            out.status
        )));
    }
    let reply: HelperReply = serde_json::from_slice(&out.stdout).map_err(|_| {
        fail(format!(
            "`{program} get` printed something other than {{\"Username\",\"Secret\"}} JSON"
        ))
    })?;
    if reply.username == "<token>" {
        return Ok(Credential::IdentityToken(Secret::new(reply.secret)));
    }
    if reply.secret.is_empty() {
        return Ok(Credential::Anonymous);
    }
    Ok(Credential::Basic {
        username: reply.username,
        password: Secret::new(reply.secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_normalize() {
        assert_eq!(
            normalize_registry_key("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(normalize_registry_key("ghcr.io"), "ghcr.io");
        assert_eq!(
            normalize_registry_key("http://127.0.0.1:5000"),
            "127.0.0.1:5000"
        );
    }

    fn write(dir: &Path, json: &str) -> PathBuf {
        let p = dir.join("config.json");
        std::fs::write(&p, json).unwrap();
        p
    }

    #[tokio::test]
    async fn precedence_explicit_helpers_auths() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-plinthtest");
        std::fs::write(&helper, "#!/bin/sh\nread url\nif [ \"$url\" = \"helped.example\" ]; then echo '{\"ServerURL\":\"x\",\"Username\":\"h\",\"Secret\":\"hs\"}'; elif [ \"$url\" = \"tokhelp.example\" ]; then echo '{\"Username\":\"<token>\",\"Secret\":\"rt\"}'; else echo 'credentials not found in native keychain'; exit 1; fi\n").unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("u:p");
        let cfg = write(
            dir.path(),
            &format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"tok.example":{{"identitytoken":"itok"}},"helped.example":{{"auth":"{auth}"}}}},"credHelpers":{{"helped.example":"plinthtest"}},"credsStore":"plinthtest"}}"#
            ),
        );
        let c = Credentials::anonymous()
            .with_config_file(&cfg)
            .with_helper_dir(dir.path());
        let basic = |u: &str, p: &str| Credential::Basic {
            username: u.into(),
            password: Secret::new(p),
        };
        // credsStore has nothing for Docker Hub, so `auths` answers.
        assert_eq!(c.resolve("docker.io").await.unwrap(), basic("u", "p"));
        assert_eq!(
            c.resolve("tok.example").await.unwrap(),
            Credential::IdentityToken(Secret::new("itok"))
        );
        assert_eq!(
            c.resolve("other.example").await.unwrap(),
            Credential::Anonymous
        );
        // credHelpers wins over `auths`; `<token>` means an identity token.
        assert_eq!(c.resolve("helped.example").await.unwrap(), basic("h", "hs"));
        assert_eq!(
            c.resolve("tokhelp.example").await.unwrap(),
            Credential::IdentityToken(Secret::new("rt"))
        );
        // Explicit credentials win over everything.
        let c = c.with_explicit("index.docker.io", basic("e", "ep"));
        assert_eq!(c.resolve("docker.io").await.unwrap(), basic("e", "ep"));
        // A missing helper is a clear error.
        let c = Credentials::anonymous()
            .with_config_file(&cfg)
            .with_helper_dir(dir.path().join("nope"));
        let e = c.resolve("helped.example").await.unwrap_err().to_string();
        assert!(e.contains("docker-credential-plinthtest"), "{e}");
    }

    #[test]
    fn bad_auth_entry_does_not_echo_it() {
        let e = auth_entry_credential(
            &AuthEntry {
                auth: Some("bm9jb2xvbg==".into()),
                ..Default::default()
            },
            "r",
            Path::new("/c.json"),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("nocolon"), "{e}");
    }
}
