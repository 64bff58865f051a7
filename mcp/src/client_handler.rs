//! What the gateway does with messages a server sends on its own: change notifications
//! invalidate the cache, log messages and progress go to `tracing`, and server-to-client
//! requests get a correct answer (empty roots, "not supported" for sampling, a decline for
//! elicitation) — never silence.

// Roots, sampling and logging are deprecated by the 2026 revision (SEP-2577), but servers of
// the 2025 revisions still use them, so the gateway keeps answering and logging them.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::{
    ClientHandler,
    model::{
        ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
        ElicitRequestParams, ElicitResult, ElicitationAction, ErrorData, Implementation,
        ListRootsResult, LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam,
    },
    service::{NotificationContext, RequestContext, RoleClient},
};

use crate::cache::ListKind;

/// Called with the list whose `list_changed` notification arrived.
pub type OnListChanged = Arc<dyn Fn(ListKind) + Send + Sync>;

/// The client side of one session.
#[derive(Clone)]
pub struct ClientEvents {
    server: Arc<str>,
    on_list_changed: OnListChanged,
}

impl ClientEvents {
    /// Events of a session to `server`.
    pub fn new(server: Arc<str>, on_list_changed: OnListChanged) -> Self {
        Self {
            server,
            on_list_changed,
        }
    }
}

impl ClientHandler for ClientEvents {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("llamagate", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        // The gateway exposes no local files to servers.
        Ok(ListRootsResult::default())
    }

    async fn create_message(
        &self,
        _params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        tracing::info!(server = %self.server, "server asked for sampling; not supported by the gateway");
        Err(ErrorData::invalid_request(
            "sampling is not supported by the LlamaGate gateway",
            None,
        ))
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        tracing::info!(server = %self.server, "server asked for user input over a legacy session; declined");
        Ok(ElicitResult::new(ElicitationAction::Decline))
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!(server = %self.server, "tools/list_changed");
        (self.on_list_changed)(ListKind::Tools);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!(server = %self.server, "resources/list_changed");
        (self.on_list_changed)(ListKind::Resources);
        (self.on_list_changed)(ListKind::ResourceTemplates);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!(server = %self.server, "prompts/list_changed");
        (self.on_list_changed)(ListKind::Prompts);
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        tracing::debug!(server = %self.server, progress = params.progress, total = ?params.total, message = ?params.message, "progress");
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let logger = params.logger.as_deref().unwrap_or("");
        let data = params.data.to_string();
        match params.level {
            LoggingLevel::Debug => tracing::debug!(server = %self.server, logger, "{data}"),
            LoggingLevel::Info | LoggingLevel::Notice => {
                tracing::info!(server = %self.server, logger, "{data}")
            }
            LoggingLevel::Warning => tracing::warn!(server = %self.server, logger, "{data}"),
            _ => tracing::error!(server = %self.server, logger, "{data}"),
        }
    }
}
