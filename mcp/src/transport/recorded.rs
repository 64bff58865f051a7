//! Results as the server sent them.
//!
//! rmcp decodes every result into typed structs, which keep `_meta` but drop fields they do
//! not know (a vendor's extension, a field of a newer revision). The operations that hand
//! results on whole — tools/call, resources/read, prompts/get, completion/complete — read
//! them from here instead: each transport records the `result` of every response it
//! receives, keyed by JSON-RPC id, before rmcp sees it, and the operation takes its own by
//! the id rmcp gave the request. The typed result is only the fallback.
//!
//! Bounded per session: at most [`MAX_KEPT`] results, and twice the session's largest
//! accepted message in bytes (counted on the wire); the oldest go first. Results nobody
//! takes (handshakes, late answers to calls that timed out, answers to ids nobody asked
//! for) are evicted that way; a call whose result was evicted gets rmcp's typed result.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use rmcp::model::RequestId;
use serde_json::Value;

/// Most results kept at once.
const MAX_KEPT: usize = 32;

/// The raw results of one session's responses, shared by its transport and its requests.
#[derive(Clone)]
pub struct RawResults(Arc<Mutex<Kept>>);

struct Kept {
    results: VecDeque<(String, Value, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl RawResults {
    /// A store for a session whose messages are at most `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> Self {
        Self(Arc::new(Mutex::new(Kept {
            results: VecDeque::new(),
            bytes: 0,
            max_bytes: max_message_bytes.saturating_mul(2).max(64 * 1024),
        })))
    }
}

/// The key of a JSON-RPC id: its JSON text (`7` and `"7"` are different ids).
fn key_of(id: &Value) -> Option<String> {
    match id {
        Value::Number(_) | Value::String(_) => Some(id.to_string()),
        _ => None,
    }
}

impl RawResults {
    /// Record the result of `message` if it is a response with an object result.
    /// `size` is the message's size on the wire.
    pub fn record(&self, message: &Value, size: usize) {
        let (Some(id), Some(result)) = (
            message.get("id").and_then(key_of),
            // An empty result (a ping's) has nothing to lose.
            message
                .get("result")
                .filter(|r| r.as_object().is_some_and(|fields| !fields.is_empty())),
        ) else {
            return;
        };
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if size > kept.max_bytes {
            return;
        }
        while kept.results.len() >= MAX_KEPT || kept.bytes + size > kept.max_bytes {
            let Some((_, _, old)) = kept.results.pop_front() else {
                break;
            };
            kept.bytes -= old;
        }
        kept.results.push_back((id, result.clone(), size));
        kept.bytes += size;
    }

    /// Record a response given as text; anything that is not one is ignored.
    pub fn record_text(&self, text: &str) {
        // Only responses matter; skip parsing requests and notifications.
        if !text.contains("\"result\"") {
            return;
        }
        if let Ok(message) = serde_json::from_str::<Value>(text) {
            self.record(&message, text.len());
        }
    }

    /// Take the result of request `id`, if it was recorded and is still kept.
    pub fn take(&self, id: &RequestId) -> Option<Value> {
        let key = key_of(&serde_json::to_value(id).ok()?)?;
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let at = kept.results.iter().rposition(|(k, _, _)| *k == key)?;
        let (_, result, size) = kept.results.remove(at)?;
        kept.bytes -= size;
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_taken_once_by_id() {
        let raw = RawResults::new(1024 * 1024);
        raw.record_text(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[],"vendor":1}}"#);
        raw.record_text(r#"{"jsonrpc":"2.0","id":"7","result":{"other":true}}"#);
        raw.record_text(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#);
        raw.record_text(r#"{"jsonrpc":"2.0","id":8,"error":{"code":1,"message":"result"}}"#);
        raw.record_text(r#"{"jsonrpc":"2.0","id":9,"result":{}}"#);
        assert_eq!(
            raw.take(&RequestId::Number(7)),
            Some(json!({"content": [], "vendor": 1}))
        );
        assert_eq!(raw.take(&RequestId::Number(7)), None);
        assert_eq!(
            raw.take(&RequestId::String("7".into())),
            Some(json!({"other": true}))
        );
        assert_eq!(raw.take(&RequestId::Number(8)), None);
        assert_eq!(raw.take(&RequestId::Number(9)), None);
    }

    #[test]
    fn the_oldest_go_first_past_the_bounds() {
        let raw = RawResults::new(1024 * 1024);
        for id in 0..(MAX_KEPT as i64 + 10) {
            raw.record(&json!({"id": id, "result": {"n": id}}), 10);
        }
        assert_eq!(raw.take(&RequestId::Number(0)), None);
        assert!(raw.take(&RequestId::Number(MAX_KEPT as i64 + 9)).is_some());

        let big = 1024 * 1024 + 1;
        raw.record(&json!({"id": "a", "result": {"n": 1}}), big);
        raw.record(&json!({"id": "b", "result": {"n": 2}}), big);
        assert_eq!(raw.take(&RequestId::String("a".into())), None);
        assert!(raw.take(&RequestId::String("b".into())).is_some());
        raw.record(&json!({"id": "c", "result": {"n": 3}}), 2 * 1024 * 1024 + 1);
        assert_eq!(raw.take(&RequestId::String("c".into())), None);
    }
}
