//! Admin writes (POST, PUT, PATCH, DELETE): each one transaction that bumps the version,
//! validates, resolves references, checks uniqueness, writes and notifies (kong-compat §1.2).

use serde_json::{json, Map, Value};
use sqlx::AnyConnection;
use sqlx::AnyPool;

use super::db::{internal, WriteTx};
use super::table::{self, endpoint_key, fk_id, foreign_keys, parent_field, unique_fields};
use super::{EntityKind, Input, ParentRef};
use crate::error::ApiError;
use crate::schema::{self, values::parse_uuid, Meta};

/// Current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Lua-style rendering of a key/value (`{name="x"}`) as Kong prints it in messages.
fn pretty(field: &str, value: &str) -> String {
    format!("{{{field}=\"{value}\"}}")
}

/// The DAO 404 of PATCH on a missing entity.
pub fn not_found_dao(kind: EntityKind, key: &str) -> ApiError {
    match parse_uuid(key) {
        Some(id) => ApiError::dao(
            404,
            6,
            "not found",
            format!(
                "could not find the entity with primary key '{}'",
                pretty("id", &id)
            ),
            Some(json!({ "id": id })),
        ),
        None => {
            let f = endpoint_key(kind);
            ApiError::dao(
                404,
                6,
                "not found",
                format!("could not find the entity with '{}'", pretty(f, key)),
                Some(json!({ f: key })),
            )
        }
    }
}

/// A resolved parent scope: the foreign-key field of the child and the parent's id.
#[derive(Debug, Clone)]
pub struct Scope {
    field: &'static str,
    column: &'static str,
    id: String,
}

impl Scope {
    /// Whether `doc` belongs to this parent.
    pub fn owns(&self, doc: &Map<String, Value>) -> bool {
        fk_id(doc, self.field) == Some(self.id.as_str())
    }

    /// Force the foreign key of a child body to the parent.
    pub fn force(&self, body: &mut Map<String, Value>) {
        body.insert(self.field.into(), json!({ "id": self.id }));
    }

    /// Column holding the parent id in the child table.
    pub fn column(&self) -> &'static str {
        self.column
    }

    /// The parent's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Resolve a nested endpoint's parent; a missing parent (or a kind without that parent) is 404.
pub async fn resolve_scope(
    conn: &mut AnyConnection,
    kind: EntityKind,
    parent: Option<&ParentRef>,
) -> Result<Option<Scope>, ApiError> {
    let Some(parent) = parent else {
        return Ok(None);
    };
    let (field, column) = parent_field(kind, parent.kind).ok_or_else(ApiError::not_found)?;
    let doc = table::find_by_key(conn, parent.kind, &parent.key)
        .await
        .map_err(internal)?
        .ok_or_else(ApiError::not_found)?;
    Ok(Some(Scope {
        field,
        column,
        id: table::id_of(&doc),
    }))
}

/// Resolve foreign keys (`{"name": ..}` -> `{"id": ..}`) and check that referenced rows exist.
async fn resolve_foreign(
    conn: &mut AnyConnection,
    kind: EntityKind,
    doc: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    for (field, _, target, alt) in foreign_keys(kind) {
        let Some(Value::Object(fk)) = doc.get(*field).cloned() else {
            continue;
        };
        if let Some(id) = fk.get("id").and_then(Value::as_str) {
            if table::find_by(conn, *target, "id", id)
                .await
                .map_err(internal)?
                .is_none()
            {
                return Err(ApiError::dao(
                    400,
                    4,
                    "foreign key violation",
                    format!(
                        "the foreign key '{}' does not reference an existing '{}' entity.",
                        pretty("id", id),
                        target.table()
                    ),
                    Some(json!({ *field: { "id": id } })),
                ));
            }
            doc.insert((*field).into(), json!({ "id": id }));
        } else if let Some(key) = fk.get(*alt).and_then(Value::as_str) {
            let found = table::find_by(conn, *target, alt, key)
                .await
                .map_err(internal)?;
            let Some(found) = found else {
                let why = format!(
                    "the foreign key cannot be resolved with '{}' for an existing '{}' entity",
                    pretty(alt, key),
                    target.table()
                );
                return Err(ApiError::dao(
                    400,
                    13,
                    "foreign keys unresolved",
                    format!("foreign key unresolved ({field}.{alt}: {why})"),
                    Some(json!({ *field: { *alt: why } })),
                ));
            };
            doc.insert((*field).into(), json!({ "id": table::id_of(&found) }));
        }
    }
    Ok(())
}

