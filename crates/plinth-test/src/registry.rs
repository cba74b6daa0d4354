//! A real `docker-registry` (distribution v2) process on a loopback port.
//!
//! Each [`LocalRegistry`] owns a temp directory holding its generated `config.yml`, its storage and
//! its log. The process runs under a small `sh` guard that kills it (and removes the directory of a
//! shared instance) as soon as the test process goes away, even when the test binary is killed and
//! no destructor runs.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, io_error};
use crate::token::{TOKEN_ISSUER, TOKEN_SERVICE, TokenServer};

/// The registry binary Debian's `docker-registry` package installs.
pub const REGISTRY_BINARY: &str = "docker-registry";

/// How long a registry gets to answer `GET /v2/` after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a start is retried when another process grabbed the free port first.
const PORT_ATTEMPTS: usize = 5;

/// Username and password of a registry started with Basic auth.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The clear-text password (a test secret, never a real one).
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Default for BasicAuth {
    fn default() -> Self {
        Self {
            username: "plinth".to_owned(),
            password: "plinth-test-password".to_owned(),
        }
    }
}

/// Options for starting a [`LocalRegistry`].
#[derive(Debug, Clone, Default)]
pub struct LocalRegistryBuilder {
    auth: Option<BasicAuth>,
    /// Bearer tokens from a [`TokenServer`] instead of Basic auth on every request.
    token: bool,
}

impl LocalRegistryBuilder {
    /// Requires HTTP Basic auth with these credentials (an htpasswd file with a bcrypt hash).
    pub fn with_basic_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth = Some(BasicAuth {
            username: username.into(),
            password: password.into(),
        });
        self
    }

    /// Requires HTTP Basic auth with [`BasicAuth::default`].
    pub fn with_default_basic_auth(mut self) -> Self {
        self.auth = Some(BasicAuth::default());
        self
    }

    /// Requires Bearer tokens (distribution's `auth: token:` mode), issued by a [`TokenServer`]
    /// started with the registry to the one user with these credentials. This is the flow of
    /// Docker Hub and most hosted registries: `401` with a `Bearer realm=…` challenge, a token
    /// request with Basic credentials and scopes, then `Authorization: Bearer …`.
    pub fn with_token_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self = self.with_basic_auth(username, password);
        self.token = true;
        self
    }

    /// [`with_token_auth`](Self::with_token_auth) with [`BasicAuth::default`] credentials.
    pub fn with_default_token_auth(mut self) -> Self {
        self.auth = Some(BasicAuth::default());
        self.token = true;
        self
    }

    /// Starts the registry, or says why it could not.
    pub fn try_start(self) -> Result<LocalRegistry> {
        let dir = tempfile::Builder::new()
            .prefix("plinth-registry-")
            .tempdir()
            .map_err(io_error("create temp directory", std::env::temp_dir()))?;
        let token_server = match (&self.auth, self.token) {
            (Some(auth), true) => Some(TokenServer::start(dir.path(), auth)?),
            _ => None,
        };
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match start_in(dir.path(), self.auth.as_ref(), token_server.as_ref()) {
                Ok(running) => {
                    return Ok(LocalRegistry {
                        running,
                        dir: Some(dir),
                        auth: self.auth,
                        token_server,
                    });
                }
                Err(StartError::PortTaken(err)) => last_error = Some(err),
                Err(StartError::Other(err)) => return Err(err),
            }
        }
        Err(last_error.expect("at least one start attempt was made"))
    }

    /// Starts the registry; panics with the registry's log if it cannot.
    pub fn start(self) -> LocalRegistry {
        self.try_start()
            .unwrap_or_else(|err| panic!("{}", crate::error_chain(&err)))
    }
}

/// A running `docker-registry` on `127.0.0.1:PORT`, killed when dropped.
///
/// Use [`LocalRegistry::start`] for a fresh, empty registry per test, or
/// [`LocalRegistry::shared`] for one instance per test binary (distinct repository names keep
/// tests apart). The registry allows deletes and never purges uploads behind a test's back.
#[derive(Debug)]
pub struct LocalRegistry {
    running: Running,
    /// `None` for the shared instance, whose directory the guard process removes.
    dir: Option<tempfile::TempDir>,
    auth: Option<BasicAuth>,
    token_server: Option<TokenServer>,
}

#[derive(Debug)]
struct Running {
    guard: Child,
    stdin: Option<ChildStdin>,
    registry_pid: u32,
    port: u16,
    root: PathBuf,
}

impl LocalRegistry {
    /// Options for a new registry (e.g. Basic auth).
    pub fn builder() -> LocalRegistryBuilder {
        LocalRegistryBuilder::default()
    }

