//! End to end against a real control plane (`LLAMAGATE_E2E_KUBECONFIG`): the operator binary
//! reconciles `McpServer`s the API server validated, with real MCP peers on loopback, and the
//! results are read back as a user reads them (`kubectl get mcpservers`, Events, the owned
//! objects with their managed fields). Skipped, saying so, without a cluster.

mod e2e;

use std::time::Duration;

use e2e::*;
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Secret, Service},
    events::v1::Event,
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use llamagate_crds::{
    McpServer,
    client::{SecretValues, describe},
};
use llamagate_mcp::{ServerClient, server::operations::ToolCall};
use llamagate_test_peers as peers;
use serde_json::{Value, json};

const WITHIN: Duration = Duration::from_secs(30);

async fn server_json(api: &Api<McpServer>, name: &str) -> Option<Value> {
    serde_json::to_value(api.get(name).await.ok()?).ok()
}

async fn wait_condition(
    api: &Api<McpServer>,
    name: &str,
    type_: &str,
    status: &str,
    reason: Option<&str>,
) -> Value {
    let what = format!("{name}: {type_}={status} ({reason:?})");
    eventually(&what, WITHIN, || async {
        let server = server_json(api, name).await?;
        let condition = condition(&server, type_)?;
        let matches = condition["status"] == status
            && reason.is_none_or(|reason| condition["reason"] == reason);
        matches.then_some(server)
    })
    .await
}

/// Ask the peer itself (through our MCP client) to register one more tool.
async fn add_tool(server: &Value, url: &str, name: &str) {
    let server: McpServer = serde_json::from_value(server.clone()).unwrap();
    let description = describe(&server, url, &SecretValues::new()).unwrap();
    let context = llamagate_mcp::Context::new(llamagate_mcp::McpMetrics::unregistered());
    let client = ServerClient::new(description, &context);
    let call = ToolCall {
        name: "add_tool".to_owned(),
        arguments: json!({"name": name}).as_object().cloned().unwrap(),
        ..Default::default()
    };
    client.call_tool(call).await.expect("add_tool on the peer");
    client.stop(Duration::from_secs(1)).await;
}

/// The tool count a direct one-shot probe finds, to compare the status with.
async fn direct_tool_count(server: &McpServer, url: &str) -> u64 {
    let description = describe(server, url, &SecretValues::new()).unwrap();
    let context = llamagate_mcp::Context::new(llamagate_mcp::McpMetrics::unregistered());
    let report = llamagate_mcp::probe_once(&description, &context, Duration::from_secs(5)).await;
    assert!(report.ready(), "the peer answers a direct probe");
    let count = report
        .findings
        .and_then(|f| f.tool_count)
        .expect("tool count");
    u64::try_from(count).unwrap()
}

fn external(name: &str, transport: &str, url: &str, extra: Value) -> McpServer {
    let mut spec = json!({"transport": transport, "url": url,
        "healthCheck": {"interval": "2s", "timeout": "1s", "failureThreshold": 2}});
    for (key, value) in extra.as_object().into_iter().flatten() {
        spec[key] = value.clone();
    }
    serde_json::from_value(
        json!({"apiVersion": "llamagate.io/v1alpha1", "kind": "McpServer",
        "metadata": {"name": name}, "spec": spec}),
    )
    .unwrap()
}

