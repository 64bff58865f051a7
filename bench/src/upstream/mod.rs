//! The fast upstreams of the harness, each run as its own process (`llamagate-bench
//! mcp-upstream`, `llamagate-bench llm-upstream`): servers that do as little per request as a
//! real server can, so that whatever stands in front of them is what the load measures.

pub mod llm;
pub mod mcp;

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub type Body = BoxBody<Bytes, Infallible>;

/// Connections and requests served so far, for `GET /stats`: how many requests and
/// connections a gateway in front spends per call of its own.
#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// Serve `handler` on 127.0.0.1:`port` over HTTP/1.1 with keep-alive, until the process ends.
/// `GET /stats` answers `{"connections": N, "requests": M}` (itself not counted).
pub async fn serve<H, F>(port: u16, handler: H) -> anyhow::Result<()>
where
    H: Fn(Request<Bytes>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let handler = Arc::new(handler);
    let stats = Arc::new(Stats::default());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let (handler, stats) = (handler.clone(), stats.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (handler, stats) = (handler.clone(), stats.clone());
                async move {
                    if request.uri().path() == "/stats" {
                        return Ok(json(&serde_json::json!({
                            "connections": stats.connections.load(Ordering::Relaxed),
                            "requests": stats.requests.load(Ordering::Relaxed),
                        })));
                    }
                    stats.requests.fetch_add(1, Ordering::Relaxed);
                    let (parts, body) = request.into_parts();
                    let response = match body.collect().await {
                        Ok(body) => handler(Request::from_parts(parts, body.to_bytes())).await,
                        Err(_) => status(StatusCode::BAD_REQUEST),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A JSON answer with its length.
pub fn json(value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(serde_json::to_vec(value).unwrap_or_default()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// An empty answer with this status.
pub fn status(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(Vec::new()));
    *response.status_mut() = status;
    response
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}
