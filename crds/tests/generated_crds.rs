//! The committed CRD YAML must be exactly what `crdgen` writes now.

#[test]
fn committed_crds_match_the_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    for (name, yaml) in llamagate_crds::crd_documents() {
        let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            committed == yaml,
            "crds/generated/{name} is stale: run `cargo run -p llamagate-crds --bin crdgen` and commit the result"
        );
    }
}

#[test]
fn crds_have_the_documented_names_and_columns() {
    let docs = llamagate_crds::crd_documents();
    let servers = &docs[0].1;
    for needle in [
        "shortNames:\n    - mcps",
        "name: Ready",
        "name: Tools",
        "name: Latency",
        "name: Last Probe",
        "status: {}",
    ] {
        assert!(servers.contains(needle), "McpServer CRD lacks {needle:?}");
    }
    let gates = &docs[1].1;
    for needle in [
        "shortNames:\n    - lg",
        "name: Replicas",
        "name: Servers",
        "name: Endpoint",
        "- llamagate",
    ] {
        assert!(gates.contains(needle), "LlamaGate CRD lacks {needle:?}");
    }
}
