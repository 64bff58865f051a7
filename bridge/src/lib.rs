//! `llamagate bridge`: a stdio MCP server served as Streamable HTTP (`/mcp`) and WebSocket
//! (`/ws`), so that any stdio server image runs in its own pod and gateways reach it over
//! the network. One child per downstream session, a warm spare, a cap on sessions, idle
//! sessions reaped, children ended with their process group, and only the configured
//! environment passed to them.

mod child;
mod http;
mod sessions;
mod ws;

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use llamagate_mcp::{Secret, StdioCommand};
use serde_json::json;

use sessions::{SessionSettings, Sessions};

/// `llamagate bridge [OPTIONS] -- COMMAND [ARGS...]`
#[derive(Debug, clap::Args)]
pub struct BridgeArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on (the pod's, in a cluster: `0.0.0.0`).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub listen: IpAddr,
    /// Sessions at once (Streamable HTTP and WebSocket together); past it a new session is
    /// refused with 503.
    #[arg(long, default_value_t = 32)]
    pub max_sessions: usize,
    /// A session unused this long is closed and its process ended.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Longest wait for one answer of the server.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Environment of the server: `NAME=VALUE`, or `NAME` to pass this process's value.
    /// Nothing else of this process's environment is passed, except `PATH`.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// The stdio server: program and arguments.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Largest message from a server (and in a WebSocket frame).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// What the handlers share.
pub struct Bridge {
    sessions: Arc<Sessions>,
    stateless: http::Stateless,
    ready: AtomicBool,
}

impl BridgeArgs {
    /// The command with the environment the options give it.
    pub fn stdio_command(&self) -> Result<StdioCommand, String> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or("give the stdio server's command after `--`")?;
        let mut command = StdioCommand::new(program.clone()).map_err(|e| e.to_string())?;
        command.args = args.to_vec();
        command.inherit_env = false;
        command.env = environment(&self.env, |name| std::env::var(name).ok())?;
        Ok(command)
    }
}

/// `PATH`, then every `--env` entry (`NAME=VALUE`, or `NAME` from `lookup`).
fn environment(
    entries: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, Secret>, String> {
    let mut env = BTreeMap::new();
    if let Some(path) = lookup("PATH") {
        env.insert("PATH".to_owned(), Secret::new(path));
    }
    for entry in entries {
        let (name, value) = match entry.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (entry.as_str(), lookup(entry)),
        };
        if name.is_empty() || name.contains('\0') {
            return Err(format!("--env `{entry}`: give NAME=VALUE or NAME"));
        }
        let value = value.ok_or_else(|| format!("--env {name}: not set in this environment"))?;
        env.insert(name.to_owned(), Secret::new(value));
    }
    Ok(env)
}

/// The bridge's routes.
pub fn app(bridge: Arc<Bridge>) -> Router {
    Router::new()
        .route("/mcp", get(http::get).post(http::post).delete(http::delete))
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .with_state(bridge)
}

async fn readyz(State(bridge): State<Arc<Bridge>>) -> Response {
    if bridge.ready.load(Ordering::Acquire) {
        Json(json!({"status": "ready", "sessions": bridge.sessions.count()})).into_response()
    } else {
        let body = json!({"status": "starting: the server has not answered the handshake yet"});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// Run until `shutdown`, then end every child.
pub async fn run(
    args: BridgeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let settings = SessionSettings {
        command: args.stdio_command()?,
        max_sessions: args.max_sessions.max(1),
        idle_timeout: args.idle_timeout,
        request_timeout: args.request_timeout,
        max_message_bytes: MAX_MESSAGE_BYTES,
    };
    let address = SocketAddr::new(args.listen, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bridge = Arc::new(Bridge {
        sessions: Sessions::new(settings),
        stateless: http::Stateless::default(),
        ready: AtomicBool::new(false),
    });
    tracing::info!(addr = %listener.local_addr().map_err(|e| e.to_string())?, command = %args.command[0], "llamagate bridge listening");
    let background = tokio::spawn(keep_up(bridge.clone()));
    // Open GET streams and WebSockets end only when their sessions do: close them as the
    // shutdown begins, or a client holding a stream would keep the bridge up.
    let closing = bridge.clone();
    let served = axum::serve(listener, app(bridge.clone()))
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.sessions.close_all().await;
            closing.stateless.close().await;
        })
        .await;
    background.abort();
    bridge.sessions.close_all().await;
    bridge.stateless.close().await;
    tracing::info!("llamagate bridge stopped");
    served.map_err(|e| e.to_string())
}

/// Check the command answers the handshake (then ready), keep a warm spare, reap idle
/// sessions.
async fn keep_up(bridge: Arc<Bridge>) {
    let mut delay = Duration::from_millis(500);
    loop {
        match handshake_once(&bridge).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(
                    retry_in_ms = delay.as_millis() as u64,
                    "the server did not answer the handshake: {e}"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
    bridge.ready.store(true, Ordering::Release);
    tracing::info!("the stdio server answers; ready");
    bridge.sessions.refill_spare().await;
    let tick = (bridge.sessions.settings().idle_timeout / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::time::sleep(tick).await;
        bridge.sessions.reap().await;
        bridge.sessions.refill_spare().await;
    }
}

/// Start a child of its own, `initialize` it, and end it.
async fn handshake_once(bridge: &Bridge) -> Result<(), String> {
    let child = bridge.sessions.spawn_child().map_err(|e| e.to_string())?;
    let initialize = json!({
        "jsonrpc": "2.0", "id": "bridge-readiness", "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "llamagate-bridge", "version": env!("CARGO_PKG_VERSION")},
        },
    });
    let timeout = bridge
        .sessions
        .settings()
        .request_timeout
        .min(Duration::from_secs(60));
    let answer = child.request(&initialize, timeout).await;
    child.terminate().await;
    match answer {
        Ok(answer) if answer.get("result").is_some() => Ok(()),
        Ok(answer) => Err(format!("it answered {answer}")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_path_and_the_named_variables_reach_the_server() {
        let host = |name: &str| match name {
            "PATH" => Some("/usr/bin".to_owned()),
            "TOKEN" => Some("t0k3n".to_owned()),
            _ => None,
        };
        let env = environment(&["TOKEN".to_owned(), "MODE=fast".to_owned()], host).unwrap();
        let names: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(names, ["MODE", "PATH", "TOKEN"]);
        assert_eq!(env["TOKEN"].expose(), "t0k3n");
        let missing = environment(&["NOPE".to_owned()], host).unwrap_err();
        assert!(missing.contains("NOPE"), "{missing}");
        assert!(environment(&["=x".to_owned()], host).is_err());
    }
}
