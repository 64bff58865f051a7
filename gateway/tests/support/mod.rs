//! Real MCP peers for the tests (see tests/peers/README.md): started on 127.0.0.1 with a free
//! port, killed when the guard drops.
#![allow(dead_code)]

pub mod api;
pub mod llm;

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use llamagate::config::{ProtocolMode, ServerConfig, Transport};

pub fn peers_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/peers"))
}

pub fn localhost_only() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/tools/localhost-only.cjs"
    ))
}

pub fn everything_js() -> String {
    peers_dir()
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
        .display()
        .to_string()
}

pub fn python(venv: &str) -> String {
    peers_dir()
        .join(format!(".venv-{venv}/bin/python"))
        .display()
        .to_string()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A peer process; killed on drop.
pub struct Peer {
    child: Child,
    pub url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send a signal by name (`STOP` freezes the server with its connections open, `CONT`
    /// thaws it).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("the kill command");
        assert!(status.success(), "kill -{name} failed");
    }
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("peer exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("peer did not listen on port {port} within 30s");
}

fn spawn(mut command: Command, port: u16, url: String) -> Peer {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start peer (run tests/peers/install.sh)");
    wait_for_port(port, &mut child);
    Peer { child, url }
}

/// server-everything over `sse` or `streamableHttp`.
pub fn everything(mode: &str) -> Peer {
    let port = free_port();
    let mut command = Command::new("node");
    command
        .arg("--require")
        .arg(localhost_only())
        .arg(everything_js())
        .arg(mode)
        .env("PORT", port.to_string());
    let path = if mode == "sse" { "sse" } else { "mcp" };
    spawn(command, port, format!("http://127.0.0.1:{port}/{path}"))
}

/// The mcp 1.30 WebSocket peer.
pub fn ws_peer() -> Peer {
    ws_peer_with_env(&[])
}

/// The WebSocket peer with extra environment (e.g. `PEER_CANCEL_LOG`).
pub fn ws_peer_with_env(env: &[(&str, &str)]) -> Peer {
    let port = free_port();
    let mut command = Command::new(python("mcp1"));
    command.envs(env.iter().copied());
    command
        .arg(peers_dir().join("ws_server.py"))
        .args(["--port", &port.to_string()])
        .current_dir(peers_dir());
    spawn(command, port, format!("ws://127.0.0.1:{port}/ws"))
}

/// The mcp 1.30 peer over a network transport: `streamable-http` (answers as SSE),
/// `streamable-http-json` (answers as JSON) or `sse`.
pub fn mcp1_peer(transport: &str) -> Peer {
    mcp1_peer_with_env(transport, &[])
}

/// [`mcp1_peer`] with extra environment (e.g. `PEER_REQUIRE_HEADERS`).
pub fn mcp1_peer_with_env(transport: &str, env: &[(&str, &str)]) -> Peer {
    let port = free_port();
    let mut command = Command::new(python("mcp1"));
    command.envs(env.iter().copied());
    command.arg(peers_dir().join("ws_server.py"));
    let (transport, json) = match transport.strip_suffix("-json") {
        Some(transport) => (transport, true),
        None => (transport, false),
    };
    command.args(["--transport", transport, "--port", &port.to_string()]);
    if json {
        command.arg("--json");
    }
    command.current_dir(peers_dir());
    let path = if transport == "sse" { "sse" } else { "mcp" };
    spawn(command, port, format!("http://127.0.0.1:{port}/{path}"))
}

/// The mcp 1.30 peer over stdio.
pub fn mcp1_stdio(name: &str) -> ServerConfig {
    let script = peers_dir().join("ws_server.py").display().to_string();
    stdio(name, &python("mcp1"), &[&script, "--transport", "stdio"])
}

/// The mcp 2.3 peer over Streamable HTTP.
pub fn mcp2_http() -> Peer {
    mcp2_http_on(free_port())
}

/// The mcp 2.3 peer over Streamable HTTP on `port` (to bring a killed one back).
pub fn mcp2_http_on(port: u16) -> Peer {
    let mut command = Command::new(python("mcp2"));
    command
        .arg(peers_dir().join("mcp2_server.py"))
        .args([
            "--transport",
            "streamable-http",
            "--port",
            &port.to_string(),
        ])
        .current_dir(peers_dir());
    spawn(command, port, format!("http://127.0.0.1:{port}/mcp"))
}

pub fn server(name: &str, transport: Transport) -> ServerConfig {
    ServerConfig {
        name: name.to_owned(),
        transport,
        command: None,
        args: Vec::new(),
        env: Default::default(),
        cwd: None,
        url: None,
        api_key: None,
        headers: Default::default(),
        protocol: ProtocolMode::Auto,
        tools: Default::default(),
        timeout: None,
        connection_pool_size: None,
        enabled: true,
    }
}

pub fn remote(name: &str, transport: Transport, url: &str) -> ServerConfig {
    ServerConfig {
        url: Some(url.to_owned()),
        ..server(name, transport)
    }
}

pub fn stdio(name: &str, command: &str, args: &[&str]) -> ServerConfig {
    ServerConfig {
        command: Some(command.to_owned()),
        args: args.iter().map(|a| a.to_string()).collect(),
        cwd: Some(peers_dir()),
        ..server(name, Transport::Stdio)
    }
}

pub fn everything_stdio(name: &str) -> ServerConfig {
    let preload = localhost_only().display().to_string();
    stdio(
        name,
        "node",
        &["--require", &preload, &everything_js(), "stdio"],
    )
}

pub fn mcp2_stdio(name: &str) -> ServerConfig {
    stdio(
        name,
        &python("mcp2"),
        &["mcp2_server.py", "--transport", "stdio"],
    )
}

pub fn time_stdio(name: &str) -> ServerConfig {
    let bin = peers_dir()
        .join(".venv-mcp1/bin/mcp-server-time")
        .display()
        .to_string();
    stdio(name, &bin, &["--local-timezone", "UTC"])
}

/// A `llamagate serve` process: its address, and the rest of its log once it exits.
pub struct ServeProcess {
    pub child: Child,
    pub addr: String,
    pub log: std::thread::JoinHandle<Vec<String>>,
}

/// Start `llamagate serve <args>` and wait for it to log its address.
pub fn serve_process(args: &[&str]) -> ServeProcess {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_llamagate"))
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("addr=").nth(1).map(|a| a.trim().to_owned()))
        .expect("the server logs its address");
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    ServeProcess { child, addr, log }
}

/// Wait until the server `name` of a gateway's registry is healthy (at most 10 s).
pub async fn wait_healthy(state: &llamagate::state::AppState, name: &str) {
    for _ in 0..100 {
        if state
            .registry()
            .get(name)
            .is_some_and(|s| s.health().state == llamagate::mcp::health::HealthState::Healthy)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("MCP server `{name}` did not become healthy");
}
