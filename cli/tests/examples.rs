//! Every file in `examples/` is checked the way a user would use it.

use std::path::Path;

fn examples() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn gateway_config_example_loads_and_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/llamagate.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config =
        llamagate_gateway::config::load_from_str(&text, "examples/llamagate.yaml", &|_| None)
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.mcp.servers.is_empty());
}

#[test]
fn manifest_examples_are_valid_resources() {
    let mut checked = 0;
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("apiVersion: llamagate.io/") {
            continue;
        }
        checked += llamagate_crds::manifests::validate_documents(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    assert!(
        checked >= 4,
        "expected the McpServer and LlamaGate examples, checked {checked}"
    );
}
