//! What every reconcile shares: the API client, the MCP client context the probes use,
//! metrics, the event recorder and the operator's settings.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::{
    Client,
    runtime::{
        events::{Recorder, Reporter},
        reflector::Store,
    },
};
use llamagate_crds::McpServerStatus;

use crate::{
    controllers::mcpserver::secret_watches::SecretWatches, metrics::Metrics,
    resources::mcpserver::BridgeImage,
};

/// Field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "llamagate-operator";

/// Operator-wide settings of the reconcilers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Image holding `llamagate`, copied into managed stdio servers' pods for the bridge.
    pub bridge: BridgeImage,
    /// Name of this replica in Events (`reportingInstance`).
    pub instance: String,
}

/// The objects the operator owns, as its watches last saw them.
#[derive(Clone)]
pub struct Owned {
    pub deployments: Store<Deployment>,
    pub services: Store<Service>,
}

/// Shared by every reconcile of every controller.
pub struct Context {
    pub client: Client,
    pub mcp: llamagate_mcp::Context,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub settings: Settings,
    pub owned: Owned,
    /// Watches of the Secrets servers reference (absent in tests that reconcile directly).
    pub secret_watches: Option<SecretWatches>,
    /// The status this operator last wrote, by object uid. The operator is the only writer
    /// of status, so this is never older than the watch's copy, which may lag a write.
    written: Mutex<HashMap<String, McpServerStatus>>,
    /// The hash of the last applied body of each owned object, by `kind/namespace/name`:
    /// an unchanged body that the watch still shows is not applied again.
    applied: Mutex<HashMap<String, u64>>,
}

impl Context {
    pub fn new(
        client: Client,
        metrics: Metrics,
        settings: Settings,
        owned: Owned,
        secret_watches: Option<SecretWatches>,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: Some(settings.instance.clone()),
        };
        let mcp = llamagate_mcp::Context::new(llamagate_mcp::McpMetrics::unregistered());
        Arc::new(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            mcp,
            metrics,
            settings,
            owned,
            secret_watches,
            written: Mutex::default(),
            applied: Mutex::default(),
        })
    }

    /// The status to update: the one last written for `uid`, else the object's own.
    pub fn last_status(&self, uid: &str, from_object: Option<&McpServerStatus>) -> McpServerStatus {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written
            .get(uid)
            .or(from_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Remember the status just written for `uid`.
    pub fn wrote_status(&self, uid: &str, status: McpServerStatus) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written.insert(uid.to_owned(), status);
    }

    /// Forget what is remembered of an object that is gone.
    pub fn forget(&self, uid: &str, keys: &[String]) {
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            applied.remove(key);
        }
    }

    /// True when `hash` is what was last applied under `key`.
    pub fn already_applied(&self, key: &str, hash: u64) -> bool {
        let applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        applied.get(key) == Some(&hash)
    }

    /// Forget the body applied under `key` (the object was deleted).
    pub fn forget_applied(&self, key: &str) {
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        applied.remove(key);
    }

    /// Remember that the body of `hash` was applied under `key`.
    pub fn applied(&self, key: &str, hash: u64) {
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        applied.insert(key.to_owned(), hash);
    }
}
