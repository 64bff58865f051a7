//! End to end against a real control plane (`LLAMAGATE_E2E_KUBECONFIG`): a `LlamaGate`'s
//! objects as the API server accepts them, its RBAC judged by the API server's own
//! authorizer, and a gateway that runs with nothing but its ServiceAccount's token
//! discovering the `McpServer`s the operator verified, each change usable within 2 s;
//! leader election through a real Lease. Skipped, saying so, without a cluster.

mod e2e;

use std::{sync::Arc, time::Duration};

use e2e::{gateway::*, *};
use k8s_openapi::api::{
    apps::v1::Deployment,
    autoscaling::v2::HorizontalPodAutoscaler,
    coordination::v1::Lease,
    core::v1::{ConfigMap, Secret, Service, ServiceAccount},
    policy::v1::PodDisruptionBudget,
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use llamagate_crds::{LlamaGate, McpServer};
use llamagate_mcp::cache::ListKind;
use llamagate_test_peers as peers;
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(30);
/// A change the operator verified must be usable through the gateway this soon.
const LIVE: Duration = Duration::from_secs(2);

fn server(name: &str, team: &str, url: &str) -> McpServer {
    serde_json::from_value(json!({"apiVersion": "llamagate.io/v1alpha1", "kind": "McpServer",
        "metadata": {"name": name, "labels": {"team": team}},
        "spec": {"transport": "streamable-http", "url": url,
            "auth": {"bearerToken": {"secretKeyRef": {"name": format!("{name}-token"), "key": "token"}}},
            "healthCheck": {"interval": "2s", "timeout": "1s"}}}))
    .unwrap()
}

fn secret(name: &str, token: &str) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {"token": token}}))
        .unwrap()
}

