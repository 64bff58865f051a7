//! `mcp.endpoint`: the gateway as one MCP server (`/mcp`), and the virtual servers that
//! show a chosen part of it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Secret, ToolFilterConfig};

/// The aggregated MCP endpoint: the gateway as one MCP server (docs/mcp-endpoint.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointConfig {
    /// Serve `/mcp` and `/mcp/{server}`.
    pub enabled: bool,
    /// Prefix tool and prompt names with `<server>__` and resource URIs with `<server>+` on
    /// `/mcp`; without it, a name two servers share is prefixed on the later server only.
    pub prefix: bool,
    /// Keys that seal session ids (32 bytes, base64 or hex). The first seals, all open: to
    /// rotate, put the new key first and drop the old one after `session_ttl`. Without keys,
    /// a random key of this process: sessions then do not survive a restart or another
    /// replica.
    pub session_keys: Vec<Secret>,
    /// How long a session id stays valid.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Whose sessions a 2025-era session's requests use at 2025-era Streamable HTTP
    /// servers: its own (`per_client`), opened at `initialize` and carried in its id, or the
    /// gateway's shared pool (`pooled`).
    pub upstream_sessions: UpstreamSessions,
    /// How long a merged listing waits for a slow server before answering without it.
    #[serde(with = "humantime_serde")]
    pub list_timeout: Duration,
    /// Items per page of a merged list.
    pub page_size: usize,
    /// Browser origins allowed besides localhost ones (`https://app.example.com`); a request
    /// with any other `Origin` is refused (DNS rebinding).
    pub allowed_origins: Vec<String>,
    /// Named subsets of servers and tools, each its own MCP server at `/mcp/v/{name}`.
    pub virtual_servers: Vec<VirtualServerConfig>,
    /// How the other replicas reach this one (`http://10.0.0.7:11435`), so that a client's
    /// answer to a relayed question may reach any replica; the bound address when it is a
    /// specific one (not 0.0.0.0).
    pub advertise_url: Option<String>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            prefix: true,
            session_keys: Vec::new(),
            session_ttl: Duration::from_secs(24 * 3600),
            upstream_sessions: UpstreamSessions::PerClient,
            list_timeout: Duration::from_secs(2),
            page_size: 500,
            allowed_origins: Vec::new(),
            virtual_servers: Vec::new(),
            advertise_url: None,
        }
    }
}

/// Which upstream sessions carry the requests of a client's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamSessions {
    /// Each client session has its own session at each 2025-era Streamable HTTP server, so
    /// what a server keeps per session stays with that client, on every replica.
    PerClient,
    /// Every client shares the gateway's pooled sessions (fewer upstream sessions; what a
    /// server keeps per session is then shared).
    Pooled,
}

/// A virtual server: some of the servers, and of their tools, as one MCP server at
/// `/mcp/v/{name}` (a team's or an agent's toolset), under the same keys and policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServerConfig {
    /// Its name in the path.
    pub name: String,
    /// The servers it shows (all their prompts and resources; tools as `tools` allows).
    pub servers: Vec<String>,
    /// Globs over `<server>__<tool>` (whatever `prefix` says), after the gateway's own
    /// filters: e.g. `allow: ["github__*_issue*", "docs__search"]`.
    #[serde(default)]
    pub tools: ToolFilterConfig,
    /// Prefix names with their server, as on `/mcp`.
    #[serde(default = "prefix_default")]
    pub prefix: bool,
    /// What it is for, told to clients as its instructions.
    #[serde(default)]
    pub description: Option<String>,
}

fn prefix_default() -> bool {
    true
}
