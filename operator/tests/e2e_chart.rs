//! End to end against a real control plane (`LLAMAGATE_E2E_KUBECONFIG`): the Helm chart
//! installed, upgraded with changed values and uninstalled with the real Helm engine; its
//! RBAC proven sufficient (the operator, run out of cluster on a token of the chart's own
//! ServiceAccount, reconciles an external server, a managed one and a gateway) and minimal
//! (the API server's authorizer refuses it what it was not given). Skipped, saying so,
//! without a cluster.

mod e2e;

use std::time::Duration;

use e2e::{helm::release, *};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Service, ServiceAccount},
    rbac::v1::Role,
};
use kube::{
    Api,
    api::{ListParams, PostParams},
};
use llamagate_crds::{LlamaGate, McpServer};
use llamagate_test_peers as peers;
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(30);

#[tokio::test]
async fn install_prove_the_rbac_upgrade_and_uninstall() {
    let Some((kubeconfig, client, apps)) = scenario("Helm chart", "chart-apps").await else {
        return;
    };
    // The release in a namespace of its own, watching only `apps`.
    let system = format!("{}-system", apps.name);
    let values = json!({"operator": {"watchNamespace": apps.name, "replicas": 1}});
    release("install", &values, &kubeconfig, "lg", &system);
    let in_system =
        |client: &kube::Client| -> Api<Deployment> { Api::namespaced(client.clone(), &system) };
    let deployment = in_system(&client)
        .get("lg-llamagate-operator")
        .await
        .expect("the operator Deployment");
    assert_eq!(deployment.spec.unwrap().replicas, Some(1));

    // Minimal: what the chart's ServiceAccount may not do, by the API server's authorizer.
    let user = format!("system:serviceaccount:{system}:lg-llamagate-operator");
    let watched = apps.name.as_str();
    let (crd, core) = ("llamagate.io", "");
    assert_access(
        &client,
        &user,
        &[
            ("watch", (crd, "mcpservers"), watched, None, true),
            (
                "patch",
                (crd, "mcpservers/status"),
                watched,
                Some("x"),
                true,
            ),
            // no spec writes
            ("update", (crd, "mcpservers"), watched, Some("x"), false),
            // no Secrets outside the watched namespace, nor in its own
            ("get", (core, "secrets"), "kube-system", Some("x"), false),
            ("get", (core, "secrets"), &system, Some("x"), false),
            ("create", ("apps", "deployments"), "default", None, false),
            (
                "update",
                ("coordination.k8s.io", "leases"),
                &system,
                Some("another"),
                false,
            ),
            ("delete", (core, "pods"), watched, None, false),
        ],
    )
    .await;

    // Sufficient: the operator out of cluster on that ServiceAccount's token, with the
    // chart's own flags, reconciles everything it is for.
    let dir = tempfile::tempdir().unwrap();
    let system_ns = SystemNamespace(system.clone());
    let token = system_ns.token_kubeconfig(&client, dir.path()).await;
    let mut operator = Operator::start_with(
        &token,
        &[
            "--namespace",
            watched,
            "--lease-namespace",
            &system,
            "--lease-name",
            "lg-llamagate-operator",
            "--identity",
            "chart-0",
        ],
    );
    let peer = peers::mcp2_http();
    let servers: Api<McpServer> = apps.api();
    let post = PostParams::default();
    let external: McpServer = serde_json::from_value(json!({"apiVersion": "llamagate.io/v1alpha1",
        "kind": "McpServer", "metadata": {"name": "external", "labels": {"team": "a"}},
        "spec": {"transport": "streamable-http", "url": peer.url, "healthCheck": {"interval": "2s", "timeout": "1s"}}}))
    .unwrap();
    servers.create(&post, &external).await.unwrap();
    let managed: McpServer = serde_json::from_value(json!({"apiVersion": "llamagate.io/v1alpha1",
        "kind": "McpServer", "metadata": {"name": "managed"},
        "spec": {"transport": "stdio", "deployment": {"image": "example/tools:1", "command": ["tools"]}}}))
    .unwrap();
    servers.create(&post, &managed).await.unwrap();
    let gateway: LlamaGate = serde_json::from_value(json!({"apiVersion": "llamagate.io/v1alpha1",
        "kind": "LlamaGate", "metadata": {"name": "gw"},
        "spec": {"upstream": {"url": "http://127.0.0.1:9/v1"}, "mcpServerSelector": {"matchLabels": {"team": "a"}}}}))
    .unwrap();
    apps.api::<LlamaGate>()
        .create(&post, &gateway)
        .await
        .unwrap();
    verified(&servers, "external").await;
    exists::<Service>(&apps, "managed").await;
    exists::<Role>(&apps, "gw").await;
    exists::<Deployment>(&apps, "gw").await;
    eventually("the gateway's status", WITHIN, || async {
        let status = apps
            .api::<LlamaGate>()
            .get_status("gw")
            .await
            .ok()?
            .status?;
        (status.mcp_servers.ready == 1).then_some(())
    })
    .await;

    // Upgrade with changed values: two operator replicas and a gateway from the chart, in
    // the watched namespace, which the operator reconciles.
    let upgraded = json!({"operator": {"watchNamespace": apps.name, "replicas": 2},
        "gateway": {"enabled": true, "name": "charted", "spec": {"upstream": {"url": "http://127.0.0.1:9/v1"}}}});
    release("upgrade", &upgraded, &kubeconfig, "lg", &system);
    let deployment = in_system(&client)
        .get("lg-llamagate-operator")
        .await
        .unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(2));
    let charted: Api<LlamaGate> = apps.api();
    charted.get("charted").await.expect("the chart's LlamaGate");
    let service = exists::<Service>(&apps, "charted").await;
    run_the_test_hook(&upgraded, &service, &apps.name, &kubeconfig).await;
    operator.stop();

    // Uninstall leaves nothing of the release behind (the CRDs stay, as Helm keeps them).
    release("uninstall", &json!({}), &kubeconfig, "lg", &system);
    let selector = ListParams::default().labels("app.kubernetes.io/instance=lg");
    eventually(
        "nothing of the release left",
        Duration::from_secs(60),
        || async {
            let deployments = in_system(&client).list(&selector).await.ok()?.items.len();
            let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &system);
            let accounts = accounts.list(&selector).await.ok()?.items.len();
            let roles: Api<Role> = Api::namespaced(client.clone(), watched);
            let roles = roles.list(&selector).await.ok()?.items.len();
            let gateways = charted.list(&selector).await.ok()?.items.len();
            (deployments + accounts + roles + gateways == 0).then_some(())
        },
    )
    .await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(&system, &Default::default()).await;
    apps.delete().await;
}

