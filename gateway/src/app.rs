//! Every route of the gateway in one place.

use axum::{Router, middleware, routing::get};

use crate::{api, error::ApiError, middleware::observe, state::AppState};

/// The whole HTTP surface of a gateway.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .route("/metrics", get(api::health::metrics))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        "unknown_route",
        format!("no route `{}`; see docs/api.md", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "`{method} {}` is not supported; see docs/api.md",
        uri.path()
    ))
}