#[tokio::test]
async fn a_gateway_with_only_its_service_account_uses_what_the_operator_verified() {
    let Some((kubeconfig, client, ns)) = scenario("LlamaGate and discovery", "gateway").await
    else {
        return;
    };
    let _operator = Operator::start(&kubeconfig, &ns.name, "gateway-0");
    let peer = peers::mcp1_peer_with_env(
        "streamable-http",
        &[(
            "PEER_REQUIRE_HEADERS",
            r#"{"authorization": "Bearer a-token"}"#,
        )],
    );
    let servers: Api<McpServer> = ns.api();
    let secrets: Api<Secret> = ns.api();
    let post = PostParams::default();
    servers
        .create(&post, &server("mine", "a", &peer.url))
        .await
        .unwrap();
    servers
        .create(&post, &server("theirs", "b", &peer.url))
        .await
        .unwrap();
    secrets
        .create(&post, &secret("mine-token", "a-token"))
        .await
        .unwrap();
    secrets
        .create(&post, &secret("theirs-token", "b-token"))
        .await
        .unwrap();

    let gateway_spec: LlamaGate = serde_json::from_value(json!({"apiVersion": "llamagate.io/v1alpha1",
        "kind": "LlamaGate", "metadata": {"name": "gw"},
        "spec": {"replicas": 2, "upstream": {"url": "http://127.0.0.1:9/v1"},
            "mcpServerSelector": {"matchLabels": {"team": "a"}}, "podDisruptionBudget": {"minAvailable": 1},
            "auth": {"sessionKeySecret": {"name": "gw-session", "key": "key"}}}}))
    .unwrap();
    let gateways: Api<LlamaGate> = ns.api();
    gateways
        .create(&post, &gateway_spec)
        .await
        .expect("the API accepts the LlamaGate");

    // Every owned object, as the API server accepted it.
    let deployment = exists::<Deployment>(&ns, "gw").await;
    assert_eq!(deployment.spec.as_ref().unwrap().replicas, Some(2));
    // `/mcp` sessions open on every pod: one sealing key from the Secret, each pod's own
    // address for the answers other pods pass on.
    let container = &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let env = container.env.clone().unwrap_or_default();
    let from = |name: &str| {
        env.iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value_from.clone())
            .unwrap_or_else(|| panic!("{name} in {env:?}"))
    };
    let key = from("LLAMAGATE_SESSION_KEY").secret_key_ref.unwrap();
    assert_eq!((key.name.as_str(), key.key.as_str()), ("gw-session", "key"));
    assert_eq!(from("POD_IP").field_ref.unwrap().field_path, "status.podIP");
    let config = exists::<ConfigMap>(&ns, "gw-config").await;
    let written = config
        .data
        .unwrap_or_default()
        .into_values()
        .collect::<String>();
    assert!(
        written.contains("${LLAMAGATE_SESSION_KEY}") && written.contains("http://${POD_IP}:8080"),
        "{written}"
    );
    exists::<Service>(&ns, "gw").await;
    exists::<ServiceAccount>(&ns, "gw").await;
    exists::<RoleBinding>(&ns, "gw").await;
    exists::<ConfigMap>(&ns, "gw-config").await;
    let role = exists::<Role>(&ns, "gw").await;
    let secret_rule = role
        .rules
        .unwrap()
        .into_iter()
        .find(|r| r.resources.as_deref() == Some(&["secrets".to_owned()]))
        .unwrap();
    assert_eq!(
        secret_rule.resource_names,
        Some(vec!["mine-token".to_owned()])
    );

    // The API server's authorizer on the gateway's RBAC.
    let user = format!("system:serviceaccount:{}:gw", ns.name);
    let n = ns.name.as_str();
    assert_access(
        &client,
        &user,
        &[
            ("watch", ("llamagate.io", "mcpservers"), n, None, true),
            ("get", ("", "secrets"), n, Some("mine-token"), true),
            ("get", ("", "secrets"), n, Some("theirs-token"), false),
            ("list", ("", "secrets"), n, None, false),
            (
                "update",
                ("llamagate.io", "mcpservers"),
                n,
                Some("mine"),
                false,
            ),
            (
                "patch",
                ("llamagate.io", "mcpservers/status"),
                n,
                Some("mine"),
                false,
            ),
        ],
    )
    .await;

    // The gateway as its pods run it: that ServiceAccount's token and nothing else.
    let dir = tempfile::tempdir().unwrap();
    let token_config = service_account_kubeconfig(&ns, "gw", dir.path()).await;
    let (state, base) = gateway(&ns.name, &token_config).await;
    verified(&servers, "mine").await;
    eventually("mine usable through the gateway", LIVE, || async {
        call_echo(&base, "mine").await.then_some(())
    })
    .await;
    let listing = servers_listed(&base).await.unwrap();
    assert!(
        !listed(&listing, "theirs"),
        "another team's server stays out: {listing}"
    );
    assert_eq!(
        listing["sources"]["cluster"]["state"], "synced",
        "{listing}"
    );

    // A restart through the annotation re-opens the gateway's sessions to that server.
    let mine = state.registry().get("mine").expect("registered");
    mine.list(ListKind::Tools, "").await.expect("tools of mine");
    assert!(!mine.cache_ages().is_empty());
    let restart =
        json!({"metadata": {"annotations": {"llamagate.io/restarted-at": "2026-12-02T00:00:00Z"}}});
    servers
        .patch("mine", &PatchParams::default(), &Patch::Merge(&restart))
        .await
        .unwrap();
    eventually(
        "sessions and cache dropped by the restart annotation",
        LIVE,
        || async { mine.cache_ages().is_empty().then_some(()) },
    )
    .await;
    assert!(
        Arc::ptr_eq(&mine, &state.registry().get("mine").unwrap()),
        "the same client, restarted"
    );
    eventually("mine usable after the restart", LIVE, || async {
        call_echo(&base, "mine").await.then_some(())
    })
    .await;

    // A change: the server's tool filter now denies echo; then it is lifted again.
    let deny = json!({"spec": {"tools": {"deny": ["echo"]}}});
    servers
        .patch("mine", &PatchParams::default(), &Patch::Merge(&deny))
        .await
        .unwrap();
    eventually("the denied tool refused", LIVE, || async {
        (!call_echo(&base, "mine").await).then_some(())
    })
    .await;
    let lift = json!({"spec": {"tools": {"deny": null}}});
    servers
        .patch("mine", &PatchParams::default(), &Patch::Merge(&lift))
        .await
        .unwrap();
    eventually("the tool back", LIVE, || async {
        call_echo(&base, "mine").await.then_some(())
    })
    .await;

    // A new server whose Secret comes later: skipped meanwhile, usable once it exists.
    servers
        .create(&post, &server("late", "a", &peer.url))
        .await
        .unwrap();
    eventually("late waits for its Secret", WITHIN, || async {
        let listing = servers_listed(&base).await?;
        let skipped = &listing["sources"]["cluster"]["skipped"];
        (skipped.get("late").is_some() || !listed(&listing, "late")).then_some(())
    })
    .await;
    secrets
        .create(&post, &secret("late-token", "a-token"))
        .await
        .unwrap();
    verified(&servers, "late").await;
    eventually("late usable", LIVE, || async {
        call_echo(&base, "late").await.then_some(())
    })
    .await;

    // A rotated Secret is used without a restart: a wrong token fails, the right one works.
    let rotate = |token: &str| json!({"stringData": {"token": token}});
    secrets
        .patch(
            "late-token",
            &PatchParams::default(),
            &Patch::Merge(&rotate("wrong")),
        )
        .await
        .unwrap();
    eventually("the wrong token refused", LIVE, || async {
        (!call_echo(&base, "late").await).then_some(())
    })
    .await;
    secrets
        .patch(
            "late-token",
            &PatchParams::default(),
            &Patch::Merge(&rotate("a-token")),
        )
        .await
        .unwrap();
    eventually("the right token again", LIVE, || async {
        call_echo(&base, "late").await.then_some(())
    })
    .await;

    // Deleted: gone from the gateway; the others keep serving.
    servers
        .delete("late", &DeleteParams::default())
        .await
        .unwrap();
    eventually("late gone from the gateway", LIVE, || async {
        let listing = servers_listed(&base).await?;
        (!listed(&listing, "late")).then_some(())
    })
    .await;
    assert!(call_echo(&base, "mine").await, "the others untouched");

    // The status counts what it selected and what is ready.
    eventually("LlamaGate status counts its servers", WITHIN, || async {
        let g = gateways.get_status("gw").await.ok()?;
        let status = g.status?;
        (status.mcp_servers.selected == 1 && status.mcp_servers.ready == 1).then_some(())
    })
    .await;

    // Deleting the LlamaGate removes what it owned, through the owner references.
    gateways
        .delete("gw", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "the gateway's objects collected",
        Duration::from_secs(60),
        || async {
            let gone = ns.api::<Deployment>().get_opt("gw").await.ok()?.is_none()
                && ns.api::<Service>().get_opt("gw").await.ok()?.is_none()
                && ns
                    .api::<ConfigMap>()
                    .get_opt("gw-config")
                    .await
                    .ok()?
                    .is_none()
                && ns.api::<Role>().get_opt("gw").await.ok()?.is_none()
                && ns.api::<RoleBinding>().get_opt("gw").await.ok()?.is_none()
                && ns
                    .api::<ServiceAccount>()
                    .get_opt("gw")
                    .await
                    .ok()?
                    .is_none()
                && ns
                    .api::<PodDisruptionBudget>()
                    .get_opt("gw")
                    .await
                    .ok()?
                    .is_none();
            gone.then_some(())
        },
    )
    .await;
    ns.delete().await;
}

