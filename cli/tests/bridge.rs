//! `llamagate bridge` as a user runs it, in front of the real stdio peers: reached over
//! Streamable HTTP and WebSocket by our client and by the official Python SDK; sessions
//! isolated, capped and reaped; a child that dies; nothing left running after a stop.

mod support;

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use llamagate_mcp::{
    Context, Endpoint, McpMetrics, RemoteEndpoint, RemoteTransport, ServerClient,
    ServerDescription, ServerName,
    cache::ListKind,
    server::operations::{ToolCall, ToolOutcome},
};
use serde_json::{Value, json};
use support::*;

/// A running bridge; stopped (SIGTERM, then reaped) on drop.
struct Bridge {
    child: Child,
    port: u16,
}

impl Bridge {
    fn start(options: &[&str], peer: &StdioPeer) -> Self {
        Self::start_with(options, peer, &[], Stdio::null())
    }

    /// [`Bridge::start`] with `env` in the bridge's own environment and its log to `log`.
    fn start_with(
        options: &[&str],
        peer: &StdioPeer,
        env: &[(&str, &str)],
        log: impl Into<Stdio>,
    ) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_llamagate"))
            .envs(env.iter().copied())
            .arg("bridge")
            .args(["--port", &port.to_string()])
            .args(options)
            .arg("--")
            .arg(&peer.program)
            .args(&peer.args)
            .current_dir(&peer.cwd)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let bridge = Self { child, port };
        bridge.wait_ready();
        bridge
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Wait for `/readyz` to answer 200 (a bare HTTP/1.0 exchange: this may run inside a
    /// test's runtime, where a blocking client cannot).
    fn wait_ready(&self) {
        use std::io::{Read, Write};
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(mut socket) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let mut answer = String::new();
                let asked = socket.write_all(b"GET /readyz HTTP/1.0\r\n\r\n").is_ok();
                if asked
                    && socket.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.0 200")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the bridge did not become ready");
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop();
    }
}

fn client(name: &str, transport: RemoteTransport, url: &str) -> Arc<ServerClient> {
    let endpoint = RemoteEndpoint::new(transport, url).unwrap();
    let description =
        ServerDescription::new(ServerName::new(name).unwrap(), Endpoint::Remote(endpoint));
    ServerClient::new(description, &Context::new(McpMetrics::unregistered()))
}

async fn call(server: &ServerClient, tool: &str, arguments: Value) -> Value {
    let call = ToolCall {
        name: tool.to_owned(),
        arguments: arguments.as_object().cloned().unwrap_or_default(),
        ..Default::default()
    };
    match server.call_tool(call).await.unwrap() {
        ToolOutcome::Complete { result } => result,
        other => panic!("{other:?}"),
    }
}

/// List the tools and call one, over both of the bridge's transports.
async fn exercise(bridge: &Bridge, tool: &str, arguments: Value, expect: &str) {
    for (transport, url) in [
        (RemoteTransport::StreamableHttp, bridge.url("/mcp")),
        (
            RemoteTransport::Websocket,
            bridge.url("/ws").replace("http", "ws"),
        ),
    ] {
        let server = client("bridged", transport, &url);
        server.connect_vacant().await.unwrap();
        let (tools, _) = server.list(ListKind::Tools, "").await.unwrap();
        assert!(
            tools.iter().any(|t| t["name"] == tool),
            "{transport:?}: {tools:?}"
        );
        let result = call(&server, tool, arguments.clone()).await;
        assert!(
            result.to_string().contains(expect),
            "{transport:?}: {result}"
        );
        server.stop(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn the_real_stdio_peers_work_through_the_bridge_over_http_and_websocket() {
    let cases = [
        (
            everything_stdio(),
            "echo",
            json!({"message": "hi everything"}),
            "hi everything",
        ),
        (
            mcp1_stdio(),
            "echo",
            json!({"message": "hi mcp1"}),
            "hi mcp1",
        ),
        (
            mcp2_stdio(),
            "echo",
            json!({"message": "hi mcp2"}),
            "hi mcp2",
        ),
        (
            time_stdio(),
            "get_current_time",
            json!({"timezone": "UTC"}),
            "UTC",
        ),
    ];
    for (peer, tool, arguments, expect) in cases {
        let bridge = Bridge::start(&[], &peer);
        exercise(&bridge, tool, arguments, expect).await;
    }
}

#[test]
fn the_official_python_sdk_uses_the_bridge() {
    let bridge = Bridge::start(&[], &mcp1_stdio());
    let script = r#"
import asyncio, sys
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

async def main(url):
    async with streamablehttp_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("echo", {"message": "from the python sdk"})
            print(len(tools.tools), result.content[0].text)

asyncio.run(main(sys.argv[1]))
"#;
    let output = Command::new(python("mcp1"))
        .args(["-c", script, &bridge.url("/mcp")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("from the python sdk"), "{stdout}");
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}})
}

async fn post(url: &str, session: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.send().await.unwrap()
}

async fn open_session(bridge: &Bridge) -> String {
    let response = post(&bridge.url("/mcp"), None, &initialize()).await;
    assert_eq!(response.status(), 200);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        post(&bridge.url("/mcp"), Some(&id), &initialized)
            .await
            .status(),
        202
    );
    id
}

