//! The gateway of the end-to-end scenarios: `llamagate`'s own library, serving on loopback
//! and discovering `McpServer`s from the cluster, used through its HTTP API.

use std::path::Path;

use llamagate_gateway::{config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};

/// The gateway in this process, serving on loopback, discovering from the cluster.
pub async fn gateway(namespace: &str, kubeconfig: &Path) -> (AppState, String) {
    // The gateway's warnings (a broken watch, a refused server) in the test's output.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_test_writer()
        .try_init();
    let yaml = format!(
        "listen: 127.0.0.1:0\nupstream: {{ url: \"http://127.0.0.1:9/v1\" }}\n\
         discovery:\n  kubernetes: {{ namespace: {namespace}, selector: team=a, kubeconfig: \"{}\" }}\n",
        kubeconfig.display()
    );
    let state = AppState::new(
        load_from_str(&yaml, "e2e.yaml", &|_| None).unwrap(),
        Metrics::new(),
    );
    state.apply_file_servers();
    llamagate_gateway::discovery::start(&state)
        .await
        .expect("discovery starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, llamagate_gateway::app::app(state.clone())).into_future());
    (state, base)
}

pub async fn servers_listed(base: &str) -> Option<Value> {
    reqwest::get(format!("{base}/v1/mcp/servers"))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

pub async fn call_echo(base: &str, server: &str) -> bool {
    let body = json!({"server": server, "tool": "echo", "arguments": {"message": "e2e"}});
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/mcp/execute"))
        .json(&body)
        .send()
        .await;
    response.is_ok_and(|r| r.status().is_success())
}

pub fn listed(servers: &Value, name: &str) -> bool {
    servers["data"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["id"] == name || s["name"] == name)
}
