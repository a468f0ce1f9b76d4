//! Row-level SQL of the entity tables: lookups, insert/update/delete and the index columns
//! derived from each entity document.

use serde_json::{Map, Value};
use sqlx::AnyConnection;
use sqlx::Row;

use super::EntityKind;
use crate::schema::values::parse_uuid;

/// Field of the endpoint key (`/{coll}/{key}` when the key is not a UUID).
pub fn endpoint_key(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Services | EntityKind::Routes => "name",
        EntityKind::Consumers => "username",
        EntityKind::Plugins => "instance_name",
        EntityKind::JwtSecrets => "key",
    }
}

/// Unique fields checked on every write (the plugin scope is checked separately).
pub fn unique_fields(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Services | EntityKind::Routes => &["name"],
        EntityKind::Consumers => &["username", "custom_id"],
        EntityKind::Plugins => &["instance_name"],
        EntityKind::JwtSecrets => &["key"],
    }
}

/// Foreign-key fields of a kind: (document field, column, referenced kind, alternate key).
pub fn foreign_keys(
    kind: EntityKind,
) -> &'static [(&'static str, &'static str, EntityKind, &'static str)] {
    match kind {
        EntityKind::Routes => &[("service", "service_id", EntityKind::Services, "name")],
        EntityKind::Plugins => &[
            ("route", "route_id", EntityKind::Routes, "name"),
            ("service", "service_id", EntityKind::Services, "name"),
            ("consumer", "consumer_id", EntityKind::Consumers, "username"),
        ],
        EntityKind::JwtSecrets => &[("consumer", "consumer_id", EntityKind::Consumers, "username")],
        EntityKind::Services | EntityKind::Consumers => &[],
    }
}

/// The foreign-key field of `child` pointing at a parent of kind `parent`.
pub fn parent_field(child: EntityKind, parent: EntityKind) -> Option<(&'static str, &'static str)> {
    foreign_keys(child)
        .iter()
        .find(|(_, _, k, _)| *k == parent)
        .map(|(f, c, _, _)| (*f, *c))
}

/// `doc[field].id` as a string.
pub fn fk_id<'a>(doc: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    doc.get(field)?.get("id")?.as_str()
}

/// Plugins: `name|route|service|consumer` ids, one instance per scope.
pub fn scope_key(doc: &Map<String, Value>) -> String {
    format!(
        "{}|{}|{}|{}",
        doc.get("name").and_then(Value::as_str).unwrap_or(""),
        fk_id(doc, "route").unwrap_or(""),
        fk_id(doc, "service").unwrap_or(""),
        fk_id(doc, "consumer").unwrap_or(""),
    )
}

/// `,a,b,` for tag filtering with `LIKE '%,a,%'`; `None` without tags.
fn tags_column(doc: &Map<String, Value>) -> Option<String> {
    let tags = doc.get("tags")?.as_array()?;
    if tags.is_empty() {
        return None;
    }
    let list: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
    Some(format!(",{},", list.join(",")))
}

fn str_field(doc: &Map<String, Value>, f: &str) -> Option<String> {
    doc.get(f).and_then(Value::as_str).map(str::to_string)
}

/// The index columns of a row (everything but `id`, `created_at` and `doc`).
fn columns(kind: EntityKind, doc: &Map<String, Value>) -> Vec<(&'static str, Option<String>)> {
    let mut cols: Vec<(&'static str, Option<String>)> = match kind {
        EntityKind::Services => vec![("name", str_field(doc, "name"))],
        EntityKind::Routes => vec![
            ("name", str_field(doc, "name")),
            ("service_id", fk_id(doc, "service").map(str::to_string)),
        ],
        EntityKind::Consumers => vec![
            ("username", str_field(doc, "username")),
            ("custom_id", str_field(doc, "custom_id")),
        ],
        EntityKind::Plugins => vec![
            ("name", str_field(doc, "name")),
            ("instance_name", str_field(doc, "instance_name")),
            ("scope_key", Some(scope_key(doc))),
            ("service_id", fk_id(doc, "service").map(str::to_string)),
            ("route_id", fk_id(doc, "route").map(str::to_string)),
            ("consumer_id", fk_id(doc, "consumer").map(str::to_string)),
        ],
        EntityKind::JwtSecrets => vec![
            ("key", str_field(doc, "key")),
            ("consumer_id", fk_id(doc, "consumer").map(str::to_string)),
        ],
    };
    cols.push(("tags", tags_column(doc)));
    cols
}

