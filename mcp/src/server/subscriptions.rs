//! What the gateway follows at a server: the list changes of a 2026-07-28 server (its
//! `subscriptions/listen` stream), and resource subscriptions, shared by every caller of one
//! server: the first follower of a URI subscribes at the server, the last one to let go
//! ends it, and every update the server sends reaches all the followers of the server
//! ([`ServerClient::resource_updates`]).
//!
//! A 2025-era server is asked with `resources/subscribe` and sends
//! `notifications/resources/updated` on its session; a 2026-07-28 server gets a
//! `subscriptions/listen` stream per URI (`resourceSubscriptions`), ended by cancelling it.
//! Either lives on one upstream session: when that one is gone (a restart, a broken
//! connection), the next session opened subscribes to every followed URI again.

// `resources/subscribe` is deprecated by the 2026 revision; 2025-era servers still use it.
#![allow(deprecated)]

use std::{
    collections::HashMap,
    sync::{Arc, Weak},
};

use rmcp::{
    Peer, RoleClient,
    model::{
        ServerNotification, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
    },
};
use tokio::{sync::broadcast, task::AbortHandle};

use super::ServerClient;
use crate::cache::ListKind;
use crate::{
    error::McpError,
    session::{Session, SharedSession},
};

/// Updates kept for a subscriber that is slow to read them.
pub(crate) const UPDATES_BUFFERED: usize = 256;

/// The followers of one URI, and the listen stream that serves them (2026-07-28 servers).
#[derive(Default)]
pub(crate) struct Followed {
    count: usize,
    listening: Option<AbortHandle>,
}

/// The URIs followed at one server.
pub(crate) type Subscribed = HashMap<String, Followed>;

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
        let ended = {
            let mut subscribed = server.lock_subscribed();
            match subscribed.get_mut(&self.uri) {
                Some(followed) if followed.count > 1 => {
                    followed.count -= 1;
                    None
                }
                Some(_) => subscribed.remove(&self.uri),
                None => None,
            }
        };
        let Some(ended) = ended else { return };
        if let Some(listening) = ended.listening {
            listening.abort();
            return;
        }
        let uri = std::mem::take(&mut self.uri);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
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

/// Pass the updates of a listen stream on to `updates` until it ends or is aborted.
fn pump(
    subscription: rmcp::service::Subscription,
    updates: broadcast::Sender<Arc<str>>,
) -> AbortHandle {
    let mut subscription = subscription;
    tokio::spawn(async move {
        while let Ok(Some(notification)) = subscription.next().await {
            if let ServerNotification::ResourceUpdatedNotification(updated) = notification {
                let _ = updates.send(Arc::from(updated.params.uri));
            }
        }
    })
    .abort_handle()
}

async fn listen(
    peer: &Peer<RoleClient>,
    uri: &str,
) -> Result<rmcp::service::Subscription, rmcp::ServiceError> {
    let filter = SubscriptionFilter::builder()
        .resource_subscription(uri)
        .build();
    peer.listen(filter).await
}

impl ServerClient {
    fn lock_subscribed(&self) -> std::sync::MutexGuard<'_, Subscribed> {
        self.subscribed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_subscribed_on(&self) -> std::sync::MutexGuard<'_, Option<Weak<Session>>> {
        self.subscribed_on.lock().unwrap_or_else(|p| p.into_inner())
    }

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
            let mut subscribed = self.lock_subscribed();
            let followed = subscribed.entry(uri.to_owned()).or_default();
            followed.count += 1;
            followed.count == 1
        };
        // Counted before asking: a failure lets go like any follower.
        let subscription = ResourceSubscription {
            server: Arc::downgrade(self),
            uri: uri.to_owned(),
        };
        if !first {
            return Ok(subscription);
        }
        let timeout = self.description.timeouts.call;
        let stateless = self.info().is_some_and(|info| info.stateless);
        if stateless {
            let stream = self
                .request("subscriptions/listen", timeout, |session| {
                    *self.lock_subscribed_on() = Some(Arc::downgrade(&session));
                    async move { listen(session.peer(), uri).await }
                })
                .await?;
            let listening = pump(stream, self.resource_updates.clone());
            match self.lock_subscribed().get_mut(uri) {
                Some(followed) => followed.listening = Some(listening),
                // Let go while the stream was being opened.
                None => listening.abort(),
            }
        } else {
            let params = SubscribeRequestParams::new(uri);
            self.request("resources/subscribe", timeout, |session| {
                *self.lock_subscribed_on() = Some(Arc::downgrade(&session));
                async move { session.peer().subscribe(params).await }
            })
            .await?;
        }
        Ok(subscription)
    }

    /// A new session: when the one holding the subscriptions is gone, subscribe to every
    /// followed URI again on `session`.
    pub(crate) fn subscribe_again_if_lost(&self, session: &SharedSession) {
        let uris: Vec<String> = self.lock_subscribed().keys().cloned().collect();
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
        let stateless = session.info().stateless;
        let updates = self.resource_updates.clone();
        let subscribed = self.subscribed.clone();
        tokio::spawn(async move {
            for uri in uris {
                if !stateless {
                    if let Err(e) = peer.subscribe(SubscribeRequestParams::new(uri)).await {
                        tracing::debug!("a resource subscription was not made again: {e}");
                    }
                    continue;
                }
                let Ok(stream) = listen(&peer, &uri).await else {
                    tracing::debug!("a resource listen stream was not opened again");
                    continue;
                };
                let listening = pump(stream, updates.clone());
                let mut subscribed = subscribed.lock().unwrap_or_else(|p| p.into_inner());
                match subscribed.get_mut(&uri) {
                    Some(followed) => {
                        if let Some(old) = followed.listening.replace(listening) {
                            old.abort();
                        }
                    }
                    None => listening.abort(),
                }
            }
        });
    }

    /// Stateless (2026-07-28) servers send `list_changed` only on a `subscriptions/listen`
    /// stream; keep one open per session and invalidate the cache from it.
    pub(crate) fn listen_for_changes(&self, session: &Arc<Session>) {
        let peer = session.peer().clone();
        let cache = Arc::downgrade(&self.cache);
        let server = self.name().to_owned();
        tokio::spawn(async move {
            let filter = SubscriptionFilter::builder()
                .tools_list_changed()
                .resources_list_changed()
                .prompts_list_changed()
                .build();
            let mut subscription = match peer.listen(filter).await {
                Ok(subscription) => subscription,
                Err(e) => {
                    tracing::debug!(server = %server, "no change subscription: {e}");
                    return;
                }
            };
            while let Ok(Some(notification)) = subscription.next().await {
                let Some(cache) = cache.upgrade() else { return };
                match notification {
                    ServerNotification::ToolListChangedNotification(_) => {
                        cache.invalidate(ListKind::Tools)
                    }
                    ServerNotification::PromptListChangedNotification(_) => {
                        cache.invalidate(ListKind::Prompts)
                    }
                    ServerNotification::ResourceListChangedNotification(_) => {
                        cache.invalidate(ListKind::Resources);
                        cache.invalidate(ListKind::ResourceTemplates);
                    }
                    _ => {}
                }
            }
        });
    }
}
