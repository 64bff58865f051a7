//! Health probes. Legacy sessions are probed with `ping` through the session. Stateless
//! (2026-07-28) Streamable HTTP servers are probed with a bare `server/discover` POST on the
//! shared HTTP client: the protocol needs no session for it, and skipping rmcp's typed
//! result decoding makes a probe several times cheaper, which matters with hundreds of
//! servers probed every second.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use rmcp::model::{ClientRequest, PingRequest, RequestMetaObject};
use serde_json::json;

use super::{error::McpError, server::ServerClient, transport::auth_headers};
use crate::config::Transport;

impl ServerClient {
    /// Probe the server: `server/discover` on stateless sessions, `ping` on legacy ones.
    pub async fn probe(&self) -> Result<Duration, McpError> {
        let session = match self.pool.any_session() {
            Some(session) => session,
            None => {
                self.connect_vacant().await?;
                self.pool
                    .any_session()
                    .ok_or_else(|| McpError::Unavailable {
                        server: self.name().to_owned(),
                        state: self.health().state,
                        detail: Some("no open session".to_owned()),
                    })?
            }
        };
        let started = Instant::now();
        let stateless = session.info().stateless;
        let timeout = self.settings.health_check_timeout;
        let method = if stateless { "server/discover" } else { "ping" };
        let timed_out = || McpError::Timeout {
            server: self.name().to_owned(),
            method: method.to_owned(),
            timeout,
        };
        if stateless && self.config.transport == Transport::StreamableHttp {
            return tokio::time::timeout(timeout, self.discover_over_http())
                .await
                .map_err(|_| timed_out())?
                .map(|()| started.elapsed());
        }
        let peer = session.peer().clone();
        let probe = async {
            if stateless {
                peer.discover(RequestMetaObject::new()).await.map(drop)
            } else {
                peer.send_request(ClientRequest::PingRequest(PingRequest::default()))
                    .await
                    .map(drop)
            }
        };
        match tokio::time::timeout(timeout, probe).await {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(e)) => Err(self.service_error(method, e)),
            Err(_) => Err(timed_out()),
        }
    }

    async fn discover_over_http(&self) -> Result<(), McpError> {
        let failed = |detail: String| McpError::Transport {
            server: self.name().to_owned(),
            method: "server/discover".to_owned(),
            detail,
        };
        let body = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "server/discover",
            "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "llamagate", "version": env!("CARGO_PKG_VERSION")},
            }},
        });
        let response = self
            .http
            .post(self.config.url.as_deref().unwrap_or_default())
            .headers(auth_headers(&self.config)?)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", "server/discover")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| failed(super::error::error_chain(&e.without_url())))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| failed(e.to_string()))?;
        // A JSON body, or one SSE event carrying it: either way it must hold a result.
        if text.contains("\"supportedVersions\"") && !text.contains("\"error\"") {
            Ok(())
        } else {
            Err(failed(format!(
                "unexpected answer: {}",
                text.chars().take(200).collect::<String>()
            )))
        }
    }
}
