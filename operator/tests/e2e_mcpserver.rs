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
use llamagate_crds::McpServer;
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
    let Some(kubeconfig) = kubeconfig("external server health") else {
        return;
    };
    let client = client(&kubeconfig).await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "health").await;
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

    // Down: Ready turns False after the threshold, with no stale tool count.
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
    ns.delete().await;
}

#[tokio::test]
async fn secrets_missing_late_and_rotated() {
    let Some(kubeconfig) = kubeconfig("secrets") else {
        return;
    };
    let client = client(&kubeconfig).await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "secrets").await;
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
    let Some(kubeconfig) = kubeconfig("managed server") else {
        return;
    };
    let client = client(&kubeconfig).await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "managed").await;
    let _operator = Operator::start(&kubeconfig, &ns.name, "managed-0");
    let api: Api<McpServer> = ns.api();
    let created = api
        .create(&PostParams::default(), &managed("tools"))
        .await
        .unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    let deployments: Api<Deployment> = ns.api();
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
    let not_available = wait_condition(&api, "tools", "Available", "False", None).await;
    assert!(not_available["status"].get("url").is_none());

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
    api.delete("tools", &DeleteParams::default()).await.unwrap();
    ns.delete().await;
}
