//! Change streams of `/mcp`: a view's servers tell the gateway when their lists change
//! (`list_changed`, a restart), and the gateway tells the clients that follow it: on the
//! `GET` stream of a 2025-era session, and on a 2026-07-28 `subscriptions/listen` stream
//! (acknowledged first, each notification tagged with the subscription, only the kinds
//! the client asked for). A stream holds one receiver per server of its view and follows
//! servers as they come and go; a client that goes away ends it.

use std::convert::Infallible;

use axum::response::{
    IntoResponse, Response,
    sse::{Event, KeepAlive, Sse},
};
use std::{collections::HashMap, sync::Arc};

use futures::{Stream, StreamExt, stream};
use llamagate_mcp::{ServerClient, cache::ListKind, server::ResourceSubscription};
use serde_json::{Map, Value, json};
use tokio::sync::{
    broadcast::{Receiver, error::RecvError},
    mpsc, watch,
};

use super::{
    ask::Out,
    catalog,
    rpc::RpcError,
    views::{self, Target},
};
use crate::{auth::Principal, state::AppState};

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Resources one stream may follow.
const MAX_RESOURCE_SUBSCRIPTIONS: usize = 256;
/// The longest URI a stream may follow.
const MAX_URI_LEN: usize = 4096;

/// Which notifications a stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    /// `resourceSubscriptions`: the resource URIs (as this endpoint names them) followed.
    uris: Vec<String>,
}

impl Filter {
    /// Every list change (a session's GET stream).
    pub const ALL: Filter = Filter {
        tools: true,
        prompts: true,
        resources: true,
        uris: Vec::new(),
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
            uris: resource_subscriptions(&asked)?,
        })
    }

    /// The resources a listen stream follows, for good.
    pub fn followed(&self) -> watch::Receiver<Vec<String>> {
        watch::channel(self.uris.clone()).1
    }

    /// What the acknowledgement says was accepted.
    fn accepted(&self) -> Value {
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
        if !self.uris.is_empty() {
            accepted.insert("resourceSubscriptions".into(), json!(self.uris));
        }
        Value::Object(accepted)
    }

    /// The notification method for a change of `kind`, if this stream carries it. A
    /// resource change invalidates resources and templates alike: announced once.
    fn method(&self, kind: ListKind) -> Option<&'static str> {
        match kind {
            ListKind::Tools if self.tools => Some("notifications/tools/list_changed"),
            ListKind::Prompts if self.prompts => Some("notifications/prompts/list_changed"),
            ListKind::Resources if self.resources => Some("notifications/resources/list_changed"),
            _ => None,
        }
    }
}

/// `notifications.resourceSubscriptions`: URIs, bounded in count and length.
pub(super) fn resource_subscriptions(asked: &Map<String, Value>) -> Result<Vec<String>, RpcError> {
    const FIELD: &str = "`params.notifications.resourceSubscriptions`";
    let uris = match asked.get("resourceSubscriptions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(uris)) => uris,
        Some(_) => {
            return Err(RpcError::params(format!(
                "{FIELD} must be an array of resource URIs"
            )));
        }
    };
    if uris.len() > MAX_RESOURCE_SUBSCRIPTIONS {
        return Err(RpcError::params(format!(
            "{FIELD} names {} resources; one stream follows at most {MAX_RESOURCE_SUBSCRIPTIONS}: open another",
            uris.len()
        )));
    }
    let mut followed = Vec::with_capacity(uris.len());
    for uri in uris {
        match uri.as_str() {
            Some(uri) if !uri.is_empty() && uri.len() <= MAX_URI_LEN => {
                if !followed.iter().any(|u: &String| u == uri) {
                    followed.push(uri.to_owned());
                }
            }
            _ => {
                return Err(RpcError::params(format!(
                    "{FIELD} holds something that is not a resource URI (a non-empty string of at most {MAX_URI_LEN} bytes)"
                )));
            }
        }
    }
    Ok(followed)
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

/// Who follows which endpoint path: the view is rebuilt whenever servers come and go.
pub struct Follower {
    /// The gateway.
    pub state: AppState,
    /// The key.
    pub principal: Principal,
    /// The endpoint path.
    pub target: Target,
    /// The resources followed (as the endpoint names them); a listen stream's never change,
    /// a session's change with its `resources/subscribe`.
    pub uris: watch::Receiver<Vec<String>>,
}

fn notice(filter: &Filter, kind: ListKind, tag: Option<&Value>) -> Option<Value> {
    let method = filter.method(kind)?;
    let mut body = json!({"jsonrpc": "2.0", "method": method});
    if let Some(id) = tag {
        body["params"] = json!({"_meta": {SUBSCRIPTION_ID: id}});
    }
    Some(body)
}

/// Where a stream's notifications go, and which it carries.
struct Outlet<'a> {
    tx: &'a mpsc::Sender<Value>,
    filter: &'a Filter,
    tag: Option<&'a Value>,
}

