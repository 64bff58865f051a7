//! The processes a benchmark starts: the fast upstreams (this binary again, with a
//! subcommand), the Node reference server, and `llamagate serve` on a generated config. Each
//! listens on a free loopback port; their logs go to the run's folder.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::{
    load::{self, Load, Outcome, Target},
    procs::{self, Proc},
};

/// Where things are, and how long each measurement runs.
pub struct Harness {
    pub root: PathBuf,
    pub llamagate: PathBuf,
    pub logs: PathBuf,
    pub warmup: Duration,
    pub duration: Duration,
}

/// A started server and its address.
pub struct Server {
    pub proc: Proc,
    pub addr: SocketAddr,
}

/// One load run with the CPU each watched process spent per answered request.
pub struct Measured {
    pub outcome: Outcome,
    /// Microseconds of CPU per answered request, in the order the processes were given.
    pub cpu_us: Vec<f64>,
}

impl Harness {
    /// `gateway`: the `llamagate` binary to measure (default: the one beside this harness).
    pub fn new(root: PathBuf, quick: bool, gateway: Option<PathBuf>) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let llamagate = gateway.unwrap_or_else(|| exe.with_file_name("llamagate"));
        anyhow::ensure!(
            llamagate.exists(),
            "{} is missing: build it first (cargo build --release -p llamagate)",
            llamagate.display()
        );
        let logs = root.join("target/bench");
        std::fs::create_dir_all(&logs)?;
        let (warmup, duration) = if quick { (1, 3) } else { (2, 10) };
        Ok(Self {
            root,
            llamagate,
            logs,
            warmup: Duration::from_secs(warmup),
            duration: Duration::from_secs(duration),
        })
    }

    pub fn peers(&self) -> PathBuf {
        self.root.join("tests/peers")
    }

    /// The fast MCP upstream of this harness (`legacy_only`: a 2025-era server).
    pub async fn fast_mcp(&self, legacy_only: bool) -> anyhow::Result<Server> {
        let port = procs::free_port()?;
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["mcp-upstream", "--port", &port.to_string()]);
        if legacy_only {
            command.arg("--legacy-only");
        }
        self.server("fast-mcp", command, port).await
    }

    /// The fast scripted LLM.
    pub async fn fast_llm(&self) -> anyhow::Result<Server> {
        let port = procs::free_port()?;
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["llm-upstream", "--port", &port.to_string()]);
        self.server("fast-llm", command, port).await
    }

    /// `@modelcontextprotocol/server-everything` over Streamable HTTP (Node, 2025-11-25).
    pub async fn everything(&self) -> anyhow::Result<Server> {
        let peers = self.peers();
        let entry = "node_modules/@modelcontextprotocol/server-everything/dist/index.js";
        anyhow::ensure!(
            peers.join(entry).exists(),
            "server-everything is not installed: run tests/peers/install.sh"
        );
        let port = procs::free_port()?;
        let mut command = Command::new("node");
        command
            .current_dir(&peers)
            .env("PORT", port.to_string())
            .args(["--require", "./loopback-only.cjs", entry, "streamableHttp"]);
        self.server("server-everything", command, port).await
    }

    /// `llamagate serve` on `config` (YAML, with `{listen}` standing for its address).
    pub async fn gateway(&self, name: &str, config: &str) -> anyhow::Result<Server> {
        let port = procs::free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let path = self.logs.join(format!("{name}.yaml"));
        std::fs::write(&path, config.replace("{listen}", &addr.to_string()))?;
        let mut command = Command::new(&self.llamagate);
        command
            .arg("serve")
            .arg("--config")
            .arg(&path)
            .env_remove("RUST_LOG");
        self.server(name, command, port).await
    }

    async fn server(&self, name: &str, command: Command, port: u16) -> anyhow::Result<Server> {
        let mut proc = Proc::start(name, command, &self.log(name))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        procs::wait_listening(&mut proc, addr, Duration::from_secs(60))
            .await
            .with_context(|| format!("see {}", self.log(name).display()))?;
        Ok(Server { proc, addr })
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Warm up, then measure `load` on `target`, with the CPU of `watched` over the measured part.
    pub async fn measure(
        &self,
        target: &Target,
        load: Load,
        watched: &[&Proc],
    ) -> anyhow::Result<Measured> {
        load::run(target, load, self.warmup).await?;
        let before: Vec<u64> = watched.iter().map(|p| p.cpu_ns()).collect();
        let outcome = load::run(target, load, self.duration).await?;
        let answered = outcome.latencies_us.len().max(1) as f64;
        let cpu_us = watched
            .iter()
            .zip(before)
            .map(|(p, b)| (p.cpu_ns().saturating_sub(b)) as f64 / 1000.0 / answered)
            .collect();
        if outcome.errors > 0 {
            eprintln!(
                "  {} errors, first: {}",
                outcome.errors,
                outcome.first_error.as_deref().unwrap_or("?")
            );
        }
        Ok(Measured { outcome, cpu_us })
    }
}

/// Poll `check` every 20 ms until it holds; the time it took, or an error after `timeout`.
pub async fn until<F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        if started.elapsed() > timeout {
            anyhow::bail!("{what} not within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

/// A plain GET on loopback; the body, if the status is 200.
pub async fn get(addr: SocketAddr, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

pub fn version_of(path: &Path, args: &[&str]) -> String {
    Command::new(path)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
