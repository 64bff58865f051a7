//! The whole `LlamaGate` controller against the stateful fake API: the objects a gateway
//! owns, least-privilege RBAC, a gateway configuration the gateway itself accepts, the
//! servers it uses counted in status, autoscaling that never takes replicas back from the
//! HPA, optional objects removed when the spec drops them, and no writes in a steady state.

#[path = "support/fake_api.rs"]
mod fake_api;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use fake_api::{Cluster, Shared, client};
use llamagate_operator::{
    context::Settings, controllers::llamagate::controller, metrics::Metrics,
    resources::mcpserver::BridgeImage,
};
use serde_json::{Value, json};

fn settings() -> Settings {
    Settings {
        bridge: BridgeImage {
            image: "ghcr.io/llamagate/llamagate:test".to_owned(),
        },
        instance: "gateway-test".to_owned(),
    }
}

fn run(
    cluster: &Shared,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(
        client(cluster),
        Some("default".to_owned()),
        settings(),
        Metrics::new(),
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn get(cluster: &Shared, collection: &str, name: &str) -> Option<Value> {
    cluster.lock().unwrap().get(collection, name)
}

fn gateway(spec: Value) -> Value {
    json!({"metadata": {"name": "gw"}, "spec": spec})
}

fn cluster_with_servers() -> Shared {
    let cluster: Shared = Arc::new(Mutex::new(Cluster::default()));
    {
        let mut c = cluster.lock().unwrap();
        c.put("mcpservers", json!({"metadata": {"name": "mine", "labels": {"team": "a"}},
            "spec": {"transport": "streamable-http", "url": "http://127.0.0.1:1/mcp",
                "auth": {"bearerToken": {"secretKeyRef": {"name": "mine-token", "key": "token"}}}}}));
        c.put("mcpservers", json!({"metadata": {"name": "theirs", "labels": {"team": "b"}},
            "spec": {"transport": "streamable-http", "url": "http://127.0.0.1:2/mcp",
                "auth": {"bearerToken": {"secretKeyRef": {"name": "theirs-token", "key": "token"}}}}}));
    }
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_gets_its_objects_with_least_privilege_and_a_config_the_gateway_accepts() {
    let cluster = cluster_with_servers();
    let spec = json!({"replicas": 2, "upstream": {"url": "http://ollama:11434/v1",
        "apiKeySecret": {"name": "llm", "key": "key"}},
        "mcpServerSelector": {"matchLabels": {"team": "a"}},
        "auth": {"apiKeysSecret": "gw-keys"}, "service": {"port": 8000}});
    cluster.lock().unwrap().put("llamagates", gateway(spec));
    let (stop, task) = run(&cluster);
    wait_for("status", || {
        get(&cluster, "llamagates", "gw").is_some_and(|g| !g["status"].is_null())
    })
    .await;

    for collection in [
        "serviceaccounts",
        "roles",
        "rolebindings",
        "configmaps",
        "deployments",
        "services",
    ] {
        let name = if collection == "configmaps" {
            "gw-config"
        } else {
            "gw"
        };
        let object = get(&cluster, collection, name).unwrap_or_else(|| panic!("no {collection}"));
        assert_eq!(
            object["metadata"]["ownerReferences"][0]["kind"], "LlamaGate",
            "{collection}"
        );
    }
    let role = get(&cluster, "roles", "gw").unwrap();
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": ["llamagate.io"], "resources": ["mcpservers"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mine-token"], "verbs": ["get", "list", "watch"]},
        ]),
        "read only, and only the Secrets of the servers it uses"
    );
    let deployment = get(&cluster, "deployments", "gw").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "gw");
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    let env = container["env"].as_array().unwrap();
    let upstream_key = env
        .iter()
        .find(|e| e["name"] == "LLAMAGATE_UPSTREAM_API_KEY")
        .unwrap();
    assert_eq!(upstream_key["valueFrom"]["secretKeyRef"]["name"], "llm");
    let pod_ip = env.iter().find(|e| e["name"] == "POD_IP").unwrap();
    assert_eq!(pod_ip["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
    assert_eq!(
        get(&cluster, "services", "gw").unwrap()["spec"]["ports"][0]["port"],
        8000
    );

    // The configuration is one the gateway loads (with the keys file it mounts).
    let config = get(&cluster, "configmaps", "gw-config").unwrap()["data"]["llamagate.yaml"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.yaml");
    std::fs::write(&keys, "- { key: client-key-0123456789 }\n").unwrap();
    let config = config.replace("/etc/llamagate/keys/keys.yaml", &keys.display().to_string());
    // The pod's environment: its IP, from the downward API.
    let vars: HashMap<String, String> = [("POD_IP".to_owned(), "10.0.0.7".to_owned())].into();
    let loaded = llamagate_gateway::config::load_from_str(&config, "llamagate.yaml", &|name| {
        vars.get(name).cloned()
    })
    .unwrap_or_else(|e| panic!("the gateway refuses its ConfigMap: {e}\n{config}"));
    let discovery = loaded.discovery.kubernetes.expect("cluster discovery");
    assert_eq!(discovery.selector.as_deref(), Some("team=a"));
    assert_eq!(loaded.auth.keys.len(), 1);
    assert_eq!(
        loaded.mcp.endpoint.advertise_url.as_deref(),
        Some("http://10.0.0.7:8080"),
        "other pods reach this one at its own IP"
    );

    let status = get(&cluster, "llamagates", "gw").unwrap()["status"].clone();
    assert_eq!(status["endpoint"], "http://gw.default.svc:8000/v1");
    assert_eq!(status["mcpServers"]["summary"], "0/1");
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_turning_ready_are_counted_and_a_steady_gateway_makes_no_writes() {
    let cluster = cluster_with_servers();
    cluster.lock().unwrap().put(
        "llamagates",
        gateway(json!({"upstream": {"url": "http://llm:8000/v1"}})),
    );
    let (stop, task) = run(&cluster);
    let summary = |cluster: &Shared| {
        get(cluster, "llamagates", "gw").and_then(|g| {
            g["status"]["mcpServers"]["summary"]
                .as_str()
                .map(str::to_owned)
        })
    };
    wait_for("0/2", || summary(&cluster).as_deref() == Some("0/2")).await;
    cluster.lock().unwrap().edit("mcpservers", "mine", |server| {
        server["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Verified",
            "message": "", "lastTransitionTime": "2026-12-01T00:00:00Z"}]});
    });
    wait_for("1/2", || summary(&cluster).as_deref() == Some("1/2")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cluster.lock().unwrap().changes.clone();
    let requests = cluster.lock().unwrap().requests.clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        cluster.lock().unwrap().changes,
        before,
        "no change in a steady state"
    );
    assert_eq!(
        cluster.lock().unwrap().requests,
        requests,
        "no request either"
    );
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscaling_leaves_replicas_to_the_hpa_and_dropped_objects_are_removed() {
    let cluster = cluster_with_servers();
    let spec = json!({"autoscaling": {"minReplicas": 2, "maxReplicas": 6},
        "podDisruptionBudget": {"maxUnavailable": 1}, "upstream": {"url": "http://llm:8000/v1"}});
    cluster.lock().unwrap().put("llamagates", gateway(spec));
    let (stop, task) = run(&cluster);
    wait_for("the HPA", || {
        get(&cluster, "horizontalpodautoscalers", "gw").is_some()
    })
    .await;
    wait_for("the PDB", || {
        get(&cluster, "poddisruptionbudgets", "gw").is_some()
    })
    .await;
    let hpa = get(&cluster, "horizontalpodautoscalers", "gw").unwrap();
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "gw");
    assert!(
        get(&cluster, "deployments", "gw").unwrap()["spec"]["replicas"].is_null(),
        "no replicas in our body"
    );

    // The HPA scales the Deployment; a change of the gateway's spec must not undo it.
    cluster
        .lock()
        .unwrap()
        .edit("deployments", "gw", |d| d["spec"]["replicas"] = json!(5));
    cluster.lock().unwrap().edit("llamagates", "gw", |g| {
        g["spec"]["limits"] = json!({"maxToolRounds": 3});
        g["metadata"]["generation"] = json!(2);
    });
    wait_for("the new config", || {
        get(&cluster, "configmaps", "gw-config").is_some_and(|c| {
            c["data"]["llamagate.yaml"]
                .as_str()
                .unwrap()
                .contains("max_tool_rounds: 3")
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get(&cluster, "deployments", "gw").unwrap()["spec"]["replicas"],
        5
    );

    // Autoscaling and the budget dropped: both are deleted, fixed replicas are set.
    cluster.lock().unwrap().edit("llamagates", "gw", |g| {
        g["spec"] = json!({"replicas": 3, "upstream": {"url": "http://llm:8000/v1"}});
        g["metadata"]["generation"] = json!(3);
    });
    wait_for("the HPA removed", || {
        get(&cluster, "horizontalpodautoscalers", "gw").is_none()
    })
    .await;
    wait_for("the PDB removed", || {
        get(&cluster, "poddisruptionbudgets", "gw").is_none()
    })
    .await;
    wait_for("3 replicas", || {
        get(&cluster, "deployments", "gw").unwrap()["spec"]["replicas"] == 3
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_gateway_is_reported_and_nothing_is_created() {
    let cluster = cluster_with_servers();
    let spec = json!({"replicas": 1, "autoscaling": {"maxReplicas": 2}, "upstream": {"url": "http://llm:8000/v1"}});
    cluster.lock().unwrap().put("llamagates", gateway(spec));
    let (stop, task) = run(&cluster);
    wait_for("status", || {
        get(&cluster, "llamagates", "gw").is_some_and(|g| !g["status"].is_null())
    })
    .await;
    let status = get(&cluster, "llamagates", "gw").unwrap()["status"].clone();
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("spec.autoscaling"),
        "{ready}"
    );
    assert_eq!(cluster.lock().unwrap().count("deployments"), 0);
    let _ = stop.send(());
    task.await.unwrap();
}
