//! Cross-cutting request handling: request ids, gateway overhead, HTTP metrics.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tracing::Instrument;

use axum::{
    extract::{MatchedPath, Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};

use crate::state::AppState;

/// Header carrying the request id, taken from the request or generated.
pub const REQUEST_ID: &str = "x-request-id";
/// Header carrying the time spent in the gateway itself, excluding upstream and tool time.
pub const OVERHEAD_MS: &str = "x-llamagate-overhead-ms";

/// The id of the current request (an extension of every request).
#[derive(Clone, Debug)]
pub struct RequestId(pub Arc<str>);

/// Time of the current request spent waiting on others (upstream LLM, MCP servers), which
/// handlers add to so that the overhead header measures the gateway alone.
#[derive(Clone, Debug, Default)]
pub struct ExternalTime(Arc<AtomicU64>);

impl ExternalTime {
    /// Count `elapsed` as time spent outside the gateway.
    pub fn add(&self, elapsed: Duration) {
        self.0.fetch_add(
            elapsed.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    fn total(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

/// A client-supplied id is kept when it is short and printable; otherwise a new one is made,
/// so ids are safe to log and echo.
fn request_id_of(request: &Request) -> Arc<str> {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(uuid::Uuid::new_v4().to_string()))
}

/// Assigns the request id, measures overhead and records HTTP metrics.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id_of(&request);
    let external = ExternalTime::default();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    request.extensions_mut().insert(RequestId(id.clone()));
    request.extensions_mut().insert(external.clone());

    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;

    let elapsed = started.elapsed();
    let overhead = elapsed.saturating_sub(external.total());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{:.3}", overhead.as_secs_f64() * 1000.0)) {
        headers.insert(OVERHEAD_MS, value);
    }
    let status = response.status();
    let metrics = state.metrics();
    metrics
        .http_requests
        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[route.as_str(), method.as_str()])
        .observe(elapsed.as_secs_f64());
    if status.is_server_error() {
        tracing::warn!(parent: &span, status = status.as_u16(), elapsed_ms = elapsed.as_millis() as u64, "request failed");
    } else {
        tracing::debug!(parent: &span, status = status.as_u16(), elapsed_ms = elapsed.as_millis() as u64, "request done");
    }
    response
}