fn tools_list() -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
}

#[tokio::test]
async fn sessions_are_capped_with_a_clear_error_and_isolated() {
    let bridge = Bridge::start(&["--max-sessions", "2"], &mcp1_stdio());
    let first = open_session(&bridge).await;
    let second = open_session(&bridge).await;
    assert_ne!(first, second);
    let refused = post(&bridge.url("/mcp"), None, &initialize()).await;
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2 sessions"),
        "{body}"
    );
    // Ending one frees its place.
    let deleted = reqwest::Client::new()
        .delete(bridge.url("/mcp"))
        .header("mcp-session-id", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        post(&bridge.url("/mcp"), Some(&first), &tools_list())
            .await
            .status(),
        404
    );
    let answer = post(&bridge.url("/mcp"), Some(&second), &tools_list()).await;
    assert_eq!(answer.status(), 200, "the other session is untouched");
    open_session(&bridge).await;
}

#[tokio::test]
async fn idle_sessions_are_reaped() {
    let bridge = Bridge::start(&["--idle-timeout", "1s"], &mcp1_stdio());
    let session = open_session(&bridge).await;
    assert_eq!(
        post(&bridge.url("/mcp"), Some(&session), &tools_list())
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let gone = post(&bridge.url("/mcp"), Some(&session), &tools_list()).await;
    assert_eq!(gone.status(), 404, "reaped after a second of idleness");
}

/// Processes whose command line holds `marker`, but `except`.
fn running(marker: &str, except: u32) -> usize {
    let found = Command::new("pgrep").args(["-f", marker]).output().unwrap();
    String::from_utf8_lossy(&found.stdout)
        .lines()
        .filter(|pid| pid.trim() != except.to_string())
        .count()
}

/// Kill the process group of every child of `parent`.
fn kill_children(parent: u32) {
    let found = Command::new("pgrep")
        .args(["-P", &parent.to_string()])
        .output()
        .unwrap();
    for pid in String::from_utf8_lossy(&found.stdout).lines() {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", pid.trim())])
            .stderr(Stdio::null())
            .status();
    }
}

/// The mcp 1.30 peer under a shell whose command line carries `marker`.
fn marked_peer(marker: &str) -> StdioPeer {
    let peer = mcp1_stdio();
    let line = format!("{} {}", peer.program, peer.args.join(" "));
    StdioPeer {
        program: "sh".to_owned(),
        args: vec!["-c".to_owned(), line, marker.to_owned()],
        cwd: peer.cwd,
    }
}

#[tokio::test]
async fn a_child_that_dies_ends_its_session_and_nothing_outlives_the_bridge() {
    let marker = format!("bridge-marker-{}", std::process::id());
    let mut bridge = Bridge::start(&[], &marked_peer(&marker));
    let pid = bridge.child.id();
    let session = open_session(&bridge).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        running(&marker, pid) >= 2,
        "the session's child and the warm spare"
    );
    // Kill every child: the session's process is gone, so is the session.
    kill_children(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let gone = post(&bridge.url("/mcp"), Some(&session), &tools_list()).await;
    assert_eq!(gone.status(), 404, "initialize anew");
    let again = open_session(&bridge).await;
    assert_eq!(
        post(&bridge.url("/mcp"), Some(&again), &tools_list())
            .await
            .status(),
        200
    );
    bridge.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        running(&marker, pid),
        0,
        "no process left after the bridge stopped"
    );
}

#[tokio::test]
async fn malformed_posts_get_json_rpc_errors() {
    let bridge = Bridge::start(&[], &mcp1_stdio());
    let http = reqwest::Client::new();
    for (body, status) in [
        ("{not json", 400),
        ("[]", 400),
        ("[{\"jsonrpc\":\"2.0\"}]", 400),
    ] {
        let response = http
            .post(bridge.url("/mcp"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer["error"]["message"].is_string(), "{answer}");
    }
    let unknown = post(&bridge.url("/mcp"), Some("no-such-session"), &tools_list()).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        reqwest::get(bridge.url("/healthz")).await.unwrap().status(),
        200,
        "still serving"
    );
}

/// The values of the server's environment (a Secret's, in a managed pod) never reach the
/// bridge's log, at any level: passed by name from the bridge's own environment, or inline.
#[tokio::test]
async fn the_bridge_logs_no_value_of_its_servers_environment() {
    const FROM_ENV: &str = "bridge-secret-6Hn1";
    const INLINE: &str = "inline-secret-2Qa7";
    let log = tempfile::NamedTempFile::new().unwrap();
    let inline = format!("OTHER_SECRET={INLINE}");
    let mut bridge = Bridge::start_with(
        &["--env", "BRIDGE_SECRET", "--env", &inline],
        &mcp1_stdio(),
        &[("BRIDGE_SECRET", FROM_ENV), ("RUST_LOG", "trace")],
        log.reopen().unwrap(),
    );
    exercise(&bridge, "echo", json!({"message": "hi"}), "hi").await;
    bridge.stop();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        text.contains("TRACE") && text.lines().count() > 20,
        "the trace log was captured"
    );
    for secret in [FROM_ENV, INLINE] {
        assert!(!text.contains(secret), "{secret} in the bridge's log");
    }
}
