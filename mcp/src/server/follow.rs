//! What a client's own session at a server (`owned.rs`) hears and is told outside its
//! calls. The server sends it requests and notices on the session's GET stream, which the
//! replica holding the client's GET stream opens and follows
//! ([`ServerClient::follow_owned_session`]); the client's subscriptions, roots changes and
//! log level are passed on to it from any replica.

use std::sync::Arc;

use rmcp::model::{SubscribeRequestParams, UnsubscribeRequestParams};

use super::{ServerClient, close_when_unused};
use crate::{
    client_handler::OnNotice, error::McpError, questions::Asker, session::SharedSession,
    transport::owned::Ownership,
};

impl ServerClient {
    /// Follow the owned session `id` on this replica while the result is held: open its GET
    /// stream, give `asker` the requests that come on it (they belong to no call of the
    /// client's) and `notices` what it says on its own (updates of the session's own
    /// subscriptions, its log messages). Its list changes are heard as on any session.
    pub async fn follow_owned_session(
        &self,
        id: &str,
        asker: Asker,
        notices: OnNotice,
    ) -> Result<FollowedSession, McpError> {
        if self.info().is_none() {
            let _ = self.connect_vacant().await;
        }
        if !self.keeps_sessions() || self.owned_expired(id) {
            return Err(McpError::Connect {
                server: self.name().to_owned(),
                detail: "the server keeps no session to follow".to_owned(),
            });
        }
        let ownership = Ownership::followed(Arc::from(id), &self.known_info());
        let events = self
            .events()
            .owned_by_client(false)
            .followed_by(asker, notices);
        let session = self.resumed(&ownership, events).await?;
        Ok(FollowedSession(Some(Arc::new(session))))
    }

    /// Subscribe the owned session `id` to the resource `uri` (as the server names it), or
    /// unsubscribe it (`on` false): its updates come on the session's GET stream, to the
    /// replica that follows it. False when the session cannot be used (the server forgot
    /// it), or the server offers no subscriptions: the caller follows the resource on a
    /// pooled session instead.
    // Deprecated by the 2026 revision; an owned session is a 2025-era server's.
    #[allow(deprecated)]
    pub async fn subscribe_owned(&self, id: &str, uri: &str, on: bool) -> Result<bool, McpError> {
        let offered = self
            .info()
            .is_some_and(|info| info.capabilities["resources"]["subscribe"] == true);
        if !offered {
            return Ok(false);
        }
        let method = if on {
            "resources/subscribe"
        } else {
            "resources/unsubscribe"
        };
        let sent = self.request_owned(id, method, |session| async move {
            if on {
                session
                    .peer()
                    .subscribe(SubscribeRequestParams::new(uri))
                    .await
            } else {
                let params = UnsubscribeRequestParams::new(uri);
                session.peer().unsubscribe(params).await
            }
        });
        match sent.await {
            Some(Ok(())) => Ok(true),
            Some(Err(e)) if !e.is_expired_session() => Err(e),
            // Forgotten by the server: followed on a pooled session instead.
            None | Some(Err(_)) => Ok(false),
        }
    }

    /// Tell the server the owner of session `id` changed its roots (the server asks for them
    /// again, on the session's GET stream).
    pub async fn roots_changed(&self, id: &str) -> Result<(), McpError> {
        let Some(session) = self.owned_session(id).await else {
            return Ok(());
        };
        session
            .peer()
            .notify_roots_list_changed()
            .await
            .map_err(|e| McpError::Connect {
                server: self.name().to_owned(),
                detail: format!("could not pass on `notifications/roots/list_changed`: {e}"),
            })
    }

    /// Set the log level of the owned session `id` (`logging/setLevel`, the client's own),
    /// when the server offers logging; its messages reach the follower of the session.
    // Deprecated by the 2026 revision; an owned session is a 2025-era server's.
    #[allow(deprecated)]
    pub async fn set_owned_log_level(&self, id: &str, level: &str) -> Result<(), McpError> {
        let offered = self
            .info()
            .is_some_and(|info| info.capabilities.get("logging").is_some());
        let level = serde_json::from_value::<rmcp::model::LoggingLevel>(level.into());
        let (true, Ok(level)) = (offered, level) else {
            return Ok(());
        };
        let params = rmcp::model::SetLevelRequestParams::new(level);
        let sent = self.request_owned(id, "logging/setLevel", |session| async move {
            session.peer().set_level(params).await
        });
        sent.await.unwrap_or(Ok(()))
    }
}

/// An owned session followed on this replica (its GET stream open); let go when dropped,
/// and not ended.
pub struct FollowedSession(Option<SharedSession>);

impl FollowedSession {
    /// Let go of it now: its GET stream is closed when this returns.
    pub async fn close(mut self) {
        let Some(session) = self.0.take() else {
            return;
        };
        match Arc::try_unwrap(session) {
            Ok(session) => session.close().await,
            Err(shared) => close_when_unused(shared),
        }
    }
}

impl Drop for FollowedSession {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            close_when_unused(session);
        }
    }
}
