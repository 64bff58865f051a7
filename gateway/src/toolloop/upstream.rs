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
}

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
        }
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
        let text = response.text().await.unwrap_or_default();
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
        response.json().await.map_err(|e| ApiError::BadGateway {
            code: "upstream_invalid",
            message: format!("the upstream's model list is not JSON: {e}"),
        })
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
        response.json().await.map_err(|e| ApiError::BadGateway {
            code: "upstream_invalid",
            message: format!("the upstream's answer is not JSON: {e}"),
        })
    }

    /// A streaming chat completion: chunks until `[DONE]`.
    pub async fn chat_stream(&self, body: &Value) -> Result<ChunkStream, ApiError> {
        let path = "/chat/completions";
        let response = self
            .send(self.request(reqwest::Method::POST, path).json(body), path)
            .await?;
        let events = sse_stream::SseStream::from_bytes_stream(response.bytes_stream());
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
        Ok(Box::pin(chunks))
    }
}
