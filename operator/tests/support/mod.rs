//! A scripted Kubernetes API for the controller tests (no package here ships an API server):
//! each scenario takes the requests the controller makes, one by one, checks them and
//! answers, as kube-rs's controller-rs does with tower-test. A request the scenario does not
//! expect fails the test, and so does a missing one.
#![allow(dead_code)]

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::runtime::{reflector, watcher};
use llamagate_crds::McpServer;
use llamagate_operator::{
    context::{Context, Owned, Settings},
    metrics::Metrics,
    resources::mcpserver::BridgeImage,
};
use serde_json::{Value, json};

pub type Body = BoxBody<Bytes, Infallible>;
type Handle = tower_test::mock::Handle<Request<kube::client::Body>, Response<Body>>;

/// The scripted API server.
pub struct ApiServer {
    handle: Handle,
}

/// One request the controller made, waiting for its answer.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Value,
    respond: tower_test::mock::SendResponse<Response<Body>>,
}

impl Call {
    /// Answer with `status` and `body`.
    pub fn respond(self, status: u16, body: Value) {
        let response = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())).boxed())
            .unwrap();
        self.respond.send_response(response);
    }

    /// Answer a write with the object it sent (as the API would, give or take defaults).
    pub fn echo(self) {
        let body = self.body.clone();
        self.respond(200, body);
    }

    /// Answer 404 Not Found.
    pub fn not_found(self) {
        self.respond(
            404,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound", "message": "not found"}),
        );
    }

    /// Check that this is `method` on `path` (and that the query holds `query_part`).
    pub fn expect(self, method: Method, path: &str, query_part: &str) -> Self {
        assert_eq!(
            (&self.method, self.path.as_str()),
            (&method, path),
            "unexpected request {} {}?{}",
            self.method,
            self.path,
            self.query
        );
        assert!(
            self.query.contains(query_part),
            "{} {}: query `{}` lacks `{query_part}`",
            self.method,
            self.path,
            self.query
        );
        self
    }
}

impl ApiServer {
    /// The next request, within a generous bound (the controller may be probing).
    pub async fn next(&mut self) -> Call {
        let (request, respond) =
            tokio::time::timeout(Duration::from_secs(20), self.handle.next_request())
                .await
                .expect("the controller made no further request within 20 s")
                .expect("the client went away");
        let (parts, body) = request.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Call {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            body,
            respond,
        }
    }

    /// Fail if the controller makes any request within `window`.
    pub async fn expect_silence(&mut self, window: Duration) {
        if let Ok(Some((request, _))) =
            tokio::time::timeout(window, self.handle.next_request()).await
        {
            panic!(
                "expected no request, got {} {}",
                request.method(),
                request.uri()
            );
        }
    }

    /// Wait for `task` (a reconcile) to end, failing on any request it makes meanwhile.
    pub async fn finish<T>(&mut self, task: tokio::task::JoinHandle<T>) -> T {
        tokio::select! {
            result = task => result.expect("the reconcile panicked"),
            request = self.handle.next_request() => match request {
                Some((request, _)) => panic!("unexpected request {} {}", request.method(), request.uri()),
                None => panic!("the client went away"),
            },
        }
    }

    /// Answer the `count` Events that follow (new ones, or a repeat counted in a series),
    /// returning `(type, reason, note)` of each.
    pub async fn events(&mut self, count: usize) -> Vec<(String, String, String)> {
        let mut seen = Vec::new();
        for _ in 0..count {
            let call = self.next().await;
            let events = "/apis/events.k8s.io/v1/namespaces/default/events";
            let new = call.method == Method::POST && call.path == events;
            let repeat =
                call.method == Method::PATCH && call.path.starts_with(&format!("{events}/"));
            assert!(
                new || repeat,
                "expected an Event, got {} {}",
                call.method,
                call.path
            );
            let body = &call.body;
            seen.push((
                body["type"].as_str().unwrap_or_default().to_owned(),
                body["reason"].as_str().unwrap_or_default().to_owned(),
                body["note"].as_str().unwrap_or_default().to_owned(),
            ));
            call.echo();
        }
        seen
    }
}

/// A controller context on a fresh scripted API, and writers for the owned-object stores.
pub struct Harness {
    pub api: ApiServer,
    pub ctx: Arc<Context>,
    pub deployments: reflector::store::Writer<Deployment>,
    pub services: reflector::store::Writer<Service>,
}

pub fn harness() -> Harness {
    let (service, handle) = tower_test::mock::pair::<Request<kube::client::Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let (deployment_store, deployments) = reflector::store();
    let (service_store, services) = reflector::store();
    let settings = Settings {
        bridge: BridgeImage {
            image: "ghcr.io/llamagate/llamagate:test".to_owned(),
        },
        instance: "test-operator".to_owned(),
    };
    let owned = Owned {
        deployments: deployment_store,
        services: service_store,
    };
    let ctx = Context::new(client, Metrics::new(), settings, owned, None);
    Harness {
        api: ApiServer { handle },
        ctx,
        deployments,
        services,
    }
}

impl Harness {
    /// Show `deployment` in the owned-object store, as the watch would.
    pub fn saw_deployment(&mut self, deployment: &Value) {
        let object: Deployment = serde_json::from_value(deployment.clone()).unwrap();
        self.deployments
            .apply_watcher_event(&watcher::Event::Apply(object));
    }

    /// Show `service` in the owned-object store, as the watch would.
    pub fn saw_service(&mut self, service: &Value) {
        let object: Service = serde_json::from_value(service.clone()).unwrap();
        self.services
            .apply_watcher_event(&watcher::Event::Apply(object));
    }
}

/// An `McpServer` named `name` in `default` with `spec`.
pub fn server(name: &str, spec: Value) -> McpServer {
    serde_json::from_value(json!({
        "apiVersion": "llamagate.io/v1alpha1",
        "kind": "McpServer",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "generation": 1, "resourceVersion": "1"},
        "spec": spec,
    }))
    .unwrap()
}

/// `server` with the status a status write applied.
pub fn with_status(server: &McpServer, call_body: &Value) -> McpServer {
    let mut object = serde_json::to_value(server).unwrap();
    object["status"] = call_body["status"].clone();
    serde_json::from_value(object).unwrap()
}

/// The condition `type_` of a status body, as `(status, reason)`.
pub fn condition(body: &Value, type_: &str) -> (String, String) {
    let condition = body["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {body}"));
    (
        condition["status"].as_str().unwrap().to_owned(),
        condition["reason"].as_str().unwrap().to_owned(),
    )
}
