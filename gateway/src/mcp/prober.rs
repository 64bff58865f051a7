//! The shared prober: steady-state health probes of every healthy stateless (2026-07-28)
//! Streamable HTTP server of the process, from one thread.
//!
//! Why a shared thread: with hundreds of servers probed every second, a probe costs far
//! more in waking threads than in its HTTP exchange. A task per server wakes the runtime's
//! workers for each probe; here the probes due in the same tick (a tenth of the interval, at
//! most 100 ms) leave together from one current-thread runtime, each over a kept-alive
//! connection of its own, while the server's monitor task sleeps until a probe fails.
//! Connecting, backoff, legacy sessions and the other transports stay with the per-server
//! monitor task (`lifecycle.rs`), which takes over again when a probe fails. A server whose
//! calls were answered within the interval is not probed at all (passive health).

use std::{
    sync::{OnceLock, Weak},
    time::Duration,
};

use bytes::Bytes;
use futures::{StreamExt, stream::FuturesUnordered};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use reqwest::header::{HOST, HeaderMap, HeaderValue};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_util::time::DelayQueue;

use super::{
    error::McpError,
    health::{HealthState, jittered},
    probe::{DISCOVER, check_discover_answer, discover_body, discover_headers},
    server::ServerClient,
};
use crate::config::ServerConfig;

/// Largest `server/discover` answer read; a real one is well under a kilobyte.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why the prober gave a server back to its monitor task.
#[derive(Debug)]
pub(crate) enum Handback {
    /// A probe failed: the monitor records it and reconnects with backoff.
    Failed(McpError),
    /// The server is up but has sessions to replace, or stopped: the monitor decides.
    Resume,
}

/// A server handed to the prober by its monitor task.
pub(crate) struct Watch {
    client: Weak<ServerClient>,
    target: Target,
    interval: Duration,
    timeout: Duration,
    handback: oneshot::Sender<Handback>,
}

impl Watch {
    /// A watch of `client`, or `None` when the server cannot be probed here (its URL or
    /// headers are unusable: the monitor task keeps probing it itself).
    pub(crate) fn new(
        client: &std::sync::Arc<ServerClient>,
    ) -> Option<(Self, oneshot::Receiver<Handback>)> {
        let target = Target::new(&client.config)?;
        let (handback, receiver) = oneshot::channel();
        let watch = Self {
            client: std::sync::Arc::downgrade(client),
            target,
            interval: client.settings.health_check_interval,
            timeout: client.settings.health_check_timeout,
            handback,
        };
        Some((watch, receiver))
    }

    /// The monitor task is gone (the server stopped or was removed): stop probing it.
    fn abandoned(&self) -> bool {
        self.handback.is_closed() || self.client.strong_count() == 0
    }
}

/// Hand `watch` to the prober thread (started on first use). False when the thread could
/// not be started: then the caller keeps probing the server itself.
pub(crate) fn hand_over(watch: Watch) -> bool {
    static PROBER: OnceLock<Option<mpsc::UnboundedSender<Watch>>> = OnceLock::new();
    let sender = PROBER.get_or_init(|| {
        let (sender, receiver) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        std::thread::Builder::new()
            .name("llamagate-prober".to_owned())
            .spawn(move || runtime.block_on(run(receiver)))
            .ok()?;
        Some(sender)
    });
    sender
        .as_ref()
        .is_some_and(|sender| sender.send(watch).is_ok())
}

/// Where and how a server is probed, prepared once.
struct Target {
    server: String,
    route: Route,
    headers: HeaderMap,
}

enum Route {
    /// Plain HTTP with no proxy in the environment: a kept-alive HTTP/1.1 connection of
    /// the server's own, without a pool in between.
    Direct {
        host: url::Host,
        port: u16,
        uri: http::Uri,
    },
    /// TLS, proxies: the prober's `reqwest` client, which handles them.
    Pooled { url: reqwest::Url },
}

