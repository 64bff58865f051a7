//! Change streams of `/mcp`: a view's servers tell the gateway when their lists change
//! (`list_changed`, a restart), and the gateway tells the clients that follow it: on the
//! `GET` stream of a 2025-era session, and on a 2026-07-28 `subscriptions/listen` stream
//! (acknowledged first, each notification tagged with the subscription, only the kinds
//! the client asked for). A stream holds one receiver per server and nothing else; a client
//! that goes away drops them all.

use std::convert::Infallible;

use axum::response::{
    IntoResponse, Response,
    sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt, stream};
use llamagate_mcp::cache::ListKind;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{catalog::View, rpc::RpcError};

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Which notifications a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
}

impl Filter {
    /// Every list change (a session's GET stream).
    pub const ALL: Filter = Filter {
        tools: true,
        prompts: true,
        resources: true,
    };

    /// `params.notifications` of `subscriptions/listen`: the kinds asked for, each a boolean.
    pub fn requested(params: &Value) -> Result<Filter, RpcError> {
        let asked = match params.get("notifications") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(asked)) => asked.clone(),
            Some(_) => {
                return Err(RpcError::params(
                    "`params.notifications` must be an object such as {\"toolsListChanged\": true}",
                ));
            }
        };
        let flag = |field: &str| -> Result<bool, RpcError> {
            match asked.get(field) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(on)) => Ok(*on),
                Some(_) => Err(RpcError::params(format!(
                    "`params.notifications.{field}` must be a boolean"
                ))),
            }
        };
        Ok(Filter {
            tools: flag("toolsListChanged")?,
            prompts: flag("promptsListChanged")?,
            resources: flag("resourcesListChanged")?,
        })
    }

    /// What the acknowledgement says was accepted.
    fn accepted(self) -> Value {
        let mut accepted = Map::new();
        for (on, field) in [
            (self.tools, "toolsListChanged"),
            (self.prompts, "promptsListChanged"),
            (self.resources, "resourcesListChanged"),
        ] {
            if on {
                accepted.insert(field.into(), json!(true));
            }
        }
        Value::Object(accepted)
    }

    /// The notification method for a change of `kind`, if this stream carries it. A
    /// resource change invalidates resources and templates alike: announced once.
    fn method(self, kind: ListKind) -> Option<&'static str> {
        match kind {
            ListKind::Tools if self.tools => Some("notifications/tools/list_changed"),
            ListKind::Prompts if self.prompts => Some("notifications/prompts/list_changed"),
            ListKind::Resources if self.resources => Some("notifications/resources/list_changed"),
            _ => None,
        }
    }
}

/// One server's changes as a stream; a receiver that lagged reports every kind (the
/// client re-lists, which is always right).
fn changes(receiver: Receiver<ListKind>) -> impl Stream<Item = ListKind> {
    stream::unfold(receiver, |mut receiver| async move {
        let kinds = match receiver.recv().await {
            Ok(kind) => vec![kind],
            Err(RecvError::Lagged(_)) => {
                vec![ListKind::Tools, ListKind::Prompts, ListKind::Resources]
            }
            Err(RecvError::Closed) => return None,
        };
        Some((kinds, receiver))
    })
    .flat_map(stream::iter)
}

fn message(body: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().event("message").data(body.to_string()))
}

/// The notifications of `view`'s list changes that `filter` lets through, each tagged
/// with `tag` (the subscription) when there is one.
fn notifications(
    view: &View,
    filter: Filter,
    tag: Option<Value>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let merged = stream::select_all(
        view.servers
            .iter()
            .map(|server| changes(server.list_changes()).boxed()),
    );
    merged.filter_map(move |kind| {
        let tag = tag.clone();
        async move {
            let method = filter.method(kind)?;
            let mut body = json!({"jsonrpc": "2.0", "method": method});
            if let Some(id) = tag {
                body["params"] = json!({"_meta": {SUBSCRIPTION_ID: id}});
            }
            Some(message(&body))
        }
    })
}

/// `GET /mcp` of a session: every list change of its view, until the client leaves.
pub fn session_stream(view: &View) -> Response {
    Sse::new(notifications(view, Filter::ALL, None))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `subscriptions/listen` (request `id`): the acknowledgement, then the changes asked for,
/// each tagged with the subscription (the request's id).
pub fn subscription(view: &View, id: &Value, filter: Filter) -> Response {
    let ack = json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {SUBSCRIPTION_ID: id}, "notifications": filter.accepted()},
    });
    let stream = stream::once(async move { message(&ack) }).chain(notifications(
        view,
        filter,
        Some(id.clone()),
    ));
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_carries_only_what_was_asked_for() {
        let filter =
            Filter::requested(&json!({"notifications": {"promptsListChanged": true}})).unwrap();
        assert_eq!(filter.method(ListKind::Tools), None);
        assert_eq!(
            filter.method(ListKind::Prompts),
            Some("notifications/prompts/list_changed")
        );
        assert_eq!(filter.accepted(), json!({"promptsListChanged": true}));
        assert_eq!(Filter::ALL.method(ListKind::ResourceTemplates), None);
        assert_eq!(Filter::requested(&json!({})).unwrap().accepted(), json!({}));
        for bad in [
            json!({"notifications": []}),
            json!({"notifications": {"toolsListChanged": "yes"}}),
        ] {
            let error = Filter::requested(&bad).unwrap_err();
            assert!(error.message.contains("params.notifications"), "{error:?}");
        }
    }
}
