//! No Secret value leaves the operator where it should not. The McpServer controller runs
//! against the stateful fake API with a peer that requires a bearer token from a Secret:
//! the right token, then a wrong one (Unauthorized), then the Secret deleted
//! (SecretNotFound), then the right one back, with logging at `trace` for every crate. Then
//! every log line, every write to the API (status, Events, applied objects), every stored
//! object and the metrics are searched for both tokens, plain and base64.

#[path = "support/fake_api.rs"]
mod fake_api;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use fake_api::{Cluster, Shared, client};
use llamagate_operator::{
    context::Settings, controllers::mcpserver::controller, metrics::Metrics,
    resources::mcpserver::BridgeImage,
};
use llamagate_test_peers::{
    self as peers,
    secrets::{assert_nowhere, base64, capture_trace},
};
use serde_json::json;

const TOKEN: &str = "op-secret-token-1Xq8";
const WRONG: &str = "wrong-secret-token-3Fz5";

fn secret(token: &str) -> serde_json::Value {
    json!({"metadata": {"name": "creds"}, "data": {"token": base64(token)}})
}

fn ready(cluster: &Shared) -> Option<String> {
    let object = cluster.lock().unwrap().get("mcpservers", "guarded")?;
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| {
            Some(format!(
                "{}/{}",
                c["status"].as_str()?,
                c["reason"].as_str()?
            ))
        })
}

async fn wait_for(cluster: &Shared, want: &str) {
    for _ in 0..400 {
        if ready(cluster).as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not {want} within 20 s: {:?}", ready(cluster));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_value_in_logs_status_events_writes_or_metrics() {
    let log = capture_trace();
    let headers = format!(r#"{{"authorization": "Bearer {TOKEN}"}}"#);
    let peer = peers::mcp1_peer_with_env("streamable-http", &[("PEER_REQUIRE_HEADERS", &headers)]);
    let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
    let spec = json!({"transport": "streamable-http", "url": peer.url,
        "healthCheck": {"interval": "2s", "timeout": "1s", "failureThreshold": 1},
        "auth": {"bearerToken": {"secretKeyRef": {"name": "creds", "key": "token"}}}});
    {
        let mut cluster = cluster.lock().unwrap();
        cluster.put("secrets", secret(TOKEN));
        cluster.put(
            "mcpservers",
            json!({"metadata": {"name": "guarded"}, "spec": spec}),
        );
    }
    let metrics = Metrics::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = Settings {
        bridge: BridgeImage {
            image: "ghcr.io/llamagate/llamagate:test".to_owned(),
        },
        instance: "secrets-test".to_owned(),
    };
    let task = tokio::spawn(controller::run(
        client(&cluster),
        Some("default".to_owned()),
        settings,
        metrics.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    wait_for(&cluster, "True/Verified").await;
    cluster.lock().unwrap().put("secrets", secret(WRONG));
    wait_for(&cluster, "False/Unauthorized").await;
    cluster.lock().unwrap().delete("secrets", "creds");
    wait_for(&cluster, "False/SecretNotFound").await;
    cluster.lock().unwrap().put("secrets", secret(TOKEN));
    wait_for(&cluster, "True/Verified").await;
    let _ = stop.send(());
    task.await.unwrap();

    let log = log.text();
    assert!(
        log.contains("TRACE") && log.contains("guarded") && log.contains("creds"),
        "the trace log was captured, the Secret's handling in it"
    );
    let written = cluster.lock().unwrap().written.join("\n");
    assert!(
        written.contains("Unauthorized") && written.contains("SecretNotFound"),
        "the status and Event writes were captured"
    );
    let stored =
        serde_json::to_string(&cluster.lock().unwrap().get("mcpservers", "guarded")).unwrap();
    let rendered = metrics.render();
    assert_nowhere(
        &[TOKEN, WRONG],
        &[
            ("the log", &log),
            ("a write to the API", &written),
            ("the McpServer", &stored),
            ("the metrics", &rendered),
        ],
    );
}
