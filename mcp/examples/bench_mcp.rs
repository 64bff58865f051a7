//! MCP client benchmark (a benchmark, not a test): pooled sessions vs a new session per
//! call, cached vs uncached `tools/list`, and the CPU cost of health monitoring, each
//! measured against its baseline in the same run, on loopback, against real servers.
//!
//!     tests/peers/install.sh && cargo run --release -p llamagate-mcp --example bench_mcp
//!
//! Prints a table and the ratios; docs/benchmarks.md records a run.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use llamagate_mcp::{
    Context, Endpoint, McpMetrics, Prober, ProtocolMode, RemoteEndpoint, RemoteTransport,
    ServerClient, ServerDescription, ServerName, StdioCommand, cache::ListKind,
    health::HealthState, server::operations::ToolCall,
};

const CALLS: usize = 300;

/// A description of the mcp 2.3 peer: at `url` (Streamable HTTP) or, without one, over stdio.
fn server(name: &str, url: Option<&str>, protocol: ProtocolMode) -> ServerDescription {
    let endpoint = match url {
        Some(url) => Endpoint::Remote(
            RemoteEndpoint::new(RemoteTransport::StreamableHttp, url).expect("a peer URL"),
        ),
        None => {
            let peer = llamagate_test_peers::mcp2_stdio();
            let mut command = StdioCommand::new(peer.program).expect("a program");
            command.args = peer.args;
            command.cwd = Some(peer.cwd);
            Endpoint::Stdio(command)
        }
    };
    let mut description = ServerDescription::new(ServerName::new(name).unwrap(), endpoint);
    description.protocol = protocol;
    description
}

/// A description of the mcp 1.30 WebSocket peer at `url`.
fn ws_server(url: &str) -> ServerDescription {
    let endpoint =
        Endpoint::Remote(RemoteEndpoint::new(RemoteTransport::Websocket, url).expect("a peer URL"));
    ServerDescription::new(ServerName::new("ws").unwrap(), endpoint)
}

/// One context (HTTP client, prober) for every server, as the gateway's registry has.
fn context() -> &'static Context {
    static CONTEXT: OnceLock<(Prober, Context)> = OnceLock::new();
    let (_, context) = CONTEXT.get_or_init(|| {
        let prober = Prober::start().expect("the prober thread starts");
        let context = Context::new(McpMetrics::unregistered()).with_prober(&prober);
        (prober, context)
    });
    context
}

fn client(config: ServerDescription) -> Arc<ServerClient> {
    ServerClient::new(config, context())
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn call() -> ToolCall {
    let arguments = serde_json::json!({"message": "bench"})
        .as_object()
        .cloned()
        .unwrap();
    ToolCall {
        name: "echo".into(),
        arguments,
        ..Default::default()
    }
}

async fn pooled(config: ServerDescription) -> Vec<Duration> {
    let client = client(config);
    client.connect_vacant().await.unwrap();
    client.call_tool(call()).await.unwrap();
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        client.call_tool(call()).await.unwrap();
        samples.push(started.elapsed());
    }
    client.stop(Duration::from_secs(1)).await;
    samples
}

async fn fresh_session_each(config: ServerDescription, calls: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let client = client(config.clone());
        let started = Instant::now();
        client.connect_vacant().await.unwrap();
        client.call_tool(call()).await.unwrap();
        samples.push(started.elapsed());
        client.stop(Duration::from_millis(100)).await;
    }
    samples
}

async fn tools_list(config: ServerDescription, cached: bool) -> Vec<Duration> {
    let client = client(config);
    client.connect_vacant().await.unwrap();
    let mut samples = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        if !cached {
            client.cache_clear();
        }
        let started = Instant::now();
        let (_, _) = client.list(ListKind::Tools, "bench").await.unwrap();
        if i > 0 || !cached {
            samples.push(started.elapsed());
        }
    }
    client.stop(Duration::from_secs(1)).await;
    samples
}

/// CPU time of this process so far: the scheduler's own account of every thread's time on a
/// CPU (`/proc/self/task/*/schedstat`, nanoseconds), far finer than the 10 ms ticks of
/// `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let mut nanos = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat"))
            && let Some(on_cpu) = stat.split_whitespace().next()
        {
            nanos += on_cpu.parse::<u64>().unwrap_or(0);
        }
    }
    nanos as f64 / 1e9
}

/// CPU share of `servers` bare `server/discover` POSTs per `interval` to `url`, sent from
/// one current-thread runtime over a kept-alive hyper connection each, a tenth of them per
/// tenth of the interval: what the round trips themselves cost here, for comparison.
fn bare_probes(url: &str, servers: usize, interval: Duration) -> f64 {
    use http_body_util::{BodyExt, Full};
    let url = reqwest::Url::parse(url).unwrap();
    let body = bytes::Bytes::from(
        serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "server/discover",
            "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }},
        })
        .to_string(),
    );
    let probe =
        async move |sender: &mut hyper::client::conn::http1::SendRequest<Full<bytes::Bytes>>,
                    url: &reqwest::Url,
                    body: &bytes::Bytes| {
            sender.ready().await.unwrap();
            let request = http::Request::post(url.path())
                .header("host", url.authority())
                .header("accept", "application/json, text/event-stream")
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "server/discover")
                .body(Full::new(body.clone()))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            let answer = response.into_body().collect().await.unwrap().to_bytes();
            assert!(answer.windows(17).any(|w| w == b"supportedVersions"));
        };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut senders = Vec::new();
            for _ in 0..servers {
                let stream = tokio::net::TcpStream::connect(url.socket_addrs(|| None).unwrap()[0])
                    .await
                    .unwrap();
                stream.set_nodelay(true).unwrap();
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                senders.push(sender);
            }
            let tick = interval / 10;
            let per_tick = servers.div_ceil(10);
            let prober = tokio::spawn(async move {
                let mut ticker = tokio::time::interval(tick);
                for round in 0usize.. {
                    ticker.tick().await;
                    let start = (round % 10) * per_tick;
                    let slice = &mut senders[start.min(servers)..(start + per_tick).min(servers)];
                    futures::future::join_all(slice.iter_mut().map(|s| probe(s, &url, &body)))
                        .await;
                }
            });
            tokio::time::sleep(Duration::from_secs(3)).await;
            let (cpu_before, wall_before) = (cpu_seconds(), Instant::now());
            tokio::time::sleep(Duration::from_secs(15)).await;
            let share = (cpu_seconds() - cpu_before) / wall_before.elapsed().as_secs_f64();
            prober.abort();
            share
        })
    })
    .join()
    .unwrap()
}

