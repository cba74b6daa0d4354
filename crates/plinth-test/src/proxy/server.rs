//! The request handler: record, pick a fault, forward upstream with streaming bodies.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use super::body::{BoxError, EndlessBody, TapBody};
use super::conn::ConnControl;
use super::rules::{ECHOED_PASSWORD, Fault, RecordedRequest, RequestKind, Rule, SIGNED_QUERY};

pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// Headers that describe one hop, not the message, and so are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// State shared by all connections of one proxy.
pub(crate) struct Shared {
    pub(crate) upstream: String,
    pub(crate) own_host: String,
    pub(crate) client: Client<HttpConnector, ProxyBody>,
    pub(crate) rules: Mutex<Vec<ActiveRule>>,
    pub(crate) log: Mutex<Vec<Entry>>,
}

pub(crate) struct ActiveRule {
    pub(crate) rule: Rule,
    pub(crate) fired: u32,
    pub(crate) seen: u32,
}

/// A request in the log, with live byte counters.
pub(crate) struct Entry {
    pub(crate) record: RecordedRequest,
    pub(crate) request_bytes: Arc<AtomicU64>,
    pub(crate) response_bytes: Arc<AtomicU64>,
    pub(crate) response_cut_short: Arc<AtomicBool>,
}

impl Entry {
    pub(crate) fn snapshot(&self) -> RecordedRequest {
        RecordedRequest {
            request_body_bytes: self.request_bytes.load(Ordering::Relaxed),
            response_body_bytes: self.response_bytes.load(Ordering::Relaxed),
            response_cut_short: self.response_cut_short.load(Ordering::Relaxed),
            ..self.record.clone()
        }
    }
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not hide the log.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Every matching rule counts the request (for `after`); the first one still due fires.
    fn pick_fault(&self, method: &str, path_and_query: &str, kind: RequestKind) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let mut picked = None;
        for active in rules.iter_mut() {
            if !active.rule.matcher.matches(method, path_and_query, kind) {
                continue;
            }
            active.seen += 1;
            let due = active.seen > active.rule.skip
                && active.rule.times.is_none_or(|t| active.fired < t);
            if due && picked.is_none() {
                active.fired += 1;
                picked = Some(active.rule.fault.clone());
            }
        }
        picked
    }

    fn set_status(&self, index: usize, status: u16) {
        if let Some(entry) = lock(&self.log).get_mut(index) {
            entry.record.status = Some(status);
        }
    }
}

pub(crate) async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    conn: Arc<ConnControl>,
) -> Result<Response<ProxyBody>, Infallible> {
    let request_bytes = Arc::new(AtomicU64::new(0));
    let logged = log_request(&shared, &req, request_bytes.clone());
    let (mut parts, body) = req.into_parts();
    let request_body = TapBody::new(body, request_bytes);
    match apply_fault(&shared, &logged, &mut parts, request_body, &conn).await {
        Plan::Answer(response) => Ok(response),
        Plan::Forward { body, response_cut } => {
            Ok(forward(&shared, &logged, parts, body, response_cut, conn).await)
        }
    }
}

/// A request as the log holds it, with what the rest of the handler needs.
struct Logged {
    index: usize,
    fault: Option<Fault>,
    method: String,
    path_and_query: String,
    response_bytes: Arc<AtomicU64>,
    response_cut_short: Arc<AtomicBool>,
}

/// What a fault leaves to do: answer without the upstream, or forward (perhaps cut).
enum Plan {
    Answer(Response<ProxyBody>),
    Forward {
        body: TapBody<Incoming>,
        response_cut: Option<u64>,
    },
}