impl Target {
    fn new(config: &ServerConfig) -> Option<Self> {
        let url = reqwest::Url::parse(config.url.as_deref()?).ok()?;
        let mut headers = discover_headers(config).ok()?;
        let direct = url.scheme() == "http"
            && url.username().is_empty()
            && url.password().is_none()
            && !proxy_in_environment();
        let route = match (direct, url.host(), url.port_or_known_default()) {
            (true, Some(host), Some(port)) => {
                headers.insert(HOST, HeaderValue::from_str(url.authority()).ok()?);
                let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
                Route::Direct {
                    host: host.to_owned(),
                    port,
                    uri: path.parse().ok()?,
                }
            }
            _ => Route::Pooled { url },
        };
        Some(Self {
            server: config.name.clone(),
            route,
            headers,
        })
    }
}

fn proxy_in_environment() -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// A watched server and its connection (boxed: entries move in and out of futures).
struct Entry {
    watch: Box<Watch>,
    connection: Option<SendRequest<Full<Bytes>>>,
}

/// The prober's loop: wait for the next tick, probe every server due in it concurrently,
/// schedule the healthy ones again and give the others back to their monitor tasks.
async fn run(mut incoming: mpsc::UnboundedReceiver<Watch>) {
    let Ok(pooled) = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
    else {
        // Without a TLS backend nothing can be probed here; dropping `incoming` makes
        // every monitor task keep its server.
        return;
    };
    let epoch = Instant::now();
    let mut waiting: DelayQueue<Entry> = DelayQueue::new();
    let mut probing = FuturesUnordered::new();
    loop {
        tokio::select! {
            Some(watch) = incoming.recv() => {
                let at = next_probe(epoch, watch.interval);
                let watch = Box::new(watch);
                waiting.insert_at(Entry { watch, connection: None }, at);
            }
            Some(due) = waiting.next() => {
                let entry = due.into_inner();
                if entry.watch.abandoned() {
                    continue;
                }
                if proven_by_traffic(&entry) {
                    let at = next_probe(epoch, entry.watch.interval);
                    waiting.insert_at(entry, at);
                } else {
                    probing.push(probe(entry, pooled.clone()));
                }
            }
            Some((entry, outcome)) = probing.next() => {
                if let Some(entry) = settle(entry, outcome) {
                    let at = next_probe(epoch, entry.watch.interval);
                    waiting.insert_at(entry, at);
                }
            }
        }
    }
}

/// When to probe next: the jittered interval from now, rounded up to the tick grid so
/// that servers due close together are probed in one wake-up.
fn next_probe(epoch: Instant, interval: Duration) -> Instant {
    // Validation caps the interval; the cap here keeps `DelayQueue` (which panics past about
    // two years) safe from any other caller.
    let interval = interval.min(crate::config::MAX_HEALTH_CHECK_INTERVAL);
    let tick = (interval / 10).clamp(Duration::from_millis(1), Duration::from_millis(100));
    let since_epoch = (Instant::now() + jittered(interval)) - epoch;
    let ticks = since_epoch.as_nanos().div_ceil(tick.as_nanos());
    let offset = u64::try_from(ticks.saturating_mul(tick.as_nanos())).unwrap_or(u64::MAX);
    epoch + Duration::from_nanos(offset)
}

/// Passive health: calls answered within the interval stand in for the probe.
fn proven_by_traffic(entry: &Entry) -> bool {
    let Some(client) = entry.watch.client.upgrade() else {
        return false;
    };
    if !client.last_answer.within(entry.watch.interval) {
        return false;
    }
    client.probes.skipped.inc();
    client.record_success(None);
    true
}

/// Record a probe's outcome; returns the entry when it stays with the prober.
fn settle(entry: Entry, outcome: Result<Duration, McpError>) -> Option<Entry> {
    if entry.watch.abandoned() {
        return None;
    }
    let client = entry.watch.client.upgrade()?;
    let handback = match outcome {
        Ok(latency) => {
            client.probes.ok.inc();
            client.record_success(Some(latency));
            let keep = client.health_state() == HealthState::Healthy
                && client.pool.vacant_slots().is_empty();
            if keep {
                return Some(entry);
            }
            Handback::Resume
        }
        Err(error) => {
            client.probes.failed.inc();
            Handback::Failed(error)
        }
    };
    // The monitor task may have just gone; then there is nobody left to tell.
    let _ = entry.watch.handback.send(handback);
    None
}

