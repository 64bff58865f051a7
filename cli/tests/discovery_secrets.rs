//! No Secret value read from the cluster leaves the gateway where it should not. The
//! cluster source runs against the scripted Kubernetes API with a server whose bearer token
//! comes from a Secret, required by the peer: used, rotated to a wrong token, and back, with
//! logging at `trace` for every crate. Then every log line, `/v1/mcp/servers` (and the
//! server's own page), the cluster source's status and `/metrics` are searched for both
//! tokens, plain and base64.

mod support;

use std::{sync::Arc, time::Duration};

use axum::http::Method;
use llamagate_gateway::{
    config::load_from_str, discovery::cluster, metrics::Metrics, state::AppState,
};
use llamagate_mcp::server::operations::ToolCall;
use llamagate_test_peers::secrets::{assert_nowhere, capture_trace};
use serde_json::json;
use support::{api::send_text, kube_api::*, *};

const TOKEN: &str = "cluster-secret-token-4Rw";
const WRONG: &str = "cluster-wrong-token-7Lp";

async fn echo_works(state: &AppState) -> bool {
    let Some(client) = state.registry().get("guarded") else {
        return false;
    };
    let call = ToolCall {
        name: "echo".to_owned(),
        arguments: json!({"message": "hi"}).as_object().cloned().unwrap(),
        ..Default::default()
    };
    client.call_tool(call).await.is_ok_and(|o| !o.is_error())
}

async fn eventually(what: &str, state: &AppState, want: bool) {
    for _ in 0..100 {
        if echo_works(state).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 10 s: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cluster_secret_in_logs_answers_status_or_metrics() {
    let log = capture_trace();
    let headers = format!(r#"{{"authorization": "Bearer {TOKEN}"}}"#);
    let peer = mcp1_peer_with_env("streamable-http", &[("PEER_REQUIRE_HEADERS", &headers)]);
    let state = AppState::new(
        load_from_str("mcp: { servers: [] }\n", "t.yaml", &|_| None).unwrap(),
        Metrics::new(),
    );
    state.set_ready(true);
    let fake: Shared = Arc::default();
    {
        let mut fake = fake.lock().unwrap();
        fake.put_secret("creds", "token", TOKEN);
        fake.put_server(mcp_server(
            "guarded",
            &peer.url,
            true,
            Some("creds"),
            json!({}),
        ));
    }
    state.expect_cluster_source();
    tokio::spawn(cluster::run(
        client(&fake),
        "default".into(),
        Some("team=a".into()),
        state.clone(),
    ));
    eventually("the token from the Secret works", &state, true).await;
    fake.lock().unwrap().put_secret("creds", "token", WRONG);
    eventually("the rotated wrong token is refused", &state, false).await;
    fake.lock().unwrap().put_secret("creds", "token", TOKEN);
    eventually("the token back", &state, true).await;

    let (_, servers) = send_text(&state, Method::GET, "/v1/mcp/servers", None, None).await;
    let (_, server) = send_text(&state, Method::GET, "/v1/mcp/servers/guarded", None, None).await;
    let (_, metrics) = send_text(&state, Method::GET, "/metrics", None, None).await;
    let status = format!("{:?}", state.cluster_status());
    let log = log.text();
    assert!(
        log.contains("TRACE") && log.contains("llamagate_gateway::discovery::cluster"),
        "the trace log was captured, the cluster source's lines in it"
    );
    assert!(servers.contains("guarded"), "{servers}");
    assert_nowhere(
        &[TOKEN, WRONG],
        &[
            ("the log", &log),
            ("/v1/mcp/servers", &servers),
            ("/v1/mcp/servers/guarded", &server),
            ("/metrics", &metrics),
            ("the cluster source's status", &status),
        ],
    );
}