/// Picks the request's fault and appends it to the log, with byte counters the bodies update.
fn log_request(shared: &Shared, req: &Request<Incoming>, request_bytes: Arc<AtomicU64>) -> Logged {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let kind = RequestKind::classify(&method, &path, query.as_deref());
    let fault = shared.pick_fault(&method, &path_and_query, kind);
    let response_bytes = Arc::new(AtomicU64::new(0));
    let response_cut_short = Arc::new(AtomicBool::new(false));
    let headers = req.headers();
    let record = RecordedRequest {
        method: method.clone(),
        path,
        query,
        kind,
        status: None,
        fault: fault.clone(),
        authorized: headers.contains_key(header::AUTHORIZATION),
        content_length: header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        content_range: header_str(headers, header::CONTENT_RANGE).map(str::to_owned),
        request_body_bytes: 0,
        response_body_bytes: 0,
        response_cut_short: false,
    };
    let index = {
        let mut log = lock(&shared.log);
        log.push(Entry {
            record,
            request_bytes,
            response_bytes: response_bytes.clone(),
            response_cut_short: response_cut_short.clone(),
        });
        log.len() - 1
    };
    // The path only: queries can be signed, and tests assert that no log line shows one.
    let logged_path = path_and_query.split('?').next().unwrap_or_default();
    tracing::debug!(%method, path = %logged_path, ?kind, ?fault, "fault proxy request");
    Logged {
        index,
        fault,
        method,
        path_and_query,
        response_bytes,
        response_cut_short,
    }
}

/// Answers the faults that never reach the upstream; readies the request for the others.
async fn apply_fault(
    shared: &Shared,
    logged: &Logged,
    parts: &mut http::request::Parts,
    mut request_body: TapBody<Incoming>,
    conn: &Arc<ConnControl>,
) -> Plan {
    let index = logged.index;
    let mut response_cut = None;
    match &logged.fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            // Read the body first so the client sees the status, not a broken pipe.
            while let Some(frame) = request_body.frame().await {
                if frame.is_err() {
                    break;
                }
            }
            shared.set_status(index, *status);
            let head = logged.method == "HEAD";
            return Plan::Answer(injected_status(*status, *retry_after, head));
        }
        Some(Fault::EndlessBody) => {
            shared.set_status(index, 200);
            let body = EndlessBody::new(Bytes::from(vec![b'x'; 64 * 1024]), None);
            return Plan::Answer(generated(body, logged.response_bytes.clone()));
        }
        Some(Fault::Trickle(every)) => {
            shared.set_status(index, 200);
            let body = EndlessBody::new(Bytes::from_static(b"x"), Some(*every));
            return Plan::Answer(generated(body, logged.response_bytes.clone()));
        }
        Some(Fault::EchoCredentials(status)) => {
            shared.set_status(index, *status);
            let authorization = header_str(&parts.headers, header::AUTHORIZATION).unwrap_or("");
            return Plan::Answer(echo_credentials(
                *status,
                authorization,
                &logged.path_and_query,
            ));
        }
        Some(Fault::RedirectSigned) => {
            shared.set_status(index, 307);
            return Plan::Answer(redirect_signed(shared, &logged.path_and_query));
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::ResetRequestAfter(limit)) => {
            request_body = request_body.with_cut(*limit, conn.clone())
        }
        Some(Fault::ResetResponseAfter(limit)) => response_cut = Some(*limit),
        Some(Fault::StripAuthorization) => {
            parts.headers.remove(header::AUTHORIZATION);
        }
        Some(Fault::DropResponse) | None => {}
    }
    Plan::Forward {
        body: request_body,
        response_cut,
    }
}

