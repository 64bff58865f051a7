//! What the client needs to know of one MCP server: where it is, how to speak to it, and the
//! limits and health settings to use. The gateway's config file and the `McpServer` custom
//! resource each convert into a [`ServerDescription`]; nothing else configures the client.
//!
//! Invalid combinations cannot be built: an endpoint is either a command to run or a URL
//! (never an empty string standing for "none"), a remote URL's scheme matches its transport,
//! a name is safe inside tool names.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::secret::{Secret, redact_url};

/// How the gateway talks to an MCP server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum Transport {
    /// MCP Streamable HTTP (protocol 2025-03-26 and later, and the stateless 2026-07-28).
    #[serde(rename = "streamable-http", alias = "http", alias = "streamable_http")]
    StreamableHttp,
    /// The legacy HTTP+SSE transport of protocol 2024-11-05 (an `endpoint` event, then POSTs).
    #[serde(rename = "sse")]
    Sse,
    /// One JSON-RPC message per WebSocket text frame, subprotocol `mcp`.
    #[serde(rename = "websocket", alias = "ws")]
    Websocket,
    /// A child process speaking newline-delimited JSON-RPC on stdin/stdout.
    #[serde(rename = "stdio")]
    Stdio,
}

impl Transport {
    /// The name used in YAML, CRDs and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::StreamableHttp => "streamable-http",
            Transport::Sse => "sse",
            Transport::Websocket => "websocket",
            Transport::Stdio => "stdio",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transports of a server reached over the network.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemoteTransport {
    /// Streamable HTTP.
    #[serde(rename = "streamable-http")]
    StreamableHttp,
    /// Legacy HTTP+SSE.
    #[serde(rename = "sse")]
    Sse,
    /// WebSocket, subprotocol `mcp`.
    #[serde(rename = "websocket")]
    Websocket,
}

impl From<RemoteTransport> for Transport {
    fn from(transport: RemoteTransport) -> Self {
        match transport {
            RemoteTransport::StreamableHttp => Transport::StreamableHttp,
            RemoteTransport::Sse => Transport::Sse,
            RemoteTransport::Websocket => Transport::Websocket,
        }
    }
}

/// Which MCP protocol era to speak with a server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum ProtocolMode {
    /// Probe with `server/discover`; fall back to the `initialize` handshake.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// Only the stateless 2026-07-28 protocol.
    #[serde(rename = "2026-07-28")]
    Stateless,
    /// Only the 2024-11-05 … 2025-11-25 protocols with `initialize` and sessions.
    #[serde(rename = "legacy")]
    Legacy,
}

/// Why a description could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    /// The server name is empty, too long or has characters tool names cannot carry.
    #[error(
        "`{0}` is not a usable MCP server name: use 1 to {MAX_NAME_LEN} letters, digits, `_` or `-`"
    )]
    Name(String),
    /// A stdio server without a program.
    #[error("a stdio server needs a command to run")]
    NoCommand,
    /// The URL does not parse.
    #[error("`{url}` is not a URL: {reason}")]
    Url { url: String, reason: String },
    /// The URL's scheme does not fit the transport.
    #[error("a {transport} server's URL must start with {expected}, not `{url}`")]
    Scheme {
        transport: Transport,
        expected: &'static str,
        url: String,
    },
}

/// Longest server name (a Kubernetes object name is at most 253 characters).
pub const MAX_NAME_LEN: usize = 253;

/// A server name: 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `_` and `-`, so that it can
/// be part of the tool names a model sees and of metric labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ServerName(String);

impl ServerName {
    /// Check and wrap `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, DescriptionError> {
        let name = name.into();
        let usable = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if usable {
            Ok(Self(name))
        } else {
            Err(DescriptionError::Name(name))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A program to run as a stdio server.
#[derive(Clone, Debug, PartialEq)]
pub struct StdioCommand {
    program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment added to the program's (values never printed).
    pub env: BTreeMap<String, Secret>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Start from this process's environment (the gateway's stdio servers do); when false
    /// the child gets `env` alone (the bridge, whose host environment is not the server's).
    pub inherit_env: bool,
}

impl StdioCommand {
    /// `program` with no arguments; an empty program is refused.
    pub fn new(program: impl Into<String>) -> Result<Self, DescriptionError> {
        let program = program.into();
        if program.trim().is_empty() {
            return Err(DescriptionError::NoCommand);
        }
        Ok(Self {
            program,
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            inherit_env: true,
        })
    }

