//! The shared prober as an owned handle: started, it probes the healthy Streamable HTTP
//! servers handed to it from a thread of its own; stopped, its thread ends and every
//! server's own monitor takes the probing back, without the server turning unhealthy.

mod support;

use std::time::Duration;

use llamagate_mcp::{Context, Prober, ServerClient, Transport, health::HealthState};
use support::*;

/// Threads of this process named like the prober's, once that count is `expected` (a new
/// thread names itself when it starts; an ended one leaves the list when it is reaped).
fn prober_threads_become(expected: usize) -> usize {
    for _ in 0..50 {
        if prober_threads() == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    prober_threads()
}

fn prober_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.trim() == "mcp-prober")
        })
        .count()
}

fn probes_ok(metrics: &TestMetrics, server: &str) -> u64 {
    let needle = format!("llamagate_mcp_probes_total{{outcome=\"ok\",server=\"{server}\"}} ");
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(needle.as_str()))
        .map_or(0, |value| value.trim().parse().unwrap())
}

async fn wait_for_probes(metrics: &TestMetrics, server: &str, more_than: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let seen = probes_ok(metrics, server);
        if seen > more_than {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no probes past {more_than}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stopped_prober_hands_every_server_back_to_its_monitor() {
    let peer = mcp2_http();
    let threads_before = prober_threads();
    let prober = Prober::start().unwrap();
    assert_eq!(
        prober_threads_become(threads_before + 1),
        threads_before + 1,
        "one thread of its own"
    );
    let metrics = TestMetrics::new();
    let context = Context::new(metrics.mcp.clone()).with_prober(&prober);
    let mut description = remote("watched", Transport::StreamableHttp, &peer.url);
    description.health.interval = Duration::from_millis(300);
    description.health.timeout = Duration::from_millis(250);
    let server = ServerClient::new(description, &context);
    server.start();
    let seen = wait_for_probes(&metrics, "watched", 2).await;

    prober.stop();
    assert_eq!(
        prober_threads_become(threads_before),
        threads_before,
        "the thread ended"
    );
    wait_for_probes(&metrics, "watched", seen + 2).await;
    assert_eq!(server.health().state, HealthState::Healthy);
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn without_a_prober_each_server_probes_itself() {
    let peer = mcp2_http();
    let metrics = TestMetrics::new();
    let context = Context::new(metrics.mcp.clone());
    let mut description = remote("alone", Transport::StreamableHttp, &peer.url);
    description.health.interval = Duration::from_millis(300);
    description.health.timeout = Duration::from_millis(250);
    let server = ServerClient::new(description, &context);
    server.start();
    wait_for_probes(&metrics, "alone", 3).await;
    assert_eq!(server.health().state, HealthState::Healthy);
    server.stop(Duration::from_secs(1)).await;
}