#[tokio::test]
async fn leadership_passes_through_a_real_lease() {
    let Some((kubeconfig, _client, ns)) = scenario("leader election", "leader").await else {
        return;
    };
    let first = Operator::start(&kubeconfig, &ns.name, "replica-a");
    let second = Operator::start(&kubeconfig, &ns.name, "replica-b");
    let leases: Api<Lease> = ns.api();
    let holder = || async {
        let lease = leases.get("llamagate-operator").await.ok()?;
        lease.spec?.holder_identity
    };
    let leader = eventually("a leader", WITHIN, holder).await;
    let (mut leading, standby, standby_id) = if leader == "replica-a" {
        (first, second, "replica-b")
    } else {
        (second, first, "replica-a")
    };
    eventually("the holder reports leading", WITHIN, || async {
        leading.leading().await.filter(|l| *l)
    })
    .await;
    assert_eq!(standby.leading().await, Some(false), "one leader at a time");

    // SIGTERM releases the lease: the standby takes over well before it would expire.
    let stopped = tokio::time::Instant::now();
    leading.stop();
    eventually("the standby leads", WITHIN, || async {
        (holder().await? == standby_id).then_some(())
    })
    .await;
    let took = stopped.elapsed();
    eventually("the standby reports leading", WITHIN, || async {
        standby.leading().await.filter(|l| *l)
    })
    .await;
    assert!(
        took < Duration::from_secs(6),
        "handover took {took:?}, no faster than expiry"
    );

    // And the new leader reconciles.
    let peer = peers::mcp2_http();
    let servers: Api<McpServer> = ns.api();
    let mut spec = server("after", "a", &peer.url);
    spec.spec.auth = None;
    servers.create(&PostParams::default(), &spec).await.unwrap();
    verified(&servers, "after").await;
    ns.delete().await;
}

#[tokio::test]
async fn an_autoscaled_gateway_keeps_the_replicas_another_writer_set() {
    let Some((kubeconfig, _client, ns)) = scenario("autoscaling", "autoscale").await else {
        return;
    };
    let _operator = Operator::start(&kubeconfig, &ns.name, "autoscale-0");
    let gateways: Api<LlamaGate> = ns.api();
    let spec = |rounds: i32| -> LlamaGate {
        serde_json::from_value(json!({"apiVersion": "llamagate.io/v1alpha1", "kind": "LlamaGate",
            "metadata": {"name": "auto"},
            "spec": {"upstream": {"url": "http://127.0.0.1:9/v1"}, "limits": {"maxToolRounds": rounds},
                "autoscaling": {"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 70}}}))
        .unwrap()
    };
    gateways
        .create(&PostParams::default(), &spec(4))
        .await
        .unwrap();
    let hpas: Api<HorizontalPodAutoscaler> = ns.api();
    let hpa = eventually("the HPA", WITHIN, || async { hpas.get("auto").await.ok() }).await;
    assert_eq!(hpa.spec.unwrap().max_replicas, 6);
    let deployments: Api<Deployment> = ns.api();
    let first = eventually("the Deployment", WITHIN, || async {
        deployments.get("auto").await.ok()
    })
    .await;
    let hash = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.clone())
    };
    // The HPA (or anyone) scales the Deployment.
    let scale = json!({"spec": {"replicas": 5}});
    deployments
        .patch_scale("auto", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    // A spec change the operator acts on: the configuration, so the pods roll.
    let change = json!({"spec": {"limits": {"maxToolRounds": 7}}});
    gateways
        .patch("auto", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .unwrap();
    let rolled = eventually("the config change rolled the template", WITHIN, || async {
        let d = deployments.get("auto").await.ok()?;
        (hash(&d) != hash(&first)).then_some(d)
    })
    .await;
    assert_eq!(
        rolled.spec.unwrap().replicas,
        Some(5),
        "the operator never takes replicas back"
    );
    ns.delete().await;
}