#[tokio::test]
async fn external_server_health_shows_in_kubectl_get_and_holds_still() {
    let Some((kubeconfig, client, ns)) = scenario("external server health", "health").await else {
        return;
    };
    let _operator = Operator::start(&kubeconfig, &ns.name, "health-0");
    let mut peer = peers::mcp2_http();
    let api: Api<McpServer> = ns.api();
    api.create(
        &PostParams::default(),
        &external("notes", "streamable-http", &peer.url, json!({})),
    )
    .await
    .expect("the API accepts the McpServer");

    let ready = wait_condition(&api, "notes", "Ready", "True", Some("Verified")).await;
    let status = &ready["status"];
    assert_eq!(status["url"], peer.url.as_str(), "url set once verified");
    assert!(status["toolCount"].as_u64().unwrap() > 0, "{status}");
    assert!(status["protocolVersion"].is_string(), "{status}");
    assert_eq!(
        status["observedGeneration"],
        ready["metadata"]["generation"]
    );
    for type_ in ["Reachable", "Verified"] {
        assert_eq!(condition(&ready, type_).unwrap()["status"], "True");
    }

    // `kubectl get mcpservers`: the columns the CRD prints, filled from status.
    let (columns, rows) = printed_table(&client, &ns.name).await;
    let column = |name: &str| columns.iter().position(|c| c == name).unwrap();
    let row = &rows[0];
    assert_eq!(row[column("Name")], "notes");
    assert_eq!(row[column("Ready")], "True");
    assert_eq!(row[column("Tools")], status["toolCount"]);
    assert!(
        row[column("Latency")].as_str().unwrap().ends_with("ms"),
        "{row:?}"
    );

    // Steady: probes go on every 2 s, the object does not change.
    let version = ready["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let still = server_json(&api, "notes").await.unwrap();
    assert_eq!(
        still["metadata"]["resourceVersion"], version,
        "no writes while steady"
    );

    // A tool added at run time shows within one interval (2 s, with jitter and the write).
    let tools = status["toolCount"].as_u64().unwrap();
    add_tool(&ready, &peer.url, "added_at_run_time").await;
    eventually("the added tool counted", Duration::from_secs(4), || async {
        let server = server_json(&api, "notes").await?;
        (server["status"]["toolCount"].as_u64() == Some(tools + 1)).then_some(())
    })
    .await;

    // Down: Ready turns False after the threshold, with no stale tool count.
    let port: u16 = peer
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    peer.kill();
    let down = wait_condition(&api, "notes", "Ready", "False", Some("Unreachable")).await;
    assert_eq!(down["status"]["consecutiveFailures"], 2);
    assert!(
        down["status"].get("toolCount").is_none(),
        "{}",
        down["status"]
    );
    assert!(
        down["status"].get("latencyMs").is_none(),
        "{}",
        down["status"]
    );
    let events: Api<Event> = ns.api();
    let transitions = events.list(&ListParams::default()).await.unwrap().items;
    let about_notes: Vec<_> = transitions
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("notes"))
        .collect();
    assert!(
        about_notes.len() >= 2,
        "an Event when Ready came and when it went: {about_notes:?}"
    );

    // Back at the same address: Ready again, counts and all.
    let _back = peers::mcp2_http_on(port);
    let back = wait_condition(&api, "notes", "Ready", "True", Some("Verified")).await;
    assert_eq!(back["status"]["consecutiveFailures"], 0);
    assert!(back["status"]["toolCount"].as_u64().is_some());
    ns.delete().await;
}

#[tokio::test]
async fn every_transport_becomes_ready_with_the_right_counts() {
    let Some((kubeconfig, _client, ns)) = scenario("every transport", "transports").await else {
        return;
    };
    let _operator = Operator::start(&kubeconfig, &ns.name, "transports-0");
    let peers = [
        (
            "node-http",
            "streamable-http",
            peers::everything("streamableHttp"),
        ),
        ("node-sse", "sse", peers::everything("sse")),
        (
            "py-json",
            "streamable-http",
            peers::mcp1_peer("streamable-http-json"),
        ),
        ("py-ws", "websocket", peers::ws_peer()),
        ("py-stateless", "streamable-http", peers::mcp2_http()),
    ];
    let api: Api<McpServer> = ns.api();
    for (name, transport, peer) in &peers {
        let server = external(name, transport, &peer.url, json!({}));
        api.create(&PostParams::default(), &server).await.unwrap();
    }
    for (name, transport, peer) in &peers {
        let server = external(name, transport, &peer.url, json!({}));
        let expected = direct_tool_count(&server, &peer.url).await;
        let ready = wait_condition(&api, name, "Ready", "True", Some("Verified")).await;
        assert_eq!(
            ready["status"]["toolCount"], expected,
            "{name}: {}",
            ready["status"]
        );
        assert_eq!(ready["status"]["url"], peer.url.as_str(), "{name}");
    }
    ns.delete().await;
}

