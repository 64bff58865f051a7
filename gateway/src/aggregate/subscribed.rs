//! What the 2025-era sessions subscribed to (`resources/subscribe`) through this replica at
//! servers where they have no upstream session of their own (those get the subscribe
//! itself: `owned.rs`), for their `GET` streams on this replica, which follow the set as it
//! changes. With no store, a subscription made through another replica is known there only:
//! a client behind a round-robin follows those resources with `subscriptions/listen`
//! (docs/mcp-endpoint.md).

use std::{collections::HashMap, sync::Mutex};

use tokio::sync::watch;

use super::{now, rpc::RpcError, seal::Claims};

/// Resources one session may follow.
const PER_SESSION: usize = 256;
/// Sessions with subscriptions one replica keeps.
const SESSIONS: usize = 100_000;

/// One session's followed URIs, and when the session expires.
type Entry = (watch::Sender<Vec<String>>, u64);

/// The subscriptions of each session (by its unique id), until the session expires.
#[derive(Default)]
pub struct Subscribed {
    sessions: Mutex<HashMap<String, Entry>>,
}

impl Subscribed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session's subscriptions, as they change.
    pub fn watch(&self, claims: &Claims) -> watch::Receiver<Vec<String>> {
        let mut sessions = self.lock();
        match sessions.get(&claims.sid) {
            Some((sender, _)) => sender.subscribe(),
            None if sessions.len() < SESSIONS => {
                let (sender, receiver) = watch::channel(Vec::new());
                sessions.insert(claims.sid.clone(), (sender, claims.exp));
                receiver
            }
            // Full: the stream follows nothing rather than push out another session's.
            None => watch::channel(Vec::new()).1,
        }
    }

    /// Follow `uri` (`true`) or stop (`false`).
    pub fn set(&self, claims: &Claims, uri: &str, on: bool) -> Result<(), RpcError> {
        let mut sessions = self.lock();
        let now = now();
        sessions.retain(|_, (_, exp)| *exp > now);
        if !sessions.contains_key(&claims.sid) {
            if !on {
                return Ok(());
            }
            if sessions.len() >= SESSIONS {
                return Err(RpcError::protocol(
                    super::rpc::INTERNAL_ERROR,
                    "this replica follows resources for as many sessions as it can: try again later, or use `subscriptions/listen`",
                ));
            }
            sessions.insert(
                claims.sid.clone(),
                (watch::channel(Vec::new()).0, claims.exp),
            );
        }
        let (sender, _) = &sessions[&claims.sid];
        let mut refused = None;
        sender.send_if_modified(|uris| {
            let known = uris.iter().position(|u| u == uri);
            match (on, known) {
                (true, None) if uris.len() >= PER_SESSION => {
                    refused = Some(RpcError::params(format!(
                        "a session follows at most {PER_SESSION} resources: unsubscribe from one first"
                    )));
                    false
                }
                (true, None) => {
                    uris.push(uri.to_owned());
                    true
                }
                (false, Some(at)) => {
                    uris.remove(at);
                    true
                }
                _ => false,
            }
        });
        refused.map_or(Ok(()), Err)
    }

    /// A session ended (DELETE): its streams follow nothing more.
    pub fn end(&self, sid: &str) {
        if let Some((sender, _)) = self.lock().remove(sid) {
            sender.send_replace(Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sid: &str) -> Claims {
        super::super::seal::test_claims(sid, &[])
    }

    #[test]
    fn a_sessions_stream_follows_what_it_subscribes_and_nothing_of_others() {
        let subscribed = Subscribed::default();
        let mine = claims("a");
        let mut watched = subscribed.watch(&mine);
        subscribed.set(&mine, "x+one://1", true).unwrap();
        subscribed.set(&mine, "x+one://1", true).unwrap();
        subscribed.set(&claims("b"), "x+two://2", true).unwrap();
        assert!(watched.has_changed().unwrap());
        assert_eq!(*watched.borrow_and_update(), vec!["x+one://1".to_owned()]);
        subscribed.set(&mine, "x+one://1", false).unwrap();
        assert!(watched.borrow_and_update().is_empty());
        for n in 0..PER_SESSION {
            subscribed.set(&mine, &format!("x+r://{n}"), true).unwrap();
        }
        let refused = subscribed.set(&mine, "x+r://more", true).unwrap_err();
        assert!(refused.message.contains("at most 256"), "{refused:?}");
        subscribed.end("a");
        assert!(
            watched.has_changed().is_err(),
            "ended: the stream follows nothing more"
        );
    }
}