    /// The program.
    pub fn program(&self) -> &str {
        &self.program
    }
}

/// A server reached over the network.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteEndpoint {
    transport: RemoteTransport,
    url: url::Url,
    /// Sent as `Authorization: Bearer` (a configured `Authorization` header wins).
    pub bearer_token: Option<Secret>,
    /// Headers sent with every request (values never printed).
    pub headers: BTreeMap<String, Secret>,
}

impl RemoteEndpoint {
    /// A server at `url`, whose scheme must fit `transport` (`ws(s)://` for WebSocket,
    /// `http(s)://` otherwise).
    pub fn new(transport: RemoteTransport, url: &str) -> Result<Self, DescriptionError> {
        let parsed = url::Url::parse(url).map_err(|e| DescriptionError::Url {
            url: redact_url(url),
            reason: e.to_string(),
        })?;
        let (schemes, expected) = match transport {
            RemoteTransport::Websocket => (["ws", "wss"], "ws:// or wss://"),
            _ => (["http", "https"], "http:// or https://"),
        };
        if !schemes.contains(&parsed.scheme()) || !parsed.has_host() {
            return Err(DescriptionError::Scheme {
                transport: transport.into(),
                expected,
                url: redact_url(url),
            });
        }
        Ok(Self {
            transport,
            url: parsed,
            bearer_token: None,
            headers: BTreeMap::new(),
        })
    }

    /// The transport.
    pub fn transport(&self) -> RemoteTransport {
        self.transport
    }

    /// The URL (may carry credentials: print it with [`redact_url`]).
    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

/// Where a server is.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    /// A child process of ours.
    Stdio(StdioCommand),
    /// A server on the network.
    Remote(RemoteEndpoint),
}

/// Connect and call timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting plus handshake, and waiting for a pooled session.
    pub connect: Duration,
    /// One call.
    pub call: Duration,
}

/// Sessions kept to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Initialized sessions to a legacy server (a stdio server always has one).
    pub size: usize,
    /// Requests in flight on one session.
    pub max_in_flight: usize,
}

/// The longest probe interval the client honours; longer ones are clamped to it (a server
/// probed less often is not monitored, and timer wheels have limits).
pub const MAX_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// How a server is probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    /// Time between probes.
    pub interval: Duration,
    /// How long one probe may take.
    pub timeout: Duration,
    /// Failed probes in a row before the server is unhealthy.
    pub failure_threshold: u32,
}

/// Lifetimes of the cached lists (a server's own `ttlMs` may shorten them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheTtls {
    /// `tools/list`.
    pub tools: Duration,
    /// `resources/list` and `resources/templates/list`.
    pub resources: Duration,
    /// `prompts/list`.
    pub prompts: Duration,
}

/// Allow/deny globs over a server's tool names (deny wins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolGlobs {
    /// Tools to expose.
    pub allow: Vec<String>,
    /// Tools never to expose.
    pub deny: Vec<String>,
}

impl Default for ToolGlobs {
    fn default() -> Self {
        Self {
            allow: vec!["*".to_owned()],
            deny: Vec::new(),
        }
    }
}

/// One MCP server as the client uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerDescription {
    /// Unique name.
    pub name: ServerName,
    /// Where it is.
    pub endpoint: Endpoint,
    /// Protocol era.
    pub protocol: ProtocolMode,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Sessions.
    pub pool: PoolSettings,
    /// Probing.
    pub health: HealthSettings,
    /// List caches.
    pub cache: CacheTtls,
    /// Largest result accepted, in bytes.
    pub max_result_bytes: u64,
    /// The server's own tool filter.
    pub tools: ToolGlobs,
    /// Start it when it is registered (`false`: only on an explicit start).
    pub enabled: bool,
}

