//! Writing owned objects: server-side apply with the operator's field manager, skipped when
//! the same body was applied before and the watch still shows the object, so a steady
//! cluster gets no requests at all; and deletion of an object that is no longer wanted.

use std::hash::{DefaultHasher, Hash, Hasher};

use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
    runtime::reflector::{ObjectRef, Store},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    context::{Context, FIELD_MANAGER},
    error::Result,
};

/// What every namespaced kind the operator writes satisfies.
pub trait Owned:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Owned for K where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug
{
}

/// Apply `object` unless its body is the one applied last and `store` (when the kind is
/// watched) still shows it. Returns the object as the API or the watch has it, when known.
pub async fn apply<K: Owned>(
    ctx: &Context,
    namespace: &str,
    object: &K,
    store: Option<&Store<K>>,
    label: &'static str,
) -> Result<Option<K>> {
    let name = object.name_any();
    let key = format!("{label}/{namespace}/{name}");
    let mut hasher = DefaultHasher::new();
    serde_json::to_vec(object)
        .unwrap_or_default()
        .hash(&mut hasher);
    let hash = hasher.finish();
    let current = store.map(|store| store.get(&ObjectRef::new(&name).within(namespace)));
    let still_there = match &current {
        Some(current) => current.is_some(),
        None => true,
    };
    if still_there && ctx.already_applied(&key, hash) {
        return Ok(current.flatten().map(|object| (*object).clone()));
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api.patch(&name, &params, &Patch::Apply(object)).await?;
    ctx.metrics.wrote(label);
    ctx.applied(&key, hash);
    Ok(Some(applied))
}

/// Delete `name` if the watch shows it (an HPA or PDB the spec no longer asks for).
pub async fn delete_if_present<K: Owned>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    store: &Store<K>,
    label: &'static str,
) -> Result<()> {
    if store.get(&ObjectRef::new(name).within(namespace)).is_none() {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.is_not_found() => {}
        Err(error) => return Err(error.into()),
    }
    ctx.metrics.wrote(label);
    ctx.forget_applied(&format!("{label}/{namespace}/{name}"));
    Ok(())
}
