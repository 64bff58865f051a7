//! The objects of a managed `McpServer`, built from the committed examples: compared with
//! reviewed snapshots (`UPDATE_SNAPSHOTS=1 cargo test -p llamagate-operator` rewrites them),
//! deterministic to the byte, and read back as their Kubernetes types.

use std::path::PathBuf;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use llamagate_crds::McpServer;
use llamagate_operator::resources::mcpserver::{BridgeImage, deployment, service, service_url};

#[path = "common/roundtrip.rs"]
mod roundtrip;

/// Every example resource, parsed into its type, keeps every field it was written with.
#[test]
fn the_examples_have_no_field_their_types_lack() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(object) = serde_norway::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        match object["kind"].as_str() {
            Some("McpServer") => roundtrip::typed::<McpServer>(&object),
            Some("LlamaGate") => roundtrip::typed::<llamagate_crds::LlamaGate>(&object),
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 4, "the examples were read ({checked})");
}

fn example(file: &str) -> McpServer {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).join(file);
    let mut server: McpServer =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // As the API server would have it: an owner reference needs the object's uid.
    server.metadata.uid = Some("00000000-0000-4000-8000-000000000001".to_owned());
    server
}

fn bridge() -> BridgeImage {
    BridgeImage {
        image: "ghcr.io/llamagate/llamagate:0.1.0".to_owned(),
    }
}

fn check_snapshot(name: &str, rendered: &str) {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots")).join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run with UPDATE_SNAPSHOTS=1 and review it",
            path.display()
        )
    });
    assert_eq!(
        rendered, expected,
        "{name} changed: review, then UPDATE_SNAPSHOTS=1"
    );
}

#[test]
fn a_managed_stdio_server_runs_its_command_under_the_bridge() {
    let server = example("mcpserver-managed-stdio.yaml");
    let managed = server.spec.deployment.clone().unwrap();
    let built = deployment(&server, &managed, &bridge(), Some("abc123"));
    let rendered = serde_norway::to_string(&built).unwrap();
    check_snapshot("time-deployment.yaml", &rendered);
    // Deterministic: the same spec, the same bytes.
    let again = deployment(&server, &managed, &bridge(), Some("abc123"));
    assert_eq!(rendered, serde_norway::to_string(&again).unwrap());
    // Read back as a Deployment (a misspelled field would not survive).
    let parsed: Deployment = serde_norway::from_str(&rendered).unwrap();
    let pod = parsed.spec.unwrap().template.spec.unwrap();
    let container = &pod.containers[0];
    assert_eq!(
        container.command.as_deref(),
        Some(&["/llamagate/llamagate".to_owned()][..])
    );
    let args = container.args.clone().unwrap();
    let split = args.iter().position(|a| a == "--").unwrap();
    assert_eq!(
        &args[split + 1..],
        ["uvx", "mcp-server-time", "--local-timezone", "UTC"]
    );
    assert_eq!(
        pod.init_containers.unwrap()[0].image.as_deref(),
        Some("ghcr.io/llamagate/llamagate:0.1.0")
    );
    let owner = &parsed.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("McpServer", Some(true))
    );
}

#[test]
fn the_service_selects_the_pods_on_the_named_port() {
    let server = example("mcpserver-managed-stdio.yaml");
    let managed = server.spec.deployment.clone().unwrap();
    let rendered = serde_norway::to_string(&service(&server, &managed)).unwrap();
    check_snapshot("time-service.yaml", &rendered);
    let parsed: Service = serde_norway::from_str(&rendered).unwrap();
    let spec = parsed.spec.unwrap();
    assert_eq!(spec.ports.unwrap()[0].port, 8080);
    let built = deployment(&server, &managed, &bridge(), None);
    let pods = built.spec.unwrap().selector.match_labels.unwrap();
    assert_eq!(spec.selector.unwrap(), pods);
    assert_eq!(
        service_url(&server, &managed),
        "http://time.default.svc:8080/mcp"
    );
}

#[test]
fn a_restart_annotation_or_a_new_secret_changes_only_the_pod_template() {
    let mut server = example("mcpserver-managed-stdio.yaml");
    let managed = server.spec.deployment.clone().unwrap();
    let plain = deployment(&server, &managed, &bridge(), Some("one"));
    let rotated = deployment(&server, &managed, &bridge(), Some("two"));
    server.metadata.annotations = Some(
        [(
            "llamagate.io/restarted-at".to_owned(),
            "2026-12-01T20:00:00Z".to_owned(),
        )]
        .into(),
    );
    let restarted = deployment(&server, &managed, &bridge(), Some("one"));
    for changed in [&rotated, &restarted] {
        assert_ne!(
            plain.spec.as_ref().unwrap().template,
            changed.spec.as_ref().unwrap().template
        );
        assert_eq!(
            plain.spec.as_ref().unwrap().selector,
            changed.spec.as_ref().unwrap().selector
        );
    }
}