fn row(name: &str, baseline: &mut [Duration], measured: &mut [Duration]) {
    let (b50, b99) = (percentile(baseline, 0.5), percentile(baseline, 0.99));
    let (m50, m99) = (percentile(measured, 0.5), percentile(measured, 0.99));
    println!(
        "| {name} | {:.3} / {:.3} | {:.3} / {:.3} | {:.1}x / {:.1}x |",
        b50.as_secs_f64() * 1e3,
        b99.as_secs_f64() * 1e3,
        m50.as_secs_f64() * 1e3,
        m99.as_secs_f64() * 1e3,
        b50.as_secs_f64() / m50.as_secs_f64(),
        b99.as_secs_f64() / m99.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let peer = llamagate_test_peers::mcp2_http();
    let url = peer.url.clone();
    let http_legacy = server("http-legacy", Some(&url), ProtocolMode::Legacy);
    let http_stateless = server("http-stateless", Some(&url), ProtocolMode::Auto);
    let stdio = server("stdio", None, ProtocolMode::Auto);
    let ws_peer = llamagate_test_peers::ws_peer();
    let ws = ws_server(&ws_peer.url);

    let health_only = std::env::var_os("BENCH_HEALTH_ONLY").is_some();
    if !health_only {
        println!("| case | baseline p50 / p99 ms | LlamaGate p50 / p99 ms | speed-up p50 / p99 |");
        println!("|---|---|---|---|");
        for (name, config, fresh_calls) in [
            (
                "tools/call, Streamable HTTP legacy: new session per call vs pooled",
                http_legacy.clone(),
                100,
            ),
            (
                "tools/call, Streamable HTTP stateless: new client per call vs pooled",
                http_stateless.clone(),
                100,
            ),
            (
                "tools/call, WebSocket (mcp 1.30): new connection per call vs pooled",
                ws.clone(),
                100,
            ),
            (
                "tools/call, stdio: new process per call vs pooled",
                stdio.clone(),
                15,
            ),
        ] {
            let mut baseline = fresh_session_each(config.clone(), fresh_calls).await;
            let mut measured = pooled(config).await;
            row(name, &mut baseline, &mut measured);
        }
        for (name, config) in [
            (
                "tools/list, Streamable HTTP legacy: uncached vs cached",
                http_legacy.clone(),
            ),
            (
                "tools/list, Streamable HTTP stateless: uncached vs cached",
                http_stateless.clone(),
            ),
            ("tools/list, WebSocket: uncached vs cached", ws.clone()),
            ("tools/list, stdio: uncached vs cached", stdio.clone()),
        ] {
            let mut baseline = tools_list(config.clone(), false).await;
            let mut measured = tools_list(config, true).await;
            row(name, &mut baseline, &mut measured);
        }
    }
    // Health monitoring: 200 servers probed every second (the stateless protocol's
    // `server/discover`, the cheapest real probe) for 20 s; CPU of this process only.
    let interval: u64 = std::env::var("BENCH_INTERVAL_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let protocol = if std::env::var_os("BENCH_LEGACY").is_some() {
        ProtocolMode::Legacy
    } else {
        ProtocolMode::Auto
    };
    // The floor, measured first while nothing else runs: the same round trips from one
    // thread over kept-alive connections, batched per tick, with no bookkeeping at all.
    let floor = bare_probes(&url, 200, Duration::from_secs(interval));
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let mut config = server(&format!("s{i}"), Some(&url), protocol);
            config.pool.size = 1;
            config.health.interval = Duration::from_secs(interval);
            config.health.timeout = Duration::from_millis(900);
            client(config)
        })
        .collect();
    for client in &clients {
        client.start();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let healthy = clients
        .iter()
        .filter(|c| c.health().state == HealthState::Healthy)
        .count();
    let (cpu_before, wall_before) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(20)).await;
    let share = (cpu_seconds() - cpu_before) / wall_before.elapsed().as_secs_f64();
    println!();
    println!(
        "health monitoring ({protocol:?}): {healthy}/200 servers healthy, {interval} s interval: {:.2}% of one core",
        share * 100.0
    );
    println!(
        "bare HTTP/1.1 `server/discover` round trips at the same rate (the floor): {:.2}% of one core; LlamaGate / floor: {:.2}",
        floor * 100.0,
        share / floor
    );
    for client in &clients {
        client.stop(Duration::from_millis(100)).await;
    }
}
