//! Resource subscriptions of the 2025 revisions (`resources/subscribe`), shared by every
//! caller of one server: the first subscriber of a URI subscribes at the server, the last
//! one to let go unsubscribes, and every `notifications/resources/updated` the server sends
//! reaches all the subscribers of the server ([`ServerClient::resource_updates`]). The
//! subscriptions live on one upstream session; when that one is gone (a restart, a broken
//! connection), the next session opened subscribes to every followed URI again.

// `resources/subscribe` is deprecated by the 2026 revision, which follows resources on
// `subscriptions/listen`; 2025-era servers still use it.
#![allow(deprecated)]

use std::sync::{Arc, Weak};

use crate::session::SharedSession;

use rmcp::model::{SubscribeRequestParams, UnsubscribeRequestParams};
use tokio::sync::broadcast;

use super::ServerClient;
use crate::error::McpError;

/// Updates kept for a subscriber that is slow to read them.
pub(crate) const UPDATES_BUFFERED: usize = 256;

/// A caller's subscription to one resource; dropping it lets go.
pub struct ResourceSubscription {
    server: Weak<ServerClient>,
    uri: String,
}

impl Drop for ResourceSubscription {
    fn drop(&mut self) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let last = {
            let mut subscribed = server.subscribed.lock().unwrap_or_else(|p| p.into_inner());
            match subscribed.get_mut(&self.uri) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    subscribed.remove(&self.uri);
                    true
                }
                None => false,
            }
        };
        let uri = std::mem::take(&mut self.uri);
        if last && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let timeout = server.description.timeouts.call;
                let _ = server
                    .request("resources/unsubscribe", timeout, |session| async move {
                        session
                            .peer()
                            .unsubscribe(UnsubscribeRequestParams::new(uri))
                            .await
                    })
                    .await;
            });
        }
    }
}

impl ServerClient {
    /// The URIs (as the server names them) of the resources it says were updated.
    pub fn resource_updates(&self) -> broadcast::Receiver<Arc<str>> {
        self.resource_updates.subscribe()
    }

    /// Follow `uri` (as the server names it): subscribed at the server by its first
    /// follower. A server that does not offer subscriptions says so as an error.
    pub async fn subscribe_resource(
        self: &Arc<Self>,
        uri: &str,
    ) -> Result<ResourceSubscription, McpError> {
        let first = {
            let mut subscribed = self.subscribed.lock().unwrap_or_else(|p| p.into_inner());
            let count = subscribed.entry(uri.to_owned()).or_insert(0);
            *count += 1;
            *count == 1
        };
        // Counted before asking: a failure lets go like any subscriber.
        let subscription = ResourceSubscription {
            server: Arc::downgrade(self),
            uri: uri.to_owned(),
        };
        if first {
            let timeout = self.description.timeouts.call;
            let params = SubscribeRequestParams::new(uri);
            self.request("resources/subscribe", timeout, |session| {
                *self.lock_subscribed_on() = Some(Arc::downgrade(&session));
                async move { session.peer().subscribe(params).await }
            })
            .await?;
        }
        Ok(subscription)
    }

    fn lock_subscribed_on(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<Weak<crate::session::Session>>> {
        self.subscribed_on.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session of a 2025-era server: when the one holding the subscriptions is gone,
    /// subscribe to every followed URI again on `session`.
    pub(crate) fn subscribe_again_if_lost(&self, session: &SharedSession) {
        let uris: Vec<String> = {
            let subscribed = self.subscribed.lock().unwrap_or_else(|p| p.into_inner());
            subscribed.keys().cloned().collect()
        };
        if uris.is_empty() {
            return;
        }
        {
            let mut on = self.lock_subscribed_on();
            let held = on
                .as_ref()
                .and_then(Weak::upgrade)
                .is_some_and(|held| !held.is_closed());
            if held {
                return;
            }
            *on = Some(Arc::downgrade(session));
        }
        tracing::debug!(server = %self.name(), count = uris.len(), "subscribing again to the followed resources");
        let peer = session.peer().clone();
        tokio::spawn(async move {
            for uri in uris {
                if let Err(e) = peer.subscribe(SubscribeRequestParams::new(uri)).await {
                    tracing::debug!("a resource subscription was not made again: {e}");
                }
            }
        });
    }
}
