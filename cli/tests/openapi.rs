//! docs/openapi.json is exactly what the code generates, and every documented route is served.

use axum::{body::Body, http::Request};
use llamagate_gateway::{
    api::openapi, app::app, config::Config, metrics::Metrics, state::AppState,
};
use tower::ServiceExt;

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = serde_json::to_string_pretty(&openapi::document()).unwrap() + "\n";
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run `cargo run -p llamagate -- openapi > docs/openapi.json`"
    );
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let state = AppState::new(Config::default(), Metrics::new());
    for route in openapi::ROUTES {
        let path = route
            .path
            .replace("{id}", "x")
            .replace("{tool}", "t")
            .replace("{name}", "n")
            .replace("{uri}", "u");
        let request = Request::builder()
            .method(route.method.to_uppercase().as_str())
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("unknown_route") && status != 405,
            "{} {path}: {status} {text}",
            route.method
        );
    }
}
