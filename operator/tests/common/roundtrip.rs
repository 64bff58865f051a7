//! Parsing into a type and back, to find the fields the type does not have (serde ignores
//! them): a misspelled field in a chart, an example or a snapshot fails.
#![allow(dead_code)]

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Every field path of `original` that `typed` dropped: the type has no such field.
pub fn dropped(original: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (original, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => dropped(value, other, &format!("{path}.{key}"), out),
                    None if !value.is_null() => out.push(format!("{path}.{key}")),
                    None => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                dropped(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

pub fn typed<K: DeserializeOwned + serde::Serialize>(object: &Value) {
    let name = format!("{} {}", object["kind"], object["metadata"]["name"]);
    let parsed: K = serde_json::from_value(object.clone())
        .unwrap_or_else(|e| panic!("{name} does not parse as its type: {e}"));
    let back = serde_json::to_value(parsed).unwrap();
    let mut missing = Vec::new();
    dropped(object, &back, "", &mut missing);
    assert!(
        missing.is_empty(),
        "{name}: fields its type does not have: {missing:?}"
    );
}
