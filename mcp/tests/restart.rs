//! Restarts against a real stdio server: a new process, and calls that arrive meanwhile
//! waiting for the restart instead of failing.

mod support;

use std::{sync::Arc, time::Duration};

use llamagate_mcp::health::HealthState;
use serde_json::json;
use support::*;

#[tokio::test]
async fn restart_of_a_stdio_server_gets_a_new_process() {
    let server = client_with(mcp2_stdio("restartable"), |_| {});
    server.start();
    wait_for("healthy", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
    let before = process_id(&server);
    server.restart(Duration::from_secs(2)).await.unwrap();
    assert_eq!(server.health().state, HealthState::Healthy);
    assert_ne!(process_id(&server), before);
    server.stop(Duration::from_secs(1)).await;
}

/// A call that arrives while a restart drains and re-opens the sessions waits for it and
/// succeeds, rather than failing with "restarting".
#[tokio::test]
async fn a_call_during_a_restart_waits_for_it() {
    let server = client_with(mcp2_stdio("draining"), |_| {});
    server.start();
    wait_for("healthy", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
    let slow = {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            server
                .call_tool(tool("slow", json!({"seconds": 1.0})))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let restart = {
        let server = Arc::clone(&server);
        tokio::spawn(async move { server.restart(Duration::from_secs(5)).await })
    };
    wait_for("restarting", async || {
        server.health().state == HealthState::Restarting
    })
    .await;
    let during = server
        .call_tool(tool("echo", json!({"message": "meanwhile"})))
        .await;
    assert!(during.is_ok(), "{during:?}");
    assert!(slow.await.unwrap().is_ok(), "the drained call finished");
    restart.await.unwrap().unwrap();
    server.stop(Duration::from_secs(1)).await;
}
