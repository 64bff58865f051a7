//! End to end against a real control plane: the API server itself restarted under a
//! running operator and gateway. Needs `LLAMAGATE_E2E_KUBECONFIG` and
//! `LLAMAGATE_E2E_RESTART_APISERVER` (a command that kills the API server, keeps it down a
//! few seconds and brings it back); skipped, saying so, without them. A binary of its own,
//! so that no other scenario runs while the API is down.

mod e2e;

use std::time::Duration;

use e2e::{gateway::*, *};
use kube::{Api, api::PostParams};
use llamagate_crds::McpServer;
use llamagate_test_peers as peers;
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(30);

fn server(name: &str, url: &str) -> McpServer {
    serde_json::from_value(
        json!({"apiVersion": "llamagate.io/v1alpha1", "kind": "McpServer",
        "metadata": {"name": name, "labels": {"team": "a"}},
        "spec": {"transport": "streamable-http", "url": url,
            "healthCheck": {"interval": "2s", "timeout": "1s"}}}),
    )
    .unwrap()
}

/// The gateway keeps serving its last known set while the watch is broken, says so, and
/// applies changes again once the API is back; the operator, restarted by its "pod" if
/// the outage cost it the lease, verifies new servers again.
#[tokio::test]
async fn the_last_known_set_serves_through_an_api_server_restart() {
    let Some(command) = std::env::var_os("LLAMAGATE_E2E_RESTART_APISERVER") else {
        skipped("API server restart: LLAMAGATE_E2E_RESTART_APISERVER names no command");
        return;
    };
    let Some((kubeconfig, _client, ns)) = scenario("API server restart", "restart").await else {
        return;
    };
    let mut operator = Operator::start(&kubeconfig, &ns.name, "restart-0");
    let peer = peers::mcp2_http();
    let servers: Api<McpServer> = ns.api();
    let post = PostParams::default();
    servers
        .create(&post, &server("mine", &peer.url))
        .await
        .unwrap();
    let (_state, base) = gateway(&ns.name, &kubeconfig).await;
    eventually("mine usable", WITHIN, || async {
        call_echo(&base, "mine").await.then_some(())
    })
    .await;

    let mut restart = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .spawn()
        .expect("run the restart command");
    eventually(
        "the cluster source stale while the API is down",
        WITHIN,
        || async {
            let listing = servers_listed(&base).await?;
            (listing["sources"]["cluster"]["state"] == "stale").then_some(())
        },
    )
    .await;
    assert!(
        call_echo(&base, "mine").await,
        "the last known set keeps serving"
    );
    assert!(
        restart.wait().await.unwrap().success(),
        "the restart command"
    );

    eventually("the API back", WITHIN, || async {
        servers
            .create(&post, &server("again", &peer.url))
            .await
            .ok()
    })
    .await;
    // A lost lease ends the operator process; its "pod" starts it again.
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        operator.restart_if_exited();
        let status = servers
            .get_status("again")
            .await
            .ok()
            .and_then(|s| s.status);
        if status.and_then(|s| s.url).is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "again not verified within {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eventually("again usable after the watch resumed", WITHIN, || async {
        call_echo(&base, "again").await.then_some(())
    })
    .await;
    let listing = servers_listed(&base).await.unwrap();
    assert_eq!(
        listing["sources"]["cluster"]["state"], "synced",
        "{listing}"
    );
    assert!(call_echo(&base, "mine").await);
    ns.delete().await;
}