/// A redirect to a signed URL on the proxy itself, as blob stores answer.
fn redirect_signed(shared: &Shared, path_and_query: &str) -> Response<ProxyBody> {
    let location = format!(
        "http://{}/signed{}?{SIGNED_QUERY}",
        shared.own_host,
        path_and_query.split('?').next().unwrap_or_default()
    );
    Response::builder()
        .status(StatusCode::TEMPORARY_REDIRECT)
        .header(header::LOCATION, location)
        .body(full(Bytes::new()))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

/// Sends the request upstream and streams the answer back, counted and perhaps cut.
async fn forward(
    shared: &Shared,
    logged: &Logged,
    mut parts: http::request::Parts,
    request_body: TapBody<Incoming>,
    response_cut: Option<u64>,
    conn: Arc<ConnControl>,
) -> Response<ProxyBody> {
    let index = logged.index;
    strip_hop_by_hop(&mut parts.headers);
    let upstream_uri = format!("http://{}{}", shared.upstream, logged.path_and_query);
    parts.uri = match upstream_uri.parse() {
        Ok(uri) => uri,
        Err(err) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                format!("fault proxy: bad uri: {err}"),
            );
        }
    };
    if let Ok(host) = HeaderValue::from_str(&shared.upstream) {
        parts.headers.insert(header::HOST, host);
    }
    let upstream_req = Request::from_parts(parts, request_body.boxed());
    let response = match shared.client.request(upstream_req).await {
        Ok(response) => response,
        Err(err) => {
            shared.set_status(index, 502);
            return plain_error(
                StatusCode::BAD_GATEWAY,
                format!("fault proxy: upstream failed: {err}"),
            );
        }
    };
    if logged.fault == Some(Fault::DropResponse) {
        drop(response);
        conn.close();
        // The connection task drops this future along with the connection.
        return std::future::pending().await;
    }
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    rewrite_location(&mut parts.headers, &shared.upstream, &shared.own_host);
    shared.set_status(index, parts.status.as_u16());
    let mut body = TapBody::new(body, logged.response_bytes.clone())
        .with_cut_short_flag(logged.response_cut_short.clone());
    if let Some(limit) = response_cut {
        body = body.with_cut(limit, conn);
    }
    Response::from_parts(parts, body.boxed())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}

/// Points an upstream `Location` (absolute, as distribution sends it) back at the proxy.
pub(crate) fn rewrite_location(headers: &mut HeaderMap, upstream: &str, own_host: &str) {
    let Some(location) = header_str(headers, header::LOCATION) else {
        return;
    };
    let upstream_prefix = format!("http://{upstream}");
    if let Some(rest) = location.strip_prefix(&upstream_prefix)
        && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        && let Ok(value) = HeaderValue::from_str(&format!("http://{own_host}{rest}"))
    {
        headers.insert(header::LOCATION, value);
    }
}

fn injected_status(status: u16, retry_after: Option<u64>, head: bool) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        429 => "TOOMANYREQUESTS",
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        404 => "NAME_UNKNOWN",
        _ => "UNKNOWN",
    };
    let json = format!(
        r#"{{"errors":[{{"code":"{code}","message":"injected by the test fault proxy","detail":null}}]}}"#
    );
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::CONTENT_LENGTH, json.len())
        .header("Docker-Distribution-Api-Version", "registry/2.0");
    if let Some(secs) = retry_after {
        builder = builder.header(header::RETRY_AFTER, secs);
    }
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(json)
    };
    builder
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

fn generated(body: EndlessBody, counter: Arc<AtomicU64>) -> Response<ProxyBody> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(TapBody::new(body, counter).boxed())
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

fn echo_credentials(status: u16, authorization: &str, path_and_query: &str) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    let json = serde_json::json!({
        "errors": [{
            "code": "DENIED",
            "message": format!("request {path_and_query} with Authorization: {authorization} denied"),
            "detail": { "password": ECHOED_PASSWORD, "signed": format!("https://blobs.example/x?{SIGNED_QUERY}") },
        }]
    })
    .to_string();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, json.len())
        .body(full(Bytes::from(json)))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

fn plain_error(status: StatusCode, message: String) -> Response<ProxyBody> {
    let mut response = Response::new(full(Bytes::from(message)));
    *response.status_mut() = status;
    response
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_pointed_back_at_the_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=y"),
        );
        rewrite_location(&mut headers, "127.0.0.1:5000", "127.0.0.1:6000");
        assert_eq!(
            headers[header::LOCATION],
            "http://127.0.0.1:6000/v2/a/blobs/uploads/x?_state=y"
        );

        // A different port that merely starts with the same digits is left alone.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("http://127.0.0.1:50001/v2/"),
        );
        rewrite_location(&mut headers, "127.0.0.1:5000", "127.0.0.1:6000");
        assert_eq!(headers[header::LOCATION], "http://127.0.0.1:50001/v2/");

        // Relative locations already point at whoever the client talks to.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("/v2/a/blobs/uploads/x"),
        );
        rewrite_location(&mut headers, "127.0.0.1:5000", "127.0.0.1:6000");
        assert_eq!(headers[header::LOCATION], "/v2/a/blobs/uploads/x");
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key(header::CONTENT_TYPE));
    }
}