async fn probe(mut entry: Entry, pooled: reqwest::Client) -> (Entry, Result<Duration, McpError>) {
    let started = Instant::now();
    let timeout = entry.watch.timeout;
    let exchange = tokio::time::timeout(timeout, exchange(&mut entry, &pooled)).await;
    let outcome = match exchange {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(detail)) => Err(McpError::Transport {
            server: entry.watch.target.server.clone(),
            method: DISCOVER.to_owned(),
            detail,
        }),
        Err(_) => Err(McpError::Timeout {
            server: entry.watch.target.server.clone(),
            method: DISCOVER.to_owned(),
            timeout,
        }),
    };
    if outcome.is_err() {
        // A connection that failed or timed out mid-exchange is not reused.
        entry.connection = None;
    }
    (entry, outcome)
}

/// One `server/discover` POST and the check of its answer.
async fn exchange(entry: &mut Entry, pooled: &reqwest::Client) -> Result<(), String> {
    let target = &entry.watch.target;
    let (status, body) = match &target.route {
        Route::Direct { host, port, uri } => {
            let mut connection = match entry.connection.take() {
                Some(open) if !open.is_closed() => open,
                _ => connect(host, *port).await?,
            };
            connection.ready().await.map_err(|e| e.to_string())?;
            let mut request = http::Request::post(uri.clone())
                .body(Full::new(discover_body()))
                .map_err(|e| e.to_string())?;
            *request.headers_mut() = target.headers.clone();
            let response = connection
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            entry.connection = Some(connection);
            (status, body)
        }
        Route::Pooled { url } => {
            let response = pooled
                .post(url.clone())
                .headers(target.headers.clone())
                .body(discover_body())
                .send()
                .await
                .map_err(|e| super::error::error_chain(&e.without_url()))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| e.to_string())?;
            (status, body)
        }
    };
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    check_discover_answer(&body)
}

async fn connect(host: &url::Host, port: u16) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = match host {
        url::Host::Domain(name) => tokio::net::TcpStream::connect((name.as_str(), port)).await,
        url::Host::Ipv4(address) => tokio::net::TcpStream::connect((*address, port)).await,
        url::Host::Ipv6(address) => tokio::net::TcpStream::connect((*address, port)).await,
    }
    .map_err(|e| format!("connecting: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    // Ends when `sender` is dropped or the server closes the connection.
    tokio::spawn(connection);
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> ServerConfig {
        serde_json::from_value(serde_json::json!({
            "name": "probe-target",
            "transport": "streamable-http",
            "url": url,
        }))
        .unwrap()
    }

    #[test]
    fn plain_http_is_probed_over_a_connection_of_its_own() {
        if proxy_in_environment() {
            return;
        }
        let target = Target::new(&config("http://127.0.0.1:8931/mcp?tenant=a")).unwrap();
        let Route::Direct { host, port, uri } = &target.route else {
            panic!("plain HTTP should go direct")
        };
        assert_eq!((host.to_string().as_str(), *port), ("127.0.0.1", 8931));
        assert_eq!(uri.to_string(), "/mcp?tenant=a");
        assert_eq!(target.headers[HOST], "127.0.0.1:8931");
        assert_eq!(target.headers["mcp-method"], DISCOVER);
    }

    #[test]
    fn tls_and_credentials_in_the_url_go_through_reqwest() {
        for url in [
            "https://mcp.example.com/mcp",
            "http://user:pw@127.0.0.1:1/mcp",
        ] {
            let target = Target::new(&config(url)).unwrap();
            assert!(matches!(target.route, Route::Pooled { .. }), "{url}");
        }
    }

    #[test]
    fn probes_due_close_together_share_a_tick() {
        let epoch = Instant::now();
        let interval = Duration::from_secs(1);
        for _ in 0..100 {
            let at = next_probe(epoch, interval) - epoch;
            assert_eq!(at.as_nanos() % 100_000_000, 0, "{at:?} is off the grid");
            assert!(
                at >= Duration::from_millis(900) && at <= Duration::from_millis(1200),
                "{at:?}"
            );
        }
    }
}
