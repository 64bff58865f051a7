//! A small stateful stand-in for the API server, for running the whole controller (its
//! watches, triggers and writes) in CI: objects by collection, lists, watches (with the
//! `metadata.name` field selector), gets, server-side applies (the resourceVersion moves
//! only when the object changed, as on a real API server) and Events. It counts writes.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, Infallible>;

struct Watch {
    collection: String,
    name: Option<String>,
    sender: mpsc::UnboundedSender<Bytes>,
}

/// The fake cluster (namespace `default` only).
#[derive(Default)]
pub struct Cluster {
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    version: u64,
    watches: Vec<Watch>,
    /// Writes that changed an object, by collection (`mcpservers/status`, `deployments`, …).
    pub changes: BTreeMap<String, u64>,
    /// Every write request, by collection, changed or not.
    pub requests: BTreeMap<String, u64>,
    /// The body of every write request (status, Events, applied objects), as sent.
    pub written: Vec<String>,
}

pub type Shared = Arc<Mutex<Cluster>>;

fn answer(status: u16, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn not_found() -> Response<Body> {
    answer(
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound", "message": "not found"}),
    )
}

/// `(collection, name, subresource)` of a namespaced path.
fn route(path: &str) -> Option<(String, Option<String>, Option<String>)> {
    let rest = path.split("/namespaces/default/").nth(1)?;
    let mut parts = rest.split('/');
    let collection = parts.next()?.to_owned();
    Some((
        collection,
        parts.next().map(str::to_owned),
        parts.next().map(str::to_owned),
    ))
}

fn kind_of(collection: &str) -> (&'static str, &'static str) {
    match collection {
        "mcpservers" => ("llamagate.io/v1alpha1", "McpServer"),
        "deployments" => ("apps/v1", "Deployment"),
        "services" => ("v1", "Service"),
        "secrets" => ("v1", "Secret"),
        "events" => ("events.k8s.io/v1", "Event"),
        "llamagates" => ("llamagate.io/v1alpha1", "LlamaGate"),
        "configmaps" => ("v1", "ConfigMap"),
        "serviceaccounts" => ("v1", "ServiceAccount"),
        "roles" => ("rbac.authorization.k8s.io/v1", "Role"),
        "rolebindings" => ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        "horizontalpodautoscalers" => ("autoscaling/v2", "HorizontalPodAutoscaler"),
        "poddisruptionbudgets" => ("policy/v1", "PodDisruptionBudget"),
        _ => ("v1", "Unknown"),
    }
}

impl Cluster {
    /// Create or replace an object, as `kubectl apply` would.
    pub fn put(&mut self, collection: &str, mut object: Value) {
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let existing = self
            .objects
            .get(collection)
            .and_then(|c| c.get(&name))
            .cloned();
        object["metadata"]["namespace"] = json!("default");
        object["metadata"]["uid"] = existing.as_ref().map_or_else(
            || json!(format!("uid-{collection}-{name}")),
            |e| e["metadata"]["uid"].clone(),
        );
        if object["metadata"]["generation"].is_null() {
            object["metadata"]["generation"] = json!(1);
        }
        if let Some(status) = existing
            .as_ref()
            .map(|e| e["status"].clone())
            .filter(|s| !s.is_null())
        {
            object["status"] = status;
        }
        self.store(collection, name, object, existing.is_some());
    }

    /// Change an object as another writer would (an HPA scaling a Deployment).
    pub fn edit(&mut self, collection: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let mut object = self.get(collection, name).expect("the object exists");
        change(&mut object);
        self.store(collection, name.to_owned(), object, true);
    }

    /// Delete an object.
    pub fn delete(&mut self, collection: &str, name: &str) {
        if let Some(object) = self
            .objects
            .get_mut(collection)
            .and_then(|c| c.remove(name))
        {
            self.broadcast(collection, "DELETED", &object);
        }
    }

    pub fn get(&self, collection: &str, name: &str) -> Option<Value> {
        self.objects.get(collection)?.get(name).cloned()
    }

    pub fn count(&self, collection: &str) -> usize {
        self.objects.get(collection).map_or(0, BTreeMap::len)
    }

    fn store(&mut self, collection: &str, name: String, mut object: Value, existed: bool) {
        self.version += 1;
        let (api_version, kind) = kind_of(collection);
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(kind);
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        self.objects
            .entry(collection.to_owned())
            .or_default()
            .insert(name, object.clone());
        self.broadcast(
            collection,
            if existed { "MODIFIED" } else { "ADDED" },
            &object,
        );
    }

    fn broadcast(&mut self, collection: &str, kind: &str, object: &Value) {
        let line = Bytes::from(format!("{}\n", json!({"type": kind, "object": object})));
        let name = object["metadata"]["name"].as_str().map(str::to_owned);
        self.watches.retain(|watch| {
            if watch.collection != collection || (watch.name.is_some() && watch.name != name) {
                return !watch.sender.is_closed();
            }
            watch.sender.send(line.clone()).is_ok()
        });
    }

    /// A server-side apply of `body` to `collection/name` (or its status).
    fn apply(&mut self, collection: &str, name: &str, status: bool, body: Value) -> Response<Body> {
        let key = if status {
            format!("{collection}/status")
        } else {
            collection.to_owned()
        };
        *self.requests.entry(key.clone()).or_default() += 1;
        let existing = self.get(collection, name);
        let mut object = match (&existing, status) {
            (Some(existing), true) => {
                let mut object = existing.clone();
                object["status"] = body["status"].clone();
                object
            }
            (None, true) => return not_found(),
            (existing, false) => {
                // Server-side apply keeps what other managers set (an HPA's replicas):
                // the body is merged over the object, not put in its place.
                let mut object = existing.clone().unwrap_or(Value::Null);
                merge(&mut object, &body);
                object["metadata"]["uid"] = existing.as_ref().map_or_else(
                    || json!(format!("uid-{collection}-{name}")),
                    |e| e["metadata"]["uid"].clone(),
                );
                if let Some(status) = existing
                    .as_ref()
                    .map(|e| &e["status"])
                    .filter(|s| !s.is_null())
                {
                    object["status"] = status.clone();
                }
                object
            }
        };
        object["metadata"]["namespace"] = json!("default");
        let unchanged = existing.as_ref().is_some_and(|existing| {
            let mut before = existing.clone();
            before["metadata"]["resourceVersion"] = Value::Null;
            let mut after = object.clone();
            after["metadata"]["resourceVersion"] = Value::Null;
            after["apiVersion"] = before["apiVersion"].clone();
            after["kind"] = before["kind"].clone();
            before == after
        });
        if unchanged {
            return answer(200, existing.unwrap());
        }
        *self.changes.entry(key).or_default() += 1;
        self.store(collection, name.to_owned(), object, existing.is_some());
        answer(200, self.get(collection, name).unwrap())
    }

    fn handle(&mut self, method: &Method, path: &str, query: &str, body: Value) -> Response<Body> {
        let Some((collection, name, sub)) = route(path) else {
            return not_found();
        };
        if *method != Method::GET {
            self.written.push(format!("{method} {path}: {body}"));
        }
        match (method, name) {
            (&Method::GET, None) if query.contains("watch=true") => self.watch(&collection, query),
            (&Method::GET, None) => {
                let items: Vec<Value> = self
                    .objects
                    .get(&collection)
                    .into_iter()
                    .flat_map(BTreeMap::values)
                    .filter(|o| field_name(query).is_none_or(|n| o["metadata"]["name"] == n))
                    .cloned()
                    .collect();
                answer(
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": self.version.to_string()}, "items": items}),
                )
            }
            (&Method::GET, Some(name)) => self
                .get(&collection, &name)
                .map_or_else(not_found, |o| answer(200, o)),
            (&Method::PATCH, Some(name)) if collection == "events" => {
                *self.changes.entry("events".to_owned()).or_default() += 1;
                let _ = name;
                answer(200, body)
            }
            (&Method::POST, None) if collection == "events" => {
                *self.changes.entry("events".to_owned()).or_default() += 1;
                answer(201, body)
            }
            (&Method::PATCH, Some(name)) => {
                self.apply(&collection, &name, sub.as_deref() == Some("status"), body)
            }
            (&Method::DELETE, Some(name)) => {
                *self.changes.entry(collection.clone()).or_default() += 1;
                let object = self.get(&collection, &name);
                self.delete(&collection, &name);
                object.map_or_else(not_found, |o| answer(200, o))
            }
            _ => answer(405, json!({"kind": "Status", "code": 405})),
        }
    }

    fn watch(&mut self, collection: &str, query: &str) -> Response<Body> {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        self.watches.push(Watch {
            collection: collection.to_owned(),
            name: field_name(query),
            sender,
        });
        let frames = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
            .map(|bytes| Ok::<_, Infallible>(Frame::data(bytes)));
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(BodyExt::boxed(StreamBody::new(frames)))
            .unwrap()
    }
}

use futures::StreamExt;

/// `patch` deep-merged over `target` (objects merge, everything else is replaced).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn field_name(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("fieldSelector=metadata.name%3D"))
        .map(str::to_owned)
}

/// A client of `cluster`.
pub fn client(cluster: &Shared) -> kube::Client {
    let (service, mut handle) =
        tower_test::mock::pair::<Request<kube::client::Body>, Response<Body>>();
    let cluster = Arc::clone(cluster);
    tokio::spawn(async move {
        while let Some((request, respond)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let query = parts.uri.query().unwrap_or_default().to_owned();
            let response =
                cluster
                    .lock()
                    .unwrap()
                    .handle(&parts.method, parts.uri.path(), &query, body);
            respond.send_response(response);
        }
    });
    kube::Client::new(service, "default")
}
