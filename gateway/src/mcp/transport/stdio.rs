//! A stdio MCP server: our own child process (its own process group, so closing kills every
//! process it started), stderr into the logs with the server's name, and stdout checked line
//! by line before rmcp's codec sees it: a line that is not JSON ends the session with a clear
//! error (rmcp would skip it silently), and a line over the size limit is answered with an
//! error for its request instead of being buffered.

use std::{process::Stdio, sync::Arc};

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::{service::RoleClient, transport::async_rw::AsyncRwTransport};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::{id_of_truncated, too_large_response};
use crate::{
    config::ServerConfig,
    mcp::{error::McpError, raw::RawResults},
};

/// The running child. Dropping it kills the process group.
pub struct StdioChild {
    child: Box<dyn ChildWrapper>,
    server: Arc<str>,
}

impl StdioChild {
    /// OS process id (for tests and logs).
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kill the whole process group and reap the child, so nothing is left behind.
    pub async fn terminate(mut self) {
        if let Err(e) = Box::into_pin(self.child.kill()).await {
            tracing::debug!(server = %self.server, "kill: {e}");
        }
        let _ = self.child.wait().await;
    }
}

impl Drop for StdioChild {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The rmcp transport of a stdio session.
pub type StdioTransport =
    AsyncRwTransport<RoleClient, tokio::io::DuplexStream, tokio::process::ChildStdin>;

/// Start the server's command and connect its pipes.
pub fn spawn(
    server: &ServerConfig,
    max_message_bytes: usize,
    raw: RawResults,
) -> Result<(StdioTransport, StdioChild), McpError> {
    let name: Arc<str> = Arc::from(server.name.as_str());
    let program = server.command.as_deref().unwrap_or_default();
    let mut command = CommandWrap::with_new(program, |command| {
        command
            .args(&server.args)
            .envs(server.env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &server.cwd {
            command.current_dir(dir);
        }
    });
    command.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let mut child = command.spawn().map_err(|e| McpError::Connect {
        server: server.name.clone(),
        detail: format!("cannot start `{program}`: {e}"),
    })?;
    let broken = |what: &str| McpError::Connect {
        server: server.name.clone(),
        detail: format!("no {what} pipe"),
    };
    let stdin = child.stdin().take().ok_or_else(|| broken("stdin"))?;
    let stdout = child.stdout().take().ok_or_else(|| broken("stdout"))?;
    if let Some(stderr) = child.stderr().take() {
        tokio::spawn(log_stderr(name.clone(), stderr));
    }
    let (checked_writer, checked_reader) = tokio::io::duplex(64 * 1024);
    tokio::spawn(check_stdout(
        name.clone(),
        stdout,
        checked_writer,
        max_message_bytes,
        raw,
    ));
    Ok((
        AsyncRwTransport::new_client(checked_reader, stdin),
        StdioChild {
            child,
            server: name,
        },
    ))
}

async fn log_stderr(server: Arc<str>, stderr: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line: String = line.chars().take(2000).collect();
        tracing::info!(target: "llamagate::mcp::stderr", server = %server, "{line}");
    }
}

/// How much of an oversized line is kept to find its request id.
const KEEP: usize = 4096;

/// Forward complete, well-formed JSON lines from the child's stdout to rmcp.
async fn check_stdout(
    server: Arc<str>,
    stdout: impl AsyncRead + Unpin,
    mut to_rmcp: impl AsyncWrite + Unpin,
    max_line: usize,
    raw: RawResults,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut oversized = false;
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::warn!(server = %server, "reading the server's stdout failed: {e}");
                break;
            }
        };
        let (part, complete) = match chunk.iter().position(|b| *b == b'\n') {
            Some(at) => (&chunk[..at], true),
            None => (chunk, false),
        };
        if !oversized && line.len() + part.len() > max_line {
            oversized = true;
            line.truncate(KEEP);
        }
        if oversized {
            let room = KEEP.saturating_sub(line.len());
            line.extend_from_slice(&part[..part.len().min(room)]);
            tail.extend_from_slice(&part[part.len().saturating_sub(KEEP)..]);
            if tail.len() > KEEP {
                tail.drain(..tail.len() - KEEP);
            }
        } else {
            line.extend_from_slice(part);
        }
        let consumed = part.len() + usize::from(complete);
        reader.consume(consumed);
        if !complete {
            continue;
        }
        let forwarded = if oversized {
            match id_of_truncated(&line, &tail) {
                Some(id) => {
                    tracing::warn!(server = %server, limit = max_line, "answer over the size limit refused");
                    Some(too_large_response(id, max_line).into_bytes())
                }
                None => {
                    tracing::error!(server = %server, limit = max_line, "message over the size limit without a readable id; closing the session");
                    None
                }
            }
        } else if line.iter().all(u8::is_ascii_whitespace) {
            Some(Vec::new())
        } else if serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_ok() {
            if let Ok(text) = std::str::from_utf8(&line) {
                raw.record_text(text);
            }
            Some(std::mem::take(&mut line))
        } else {
            let preview: String = String::from_utf8_lossy(&line).chars().take(120).collect();
            tracing::error!(server = %server, line = %preview, "the server wrote a line that is not JSON-RPC on stdout; closing the session (servers must log to stderr)");
            None
        };
        let Some(message) = forwarded else { break };
        if !message.is_empty()
            && (to_rmcp.write_all(&message).await.is_err()
                || to_rmcp.write_all(b"\n").await.is_err())
        {
            break;
        }
        line.clear();
        tail.clear();
        oversized = false;
    }
    // Dropping the writer is end-of-stream for rmcp: the session closes and is replaced.
    let _ = to_rmcp.shutdown().await;
}
