//! Events for condition changes, through kube-runtime's `Recorder`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{
    Resource, ResourceExt,
    runtime::events::{Event, EventType},
};

use crate::context::Context;

/// One Event for the conditions a reconcile changed: the reason of the most telling one
/// (`Ready` first), and every change in the note. Its action is that condition's type, so
/// the recorder counts a repeat of the same change in a series, and never folds a `Ready`
/// change into an earlier `Verified` one of the same reason. A failure to publish is
/// logged, not fatal: the status already says the same.
pub async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    changed: &[&Condition],
) {
    let Some(headline) = changed.iter().max_by_key(|c| significance(&c.type_)) else {
        return;
    };
    let warning = changed.iter().any(|c| c.status == "False");
    let parts: Vec<String> = changed
        .iter()
        .rev()
        .map(|c| format!("{} is {}: {}", c.type_, c.status, c.message))
        .collect();
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: headline.reason.clone(),
        note: Some(truncate(parts.join("; "), 1024)),
        action: headline.type_.clone(),
        secondary: None,
    };
    match ctx.recorder.publish(&event, &object.object_ref(&())).await {
        Ok(()) => ctx.metrics.wrote("event"),
        Err(error) => {
            tracing::warn!(object = %object.name_any(), %error, "cannot publish an Event");
        }
    }
}

fn significance(type_: &str) -> usize {
    ["Reachable", "Verified", "Available", "Ready"]
        .iter()
        .position(|t| *t == type_)
        .unwrap_or(0)
}

/// `text` cut to at most `limit` bytes on a character boundary (the API's note limit).
fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut cut = limit - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// Conditions whose status differs between two lists.
pub fn transitions<'a>(previous: &[Condition], next: &'a [Condition]) -> Vec<&'a Condition> {
    next.iter()
        .filter(|condition| {
            previous
                .iter()
                .find(|c| c.type_ == condition.type_)
                .is_none_or(|c| c.status != condition.status)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn notes_are_cut_on_a_character_boundary() {
        let cut = truncate("é".repeat(600), 1024);
        assert!(cut.len() <= 1024);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate("short".to_owned(), 1024), "short");
    }
}
