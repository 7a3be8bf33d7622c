//! A fault-injecting HTTP proxy in front of moto, for the failures moto never produces itself:
//! DynamoDB `UnprocessedItems`, DynamoDB throttling errors and failed S3 uploads.
//!
//! Every request is forwarded as it came (method, path, headers, body) unless the current
//! [`Fault`] says otherwise. moto does not check SigV4 signatures, so forwarding under another
//! `Host` is fine. The fault can be switched while the proxy runs, and counters say what it did,
//! so a test can prove that its fault really fired. Binds 127.0.0.1 on a free port; stopped on drop.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::moto::Moto;

/// What the proxy does to the requests it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// The next n `BatchWriteItem` calls write nothing: all their requests come back as
    /// `UnprocessedItems`, as a throttled table answers.
    HandBackBatches(u32),
    /// Every `BatchWriteItem` forwards only its first request and hands the rest back.
    OnePerBatch,
    /// Every `BatchWriteItem` hands everything back, forever.
    HandBackForever,
    /// The next n `BatchWriteItem` calls fail with `ProvisionedThroughputExceededException`.
    ThrottleBatches(u32),
    /// Every `BatchWriteItem` fails with `ProvisionedThroughputExceededException`.
    ThrottleForever,
    /// Every S3 `PutObject` fails with a 500 `InternalError`.
    FailS3Puts,
    /// S3 object PUTs number 1..k-1 (counted from when the fault was set, retries included)
    /// pass; PUT k and every one after it fail with a 500 `InternalError`: an outage that starts
    /// part-way through a publish.
    FailS3PutsFrom(u32),
}

/// What the proxy did, for assertions.
#[derive(Debug, Default)]
pub struct Counters {
    pub batch_calls: AtomicU32,
    pub handed_back: AtomicUsize,
    pub throttled: AtomicU32,
    pub s3_puts_failed: AtomicU32,
    /// Object PUTs seen since the fault was last set.
    pub s3_puts_seen: AtomicU32,
}

struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    fault: Mutex<Fault>,
    counters: Counters,
}

/// A running proxy; stopped when dropped.
pub struct Proxy {
    pub endpoint: String,
    state: Arc<ProxyState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Proxy {
    /// Starts a proxy to `moto` with `fault` active.
    pub async fn start(moto: &Moto, fault: Fault) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream: moto.endpoint.clone(),
            http: reqwest::Client::new(),
            fault: Mutex::new(fault),
            counters: Counters::default(),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("proxy serves");
        });
        Proxy {
            endpoint,
            state,
            server,
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
        self.state.counters.s3_puts_seen.store(0, Ordering::SeqCst);
    }

    pub fn counters(&self) -> &Counters {
        &self.state.counters
    }
}

fn response(status: StatusCode, content_type: &str, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("valid response")
}

async fn send_upstream(
    state: &ProxyState,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    body: Vec<u8>,
) -> Response {
    let mut request = state
        .http
        .request(method.clone(), format!("{}{path}", state.upstream))
        .body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let upstream = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return response(
                StatusCode::BAD_GATEWAY,
                "text/plain",
                format!("proxy: moto unreachable: {e}"),
            );
        }
    };
    let mut out = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out = out.header(name, value);
        }
    }
    let bytes = upstream.bytes().await.unwrap_or_default();
    out.body(Body::from(bytes)).expect("valid response")
}

/// Takes one from a countdown fault; `true` when this call is one of the faulted ones.
fn take_one(state: &ProxyState) -> bool {
    let mut fault = state.fault.lock().unwrap_or_else(|e| e.into_inner());
    match *fault {
        Fault::HandBackBatches(n) | Fault::ThrottleBatches(n) if n > 0 => {
            *fault = match *fault {
                Fault::HandBackBatches(_) => Fault::HandBackBatches(n - 1),
                _ => Fault::ThrottleBatches(n - 1),
            };
            true
        }
        Fault::OnePerBatch | Fault::HandBackForever | Fault::ThrottleForever => true,
        _ => false,
    }
}

/// The request's parts the proxy decides on, with the body read whole.
struct Incoming {
    method: Method,
    headers: HeaderMap,
    path: String,
    /// The `x-amz-target` header: the DynamoDB operation; S3 requests have none.
    target: Option<String>,
    body: Vec<u8>,
}

