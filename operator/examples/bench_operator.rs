//! The operator at scale (a benchmark, not a test): 1,000 external `McpServer`s in the
//! stateful fake API of the tests, all pointing at one real MCP peer (the mcp 2.3 server
//! over Streamable HTTP) on loopback. Measures the time until all 1,000 are Ready, against a
//! baseline measured in the same run (the same 1,000 one-shot probes with the same
//! concurrency and no Kubernetes at all); then, at steady state, status writes and API
//! requests per minute, probes per minute, CPU and RSS of this process (operator and fake
//! API together).
//!
//!     tests/peers/install.sh && cargo run --release -p llamagate-operator --example bench_operator

#[path = "../tests/support/fake_api.rs"]
mod fake_api;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fake_api::{Cluster, Shared};
use futures::StreamExt;
use llamagate_crds::{
    McpServer,
    client::{SecretValues, describe},
};
use llamagate_operator::{
    context::Settings,
    controllers::mcpserver::controller::{self, MAX_CONCURRENT_RECONCILES},
    metrics::Metrics,
    resources::mcpserver::BridgeImage,
};
use serde_json::json;

const SERVERS: usize = 1000;
const INTERVAL_SECONDS: u64 = 10;
const STEADY_WINDOW: Duration = Duration::from_secs(30);

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// User plus system CPU time of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the name).
    (ticks(11) + ticks(12)) / 100.0
}

fn spec(url: &str) -> serde_json::Value {
    json!({"transport": "streamable-http", "url": url,
        "healthCheck": {"interval": format!("{INTERVAL_SECONDS}s"), "timeout": "5s"}})
}

fn ready(cluster: &Shared) -> usize {
    let cluster = cluster.lock().unwrap();
    (0..SERVERS)
        .filter(|i| {
            cluster
                .get("mcpservers", &format!("s{i:04}"))
                .is_some_and(|s| {
                    s["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
                })
        })
        .count()
}

/// The same probes without Kubernetes: describe, probe, with the controller's concurrency.
async fn direct_probes(url: &str) -> Duration {
    let context = llamagate_mcp::Context::new(llamagate_mcp::McpMetrics::unregistered());
    let started = Instant::now();
    let servers: Vec<McpServer> = (0..SERVERS)
        .map(|i| {
            serde_json::from_value(json!({"apiVersion": "llamagate.io/v1alpha1", "kind": "McpServer",
                "metadata": {"name": format!("s{i:04}"), "namespace": "default"}, "spec": spec(url)}))
            .unwrap()
        })
        .collect();
    let ready = futures::stream::iter(servers.iter())
        .map(|server| {
            let context = context.clone();
            async move {
                let description = describe(server, url, &SecretValues::new()).unwrap();
                llamagate_mcp::probe_once(&description, &context, Duration::from_secs(5))
                    .await
                    .ready()
            }
        })
        .buffer_unordered(usize::from(MAX_CONCURRENT_RECONCILES))
        .filter(|ready| futures::future::ready(*ready))
        .count()
        .await;
    assert_eq!(ready, SERVERS, "every direct probe must pass");
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let peer = llamagate_test_peers::mcp2_http();
    let direct = direct_probes(&peer.url).await;

    let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
    for i in 0..SERVERS {
        cluster.lock().unwrap().put(
            "mcpservers",
            json!({"metadata": {"name": format!("s{i:04}")}, "spec": spec(&peer.url)}),
        );
    }
    let metrics = Metrics::new();
    let settings = Settings {
        bridge: BridgeImage {
            image: "ghcr.io/llamagate/llamagate:bench".to_owned(),
        },
        instance: "bench".to_owned(),
    };
    let started = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(
        fake_api::client(&cluster),
        Some("default".to_owned()),
        settings,
        metrics.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    while ready(&cluster) < SERVERS {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {} ready",
            ready(&cluster)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_ready = started.elapsed();
    // Let the first round of requeues pass, then measure a steady window.
    tokio::time::sleep(Duration::from_secs(INTERVAL_SECONDS + 2)).await;
    let (changes_before, requests_before) = {
        let c = cluster.lock().unwrap();
        (
            c.changes.values().sum::<u64>(),
            c.requests.values().sum::<u64>(),
        )
    };
    let probes_before = metrics.probes();
    let cpu_before = cpu_seconds();
    tokio::time::sleep(STEADY_WINDOW).await;
    let per_minute = 60.0 / STEADY_WINDOW.as_secs_f64();
    let (changes, requests) = {
        let c = cluster.lock().unwrap();
        (
            c.changes.values().sum::<u64>() - changes_before,
            c.requests.values().sum::<u64>() - requests_before,
        )
    };
    let probed = metrics.probes() - probes_before;
    let cpu = (cpu_seconds() - cpu_before) / STEADY_WINDOW.as_secs_f64() * 100.0;
    let rss = rss_mib();
    let _ = stop.send(());
    let _ = task.await;

    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "operator at scale: {SERVERS} McpServers, probe interval {INTERVAL_SECONDS}s, {cores} cores, one mcp 2.3 peer"
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| all Ready through the operator | {:.2} s |",
        all_ready.as_secs_f64()
    );
    println!(
        "| the same probes, direct (baseline) | {:.2} s |",
        direct.as_secs_f64()
    );
    println!(
        "| ratio operator / direct | {:.2}x |",
        all_ready.as_secs_f64() / direct.as_secs_f64()
    );
    println!(
        "| steady state: object changes per minute | {:.0} |",
        changes as f64 * per_minute
    );
    println!(
        "| steady state: write requests per minute | {:.0} |",
        requests as f64 * per_minute
    );
    println!(
        "| steady state: probes per minute | {:.0} (expected ~{}) |",
        probed as f64 * per_minute,
        SERVERS as u64 * 60 / INTERVAL_SECONDS
    );
    println!(
        "| steady state: CPU (operator + fake API + client side of probes) | {cpu:.1} % of one core |"
    );
    println!("| RSS (operator + fake API) | {rss:.0} MiB |");
}