impl Outlet<'_> {
    /// Send the notice of a change of `kind`, if the stream carries it; false once the
    /// client is gone.
    async fn notice(&self, kind: ListKind) -> bool {
        match notice(self.filter, kind, self.tag) {
            Some(body) => self.tx.send(body).await.is_ok(),
            None => true,
        }
    }
}

/// Why a stream stopped following its view as it was.
enum Next {
    /// Servers came or went: announce every kind and follow the new view.
    Renew,
    /// The resources followed changed: subscribe anew.
    Resubscribe,
    /// The client left, or the gateway is shutting down.
    End,
}

/// The notifications that `filter` lets through of the list changes of the follower's view,
/// and the updates of the resources it follows, each tagged with `tag` (the subscription)
/// when there is one; `first` (an acknowledgement) once the resources are subscribed. When
/// servers are added, removed or replaced (a reload, cluster discovery), every kind is
/// announced and the view is followed anew; the stream ends when the client leaves or the
/// view is gone.
fn notifications(
    follower: Follower,
    filter: Filter,
    tag: Option<Value>,
    mut first: Option<Value>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let (tx, rx) = mpsc::channel::<Value>(32);
    // Subscribed before the task first runs: a change between now and then is announced.
    // `changed()` marks each change seen.
    let mut membership = follower.state.registry().membership();
    tokio::spawn(async move {
        let Follower {
            state,
            principal,
            target,
            mut uris,
        } = follower;
        let outlet = Outlet {
            tx: &tx,
            filter: &filter,
            tag: tag.as_ref(),
        };
        loop {
            let Ok(view) = views::view(&state, &principal, target.clone()) else {
                return;
            };
            let followed = uris.borrow_and_update().clone();
            let (updates, _subscriptions) =
                resource_updates((&state, &principal), &view, &followed).await;
            // The acknowledgement once the resources are subscribed: what follows it is heard.
            if let Some(ack) = first.take()
                && tx.send(ack).await.is_err()
            {
                return;
            }
            match follow(&view, updates, &mut membership, &mut uris, &outlet).await {
                Next::End => return,
                Next::Resubscribe => {}
                Next::Renew => {
                    for kind in [ListKind::Tools, ListKind::Prompts, ListKind::Resources] {
                        if !outlet.notice(kind).await {
                            return;
                        }
                    }
                }
            }
        }
    });
    stream::unfold(rx, |mut rx| async move {
        let body = rx.recv().await?;
        Some((message(&body), rx))
    })
}