fn unique_violation(pairs: &[(&str, Value)]) -> ApiError {
    let rendered: Vec<String> = pairs
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}=\"{s}\""),
            Value::Null => format!("{k}=null"),
            Value::Object(o) => format!(
                "{k}={}",
                pretty("id", o.get("id").and_then(Value::as_str).unwrap_or(""))
            ),
            other => format!("{k}={other}"),
        })
        .collect();
    let fields: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    ApiError::dao(
        409,
        5,
        "unique constraint violation",
        format!("UNIQUE violation detected on '{{{}}}'", rendered.join(",")),
        Some(Value::Object(fields)),
    )
}

/// Unique keys, and one plugin instance per scope.
async fn check_unique(
    conn: &mut AnyConnection,
    kind: EntityKind,
    doc: &Map<String, Value>,
) -> Result<(), ApiError> {
    let id = table::id_of(doc);
    for field in unique_fields(kind) {
        if let Some(v) = doc.get(*field).and_then(Value::as_str) {
            if table::other_with(conn, kind, field, v, &id)
                .await
                .map_err(internal)?
            {
                return Err(unique_violation(&[(field, Value::String(v.into()))]));
            }
        }
    }
    if kind == EntityKind::Plugins {
        let scope = table::scope_key(doc);
        if table::other_with(conn, kind, "scope_key", &scope, &id)
            .await
            .map_err(internal)?
        {
            let get = |f: &str| doc.get(f).cloned().unwrap_or(Value::Null);
            return Err(unique_violation(&[
                ("consumer", get("consumer")),
                ("name", get("name")),
                ("route", get("route")),
                ("service", get("service")),
            ]));
        }
    }
    Ok(())
}

/// POST: 400 code 3 when the id is taken.
async fn check_new_id(
    conn: &mut AnyConnection,
    kind: EntityKind,
    doc: &Map<String, Value>,
) -> Result<(), ApiError> {
    let id = table::id_of(doc);
    if table::find_by(conn, kind, "id", &id)
        .await
        .map_err(internal)?
        .is_some()
    {
        return Err(ApiError::dao(
            400,
            3,
            "primary key violation",
            format!("primary key violation on key '{}'", pretty("id", &id)),
            Some(json!({ "id": id })),
        ));
    }
    Ok(())
}

/// Everything after validation: references, uniqueness.
async fn prepare(
    conn: &mut AnyConnection,
    kind: EntityKind,
    doc: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    resolve_foreign(conn, kind, doc).await?;
    check_unique(conn, kind, doc).await
}

/// `POST /{coll}` and nested POSTs.
pub async fn create(
    pool: &AnyPool,
    postgres: bool,
    kind: EntityKind,
    parent: Option<&ParentRef>,
    input: Input,
) -> Result<Value, ApiError> {
    let mut body = schema::body_object(kind, &input.body, input.format)?;
    let mut w = WriteTx::begin(pool, postgres).await?;
    let scope = resolve_scope(w.conn(), kind, parent).await?;
    if let Some(scope) = &scope {
        scope.force(&mut body);
    }
    let mut doc = schema::validate(kind, body, input.format, &Meta::new(now()))?;
    check_new_id(w.conn(), kind, &doc).await?;
    prepare(w.conn(), kind, &mut doc).await?;
    table::insert(w.conn(), kind, &doc)
        .await
        .map_err(internal)?;
    w.commit().await?;
    Ok(Value::Object(doc))
}

/// `PUT /{coll}/{key}`: full replace or insert; keeps id and `created_at` of an existing match.
pub async fn upsert(
    pool: &AnyPool,
    postgres: bool,
    kind: EntityKind,
    key: &str,
    parent: Option<&ParentRef>,
    input: Input,
) -> Result<Value, ApiError> {
    let mut body = schema::body_object(kind, &input.body, input.format)?;
    let mut w = WriteTx::begin(pool, postgres).await?;
    let scope = resolve_scope(w.conn(), kind, parent).await?;
    let existing = table::find_by_key(w.conn(), kind, key)
        .await
        .map_err(internal)?;
    if let (Some(scope), Some(existing)) = (&scope, &existing) {
        if !scope.owns(existing) {
            return Err(ApiError::not_found());
        }
    }
    match parse_uuid(key) {
        Some(id) => body.insert("id".into(), Value::String(id)),
        None => body.insert(endpoint_key(kind).into(), Value::String(key.into())),
    };
    if let Some(scope) = &scope {
        scope.force(&mut body);
    }
    let meta = match &existing {
        Some(e) => Meta {
            id: Some(table::id_of(e)),
            created_at: e.get("created_at").and_then(Value::as_i64),
            now: now(),
        },
        None => Meta::new(now()),
    };
    let mut doc = schema::validate(kind, body, input.format, &meta)?;
    if existing.is_none() {
        check_new_id(w.conn(), kind, &doc).await?;
    }
    prepare(w.conn(), kind, &mut doc).await?;
    if existing.is_some() {
        table::update(w.conn(), kind, &doc)
            .await
            .map_err(internal)?;
    } else {
        table::insert(w.conn(), kind, &doc)
            .await
            .map_err(internal)?;
    }
    w.commit().await?;
    Ok(Value::Object(doc))
}

