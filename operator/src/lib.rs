//! Library of the LlamaGate operator. This release ships manifest validation and the pure
//! builders of the objects a managed `McpServer` owns (`resources/`); the controllers come
//! next and will live in `controllers/`.

use std::path::Path;

pub mod resources;

/// Validate every `McpServer` and `LlamaGate` document of a multi-document YAML file.
/// Returns how many resources were checked, or one message listing every problem.
pub fn validate_manifest_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    llamagate_crds::manifests::validate_documents(&text)
        .map_err(|problems| format!("{}:\n{problems}", path.display()))
}
