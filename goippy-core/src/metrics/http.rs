//! The HTTP side of the metrics endpoint: hyper's HTTP/1 server on a plain
//! TCP listener, with the limits that keep a slow or hostile client from
//! costing more than a few kilobytes and a few seconds:
//!
//! * at most [`MAX_CONNECTIONS`] at a time; one more is closed at once
//!   (a scraper retries at its next interval);
//! * every connection ends within [`CONNECTION_DEADLINE`] of its accept,
//!   whatever the client does (no keep-alive: one request per connection,
//!   which costs a Prometheus server nothing at scrape intervals);
//! * a request head (line and headers) larger than [`MAX_REQUEST_HEAD`] is
//!   answered 431 by hyper, a malformed one 400; a request carrying a body
//!   gets 413 without the body being read (nothing here takes one);
//! * only `GET` (and `HEAD`) of `/metrics`, `/health`, `/health/live` and
//!   `/health/ready`; other paths 404, other methods 405.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::bridge::BridgeProbe;
use crate::util::SharedWarnLimiter;

use super::exposition;
use super::health::{self, Check};
use super::link_history::LinkHistory;

/// Connections served at the same time.
pub const MAX_CONNECTIONS: usize = 8;

/// How long one connection may last, from accept to close.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

/// The largest request head (request line and headers) read; hyper's
/// smallest allowed buffer, and far more than a scraper sends.
pub const MAX_REQUEST_HEAD: usize = 8192;

static TOO_MANY: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));
static ACCEPT_FAILED: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));

/// What every connection reads.
pub(super) struct Shared {
    pub probe: BridgeProbe,
    pub link: LinkHistory,
}

/// Accepts until the task is aborted; dropping the set of connections
/// then ends every connection still open.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        if let Some(suppressed) = TOO_MANY.allow() {
                            tracing::warn!(
                                %peer,
                                suppressed,
                                "metrics: {MAX_CONNECTIONS} connections open already; closed a new one"
                            );
                        }
                        continue;
                    };
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move {
                        let _slot = slot;
                        connection(stream, shared).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors, say: a pause, not a busy loop.
                    if let Some(suppressed) = ACCEPT_FAILED.allow() {
                        tracing::warn!(suppressed, "metrics: cannot accept a connection: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(answer(&shared, request).await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(false)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_DEADLINE, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("metrics: connection ended: {e}"),
        Err(_) => tracing::debug!(
            "metrics: connection closed after {} s",
            CONNECTION_DEADLINE.as_secs()
        ),
    }
}

async fn answer(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if has_body(&request) {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "a request body is not accepted\n",
        );
    }
    let link = shared.link.view();
    // HEAD gets GET's headers: hyper leaves the body out itself.
    match request.uri().path() {
        "/metrics" => {
            let body = exposition::render(&shared.probe, link).await;
            with_type(StatusCode::OK, exposition::CONTENT_TYPE, body)
        }
        "/health" | "/health/ready" => {
            report(health::check(&shared.probe, link, Check::Ready).await)
        }
        "/health/live" => report(health::check(&shared.probe, link, Check::Live).await),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: goippy serves /metrics, /health, /health/live and /health/ready\n",
        ),
    }
}

/// Whether the request announces a body (of any length but zero).
fn has_body(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.to_str().map(|s| s.trim() != "0").unwrap_or(true))
}

fn report(report: health::Report) -> Response<Full<Bytes>> {
    let status = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(status, report.text)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    with_type(status, "text/plain; charset=utf-8", body.into())
}

fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