impl Incoming {
    async fn read(request: Request) -> Incoming {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 64 << 20)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let target = parts
            .headers
            .get("x-amz-target")
            .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned());
        Incoming {
            method: parts.method,
            headers: parts.headers,
            path,
            target,
            body,
        }
    }

    fn is_batch_write(&self) -> bool {
        self.target
            .as_deref()
            .is_some_and(|t| t.ends_with(".BatchWriteItem"))
    }

    /// S3 path-style PUT of an object (a bucket is `PUT /bucket`, an object `PUT /bucket/key`).
    fn is_object_put(&self) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        self.method == Method::PUT
            && self.target.is_none()
            && path.trim_start_matches('/').contains('/')
    }

    /// Forwards the request as it came.
    async fn pass_through(self, state: &ProxyState) -> Response {
        send_upstream(state, &self.method, &self.headers, &self.path, self.body).await
    }

    /// Forwards the request with `body` in place of its own.
    async fn send_with(&self, state: &ProxyState, body: Vec<u8>) -> Response {
        send_upstream(state, &self.method, &self.headers, &self.path, body).await
    }
}

/// Whether `fault` fails this object PUT; counts the PUT for [`Fault::FailS3PutsFrom`].
fn fails_object_put(state: &ProxyState, fault: Fault) -> bool {
    match fault {
        Fault::FailS3Puts => true,
        Fault::FailS3PutsFrom(k) => {
            state.counters.s3_puts_seen.fetch_add(1, Ordering::SeqCst) + 1 >= k
        }
        _ => false,
    }
}

/// S3's answer to a PUT it failed internally.
fn s3_internal_error() -> Response {
    response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>\
         <Message>We encountered an internal error. Please try again.</Message></Error>"
            .into(),
    )
}

/// DynamoDB's answer to a throttled call.
fn throughput_exceeded() -> Response {
    response(
        StatusCode::BAD_REQUEST,
        "application/x-amz-json-1.0",
        serde_json::json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded."
        })
        .to_string(),
    )
}

async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let incoming = Incoming::read(request).await;
    let fault = *state.fault.lock().unwrap_or_else(|e| e.into_inner());
    if incoming.is_object_put() && fails_object_put(&state, fault) {
        state.counters.s3_puts_failed.fetch_add(1, Ordering::SeqCst);
        return s3_internal_error();
    }
    if !incoming.is_batch_write() {
        return incoming.pass_through(&state).await;
    }
    state.counters.batch_calls.fetch_add(1, Ordering::SeqCst);
    if !take_one(&state) {
        return incoming.pass_through(&state).await;
    }
    if matches!(fault, Fault::ThrottleBatches(_) | Fault::ThrottleForever) {
        state.counters.throttled.fetch_add(1, Ordering::SeqCst);
        return throughput_exceeded();
    }
    hand_back(&state, fault, incoming).await
}

/// Answers a faulted `BatchWriteItem`: forwards what `fault` keeps (one write per table for
/// [`Fault::OnePerBatch`], nothing otherwise) and hands the rest back as `UnprocessedItems`.
async fn hand_back(state: &ProxyState, fault: Fault, incoming: Incoming) -> Response {
    let Ok(mut request) = serde_json::from_slice::<serde_json::Value>(&incoming.body) else {
        return incoming.pass_through(state).await;
    };
    let mut unprocessed = serde_json::Map::new();
    if let Some(tables) = request["RequestItems"].as_object_mut() {
        for (table, writes) in tables.iter_mut() {
            let Some(writes) = writes.as_array_mut() else {
                continue;
            };
            let keep = match fault {
                Fault::OnePerBatch => 1.min(writes.len()),
                _ => 0,
            };
            let rest: Vec<serde_json::Value> = writes.drain(keep..).collect();
            if !rest.is_empty() {
                state
                    .counters
                    .handed_back
                    .fetch_add(rest.len(), Ordering::SeqCst);
                unprocessed.insert(table.clone(), rest.into());
            }
        }
        tables.retain(|_, writes| writes.as_array().is_some_and(|w| !w.is_empty()));
        if !tables.is_empty() {
            let forwarded = serde_json::to_vec(&request).expect("JSON");
            let upstream = incoming.send_with(state, forwarded).await;
            if upstream.status() != StatusCode::OK {
                return upstream;
            }
        }
    }
    response(
        StatusCode::OK,
        "application/x-amz-json-1.0",
        serde_json::json!({ "UnprocessedItems": unprocessed }).to_string(),
    )
}
