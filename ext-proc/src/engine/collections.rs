//! Document collections: create, list, drop, and their JSON Schemas. The
//! engine forgets what the catalog cached for a collection after each change.

use super::Ctx;
use crate::doc::schema::Schema;
use crate::fault::Fault;
use crate::model::{check_collection, Namespace};
use crate::store::docs::CollectionDef;
use serde_json::Value as Json;

/// Every collection of a namespace, sorted by name (the reserved
/// [`crate::model::OPTIONS_COLLECTION`] left out).
pub async fn list(ctx: &Ctx<'_>, ns: &Namespace) -> Result<Vec<CollectionDef>, Fault> {
    let mut all = ctx.docs.collections(ns).await?;
    all.retain(|c| c.name != crate::model::OPTIONS_COLLECTION);
    Ok(all)
}

/// Creates a collection; `Conflict` when it exists.
pub async fn create(ctx: &Ctx<'_>, ns: &Namespace, name: &str) -> Result<(), Fault> {
    check_collection(name).map_err(Fault::Invalid)?;
    ctx.docs.create_collection(ns, name, false).await?;
    ctx.catalog.forget_collection(ns, name);
    Ok(())
}

/// Drops a collection and its documents.
pub async fn drop(ctx: &Ctx<'_>, ns: &Namespace, name: &str) -> Result<(), Fault> {
    check_collection(name).map_err(Fault::Invalid)?;
    let result = ctx.docs.drop_collection(ns, name).await;
    ctx.catalog.forget_collection(ns, name);
    Ok(result?)
}

/// A collection's JSON Schema; `NotFound` when it has none.
pub async fn schema(ctx: &Ctx<'_>, ns: &Namespace, name: &str) -> Result<Json, Fault> {
    let c = ctx.catalog.collection(ctx.docs, ns, name).await?;
    c.def.json_schema.clone().ok_or_else(|| Fault::NotFound(format!("collection '{name}' has no JSON schema")))
}

/// Sets a collection's JSON Schema (the collection created on first use).
/// Existing documents are not re-checked; every write from now on is.
pub async fn set_schema(ctx: &Ctx<'_>, ns: &Namespace, name: &str, schema: &Json) -> Result<(), Fault> {
    Schema::compile(schema)?;
    ctx.catalog.collection_for_write(ctx.docs, ns, name).await?;
    let result = ctx.docs.set_json_schema(ns, name, Some(schema)).await;
    ctx.catalog.forget_collection(ns, name);
    Ok(result?)
}
