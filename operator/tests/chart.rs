//! The Helm chart with the real Helm v4 engine (helm-python-sdk, installed by
//! `tests/peers/install.sh`; no helm binary): `lint --strict`, rendered with default values
//! and with every optional part on, every object parsed into its `k8s-openapi` (or CRD)
//! type with nothing left over (a misspelled field fails), bad values refused by the
//! schema, the CRDs identical to `crds/generated`, and the RBAC rules against a reviewed
//! snapshot (`UPDATE_SNAPSHOTS=1` rewrites it).

#[path = "e2e/helm.rs"]
mod helm;
#[path = "common/roundtrip.rs"]
mod roundtrip;

use helm::{chart, engine, root};
use roundtrip::typed;

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Pod, Service, ServiceAccount},
    networking::v1::NetworkPolicy,
    policy::v1::PodDisruptionBudget,
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use llamagate_crds::{LlamaGate, McpServer};
use serde_json::{Value, json};

/// The rendered objects (CRDs included) and NOTES.txt, or the engine's refusal.
fn render(values: Value) -> Result<(Vec<Value>, String), String> {
    let answer = engine(&["render", &chart(), &values.to_string()]);
    if answer["ok"] != true {
        return Err(answer["error"].as_str().unwrap_or_default().to_owned());
    }
    let mut objects = Vec::new();
    let mut notes = String::new();
    for (path, text) in answer["files"].as_object().unwrap() {
        let text = text.as_str().unwrap();
        if path.ends_with("NOTES.txt") {
            notes = text.to_owned();
            continue;
        }
        for document in serde_norway::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
            if !value.is_null() {
                objects.push(value);
            }
        }
    }
    Ok((objects, notes))
}

/// Parse each object into its type; returns the kinds seen.
fn check_types(objects: &[Value]) -> Vec<String> {
    let mut kinds = Vec::new();
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        match kind {
            "Deployment" => typed::<Deployment>(object),
            "Service" => typed::<Service>(object),
            "ServiceAccount" => typed::<ServiceAccount>(object),
            "ClusterRole" => typed::<ClusterRole>(object),
            "ClusterRoleBinding" => typed::<ClusterRoleBinding>(object),
            "Role" => typed::<Role>(object),
            "RoleBinding" => typed::<RoleBinding>(object),
            "NetworkPolicy" => typed::<NetworkPolicy>(object),
            "PodDisruptionBudget" => typed::<PodDisruptionBudget>(object),
            "Pod" => typed::<Pod>(object),
            "CustomResourceDefinition" => typed::<CustomResourceDefinition>(object),
            "LlamaGate" => typed::<LlamaGate>(object),
            "McpServer" => typed::<McpServer>(object),
            // The Prometheus operator's type: no Rust type here; its shape is checked below.
            "ServiceMonitor" => assert_eq!(object["apiVersion"], "monitoring.coreos.com/v1"),
            other => panic!("an object of an unexpected kind: {other}"),
        }
        kinds.push(kind.to_owned());
    }
    kinds.sort();
    kinds
}

fn all_on() -> Value {
    json!({
        "operator": {"replicas": 2, "watchNamespace": "apps"},
        "metrics": {"serviceMonitor": {"enabled": true, "labels": {"release": "prom"}}},
        "networkPolicy": {"enabled": true, "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
        "podDisruptionBudget": {"enabled": true},
        "gateway": {"enabled": true, "name": "gw", "spec": {
            "upstream": {"url": "http://ollama.llm.svc:11434/v1"},
            "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70},
            "mcpServerSelector": {"matchLabels": {"llamagate.io/gateway": "gw"}}}},
        "mcpServers": [
            {"name": "time", "labels": {"llamagate.io/gateway": "gw"}, "spec": {"transport": "stdio",
                "deployment": {"image": "ghcr.io/llamagate/mcp-python:0.1.0", "command": ["uvx", "mcp-server-time"]}}},
            {"name": "remote", "spec": {"transport": "streamable-http", "url": "https://mcp.example.com/mcp"}}
        ]
    })
}

#[test]
fn lint_strict_passes() {
    let lint = engine(&["lint", &chart()]);
    assert_eq!(lint["errors"], json!([]), "{lint}");
    for message in lint["messages"].as_array().unwrap() {
        // Severity 1 is informational (`icon is recommended`); warnings and errors fail.
        assert!(message["severity"].as_i64() <= Some(1), "{message}");
    }
}

#[test]
fn default_values_render_the_operator_and_parse_as_their_types() {
    let (objects, notes) = render(json!({})).unwrap();
    let kinds = check_types(&objects);
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "Deployment",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
    );
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    assert_eq!(container["image"], "ghcr.io/llamagate/llamagate:0.1.0");
    assert_eq!(
        container["command"],
        json!(["/usr/local/bin/llamagate-operator"])
    );
    assert!(
        container["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--lease-name"))
    );
    assert!(container["readinessProbe"].is_object() && container["livenessProbe"].is_object());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(
        notes.contains("kubectl get mcpservers -n llamagate-system"),
        "{notes}"
    );
}

