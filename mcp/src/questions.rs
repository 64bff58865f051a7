//! Requests a server sends back in the middle of a call (sampling and elicitation, the 2025
//! revisions' server-to-client requests; not roots, see `client_handler.rs`), handed to
//! whoever made the call when it can answer them ([`Asker`]), rather than answered by the
//! gateway itself.
//!
//! Sessions are pooled and shared by concurrent calls, so a question must be traced to its
//! call. Over Streamable HTTP a server sends it on the call's own response stream, and the
//! transport marks it with the call's JSON-RPC id (`_meta[RELATED]`): exact. The other
//! transports (stdio, WebSocket, legacy SSE, and a Streamable HTTP server's GET stream) carry
//! no such link, so a question is given to a call only when that call is the session's one
//! request in flight: otherwise it might belong to someone else's call, and is answered as
//! if nobody could (no question or answer ever crosses between callers).

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;
use rmcp::model::{ErrorCode, ErrorData, RequestId};
use serde_json::Value;
use tokio::{sync::Notify, time::Instant};

/// The `_meta` key under which the Streamable HTTP transport names the call (its JSON-RPC
/// id) on whose response stream a server's request came. Removed before it goes further.
pub(crate) const RELATED: &str = "io.llamagate/relatedRequestId";

/// How long a question may wait for its call to be registered (the request is on the wire
/// a moment before its id is known here).
const REGISTRATION_GRACE: Duration = Duration::from_millis(50);

/// A server's request to the client: `sampling/createMessage` or `elicitation/create`, with
/// its params as the server sent them.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The JSON-RPC method.
    pub method: String,
    /// Its params (`_meta` included, less the gateway's own key).
    pub params: Value,
}

/// The caller's refusal of a question (or its failure to answer), as a JSON-RPC error for
/// the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// JSON-RPC error code.
    pub code: i32,
    /// What went wrong, for the server.
    pub message: String,
    /// The error's `data`, as the client gave it.
    pub data: Option<Value>,
}

impl From<Refusal> for ErrorData {
    fn from(refusal: Refusal) -> Self {
        ErrorData::new(ErrorCode(refusal.code), refusal.message, refusal.data)
    }
}

type AskFn = dyn Fn(Question) -> BoxFuture<'static, Result<Value, Refusal>> + Send + Sync;

/// Answers the questions of one call: returns the client's result (or its error) for each.
#[derive(Clone)]
pub struct Asker(Arc<AskFn>);

impl Asker {
    /// An asker calling `ask` for each question.
    pub fn new<F, Fut>(ask: F) -> Self
    where
        F: Fn(Question) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, Refusal>> + Send + 'static,
    {
        Self(Arc::new(move |question| Box::pin(ask(question))))
    }

    /// Hand `question` to the caller and wait for its answer.
    pub(crate) async fn ask(&self, question: Question) -> Result<Value, ErrorData> {
        (self.0)(question).await.map_err(ErrorData::from)
    }
}

impl fmt::Debug for Asker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Asker")
    }
}

/// The requests in flight on one session, and the askers of those that have one.
#[derive(Default)]
pub(crate) struct CallsInFlight {
    in_flight: AtomicUsize,
    askers: Mutex<HashMap<String, (Asker, Arc<AskClock>)>>,
}

/// A request's place in [`CallsInFlight`]; dropping it ends it.
pub(crate) struct InFlight {
    calls: Arc<CallsInFlight>,
    key: Option<String>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.calls.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Some(key) = self.key.take() {
            self.calls.lock().remove(&key);
        }
    }
}

fn key(id: &Value) -> String {
    id.to_string()
}

