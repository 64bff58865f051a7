//! Listing tools, resources, templates and prompts: every page, merged, with the server's
//! caching hints; items as the server sent them (unknown fields included, see `transport/recorded.rs`).

use std::{sync::Arc, time::Duration};

use rmcp::model::{
    ClientRequest, ListPromptsRequest, ListResourceTemplatesRequest, ListResourcesRequest,
    ListToolsRequest, PaginatedRequestParams, ServerResult,
};
use serde_json::Value;

use super::Listing;
use crate::{
    cache::{CacheScope, ListKind, Loaded},
    session::{SharedSession, send_recorded},
    transport::param_headers,
};

pub(crate) fn list_method(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools => "tools/list",
        ListKind::Resources => "resources/list",
        ListKind::ResourceTemplates => "resources/templates/list",
        ListKind::Prompts => "prompts/list",
    }
}

/// The field of a list result that holds its items.
fn items_key(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools => "tools",
        ListKind::Resources => "resources",
        ListKind::ResourceTemplates => "resourceTemplates",
        ListKind::Prompts => "prompts",
    }
}

/// Most pages followed for one list: a server whose cursors never end is an error, not a
/// loop.
const MAX_PAGES: usize = 1000;

/// The request for one page of `kind`.
fn page_request(kind: ListKind, cursor: Option<String>) -> ClientRequest {
    let params = PaginatedRequestParams::default().with_cursor(cursor);
    match kind {
        ListKind::Tools => ClientRequest::ListToolsRequest(ListToolsRequest::with_param(params)),
        ListKind::Resources => {
            ClientRequest::ListResourcesRequest(ListResourcesRequest::with_param(params))
        }
        ListKind::ResourceTemplates => ClientRequest::ListResourceTemplatesRequest(
            ListResourceTemplatesRequest::with_param(params),
        ),
        ListKind::Prompts => {
            ClientRequest::ListPromptsRequest(ListPromptsRequest::with_param(params))
        }
    }
}

/// One page as the server sent it.
async fn page(
    session: &SharedSession,
    kind: ListKind,
    cursor: Option<String>,
) -> Result<Value, rmcp::ServiceError> {
    let (typed, page) = send_recorded(session.clone(), page_request(kind, cursor), None).await?;
    match (kind, typed) {
        (ListKind::Tools, ServerResult::ListToolsResult(_))
        | (ListKind::Resources, ServerResult::ListResourcesResult(_))
        | (ListKind::ResourceTemplates, ServerResult::ListResourceTemplatesResult(_))
        | (ListKind::Prompts, ServerResult::ListPromptsResult(_)) => Ok(page),
        _ => Err(rmcp::ServiceError::UnexpectedResponse),
    }
}

/// Every page of a list, merged, with the server's caching hints: the shortest `ttlMs`
/// (none unless every page gave one), private if any page is.
pub(crate) async fn list_all(
    session: &SharedSession,
    kind: ListKind,
) -> Result<Loaded<Listing>, rmcp::ServiceError> {
    let mut items = Vec::new();
    let mut ttl_ms: Option<u64> = None;
    let mut private = false;
    let mut cursor = None;
    for number in 0..MAX_PAGES {
        let page = page(session, kind, cursor.take()).await?;
        let page_ttl = page.get("ttlMs").and_then(Value::as_u64);
        ttl_ms = match (number, ttl_ms, page_ttl) {
            (0, _, ttl) => ttl,
            (_, Some(merged), Some(ttl)) => Some(merged.min(ttl)),
            _ => None,
        };
        private |= page.get("cacheScope").and_then(Value::as_str) == Some("private");
        if let Some(Value::Array(page_items)) = page.get(items_key(kind)) {
            // A tool, resource or prompt is an object; anything else in the list is the
            // server's garbage, left out so that no caller has to expect it.
            let before = items.len();
            items.extend(page_items.iter().filter(|item| item.is_object()).cloned());
            if items.len() - before < page_items.len() {
                tracing::warn!(
                    "{} listed items that are not objects; they are left out",
                    list_method(kind)
                );
            }
        }
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
            _ => {
                return Ok(Loaded {
                    value: Arc::new(items),
                    ttl_hint: ttl_ms.map(Duration::from_millis),
                    scope: if private {
                        CacheScope::Private
                    } else {
                        CacheScope::Shared
                    },
                });
            }
        }
    }
    Err(rmcp::ServiceError::McpError(
        rmcp::model::ErrorData::internal_error(
            format!("{} returned more than {MAX_PAGES} pages", list_method(kind)),
            None,
        ),
    ))
}

impl super::ServerClient {
    /// A tool listing of a Streamable HTTP session of 2026-07-28 or later, as a client may
    /// use it (SEP-2243): tools with broken `x-mcp-header` annotations left out, said once
    /// per listing; the schemas of the rest kept for every session's `Mcp-Param-*` headers.
    pub(crate) fn screen_tools(
        &self,
        session: &SharedSession,
        kind: ListKind,
        mut listing: Loaded<Listing>,
    ) -> Loaded<Listing> {
        if kind != ListKind::Tools
            || self.description.transport() != crate::description::Transport::StreamableHttp
            || !param_headers::applies_to(&session.info().protocol_version)
        {
            return listing;
        }
        let mut tools = listing.value.to_vec();
        tools.retain(|tool| {
            let schema = tool.get("inputSchema").unwrap_or(&Value::Null);
            let Err(problem) = param_headers::validate(schema) else {
                return true;
            };
            let tool = tool.get("name").and_then(Value::as_str).unwrap_or("?");
            tracing::warn!(server = %self.name(), %tool, "tool left out: its input schema breaks the x-mcp-header rules ({problem})");
            false
        });
        self.tool_schemas.replace(&tools);
        listing.value = Arc::new(tools);
        listing
    }

    /// One page of a list, exactly as the server sent it (items and `nextCursor`), for
    /// clients that page themselves. Not cached: cursors are the server's to interpret.
    pub async fn list_page(
        &self,
        kind: ListKind,
        cursor: &str,
    ) -> Result<serde_json::Value, crate::error::McpError> {
        let cursor = (!cursor.is_empty()).then(|| cursor.to_owned());
        let timeout = self.description.timeouts.call;
        self.request(list_method(kind), timeout, |session| async move {
            page(&session, kind, cursor).await
        })
        .await
    }
}
