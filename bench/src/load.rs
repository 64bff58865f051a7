//! The load generator: HTTP/1.1 over kept-alive connections (hyper, one request in flight
//! per connection), either as fast as the target answers (`Load::Max`) or at a fixed rate
//! (`Load::Rate`), where each request's latency counts from the moment it was due, not from
//! when a connection got free, so a stall is not hidden (coordinated omission).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::{net::TcpStream, time::Instant};

/// One kind of request, sent again and again.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Text every good answer contains.
    pub expect: &'static str,
    /// Open this many 2025-11-25 MCP sessions first and send their ids, round-robin over
    /// the connections (0: no sessions). A gateway pools a few sessions per server; a
    /// baseline with as many sessions as connections would load the server differently.
    pub mcp_sessions: usize,
}

#[derive(Clone, Copy, Debug)]
pub enum Load {
    /// Each connection sends its next request as soon as the last is answered.
    Max { connections: usize },
    /// `per_second` requests, spread evenly, over `connections` connections.
    Rate { per_second: u32, connections: usize },
}

/// What a run measured, after its warm-up.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Microseconds, sorted.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn throughput(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p` quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

/// Run `load` against `target` for `duration`.
pub async fn run(target: &Target, load: Load, duration: Duration) -> anyhow::Result<Outcome> {
    let connections = match load {
        Load::Max { connections } | Load::Rate { connections, .. } => connections,
    };
    let mut connected = Vec::with_capacity(connections);
    let mut sessions: Vec<HeaderValue> = Vec::new();
    for i in 0..connections {
        // An empty value: no session; `None`: open one.
        let session = match sessions.get(i % target.mcp_sessions.max(1)) {
            Some(session) => Some(session.clone()),
            None if target.mcp_sessions > 0 => None,
            None => Some(HeaderValue::from_static("")),
        };
        let connection = connect(target, session).await?;
        if let Some(opened) = &connection.session
            && sessions.len() < target.mcp_sessions
            && !sessions.contains(opened)
        {
            sessions.push(opened.clone());
        }
        connected.push(connection);
    }
    let start = Instant::now();
    let end = start + duration;
    let due = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for mut connection in connected {
        let (target, due) = (target.clone(), due.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let sent = match load {
                    Load::Max { .. } => Instant::now(),
                    Load::Rate { per_second, .. } => {
                        let n = due.fetch_add(1, Ordering::Relaxed);
                        let at = start + Duration::from_secs_f64(n as f64 / f64::from(per_second));
                        if at >= end {
                            break;
                        }
                        tokio::time::sleep_until(at).await;
                        at
                    }
                };
                if sent >= end {
                    break;
                }
                let result = send(&mut connection, &target).await;
                let done = Instant::now();
                match result {
                    Ok(()) => outcome.latencies_us.push(micros(done - sent)),
                    Err(e) => {
                        outcome.errors += 1;
                        outcome.first_error.get_or_insert(format!("{e:#}"));
                        if connection.is_closed() {
                            let session = connection.session.clone();
                            match connect(&target, session).await {
                                Ok(fresh) => connection = fresh,
                                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                            }
                        }
                    }
                }
            }
            outcome
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        let part = task.await?;
        total.latencies_us.extend(part.latencies_us);
        total.errors += part.errors;
        if total.first_error.is_none() {
            total.first_error = part.first_error;
        }
    }
    // The wall time: at a rate the target does not keep up with, the last requests are
    // answered after the schedule ended, and the throughput must show it.
    total.elapsed = start.elapsed().max(duration);
    total.latencies_us.sort_unstable();
    Ok(total)
}

fn micros(elapsed: Duration) -> u32 {
    u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)
}

/// A connection ready for `target`'s requests, in `session` (an empty value: none; `None`:
/// open a new one).
async fn connect(target: &Target, session: Option<HeaderValue>) -> anyhow::Result<Connection> {
    let stream = TcpStream::connect(target.addr)
        .await
        .with_context(|| format!("connecting to {}", target.addr))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut connection = Connection {
        sender,
        session: session.filter(|s| !s.is_empty()),
    };
    if target.mcp_sessions > 0 && connection.session.is_none() {
        connection.session = Some(open_session(&mut connection, target).await?);
    }
    Ok(connection)
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    session: Option<HeaderValue>,
}

impl Connection {
    fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// `initialize` and `notifications/initialized`, as a 2025-11-25 client opens a session.
async fn open_session(connection: &mut Connection, target: &Target) -> anyhow::Result<HeaderValue> {
    let initialize = serde_json::json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "llamagate-bench", "version": env!("CARGO_PKG_VERSION") } } });
    let (head, _) = exchange(connection, target, Bytes::from(initialize.to_string())).await?;
    let session = head
        .headers
        .get("mcp-session-id")
        .cloned()
        .context("the server opened no session (no Mcp-Session-Id)")?;
    connection.session = Some(session.clone());
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    exchange(
        connection,
        target,
        Bytes::from_static(initialized.as_bytes()),
    )
    .await?;
    Ok(session)
}

async fn send(connection: &mut Connection, target: &Target) -> anyhow::Result<()> {
    let (head, body) = exchange(connection, target, target.body.clone()).await?;
    if !head.status.is_success() {
        anyhow::bail!("HTTP {}: {}", head.status, String::from_utf8_lossy(&body));
    }
    if !body
        .windows(target.expect.len())
        .any(|w| w == target.expect.as_bytes())
    {
        anyhow::bail!(
            "the answer lacks {:?}: {}",
            target.expect,
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

async fn exchange(
    connection: &mut Connection,
    target: &Target,
    body: Bytes,
) -> anyhow::Result<(http::response::Parts, Bytes)> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(&target.path)
        .header(header::HOST, target.addr.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    if let Some(session) = &connection.session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
    }
    connection.sender.ready().await?;
    let response = connection
        .sender
        .send_request(request.body(Full::new(body))?)
        .await?;
    let (head, body) = response.into_parts();
    Ok((head, body.collect().await?.to_bytes()))
}
