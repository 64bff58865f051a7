//! The legacy HTTP+SSE transport of protocol 2024-11-05: a GET opens an event stream whose
//! first `endpoint` event names the URL to POST messages to; answers arrive as `message`
//! events on the stream.

use std::{sync::Arc, time::Duration};

use futures::{SinkExt, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use sse_stream::SseStream;

use super::recorded::RawResults;
use super::{ChannelTransport, PumpEnds, auth_headers, channel_pair};
use crate::{description::RemoteEndpoint, error::McpError};

/// Open the event stream, wait for the `endpoint` event, and start the pump.
pub async fn connect(
    server: &str,
    remote: &RemoteEndpoint,
    http: &reqwest::Client,
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
    let base = reqwest::Url::parse(url).map_err(|e| failed(format!("bad url `{shown}`: {e}")))?;
    let headers = auth_headers(server, remote)?;
    let opened = async {
        let response = http
            .get(base.clone())
            .headers(headers.clone())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| {
                failed(format!(
                    "GET {shown} failed: {}",
                    crate::error::error_chain(&e.without_url())
                ))
            })?;
        if !response.status().is_success() {
            return Err(failed(format!(
                "GET {shown} answered {}",
                response.status()
            )));
        }
        let mut events: EventStream =
            Box::pin(SseStream::from_bytes_stream(response.bytes_stream()));
        loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    let data = event.data.unwrap_or_default();
                    let endpoint = base
                        .join(data.trim())
                        .map_err(|e| failed(format!("bad endpoint `{data}`: {e}")))?;
                    if endpoint.origin() != base.origin() {
                        return Err(failed(format!(
                            "the endpoint `{endpoint}` is on another origin; refusing to send there"
                        )));
                    }
                    return Ok((endpoint, events));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(failed(format!("event stream error: {e}"))),
                None => {
                    return Err(failed(
                        "the event stream ended before the `endpoint` event".to_owned(),
                    ));
                }
            }
        }
    };
    let (endpoint, events) = tokio::time::timeout(connect_timeout, opened)
        .await
        .map_err(|_| failed(format!("no `endpoint` event within {connect_timeout:?}")))??;
    let (transport, ends) = channel_pair();
    let poster = Poster {
        http: http.clone(),
        endpoint,
        headers,
        server: Arc::from(server),
    };
    tokio::spawn(pump(poster, events, ends, max_message_bytes, raw));
    Ok(transport)
}

#[derive(Clone)]
struct Poster {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    headers: HeaderMap,
    server: Arc<str>,
}

impl Poster {
    async fn post(&self, body: String) -> Result<(), String> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST failed: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("POST answered {}", response.status()))
        }
    }
}

type EventStream = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<sse_stream::Sse, sse_stream::Error>> + Send>,
>;

async fn pump(
    poster: Poster,
    mut events: EventStream,
    mut ends: PumpEnds,
    max_message_bytes: usize,
    raw: RawResults,
) {
    let (failure_tx, mut failure_rx) = tokio::sync::mpsc::channel::<String>(1);
    let reason = loop {
        tokio::select! {
            outgoing = ends.outgoing.next() => {
                let Some(message) = outgoing else { break "the client closed the session".to_owned() };
                let body = match serde_json::to_string(&message) {
                    Ok(body) => body,
                    Err(e) => break format!("cannot encode a message: {e}"),
                };
                // POSTs run concurrently; the answers come back on the event stream.
                let (poster, failure_tx) = (poster.clone(), failure_tx.clone());
                tokio::spawn(async move {
                    if let Err(e) = poster.post(body).await {
                        let _ = failure_tx.try_send(e);
                    }
                });
            }
            Some(failure) = failure_rx.recv() => break failure,
            event = events.next() => match event {
                Some(Ok(event)) => {
                    if !matches!(event.event.as_deref(), None | Some("message")) {
                        continue;
                    }
                    let data = event.data.unwrap_or_default();
                    if data.trim().is_empty() {
                        continue;
                    }
                    if data.len() > max_message_bytes {
                        break format!("a message over the limit of {max_message_bytes} bytes");
                    }
                    raw.record_text(&data);
                    match serde_json::from_str(&data) {
                        Ok(message) => {
                            if ends.incoming.send(message).await.is_err() {
                                break "the client closed the session".to_owned();
                            }
                        }
                        Err(e) => break format!("an event is not a JSON-RPC message ({e})"),
                    }
                }
                Some(Err(e)) => break format!("event stream error: {e}"),
                None => break "the event stream ended".to_owned(),
            },
        }
    };
    tracing::warn!(server = %poster.server, "SSE session ended: {reason}");
}
