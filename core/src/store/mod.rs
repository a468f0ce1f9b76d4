//! The configuration store: PostgreSQL or the embedded SQLite file behind one API.
//!
//! INTERFACE CONTRACT (shared by admin and gateway; owned by the store/schema work):
//! * `Store::connect(url)` — `postgres://…` or `sqlite://path?mode=rwc`; [`Store::migrate`]
//!   applies `migrations/` (safe when two processes start at once).
//! * Admin operations take an [`EntityKind`], an optional [`ParentRef`] (nested endpoints such as
//!   `/consumers/{c}/jwt`), the URL key (uuid = id, otherwise the endpoint key) and an [`Input`]
//!   (JSON or form-decoded body). They return the entity JSON exactly as Kong returns it, or an
//!   [`ApiError`] in Kong's shape.
//! * Every committed write bumps the configuration version and notifies listeners
//!   (`pg_notify(NOTIFY_CHANNEL, version)` on Postgres) in the same transaction.
//! * [`Store::load_config`] reads everything at one version for the gateway.
//!
//! Layout: `db` opens the pool (sqlx `Any`: one SQL dialect for both databases), migrates and
//! provides the write transaction; `table` is the row-level SQL; `write` implements
//! POST/PUT/PATCH/DELETE on top of [`crate::schema`]; `read` serves lookups, pages and the
//! consistent load. Writers serialize on the `config_version` row, so every uniqueness and
//! reference check inside a write transaction sees the latest committed state.

use serde_json::Value;
use sqlx::AnyPool;

pub use crate::error::ApiError;

mod db;
mod read;
mod table;
mod write;

pub use read::{decode_offset, encode_offset};

/// The Postgres NOTIFY channel carrying the new configuration version.
pub const NOTIFY_CHANNEL: &str = "gateway_config";

/// The five Admin API entity collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Services,
    Routes,
    Consumers,
    Plugins,
    JwtSecrets,
}

impl EntityKind {
    /// Kong's table/collection name (`services`, `routes`, `consumers`, `plugins`, `jwt_secrets`).
    pub fn table(self) -> &'static str {
        match self {
            Self::Services => "services",
            Self::Routes => "routes",
            Self::Consumers => "consumers",
            Self::Plugins => "plugins",
            Self::JwtSecrets => "jwt_secrets",
        }
    }
}

/// The parent scope of a nested endpoint, as written in the URL (not yet resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRef {
    /// Kind of the parent (`Services`, `Routes` or `Consumers`).
    pub kind: EntityKind,
    /// The parent's URL key: a uuid or its endpoint key (name / username).
    pub key: String,
}

/// How the request body was encoded; form bodies are coerced by schema (kong-compat §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// `application/json`: taken as-is, `null` clears a field.
    Json,
    /// `application/x-www-form-urlencoded` / multipart, already decoded into nested JSON whose
    /// leaves are strings: numbers, booleans and one-element arrays are coerced by schema and
    /// `""` means `null`.
    Form,
}

/// A decoded request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The body as a JSON object (an empty object when there was no body).
    pub body: Value,
    /// How `body` was encoded by the client.
    pub format: InputFormat,
}

/// Tag filter of `GET /{coll}?tags=`: `a,b` means all of, `a/b` means any of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    All(Vec<String>),
    Any(Vec<String>),
}

/// Query of a list endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    /// Page size, 1..=1000 (validated by the admin; default 100).
    pub size: usize,
    /// Opaque offset from a previous page.
    pub offset: Option<String>,
    /// Tag filter.
    pub tags: Option<TagFilter>,
    /// `GET /consumers?custom_id=X`.
    pub custom_id: Option<String>,
}

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Entities in Kong's JSON shape.
    pub data: Vec<Value>,
    /// Opaque offset of the next page, when there is one.
    pub offset: Option<String>,
}

/// The configuration store: a cheap-to-clone handle on a PostgreSQL or SQLite pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
}

// === impl Store ===

impl Store {
    /// Connect to `postgres://…` or `sqlite://path?mode=rwc` (the file's directory is created).
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        let (pool, postgres) = db::connect(url).await?;
        Ok(Store { pool, postgres })
    }

    /// Apply `migrations/`; safe when two processes start at once.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        db::migrate(&self.pool).await
    }

    /// Whether the backend is PostgreSQL (else the embedded SQLite file).
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// The current configuration version (one indexed row: cheap enough to poll).
    pub async fn version(&self) -> anyhow::Result<i64> {
        let mut conn = self.pool.acquire().await?;
        Ok(db::version(&mut conn).await?)
    }

    /// Everything, read consistently at one version.
    pub async fn load_config(&self) -> anyhow::Result<crate::model::ConfigData> {
        read::load_config(&self.pool, self.postgres).await
    }

    /// Distinct plugin names in the store, sorted.
    pub async fn plugin_names(&self) -> Result<Vec<String>, ApiError> {
        read::plugin_names(&self.pool).await
    }

    /// `GET /{coll}` or a nested list: one page ordered by id.
    pub async fn list(
        &self,
        kind: EntityKind,
        parent: Option<&ParentRef>,
        q: &ListQuery,
    ) -> Result<Page, ApiError> {
        read::list(&self.pool, kind, parent, q).await
    }

    /// `GET /{coll}/{key}`: by id when `key` is UUID-shaped, else by endpoint key.
    pub async fn get(
        &self,
        kind: EntityKind,
        key: &str,
        parent: Option<&ParentRef>,
    ) -> Result<Value, ApiError> {
        read::get(&self.pool, kind, key, parent).await
    }

    /// `POST`: create (201 in the admin).
    pub async fn create(
        &self,
        kind: EntityKind,
        parent: Option<&ParentRef>,
        input: Input,
    ) -> Result<Value, ApiError> {
        write::create(&self.pool, self.postgres, kind, parent, input).await
    }

    /// `PUT`: create or fully replace.
    pub async fn upsert(
        &self,
        kind: EntityKind,
        key: &str,
        parent: Option<&ParentRef>,
        input: Input,
    ) -> Result<Value, ApiError> {
        write::upsert(&self.pool, self.postgres, kind, key, parent, input).await
    }

    /// `PATCH`: merge into an existing entity (404 DAO body when missing).
    pub async fn update(
        &self,
        kind: EntityKind,
        key: &str,
        parent: Option<&ParentRef>,
        input: Input,
    ) -> Result<Value, ApiError> {
        write::update(&self.pool, self.postgres, kind, key, parent, input).await
    }

    /// `DELETE`: Ok also when nothing exists; cascades plugins and credentials.
    pub async fn delete(
        &self,
        kind: EntityKind,
        key: &str,
        parent: Option<&ParentRef>,
    ) -> Result<(), ApiError> {
        write::delete(&self.pool, self.postgres, kind, key, parent).await
    }

    /// Close the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
