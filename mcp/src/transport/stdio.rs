//! The stdio transport: rmcp's line codec over a child of [`crate::stdio_process`], with
//! every message the child writes recorded as sent (`recorded.rs`).

use rmcp::{service::RoleClient, transport::async_rw::AsyncRwTransport};

use super::recorded::RawResults;
use crate::{
    description::StdioCommand,
    error::McpError,
    stdio_process::{self, StdioChild},
};

/// The rmcp transport of a stdio session.
pub type StdioTransport =
    AsyncRwTransport<RoleClient, tokio::io::DuplexStream, tokio::process::ChildStdin>;

/// Start the server's command and connect its pipes.
pub fn spawn(
    server: &str,
    command: &StdioCommand,
    max_message_bytes: usize,
    raw: RawResults,
) -> Result<(StdioTransport, StdioChild), McpError> {
    let (pipes, child) = stdio_process::spawn(server, command, max_message_bytes, move |text| {
        raw.record_text(text)
    })?;
    Ok((
        AsyncRwTransport::new_client(pipes.stdout, pipes.stdin),
        child,
    ))
}
