//! Checking manifests (multi-document YAML) the way the API server would, before they are
//! applied: schema shape with the path of every bad field, then the cross-field rules.

use serde::Deserialize;

use crate::{LlamaGate, McpServer, validation::FieldErrors};

/// Validate every `McpServer` and `LlamaGate` document in `text`. Documents of other kinds
/// are skipped. Returns the number of documents validated, or every problem found, each
/// prefixed with the document's position and name.
pub fn validate_documents(text: &str) -> Result<usize, FieldErrors> {
    let mut problems = FieldErrors::default();
    let mut checked = 0;
    for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = match serde_norway::Value::deserialize(document) {
            Ok(serde_norway::Value::Null) => continue,
            Ok(value) => value,
            Err(e) => {
                // The YAML stream cannot be read past a syntax error: its iterator would
                // yield the same error for ever.
                problems.push(
                    format!("document {}", index + 1),
                    format!("not valid YAML: {e}"),
                );
                break;
            }
        };
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("<unnamed>")
            .to_owned();
        let label = format!("document {} ({kind} {name})", index + 1);
        let result = match kind.as_str() {
            "McpServer" => parse::<McpServer>(value).map(|s| s.spec.validate()),
            "LlamaGate" => parse::<LlamaGate>(value).map(|g| g.spec.validate()),
            _ => continue,
        };
        checked += 1;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(errors)) | Err(errors) => {
                for error in errors.0 {
                    problems.push(format!("{label}: {}", error.path), error.message);
                }
            }
        }
    }
    problems.into_result().map(|()| checked)
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_norway::Value) -> Result<T, FieldErrors> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let mut errors = FieldErrors::default();
        errors.push(error.path().to_string(), error.inner().to_string());
        errors
    })
}
