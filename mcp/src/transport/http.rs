//! Streamable HTTP: rmcp's client transport over reqwest, with our own POST for the
//! requests whose results are handed on whole (tools/call, resources/read, prompts/get,
//! completion/complete and the lists), so that their results are recorded as the server sent them
//! (`raw.rs`) before rmcp decodes them. Everything else — handshake, discovery, pings,
//! notifications, the GET stream, DELETE — is rmcp's own reqwest client, unchanged.

use std::{borrow::Cow, collections::HashMap, sync::Arc};

use futures::{StreamExt, stream::BoxStream};
use reqwest::{
    StatusCode,
    header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue},
};
use rmcp::{
    model::{ClientJsonRpcMessage, ClientRequest, ServerJsonRpcMessage},
    transport::streamable_http_client::{
        SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
        StreamableHttpResponseLimits,
    },
};
use sse_stream::{Sse, SseStream};

use super::owned::Ownership;
use super::param_headers::{self, ToolSchemas};
use super::recorded::RawResults;
pub(crate) use super::sse_events::EventLimiter;
use super::sse_events::limit_events;
use super::{BodyError, read_bounded};
use crate::questions::mark_related;

type Error = StreamableHttpError<reqwest::Error>;

/// The methods whose results are recorded.
const RECORDED: [&str; 8] = [
    "tools/call",
    "resources/read",
    "prompts/get",
    "completion/complete",
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
];

/// The `Mcp-Session-Id` a legacy session runs under, as its client last sent it (the shared
/// prober pings on it).
#[derive(Clone, Default)]
pub struct SessionIdSeen(Arc<std::sync::Mutex<Option<Arc<str>>>>);

impl SessionIdSeen {
    pub fn get(&self) -> Option<Arc<str>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn see(&self, id: &Arc<str>) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.as_ref() != Some(id) {
            *seen = Some(id.clone());
        }
    }
}

/// rmcp's reqwest client plus the recording POST.
#[derive(Clone)]
pub struct RecordingClient {
    http: reqwest::Client,
    raw: RawResults,
    session_id: SessionIdSeen,
    tool_schemas: ToolSchemas,
    owned: Option<Ownership>,
}

impl RecordingClient {
    pub fn new(
        http: reqwest::Client,
        raw: RawResults,
        session_id: SessionIdSeen,
        tool_schemas: ToolSchemas,
    ) -> Self {
        Self {
            http,
            raw,
            session_id,
            tool_schemas,
            owned: None,
        }
    }

    /// The session's own GET stream is not opened (a resumed owned session: `owned.rs`); a
    /// request's stream resumed after a break (`last_event_id`) still is.
    fn skips_get_stream(&self, last_event_id: &Option<String>) -> bool {
        last_event_id.is_none()
            && self
                .owned
                .as_ref()
                .is_some_and(Ownership::opens_no_get_stream)
    }

    /// The client of a session owned by one client of the gateway (`owned.rs`).
    pub fn owned(mut self, ownership: Ownership) -> Self {
        self.owned = Some(ownership);
        self
    }

    /// The POST of a recorded request; the same exchange as rmcp's, answers recorded.
    async fn post_recorded(
        &self,
        uri: &str,
        message: &ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let body = serde_json::to_vec(message)?;
        let method = match message {
            ClientJsonRpcMessage::Request(request) => request.request.method(),
            _ => "",
        };
        let idempotent = IDEMPOTENT.contains(&method);
        let version = custom_headers
            .get("mcp-protocol-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let param_headers = match message {
            ClientJsonRpcMessage::Request(request) if param_headers::applies_to(version) => {
                match &request.request {
                    ClientRequest::CallToolRequest(call) => self
                        .tool_schemas
                        .headers_for_tool(&call.params.name, call.params.arguments.as_ref()),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        let id = match message {
            ClientJsonRpcMessage::Request(request) => serde_json::to_value(&request.id)?,
            _ => serde_json::Value::Null,
        };
        let mut request = self
            .http
            .post(uri)
            .header(ACCEPT, "text/event-stream, application/json")
            .header(CONTENT_TYPE, "application/json");
        if let Some(token) = auth_header {
            request = request.bearer_auth(token);
        }
        for (name, value) in custom_headers {
            request = request.header(name, value);
        }
        for (name, value) in param_headers {
            request = request.header(name, value);
        }
        let session_was_attached = session_id.is_some();
        if let Some(session) = session_id {
            request = request.header("mcp-session-id", session.as_ref());
        }
        let request = request.body(body).build().map_err(client_error)?;
        let response = self.send_once_more_if_unsent(request, idempotent).await?;
        let status = response.status();
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_was_attached {
            if let Some(owned) = &self.owned {
                owned.saw_expiry();
            }
            return Err(Error::SessionExpired);
        }
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase());
        let media = content_type
            .as_deref()
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned());
        match media.as_deref() {
            Some("application/json") => {
                let limit = limits.max_json_response_size;
                let body = read_bounded(response, limit).await.map_err(|e| match e {
                    BodyError::TooLarge => Error::ResponseBodyTooLarge { max_size: limit },
                    BodyError::Read(e) => client_error(e),
                })?;
                match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(value) => {
                        // A JSON-RPC answer, whatever the status: an error status with a
                        // JSON-RPC error body is that error.
                        if status.is_success() {
                            self.raw.record(&value, body.len());
                        }
                        match serde_json::from_value::<ServerJsonRpcMessage>(value) {
                            Ok(message) => Ok(StreamableHttpPostResponse::Json(message, session)),
                            // An error status with some other JSON body: the status says it.
                            Err(_) if !status.is_success() => Err(http_error(status)),
                            Err(e) => Err(Error::Deserialize(e)),
                        }
                    }
                    Err(_) if !status.is_success() => Err(http_error(status)),
                    Err(e) => Err(Error::Deserialize(e)),
                }
            }
            Some("text/event-stream") if status.is_success() => {
                let raw = self.raw.clone();
                let max_event = limits.max_sse_event_size;
                let bytes = limit_events(response.bytes_stream(), max_event, id.clone());
                let events = SseStream::from_bytes_stream(bytes)
                    .map(move |mut event| {
                        if let Ok(Sse {
                            data: Some(data), ..
                        }) = &mut event
                        {
                            raw.record_text(data);
                            mark_related(data, &id);
                        }
                        event
                    })
                    .boxed();
                Ok(StreamableHttpPostResponse::Sse(events, session))
            }
            _ if !status.is_success() => Err(http_error(status)),
            _ => Err(Error::UnexpectedContentType(content_type)),
        }
    }
}

