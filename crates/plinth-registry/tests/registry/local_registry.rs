//! A real `docker-registry` (distribution v2) process on 127.0.0.1 for these tests.
//!
//! Temporary: fold into `plinth-test`'s `LocalRegistry` once that lands.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How the registry authenticates clients.
pub enum Auth {
    None,
    /// htpasswd (bcrypt) with one user.
    Basic {
        user: String,
        password: String,
    },
    /// Token auth: realm URL, service, issuer, and the PEM certificate that signs tokens.
    Token {
        realm: String,
        service: String,
        issuer: String,
        cert: PathBuf,
    },
}

pub struct LocalRegistry {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl LocalRegistry {
    /// The registry shared by every test of this binary.
    pub fn shared() -> &'static LocalRegistry {
        static SHARED: OnceLock<LocalRegistry> = OnceLock::new();
        SHARED.get_or_init(|| LocalRegistry::start(Auth::None))
    }

    pub fn start(auth: Auth) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).unwrap();
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Basic { user, password } => {
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{user}:{}\n", bcrypt(password))).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    htpasswd.display()
                )
            }
            Auth::Token {
                realm,
                service,
                issuer,
                cert,
            } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                cert.display()
            ),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: plinth-test-secret\n{auth_yaml}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        // The shell watches its stdin: when this test process exits (even without running
        // destructors, as with statics), the pipe closes and the registry is killed.
        let child = Command::new("sh")
            .arg("-c")
            .arg("docker-registry serve \"$1\" & pid=$!; cat >/dev/null; kill $pid 2>/dev/null; wait $pid 2>/dev/null")
            .arg("sh")
            .arg(&config_path)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("`docker-registry` must be installed (Debian package docker-registry)");
        let r = Self { port, dir, child };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut buf = [0u8; 12];
                if s.read(&mut buf).is_ok_and(|n| n >= 12) && buf.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not start; log:\n{}", self.log());
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        // Closing stdin makes the watcher shell kill the registry.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A bcrypt hash for htpasswd (distribution accepts bcrypt only), via `htpasswd` when
/// installed, else Python's `crypt` (libxcrypt supports `$2b$`).
fn bcrypt(password: &str) -> String {
    if let Ok(out) = Command::new("htpasswd")
        .args(["-nbB", "-C", "4", "u", password])
        .output()
        && out.status.success()
    {
        let line = String::from_utf8(out.stdout).unwrap();
        return line.trim().split_once(':').unwrap().1.to_owned();
    }
    let out = Command::new("python3")
        .args(["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))", password])
        .output()
        .expect("need `htpasswd` (apache2-utils) or python3 to make a bcrypt hash");
    assert!(
        out.status.success(),
        "python3 crypt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