    /// Starts a fresh registry without auth; panics if it cannot.
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// The registry shared by every test of this test binary (no auth).
    pub fn shared() -> &'static LocalRegistry {
        static SHARED: OnceLock<LocalRegistry> = OnceLock::new();
        SHARED.get_or_init(|| Self::builder().start().into_shared())
    }

    /// The Basic-auth registry shared by every test of this test binary, with
    /// [`BasicAuth::default`] credentials.
    pub fn shared_with_auth() -> &'static LocalRegistry {
        static SHARED: OnceLock<LocalRegistry> = OnceLock::new();
        SHARED.get_or_init(|| {
            Self::builder()
                .with_default_basic_auth()
                .start()
                .into_shared()
        })
    }

    /// Hands the temp directory to the guard process, which removes it when the test binary exits
    /// (statics are never dropped).
    fn into_shared(mut self) -> Self {
        if let Some(dir) = self.dir.take() {
            let root = dir.keep();
            // Best effort: without the marker the directory merely stays behind in the temp dir.
            let _ = std::fs::write(root.join(".remove-on-exit"), b"");
        }
        self
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.running.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.running.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT/<repo_and_tag>`, e.g. `image("test/busybox:1")`.
    pub fn image(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host())
    }

    /// The credentials when it was started with Basic auth, or with token auth (then they are
    /// what the token service accepts).
    pub fn auth(&self) -> Option<&BasicAuth> {
        self.auth.as_ref()
    }

    /// The token service, when it was started with token auth.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token_server.as_ref()
    }

    /// The directory holding the registry's blobs and repositories.
    pub fn storage_dir(&self) -> PathBuf {
        self.running.root.join("storage")
    }

    /// The file the registry logs to.
    pub fn log_path(&self) -> PathBuf {
        self.running.root.join("registry.log")
    }

    /// Everything the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the blob exists in storage (checked on disk, not over HTTP), e.g.
    /// `has_blob_on_disk("sha256:ab…")`.
    pub fn has_blob_on_disk(&self, digest: &str) -> bool {
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return false;
        };
        if hex.len() < 2 {
            return false;
        }
        self.storage_dir()
            .join("docker/registry/v2/blobs")
            .join(algorithm)
            .join(&hex[..2])
            .join(hex)
            .join("data")
            .is_file()
    }

    /// The status code of an unauthenticated `GET` of `path` (e.g. `/v2/`), for quick probes.
    pub fn get_status(&self, path: &str) -> std::io::Result<u16> {
        http_get_status(&self.host(), path)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        self.running.stop();
    }
}

impl Running {
    fn stop(&mut self) {
        // Closing the guard's stdin makes it kill the registry and wait for it.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.guard.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .arg("-9")
            .arg(self.registry_pid.to_string())
            .status();
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }
}

enum StartError {
    PortTaken(Error),
    Other(Error),
}

fn start_in(
    root: &Path,
    auth: Option<&BasicAuth>,
    token: Option<&TokenServer>,
) -> Result<Running, StartError> {
    if crate::external::find_in_path(REGISTRY_BINARY).is_none() {
        return Err(StartError::Other(Error::Environment(format!(
            "`{REGISTRY_BINARY}` is not on PATH; install it with `apt-get install -y docker-registry`"
        ))));
    }
    let port = free_port()
        .map_err(|e| StartError::Other(io_error("bind a free port on", "127.0.0.1:0")(e)))?;
    let storage = root.join("storage");
    std::fs::create_dir_all(&storage)
        .map_err(|e| StartError::Other(io_error("create directory", &storage)(e)))?;
    let htpasswd = root.join("htpasswd");
    // With a token service the registry checks tokens, never passwords.
    let auth = if token.is_some() { None } else { auth };
    if let Some(auth) = auth {
        let line = htpasswd_line(auth).map_err(StartError::Other)?;
        write_file(&htpasswd, &line).map_err(StartError::Other)?;
    }
    let config = root.join("config.yml");
    let mut config_text = config_yaml(port, &storage, auth.map(|_| htpasswd.as_path()));
    if let Some(token) = token {
        config_text.push_str(&token_auth_yaml(token));
    }
    write_file(&config, &config_text).map_err(StartError::Other)?;
    let log_path = root.join("registry.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| StartError::Other(io_error("create", &log_path)(e)))?;

    // The guard: start the registry with stdout and stderr in the log (a write to a closed pipe
    // would kill it with SIGPIPE), print its pid, then block on stdin. When stdin closes (the
    // test dropped the registry, or the test process died), kill the registry and, for a shared
    // instance whose directory was kept, remove the directory.
    let script = r#"
"$0" serve "$1" </dev/null >&2 &
pid=$!
echo "$pid"
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -f "$2/.remove-on-exit" ]; then rm -rf "$2"; fi
"#;
    let mut guard = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(REGISTRY_BINARY)
        .arg(&config)
        .arg(root)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|source| {
            StartError::Other(Error::Spawn {
                program: "sh".into(),
                hint: "a POSIX shell is needed to supervise the registry".into(),
                source,
            })
        })?;
    let stdin = guard.stdin.take();
    let mut pid_line = String::new();
    if let Some(stdout) = guard.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut pid_line);
    }
    let registry_pid = pid_line.trim().parse::<u32>().unwrap_or(0);
    let mut running = Running {
        guard,
        stdin,
        registry_pid,
        port,
        root: root.to_owned(),
    };
    match wait_ready(&running, &log_path) {
        Ok(()) => {
            tracing::debug!(port, "local registry is ready");
            Ok(running)
        }
        Err(err) => {
            running.stop();
            Err(err)
        }
    }
}

fn wait_ready(running: &Running, log_path: &Path) -> Result<(), StartError> {
    let addr = format!("127.0.0.1:{}", running.port);
    let deadline = Instant::now() + READY_TIMEOUT;
    let not_ready = |reason: &str| Error::RegistryNotReady {
        addr: addr.clone(),
        reason: reason.to_owned(),
        log: log_tail(log_path),
    };
    loop {
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        if log.contains("address already in use") {
            return Err(StartError::PortTaken(not_ready(
                "the port was taken by another process",
            )));
        }
        // Only trust the answer once our own process says it listens, so a stranger on the
        // port is never mistaken for our registry.
        if log.contains(&format!("listening on {addr}")) && http_get_status(&addr, "/v2/").is_ok() {
            return Ok(());
        }
        if log.contains("level=fatal")
            || log.contains("panic:")
            || !process_alive(running.registry_pid)
        {
            return Err(StartError::Other(not_ready("the registry exited")));
        }
        if Instant::now() > deadline {
            return Err(StartError::Other(not_ready(
                "timed out waiting for `GET /v2/`",
            )));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Whether the process exists and is not a zombie.
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesized command name.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(io_error("write", path))
}

fn htpasswd_line(auth: &BasicAuth) -> Result<String> {
    // The lowest cost keeps tests fast; distribution accepts any bcrypt cost.
    let hash =
        bcrypt::hash_with_result(&auth.password, 4)?.format_for_version(bcrypt::Version::TwoY);
    Ok(format!("{}:{hash}\n", auth.username))
}

fn yaml_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "''"))
}

/// The top-level `auth:` section for token mode (appended to [`config_yaml`] without auth).
fn token_auth_yaml(token: &TokenServer) -> String {
    format!(
        "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
        token.realm(),
        yaml_quote(token.cert_path()),
    )
}

fn config_yaml(port: u16, storage: &Path, htpasswd: Option<&Path>) -> String {
    let auth = match htpasswd {
        Some(path) => format!(
            "auth:\n  htpasswd:\n    realm: plinth-test\n    path: {}\n",
            yaml_quote(path)
        ),
        None => String::new(),
    };
    format!(
        "version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: plinth-test-secret
  headers:
    X-Content-Type-Options: [nosniff]
{auth}",
        storage = yaml_quote(storage),
    )
}

/// Sends `GET path` over plain HTTP/1.0 and returns the status code.
pub(crate) fn http_get_status(addr: &str, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let line = String::from_utf8_lossy(&head);
    line.get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP answer: {line:?}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_enables_delete_and_disables_upload_purging() {
        let yaml = config_yaml(5000, Path::new("/tmp/x"), None);
        assert!(yaml.contains("delete:\n    enabled: true"));
        assert!(yaml.contains("uploadpurging:\n      enabled: false"));
        assert!(yaml.contains("addr: 127.0.0.1:5000"));
        assert!(!yaml.contains("htpasswd"));
    }

    #[test]
    fn htpasswd_line_verifies() {
        let auth = BasicAuth::default();
        let line = htpasswd_line(&auth).unwrap();
        let (user, hash) = line.trim_end().split_once(':').unwrap();
        assert_eq!(user, "plinth");
        assert!(hash.starts_with("$2y$04$"), "{hash}");
        assert!(bcrypt::verify(&auth.password, hash).unwrap());
    }

    #[test]
    fn basic_auth_debug_redacts_password() {
        let shown = format!("{:?}", BasicAuth::default());
        assert!(!shown.contains("plinth-test-password"), "{shown}");
    }
}
