//! The real Helm v4 engine (helm-python-sdk in `tests/peers/.venv-helm`, driven by
//! `charts/tests/helm_engine.py`): lint, render, and releases in a cluster.
#![allow(dead_code)]

use std::{path::PathBuf, process::Command};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn chart() -> String {
    root().join("charts/llamagate").display().to_string()
}

/// Run the engine with `args` (see `helm_engine.py`) and return its JSON answer.
pub fn engine(args: &[&str]) -> Value {
    let python = llamagate_test_peers::python("helm");
    let output = Command::new(&python)
        .arg(root().join("charts/tests/helm_engine.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}; run tests/peers/install.sh first"));
    assert!(
        output.status.success(),
        "the Helm engine failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the engine's JSON")
}

/// `helm install|upgrade|uninstall` of the chart as release `name` in `namespace`.
pub fn release(
    command: &str,
    values: &Value,
    kubeconfig: &std::path::Path,
    name: &str,
    namespace: &str,
) {
    let values = values.to_string();
    let kubeconfig = kubeconfig.display().to_string();
    let answer = engine(&[command, &chart(), &values, &kubeconfig, name, namespace]);
    assert_eq!(answer["ok"], true, "helm {command}: {answer}");
}

/// The `helm test` hook's Pod as the chart renders it with `values`.
pub fn test_hook_pod(values: &Value) -> Value {
    let answer = engine(&["render", &chart(), &values.to_string()]);
    assert_eq!(answer["ok"], true, "helm template: {answer}");
    let files = answer["files"].as_object().expect("rendered files");
    for (path, text) in files {
        if path.ends_with("NOTES.txt") {
            continue;
        }
        for document in serde_norway::Deserializer::from_str(text.as_str().unwrap_or_default()) {
            let object: Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
            if object["kind"] == "Pod"
                && object["metadata"]["annotations"]["helm.sh/hook"] == "test"
            {
                return object;
            }
        }
    }
    panic!("the chart renders no helm test Pod");
}