fn parse_doc(text: &str) -> Result<Map<String, Value>, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The document of the row where `column = value`.
pub async fn find_by(
    conn: &mut AnyConnection,
    kind: EntityKind,
    column: &str,
    value: &str,
) -> Result<Option<Map<String, Value>>, sqlx::Error> {
    let sql = format!("SELECT doc FROM {} WHERE {column} = $1", kind.table());
    let row = sqlx::query(&sql).bind(value).fetch_optional(conn).await?;
    match row {
        Some(row) => Ok(Some(parse_doc(&row.try_get::<String, _>(0)?)?)),
        None => Ok(None),
    }
}

/// The entity a URL key designates: by id when UUID-shaped, else by endpoint key.
pub async fn find_by_key(
    conn: &mut AnyConnection,
    kind: EntityKind,
    key: &str,
) -> Result<Option<Map<String, Value>>, sqlx::Error> {
    match parse_uuid(key) {
        Some(id) => find_by(conn, kind, "id", &id).await,
        None => find_by(conn, kind, endpoint_key(kind), key).await,
    }
}

/// Id of another row where `column = value` (uniqueness checks).
pub async fn other_with(
    conn: &mut AnyConnection,
    kind: EntityKind,
    column: &str,
    value: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "SELECT id FROM {} WHERE {column} = $1 AND id <> $2",
        kind.table()
    );
    Ok(sqlx::query(&sql)
        .bind(value)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .is_some())
}

/// Insert a new row for `doc`.
pub async fn insert(
    conn: &mut AnyConnection,
    kind: EntityKind,
    doc: &Map<String, Value>,
) -> Result<(), sqlx::Error> {
    let cols = columns(kind, doc);
    let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
    let params: Vec<String> = (0..cols.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "INSERT INTO {} (id, created_at, {}, doc) VALUES ($1, $2, {}, ${})",
        kind.table(),
        names.join(", "),
        params.join(", "),
        cols.len() + 3
    );
    let mut q = sqlx::query(&sql).bind(id_of(doc)).bind(created_at_of(doc));
    for (_, v) in cols {
        q = q.bind(v);
    }
    q.bind(Value::Object(doc.clone()).to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Replace the row of `doc.id` with `doc`.
pub async fn update(
    conn: &mut AnyConnection,
    kind: EntityKind,
    doc: &Map<String, Value>,
) -> Result<(), sqlx::Error> {
    let cols = columns(kind, doc);
    let sets: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = ${}", i + 3))
        .collect();
    let sql = format!(
        "UPDATE {} SET created_at = $2, {}, doc = ${} WHERE id = $1",
        kind.table(),
        sets.join(", "),
        cols.len() + 3
    );
    let mut q = sqlx::query(&sql).bind(id_of(doc)).bind(created_at_of(doc));
    for (_, v) in cols {
        q = q.bind(v);
    }
    q.bind(Value::Object(doc.clone()).to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Delete the row `id` (foreign keys cascade to plugins and credentials).
pub async fn delete(
    conn: &mut AnyConnection,
    kind: EntityKind,
    id: &str,
) -> Result<(), sqlx::Error> {
    let sql = format!("DELETE FROM {} WHERE id = $1", kind.table());
    sqlx::query(&sql).bind(id).execute(conn).await?;
    Ok(())
}

/// Number of routes pointing at service `id`.
pub async fn routes_of_service(conn: &mut AnyConnection, id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM routes WHERE service_id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Every document of a table, ordered by id.
pub async fn all_docs(
    conn: &mut AnyConnection,
    kind: EntityKind,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!("SELECT doc FROM {} ORDER BY id", kind.table());
    sqlx::query_scalar(&sql).fetch_all(conn).await
}

/// `doc.id`.
pub fn id_of(doc: &Map<String, Value>) -> String {
    doc.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn created_at_of(doc: &Map<String, Value>) -> i64 {
    doc.get("created_at").and_then(Value::as_i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn derived_columns() {
        let doc = json!({"id": "p", "name": "cors", "route": {"id": "r"}, "service": null, "consumer": null, "tags": ["a", "b"]});
        let doc = doc.as_object().unwrap();
        assert_eq!(scope_key(doc), "cors|r||");
        let cols = columns(EntityKind::Plugins, doc);
        assert!(cols.contains(&("route_id", Some("r".into()))));
        assert!(cols.contains(&("service_id", None)));
        assert!(cols.contains(&("tags", Some(",a,b,".into()))));
    }

    #[test]
    fn parents() {
        assert_eq!(
            parent_field(EntityKind::Routes, EntityKind::Services),
            Some(("service", "service_id"))
        );
        assert_eq!(
            parent_field(EntityKind::JwtSecrets, EntityKind::Consumers),
            Some(("consumer", "consumer_id"))
        );
        assert_eq!(parent_field(EntityKind::Services, EntityKind::Routes), None);
    }
}
