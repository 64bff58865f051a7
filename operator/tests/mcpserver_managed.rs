//! Managed `McpServer`s (`spec.deployment`) against the scripted API: the owned Deployment
//! and Service are applied (server-side, our field manager, owner references), applied
//! again only when their body changes, and a server without available pods is never probed.

mod support;

use std::{sync::Arc, time::Duration};

use http::Method;
use llamagate_crds::McpServer;
use llamagate_operator::controllers::mcpserver::reconcile;
use serde_json::{Value, json};
use support::*;

const APPLY: &str = "fieldManager=llamagate-operator";
const QUIET: Duration = Duration::from_millis(300);
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/default/deployments/tools";
const SERVICE: &str = "/api/v1/namespaces/default/services/tools";

fn start(
    h: &Harness,
    server: &McpServer,
) -> tokio::task::JoinHandle<kube::runtime::controller::Action> {
    let ctx = Arc::clone(&h.ctx);
    let server = Arc::new(server.clone());
    tokio::spawn(async move { reconcile(server, ctx).await.expect("reconcile") })
}

fn managed(transport: &str, extra: Value) -> McpServer {
    let mut spec = json!({"transport": transport, "deployment": {
        "image": "ghcr.io/example/tools:1", "command": ["tools-server"], "port": 9000}});
    for (key, value) in extra.as_object().into_iter().flatten() {
        spec["deployment"][key] = value.clone();
    }
    server("tools", spec)
}

/// The next apply of `path`, answered with what it sent; returns the body.
async fn applied(h: &mut Harness, path: &str) -> Value {
    let call = h.api.next().await.expect(Method::PATCH, path, APPLY);
    assert!(call.query.contains("force=true"), "{}", call.query);
    let body = call.body.clone();
    call.echo();
    body
}

/// The first reconcile of a managed server: Service, Deployment, then the status saying it
/// is not available and not probed. Returns the two apply bodies and the status body.
async fn first_reconcile(h: &mut Harness, server: &McpServer) -> (Value, Value, Value) {
    let task = start(h, server);
    let service = applied(h, SERVICE).await;
    let deployment = applied(h, DEPLOYMENT).await;
    let call = h.api.next().await.expect(
        Method::PATCH,
        "/apis/llamagate.io/v1alpha1/namespaces/default/mcpservers/tools/status",
        APPLY,
    );
    let status = call.body.clone();
    call.respond(
        200,
        serde_json::to_value(with_status(server, &status)).unwrap(),
    );
    let events = h.api.events(1).await;
    assert_eq!(events[0].0, "Warning", "{events:?}");
    h.api.finish(task).await;
    (service, deployment, status)
}

#[tokio::test]
async fn a_managed_server_gets_its_deployment_and_service_and_is_not_probed_until_available() {
    let mut h = harness();
    let server = managed("streamable-http", json!({}));
    let (service, deployment, status) = first_reconcile(&mut h, &server).await;

    let owner = &deployment["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"], "uid-tools");
    assert_eq!(owner["kind"], "McpServer");
    assert_eq!(owner["controller"], true);
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "llamagate-operator"
    );
    assert_eq!(service["spec"]["ports"][0]["port"], 9000);
    assert_eq!(
        service["metadata"]["ownerReferences"][0]["uid"],
        "uid-tools"
    );
    assert_eq!(condition(&status, "Available").0, "False");
    assert_eq!(condition(&status, "Reachable").0, "Unknown");
    assert_eq!(condition(&status, "Ready").1, "NotAvailable");
    assert!(status["status"]["url"].is_null(), "not verified, so no url");
    assert!(status["status"]["lastProbeTime"].is_null(), "never probed");

    // The watches now show both objects: the same spec applies nothing and writes nothing.
    h.saw_service(&service);
    h.saw_deployment(&deployment);
    let server = with_status(&server, &status);
    let task = start(&h, &server);
    h.api.finish(task).await;
    h.api.expect_silence(QUIET).await;
}

