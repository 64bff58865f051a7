//! One MCP session: a transport, the protocol era negotiated over it, and rmcp's service
//! that multiplexes requests by JSON-RPC id.

use std::{sync::Arc, time::Duration};

use rmcp::{
    ClientCacheConfig, ClientLifecycleMode, ClientServiceExt,
    model::{
        CancelledNotification, CancelledNotificationParam, ClientNotification, ClientRequest,
        ProtocolVersion, RequestId, ServerResult,
    },
    service::{Peer, PeerRequestOptions, RoleClient, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    client_handler::ClientEvents,
    description::{
        Endpoint, ProtocolMode, RemoteEndpoint, RemoteTransport, ServerDescription, Transport,
    },
    error::{McpError, error_chain},
    questions::{AskClock, Asker, CallsInFlight},
    stdio_process::StdioChild,
    transport::{
        self, http::SessionIdSeen, owned::Ownership, param_headers::ToolSchemas,
        recorded::RawResults,
    },
};

/// What the server told us about itself when the session opened.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionInfo {
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// True for the stateless 2026-07-28 protocol (no handshake, no session).
    pub stateless: bool,
    /// Server name, when it gave one.
    pub server_name: Option<String>,
    /// Server version, when it gave one.
    pub server_version: Option<String>,
    /// The capabilities the server declared.
    pub capabilities: serde_json::Value,
}

/// Settings a session needs beyond the server's own configuration.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Connecting plus handshake.
    pub connect_timeout: Duration,
    /// Largest message accepted from the server.
    pub max_message_bytes: usize,
    /// Reach link-local and metadata addresses (`address_guard`).
    pub allow_link_local: bool,
    /// The server's tool schemas, for the `Mcp-Param-*` headers of every session's calls.
    pub tool_schemas: ToolSchemas,
}

/// An open session.
pub struct Session {
    service: RunningService<RoleClient, ClientEvents>,
    child: Option<StdioChild>,
    info: SessionInfo,
    raw: RawResults,
    http_session_id: Option<SessionIdSeen>,
    calls: Arc<CallsInFlight>,
}

impl Session {
    /// Connect to `server` and negotiate the protocol (discover, handshake, or both). With
    /// `protocol: auto`, a server whose answer to `server/discover` names no version (an
    /// empty result, as some servers give for a method they do not know) is not a
    /// 2026-07-28 server: the session is opened again with the `initialize` handshake.
    pub async fn open(
        server: &ServerDescription,
        events: ClientEvents,
        http: &reqwest::Client,
        options: &SessionOptions,
    ) -> Result<Self, McpError> {
        let first =
            Self::open_as(server, server.protocol, events.clone(), http, options, None).await;
        match first {
            Err(McpError::Incompatible { supported, .. })
                if server.protocol == ProtocolMode::Auto && supported.is_empty() =>
            {
                tracing::debug!(server = %server.name, "`server/discover` named no protocol version; using the initialize handshake");
                Self::open_as(server, ProtocolMode::Legacy, events, http, options, None).await
            }
            other => other,
        }
    }

    /// A session of a 2025-era Streamable HTTP server owned by one client of the gateway
    /// (`transport/owned.rs`): opened by a real handshake when `ownership` is
    /// [`Ownership::opened`], resumed by its id when it is [`Ownership::resumed`].
    pub async fn open_owned(
        server: &ServerDescription,
        events: ClientEvents,
        http: &reqwest::Client,
        options: &SessionOptions,
        ownership: Ownership,
    ) -> Result<Self, McpError> {
        let legacy = ProtocolMode::Legacy;
        Self::open_as(server, legacy, events, http, options, Some(ownership)).await
    }

