//! `POST /v1/chat/completions` and `GET /v1/models`: the OpenAI-compatible surface.

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::json::{ApiJson, TraceMeta};
use crate::{
    auth::Principal,
    config::Scope,
    error::ApiError,
    middleware::{ExternalTime, RequestId},
    state::AppState,
    toolloop::{run::Chat, stream},
};

/// `POST /v1/chat/completions`
pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    axum::Extension(request_id): axum::Extension<RequestId>,
    axum::Extension(external): axum::Extension<ExternalTime>,
    TraceMeta(meta): TraceMeta,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    principal.require(Scope::Chat)?;
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let chat = Chat::prepare(
        state,
        &principal,
        request_id.0.to_string(),
        external,
        meta,
        body,
    )
    .await?;
    if !streaming {
        return Ok(Json(chat.complete().await?).into_response());
    }
    let events = stream::spawn(chat);
    let body = futures::stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        Some((
            Ok::<_, std::convert::Infallible>(format!("data: {event}\n\n")),
            events,
        ))
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `GET /v1/models`, proxied from the upstream.
pub async fn models(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::Chat)?;
    Ok(Json(state.upstream().models().await?))
}
