//! `/ws`: the stdio server over WebSocket (subprotocol `mcp`, one JSON-RPC message per text
//! frame), one child per connection, ended when the connection closes.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, handshake::derive_accept_key, protocol::Role},
};

use super::Bridge;

/// `GET /ws`: upgrade, then pump frames and lines until either side ends.
pub async fn upgrade(State(bridge): State<Arc<Bridge>>, mut request: Request) -> Response {
    let headers = request.headers();
    let wants_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return (
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade is needed here",
        )
            .into_response();
    };
    if !wants_upgrade {
        return (
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade is needed here",
        )
            .into_response();
    }
    let id = format!("ws-{}", uuid::Uuid::new_v4().simple());
    let session = match bridge.sessions.open(&id).await {
        Ok(session) => session,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let max = bridge.sessions.settings().max_message_bytes;
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .max_message_size(Some(max))
                    .max_frame_size(Some(max));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                let _busy = session.busy();
                session.child.make_lossless();
                pump(socket, &session.child).await;
            }
            Err(e) => tracing::debug!("WebSocket upgrade failed: {e}"),
        }
        bridge.sessions.close(&id).await;
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static("mcp"),
    );
    response
}

/// Frames to the child's stdin, the child's messages to frames: two independent loops, so
/// that a child busy writing never stops its own input from being delivered (and the
/// reverse); whichever ends first ends both.
async fn pump<S>(socket: WebSocketStream<S>, child: &Arc<super::child::Child>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Some(mut from_child) = child.take_outbound() else {
        return;
    };
    let (mut to_client, mut from_client) = socket.split();
    let writer = child.clone();
    let mut inbound = tokio::spawn(async move {
        while let Some(frame) = from_client.next().await {
            match frame {
                Ok(Message::Text(text)) => {
                    let Ok(message) = serde_json::from_str::<Value>(&text) else {
                        tracing::debug!("a WebSocket frame that is not JSON; closing");
                        break;
                    };
                    if writer.send(&message).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Binary(_)) => {
                    tracing::debug!("a binary WebSocket frame; closing (MCP uses text frames)");
                    break;
                }
                Ok(Message::Close(_)) | Err(_) => break,
            }
        }
    });
    loop {
        tokio::select! {
            _ = &mut inbound => break,
            message = from_child.recv() => match message {
                Some(message) => {
                    if to_client.send(Message::text(message.to_string())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    inbound.abort();
    let _ = to_client.send(Message::Close(None)).await;
}
