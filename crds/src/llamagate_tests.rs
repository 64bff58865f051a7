use super::*;
use crate::test_support::verdicts;

fn check(spec: &str) -> (Vec<String>, Vec<String>) {
    let yaml = format!(
        "apiVersion: llamagate.io/v1alpha1\nkind: LlamaGate\nmetadata: {{name: g, namespace: default}}\nspec:\n  upstream: {{url: http://ollama:11434/v1}}\n{spec}"
    );
    verdicts::<LlamaGate>(&yaml, |g| g.spec.validate())
}

fn assert_rejected(spec: &str, path: &str, needle: &str) {
    let (rust, cel) = check(spec);
    assert!(
        rust.iter()
            .any(|e| e.starts_with(path) && e.contains(needle)),
        "rust: {rust:?}"
    );
    assert!(cel.iter().any(|e| e.contains(needle)), "cel: {cel:?}");
}

#[test]
fn minimal_gateway_is_valid() {
    let (rust, cel) = check("  replicas: 2\n");
    assert!(rust.is_empty() && cel.is_empty(), "{rust:?} {cel:?}");
}

#[test]
fn replicas_and_autoscaling_are_exclusive() {
    assert_rejected(
        "  replicas: 2\n  autoscaling: {maxReplicas: 5}\n",
        "spec.autoscaling",
        "not both",
    );
}

#[test]
fn autoscaling_bounds_are_ordered() {
    assert_rejected(
        "  autoscaling: {minReplicas: 6, maxReplicas: 5}\n",
        "spec.autoscaling.minReplicas",
        "must not exceed",
    );
}

#[test]
fn pdb_needs_exactly_one_bound() {
    assert_rejected(
        "  podDisruptionBudget: {minAvailable: 1, maxUnavailable: 1}\n",
        "spec.podDisruptionBudget",
        "exactly one of",
    );
}

#[test]
fn upstream_must_be_http() {
    let yaml = "apiVersion: llamagate.io/v1alpha1\nkind: LlamaGate\nmetadata: {name: g}\nspec:\n  upstream: {url: ollama:11434}\n";
    let gate: LlamaGate = serde_norway::from_str(yaml).unwrap();
    let errors = gate.spec.validate().unwrap_err();
    assert!(errors.mentions("spec.upstream.url"), "{errors}");
}

#[test]
fn bad_durations_name_the_field() {
    let (rust, _) =
        check("  limits: {toolTimeout: forever}\n  cache: {toolDefinitionsTtl: 5 minutes}\n");
    assert!(
        rust.iter()
            .any(|e| e.starts_with("spec.limits.toolTimeout")),
        "{rust:?}"
    );
    assert!(
        rust.iter()
            .any(|e| e.starts_with("spec.cache.toolDefinitionsTtl")),
        "{rust:?}"
    );
}
