//! Gateway configuration: the YAML file of DESIGN section 5, `${VAR}` expansion,
//! `LLAMAGATE_*` overrides and the original LlamaGate variable names.
//!
//! Loading is a pipeline ([`load`]): read → parse YAML → expand `${VAR}` → apply environment
//! overrides → deserialize (unknown keys rejected with their path) → validate. Every step
//! reports every problem it can find, each naming the file and the key path.

mod describe;
mod endpoint;
mod env;
mod load;
mod validate;

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

pub use endpoint::{EndpointConfig, UpstreamSessions, VirtualServerConfig};
pub use env::{ENV_ALIASES, env_overrides};
pub use llamagate_mcp::{ProtocolMode, REDACTED, Secret, Transport, redact_url};
pub use load::{ConfigError, load, load_from_str};
pub use validate::MAX_HEALTH_CHECK_INTERVAL;

/// The whole gateway configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Log format and filter.
    pub log: LogConfig,
    /// The OpenAI-compatible LLM server.
    pub upstream: UpstreamConfig,
    /// Client API keys; none configured means the gateway is open.
    pub auth: AuthConfig,
    /// Token-bucket rate limits.
    pub rate_limit: RateLimitConfig,
    /// HTTP server limits.
    pub server: HttpServerConfig,
    /// MCP servers and how the gateway uses them.
    pub mcp: McpConfig,
    /// Where else MCP servers come from.
    pub discovery: DiscoveryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 11435)),
            log: LogConfig::default(),
            upstream: UpstreamConfig::default(),
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            server: HttpServerConfig::default(),
            mcp: McpConfig::default(),
            discovery: DiscoveryConfig::default(),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `llamagate=debug,info` (`RUST_LOG` wins).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The LLM server chat requests go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Base URL of an OpenAI-compatible API (Ollama's `/v1`, vLLM, llama.cpp, OpenAI).
    pub url: String,
    /// Sent as `Authorization: Bearer` to the upstream.
    pub api_key: Option<Secret>,
    /// Timeout of one upstream request; while streaming, the longest the upstream may send
    /// nothing.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest answer read from the upstream (a whole completion, or one streamed event).
    pub max_response_bytes: ByteSize,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:11434/v1".to_owned(),
            api_key: None,
            timeout: Duration::from_secs(120),
            max_response_bytes: ByteSize::mib(32),
        }
    }
}

/// Client authentication.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Accepted API keys.
    pub keys: Vec<ApiKeyConfig>,
    /// A YAML file with more keys, as a list shaped like `keys` (a mounted Secret in
    /// Kubernetes); read with the configuration, and again on every reload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_file: Option<PathBuf>,
}

/// One client API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A name for logs and metrics (never the key itself).
    #[serde(default)]
    pub name: Option<String>,
    /// The key, or `sha256:<64 hex digits>` of it.
    pub key: Secret,
    /// What the key may do; all scopes when omitted.
    #[serde(default = "Scope::all")]
    pub scopes: Vec<Scope>,
    /// MCP servers the key may use (others look like 404); all when omitted.
    #[serde(default)]
    pub servers: Option<Vec<String>>,
}

/// A permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// `/v1/chat/completions` and `/v1/models`.
    #[serde(rename = "chat")]
    Chat,
    /// Read MCP servers, tools, resources and prompts.
    #[serde(rename = "mcp:read")]
    McpRead,
    /// Call MCP tools directly.
    #[serde(rename = "mcp:call")]
    McpCall,
    /// Restart, start, stop, reload.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope.
    pub fn all() -> Vec<Scope> {
        vec![Scope::Chat, Scope::McpRead, Scope::McpCall, Scope::Admin]
    }
}

/// Token-bucket rate limits; `0` disables a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests per second over all clients.
    pub requests_per_second: f64,
    /// Burst over all clients.
    pub burst: u32,
    /// Requests per second per API key.
    pub per_key_requests_per_second: f64,
    /// Burst per API key.
    pub per_key_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 0.0,
            burst: 50,
            per_key_requests_per_second: 0.0,
            per_key_burst: 20,
        }
    }
}

/// Limits of the HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpServerConfig {
    /// Largest request body.
    pub max_body_bytes: ByteSize,
    /// Longest a non-streaming request may take.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Requests served at once per route group.
    pub max_concurrent_requests: usize,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: ByteSize::mib(10),
            request_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(30),
            max_concurrent_requests: 1024,
        }
    }
}

