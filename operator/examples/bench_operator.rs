//! The operator at scale (a benchmark, not a test): 1,000 external `McpServer`s, all
//! pointing at one real MCP peer (the mcp 2.3 server over Streamable HTTP) on loopback, at
//! the default probe interval (30 s). Against a real control plane when
//! `LLAMAGATE_E2E_KUBECONFIG` names one (in a namespace of its own, deleted afterwards),
//! else against the stateful fake API of the tests. Measures the time until all 1,000 are
//! Ready, against a baseline measured in the same run (the same 1,000 one-shot probes with
//! the same concurrency and no Kubernetes at all); then, at steady state, the operator's
//! writes per minute (status, objects, Events), probes per minute, CPU and RSS of this
//! process (the operator, and the fake API when there is no cluster).
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
const INTERVAL_SECONDS: u64 = 30;
const STEADY_WINDOW: Duration = Duration::from_secs(60);
const READY_WITHIN: Duration = Duration::from_secs(300);

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

fn is_ready(server: &serde_json::Value) -> bool {
    server["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Where the McpServers live: the fake API of the tests, or a real control plane.
enum Backend {
    Fake(Shared),
    Real {
        client: kube::Client,
        namespace: String,
    },
}

impl Backend {
    async fn new(url: &str) -> Self {
        let Some(path) = std::env::var_os("LLAMAGATE_E2E_KUBECONFIG") else {
            let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
            for i in 0..SERVERS {
                cluster.lock().unwrap().put(
                    "mcpservers",
                    json!({"metadata": {"name": format!("s{i:04}")}, "spec": spec(url)}),
                );
            }
            return Self::Fake(cluster);
        };
        let file = kube::config::Kubeconfig::read_from(path).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .expect("kubeconfig usable");
        let client = kube::Client::try_from(config).expect("client");
        let namespace = format!("bench-{:06x}", fastrand::u32(..0xff_ffff));
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
            kube::Api::all(client.clone());
        let ns = serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap();
        namespaces
            .create(&Default::default(), &ns)
            .await
            .expect("namespace");
        let api: kube::Api<McpServer> = kube::Api::namespaced(client.clone(), &namespace);
        futures::stream::iter(0..SERVERS)
            .for_each_concurrent(50, |i| {
                let api = api.clone();
                async move {
                    let server: McpServer = serde_json::from_value(json!({
                        "apiVersion": "llamagate.io/v1alpha1", "kind": "McpServer",
                        "metadata": {"name": format!("s{i:04}")}, "spec": spec(url)}))
                    .unwrap();
                    api.create(&Default::default(), &server)
                        .await
                        .expect("create");
                }
            })
            .await;
        Self::Real { client, namespace }
    }

    fn client(&self) -> kube::Client {
        match self {
            Self::Fake(cluster) => fake_api::client(cluster),
            Self::Real { client, .. } => client.clone(),
        }
    }

    fn namespace(&self) -> String {
        match self {
            Self::Fake(_) => "default".to_owned(),
            Self::Real { namespace, .. } => namespace.clone(),
        }
    }

    async fn ready(&self) -> usize {
        match self {
            Self::Fake(cluster) => {
                let cluster = cluster.lock().unwrap();
                (0..SERVERS)
                    .filter(|i| {
                        cluster
                            .get("mcpservers", &format!("s{i:04}"))
                            .is_some_and(|s| is_ready(&s))
                    })
                    .count()
            }
            Self::Real { client, namespace } => {
                let api: kube::Api<McpServer> = kube::Api::namespaced(client.clone(), namespace);
                let Ok(list) = api.list(&Default::default()).await else {
                    return 0;
                };
                list.items
                    .iter()
                    .filter(|s| is_ready(&serde_json::to_value(s).unwrap()))
                    .count()
            }
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Self::Fake(_) => "the fake API of the tests",
            Self::Real { .. } => "a real kube-apiserver and etcd (LLAMAGATE_E2E_KUBECONFIG)",
        }
    }

    async fn delete(self) {
        if let Self::Real { client, namespace } = self {
            let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
                kube::Api::all(client);
            let _ = namespaces.delete(&namespace, &Default::default()).await;
        }
    }
}

/// Every write the operator made so far.
fn writes(metrics: &Metrics) -> u64 {
    ["status", "deployment", "service", "event"]
        .iter()
        .map(|object| metrics.writes(object))
        .sum()
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

    let cluster = Backend::new(&peer.url).await;
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
        cluster.client(),
        Some(cluster.namespace()),
        settings,
        metrics.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut ready = 0;
    while ready < SERVERS {
        if started.elapsed() > READY_WITHIN {
            eprintln!("only {ready} of {SERVERS} Ready within {READY_WITHIN:?}");
            let _ = stop.send(());
            let _ = task.await;
            cluster.delete().await;
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        ready = cluster.ready().await;
    }
    let all_ready = started.elapsed();
    // Let the first round of requeues pass, then measure a steady window.
    tokio::time::sleep(Duration::from_secs(INTERVAL_SECONDS + 2)).await;
    let writes_before = writes(&metrics);
    let probes_before = metrics.probes();
    let cpu_before = cpu_seconds();
    tokio::time::sleep(STEADY_WINDOW).await;
    let per_minute = 60.0 / STEADY_WINDOW.as_secs_f64();
    let wrote = writes(&metrics) - writes_before;
    let probed = metrics.probes() - probes_before;
    let cpu = (cpu_seconds() - cpu_before) / STEADY_WINDOW.as_secs_f64() * 100.0;
    let rss = rss_mib();
    let _ = stop.send(());
    let _ = task.await;
    let label = cluster.label();
    cluster.delete().await;

    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "operator at scale: {SERVERS} McpServers on {label}, probe interval {INTERVAL_SECONDS}s, {cores} cores, one mcp 2.3 peer"
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
        "| steady state: operator writes per minute (status, objects, Events) | {:.0} |",
        wrote as f64 * per_minute
    );
    println!(
        "| steady state: probes per minute | {:.0} (expected ~{}) |",
        probed as f64 * per_minute,
        SERVERS as u64 * 60 / INTERVAL_SECONDS
    );
    println!(
        "| steady state: CPU (operator, fake API if any, client side of probes) | {cpu:.1} % of one core |"
    );
    println!("| RSS of this process | {rss:.0} MiB |");
}
