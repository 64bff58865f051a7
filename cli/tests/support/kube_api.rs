//! A scripted Kubernetes API for the cluster source (no package here ships an API server):
//! lists and watches of `McpServer`s and of Secrets by name, answered from objects a
//! scenario changes step by step, through tower-test's mock service.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::body::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, Infallible>;

/// The fake API: the objects it lists, and the open watch streams it feeds.
#[derive(Default)]
pub struct Fake {
    servers: BTreeMap<String, Value>,
    secrets: BTreeMap<String, Value>,
    server_watches: Vec<mpsc::UnboundedSender<Bytes>>,
    secret_watches: Vec<(String, mpsc::UnboundedSender<Bytes>)>,
    /// Answer the next watches with this status (an API server that went away).
    pub fail_watches: Option<u16>,
    /// A server changed while no watch was open: the next watch is told its version is
    /// gone (410), as a real API server does once it has moved on, and the client lists.
    missed: bool,
}

pub type Shared = Arc<Mutex<Fake>>;

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items})
}

fn answer(status: u16, body: Value) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn watch_stream(receiver: mpsc::UnboundedReceiver<Bytes>) -> http::Response<Body> {
    let frames = tokio_stream_of(receiver).map(|bytes| Ok::<_, Infallible>(Frame::data(bytes)));
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .unwrap()
}

fn tokio_stream_of(
    mut receiver: mpsc::UnboundedReceiver<Bytes>,
) -> impl futures::Stream<Item = Bytes> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Answer every request the client makes, as the fake says.
pub async fn serve(
    mut handle: tower_test::mock::Handle<http::Request<kube::client::Body>, http::Response<Body>>,
    fake: Shared,
) {
    while let Some((request, respond)) = handle.next_request().await {
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let watching = query.contains("watch=true");
        let mut fake = fake.lock().unwrap();
        let response = if watching && let Some(status) = fake.fail_watches {
            answer(
                status,
                json!({"kind": "Status", "code": status, "message": "unavailable"}),
            )
        } else if path.ends_with("/mcpservers") {
            if watching && std::mem::take(&mut fake.missed) {
                let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "code": 410, "reason": "Expired", "message": "too old resource version"}});
                let (sender, receiver) = mpsc::unbounded_channel();
                let _ = sender.send(Bytes::from(format!("{gone}\n")));
                watch_stream(receiver)
            } else if watching {
                let (sender, receiver) = mpsc::unbounded_channel();
                fake.server_watches.push(sender);
                watch_stream(receiver)
            } else {
                answer(
                    200,
                    list("McpServerList", fake.servers.values().cloned().collect()),
                )
            }
        } else if path.ends_with("/secrets") {
            let name = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("fieldSelector=metadata.name%3D"))
                .unwrap_or_default()
                .to_owned();
            if watching {
                let (sender, receiver) = mpsc::unbounded_channel();
                fake.secret_watches.push((name, sender));
                watch_stream(receiver)
            } else {
                let items = fake.secrets.get(&name).cloned().into_iter().collect();
                answer(200, list("SecretList", items))
            }
        } else {
            answer(404, json!({"kind": "Status", "code": 404}))
        };
        respond.send_response(response);
    }
}

impl Fake {
    fn event(kind: &str, object: &Value) -> Bytes {
        Bytes::from(format!("{}\n", json!({"type": kind, "object": object})))
    }

    pub fn put_server(&mut self, server: Value) {
        let name = server["metadata"]["name"].as_str().unwrap().to_owned();
        let kind = if self.servers.contains_key(&name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.servers.insert(name, server.clone());
        self.server_watches
            .retain(|watch| watch.send(Self::event(kind, &server)).is_ok());
    }

    pub fn delete_server(&mut self, name: &str) {
        if let Some(server) = self.servers.remove(name) {
            self.missed |= self.server_watches.is_empty();
            self.server_watches
                .retain(|watch| watch.send(Self::event("DELETED", &server)).is_ok());
        }
    }

    pub fn put_secret(&mut self, name: &str, key: &str, value: &str) {
        use k8s_openapi::{ByteString, api::core::v1::Secret};
        let mut secret = serde_json::to_value(Secret {
            data: Some(BTreeMap::from([(
                key.to_owned(),
                ByteString(value.as_bytes().to_vec()),
            )])),
            ..Default::default()
        })
        .unwrap();
        secret["metadata"] = json!({"name": name, "namespace": "default", "resourceVersion": "2"});
        let kind = if self.secrets.contains_key(name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.secrets.insert(name.to_owned(), secret.clone());
        self.secret_watches.retain(|(watched, watch)| {
            watched != name || watch.send(Self::event(kind, &secret)).is_ok()
        });
    }

    /// End every open watch (the API server went away).
    pub fn cut_watches(&mut self) {
        self.server_watches.clear();
        self.secret_watches.clear();
    }
}

/// An `McpServer` at `url`, verified when `verified`, its bearer token from `secret`.
pub fn mcp_server(
    name: &str,
    url: &str,
    verified: bool,
    secret: Option<&str>,
    extra: Value,
) -> Value {
    let mut spec = json!({"transport": "streamable-http", "url": url});
    if let Some(secret) = secret {
        spec["auth"] = json!({"bearerToken": {"secretKeyRef": {"name": secret, "key": "token"}}});
    }
    let mut object = json!({
        "apiVersion": "llamagate.io/v1alpha1", "kind": "McpServer",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "1", "labels": {"team": "a"}},
        "spec": spec,
    });
    if verified {
        object["status"] = json!({"url": url});
    }
    for (key, value) in extra.as_object().into_iter().flatten() {
        object["metadata"][key] = value.clone();
    }
    object
}

/// A client of a fresh scripted API serving `fake`.
pub fn client(fake: &Shared) -> kube::Client {
    let (service, handle) =
        tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<Body>>();
    tokio::spawn(serve(handle, fake.clone()));
    kube::Client::new(service, "default")
}