#[test]
fn every_optional_part_renders_and_parses() {
    let (objects, notes) = render(all_on()).unwrap();
    let kinds = check_types(&objects);
    for kind in [
        "ServiceMonitor",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "LlamaGate",
        "McpServer",
        "Pod",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    // One namespace watched: a Role there, no ClusterRole.
    assert!(!kinds.iter().any(|k| k == "ClusterRole"), "{kinds:?}");
    let role = objects
        .iter()
        .find(|o| o["kind"] == "Role" && o["metadata"]["namespace"] == "apps");
    assert!(role.is_some(), "a Role in the watched namespace");
    // The chart's own LlamaGate and McpServers go where the operator looks for them.
    for object in objects
        .iter()
        .filter(|o| o["kind"] == "LlamaGate" || o["kind"] == "McpServer")
    {
        assert_eq!(object["metadata"]["namespace"], "apps", "{object}");
    }
    let test_pod = objects.iter().find(|o| o["kind"] == "Pod").unwrap();
    assert_eq!(test_pod["metadata"]["annotations"]["helm.sh/hook"], "test");
    assert_eq!(
        test_pod["spec"]["containers"][0]["args"],
        json!(["mcp", "list", "--url", "http://gw.apps.svc:80"])
    );
    assert!(notes.contains("http://gw.apps.svc:80/v1"), "{notes}");
    assert!(notes.contains("kubectl get mcpservers -n apps"), "{notes}");
}

#[test]
fn bad_values_are_refused_naming_the_field() {
    let cases = [
        (
            json!({"operator": {"replicas": "two"}}),
            "/operator/replicas",
        ),
        (json!({"operator": {"replica": 2}}), "replica"),
        (json!({"unknownKey": true}), "unknownKey"),
        (
            json!({"image": {"pullPolicy": "Sometimes"}}),
            "/image/pullPolicy",
        ),
        (json!({"metrics": {"port": 70000}}), "/metrics/port"),
        (json!({"mcpServers": [{"name": "x"}]}), "/mcpServers/0"),
        (json!({"gateway": {"name": "Not_A_Name"}}), "/gateway/name"),
        (
            json!({"operator": {"watchNamespace": "-bad-"}}),
            "/operator/watchNamespace",
        ),
    ];
    for (values, field) in cases {
        let error = render(values.clone()).expect_err(&format!("{values} must be refused"));
        assert!(
            error.contains(field),
            "{values}: the error names {field}: {error}"
        );
    }
}

#[test]
fn the_chart_crds_are_the_generated_ones() {
    for file in [
        "mcpservers.llamagate.io.yaml",
        "llamagates.llamagate.io.yaml",
    ] {
        let generated = std::fs::read_to_string(root().join("crds/generated").join(file)).unwrap();
        let charted =
            std::fs::read_to_string(root().join("charts/llamagate/crds").join(file)).unwrap();
        assert!(
            generated == charted,
            "charts/llamagate/crds/{file} is stale: copy crds/generated/{file} over it"
        );
    }
}

#[test]
fn rbac_rules_match_the_reviewed_snapshot() {
    let (objects, _) = render(json!({})).unwrap();
    let mut rules = serde_json::Map::new();
    for object in objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
    {
        let key = format!(
            "{} {}",
            object["kind"].as_str().unwrap(),
            object["metadata"]["name"].as_str().unwrap()
        );
        for rule in object["rules"].as_array().unwrap() {
            for field in ["apiGroups", "resources", "verbs"] {
                let text = rule[field].to_string();
                assert!(!text.contains('*'), "{key}: no wildcards: {rule}");
            }
        }
        rules.insert(key, object["rules"].clone());
    }
    let text = serde_norway::to_string(&rules).unwrap();
    let path = root().join("charts/tests/rbac.snapshot.yaml");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let reviewed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        reviewed == text,
        "the chart's RBAC changed; review it and run with UPDATE_SNAPSHOTS=1:\n{text}"
    );
}

/// The quick start of docs/helm.md: its `--set` values render, and the McpServer it applies
/// is a valid one that the gateway it installs selects.
#[test]
fn the_helm_quick_start_in_the_docs_holds() {
    let doc = std::fs::read_to_string(root().join("docs/helm.md")).unwrap();
    let block = doc
        .split("```sh")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the quick start's shell block");
    let mut values = json!({});
    for word in block.split_whitespace() {
        let Some((key, value)) = word.split_once('=').filter(|_| word.contains('.')) else {
            continue;
        };
        let mut slot = &mut values;
        for part in key.split('.') {
            slot = &mut slot[part];
        }
        *slot = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
    }
    assert_eq!(
        values["gateway"]["enabled"], true,
        "parsed the --set values: {values}"
    );
    let (objects, notes) = render(values).expect("the quick start's values render");
    let gateway = objects
        .iter()
        .find(|o| o["kind"] == "LlamaGate")
        .expect("a LlamaGate");
    assert!(notes.contains("kubectl get mcpservers"), "{notes}");

    let manifest = block
        .split("<<'YAML'")
        .nth(1)
        .and_then(|rest| rest.split("\nYAML").next())
        .expect("the McpServer the quick start applies");
    let server: Value = serde_norway::from_str(manifest).expect("its YAML");
    typed::<McpServer>(&server);
    let selector = gateway["spec"]["mcpServerSelector"]["matchLabels"]
        .as_object()
        .unwrap();
    for (label, value) in selector {
        assert_eq!(
            &server["metadata"]["labels"][label], value,
            "the gateway selects it"
        );
    }
}
