//! A one-shot check of a server, for the operator's status: connect (discover or
//! handshake), probe once, count tools, resources and prompts, and report what was found
//! and, if something failed, how far it got and why, all within one deadline. Nothing of
//! it stays behind: the session closes and a stdio child ends before it returns.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::model::RequestMetaObject;
use serde::Serialize;

use crate::{
    cache::ListKind, context::Context, description::ServerDescription, error::McpError,
    server::ServerClient,
};

/// What the server said about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProbeFindings {
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// Every version the server supports (a legacy server names only the negotiated one).
    pub supported_versions: Vec<String>,
    /// True for the stateless 2026-07-28 protocol.
    pub stateless: bool,
    /// `serverInfo.name`, when given.
    pub server_name: Option<String>,
    /// `serverInfo.version`, when given.
    pub server_version: Option<String>,
    /// The capabilities the server declared (`tools`, `resources`, `prompts`, ...).
    pub capabilities: BTreeMap<String, bool>,
    /// Round trip of one probe (`server/discover` or `ping`) on the open session.
    pub latency: Option<Duration>,
    /// Tools listed (every page); `None` without the capability or before listing.
    pub tool_count: Option<usize>,
    /// Resources listed.
    pub resource_count: Option<usize>,
    /// Prompts listed.
    pub prompt_count: Option<usize>,
}

/// How a probe failed, in the terms the operator's conditions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub enum FailureKind {
    /// Nothing answered (connection refused, DNS, TLS, a closed connection).
    Unreachable,
    /// The server refused our credentials (HTTP 401 or 403).
    Unauthorized,
    /// The server answered but speaks none of our protocol versions.
    Incompatible,
    /// The deadline passed.
    Timeout,
    /// The server answered with an error (HTTP 5xx, a JSON-RPC error).
    ServerError,
    /// The server answered something the protocol does not allow.
    ProtocolError,
}

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeFailure {
    /// The class of failure.
    pub kind: FailureKind,
    /// What happened, for a person (never a secret).
    pub message: String,
}

/// The outcome of [`probe_once`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    /// Set once a supported protocol version answered (the server is verified).
    pub findings: Option<ProbeFindings>,
    /// Set when a step failed; the findings hold what was learnt before it.
    pub failure: Option<ProbeFailure>,
    /// Wall time of the whole probe.
    pub elapsed: Duration,
}

impl ProbeReport {
    /// Something answered at the HTTP or MCP level.
    pub fn reachable(&self) -> bool {
        self.findings.is_some()
            || self.failure.as_ref().is_some_and(|failure| {
                !matches!(
                    failure.kind,
                    FailureKind::Unreachable | FailureKind::Timeout
                )
            })
    }

    /// Every step succeeded.
    pub fn ready(&self) -> bool {
        self.findings.is_some() && self.failure.is_none()
    }
}

/// Check `server` once, bounded by `deadline`, using `context`'s HTTP pool and metrics.
pub async fn probe_once(
    server: &ServerDescription,
    context: &Context,
    deadline: Duration,
) -> ProbeReport {
    let started = Instant::now();
    let mut description = server.clone();
    // One session, every step bounded by the deadline; no monitor, no shared prober.
    description.pool.size = 1;
    description.timeouts.connect = deadline;
    description.timeouts.call = deadline;
    description.health.timeout = deadline;
    let mut solo = context.clone();
    solo.prober = None;
    let client = ServerClient::new(description, &solo);
    let mut findings = None;
    let outcome = tokio::time::timeout(deadline, run_steps(&client, &mut findings)).await;
    client.stop(Duration::ZERO).await;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(classify(&error)),
        Err(_) => Some(ProbeFailure {
            kind: FailureKind::Timeout,
            message: format!(
                "MCP server `{}` did not finish the probe within {deadline:?}",
                server.name
            ),
        }),
    };
    ProbeReport {
        findings,
        failure,
        elapsed: started.elapsed(),
    }
}