#[tokio::test]
async fn secrets_missing_late_and_rotated() {
    let Some((kubeconfig, _client, ns)) = scenario("secrets", "secrets").await else {
        return;
    };
    let _operator = Operator::start(&kubeconfig, &ns.name, "secrets-0");
    // The legacy SSE transport this time, with a peer that checks the token on every request.
    let peer = peers::mcp1_peer_with_env(
        "sse",
        &[(
            "PEER_REQUIRE_HEADERS",
            r#"{"authorization": "Bearer right"}"#,
        )],
    );
    let api: Api<McpServer> = ns.api();
    let auth =
        json!({"auth": {"bearerToken": {"secretKeyRef": {"name": "ws-token", "key": "token"}}}});
    api.create(
        &PostParams::default(),
        &external("ws", "sse", &peer.url, auth),
    )
    .await
    .unwrap();
    let missing = wait_condition(&api, "ws", "Ready", "False", Some("SecretNotFound")).await;
    let message = condition(&missing, "Ready").unwrap()["message"].to_string();
    assert!(message.contains("ws-token"), "names the Secret: {message}");

    let secrets: Api<Secret> = ns.api();
    let secret = |token: &str| -> Secret {
        serde_json::from_value(json!({"metadata": {"name": "ws-token"},
            "stringData": {"token": token}}))
        .unwrap()
    };
    secrets
        .create(&PostParams::default(), &secret("right"))
        .await
        .unwrap();
    wait_condition(&api, "ws", "Ready", "True", None).await;

    secrets
        .replace("ws-token", &PostParams::default(), &{
            let mut s = secret("wrong");
            s.metadata.resource_version = secrets
                .get("ws-token")
                .await
                .unwrap()
                .metadata
                .resource_version;
            s
        })
        .await
        .unwrap();
    let refused = wait_condition(&api, "ws", "Ready", "False", Some("Unauthorized")).await;
    let text = serde_json::to_string(&refused).unwrap();
    assert!(
        !text.contains("wrong") && !text.contains("right"),
        "no token in status: {text}"
    );
    let patch = json!({"stringData": {"token": "right"}});
    secrets
        .patch("ws-token", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_condition(&api, "ws", "Ready", "True", None).await;
    ns.delete().await;
}

fn managed(name: &str) -> McpServer {
    serde_json::from_value(
        json!({"apiVersion": "llamagate.io/v1alpha1", "kind": "McpServer",
        "metadata": {"name": name},
        "spec": {"transport": "stdio", "deployment": {
            "image": "ghcr.io/example/tools:1", "command": ["tools-server"], "port": 9000},
            "healthCheck": {"interval": "2s", "timeout": "1s"}}}),
    )
    .unwrap()
}

fn managed_by(object: &Value, manager: &str) -> bool {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| f["manager"] == manager && f["operation"] == "Apply")
}

/// The managed Deployment's rollout as a kubelet and deployment controller would report it
/// (this control plane runs no nodes).
async fn report_available(deployments: &Api<Deployment>, name: &str) {
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": {
        "replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
            "message": "e2e", "lastUpdateTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    deployments
        .patch_status(
            name,
            &PatchParams::apply("e2e-kubelet").force(),
            &Patch::Apply(&status),
        )
        .await
        .expect("report the rollout");
}

