//! Shared by the unit tests of both resources: run a manifest through the Rust rules and
//! through the CEL rules of the generated CRD, so each rule is proven in both places.

use kube::CustomResourceExt;
use serde::{Serialize, de::DeserializeOwned};

/// Both verdicts on one object: `(rust_errors, cel_errors)`, each empty when accepted.
pub(crate) fn verdicts<K>(
    yaml: &str,
    validate: impl Fn(&K) -> Result<(), crate::FieldErrors>,
) -> (Vec<String>, Vec<String>)
where
    K: CustomResourceExt + Serialize + DeserializeOwned,
{
    let object: K = serde_norway::from_str(yaml).expect("test manifest parses");
    let rust = match validate(&object) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    };
    let cel = match kube::core::cel::validate_cel(&object) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
    };
    (rust, cel)
}
