//! Health probes. Legacy sessions are probed with `ping` through the session. Stateless
//! (2026-07-28) Streamable HTTP servers are probed with a bare `server/discover` POST on the
//! shared HTTP client: the protocol needs no session for it, and skipping rmcp's typed
//! result decoding makes a probe several times cheaper, which matters with hundreds of
//! servers probed every second.

use std::time::{Duration, Instant};

use std::sync::OnceLock;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use rmcp::model::{ClientRequest, PingRequest, RequestMetaObject};
use serde_json::json;

use crate::{
    description::{RemoteEndpoint, Transport},
    error::McpError,
    server::ServerClient,
    transport::{BodyError, auth_headers, read_bounded},
};

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
        let timeout = self.description.health.timeout;
        let method = if stateless { DISCOVER } else { "ping" };
        let timed_out = || McpError::Timeout {
            server: self.name().to_owned(),
            method: method.to_owned(),
            timeout,
        };
        if stateless && self.description.transport() == Transport::StreamableHttp {
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
            method: DISCOVER.to_owned(),
            detail,
        };
        let Some(remote) = self.description.remote() else {
            return Err(failed("not a remote server".to_owned()));
        };
        let response = self
            .http
            .post(remote.url().clone())
            .headers(discover_headers(self.name(), remote)?)
            .body(discover_body())
            .send()
            .await
            .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let body = read_bounded(response, MAX_PROBE_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => failed(format!(
                    "the answer is larger than {MAX_PROBE_ANSWER_BYTES} bytes"
                )),
                BodyError::Read(e) => failed(crate::error::error_chain(&e.without_url())),
            })?;
        check_discover_answer(&body).map_err(failed)
    }
}

/// Largest probe answer read; a real one is well under a kilobyte.
pub(crate) const MAX_PROBE_ANSWER_BYTES: usize = 64 * 1024;

/// The method of the stateless protocol's probe.
pub(crate) const DISCOVER: &str = "server/discover";

/// Headers of a `server/discover` POST: the server's auth and the protocol's own.
pub(crate) fn discover_headers(
    server: &str,
    remote: &RemoteEndpoint,
) -> Result<HeaderMap, McpError> {
    let mut headers = ping_headers(server, remote)?;
    headers.insert(
        "mcp-protocol-version",
        HeaderValue::from_static(STATELESS_VERSION),
    );
    headers.insert("mcp-method", HeaderValue::from_static(DISCOVER));
    Ok(headers)
}

const STATELESS_VERSION: &str = "2026-07-28";

/// Headers of every probe POST: the server's auth and the content types (a `ping` on a
/// legacy session adds its session headers, `server/discover` the protocol's own).
pub(crate) fn ping_headers(server: &str, remote: &RemoteEndpoint) -> Result<HeaderMap, McpError> {
    let mut headers = auth_headers(server, remote)?;
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(headers)
}

/// The JSON-RPC body of a `ping` probe. Its id is a string of its own, so that it can never
/// be taken for one of the session's requests (rmcp numbers those).
pub(crate) fn ping_body() -> Bytes {
    Bytes::from_static(br#"{"jsonrpc":"2.0","id":"llamagate-probe","method":"ping"}"#)
}

/// The id of every `ping` probe (see [`ping_body`]).
const PING_ID: &str = "llamagate-probe";

/// Accept a `ping` answer: a JSON body, or an SSE event carrying it, that is a result for
/// the probe's own id.
pub(crate) fn check_ping_answer(body: &[u8]) -> Result<(), String> {
    let answers_the_probe = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text.trim()).is_ok_and(|message| {
            message["id"] == PING_ID && message.get("result").is_some_and(|r| r.is_object())
        })
    };
    let text = String::from_utf8_lossy(body);
    let found = answers_the_probe(&text)
        || text
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .any(answers_the_probe);
    if found {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer: {}",
            text.chars().take(200).collect::<String>()
        ))
    }
}

/// The JSON-RPC body of a `server/discover` probe; the same bytes every time.
pub(crate) fn discover_body() -> Bytes {
    static BODY: OnceLock<Bytes> = OnceLock::new();
    BODY.get_or_init(|| {
        let body = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": DISCOVER,
            "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "llamagate", "version": env!("CARGO_PKG_VERSION")},
            }},
        });
        Bytes::from(body.to_string())
    })
    .clone()
}

/// Accept a `server/discover` answer: a JSON body, or one SSE event carrying it, that holds
/// a result with the supported versions and no error.
pub(crate) fn check_discover_answer(body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    if text.contains("\"supportedVersions\"") && !text.contains("\"error\"") {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer: {}",
            text.chars().take(200).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_answers_are_checked() {
        let ok = br#"{"jsonrpc":"2.0","id":0,"result":{"supportedVersions":["2026-07-28"]}}"#;
        assert!(check_discover_answer(ok).is_ok());
        let sse = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"supportedVersions\":[]}}\n\n";
        assert!(check_discover_answer(sse).is_ok());
        let error = br#"{"jsonrpc":"2.0","id":0,"error":{"code":-32601,"message":"no"}}"#;
        let message = check_discover_answer(error).unwrap_err();
        assert!(message.contains("-32601"), "{message}");
        assert!(check_discover_answer(b"<html>").is_err());
    }

    #[test]
    fn ping_answers_are_checked() {
        let sse = b"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"llamagate-probe\",\"result\":{}}\r\n\r\n";
        assert!(check_ping_answer(sse).is_ok());
        let logged = b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"error\"}}\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"llamagate-probe\",\"result\":{}}\n\n";
        assert!(
            check_ping_answer(logged).is_ok(),
            "a log event on the stream is no error"
        );
        assert!(
            check_ping_answer(br#"{"jsonrpc":"2.0","id":"llamagate-probe","result":{}}"#).is_ok()
        );
        let other = br#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
        assert!(
            check_ping_answer(other).is_err(),
            "an answer to another request"
        );
        let error = br#"{"jsonrpc":"2.0","id":"llamagate-probe","error":{"code":-32600,"message":"no session"}}"#;
        assert!(check_ping_answer(error).unwrap_err().contains("no session"));
        let body: serde_json::Value = serde_json::from_slice(&ping_body()).unwrap();
        assert_eq!(body["method"], "ping");
    }

    #[test]
    fn the_probe_body_is_a_discover_request() {
        let body: serde_json::Value = serde_json::from_slice(&discover_body()).unwrap();
        assert_eq!(body["method"], DISCOVER);
        assert_eq!(
            body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            STATELESS_VERSION
        );
    }
}