impl ServerDescription {
    /// `endpoint` under `name`, with the defaults of the gateway's configuration.
    pub fn new(name: ServerName, endpoint: Endpoint) -> Self {
        Self {
            name,
            endpoint,
            protocol: ProtocolMode::Auto,
            timeouts: Timeouts {
                connect: Duration::from_secs(30),
                call: Duration::from_secs(30),
            },
            pool: PoolSettings {
                size: 4,
                max_in_flight: 32,
            },
            health: HealthSettings {
                interval: Duration::from_secs(60),
                timeout: Duration::from_secs(5),
                failure_threshold: 3,
            },
            cache: CacheTtls {
                tools: Duration::from_secs(300),
                resources: Duration::from_secs(60),
                prompts: Duration::from_secs(600),
            },
            max_result_bytes: 1024 * 1024,
            tools: ToolGlobs::default(),
            enabled: true,
        }
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        match &self.endpoint {
            Endpoint::Stdio(_) => Transport::Stdio,
            Endpoint::Remote(remote) => remote.transport.into(),
        }
    }

    /// The remote endpoint, unless this is a stdio server.
    pub fn remote(&self) -> Option<&RemoteEndpoint> {
        match &self.endpoint {
            Endpoint::Remote(remote) => Some(remote),
            Endpoint::Stdio(_) => None,
        }
    }

    /// The remote endpoint to change, unless this is a stdio server.
    pub fn remote_mut(&mut self) -> Option<&mut RemoteEndpoint> {
        match &mut self.endpoint {
            Endpoint::Remote(remote) => Some(remote),
            Endpoint::Stdio(_) => None,
        }
    }

    /// The command to change, for a stdio server.
    pub fn command_mut(&mut self) -> Option<&mut StdioCommand> {
        match &mut self.endpoint {
            Endpoint::Stdio(command) => Some(command),
            Endpoint::Remote(_) => None,
        }
    }

    /// The URL with credentials masked, for logs and the API.
    pub fn shown_url(&self) -> Option<String> {
        self.remote().map(|remote| redact_url(remote.url.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_fit_tool_names() {
        assert!(ServerName::new("time-2_a").is_ok());
        for bad in ["", "a.b", "a b", "ünï", &"x".repeat(MAX_NAME_LEN + 1)] {
            assert!(ServerName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_remote_url_must_fit_its_transport() {
        assert!(RemoteEndpoint::new(RemoteTransport::Websocket, "wss://h/ws").is_ok());
        assert!(RemoteEndpoint::new(RemoteTransport::Sse, "http://h:1/sse").is_ok());
        let error = RemoteEndpoint::new(RemoteTransport::Websocket, "http://h/ws").unwrap_err();
        assert!(error.to_string().contains("ws:// or wss://"), "{error}");
        assert!(RemoteEndpoint::new(RemoteTransport::StreamableHttp, "").is_err());
        assert!(RemoteEndpoint::new(RemoteTransport::StreamableHttp, "file:///x").is_err());
    }

    #[test]
    fn errors_never_show_credentials_of_a_url() {
        let error =
            RemoteEndpoint::new(RemoteTransport::Websocket, "http://user:hunter2@h/").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn an_empty_command_is_refused() {
        assert_eq!(StdioCommand::new("  "), Err(DescriptionError::NoCommand));
        assert_eq!(StdioCommand::new("uvx").unwrap().program(), "uvx");
    }

    proptest::proptest! {
        /// Any text as a server name or URL: never a panic; an accepted name is safe in
        /// tool names, an accepted URL fits its transport.
        #[test]
        fn names_and_urls_of_any_text_are_accepted_only_when_usable(text in "\\PC{0,300}") {
            if let Ok(name) = ServerName::new(text.clone()) {
                proptest::prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            }
            for transport in [RemoteTransport::StreamableHttp, RemoteTransport::Sse, RemoteTransport::Websocket] {
                if let Ok(remote) = RemoteEndpoint::new(transport, &text) {
                    let scheme = remote.url().scheme();
                    let fits = match transport {
                        RemoteTransport::Websocket => scheme == "ws" || scheme == "wss",
                        _ => scheme == "http" || scheme == "https",
                    };
                    proptest::prop_assert!(fits, "{text:?}");
                }
            }
        }
    }
}
