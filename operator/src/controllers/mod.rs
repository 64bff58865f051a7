//! The reconcilers, and what they share: applying owned objects and publishing Events.

pub mod apply;
pub mod events;
pub mod llamagate;
pub mod mcpserver;

use std::{future::Future, time::Duration};

use kube::runtime::reflector::Store;

/// How long a stopping controller waits for its first list before it stops anyway.
const FIRST_LIST_GRACE: Duration = Duration::from_secs(3);

/// A controller's graceful-shutdown trigger: `shutdown`, but not before `store` holds its
/// first list (or [`FIRST_LIST_GRACE`] has passed). kube-runtime holds every reconcile
/// until that list, and stops polling the watch once the trigger fires: a trigger in the
/// first moments of leading would leave the controller waiting for ever.
pub async fn after_first_list<K>(
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    store: Store<K>,
) where
    K: kube::Resource + Clone + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Send + Sync,
{
    shutdown.await;
    let _ = tokio::time::timeout(FIRST_LIST_GRACE, store.wait_until_ready()).await;
}
