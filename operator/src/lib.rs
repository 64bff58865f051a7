//! Library of the LlamaGate operator. This release ships manifest validation; the
//! controllers come next and will live in `controllers/` and `resources/`.

use std::path::Path;

/// Validate every `McpServer` and `LlamaGate` document of a multi-document YAML file.
/// Returns how many resources were checked, or one message listing every problem.
pub fn validate_manifest_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    llamagate_crds::manifests::validate_documents(&text)
        .map_err(|problems| format!("{}:\n{problems}", path.display()))
}