/// `helm test` as far as it runs without a kubelet: the hook's Pod names the Service the
/// operator made for the chart's gateway, and its command, run by this process with that
/// address swapped for a gateway on loopback discovering the same servers, succeeds.
async fn run_the_test_hook(
    values: &serde_json::Value,
    service: &Service,
    ns: &str,
    kubeconfig: &std::path::Path,
) {
    let pod = e2e::helm::test_hook_pod(values);
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["command"], json!(["/usr/local/bin/llamagate"]));
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).unwrap();
    let port = service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port;
    assert_eq!(
        args,
        [
            "mcp",
            "list",
            "--url",
            &format!("http://charted.{ns}.svc:{port}")
        ]
    );
    let (_state, base) = e2e::gateway::gateway(ns, kubeconfig).await;
    eventually(
        "the gateway discovers the external server",
        WITHIN,
        || async {
            let servers = e2e::gateway::servers_listed(&base).await?;
            e2e::gateway::listed(&servers, "external").then_some(())
        },
    )
    .await;
    let mut command = vec!["llamagate".to_owned()];
    command.extend(args[..3].iter().cloned());
    command.push(base);
    let code = tokio::task::spawn_blocking(move || llamagate_cli::main_from(command))
        .await
        .unwrap();
    assert_eq!(
        code,
        std::process::ExitCode::SUCCESS,
        "the hook's command failed"
    );
}

/// The release's namespace, for a token of the chart's ServiceAccount there.
struct SystemNamespace(String);

impl SystemNamespace {
    async fn token_kubeconfig(
        &self,
        client: &kube::Client,
        dir: &std::path::Path,
    ) -> std::path::PathBuf {
        let ns = TestNamespace::existing(client, &self.0);
        service_account_kubeconfig(&ns, "lg-llamagate-operator", dir).await
    }
}