#[tokio::test]
async fn managed_server_objects_keep_what_other_managers_own() {
    let Some((kubeconfig, _client, ns)) = scenario("managed server", "managed").await else {
        return;
    };
    let mut crashing = Operator::start(&kubeconfig, &ns.name, "managed-0");
    let api: Api<McpServer> = ns.api();
    let created = api
        .create(&PostParams::default(), &managed("tools"))
        .await
        .unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    let deployments: Api<Deployment> = ns.api();
    // Killed in the middle of its first reconcile (the Deployment applied, the Service
    // perhaps not); a second replica takes over once the lease expires and converges.
    eventually("the first Deployment apply", WITHIN, || async {
        deployments.get("tools").await.ok()
    })
    .await;
    crashing.crash();
    let _operator = Operator::start(&kubeconfig, &ns.name, "managed-1");
    let services: Api<Service> = ns.api();
    let deployment = eventually("the Deployment", WITHIN, || async {
        serde_json::to_value(deployments.get("tools").await.ok()?).ok()
    })
    .await;
    let service = eventually("the Service", WITHIN, || async {
        serde_json::to_value(services.get("tools").await.ok()?).ok()
    })
    .await;
    for object in [&deployment, &service] {
        assert_eq!(
            object["metadata"]["ownerReferences"][0]["uid"],
            uid.as_str()
        );
        assert!(
            managed_by(object, "llamagate-operator"),
            "{}",
            object["metadata"]
        );
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "llamagate-operator"
        );
    }
    let all = deployments
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 1, "no duplicates after the crash");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["command"],
        json!(["/llamagate/llamagate"])
    );
    let args = pod["containers"][0]["args"].as_array().unwrap();
    assert_eq!(
        args[0], "bridge",
        "the stdio command runs under the bridge: {args:?}"
    );
    assert!(args.contains(&json!("tools-server")), "{args:?}");
    assert!(
        pod["initContainers"][0].is_object(),
        "an init container copies the binary"
    );
    let not_available = wait_condition(&api, "tools", "Available", "False", None).await;
    assert!(not_available["status"].get("url").is_none());
    // No kubelet here, so never Available, and never probed meanwhile.
    let reachable = condition(&not_available, "Reachable").unwrap();
    assert_eq!(reachable["reason"], "NotProbed", "{reachable}");

    // Someone else's fields: `kubectl rollout restart`'s annotation and a scale to 3.
    let theirs = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {
        "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-01T00:00:00Z"}}}}});
    apply_as(&deployments, "kubectl-rollout", "tools", &theirs).await;
    let scale = json!({"spec": {"replicas": 3}});
    deployments
        .patch_scale("tools", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    // Then a change the operator acts on: restart through its own annotation.
    let restart =
        json!({"metadata": {"annotations": {"llamagate.io/restarted-at": "2026-12-02T00:00:00Z"}}});
    api.patch("tools", &PatchParams::default(), &Patch::Merge(&restart))
        .await
        .unwrap();
    let rolled = eventually("the restart rolled the template", WITHIN, || async {
        let d = serde_json::to_value(deployments.get("tools").await.ok()?).ok()?;
        let annotations = &d["spec"]["template"]["metadata"]["annotations"];
        annotations
            .get("llamagate.io/restarted-at")
            .map(|_| d.clone())
    })
    .await;
    let annotations = &rolled["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["kubectl.kubernetes.io/restartedAt"],
        "2026-12-01T00:00:00Z"
    );
    assert_eq!(
        rolled["spec"]["replicas"], 3,
        "the operator never sets an omitted count"
    );

    // Available: the operator probes the Service's cluster URL, which nothing here resolves.
    report_available(&deployments, "tools").await;
    let available = wait_condition(&api, "tools", "Available", "True", None).await;
    let reachable = condition(&available, "Reachable");
    let probed = eventually("probed the Service URL", WITHIN, || async {
        let server = server_json(&api, "tools").await?;
        let reachable = condition(&server, "Reachable")?;
        (reachable["status"] == "False").then_some(reachable)
    })
    .await;
    let message = probed["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("tools.{}.svc", ns.name)),
        "names the Service URL: {message} (before: {reachable:?})"
    );
    // Deleting the McpServer removes what it owned (the garbage collector follows the
    // owner references).
    api.delete("tools", &DeleteParams::default()).await.unwrap();
    eventually(
        "the Deployment and Service collected",
        Duration::from_secs(60),
        || async {
            let gone = deployments.get_opt("tools").await.ok()?.is_none()
                && services.get_opt("tools").await.ok()?.is_none();
            gone.then_some(())
        },
    )
    .await;
    ns.delete().await;
}
