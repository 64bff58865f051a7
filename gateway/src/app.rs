//! Every route of the gateway in one place.

use axum::{
    Router, middleware,
    routing::{get, post},
};

use crate::{aggregate, api, error::ApiError, middleware::observe, state::AppState};

/// The whole HTTP surface of a gateway.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(api::chat::completions))
        .route("/v1/models", get(api::chat::models))
        .route("/v1/mcp/servers", get(api::mcp::list_servers))
        .route("/v1/mcp/servers/{id}", get(api::mcp::get_server))
        .route("/v1/mcp/servers/{id}/health", get(api::mcp::health))
        .route("/v1/mcp/servers/{id}/restart", post(api::mcp::restart))
        .route("/v1/mcp/servers/{id}/stop", post(api::mcp::stop))
        .route("/v1/mcp/servers/{id}/start", post(api::mcp::start))
        .route("/v1/mcp/servers/{id}/tools", get(api::mcp::tools))
        .route(
            "/v1/mcp/servers/{id}/tools/{tool}",
            post(api::mcp::call_tool),
        )
        .route("/v1/mcp/servers/{id}/resources", get(api::mcp::resources))
        .route(
            "/v1/mcp/servers/{id}/resources/{uri}",
            get(api::mcp::read_resource),
        )
        .route("/v1/mcp/servers/{id}/prompts", get(api::mcp::prompts))
        .route(
            "/v1/mcp/servers/{id}/prompts/{name}",
            post(api::mcp::get_prompt),
        )
        .route("/v1/mcp/execute", post(api::mcp::execute))
        .route("/v1/admin/reload", post(api::mcp::reload))
        .route(
            "/mcp",
            post(aggregate::post_all)
                .get(aggregate::get_all)
                .delete(aggregate::delete_all),
        )
        .route(
            "/mcp/{server}",
            post(aggregate::post_one)
                .get(aggregate::get_one)
                .delete(aggregate::delete_one),
        )
        .route(
            "/mcp/v/{name}",
            post(aggregate::post_virtual)
                .get(aggregate::get_virtual)
                .delete(aggregate::delete_virtual),
        )
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .route("/metrics", get(api::health::metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_route_scope,
        ))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::limits::protect,
        ))
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
