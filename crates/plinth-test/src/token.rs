//! A token service for a [`LocalRegistry`](crate::LocalRegistry) in distribution's `auth: token:`
//! mode, the Bearer flow Docker Hub, GHCR and most hosted registries use.
//!
//! The registry checking the tokens is the real one; only the token endpoint is ours. Tokens are
//! RS256 JWTs signed by a throw-away key and certificate made with `openssl`, with the
//! certificate in the JWT's `x5c` header; the registry trusts it through its `rootcertbundle`.
//! The service grants whatever scopes are asked to the one configured user (HTTP Basic) and
//! refuses everyone else, which is all a client test needs. It answers one request per
//! connection on plain HTTP/1.1 from a thread of its own, so sync and async tests use it alike.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::error::{Error, Result, io_error};
use crate::registry::BasicAuth;

/// The `service` the registry names in its challenge and the tokens are issued for.
pub const TOKEN_SERVICE: &str = "plinth-test-registry";
/// The `iss` claim of the tokens, which the registry checks.
pub const TOKEN_ISSUER: &str = "plinth-test-issuer";
/// How long issued tokens live, in seconds (reported as `expires_in`).
pub const TOKEN_LIFETIME_SECS: u64 = 300;

/// The largest request head the service reads.
const MAX_HEAD: usize = 64 * 1024;

/// One request the token service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The path and query, e.g. `/token?scope=repository%3Aa%3Apull&service=…`.
    pub target: String,
    /// The `scope` parameters, decoded, e.g. `repository:team/app:pull,push`.
    pub scopes: Vec<String>,
    /// The `service` parameter.
    pub service: Option<String>,
    /// Whether it carried the right Basic credentials (the header itself is never recorded).
    pub authorized: bool,
    /// Whether a token was issued.
    pub granted: bool,
}

struct State {
    expected_authorization: String,
    key: PathBuf,
    x5c: String,
    requests: Mutex<Vec<TokenRequest>>,
    issued: Mutex<Vec<String>>,
    stop: AtomicBool,
    serial: AtomicU64,
}

/// A running token service on `127.0.0.1:PORT`, stopped when dropped.
pub struct TokenServer {
    addr: SocketAddr,
    cert: PathBuf,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenServer")
            .field("addr", &self.addr)
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl TokenServer {
    /// Makes a key and certificate in `dir` and starts serving tokens to `auth`'s user.
    pub(crate) fn start(dir: &Path, auth: &BasicAuth) -> Result<Self> {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let der = dir.join("token.der");
        openssl(&[
            "req".as_ref(),
            "-x509".as_ref(),
            "-newkey".as_ref(),
            "rsa:2048".as_ref(),
            "-nodes".as_ref(),
            "-days".as_ref(),
            "2".as_ref(),
            "-subj".as_ref(),
            "/CN=plinth-test-token".as_ref(),
            "-keyout".as_ref(),
            key.as_os_str(),
            "-out".as_ref(),
            cert.as_os_str(),
        ])?;
        openssl(&[
            "x509".as_ref(),
            "-in".as_ref(),
            cert.as_os_str(),
            "-outform".as_ref(),
            "DER".as_ref(),
            "-out".as_ref(),
            der.as_os_str(),
        ])?;
        let der_bytes = std::fs::read(&der).map_err(io_error("read", &der))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let state = Arc::new(State {
            expected_authorization: format!(
                "Basic {}",
                b64.encode(format!("{}:{}", auth.username, auth.password))
            ),
            key,
            x5c: b64.encode(der_bytes),
            requests: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            serial: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").map_err(io_error("bind", "127.0.0.1:0"))?;
        let addr = listener
            .local_addr()
            .map_err(io_error("inspect", "127.0.0.1:0"))?;
        let serving = state.clone();
        let thread = std::thread::Builder::new()
            .name("token-service".into())
            .spawn(move || accept_loop(&listener, &serving))
            .map_err(io_error("spawn the token service thread for", dir))?;
        Ok(Self {
            addr,
            cert,
            state,
            thread: Some(thread),
        })
    }

    /// The realm URL the registry sends clients to: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The PEM certificate the registry trusts for token signatures.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        lock(&self.state.requests).clone()
    }

    /// How many tokens were asked for (granted or not).
    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// Every token issued so far, to check that none leaks into logs or errors.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state.issued).clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let state = state.clone();
        // One thread per connection: signing shells out to openssl and must not hold up others.
        let _ = std::thread::Builder::new()
            .name("token-request".into())
            .spawn(move || {
                if let Err(err) = serve(stream, &state) {
                    tracing::debug!(%err, "token service connection failed");
                }
            });
    }
}

fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    let mut read = request_line.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        read += n;
        if n == 0 || line == "\r\n" || line == "\n" || read > MAX_HEAD {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let (status, body) = answer(state, &target, authorization.as_deref());
    let reason = if status == 200 { "OK" } else { "Error" };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    // Drain anything left so the close does not turn into a reset.
    let _ = reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(50)));
    let _ = reader.read(&mut [0u8; 1024]);
    Ok(())
}

