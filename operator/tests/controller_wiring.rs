//! The whole `McpServer` controller (watches, triggers, writes) against a stateful fake API
//! and real MCP peers: a steady server makes no writes over several intervals, a Secret
//! created later and a deleted Deployment are acted on through their watches (long before
//! the next interval), and a controller stopped and started again converges with no
//! duplicate objects.

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
use llamagate_test_peers as peers;
use serde_json::{Value, json};

fn settings() -> Settings {
    Settings {
        bridge: BridgeImage {
            image: "ghcr.io/llamagate/llamagate:test".to_owned(),
        },
        instance: "wiring-test".to_owned(),
    }
}

/// Run the controller on `cluster` until the returned sender is dropped or fired.
fn run(
    cluster: &Shared,
    metrics: &Metrics,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(
        client(cluster),
        Some("default".to_owned()),
        settings(),
        metrics.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}

fn server(name: &str, spec: Value) -> Value {
    json!({"metadata": {"name": name}, "spec": spec})
}

fn ready(cluster: &Shared, name: &str) -> Option<String> {
    let object = cluster.lock().unwrap().get("mcpservers", name)?;
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            format!(
                "{}/{}",
                c["status"].as_str().unwrap(),
                c["reason"].as_str().unwrap()
            )
        })
}

async fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_server_is_probed_every_interval_and_written_once() {
    let peer = peers::mcp1_peer("streamable-http");
    let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
    let spec = json!({"transport": "streamable-http", "url": peer.url, "healthCheck": {"interval": "1s", "timeout": "900ms"}});
    cluster
        .lock()
        .unwrap()
        .put("mcpservers", server("steady", spec));
    let metrics = Metrics::new();
    let (stop, task) = run(&cluster, &metrics);
    wait_for("Ready", Duration::from_secs(10), || {
        ready(&cluster, "steady").as_deref() == Some("True/Verified")
    })
    .await;
    let version =
        cluster.lock().unwrap().get("mcpservers", "steady").unwrap()["metadata"]["resourceVersion"]
            .clone();
    let probes_then = metrics.probes();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let probed = metrics.probes() - probes_then;
    {
        let cluster_now = cluster.lock().unwrap();
        assert_eq!(
            cluster_now.get("mcpservers", "steady").unwrap()["metadata"]["resourceVersion"],
            version,
            "no write in a steady state"
        );
        assert_eq!(cluster_now.changes.get("mcpservers/status"), Some(&1));
        assert_eq!(
            cluster_now.requests.get("mcpservers/status"),
            Some(&1),
            "not even a no-op write"
        );
        // Probed at the interval, not again after its own status write.
        assert!(
            (3..=6).contains(&probed),
            "{probed} probes in 4.5 s at a 1 s interval"
        );
    }
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_created_later_is_used_at_once_through_its_watch() {
    let headers = r#"{"authorization": "Bearer late-token"}"#;
    let peer = peers::mcp1_peer_with_env("streamable-http", &[("PEER_REQUIRE_HEADERS", headers)]);
    let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
    // A long interval: only the Secret's watch can bring the next probe within the test.
    let spec = json!({"transport": "streamable-http", "url": peer.url,
        "healthCheck": {"interval": "10m"},
        "auth": {"bearerToken": {"secretKeyRef": {"name": "late", "key": "token"}}}});
    cluster
        .lock()
        .unwrap()
        .put("mcpservers", server("guarded", spec));
    let (stop, task) = run(&cluster, &Metrics::new());
    wait_for("SecretNotFound", Duration::from_secs(10), || {
        ready(&cluster, "guarded").as_deref() == Some("False/SecretNotFound")
    })
    .await;
    // Let the Secret's own watch open before the Secret is created.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.lock().unwrap().put(
        "secrets",
        json!({"metadata": {"name": "late"}, "data": {"token": "bGF0ZS10b2tlbg=="}}),
    );
    wait_for(
        "Ready after the Secret appeared",
        Duration::from_secs(5),
        || ready(&cluster, "guarded").as_deref() == Some("True/Verified"),
    )
    .await;
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_deployment_comes_back_and_a_restart_converges_without_duplicates() {
    let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
    let spec = json!({"transport": "stdio", "healthCheck": {"interval": "10m"},
        "deployment": {"image": "python:3.12", "command": ["uvx", "mcp-server-time"]}});
    cluster
        .lock()
        .unwrap()
        .put("mcpservers", server("time", spec));
    let (stop, task) = run(&cluster, &Metrics::new());
    wait_for("the Deployment", Duration::from_secs(10), || {
        ready(&cluster, "time").as_deref() == Some("False/NotAvailable")
    })
    .await;
    assert_eq!(cluster.lock().unwrap().count("deployments"), 1);
    assert_eq!(cluster.lock().unwrap().count("services"), 1);
    cluster.lock().unwrap().delete("deployments", "time");
    wait_for("the Deployment re-applied", Duration::from_secs(5), || {
        cluster.lock().unwrap().count("deployments") == 1
    })
    .await;
    // Stop mid-flight and start a fresh controller (a crash and a new leader).
    task.abort();
    drop(stop);
    let before = cluster.lock().unwrap().changes.clone();
    let (stop, task) = run(&cluster, &Metrics::new());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = cluster.lock().unwrap().changes.clone();
    assert_eq!(cluster.lock().unwrap().count("deployments"), 1);
    assert_eq!(cluster.lock().unwrap().count("services"), 1);
    for collection in ["deployments", "services", "mcpservers/status"] {
        assert_eq!(
            before.get(collection),
            after.get(collection),
            "{collection} changed after a restart with nothing to do"
        );
    }
    let _ = stop.send(());
    task.await.unwrap();
}

/// SIGTERM in the first moments of leading: the controller must still stop. (kube-runtime
/// holds reconciles until the first list, and stops polling the watch at the trigger.)
#[tokio::test]
async fn a_controller_stopped_before_its_first_list_still_stops() {
    let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
    cluster.lock().unwrap().put(
        "mcpservers",
        server(
            "early",
            json!({"transport": "streamable-http", "url": "http://127.0.0.1:9/mcp"}),
        ),
    );
    let (stop, task) = run(&cluster, &Metrics::new());
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the controller stops (a hang is the failure, not a slow stop)")
        .unwrap();
}
