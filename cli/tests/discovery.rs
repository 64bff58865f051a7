//! The cluster source against a scripted Kubernetes API (no package here ships an API
//! server): `McpServer` lists and watches, Secrets watched by name, answered by a fake that
//! a scenario drives step by step, in front of a real MCP peer on loopback. Each change must
//! show in the registry (and so in `/v1/mcp/servers` and tool calls) within 2 s, and never
//! touch the servers of the file.

mod support;

use std::{sync::Arc, time::Duration};

use llamagate_gateway::{
    config::load_from_str, discovery::cluster, metrics::Metrics, state::AppState,
};
use llamagate_mcp::{Source, cache::ListKind, server::operations::ToolCall};
use serde_json::json;
use support::{kube_api::*, *};

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 2 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn echo(state: &AppState, server: &str) -> bool {
    let Some(client) = state.registry().get(server) else {
        return false;
    };
    let call = ToolCall {
        name: "echo".to_owned(),
        arguments: json!({"message": "via the cluster"})
            .as_object()
            .cloned()
            .unwrap(),
        ..Default::default()
    };
    client.call_tool(call).await.is_ok()
}

#[tokio::test]
async fn changes_in_the_cluster_apply_live_beside_the_file() {
    let peer = mcp2_http();
    let yaml = format!(
        "mcp:\n  servers:\n    - {{ name: file-server, transport: streamable-http, url: \"{}\" }}\n",
        peer.url
    );
    let state = AppState::new(
        load_from_str(&yaml, "t.yaml", &|_| None).unwrap(),
        Metrics::new(),
    );
    state.apply_file_servers();
    state.set_ready(true);
    let file_server = state.registry().get("file-server").unwrap();

    let fake: Shared = Arc::default();
    {
        let mut fake = fake.lock().unwrap();
        fake.put_secret("creds", "token", "first-token");
        fake.put_server(mcp_server(
            "tools.a",
            &peer.url,
            true,
            Some("creds"),
            json!({}),
        ));
        fake.put_server(mcp_server("pending", &peer.url, false, None, json!({})));
    }
    let client = client(&fake);
    state.expect_cluster_source();
    assert!(!state.is_ready(), "not ready before the first sync");
    tokio::spawn(cluster::run(
        client,
        "default".into(),
        Some("team=a".into()),
        state.clone(),
    ));

    // Added: the verified server, named after the object (`.` as `_`), usable.
    eventually("tools_a registered", || {
        state.registry().get("tools_a").is_some()
    })
    .await;
    assert!(state.is_ready());
    assert_eq!(state.registry().source_of("tools_a"), Some(Source::Cluster));
    assert!(
        echo(&state, "tools_a").await,
        "a tool call through the cluster server"
    );
    let status = state.cluster_status().unwrap();
    assert_eq!(status.state, "synced");
    assert!(
        status.skipped["pending"].contains("not verified"),
        "{status:?}"
    );
    let first = state.registry().get("tools_a").unwrap();
    assert_eq!(
        first
            .description()
            .remote()
            .unwrap()
            .bearer_token
            .as_ref()
            .unwrap()
            .expose(),
        "first-token"
    );

    // Restart annotation: the same client, its sessions and cache dropped.
    first.list(ListKind::Tools, "").await.unwrap();
    assert!(!first.cache_ages().is_empty());
    let annotated = json!({"annotations": {"llamagate.io/restarted-at": "2026-12-01T20:00:00Z"}});
    fake.lock().unwrap().put_server(mcp_server(
        "tools.a",
        &peer.url,
        true,
        Some("creds"),
        annotated.clone(),
    ));
    // The first restart adds the annotation to a server that had none.
    eventually("cache dropped by the first restart", || {
        first.cache_ages().is_empty()
    })
    .await;
    first.list(ListKind::Tools, "").await.unwrap();
    assert!(!first.cache_ages().is_empty());
    let restarted = json!({"annotations": {"llamagate.io/restarted-at": "2026-12-01T21:00:00Z"}});
    fake.lock().unwrap().put_server(mcp_server(
        "tools.a",
        &peer.url,
        true,
        Some("creds"),
        restarted,
    ));
    eventually("cache dropped by the restart", || {
        first.cache_ages().is_empty()
    })
    .await;
    assert!(Arc::ptr_eq(
        &first,
        &state.registry().get("tools_a").unwrap()
    ));

    // A rotated Secret: the next sessions use the new token.
    fake.lock()
        .unwrap()
        .put_secret("creds", "token", "second-token");
    eventually("rotated token in use", || {
        state.registry().get("tools_a").is_some_and(|c| {
            c.description()
                .remote()
                .unwrap()
                .bearer_token
                .as_ref()
                .unwrap()
                .expose()
                == "second-token"
        })
    })
    .await;

    // A server whose Secret comes later: skipped with SecretNotFound, then taken.
    fake.lock().unwrap().put_server(mcp_server(
        "late",
        &peer.url,
        true,
        Some("later"),
        json!({}),
    ));
    eventually("late skipped for its Secret", || {
        state.cluster_status().is_some_and(|s| {
            s.skipped
                .get("late")
                .is_some_and(|w| w.contains("SecretNotFound"))
        })
    })
    .await;
    fake.lock()
        .unwrap()
        .put_secret("later", "token", "late-token");
    eventually("late registered", || state.registry().get("late").is_some()).await;
    assert!(echo(&state, "late").await);

    // The API server goes away: the last known set keeps serving, the source says stale.
    {
        let mut fake = fake.lock().unwrap();
        fake.fail_watches = Some(503);
        fake.cut_watches();
    }
    eventually("stale", || {
        state.cluster_status().is_some_and(|s| s.state == "stale")
    })
    .await;
    assert!(echo(&state, "tools_a").await, "still serving while stale");
    fake.lock().unwrap().fail_watches = None;
    // Back: a change made meanwhile is seen.
    fake.lock().unwrap().delete_server("late");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while state.registry().get("late").is_some()
        || state.cluster_status().is_some_and(|s| s.state != "synced")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watch came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Removed: gone from the registry; the file's server was never touched.
    fake.lock().unwrap().delete_server("tools.a");
    eventually("tools_a removed", || {
        state.registry().get("tools_a").is_none()
    })
    .await;
    assert!(Arc::ptr_eq(
        &file_server,
        &state.registry().get("file-server").unwrap()
    ));
    assert!(echo(&state, "file-server").await);
}