fn answer(state: &State, target: &str, authorization: Option<&str>) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let service = params
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone());
    let authorized = authorization == Some(state.expected_authorization.as_str());
    let mut record = TokenRequest {
        target: target.to_owned(),
        scopes: scopes.clone(),
        service: service.clone(),
        authorized,
        granted: false,
    };
    let result = if path != "/token" {
        (404, r#"{"details":"not found"}"#.to_owned())
    } else if !authorized && (authorization.is_some() || !scopes.is_empty()) {
        (
            401,
            r#"{"details":"authentication required: wrong or missing credentials"}"#.to_owned(),
        )
    } else {
        match issue(state, &scopes, service.as_deref().unwrap_or(TOKEN_SERVICE)) {
            Ok(token) => {
                record.granted = true;
                lock(&state.issued).push(token.clone());
                (
                    200,
                    serde_json::json!({
                        "token": token,
                        "access_token": token,
                        "expires_in": TOKEN_LIFETIME_SECS,
                    })
                    .to_string(),
                )
            }
            Err(err) => (
                500,
                serde_json::json!({"details": format!("token signing failed: {err}")}).to_string(),
            ),
        }
    };
    lock(&state.requests).push(record);
    result
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not hide the log.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signed JWT granting `scopes` (`repository:<name>:<actions>`).
fn issue(state: &State, scopes: &[String], audience: &str) -> Result<String> {
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|scope| {
            // Repository names never hold `:`, but actions come last and may hold commas.
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({
                "type": kind,
                "name": name,
                "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let serial = state.serial.fetch_add(1, Ordering::Relaxed);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [state.x5c]});
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER,
        "sub": "plinth-test-user",
        "aud": audience,
        "exp": now + TOKEN_LIFETIME_SECS,
        "nbf": now.saturating_sub(10),
        "iat": now,
        "jti": format!("{now}-{serial}"),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = sign(&state.key, signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64url(&signature)))
}

/// RS256: an RSA PKCS#1 v1.5 signature over the SHA-256 of `data`, by `openssl dgst`.
fn sign(key: &Path, data: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            program: "openssl".into(),
            hint: "install it with `apt-get install -y openssl`".into(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(data)
            .map_err(io_error("write to openssl for", key))?;
    }
    let out = child
        .wait_with_output()
        .map_err(io_error("run openssl with", key))?;
    if !out.status.success() {
        return Err(Error::Environment(format!(
            "`openssl dgst -sign` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

fn openssl(args: &[&std::ffi::OsStr]) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            program: "openssl".into(),
            hint: "install it with `apt-get install -y openssl`".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Environment(format!(
            "`openssl {}` failed: {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_the_user_and_refuses_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let auth = BasicAuth::default();
        let server = TokenServer::start(dir.path(), &auth).unwrap();
        let (status, body) = answer(
            &server.state,
            "/token?service=s&scope=repository%3Aa%2Fb%3Apull%2Cpush",
            Some(&server.state.expected_authorization),
        );
        assert_eq!(status, 200, "{body}");
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        let token = reply["token"].as_str().unwrap();
        let claims = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["access"][0]["name"], "a/b");
        assert_eq!(claims["access"][0]["actions"][1], "push");
        assert_eq!(claims["aud"], "s");

        let (status, _) = answer(&server.state, "/token?scope=repository%3Aa%3Apull", None);
        assert_eq!(status, 401);
        let (status, _) = answer(
            &server.state,
            "/token?scope=repository%3Aa%3Apull",
            Some("Basic d3Jvbmc6d3Jvbmc="),
        );
        assert_eq!(status, 401);
        let requests = server.requests();
        assert_eq!(requests.len(), 3);
        assert_eq!(
            requests.iter().map(|r| r.granted).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!(server.issued_tokens(), [token.to_owned()]);
    }
}
