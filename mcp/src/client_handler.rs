//! What the gateway does with messages a server sends on its own: change notifications
//! invalidate the cache, log messages and progress go to `tracing`, and server-to-client
//! requests go to the caller whose call they belong to when it can answer them
//! (`questions.rs`), or else get a correct answer (empty roots, "not supported" for
//! sampling, a decline for elicitation unless the client was told to accept forms with
//! their defaults) — never silence. A session that belongs to one client of the gateway
//! (`server/owned.rs`) also relays roots, and the handle that follows that client's GET
//! stream gives it the requests that belong to no call.

// Roots, sampling and logging are deprecated by the 2026 revision (SEP-2577), but servers of
// the 2025 revisions still use them, so the gateway keeps answering and logging them.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::{
    ClientHandler,
    model::{
        ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
        ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationCapability, ErrorData,
        FormElicitationCapability, Implementation, ListRootsResult, LoggingLevel,
        LoggingMessageNotificationParam, ProgressNotificationParam,
        ResourceUpdatedNotificationParam, RootsCapabilities, SamplingCapability,
    },
    service::{NotificationContext, RequestContext, RoleClient},
};

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    cache::ListKind,
    questions::{Asker, CallsInFlight, Question, RELATED},
};

/// How the client answers a server's request for user input (elicitation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Elicitation {
    /// Decline it: a gateway has no user to ask (the default), and declares no elicitation
    /// capability.
    #[default]
    Decline,
    /// Accept a form with the defaults its schema gives (SEP-1034), for unattended runs that
    /// trust the server's defaults (`llamagate mcp --elicitation accept-defaults`).
    AcceptDefaults,
}

/// The content of a form accepted as it is: each property's `default`, where it has one.
pub fn form_defaults(schema: &Value) -> Value {
    let defaults = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, property)| Some((name.clone(), property.get("default")?.clone())))
        .collect();
    Value::Object(defaults)
}

/// Called with the list whose `list_changed` notification arrived.
pub type OnListChanged = Arc<dyn Fn(ListKind) + Send + Sync>;

/// The client side of one session.
#[derive(Clone)]
pub struct ClientEvents {
    server: Arc<str>,
    on_list_changed: OnListChanged,
    elicitation: Elicitation,
    relayed: bool,
    calls: Arc<CallsInFlight>,
    resource_updates: Option<tokio::sync::broadcast::Sender<Arc<str>>>,
    owner: Option<Owner>,
}

/// What a session that belongs to one client relays besides sampling and elicitation.
#[derive(Clone, Default)]
struct Owner {
    /// The client declared roots: so does the session's handshake.
    declares_roots: bool,
    /// Answers the requests that belong to no call (the handle following the client's GET
    /// stream).
    unsolicited: Option<Asker>,
    /// Told of what the server says on the session on its own: resources updated (the
    /// session's own subscriptions), log messages (the handle following the client's GET
    /// stream).
    notices: Option<OnNotice>,
}

/// What the server of a followed session says to its owner on its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A resource the session subscribed to was updated (its URI as the server names it).
    ResourceUpdated(Arc<str>),
    /// A log message (`notifications/message` params), as the session's level lets through.
    Log(Value),
}

/// Called with each [`Notice`] of a followed session's server.
pub type OnNotice = Arc<dyn Fn(Notice) + Send + Sync>;

impl ClientEvents {
    /// Events of a session to `server`.
    pub fn new(server: Arc<str>, on_list_changed: OnListChanged) -> Self {
        Self {
            server,
            on_list_changed,
            elicitation: Elicitation::Decline,
            relayed: false,
            calls: Arc::default(),
            resource_updates: None,
            owner: None,
        }
    }

    /// A session that belongs to one client: its roots requests go to that client too, and
    /// its handshake declares roots when the client did.
    pub(crate) fn owned_by_client(mut self, declares_roots: bool) -> Self {
        self.owner.get_or_insert_with(Owner::default).declares_roots = declares_roots;
        self
    }

    /// Requests that belong to no call go to `asker`, and resource updates and log
    /// messages to `notices` (the owner's GET stream), not to everyone following the
    /// server's resources.
    pub(crate) fn followed_by(mut self, asker: Asker, notices: OnNotice) -> Self {
        let owner = self.owner.get_or_insert_with(Owner::default);
        owner.unsolicited = Some(asker);
        owner.notices = Some(notices);
        self
    }

    fn notices(&self) -> Option<&OnNotice> {
        self.owner.as_ref().and_then(|owner| owner.notices.as_ref())
    }

    /// Tell `updates` of every resource the server says was updated.
    pub fn with_resource_updates(
        mut self,
        updates: tokio::sync::broadcast::Sender<Arc<str>>,
    ) -> Self {
        self.resource_updates = Some(updates);
        self
    }

    /// Declare sampling and elicitation, because callers that can answer them are
    /// served (the gateway's `/mcp` endpoint): the server's questions go to them.
    pub fn with_requests_relayed(mut self, relayed: bool) -> Self {
        self.relayed = relayed;
        self
    }

    pub(crate) fn calls(&self) -> Arc<CallsInFlight> {
        self.calls.clone()
    }

