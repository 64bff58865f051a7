//! The OpenAI-compatible LLM server behind the gateway (Ollama's `/v1`, vLLM, llama.cpp,
//! OpenAI). Connections are reused; an unreachable upstream is a 502 naming the URL; an
//! upstream error keeps its status and message.

use std::{pin::Pin, time::Duration};

use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::{config::UpstreamConfig, error::ApiError};

/// A parsed stream of chat completion chunks.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Value, ApiError>> + Send>>;

/// The upstream client.
#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base: String,
    /// `base` without credentials, for messages.
    shown: String,
    api_key: Option<String>,
    timeout: Duration,
    max_response_bytes: usize,
}

/// Most of an error answer read: enough for any message worth showing.
const MAX_ERROR_BYTES: usize = 64 * 1024;

impl Upstream {
    /// A client for `config`.
    pub fn new(config: &UpstreamConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .expect("the TLS backend initializes");
        Self {
            http,
            base: config.url.trim_end_matches('/').to_owned(),
            shown: crate::config::redact_url(config.url.trim_end_matches('/')),
            api_key: config.api_key.as_ref().map(|k| k.expose().to_owned()),
            timeout: config.timeout,
            max_response_bytes: usize::try_from(config.max_response_bytes.as_u64())
                .unwrap_or(usize::MAX),
        }
    }

    /// The whole body of `response`, at most `limit` bytes.
    async fn read_body(
        &self,
        response: reqwest::Response,
        limit: usize,
        what: &str,
    ) -> Result<bytes::Bytes, ApiError> {
        llamagate_mcp::bounded_body::read_bounded(response, limit)
            .await
            .map_err(|e| match e {
                llamagate_mcp::bounded_body::BodyError::TooLarge => ApiError::BadGateway {
                    code: "upstream_too_large",
                    message: format!(
                        "the upstream's {what} is larger than upstream.max_response_bytes ({limit} bytes)"
                    ),
                },
                llamagate_mcp::bounded_body::BodyError::Read(e) => ApiError::BadGateway {
                    code: "upstream_stream",
                    message: format!(
                        "reading the upstream's {what} failed: {}",
                        llamagate_mcp::error::error_chain(&e.without_url())
                    ),
                },
            })
    }

    /// Parse a JSON answer read within the limit.
    async fn json(&self, response: reqwest::Response, what: &str) -> Result<Value, ApiError> {
        let body = self
            .read_body(response, self.max_response_bytes, what)
            .await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::BadGateway {
            code: "upstream_invalid",
            message: format!("the upstream's {what} is not JSON: {e}"),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        request
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<reqwest::Response, ApiError> {
        let response = request.send().await.map_err(|e| {
            let timeout = e.is_timeout();
            let detail = llamagate_mcp::error::error_chain(&e.without_url());
            if timeout {
                ApiError::Timeout {
                    code: "upstream_timeout",
                    message: format!(
                        "the upstream at {}{path} did not answer in time",
                        self.shown
                    ),
                }
            } else {
                ApiError::BadGateway {
                    code: "upstream_unreachable",
                    message: format!(
                        "cannot reach the upstream at {}{path}: {detail}",
                        self.shown
                    ),
                }
            }
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let text = match self.read_body(response, MAX_ERROR_BYTES, "error").await {
            Ok(body) => String::from_utf8_lossy(&body).into_owned(),
            Err(_) => String::new(),
        };
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v["error"]["message"]
                    .as_str()
                    .or(v["error"].as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| text.chars().take(500).collect());
        Err(ApiError::Upstream { status, message })
    }

    /// `GET /models`, passed through.
    pub async fn models(&self) -> Result<Value, ApiError> {
        let response = self
            .send(
                self.request(reqwest::Method::GET, "/models")
                    .timeout(self.timeout),
                "/models",
            )
            .await?;
        self.json(response, "model list").await
    }

    /// A non-streaming chat completion.
    pub async fn chat(&self, body: &Value) -> Result<Value, ApiError> {
        let path = "/chat/completions";
        let response = self
            .send(
                self.request(reqwest::Method::POST, path)
                    .json(body)
                    .timeout(self.timeout),
                path,
            )
            .await?;
        self.json(response, "answer").await
    }

    /// A streaming chat completion: chunks until `[DONE]`.
    pub async fn chat_stream(&self, body: &Value) -> Result<ChunkStream, ApiError> {
        let path = "/chat/completions";
        // No overall timeout (a stream may last), but its head must come within the
        // upstream's timeout, as every later event must (`with_idle_timeout`).
        let sent = self.send(self.request(reqwest::Method::POST, path).json(body), path);
        let response = tokio::time::timeout(self.timeout, sent)
            .await
            .map_err(|_| ApiError::Timeout {
                code: "upstream_timeout",
                message: format!(
                    "the upstream at {}{path} did not start its stream within {:?} (upstream.timeout)",
                    self.shown, self.timeout
                ),
            })??;
        let bytes = bounded_events(response.bytes_stream(), self.max_response_bytes);
        let events = sse_stream::SseStream::from_bytes_stream(bytes);
        let chunks = events
            .take_while(|event| {
                let done =
                    matches!(event, Ok(e) if e.data.as_deref().map(str::trim) == Some("[DONE]"));
                std::future::ready(!done)
            })
            .filter_map(|event| async move {
                match event {
                    Ok(event) => {
                        let data = event.data?;
                        if data.trim().is_empty() {
                            return None;
                        }
                        Some(serde_json::from_str::<Value>(&data).map_err(|e| {
                            ApiError::BadGateway {
                                code: "upstream_invalid",
                                message: format!("the upstream sent a chunk that is not JSON: {e}"),
                            }
                        }))
                    }
                    Err(e) => Some(Err(ApiError::BadGateway {
                        code: "upstream_stream",
                        message: format!("the upstream stream broke: {e}"),
                    })),
                }
            });
        Ok(with_idle_timeout(Box::pin(chunks), self.timeout))
    }
}

/// `chunks`, ended with a timeout error when the upstream sends nothing for `idle`.
fn with_idle_timeout(chunks: ChunkStream, idle: Duration) -> ChunkStream {
    Box::pin(futures::stream::unfold(
        Some(chunks),
        move |state| async move {
            let mut chunks = state?;
            match tokio::time::timeout(idle, chunks.next()).await {
                Ok(Some(item)) => Some((item, Some(chunks))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(ApiError::Timeout {
                        code: "upstream_timeout",
                        message: format!(
                            "the upstream sent nothing for {idle:?} (upstream.timeout) in the middle of a stream"
                        ),
                    }),
                    None,
                )),
            }
        },
    ))
}

/// The stream's bytes, failing once one event (the bytes since the last blank line) grows
/// past `limit`: the SSE parser would otherwise buffer it whole.
fn bounded_events(
    bytes: impl Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
    limit: usize,
) -> impl Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let mut since_boundary = 0usize;
    let mut newlines = 0u8;
    bytes.map(move |chunk| {
        let chunk = chunk.map_err(|e| std::io::Error::other(e.without_url()))?;
        for byte in chunk.iter() {
            match byte {
                b'\n' => newlines += 1,
                b'\r' => {}
                _ => newlines = 0,
            }
            since_boundary = if newlines >= 2 { 0 } else { since_boundary + 1 };
        }
        if since_boundary > limit {
            return Err(std::io::Error::other(format!(
                "an event is larger than upstream.max_response_bytes ({limit} bytes)"
            )));
        }
        Ok(chunk)
    })
}