/// A gateway replica watching `fake`, with no servers of its own.
async fn replica(fake: &Shared) -> AppState {
    let state = AppState::new(
        load_from_str("", "t.yaml", &|_| None).unwrap(),
        Metrics::new(),
    );
    state.set_ready(true);
    state.expect_cluster_source();
    tokio::spawn(cluster::run(
        client(fake),
        "default".into(),
        None,
        state.clone(),
    ));
    state
}

/// Replicas hold no state another needs: two started from the same cluster expose the same
/// tools under the same names, and either answers a call.
#[tokio::test]
async fn two_replicas_expose_the_same_tools_and_either_answers() {
    let peer = mcp2_http();
    let fake: Shared = Arc::default();
    fake.lock()
        .unwrap()
        .put_server(mcp_server("shared.tools", &peer.url, true, None, json!({})));
    let (first, second) = (replica(&fake).await, replica(&fake).await);
    for state in [&first, &second] {
        eventually("registered", || {
            state.registry().get("shared_tools").is_some()
        })
        .await;
    }
    let tools = |state: &AppState| {
        let state = state.clone();
        async move {
            let server = state.registry().get("shared_tools").unwrap();
            let (tools, _) = server.list(ListKind::Tools, "").await.unwrap();
            tools
                .iter()
                .map(|t| t["name"].to_string())
                .collect::<Vec<_>>()
        }
    };
    let listed = tools(&first).await;
    assert!(!listed.is_empty());
    assert_eq!(listed, tools(&second).await);
    assert!(echo(&first, "shared_tools").await && echo(&second, "shared_tools").await);
}