/// `PATCH /{coll}/{key}`: merge into the existing entity.
pub async fn update(
    pool: &AnyPool,
    postgres: bool,
    kind: EntityKind,
    key: &str,
    parent: Option<&ParentRef>,
    input: Input,
) -> Result<Value, ApiError> {
    let mut body = schema::body_object(kind, &input.body, input.format)?;
    let mut w = WriteTx::begin(pool, postgres).await?;
    let scope = resolve_scope(w.conn(), kind, parent).await?;
    let existing = table::find_by_key(w.conn(), kind, key)
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found_dao(kind, key))?;
    if let Some(scope) = &scope {
        if !scope.owns(&existing) {
            return Err(ApiError::not_found());
        }
        scope.force(&mut body);
    }
    let meta = Meta {
        id: Some(table::id_of(&existing)),
        created_at: existing.get("created_at").and_then(Value::as_i64),
        now: now(),
    };
    let merged = schema::merge(kind, &existing, body);
    let mut doc = schema::validate(kind, merged, input.format, &meta)?;
    prepare(w.conn(), kind, &mut doc).await?;
    table::update(w.conn(), kind, &doc)
        .await
        .map_err(internal)?;
    w.commit().await?;
    Ok(Value::Object(doc))
}

/// `DELETE /{coll}/{key}`: Ok also when nothing exists; a service with routes is refused.
pub async fn delete(
    pool: &AnyPool,
    postgres: bool,
    kind: EntityKind,
    key: &str,
    parent: Option<&ParentRef>,
) -> Result<(), ApiError> {
    let mut w = WriteTx::begin(pool, postgres).await?;
    let scope = resolve_scope(w.conn(), kind, parent).await?;
    let Some(existing) = table::find_by_key(w.conn(), kind, key)
        .await
        .map_err(internal)?
    else {
        return w.rollback().await;
    };
    if let Some(scope) = &scope {
        if !scope.owns(&existing) {
            return Err(ApiError::not_found());
        }
    }
    let id = table::id_of(&existing);
    if kind == EntityKind::Services
        && table::routes_of_service(w.conn(), &id)
            .await
            .map_err(internal)?
            > 0
    {
        return Err(ApiError::dao(
            400,
            4,
            "foreign key violation",
            "an existing 'routes' entity references this 'services' entity",
            Some(json!({"@referenced_by": "routes"})),
        ));
    }
    table::delete(w.conn(), kind, &id).await.map_err(internal)?;
    w.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_bodies() {
        let e = not_found_dao(EntityKind::Services, "6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11");
        assert_eq!(
            e.body,
            json!({"code":6,"name":"not found","message":"could not find the entity with primary key '{id=\"6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11\"}'","fields":{"id":"6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11"}})
        );
        let e = not_found_dao(EntityKind::Consumers, "bob");
        assert_eq!(
            e.body["message"],
            "could not find the entity with '{username=\"bob\"}'"
        );
        assert_eq!(e.body["fields"], json!({"username": "bob"}));
    }

    #[test]
    fn unique_messages() {
        let e = unique_violation(&[("username", json!("bob"))]);
        assert_eq!(
            e.body,
            json!({"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{username=\"bob\"}'","fields":{"username":"bob"}})
        );
        let e = unique_violation(&[
            ("consumer", Value::Null),
            ("name", json!("basic-auth")),
            ("route", Value::Null),
            ("service", json!({"id": "u"})),
        ]);
        assert_eq!(
            e.body["message"],
            "UNIQUE violation detected on '{consumer=null,name=\"basic-auth\",route=null,service={id=\"u\"}}'"
        );
    }
}