#[tokio::test]
async fn the_restart_annotation_rolls_the_pods_and_nothing_else() {
    let mut h = harness();
    let server = managed("streamable-http", json!({}));
    let (service, deployment, status) = first_reconcile(&mut h, &server).await;
    h.saw_service(&service);
    h.saw_deployment(&deployment);
    let mut restarted = with_status(&server, &status);
    restarted.metadata.annotations = Some(
        [(
            "llamagate.io/restarted-at".to_owned(),
            "2026-12-01T10:00:00Z".to_owned(),
        )]
        .into(),
    );
    let task = start(&h, &restarted);
    let rolled = applied(&mut h, DEPLOYMENT).await;
    h.api.finish(task).await;
    assert_eq!(
        rolled["spec"]["template"]["metadata"]["annotations"]["llamagate.io/restarted-at"],
        "2026-12-01T10:00:00Z"
    );
    let mut unchanged = rolled.clone();
    unchanged["spec"]["template"]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    assert_eq!(
        unchanged, deployment,
        "only the pod template annotation changed"
    );
}

#[tokio::test]
async fn a_deleted_deployment_is_applied_again() {
    let mut h = harness();
    let server = managed("streamable-http", json!({}));
    let (service, _deployment, status) = first_reconcile(&mut h, &server).await;
    // The Service is still there; the Deployment is not (someone deleted it).
    h.saw_service(&service);
    let task = start(&h, &with_status(&server, &status));
    applied(&mut h, DEPLOYMENT).await;
    h.api.finish(task).await;
}

#[tokio::test]
async fn apply_bodies_are_byte_identical_across_reconciles_and_leave_others_fields_alone() {
    let server = managed("streamable-http", json!({"replicas": 2}));
    let (_, first, _) = first_reconcile(&mut harness(), &server).await;
    let (_, second, _) = first_reconcile(&mut harness(), &server).await;
    assert_eq!(first.to_string(), second.to_string());
    let text = first.to_string();
    // What other managers own is not in our body, so an apply never reverts it.
    assert!(!text.contains("kubectl.kubernetes.io/restartedAt"));
    assert!(first["status"].is_null(), "{text}");
    assert_eq!(first["spec"]["replicas"], 2);
}

#[tokio::test]
async fn a_stdio_server_runs_under_the_bridge_in_its_pod() {
    let mut h = harness();
    let server = managed("stdio", json!({"args": ["--flag"]}));
    let (service, deployment, _) = first_reconcile(&mut h, &server).await;
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["initContainers"][0]["name"], "llamagate-bridge");
    assert_eq!(
        pod["initContainers"][0]["image"],
        "ghcr.io/llamagate/llamagate:test"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["command"], json!(["/llamagate/llamagate"]));
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "bridge");
    assert_eq!(args[args.len() - 3..], ["--", "tools-server", "--flag"]);
    assert_eq!(service["spec"]["sessionAffinity"], "ClientIP");
}

#[tokio::test]
async fn a_rotated_secret_in_the_pods_environment_rolls_them() {
    let mut h = harness();
    let env = json!({"env": [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "tools-key", "key": "key"}}}]});
    let server = managed("streamable-http", env);
    let secret = |value: &str| {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tools-key", "namespace": "default"},
            "data": {"key": value}})
    };
    let hash_of = |deployment: &Value| {
        deployment["spec"]["template"]["metadata"]["annotations"]["llamagate.io/secrets-hash"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let task = start(&h, &server);
    h.api
        .next()
        .await
        .expect(
            Method::GET,
            "/api/v1/namespaces/default/secrets/tools-key",
            "",
        )
        .respond(200, secret("b2xk"));
    let service = applied(&mut h, SERVICE).await;
    let deployment = applied(&mut h, DEPLOYMENT).await;
    let call = h.api.next().await;
    let status = call.body.clone();
    call.respond(
        200,
        serde_json::to_value(with_status(&server, &status)).unwrap(),
    );
    h.api.events(1).await;
    h.api.finish(task).await;
    let first_hash = hash_of(&deployment);
    assert!(
        !deployment.to_string().contains("b2xk"),
        "the value never leaves"
    );

    h.saw_service(&service);
    h.saw_deployment(&deployment);
    let task = start(&h, &with_status(&server, &status));
    h.api
        .next()
        .await
        .expect(
            Method::GET,
            "/api/v1/namespaces/default/secrets/tools-key",
            "",
        )
        .respond(200, secret("bmV3"));
    let rolled = applied(&mut h, DEPLOYMENT).await;
    h.api.finish(task).await;
    assert_ne!(hash_of(&rolled), first_hash);
}
