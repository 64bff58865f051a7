//! The pinned real MCP peers of `tests/peers/` (installed by `tests/peers/install.sh`), started
//! for the workspace's tests on 127.0.0.1 with a free port and killed when their guard drops.
//! Node servers are loaded with `tests/peers/loopback-only.cjs`, which binds every listener
//! to loopback whatever the server asks for.

pub mod secrets;

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// `tests/peers/` of this checkout.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../peers"))
}

/// The preload that keeps Node servers on loopback.
pub fn loopback_only() -> PathBuf {
    peers_dir().join("loopback-only.cjs")
}

/// The entry point of `@modelcontextprotocol/server-everything`.
pub fn everything_js() -> String {
    peers_dir()
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
        .display()
        .to_string()
}

/// The Python of one of the peers' virtualenvs (`mcp1` or `mcp2`).
pub fn python(venv: &str) -> String {
    peers_dir()
        .join(format!(".venv-{venv}/bin/python"))
        .display()
        .to_string()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// A peer process; killed on drop.
pub struct Peer {
    child: Child,
    /// Where the peer serves MCP.
    pub url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Peer {
    /// Kill the peer and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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
        .arg(loopback_only())
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
    ws_peer_on(env, free_port())
}

/// The WebSocket peer on `port` (to bring a killed one back at the same address).
pub fn ws_peer_on_port(port: u16) -> Peer {
    ws_peer_on(&[], port)
}

fn ws_peer_on(env: &[(&str, &str)], port: u16) -> Peer {
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
    mcp1_peer_on(transport, env, free_port())
}

/// [`mcp1_peer`] on `port` (to bring a killed one back at the same address).
pub fn mcp1_peer_on_port(transport: &str, port: u16) -> Peer {
    mcp1_peer_on(transport, &[], port)
}

fn mcp1_peer_on(transport: &str, env: &[(&str, &str)], port: u16) -> Peer {
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

/// A stdio peer's command line, run in `tests/peers/`.
#[derive(Debug, Clone)]
pub struct StdioPeer {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory.
    pub cwd: PathBuf,
}

fn stdio_peer(program: &str, args: &[&str]) -> StdioPeer {
    StdioPeer {
        program: program.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        cwd: peers_dir(),
    }
}

/// server-everything over stdio.
pub fn everything_stdio() -> StdioPeer {
    let preload = loopback_only().display().to_string();
    stdio_peer("node", &["--require", &preload, &everything_js(), "stdio"])
}

/// The mcp 1.30 peer over stdio.
pub fn mcp1_stdio() -> StdioPeer {
    let script = peers_dir().join("ws_server.py").display().to_string();
    stdio_peer(&python("mcp1"), &[&script, "--transport", "stdio"])
}

/// The mcp 2.3 peer over stdio.
pub fn mcp2_stdio() -> StdioPeer {
    stdio_peer(&python("mcp2"), &["mcp2_server.py", "--transport", "stdio"])
}

/// `mcp-server-time` (UTC).
pub fn time_stdio() -> StdioPeer {
    let bin = peers_dir()
        .join(".venv-mcp1/bin/mcp-server-time")
        .display()
        .to_string();
    stdio_peer(&bin, &["--local-timezone", "UTC"])
}

/// A Python peer script of `tests/peers/` run with the mcp 1.30 virtualenv.
pub fn mcp1_script(script: &str, args: &[&str]) -> StdioPeer {
    let mut all = vec![script];
    all.extend_from_slice(args);
    stdio_peer(&python("mcp1"), &all)
}