/// MCP servers and how they are used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Set to false to serve chat without any MCP tools.
    pub enabled: bool,
    /// Initialized sessions per legacy server.
    pub connection_pool_size: usize,
    /// Concurrent requests per session.
    pub max_in_flight_per_session: usize,
    /// How long a call waits to get a session.
    #[serde(with = "humantime_serde")]
    pub connection_timeout: Duration,
    /// Time between health probes.
    #[serde(with = "humantime_serde")]
    pub health_check_interval: Duration,
    /// How long one probe may take.
    #[serde(with = "humantime_serde")]
    pub health_check_timeout: Duration,
    /// Failed probes in a row before a server is unhealthy.
    pub health_failure_threshold: u32,
    /// Let MCP servers be reached at link-local and cloud metadata addresses
    /// (169.254.0.0/16, fe80::/10, fd00:ec2::254, …), refused by default.
    pub allow_link_local_addresses: bool,
    /// List caches.
    pub cache: CacheConfig,
    /// Tool loop limits.
    pub limits: LimitsConfig,
    /// Global tool filter (deny wins).
    pub tools: ToolFilterConfig,
    /// The servers.
    pub servers: Vec<ServerConfig>,
    /// The aggregated MCP endpoint (`/mcp`).
    pub endpoint: EndpointConfig,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            connection_pool_size: 4,
            max_in_flight_per_session: 32,
            connection_timeout: Duration::from_secs(30),
            health_check_interval: Duration::from_secs(60),
            health_check_timeout: Duration::from_secs(5),
            health_failure_threshold: 3,
            allow_link_local_addresses: false,
            cache: CacheConfig::default(),
            limits: LimitsConfig::default(),
            tools: ToolFilterConfig::default(),
            servers: Vec::new(),
            endpoint: EndpointConfig::default(),
        }
    }
}

/// Lifetimes of cached MCP lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `tools/list`.
    #[serde(with = "humantime_serde")]
    pub tool_definitions_ttl: Duration,
    /// `resources/list` and `resources/templates/list`.
    #[serde(with = "humantime_serde")]
    pub resource_metadata_ttl: Duration,
    /// `prompts/list`.
    #[serde(with = "humantime_serde")]
    pub prompt_templates_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            tool_definitions_ttl: Duration::from_secs(300),
            resource_metadata_ttl: Duration::from_secs(60),
            prompt_templates_ttl: Duration::from_secs(600),
        }
    }
}

/// Limits of the tool loop of one chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Model rounds that contain tool calls.
    pub max_tool_rounds: u32,
    /// Tool calls in one round.
    pub max_tool_calls_per_round: u32,
    /// Tool calls over the request.
    pub max_total_tool_calls: u32,
    /// Timeout of one tool call.
    #[serde(with = "humantime_serde")]
    pub tool_timeout: Duration,
    /// Largest tool result.
    pub max_tool_result_bytes: ByteSize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_tool_rounds: 10,
            max_tool_calls_per_round: 10,
            max_total_tool_calls: 50,
            tool_timeout: Duration::from_secs(30),
            max_tool_result_bytes: ByteSize::mib(1),
        }
    }
}

/// Allow/deny globs over tool names; a tool is exposed when it matches `allow` and not `deny`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolFilterConfig {
    /// Globs of tools to expose.
    pub allow: Vec<String>,
    /// Globs of tools never to expose.
    pub deny: Vec<String>,
}

impl Default for ToolFilterConfig {
    fn default() -> Self {
        Self {
            allow: vec!["*".to_owned()],
            deny: Vec::new(),
        }
    }
}

/// One MCP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Unique name: letters, digits, `_` and `-` (it becomes part of tool names).
    pub name: String,
    /// `stdio`, `streamable-http` (alias `http`), `sse` or `websocket` (alias `ws`).
    pub transport: Transport,
    /// Program to run (stdio).
    #[serde(default)]
    pub command: Option<String>,
    /// Its arguments (stdio).
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment of the program (stdio).
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// Working directory of the program (stdio).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Server address (remote transports).
    #[serde(default)]
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer`.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Extra headers sent with every request (remote transports).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// `auto`, `2026-07-28` or `legacy`.
    #[serde(default)]
    pub protocol: ProtocolMode,
    /// Tool filter of this server (applied after the global one).
    #[serde(default)]
    pub tools: ToolFilterConfig,
    /// Timeout of one call to this server; defaults to `mcp.limits.tool_timeout`.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Sessions to this server; defaults to `mcp.connection_pool_size`.
    #[serde(default)]
    pub connection_pool_size: Option<usize>,
    /// Start the server with the gateway (`false`: only on `POST …/start`).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Sources of MCP servers besides the config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Watch `McpServer` resources (the operator stage of the project).
    pub kubernetes: Option<KubernetesDiscoveryConfig>,
}

/// Which `McpServer` resources a replica uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesDiscoveryConfig {
    /// Namespace to watch; the pod's own when omitted.
    pub namespace: Option<String>,
    /// Label selector, e.g. `team=a`.
    pub selector: Option<String>,
    /// A kubeconfig file; in-cluster credentials (or `KUBECONFIG`) when omitted.
    pub kubeconfig: Option<PathBuf>,
}