/// Connect, probe, list: each step adds to `findings`.
async fn run_steps(
    client: &Arc<ServerClient>,
    findings: &mut Option<ProbeFindings>,
) -> Result<(), McpError> {
    client.connect_vacant().await?;
    let info = client.info().ok_or_else(|| McpError::Protocol {
        server: client.name().to_owned(),
        method: "initialize".to_owned(),
        detail: "the session opened without server information".to_owned(),
    })?;
    let capabilities: BTreeMap<String, bool> = info
        .capabilities
        .as_object()
        .map(|declared| {
            declared
                .iter()
                .map(|(name, value)| (name.clone(), !value.is_null()))
                .collect()
        })
        .unwrap_or_default();
    let found = findings.insert(ProbeFindings {
        supported_versions: vec![info.protocol_version.clone()],
        protocol_version: info.protocol_version,
        stateless: info.stateless,
        server_name: info.server_name,
        server_version: info.server_version,
        capabilities,
        latency: None,
        tool_count: None,
        resource_count: None,
        prompt_count: None,
    });
    if found.stateless
        && let Some(session) = client.pool.any_session()
        && let Ok(discovered) = session.peer().discover(RequestMetaObject::new()).await
    {
        found.supported_versions = discovered
            .supported_versions
            .iter()
            .map(ToString::to_string)
            .collect();
    }
    found.latency = Some(client.probe().await?);
    for (kind, capability) in [
        (ListKind::Tools, "tools"),
        (ListKind::Resources, "resources"),
        (ListKind::Prompts, "prompts"),
    ] {
        if found.capabilities.get(capability) != Some(&true) {
            continue;
        }
        let (items, _) = client.list(kind, "").await?;
        let count = Some(items.len());
        match kind {
            ListKind::Tools => found.tool_count = count,
            ListKind::Resources => found.resource_count = count,
            _ => found.prompt_count = count,
        }
    }
    Ok(())
}

/// The operator's reading of an error.
fn classify(error: &McpError) -> ProbeFailure {
    let kind = match error {
        McpError::Incompatible { .. } => FailureKind::Incompatible,
        McpError::Timeout { .. } => FailureKind::Timeout,
        McpError::Server { .. } => FailureKind::ServerError,
        McpError::Protocol { .. } | McpError::TooLarge { .. } => FailureKind::ProtocolError,
        McpError::Connect { detail, .. } | McpError::Transport { detail, .. } => {
            classify_detail(detail)
        }
        McpError::UnknownServer(_)
        | McpError::Unavailable { .. }
        | McpError::PoolExhausted { .. } => FailureKind::Unreachable,
    };
    ProbeFailure {
        kind,
        message: error.to_string(),
    }
}

/// Connection errors carry the HTTP status in their text (rmcp, reqwest and tungstenite
/// each word it differently): find it.
fn classify_detail(detail: &str) -> FailureKind {
    let status = detail
        .split(|c: char| !c.is_ascii_digit())
        .filter(|word| word.len() == 3)
        .filter_map(|word| word.parse::<u16>().ok())
        .find(|code| (400..600).contains(code) && mentions_status(detail, *code));
    match status {
        Some(401 | 403) => FailureKind::Unauthorized,
        Some(code) if code >= 500 => FailureKind::ServerError,
        Some(_) => FailureKind::ProtocolError,
        None => FailureKind::Unreachable,
    }
}

/// True when `code` appears in `detail` as an HTTP status, not as part of a port or id.
fn mentions_status(detail: &str, code: u16) -> bool {
    ["HTTP ", "HTTP error: ", "answered ", "status "]
        .iter()
        .any(|prefix| detail.contains(&format!("{prefix}{code}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_in_connection_errors_are_classified() {
        for (detail, kind) in [
            (
                "Send message error transport error: unexpected server response: HTTP 401, when send initialize request",
                FailureKind::Unauthorized,
            ),
            (
                "GET http://127.0.0.1:4011/sse answered 403 Forbidden",
                FailureKind::Unauthorized,
            ),
            (
                "WebSocket handshake with ws://h/ws failed: HTTP error: 503 Service Unavailable",
                FailureKind::ServerError,
            ),
            (
                "error sending request: tcp connect error: Connection refused (os error 111) to 127.0.0.1:4401",
                FailureKind::Unreachable,
            ),
            (
                "unexpected server response: HTTP 404",
                FailureKind::ProtocolError,
            ),
        ] {
            assert_eq!(classify_detail(detail), kind, "{detail}");
        }
    }

    #[test]
    fn reachable_and_ready_follow_the_steps() {
        let failed = |kind| ProbeReport {
            findings: None,
            failure: Some(ProbeFailure {
                kind,
                message: String::new(),
            }),
            elapsed: Duration::ZERO,
        };
        assert!(!failed(FailureKind::Unreachable).reachable());
        assert!(failed(FailureKind::Unauthorized).reachable());
        assert!(!failed(FailureKind::Incompatible).ready());
    }
}
