//! Leader election against an in-memory Lease API (optimistic concurrency by
//! resourceVersion, as the real API server does), in paused virtual time: one leader at a
//! time, failover after the lease duration, and fencing (a leader that cannot renew stops
//! before another one starts).

use std::{
    collections::BTreeMap,
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use llamagate_operator::leader::{LeaderElector, Timings};
use serde_json::{Value, json};
use tokio::time::Instant;

type Body = BoxBody<Bytes, Infallible>;
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";

/// The leases the fake API holds, and a version counter.
#[derive(Default)]
struct Leases {
    objects: BTreeMap<String, Value>,
    version: u64,
}

fn answer(status: u16, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn failure(code: u16, reason: &str) -> Response<Body> {
    answer(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": reason}),
    )
}

impl Leases {
    fn handle(&mut self, method: &Method, path: &str, body: Value) -> Response<Body> {
        let name = path.strip_prefix(&format!("{LEASES}/")).map(str::to_owned);
        match (method, name) {
            (&Method::GET, Some(name)) => match self.objects.get(&name) {
                Some(lease) => answer(200, lease.clone()),
                None => failure(404, "NotFound"),
            },
            (&Method::POST, None) => {
                let name = body["metadata"]["name"].as_str().unwrap().to_owned();
                if self.objects.contains_key(&name) {
                    return failure(409, "AlreadyExists");
                }
                self.store(name, body)
            }
            (&Method::PUT, Some(name)) => {
                let current = self
                    .objects
                    .get(&name)
                    .map(|l| l["metadata"]["resourceVersion"].clone());
                if current != Some(body["metadata"]["resourceVersion"].clone()) {
                    return failure(409, "Conflict");
                }
                self.store(name, body)
            }
            _ => failure(405, "MethodNotAllowed"),
        }
    }

    fn store(&mut self, name: String, mut lease: Value) -> Response<Body> {
        self.version += 1;
        lease["apiVersion"] = json!("coordination.k8s.io/v1");
        lease["kind"] = json!("Lease");
        lease["metadata"]["namespace"] = json!("ops");
        lease["metadata"]["resourceVersion"] = json!(self.version.to_string());
        self.objects.insert(name, lease.clone());
        answer(200, lease)
    }

    fn holder(&self) -> Option<String> {
        self.objects.get("operator")?["spec"]["holderIdentity"]
            .as_str()
            .map(str::to_owned)
    }
}

/// A client of the shared leases; while `down` is set, its requests fail (a partition).
fn client(leases: &Arc<Mutex<Leases>>, down: &Arc<AtomicBool>) -> kube::Client {
    let (service, mut handle) =
        tower_test::mock::pair::<Request<kube::client::Body>, Response<Body>>();
    let leases = Arc::clone(leases);
    let down = Arc::clone(down);
    tokio::spawn(async move {
        while let Some((request, respond)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let response = if down.load(Ordering::SeqCst) {
                failure(503, "ServiceUnavailable")
            } else {
                leases
                    .lock()
                    .unwrap()
                    .handle(&parts.method, parts.uri.path(), body)
            };
            respond.send_response(response);
        }
    });
    kube::Client::new(service, "ops")
}

fn candidate(leases: &Arc<Mutex<Leases>>, identity: &str) -> (LeaderElector, Arc<AtomicBool>) {
    let down = Arc::new(AtomicBool::new(false));
    let elector = LeaderElector::new(
        client(leases, &down),
        "ops",
        "operator",
        identity,
        Timings::default(),
    )
    .unwrap();
    (elector, down)
}

#[tokio::test(start_paused = true)]
async fn one_leader_at_a_time_and_failover_after_the_lease_duration() {
    let leases = Arc::new(Mutex::new(Leases::default()));
    let (mut a, _) = candidate(&leases, "a");
    let (mut b, _) = candidate(&leases, "b");
    a.acquire().await;
    assert_eq!(leases.lock().unwrap().holder().as_deref(), Some("a"));

    // While a renews, b never gets the lease.
    let holding = tokio::spawn(async move { a.hold().await });
    let waited = tokio::time::timeout(Duration::from_secs(60), b.acquire()).await;
    assert!(waited.is_err(), "b must not lead while a renews");

    // a crashes: b leads once the record has stood still for the lease duration.
    holding.abort();
    let crashed = Instant::now();
    b.acquire().await;
    let took = crashed.elapsed();
    assert_eq!(leases.lock().unwrap().holder().as_deref(), Some("b"));
    let lease = Timings::default().lease_duration;
    assert!(
        took >= lease - Timings::default().retry_period,
        "took {took:?}"
    );
    assert!(
        took <= lease + 2 * Timings::default().retry_period,
        "took {took:?}"
    );
    let transitions =
        leases.lock().unwrap().objects["operator"]["spec"]["leaseTransitions"].clone();
    assert_eq!(transitions, 1);
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_cannot_renew_stops_before_another_can_start() {
    let leases = Arc::new(Mutex::new(Leases::default()));
    let (mut a, a_down) = candidate(&leases, "a");
    let (mut b, _) = candidate(&leases, "b");
    a.acquire().await;
    let partitioned = Instant::now();
    a_down.store(true, Ordering::SeqCst);
    let a_lost = tokio::spawn(async move {
        let error = a.hold().await;
        (Instant::now(), error.to_string())
    });
    let b_led = tokio::spawn(async move {
        b.acquire().await;
        Instant::now()
    });
    let (lost_at, error) = a_lost.await.unwrap();
    let led_at = b_led.await.unwrap();
    assert!(error.contains("not renewed within the deadline"), "{error}");
    assert!(
        lost_at - partitioned
            <= Timings::default().renew_deadline + Timings::default().retry_period
    );
    assert!(
        lost_at < led_at,
        "the old leader stops before the new one starts"
    );
}

#[tokio::test(start_paused = true)]
async fn a_released_lease_is_taken_at_once() {
    let leases = Arc::new(Mutex::new(Leases::default()));
    let (mut a, _) = candidate(&leases, "a");
    let (mut b, _) = candidate(&leases, "b");
    a.acquire().await;
    assert!(!b.try_acquire_or_renew().await.unwrap());
    a.release().await.unwrap();
    let released = Instant::now();
    b.acquire().await;
    assert!(released.elapsed() <= Timings::default().retry_period);
    assert_eq!(leases.lock().unwrap().holder().as_deref(), Some("b"));
}

#[tokio::test(start_paused = true)]
async fn racing_candidates_never_both_win() {
    let leases = Arc::new(Mutex::new(Leases::default()));
    let mut winners = 0;
    let mut electors: Vec<_> = (0..5)
        .map(|i| candidate(&leases, &format!("c{i}")).0)
        .collect();
    let attempts =
        futures::future::join_all(electors.iter_mut().map(|e| e.try_acquire_or_renew())).await;
    for attempt in attempts {
        winners += usize::from(attempt.unwrap());
    }
    assert_eq!(winners, 1);
}

#[test]
fn a_renew_deadline_past_the_lease_duration_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let leases = Arc::new(Mutex::new(Leases::default()));
        let down = Arc::new(AtomicBool::new(false));
        let timings = Timings {
            renew_deadline: Duration::from_secs(20),
            ..Timings::default()
        };
        let error = LeaderElector::new(client(&leases, &down), "ops", "operator", "a", timings)
            .err()
            .expect("refused");
        assert!(error.to_string().contains("renew deadline"), "{error}");
    });
}