    /// The answer of the caller this request belongs to, if one can answer it.
    async fn relayed<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
        context: &RequestContext<RoleClient>,
    ) -> Option<Result<R, ErrorData>> {
        let (asker, clock) = match self.calls.asker_for(context.meta.get(RELATED)).await {
            Some((asker, clock)) => (asker, Some(clock)),
            None => (self.owner.as_ref()?.unsolicited.clone()?, None),
        };
        let mut params =
            serde_json::to_value(params).unwrap_or_else(|_| Value::Object(Default::default()));
        let mut meta = context.meta.0.0.clone();
        meta.remove(RELATED);
        if !meta.is_empty()
            && let Some(object) = params.as_object_mut()
        {
            object.insert("_meta".to_owned(), Value::Object(meta));
        }
        tracing::debug!(server = %self.server, method, "relaying the server's request to its caller");
        let question = Question {
            method: method.to_owned(),
            params,
        };
        let answer = match clock {
            Some(clock) => clock.ask(&asker, question).await,
            None => asker.ask(question).await,
        };
        Some(answer.and_then(|answer| {
            serde_json::from_value(answer).map_err(|e| {
                ErrorData::internal_error(
                    format!("the client's answer to `{method}` is not a valid result: {e}"),
                    None,
                )
            })
        }))
    }

    /// Answer elicitation requests as `elicitation` says.
    pub fn with_elicitation(mut self, elicitation: Elicitation) -> Self {
        self.elicitation = elicitation;
        self
    }
}

impl ClientHandler for ClientEvents {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        if self.relayed {
            let mut elicitation = ElicitationCapability::default();
            elicitation.form = Some(FormElicitationCapability::default());
            // Forms only: a client that declared `elicitation` takes forms (the spec's
            // default); URL mode would need every client to have declared it too.
            capabilities.elicitation = Some(elicitation);
            capabilities.sampling = Some(SamplingCapability::default());
            // Roots only for a session of one client that declared them: a server keeps the
            // roots it was given per session (server-everything does), and pooled sessions
            // are shared by many clients' calls, so one client's roots would be shown to the
            // next. A pooled session's roots stay the gateway's own (none).
            if self
                .owner
                .as_ref()
                .is_some_and(|owner| owner.declares_roots)
            {
                let mut roots = RootsCapabilities::default();
                roots.list_changed = Some(true);
                capabilities.roots = Some(roots);
            }
        } else if self.elicitation == Elicitation::AcceptDefaults {
            let mut elicitation = ElicitationCapability::default();
            elicitation.form = Some(FormElicitationCapability::default());
            capabilities.elicitation = Some(elicitation);
        }
        ClientConfig::new(
            capabilities,
            Implementation::new("llamagate", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn list_roots(
        &self,
        context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        if self.owner.is_some()
            && let Some(answer) = self
                .relayed("roots/list", &serde_json::json!({}), &context)
                .await
        {
            return answer;
        }
        // The gateway exposes no local files to servers, and relays no client's roots over a
        // pooled session (see `get_info`).
        Ok(ListRootsResult::default())
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        if let Some(answer) = self
            .relayed("sampling/createMessage", &params, &context)
            .await
        {
            return answer;
        }
        tracing::info!(server = %self.server, "server asked for sampling; nobody to ask");
        Err(ErrorData::invalid_request(
            "this call's client cannot answer sampling requests (through LlamaGate, only an /mcp client that declares the `sampling` capability can)",
            None,
        ))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let Some(answer) = self.relayed("elicitation/create", &request, &context).await {
            return answer;
        }
        let form = match &request {
            ElicitRequestParams::FormElicitationParams {
                requested_schema, ..
            } if self.elicitation == Elicitation::AcceptDefaults => {
                serde_json::to_value(requested_schema).ok()
            }
            _ => None,
        };
        let Some(schema) = form else {
            tracing::info!(server = %self.server, "server asked for user input over a legacy session; declined");
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        tracing::info!(server = %self.server, "server asked for user input; accepted with the form's defaults");
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        result.content = Some(form_defaults(&schema));
        Ok(result)
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

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        tracing::debug!(server = %self.server, uri = %params.uri, "resources/updated");
        if let Some(notices) = self.notices() {
            notices(Notice::ResourceUpdated(Arc::from(params.uri)));
            return;
        }
        if let Some(updates) = &self.resource_updates {
            // Nobody following is no error.
            let _ = updates.send(Arc::from(params.uri));
        }
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
        if let Some(notices) = self.notices()
            && let Ok(params) = serde_json::to_value(&params)
        {
            notices(Notice::Log(params));
        }
        let logger = params.logger.as_deref().unwrap_or("");
        let data = params.data.to_string();
        // A server's own debug, info and notice messages are its chatter, not events for an
        // operator: at debug, so that a chatty (or flooding) server cannot fill the log.
        match params.level {
            LoggingLevel::Debug | LoggingLevel::Info | LoggingLevel::Notice => {
                tracing::debug!(server = %self.server, logger, "{data}")
            }
            LoggingLevel::Warning => tracing::warn!(server = %self.server, logger, "{data}"),
            _ => tracing::error!(server = %self.server, logger, "{data}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_accepted_as_it_is_holds_the_defaults_its_schema_gives() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "verified": {"type": "boolean", "default": true},
            "note": {"type": "string"}}});
        assert_eq!(
            form_defaults(&schema),
            serde_json::json!({"name": "John Doe", "age": 30, "verified": true})
        );
        assert_eq!(
            form_defaults(&serde_json::json!("garbage")),
            serde_json::json!({})
        );
    }
}
