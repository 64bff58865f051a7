//! Cluster discovery at scale (a benchmark, not a test): 1,000 verified `McpServer`s, served
//! by the scripted Kubernetes API of the tests, all pointing at one real MCP peer (the mcp
//! 2.3 server over Streamable HTTP) on loopback. Measures, for one gateway replica: the time
//! until all 1,000 are registered and healthy, RSS, and the time for one change to apply
//! while the other 999 serve; the baseline is the same 1,000 servers from the file source,
//! measured in the same run.
//!
//!     tests/peers/install.sh && cargo run --release -p llamagate-gateway --example bench_discovery

#[path = "../../cli/tests/support/kube_api.rs"]
mod kube_api;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use llamagate_gateway::{
    config::load_from_str, discovery::cluster, metrics::Metrics, state::AppState,
};
use llamagate_mcp::{health::HealthState, server::operations::ToolCall};
use serde_json::json;

const SERVERS: usize = 1000;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn healthy(state: &AppState) -> usize {
    state
        .registry()
        .all()
        .iter()
        .filter(|s| s.health_state() == HealthState::Healthy)
        .count()
}

async fn until_all_healthy(state: &AppState) -> Duration {
    let started = Instant::now();
    while healthy(state) < SERVERS {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {} healthy",
            healthy(state)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

fn name(i: usize) -> String {
    format!("s{i:04}")
}

async fn echo(state: &AppState, server: &str) -> bool {
    let Some(client) = state.registry().get(server) else {
        return false;
    };
    let call = ToolCall {
        name: "echo".to_owned(),
        arguments: json!({"message": "x"}).as_object().cloned().unwrap(),
        ..Default::default()
    };
    client.call_tool(call).await.is_ok()
}

/// The same servers from the file source: start to all healthy.
async fn file_source(url: &str) -> Duration {
    let mut yaml = String::from("mcp:\n  servers:\n");
    for i in 0..SERVERS {
        yaml.push_str(&format!(
            "    - {{ name: {}, transport: streamable-http, url: \"{url}\" }}\n",
            name(i)
        ));
    }
    let config = load_from_str(&yaml, "bench.yaml", &|_| None).unwrap();
    let state = AppState::new(config, Metrics::new());
    let started = Instant::now();
    state.apply_file_servers();
    let ready = started.elapsed() + until_all_healthy(&state).await;
    state.registry().shutdown(Duration::from_millis(100)).await;
    ready
}

/// One change while the others serve: the time until it applies, and the calls another
/// server answered meanwhile.
async fn one_change(state: &AppState, fake: &kube_api::Shared, url: &str) -> (Duration, usize) {
    let before = state.registry().get(&name(1)).unwrap();
    let changed_from = state.registry().get(&name(500)).unwrap();
    let mut changed = kube_api::mcp_server(&name(500), url, true, None, json!({}));
    changed["spec"]["timeouts"] = json!({"connect": "10s", "call": "20s"});
    let serving = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut calls = 0;
            let deadline = Instant::now() + Duration::from_millis(500);
            while Instant::now() < deadline {
                assert!(echo(&state, &name(1)).await, "another server kept serving");
                calls += 1;
            }
            calls
        })
    };
    let started = Instant::now();
    fake.lock().unwrap().put_server(changed);
    while state
        .registry()
        .get(&name(500))
        .is_none_or(|now| Arc::ptr_eq(&now, &changed_from))
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let applied = started.elapsed();
    let calls = serving.await.unwrap();
    let after = state.registry().get(&name(1)).unwrap();
    assert!(
        Arc::ptr_eq(&before, &after),
        "the others keep their clients"
    );
    (applied, calls)
}

#[tokio::main]
async fn main() {
    let peer = llamagate_test_peers::mcp2_http();
    let rss_before = rss_mib();
    // `BENCH_FILE_LAST=1` measures the baseline after the cluster source instead, to see
    // what the order costs (the peer's leftover work, the allocator's kept memory).
    let file_last = std::env::var_os("BENCH_FILE_LAST").is_some();
    let mut file_ready = Duration::ZERO;
    if !file_last {
        file_ready = file_source(&peer.url).await;
    }

    let fake: kube_api::Shared = Arc::default();
    {
        let mut fake = fake.lock().unwrap();
        for i in 0..SERVERS {
            let server = kube_api::mcp_server(&name(i), &peer.url, true, None, json!({}));
            fake.put_server(server);
        }
    }
    let config = load_from_str("", "bench.yaml", &|_| None).unwrap();
    let state = AppState::new(config, Metrics::new());
    state.set_ready(true);
    state.expect_cluster_source();
    let started = Instant::now();
    let client = kube_api::client(&fake);
    tokio::spawn(cluster::run(client, "default".into(), None, state.clone()));
    while !state.is_ready() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let synced = started.elapsed();
    let cluster_ready = started.elapsed() + until_all_healthy(&state).await;
    let rss = rss_mib();
    let (change_applied, calls_meanwhile) = one_change(&state, &fake, &peer.url).await;
    if file_last {
        state.registry().shutdown(Duration::from_millis(100)).await;
        file_ready = file_source(&peer.url).await;
    }

    println!(
        "| {SERVERS} MCP servers, one replica | file source (baseline) | cluster source | cluster / file |"
    );
    println!("|---|---|---|---|");
    println!(
        "| start to all healthy | {:.2} s | {:.2} s (first full list after {:.0} ms) | {:.2} |",
        file_ready.as_secs_f64(),
        cluster_ready.as_secs_f64(),
        synced.as_secs_f64() * 1000.0,
        cluster_ready.as_secs_f64() / file_ready.as_secs_f64()
    );
    println!();
    let kept = if file_last {
        ""
    } else {
        " and what the allocator kept of the baseline's run"
    };
    println!(
        "RSS with {SERVERS} cluster servers: {rss:.0} MiB (at start: {rss_before:.0} MiB; includes the in-process fake API{kept})"
    );
    println!(
        "one McpServer changed: applied in {:.1} ms; {calls_meanwhile} calls to another server succeeded meanwhile (500 ms), and it kept its client",
        change_applied.as_secs_f64() * 1000.0
    );
    std::process::exit(0);
}