    async fn open_as(
        server: &ServerDescription,
        protocol: ProtocolMode,
        events: ClientEvents,
        http: &reqwest::Client,
        options: &SessionOptions,
        ownership: Option<Ownership>,
    ) -> Result<Self, McpError> {
        let name = server.name.as_str();
        let failed = |detail: String| McpError::Connect {
            server: name.to_owned(),
            detail,
        };
        let lifecycle = match protocol {
            ProtocolMode::Auto => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: None,
            },
            ProtocolMode::Stateless => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
            ProtocolMode::Legacy => ClientLifecycleMode::Initialize,
        };
        let max = options.max_message_bytes;
        let raw = RawResults::new(max);
        let http_session_id =
            (server.transport() == Transport::StreamableHttp).then(SessionIdSeen::default);
        let mut child = None;
        let calls = events.calls();
        let serving = async {
            let remote = match &server.endpoint {
                Endpoint::Stdio(command) => {
                    let (transport, spawned) =
                        transport::stdio::spawn(name, command, max, raw.clone())?;
                    child = Some(spawned);
                    return handshake(events, transport, lifecycle, name).await;
                }
                Endpoint::Remote(remote) => remote,
            };
            if !options.allow_link_local {
                crate::address_guard::check_url(remote.url())
                    .await
                    .map_err(&failed)?;
            }
            match remote.transport() {
                RemoteTransport::StreamableHttp => {
                    let seen = http_session_id.clone().unwrap_or_default();
                    let transport =
                        streamable_http(name, remote, http, (max, &raw, seen), options, ownership)?;
                    handshake(events, transport, lifecycle, name).await
                }
                RemoteTransport::Sse => {
                    let timeout = options.connect_timeout;
                    let transport =
                        transport::sse::connect(name, remote, http, timeout, max, raw.clone())
                            .await?;
                    handshake(events, transport, lifecycle, name).await
                }
                RemoteTransport::Websocket => {
                    let timeout = options.connect_timeout;
                    let transport =
                        transport::ws::connect(name, remote, timeout, max, raw.clone()).await?;
                    handshake(events, transport, lifecycle, name).await
                }
            }
        };
        let service = match tokio::time::timeout(options.connect_timeout, serving).await {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => {
                if let Some(child) = child {
                    child.terminate().await;
                }
                return Err(e);
            }
            Err(_) => {
                if let Some(child) = child {
                    child.terminate().await;
                }
                // The server (or something in front of it) took the connection and went
                // quiet: a timeout, not an unreachable server.
                return Err(McpError::Timeout {
                    server: name.to_owned(),
                    method: "server/discover or initialize".to_owned(),
                    timeout: options.connect_timeout,
                });
            }
        };
        // Caching is ours (per server, shared across sessions, capped by configuration).
        service
            .peer()
            .set_response_cache_config(ClientCacheConfig::disabled())
            .await;
        let info = service
            .peer()
            .peer_info()
            .map(|peer| SessionInfo {
                protocol_version: peer.protocol_version.to_string(),
                stateless: !peer.protocol_version.has_initialize(),
                server_name: peer.server_info.as_ref().map(|i| i.name.clone()),
                server_version: peer.server_info.as_ref().map(|i| i.version.clone()),
                capabilities: serde_json::to_value(&peer.capabilities).unwrap_or_default(),
            })
            .ok_or_else(|| failed("the handshake left no server information".to_owned()))?;
        tracing::debug!(server = %name, protocol = %info.protocol_version, stateless = info.stateless, "MCP session open");
        Ok(Self {
            service,
            child,
            info,
            raw,
            http_session_id,
            calls,
        })
    }

    /// The request side of the session.
    pub fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// The `Mcp-Session-Id` of a legacy Streamable HTTP session, once it has one.
    pub fn http_session_id(&self) -> Option<Arc<str>> {
        self.http_session_id.as_ref().and_then(SessionIdSeen::get)
    }

    /// Results of this session's responses as the server sent them.
    pub fn raw_results(&self) -> &RawResults {
        &self.raw
    }

    /// What the server reported.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// True once the transport is gone (server exited, connection dropped, bad message).
    pub fn is_closed(&self) -> bool {
        self.service.is_closed() || self.service.peer().is_transport_closed()
    }

    /// Process id of a stdio server.
    pub fn process_id(&self) -> Option<u32> {
        self.child.as_ref().and_then(StdioChild::id)
    }

    /// Close the session and end a stdio server's process group.
    pub async fn close(mut self) {
        let _ = self
            .service
            .close_with_timeout(Duration::from_secs(2))
            .await;
        if let Some(child) = self.child.take() {
            child.terminate().await;
        }
    }
}

