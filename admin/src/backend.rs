//! The store operations the Admin API needs, as an object-safe trait.
//!
//! Handlers talk to a [`Backend`] rather than to `gateway_core::store::Store` directly so that
//! the HTTP layer can be unit-tested with an in-memory double; the real store implements it
//! (see the `impl` at the end of this file) and [`connect`] opens it for the binary.

use std::{future::Future, pin::Pin};

use gateway_core::store::{ApiError, EntityKind, Input, ListQuery, Page, ParentRef, Store};
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
pub async fn connect(url: &str) -> anyhow::Result<std::sync::Arc<dyn Backend>> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    Ok(std::sync::Arc::new(store))
}

// === impl Backend for Store ===

impl Backend for Store {
    fn is_postgres(&self) -> bool {
        Store::is_postgres(self)
    }

    fn ping(&self) -> BoxFut<'_, bool> {
        Box::pin(Store::ping(self))
    }

    fn plugin_names(&self) -> BoxFut<'_, Result<Vec<String>, ApiError>> {
        Box::pin(Store::plugin_names(self))
    }

    fn list<'a>(
        &'a self,
        kind: EntityKind,
        parent: Option<&'a ParentRef>,
        q: &'a ListQuery,
    ) -> BoxFut<'a, Result<Page, ApiError>> {
        Box::pin(Store::list(self, kind, parent, q))
    }

    fn get<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(Store::get(self, kind, key, parent))
    }

    fn create<'a>(
        &'a self,
        kind: EntityKind,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(Store::create(self, kind, parent, input))
    }

    fn upsert<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(Store::upsert(self, kind, key, parent, input))
    }

    fn update<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
        input: Input,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(Store::update(self, kind, key, parent, input))
    }

    fn delete<'a>(
        &'a self,
        kind: EntityKind,
        key: &'a str,
        parent: Option<&'a ParentRef>,
    ) -> BoxFut<'a, Result<(), ApiError>> {
        Box::pin(Store::delete(self, kind, key, parent))
    }
}