/// Pass on the changes of `view`'s servers and the `updates` of its resources until
/// something asks to follow it anew.
async fn follow(
    view: &catalog::View,
    mut updates: stream::SelectAll<stream::BoxStream<'static, String>>,
    membership: &mut watch::Receiver<u64>,
    uris: &mut watch::Receiver<Vec<String>>,
    outlet: &Outlet<'_>,
) -> Next {
    let mut merged = stream::select_all(
        view.servers
            .iter()
            .map(|server| changes(server.list_changes()).boxed()),
    );
    loop {
        // A stream with nothing to hear from waits on the others.
        let update = async {
            match updates.next().await {
                Some(uri) => uri,
                None => std::future::pending().await,
            }
        };
        let change = async {
            match merged.next().await {
                Some(kind) => kind,
                None => std::future::pending().await,
            }
        };
        // Fixed resources (a listen stream): their sender is gone, nothing changes them.
        let refollow = async {
            if uris.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = outlet.tx.closed() => return Next::End,
            kind = change => {
                if !outlet.notice(kind).await {
                    return Next::End;
                }
            }
            uri = update => {
                if outlet.tx.send(updated(&uri, outlet.tag)).await.is_err() {
                    return Next::End;
                }
            }
            changed = membership.changed() => {
                return if changed.is_err() { Next::End } else { Next::Renew };
            }
            () = refollow => return Next::Resubscribe,
        }
    }
}

/// `notifications/resources/updated` for `uri` (as the client named it).
fn updated(uri: &str, tag: Option<&Value>) -> Value {
    let mut params = json!({"uri": uri});
    if let Some(id) = tag {
        params["_meta"] = json!({SUBSCRIPTION_ID: id});
    }
    json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": params})
}

/// The updates of the resources `uris` of `view` (each named as the client named it), and
/// the subscriptions that keep them coming. A URI no server of the view has, or whose
/// server does not offer subscriptions, is followed in vain, as a subscription to a
/// resource that never changes.
async fn resource_updates(
    (state, principal): (&AppState, &Principal),
    view: &catalog::View,
    uris: &[String],
) -> (
    stream::SelectAll<stream::BoxStream<'static, String>>,
    Vec<ResourceSubscription>,
) {
    let mut by_server: HashMap<String, (Arc<ServerClient>, HashMap<String, String>)> =
        HashMap::new();
    // A listen stream owns no upstream sessions.
    let none = Default::default();
    for uri in uris {
        let found = super::uris::resolve((state, principal, view), &none, uri).await;
        if let Ok((server, original)) = found {
            by_server
                .entry(server.name().to_owned())
                .or_insert_with(|| (server.clone(), HashMap::new()))
                .1
                .insert(original, uri.clone());
        }
    }
    let mut subscriptions = Vec::new();
    let mut streams = Vec::new();
    for (server, followed) in by_server.into_values() {
        let receiver = server.resource_updates();
        for original in followed.keys() {
            match server.subscribe_resource(original).await {
                Ok(subscription) => subscriptions.push(subscription),
                Err(e) => {
                    tracing::debug!(server = server.name(), "resource subscription refused: {e}")
                }
            }
        }
        let updates = stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(uri) => return Some((uri, receiver)),
                    // Updates missed: the next one still says the resource changed.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        })
        .filter_map(move |uri| std::future::ready(followed.get(uri.as_ref()).cloned()))
        .boxed();
        streams.push(updates);
    }
    (stream::select_all(streams), subscriptions)
}

/// `GET /mcp` of a session: every list change of its view, and the `questions` its own
/// upstream sessions ask, until the client leaves.
pub fn session_stream(follower: Follower, questions: Option<mpsc::Receiver<Out>>) -> Response {
    let asked = stream::unfold(questions, |questions| async move {
        let mut rx = questions?;
        loop {
            if let Out::Message(question) = rx.recv().await? {
                return Some((message(&question), Some(rx)));
            }
        }
    });
    let notifications = notifications(follower, Filter::ALL, None, None);
    Sse::new(stream::select(notifications, asked))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `subscriptions/listen` (request `id`): the acknowledgement, then the changes asked for,
/// each tagged with the subscription (the request's id).
pub fn subscription(follower: Follower, id: &Value, filter: Filter) -> Response {
    let ack = json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {SUBSCRIPTION_ID: id}, "notifications": filter.accepted()},
    });
    let stream = notifications(follower, filter, Some(id.clone()), Some(ack));
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
