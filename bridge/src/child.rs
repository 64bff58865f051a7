//! One child process of the bridge, speaking newline-delimited JSON-RPC: requests written
//! to its stdin wait for the answer with their id; everything else it writes (its own
//! requests and notifications) goes to whoever listens for it (a session's GET stream or a
//! WebSocket).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use llamagate_mcp::{
    McpError, StdioCommand,
    stdio_process::{self, StdioChild},
};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::ChildStdin,
    sync::{mpsc, oneshot},
};

/// Messages the child sends on its own, waiting for a listener; new ones are dropped past
/// this many (a client that never opens its GET stream must not grow memory), except on a
/// lossless child (a WebSocket's, whose pump drains them: there they wait).
const OUTBOUND: usize = 256;

/// Why an exchange with the child failed.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The process has exited (or its stdout closed).
    #[error("the MCP server process has exited")]
    Exited,
    /// No answer within the bridge's request timeout.
    #[error("the MCP server did not answer within {0:?}")]
    Timeout(Duration),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// A running child.
pub struct Child {
    stdin: tokio::sync::Mutex<ChildStdin>,
    pending: Pending,
    outbound: Mutex<Option<mpsc::Receiver<Value>>>,
    alive: Arc<AtomicBool>,
    lossless: Arc<AtomicBool>,
    process: Mutex<Option<StdioChild>>,
}

/// The key of a JSON-RPC id in the table of pending requests.
fn id_key(id: &Value) -> String {
    id.to_string()
}

impl Child {
    /// Start `command`; `max_line` bounds one message from it.
    pub fn spawn(command: &StdioCommand, max_line: usize) -> Result<Arc<Self>, McpError> {
        let (pipes, process) = stdio_process::spawn("bridge", command, max_line, |_| {})?;
        let pending: Pending = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let lossless = Arc::new(AtomicBool::new(false));
        let (outbound_tx, outbound_rx) = mpsc::channel(OUTBOUND);
        tokio::spawn(read_messages(
            pipes.stdout,
            pending.clone(),
            outbound_tx,
            alive.clone(),
            lossless.clone(),
        ));
        Ok(Arc::new(Self {
            stdin: tokio::sync::Mutex::new(pipes.stdin),
            pending,
            outbound: Mutex::new(Some(outbound_rx)),
            alive,
            lossless,
            process: Mutex::new(Some(process)),
        }))
    }

    /// Every message of the child reaches its listener, which drains them continuously
    /// (a WebSocket carries answers this way too): the child waits instead of losing one.
    pub fn make_lossless(&self) {
        self.lossless.store(true, Ordering::Release);
    }

    /// False once the process has exited.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Write one message.
    pub async fn send(&self, message: &Value) -> Result<(), ChildError> {
        if !self.is_alive() {
            return Err(ChildError::Exited);
        }
        let mut line = serde_json::to_vec(message).map_err(|_| ChildError::Exited)?;
        line.push(b'\n');
        let mut stdin = self.stdin.lock().await;
        stdin
            .write_all(&line)
            .await
            .map_err(|_| ChildError::Exited)?;
        stdin.flush().await.map_err(|_| ChildError::Exited)
    }

    /// Write `request` (it has an `id`) and wait for its answer.
    pub async fn request(&self, request: &Value, timeout: Duration) -> Result<Value, ChildError> {
        let key = id_key(&request["id"]);
        let (sender, answer) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), sender);
        let forget = || {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        };
        // One bound for writing and answering: a child that stops reading its stdin must not
        // hold the request (and its session) forever.
        let exchange = async {
            self.send(request).await?;
            answer.await.map_err(|_| ChildError::Exited)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                forget();
                Err(e)
            }
            Err(_) => {
                forget();
                Err(ChildError::Timeout(timeout))
            }
        }
    }

    /// The stream of what the child sends on its own; one listener at a time (`None` while
    /// another holds it).
    pub fn take_outbound(&self) -> Option<mpsc::Receiver<Value>> {
        self.outbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Give the stream back when its listener goes away.
    pub fn return_outbound(&self, receiver: mpsc::Receiver<Value>) {
        *self.outbound.lock().unwrap_or_else(|p| p.into_inner()) = Some(receiver);
    }

    /// End the process and its process group.
    pub async fn terminate(&self) {
        let process = self
            .process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(process) = process {
            process.terminate().await;
        }
        self.alive.store(false, Ordering::Release);
    }
}

/// Read the child's messages: answers to pending requests go to their waiters, the rest to
/// the outbound queue (the oldest dropped when nobody drains it).
async fn read_messages(
    stdout: tokio::io::DuplexStream,
    pending: Pending,
    outbound: mpsc::Sender<Value>,
    alive: Arc<AtomicBool>,
    lossless: Arc<AtomicBool>,
) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let is_answer = message.get("method").is_none()
            && (message.get("result").is_some() || message.get("error").is_some());
        if is_answer {
            let waiter = message.get("id").and_then(|id| {
                pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id_key(id))
            });
            if let Some(waiter) = waiter {
                let _ = waiter.send(message);
                continue;
            }
        }
        if lossless.load(Ordering::Acquire) {
            if outbound.send(message).await.is_err() {
                break;
            }
            continue;
        }
        if let Err(mpsc::error::TrySendError::Full(message)) = outbound.try_send(message) {
            tracing::debug!(
                "a message of the MCP server was dropped: nobody listens for it ({})",
                message["method"].as_str().unwrap_or("answer")
            );
        }
    }
    alive.store(false, Ordering::Release);
    // Waiters learn the child is gone when their senders drop.
    pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
}
