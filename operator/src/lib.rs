//! Library of the LlamaGate operator: the `McpServer` controller (`controllers/`), the pure
//! builders of the objects it owns (`resources/`), leader election (`leader`), and the
//! operator's HTTP endpoints (`http`).

use std::path::Path;

pub mod context;
pub mod controllers;
pub mod error;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod resources;
pub mod run;
pub mod telemetry;

/// Validate every `McpServer` and `LlamaGate` document of a multi-document YAML file.
/// Returns how many resources were checked, or one message listing every problem.
pub fn validate_manifest_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    llamagate_crds::manifests::validate_documents(&text)
        .map_err(|problems| format!("{}:\n{problems}", path.display()))
}
