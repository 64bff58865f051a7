//! The exposure policy: the servers a principal may use (a key limited to some servers does
//! not see the others, which look like unknown ones), the tools it sees of each (the
//! gateway's `mcp.tools` globs, then the server's own), and every server's list of a kind
//! gathered concurrently, each within one time bound, a slow or unhealthy server left out
//! and named rather than waited for. How the lists are named for a client (OpenAI functions
//! in the tool loop, prefixed names on `/mcp`) is the caller's: this decides what is in them.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use llamagate_mcp::{
    McpError, Registry, ServerClient,
    cache::{CacheScope, ListKind},
    description::ToolGlobs,
    server::Listing,
};

use crate::auth::Principal;

/// The servers of `registry` that `principal` may use, by name (the registry's order).
pub fn servers_for(registry: &Registry, principal: &Principal) -> Vec<Arc<ServerClient>> {
    registry
        .all()
        .into_iter()
        .filter(|s| principal.may_use(s.name()))
        .collect()
}

/// The server `name`, when `principal` may use it (`None` alike for one that does not
/// exist and one the key may not see, so a key cannot learn of servers it may not use).
pub fn server_for(
    registry: &Registry,
    principal: &Principal,
    name: &str,
) -> Option<Arc<ServerClient>> {
    registry.get(name).filter(|_| principal.may_use(name))
}

/// Whether `tool` of `server` is shown and may be called: the gateway's `mcp.tools` globs
/// (`global`) and the server's own allow and deny lists.
pub fn shows_tool(server: &ServerClient, global: &ToolGlobs, tool: &str) -> bool {
    server.tool_filter(global).allows(tool)
}

/// Whose lists are gathered: a `/mcp` session's own upstream sessions (server name →
/// session id), asked again (`fresh`) or as last given; every other server's from the
/// gateway's cache.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub owned: &'a BTreeMap<String, String>,
    pub fresh: bool,
}

impl Source<'static> {
    /// The gateway's cached lists alone (the tool loop, the REST API, stateless clients).
    pub fn shared() -> Self {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        Self {
            owned: &NONE,
            fresh: false,
        }
    }
}

/// One server's list of a kind, as gathered.
pub enum Listed {
    /// Its items (the server's own names), and how long the gateway may still serve them
    /// and to whom (`None` for a session's own list: nothing to cache or share).
    Items(Listing, Option<(Duration, CacheScope)>),
    /// The server does not offer this kind (no such capability, or "method not found").
    NotOffered,
    /// Left out: unhealthy, failed, or no answer within the bound.
    Failed(McpError),
}

fn capability(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools => "tools",
        ListKind::Prompts => "prompts",
        ListKind::Resources | ListKind::ResourceTemplates => "resources",
    }
}

/// Every server's list of `kind`, concurrently, each within `timeout`, in the order of
/// `servers`.
pub async fn list_each(
    servers: &[Arc<ServerClient>],
    kind: ListKind,
    principal: &str,
    source: Source<'_>,
    timeout: Duration,
) -> Vec<Listed> {
    let each = servers
        .iter()
        .map(|server| list_one(server, kind, principal, source, timeout));
    futures::future::join_all(each).await
}

async fn list_one(
    server: &ServerClient,
    kind: ListKind,
    principal: &str,
    source: Source<'_>,
    timeout: Duration,
) -> Listed {
    let health = server.health();
    if !health.accepts_calls() {
        return Listed::Failed(McpError::Unavailable {
            server: server.name().to_owned(),
            state: health.state,
            detail: None,
        });
    }
    let declared = server
        .info()
        .map(|info| info.capabilities.get(capability(kind)).is_some());
    if declared == Some(false) {
        return Listed::NotOffered;
    }
    let timed_out = || {
        Listed::Failed(McpError::Timeout {
            server: server.name().to_owned(),
            method: list_method(kind).to_owned(),
            timeout,
        })
    };
    if let Some(id) = source.owned.get(server.name()) {
        match tokio::time::timeout(timeout, server.owned_list(id, kind, source.fresh)).await {
            Ok(Some(Ok(list))) => return Listed::Items(list, None),
            Ok(Some(Err(e))) => return failed(e),
            // The session cannot be used here: listed on the pool, as its calls are.
            Ok(None) => {}
            Err(_) => return timed_out(),
        }
    }
    match tokio::time::timeout(timeout, server.list(kind, principal)).await {
        Ok(Ok((list, _))) => Listed::Items(list, server.list_freshness(kind, principal)),
        Ok(Err(e)) => failed(e),
        Err(_) => timed_out(),
    }
}

fn failed(error: McpError) -> Listed {
    match error {
        McpError::Server { code: -32601, .. } => Listed::NotOffered,
        other => Listed::Failed(other),
    }
}

fn list_method(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools => "tools/list",
        ListKind::Prompts => "prompts/list",
        ListKind::Resources => "resources/list",
        ListKind::ResourceTemplates => "resources/templates/list",
    }
}