impl CallsInFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Asker, Arc<AskClock>)>> {
        self.askers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a request in (before it is sent).
    pub(crate) fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            calls: self.clone(),
            key: None,
        }
    }

    /// Name the asker of the request `entered` (once its id is known).
    pub(crate) fn ask_with(
        &self,
        entered: &mut InFlight,
        id: &RequestId,
        asker: Asker,
        clock: Arc<AskClock>,
    ) {
        let key = key(&serde_json::to_value(id).unwrap_or(Value::Null));
        self.lock().insert(key.clone(), (asker, clock));
        entered.key = Some(key);
    }

    /// Whom to give a question whose `_meta` is `meta`: the call it names, or the session's
    /// only request in flight when it names none.
    pub(crate) async fn asker_for(
        &self,
        related: Option<&Value>,
    ) -> Option<(Asker, Arc<AskClock>)> {
        let deadline = Instant::now() + REGISTRATION_GRACE;
        loop {
            let (found, registering) = {
                let askers = self.lock();
                let sole = self.in_flight.load(Ordering::Acquire) == 1;
                match related {
                    Some(id) => (askers.get(&key(id)).cloned(), true),
                    None if sole && askers.len() == 1 => (askers.values().next().cloned(), false),
                    // The one call in flight was sent and may not have registered its asker.
                    None => (None, sole && askers.is_empty()),
                }
            };
            // A question naming a call not registered yet: that call's id is being recorded.
            if found.is_some() || !registering || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The time a call spent waiting for its client's answers, which does not count against the
/// call's timeout: the server is not working while a person reads a form.
#[derive(Default)]
pub struct AskClock {
    asking: AtomicUsize,
    waited_ms: AtomicU64,
    answered: Notify,
}

impl AskClock {
    /// Ask `asker`, the clock stopped meanwhile.
    pub(crate) async fn ask(&self, asker: &Asker, question: Question) -> Result<Value, ErrorData> {
        self.asking.fetch_add(1, Ordering::AcqRel);
        let started = Instant::now();
        let answer = asker.ask(question).await;
        let waited = started.elapsed().as_millis() as u64;
        self.waited_ms.fetch_add(waited, Ordering::AcqRel);
        self.asking.fetch_sub(1, Ordering::AcqRel);
        self.answered.notify_waiters();
        answer
    }

    fn waited(&self) -> Duration {
        Duration::from_millis(self.waited_ms.load(Ordering::Acquire))
    }
}

/// `work` within `timeout` of working time: the time `clock` says was spent waiting for the
/// client is added back. `None` when the time ran out.
pub(crate) async fn within<F: Future>(
    timeout: Duration,
    clock: Option<&AskClock>,
    work: F,
) -> Option<F::Output> {
    let Some(clock) = clock else {
        return tokio::time::timeout(timeout, work).await.ok();
    };
    let started = Instant::now();
    tokio::pin!(work);
    loop {
        let answered = clock.answered.notified();
        let deadline = started + timeout + clock.waited();
        tokio::select! {
            output = &mut work => return Some(output),
            () = tokio::time::sleep_until(deadline) => {}
        }
        if clock.asking.load(Ordering::Acquire) > 0 {
            // Wait for the answer (the asker bounds how long), still serving the work.
            tokio::select! {
                output = &mut work => return Some(output),
                () = answered => {}
            }
        } else if started + timeout + clock.waited() <= Instant::now() {
            return None;
        }
    }
}

/// A request the server sends on the response stream of our request `id` belongs to that
/// request: say so in its `_meta`, for the handler to give it to the right caller
/// (`questions.rs`).
pub(crate) fn mark_related(data: &mut String, id: &Value) {
    if !data.contains("\"method\"") {
        return;
    }
    let Ok(Value::Object(mut message)) = serde_json::from_str(data) else {
        return;
    };
    if !message.contains_key("id") || !message.contains_key("method") {
        return;
    }
    let params = message
        .entry("params")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(params) = params.as_object_mut() else {
        return;
    };
    let meta = params
        .entry("_meta")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert(RELATED.to_owned(), id.clone());
        *data = Value::Object(message).to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asker(answer: &'static str) -> Asker {
        Asker::new(move |_| async move { Ok(Value::from(answer)) })
    }

    fn question() -> Question {
        Question {
            method: "roots/list".into(),
            params: Value::Null,
        }
    }

    #[tokio::test]
    async fn a_question_goes_to_the_call_it_names_or_to_the_only_call_in_flight() {
        let calls = Arc::new(CallsInFlight::default());
        let mut first = calls.enter();
        calls.ask_with(
            &mut first,
            &RequestId::Number(1),
            asker("one"),
            Arc::default(),
        );
        let (only, _) = calls.asker_for(None).await.expect("the one call in flight");
        assert_eq!(only.ask(question()).await.unwrap(), "one");

        let mut second = calls.enter();
        calls.ask_with(
            &mut second,
            &RequestId::Number(2),
            asker("two"),
            Arc::default(),
        );
        assert!(
            calls.asker_for(None).await.is_none(),
            "two calls in flight: an unmarked question belongs to neither"
        );
        let (named, _) = calls.asker_for(Some(&Value::from(2))).await.unwrap();
        assert_eq!(named.ask(question()).await.unwrap(), "two");

        drop(second);
        let unasked = calls.enter();
        assert!(
            calls.asker_for(None).await.is_none(),
            "a call without an asker is in flight too"
        );
        drop(unasked);
        drop(first);
        assert!(calls.asker_for(Some(&Value::from(1))).await.is_none());
        assert_eq!(calls.in_flight.load(Ordering::Acquire), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_question_that_comes_before_the_only_call_registered_its_asker_waits_for_it() {
        let calls = Arc::new(CallsInFlight::default());
        // The call is on the wire; its asker is registered a moment later.
        let mut call = calls.enter();
        let asking = tokio::spawn({
            let calls = calls.clone();
            async move { calls.asker_for(None).await.map(|(asker, _)| asker) }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        calls.ask_with(
            &mut call,
            &RequestId::Number(1),
            asker("late"),
            Arc::default(),
        );
        let asker = asking
            .await
            .unwrap()
            .expect("the sole call's asker, once registered");
        assert_eq!(asker.ask(question()).await.unwrap(), "late");
    }

    #[test]
    fn a_request_on_a_calls_stream_is_marked_with_that_call_and_nothing_else_is() {
        let mut request = r#"{"jsonrpc":"2.0","id":7,"method":"roots/list"}"#.to_owned();
        mark_related(&mut request, &Value::from(3));
        let marked: Value = serde_json::from_str(&request).unwrap();
        assert_eq!(marked["params"]["_meta"][RELATED], 3);
        for untouched in [
            r#"{"jsonrpc":"2.0","id":3,"result":{"method":"x"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"x","params":[1]}"#,
            "not json \"method\"",
        ] {
            let mut data = untouched.to_owned();
            mark_related(&mut data, &Value::from(3));
            assert_eq!(data, untouched);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn time_spent_waiting_for_the_client_does_not_count_against_the_call() {
        let clock = Arc::new(AskClock::default());
        let slow_person = Asker::new(|_| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(Value::Null)
        });
        let asking = clock.clone();
        let work = async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = asking.ask(&slow_person, question()).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            "done"
        };
        let within_budget = within(Duration::from_secs(5), Some(&clock), work).await;
        assert_eq!(within_budget, Some("done"), "2 s of work, 30 s of asking");

        let working = async {
            tokio::time::sleep(Duration::from_secs(6)).await;
        };
        let clock = AskClock::default();
        assert!(
            within(Duration::from_secs(5), Some(&clock), working)
                .await
                .is_none()
        );
    }
}
