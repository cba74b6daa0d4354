//! A tiny scripted HTTP/1.1 server for protocol corners the real registry cannot show:
//! distribution 2.8 ignores `n=` on tag lists, so it never paginates, and a `FaultProxy` in front
//! of it cannot invent `Link` headers. One request per connection. Faults against the real
//! registry (429, 5xx, resets, latency) live in `faults.rs`.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct MiniRequest {
    pub method: String,
    pub target: String,
    /// Header names lowercased.
    #[allow(dead_code)] // kept for scripted handlers that look at headers
    pub headers: Vec<(String, String)>,
}

impl MiniRequest {
    #[allow(dead_code)] // kept for scripted handlers that look at headers
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct MiniResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl MiniResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }
}

pub struct MiniServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<MiniRequest>>>,
}

impl MiniServer {
    pub async fn start(
        handler: impl Fn(&MiniRequest) -> MiniResponse + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let handler = Arc::new(handler);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let handler = handler.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let mut lines = head.split("\r\n");
                    let mut parts = lines.next().unwrap_or("").split(' ');
                    let (method, target) = (
                        parts.next().unwrap_or("").to_owned(),
                        parts.next().unwrap_or("").to_owned(),
                    );
                    let headers = lines
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| {
                            l.split_once(':')
                                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        })
                        .collect();
                    let req = MiniRequest {
                        method,
                        target,
                        headers,
                    };
                    log.lock().unwrap().push(req.clone());
                    let resp = handler(&req);
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\nConnection: close\r\nContent-Length: {}\r\n",
                        resp.status,
                        resp.body.len()
                    );
                    for (k, v) in &resp.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let _ = sock.write_all(out.as_bytes()).await;
                    if req.method != "HEAD" {
                        let _ = sock.write_all(&resp.body).await;
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { port, requests }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn count(&self, f: impl Fn(&MiniRequest) -> bool) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| f(r))
            .count()
    }
}
