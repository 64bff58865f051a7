//! The REST rendering of the classification: `{"error": {"message", "type", "code"}}` with
//! the kind's HTTP status, `Retry-After` on a rate limit; the same JSON is the chat stream's
//! SSE error event.

use axum::{
    Json,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{ApiError, INTERNAL_MESSAGE};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

/// The error object of every error response.
#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'a str,
}

impl ApiError {
    /// The JSON body of this error (also used for SSE error events).
    pub fn to_json(&self) -> serde_json::Value {
        let message = match self {
            ApiError::Internal(_) => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        };
        serde_json::to_value(ErrorBody {
            error: ErrorDetail {
                message: &message,
                kind: self.kind(),
                code: self.code(),
            },
        })
        .unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let mut response = (self.status(), Json(self.to_json())).into_response();
        if let ApiError::RateLimited {
            retry_after_secs, ..
        } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.max(&1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn internal_details_stay_in_the_log() {
        let body = ApiError::Internal("db password is hunter2".into()).to_json();
        assert!(!body.to_string().contains("hunter2"));
        assert_eq!(body["error"]["type"], "internal_error");
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let response = ApiError::RateLimited {
            message: "slow down".into(),
            retry_after_secs: 3,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }

    #[test]
    fn shape_is_openai_like() {
        let body = ApiError::not_found("unknown_server", "no MCP server named `x`").to_json();
        assert_eq!(body["error"]["message"], "no MCP server named `x`");
        assert_eq!(body["error"]["type"], "not_found_error");
        assert_eq!(body["error"]["code"], "unknown_server");
    }
}