/// rmcp's Streamable HTTP client over our recording client (`transport/http.rs`), with every
/// header as `auth_headers` resolved it (a configured `Authorization` wins over the bearer
/// token), exactly as the prober sends them.
fn streamable_http(
    name: &str,
    remote: &RemoteEndpoint,
    http: &reqwest::Client,
    (max, raw, seen): (usize, &RawResults, SessionIdSeen),
    options: &SessionOptions,
    ownership: Option<Ownership>,
) -> Result<StreamableHttpClientTransport<transport::http::RecordingClient>, McpError> {
    let headers = transport::auth_headers(name, remote)?;
    let config = StreamableHttpClientTransportConfig::with_uri(remote.url().as_str())
        .max_json_response_size(max)
        .max_sse_event_size(max)
        // An owned session is not replaced behind its owner's back: the other replicas
        // would go on with the old one.
        .reinit_on_expired_session(ownership.is_none())
        .custom_headers(
            headers
                .into_iter()
                .filter_map(|(name, value)| name.map(|name| (name, value)))
                .collect(),
        );
    let mut client = transport::http::RecordingClient::new(
        http.clone(),
        raw.clone(),
        seen,
        options.tool_schemas.clone(),
    );
    if let Some(ownership) = ownership {
        client = client.owned(ownership);
    }
    Ok(StreamableHttpClientTransport::with_client(client, config))
}

/// Discover or initialize over `transport`, as `lifecycle` says.
async fn handshake<T, E, A>(
    events: ClientEvents,
    transport: T,
    lifecycle: ClientLifecycleMode,
    name: &str,
) -> Result<RunningService<RoleClient, ClientEvents>, McpError>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    events
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .map_err(|e| handshake_error(name, e))
}

/// A failed discover or handshake as an error of ours: a server that speaks none of our
/// protocol versions is told apart from one that cannot be reached.
fn handshake_error(server: &str, error: rmcp::service::ClientInitializeError) -> McpError {
    match server_versions(&error) {
        Some(supported) => McpError::Incompatible {
            server: server.to_owned(),
            supported: supported.iter().map(ToString::to_string).collect(),
        },
        None => McpError::Connect {
            server: server.to_owned(),
            detail: error_chain(&error),
        },
    }
}

/// The versions a server said it supports, when none of ours was among them (none, when
/// it answered the handshake with some other result).
fn server_versions(error: &rmcp::service::ClientInitializeError) -> Option<&[ProtocolVersion]> {
    use rmcp::service::ClientInitializeError as E;
    match error {
        E::NoCompatibleProtocolVersion {
            server_supported, ..
        } => Some(server_supported),
        E::LegacyFallbackFailed { discover, fallback } => {
            server_versions(fallback).or_else(|| server_versions(discover))
        }
        // Something other than a discover (or initialize) result: no version named.
        E::ExpectedInitResult(_) => Some(&[]),
        _ => None,
    }
}

/// Sessions are shared by calls in flight; the last one to let go closes it.
pub type SharedSession = Arc<Session>;

/// Send `request` on `session` and wait for its answer: rmcp's typed result (to tell what
/// kind of result it is), and the result as the server sent it — rmcp's decoding of it only
/// when the transport's record was evicted. Dropped before the answer (the call timed out,
/// or its caller went away), it tells the server with `notifications/cancelled`.
///
/// With an `asker`, the questions the server sends back during the request are its to
/// answer (`questions.rs`).
pub(crate) async fn send_recorded(
    session: SharedSession,
    request: ClientRequest,
    asker: Option<(Asker, Arc<AskClock>)>,
) -> Result<(ServerResult, Value), rmcp::ServiceError> {
    let peer = session.peer().clone();
    let mut in_flight = session.calls.enter();
    let handle = peer
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await?;
    if let Some((asker, clock)) = asker {
        session
            .calls
            .ask_with(&mut in_flight, &handle.id, asker, clock);
    }
    let mut guard = CancelOnDrop {
        peer,
        id: Some(handle.id.clone()),
    };
    let typed = handle.await_response().await;
    let id = guard.id.take();
    let typed = typed?;
    let sent = match id.and_then(|id| session.raw_results().take(&id)) {
        Some(sent) => sent,
        None => {
            // Empty results are never kept: nothing of them is lost.
            if !matches!(typed, ServerResult::EmptyResult(_)) {
                tracing::debug!("a result was not kept as sent; handing on rmcp's decoding of it");
            }
            serde_json::to_value(&typed).unwrap_or(Value::Null)
        }
    };
    Ok((typed, sent))
}

/// Sends `notifications/cancelled` for a request abandoned before its answer.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let peer = self.peer.clone();
        let notification = ClientNotification::CancelledNotification(CancelledNotification::new(
            CancelledNotificationParam::new(Some(id), Some("request abandoned".to_owned())),
        ));
        // Drop may run outside a runtime (at shutdown): then there is nobody to tell.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = peer.send_notification(notification).await;
            });
        }
    }
}