fn gateway_example() -> llamagate_crds::LlamaGate {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
        .join("llamagate-gateway.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut gateway: llamagate_crds::LlamaGate = serde_norway::from_str(&text).unwrap();
    gateway.metadata.uid = Some("00000000-0000-4000-8000-000000000002".to_owned());
    gateway.metadata.namespace = Some("default".to_owned());
    gateway
}

#[test]
fn a_gateway_objects_match_their_snapshots_and_read_back_as_their_types() {
    use k8s_openapi::api::{
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{ConfigMap, ServiceAccount},
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    };
    use llamagate_operator::resources::llamagate as build;

    let gateway = gateway_example();
    let secrets = ["github-token".to_owned()].into();
    let rendered = [
        serde_norway::to_string(&build::service_account(&gateway)).unwrap(),
        serde_norway::to_string(&build::role(&gateway, &secrets)).unwrap(),
        serde_norway::to_string(&build::role_binding(&gateway)).unwrap(),
        serde_norway::to_string(&build::config_map(&gateway)).unwrap(),
        serde_norway::to_string(&build::deployment(
            &gateway,
            "ghcr.io/llamagate/llamagate:0.1.0",
            "0123abcd",
        ))
        .unwrap(),
        serde_norway::to_string(&build::service(&gateway)).unwrap(),
        build::autoscaler(&gateway)
            .map(|o| serde_norway::to_string(&o).unwrap())
            .unwrap_or_default(),
        build::disruption_budget(&gateway)
            .map(|o| serde_norway::to_string(&o).unwrap())
            .unwrap_or_default(),
    ]
    .join("---\n");
    check_snapshot("gateway-objects.yaml", &rendered);
    let mut documents = rendered.split("---\n");
    let mut next = || documents.next().unwrap();
    let _: ServiceAccount = serde_norway::from_str(next()).unwrap();
    let _: Role = serde_norway::from_str(next()).unwrap();
    let _: RoleBinding = serde_norway::from_str(next()).unwrap();
    let _: ConfigMap = serde_norway::from_str(next()).unwrap();
    let _: Deployment = serde_norway::from_str(next()).unwrap();
    let _: Service = serde_norway::from_str(next()).unwrap();
    if gateway.spec.autoscaling.is_some() {
        let _: HorizontalPodAutoscaler = serde_norway::from_str(next()).unwrap();
    }
    if gateway.spec.pod_disruption_budget.is_some() {
        let _: PodDisruptionBudget = serde_norway::from_str(next()).unwrap();
    }
}

#[test]
fn a_session_key_secret_reaches_every_pod_and_the_config_loads_in_the_gateway() {
    use llamagate_operator::resources::llamagate as build;

    let mut gateway = gateway_example();
    // The keys file is mounted from a Secret in the pod; not here.
    gateway.spec.auth.get_or_insert_default().api_keys_secret = None;
    gateway.spec.auth.get_or_insert_default().session_key_secret =
        Some(k8s_openapi::api::core::v1::SecretKeySelector {
            name: "mcp-sessions".to_owned(),
            key: "key".to_owned(),
            optional: None,
        });
    let deployment = build::deployment(&gateway, "img", "0123abcd");
    let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
    let env = container.env.as_ref().unwrap();
    let key = env
        .iter()
        .find(|e| e.name == "LLAMAGATE_SESSION_KEY")
        .unwrap();
    let from = key
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (from.name.as_str(), from.key.as_str()),
        ("mcp-sessions", "key")
    );
    assert!(env.iter().any(|e| e.name == "POD_IP"));

    let text = build::gateway_config(&gateway);
    let session_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let config =
        llamagate_gateway::config::load_from_str(&text, "operator.yaml", &|name| match name {
            "POD_IP" => Some("10.1.2.3".to_owned()),
            "LLAMAGATE_SESSION_KEY" => Some(session_key.to_owned()),
            _ => None,
        })
        .unwrap();
    let endpoint = &config.mcp.endpoint;
    assert_eq!(
        endpoint.advertise_url.as_deref(),
        Some("http://10.1.2.3:8080")
    );
    assert_eq!(endpoint.session_keys.len(), 1);
    assert_eq!(endpoint.session_keys[0].expose(), session_key);
}
