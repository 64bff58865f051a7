//! Rate limits, body size, and metrics label hygiene, through the whole router.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{body::Body, http::Request};
use llamagate_gateway::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use tower::ServiceExt;

fn state(yaml: &str) -> AppState {
    AppState::new(
        load_from_str(yaml, "test.yaml", &|_| None).unwrap(),
        Metrics::new(),
    )
}

async fn get(state: &AppState, key: &str) -> axum::response::Response {
    let request = Request::get("/v1/mcp/servers")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    app(state.clone()).oneshot(request).await.unwrap()
}

#[tokio::test]
async fn global_and_per_key_rate_limits_answer_429_with_retry_after() {
    let state = state(
        "rate_limit: { per_key_requests_per_second: 0.5, per_key_burst: 2 }\nauth: { keys: [ { key: key-a-0123456789abcd }, { key: key-b-0123456789abcd } ] }",
    );
    assert_eq!(get(&state, "key-a-0123456789abcd").await.status(), 200);
    assert_eq!(get(&state, "key-a-0123456789abcd").await.status(), 200);
    let refused = get(&state, "key-a-0123456789abcd").await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(
        get(&state, "key-b-0123456789abcd").await.status(),
        200,
        "another key has its own bucket"
    );
    let health = app(state.clone())
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "probes are never rate limited");

    let state = state_with_global();
    assert_eq!(get(&state, "x").await.status(), 200);
    let refused = get(&state, "y").await;
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = serde_json::from_slice(
        &axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

async fn get_with(state: &AppState, header: (&str, String)) -> u16 {
    let request = Request::get("/v1/mcp/servers")
        .header(header.0, header.1)
        .body(Body::empty())
        .unwrap();
    app(state.clone())
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

const PER_KEY: &str = "rate_limit: { per_key_requests_per_second: 0.5, per_key_burst: 2 }\nauth: { keys: [ { key: key-a-0123456789abcd } ] }";

/// Every way of presenting a key that authenticates counts against that key's bucket:
/// before, `bearer` (accepted by auth) skipped the limit, which only parsed `Bearer`.
#[tokio::test]
async fn every_form_of_a_key_draws_from_its_bucket() {
    let key = "key-a-0123456789abcd";
    for (first, second) in [
        ("bearer", "BEARER"),
        ("Bearer", "bearer"),
        ("x-api-key", "bEaReR"),
    ] {
        let state = state(PER_KEY);
        let form = |scheme: &str| match scheme {
            "x-api-key" => ("x-api-key", key.to_owned()),
            scheme => ("authorization", format!("{scheme} {key}")),
        };
        assert_eq!(get_with(&state, form(first)).await, 200);
        assert_eq!(get_with(&state, form(second)).await, 200);
        assert_eq!(
            get_with(&state, form(first)).await,
            429,
            "{first} then {second}: the third request is over the burst of 2"
        );
    }
}

/// Keys that do not authenticate get no bucket: a flood of bogus keys leaves the limiter's
/// memory as it was (before, every distinct key presented got an entry).
#[tokio::test]
async fn bogus_keys_take_no_memory_in_the_limiter() {
    let state = state(PER_KEY);
    for i in 0..500 {
        let status = get_with(
            &state,
            ("authorization", format!("Bearer bogus-{i:04}-0123456789")),
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(state.limits().tracked_keys(), 0);
    assert_eq!(
        get_with(
            &state,
            ("authorization", "Bearer key-a-0123456789abcd".to_owned())
        )
        .await,
        200
    );
    assert_eq!(state.limits().tracked_keys(), 1);
}

fn state_with_global() -> AppState {
    state("rate_limit: { requests_per_second: 0.2, burst: 1 }")
}

#[tokio::test]
async fn a_100_mib_body_is_refused_without_reading_it() {
    let state = state("server: { max_body_bytes: 64KiB }");
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let chunks = (0..1600).map(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 64 * 1024]))
    });
    let request = Request::post("/v1/mcp/execute")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        produced.load(Ordering::Relaxed) < 10,
        "read {} chunks of 64 KiB",
        produced.load(Ordering::Relaxed)
    );
}
