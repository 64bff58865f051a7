//! WebSocket transport: subprotocol `mcp`, one JSON-RPC message per text frame, ping/pong
//! keep-alive. Not part of the MCP specification, but the seed asks for it and real servers
//! (the Python SDK's `websocket_server`) speak it. A malformed frame, a binary frame or a
//! missed pong ends the session; the server's health monitor reconnects.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
};

use super::recorded::RawResults;
use super::{ChannelTransport, PumpEnds, channel_pair};
use crate::{description::RemoteEndpoint, error::McpError};

/// Interval between keep-alive pings; two missed intervals end the session.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// Connect and start the pump.
pub async fn connect(
    server: &str,
    remote: &RemoteEndpoint,
    connect_timeout: Duration,
    max_message_bytes: usize,
    raw: RawResults,
) -> Result<ChannelTransport, McpError> {
    let failed = |detail: String| McpError::Connect {
        server: server.to_owned(),
        detail,
    };
    let url = remote.url().as_str();
    let shown = crate::secret::redact_url(url);
    let mut request = url
        .into_client_request()
        .map_err(|e| failed(format!("bad url `{shown}`: {e}")))?;
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("mcp"));
    headers.extend(super::auth_headers(server, remote)?);
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes));
    let (socket, response) = tokio::time::timeout(
        connect_timeout,
        tokio_tungstenite::connect_async_with_config(request, Some(config), false),
    )
    .await
    .map_err(|_| failed(format!("no WebSocket handshake within {connect_timeout:?}")))?
    .map_err(|e| failed(format!("WebSocket handshake with {shown} failed: {e}")))?;
    if response
        .headers()
        .get("sec-websocket-protocol")
        .is_some_and(|p| p != "mcp")
    {
        return Err(failed(
            "the server chose a subprotocol other than `mcp`".to_owned(),
        ));
    }
    let (transport, ends) = channel_pair();
    tokio::spawn(pump(server.to_owned(), socket, ends, raw));
    Ok(transport)
}

async fn pump<S>(
    server: String,
    socket: tokio_tungstenite::WebSocketStream<S>,
    mut ends: PumpEnds,
    raw: RawResults,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    let mut silent_ticks = 0u32;
    let reason = loop {
        tokio::select! {
            outgoing = ends.outgoing.next() => {
                let Some(message) = outgoing else { break "the client closed the session".to_owned() };
                let text = match serde_json::to_string(&message) {
                    Ok(text) => text,
                    Err(e) => break format!("cannot encode a message: {e}"),
                };
                if let Err(e) = sink.send(Message::text(text)).await {
                    break format!("send failed: {e}");
                }
            }
            frame = stream.next() => {
                silent_ticks = 0;
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        raw.record_text(text.as_str());
                        match serde_json::from_str(text.as_str()) {
                            Ok(message) => {
                                if ends.incoming.send(message).await.is_err() {
                                    break "the client closed the session".to_owned();
                                }
                            }
                            Err(e) => break format!("a text frame is not a JSON-RPC message ({e})"),
                        }
                    }
                    Some(Ok(Message::Binary(_))) => break "binary frame received; MCP over WebSocket uses text frames".to_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(frame))) => break format!("server closed the WebSocket ({frame:?})"),
                    Some(Err(e)) => break format!("WebSocket error: {e}"),
                    None => break "the connection ended".to_owned(),
                }
            }
            _ = keepalive.tick() => {
                silent_ticks += 1;
                if silent_ticks > 2 {
                    break "no pong for two keep-alive intervals".to_owned();
                }
                if let Err(e) = sink.send(Message::Ping(Vec::new().into())).await {
                    break format!("ping failed: {e}");
                }
            }
        }
    };
    tracing::warn!(server = %server, "WebSocket session ended: {reason}");
    let _ = sink.close().await;
}
