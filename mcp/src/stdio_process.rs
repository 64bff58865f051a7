//! A stdio MCP server's process, ours from start to end: its own process group (ending it
//! ends every process it started), stderr into the logs under the server's name, and stdout
//! checked line by line before anyone reads it: a line that is not JSON ends the stream
//! with a clear error (rmcp would skip it silently), and a line over the size limit is
//! replaced by an error answer to its request instead of being buffered. The client's
//! stdio transport and the stdio bridge both run their children through here.

use std::{process::Stdio, sync::Arc};

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream},
    process::ChildStdin,
};

use crate::{
    description::StdioCommand,
    error::McpError,
    transport::{id_of_truncated, too_large_response},
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

/// The pipes of a running child.
pub struct ChildPipes {
    /// The child's stdin: write one JSON-RPC message per line.
    pub stdin: ChildStdin,
    /// The child's stdout, checked: only whole JSON lines (and error answers standing in
    /// for lines over the limit); end of stream when the child exits or misbehaves.
    pub stdout: DuplexStream,
}

/// Start `command` for the server `server`. `max_line_bytes` bounds one message from the
/// child; `on_message` sees every message it forwards (the client records results there).
pub fn spawn(
    server: &str,
    command: &StdioCommand,
    max_line_bytes: usize,
    on_message: impl Fn(&str) + Send + 'static,
) -> Result<(ChildPipes, StdioChild), McpError> {
    let name: Arc<str> = Arc::from(server);
    let program = command.program();
    let mut wrapped = CommandWrap::with_new(program, |process| {
        if !command.inherit_env {
            process.env_clear();
        }
        process
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &command.cwd {
            process.current_dir(dir);
        }
    });
    wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let mut child = wrapped.spawn().map_err(|e| McpError::Connect {
        server: server.to_owned(),
        detail: format!("cannot start `{program}`: {e}"),
    })?;
    let broken = |what: &str| McpError::Connect {
        server: server.to_owned(),
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
        max_line_bytes,
        on_message,
    ));
    Ok((
        ChildPipes {
            stdin,
            stdout: checked_reader,
        },
        StdioChild {
            child,
            server: name,
        },
    ))
}

/// A server's stderr, line by line at debug: servers write whole tracebacks there (the
/// Python SDK logs ~90 lines of validation errors for one unknown method), which would bury
/// everything else at info. When it closes (the process ended), its last line is logged at
/// info: usually the reason a crashed server gives.
async fn log_stderr(server: Arc<str>, stderr: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(stderr).lines();
    let mut count = 0u64;
    let mut last = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let line: String = line.chars().take(2000).collect();
        tracing::debug!(target: "llamagate::mcp::stderr", server = %server, "{line}");
        count += 1;
        if !line.trim().is_empty() {
            last = line;
        }
    }
    if count > 0 {
        tracing::info!(target: "llamagate::mcp::stderr", server = %server, lines = count, last = %last, "the server's stderr closed (all of it at debug: RUST_LOG=llamagate::mcp::stderr=debug)");
    }
}

/// How much of an oversized line is kept to find its request id.
const KEEP: usize = 4096;

/// Forward complete, well-formed JSON lines from the child's stdout to rmcp.
pub(crate) async fn check_stdout(
    server: Arc<str>,
    stdout: impl AsyncRead + Unpin,
    mut to_rmcp: impl AsyncWrite + Unpin,
    max_line: usize,
    on_message: impl Fn(&str),
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
                on_message(text);
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