/// Methods without side effects: sent again after a connection that closed before any
/// answer, which may or may not have been after the server took the request.
const IDEMPOTENT: [&str; 6] = [
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
    "resources/read",
    "prompts/get",
];

impl RecordingClient {
    /// Send `request`, and again (at most twice more, on another connection: the failed one
    /// is gone from the pool) when it certainly never reached the server (connecting failed,
    /// or the connection was closed before the request went out), or, for an `idempotent`
    /// method, when a kept-alive connection closed before any answer. A `tools/call` that
    /// may have reached the server is never sent twice.
    async fn send_once_more_if_unsent(
        &self,
        request: reqwest::Request,
        idempotent: bool,
    ) -> Result<reqwest::Response, Error> {
        let mut request = request;
        let mut retries = 2;
        loop {
            let spare = if retries > 0 {
                request.try_clone()
            } else {
                None
            };
            match self.http.execute(request).await {
                Err(e) if spare.is_some() && may_send_again(&e, idempotent) => {
                    tracing::debug!("a request did not reach the server ({e}); sending it again");
                    request = spare.expect("checked");
                    retries -= 1;
                }
                outcome => return outcome.map_err(client_error),
            }
        }
    }
}

/// True when `error` proves the request was not processed, or (`idempotent`) when it may
/// have been but sending it again is harmless.
fn may_send_again(error: &reqwest::Error, idempotent: bool) -> bool {
    if error.is_connect() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(hyper) = inner.downcast_ref::<hyper::Error>() {
            return hyper.is_canceled() || (idempotent && hyper.is_incomplete_message());
        }
        source = inner.source();
    }
    false
}

/// A reqwest error without its URL, which may carry credentials (`user:password@`).
fn client_error(error: reqwest::Error) -> Error {
    Error::Client(error.without_url())
}

fn http_error(status: StatusCode) -> Error {
    Error::UnexpectedServerResponse(Cow::Owned(format!("HTTP {status}")))
}

fn is_recorded(message: &ClientJsonRpcMessage) -> bool {
    match message {
        ClientJsonRpcMessage::Request(request) => RECORDED.contains(&request.request.method()),
        _ => false,
    }
}

impl StreamableHttpClient for RecordingClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Error> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Error> {
        if let Some(id) = &session_id {
            self.session_id.see(id);
        }
        if let Some(answer) = self.owned.as_ref().and_then(|o| o.answer_locally(&message)) {
            return Ok(answer);
        }
        if !is_recorded(&message) {
            return self
                .http
                .post_message_with_response_limits(
                    uri,
                    message,
                    session_id,
                    auth_header,
                    custom_headers,
                    limits,
                )
                .await;
        }
        self.post_recorded(
            &uri,
            &message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Error> {
        if self.owned.as_ref().is_some_and(|o| !o.may_delete()) {
            return Ok(());
        }
        self.http
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Error> {
        if self.skips_get_stream(&last_event_id) {
            return Err(Error::ServerDoesNotSupportSse);
        }
        self.http
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Error> {
        if self.skips_get_stream(&last_event_id) {
            return Err(Error::ServerDoesNotSupportSse);
        }
        self.http
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
