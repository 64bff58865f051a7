//! What the client's tests share: the real peers (`llamagate-test-peers`), descriptions of
//! them, and clients on a context with the shared prober and metrics the test can read.
#![allow(dead_code)]

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

pub use llamagate_test_peers::*;

use llamagate_mcp::{
    Context, Endpoint, McpMetrics, Prober, RemoteEndpoint, RemoteTransport, ServerClient,
    ServerDescription, ServerName, StdioCommand, Transport, server::operations::ToolCall,
};
use serde_json::Value;

/// A description of the remote server `name` at `url`.
pub fn remote(name: &str, transport: Transport, url: &str) -> ServerDescription {
    let transport = match transport {
        Transport::Sse => RemoteTransport::Sse,
        Transport::Websocket => RemoteTransport::Websocket,
        Transport::StreamableHttp => RemoteTransport::StreamableHttp,
        Transport::Stdio => panic!("a stdio server has no URL"),
    };
    let endpoint = RemoteEndpoint::new(transport, url).expect("a test URL");
    ServerDescription::new(ServerName::new(name).unwrap(), Endpoint::Remote(endpoint))
}

/// A description of `command args…` as a stdio server, run in `tests/peers/`.
pub fn stdio(name: &str, command: &str, args: &[&str]) -> ServerDescription {
    let mut stdio = StdioCommand::new(command).unwrap();
    stdio.args = args.iter().map(|a| (*a).to_owned()).collect();
    stdio.cwd = Some(peers_dir());
    ServerDescription::new(ServerName::new(name).unwrap(), Endpoint::Stdio(stdio))
}

fn stdio_of(name: &str, peer: StdioPeer) -> ServerDescription {
    let args: Vec<&str> = peer.args.iter().map(String::as_str).collect();
    let mut description = stdio(name, &peer.program, &args);
    description.command_mut().unwrap().cwd = Some(peer.cwd);
    description
}

/// server-everything over stdio.
pub fn everything_stdio(name: &str) -> ServerDescription {
    stdio_of(name, llamagate_test_peers::everything_stdio())
}

/// The mcp 1.30 peer over stdio.
pub fn mcp1_stdio(name: &str) -> ServerDescription {
    stdio_of(name, llamagate_test_peers::mcp1_stdio())
}

/// The mcp 2.3 peer over stdio.
pub fn mcp2_stdio(name: &str) -> ServerDescription {
    stdio_of(name, llamagate_test_peers::mcp2_stdio())
}

/// `mcp-server-time` over stdio.
pub fn time_stdio(name: &str) -> ServerDescription {
    stdio_of(name, llamagate_test_peers::time_stdio())
}

/// One shared prober for the test binary, as a gateway has one for its process.
fn prober() -> &'static Prober {
    static PROBER: OnceLock<Prober> = OnceLock::new();
    PROBER.get_or_init(|| Prober::start().expect("the prober thread starts"))
}

/// Metric families registered in a registry of the test's own (prefix `llamagate`, as in
/// the gateway), so that a test can read what the client recorded.
#[derive(Clone)]
pub struct TestMetrics {
    registry: prometheus::Registry,
    pub mcp: McpMetrics,
}

impl TestMetrics {
    pub fn new() -> Self {
        let registry = prometheus::Registry::new_custom(Some("llamagate".to_owned()), None)
            .expect("a valid prefix");
        let mcp = McpMetrics::register(&registry).expect("fresh registry");
        Self { registry, mcp }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buffer = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .unwrap();
        String::from_utf8(buffer).unwrap()
    }
}

/// A context with the shared prober and `metrics`.
pub fn context_with(metrics: &TestMetrics) -> Context {
    Context::new(metrics.mcp.clone()).with_prober(prober())
}

/// A client of `description` with metrics nobody reads.
pub fn client(description: ServerDescription) -> Arc<ServerClient> {
    ServerClient::new(description, &context_with(&TestMetrics::new()))
}

/// A client for `config` with quick health checks (300 ms) and `tweak` applied.
pub fn client_with(
    mut config: ServerDescription,
    tweak: impl FnOnce(&mut ServerDescription),
) -> Arc<ServerClient> {
    config.health.interval = Duration::from_millis(300);
    config.health.timeout = Duration::from_millis(250);
    config.timeouts.connect = Duration::from_secs(10);
    tweak(&mut config);
    client(config)
}

pub fn tool(name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        name: name.to_owned(),
        arguments: arguments.as_object().cloned().unwrap_or_default(),
        ..Default::default()
    }
}

pub async fn wait_for(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn process_id(server: &ServerClient) -> u32 {
    server
        .process_ids()
        .into_iter()
        .next()
        .expect("a stdio session")
}
