//! Reads: entity lookup, paginated lists with tag filters, and the gateway's consistent
//! full-configuration load.

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sqlx::AnyPool;

use super::db::{self, internal};
use super::table;
use super::write::resolve_scope;
use super::{EntityKind, ListQuery, Page, ParentRef, TagFilter};
use crate::error::ApiError;
use crate::model::ConfigData;

/// Opaque page offset: base64 of the last id of the previous page.
pub fn encode_offset(id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(id)
}

/// Decode an offset; invalid -> 400 code 7.
pub fn decode_offset(offset: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(offset)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::dao(
                400,
                7,
                "invalid offset",
                format!("'{offset}' is not a valid offset: bad base64 encoding"),
                None,
            )
        })
}

/// `%,tag,%` with LIKE wildcards escaped.
fn tag_pattern(tag: &str) -> String {
    let mut s = String::from("%,");
    for c in tag.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push_str(",%");
    s
}

/// `GET /{coll}` (optionally nested).
pub async fn list(
    pool: &AnyPool,
    kind: EntityKind,
    parent: Option<&ParentRef>,
    q: &ListQuery,
) -> Result<Page, ApiError> {
    let mut conn = pool.acquire().await.map_err(internal)?;
    let scope = resolve_scope(&mut conn, kind, parent).await?;
    let mut sql = format!("SELECT doc FROM {} WHERE 1 = 1", kind.table());
    let mut binds: Vec<String> = Vec::new();
    let param = |binds: &mut Vec<String>, v: String| {
        binds.push(v);
        format!("${}", binds.len())
    };
    if let Some(scope) = &scope {
        let p = param(&mut binds, scope.id().to_string());
        sql.push_str(&format!(" AND {} = {p}", scope.column()));
    }
    if let Some(offset) = &q.offset {
        let p = param(&mut binds, decode_offset(offset)?);
        sql.push_str(&format!(" AND id > {p}"));
    }
    if let (EntityKind::Consumers, Some(custom_id)) = (kind, &q.custom_id) {
        let p = param(&mut binds, custom_id.clone());
        sql.push_str(&format!(" AND custom_id = {p}"));
    }
    let (tags, joiner) = match &q.tags {
        Some(TagFilter::All(t)) => (t.as_slice(), " AND "),
        Some(TagFilter::Any(t)) => (t.as_slice(), " OR "),
        None => (&[][..], ""),
    };
    if !tags.is_empty() {
        let conds: Vec<String> = tags
            .iter()
            .map(|t| {
                format!(
                    "tags LIKE {} ESCAPE '\\'",
                    param(&mut binds, tag_pattern(t))
                )
            })
            .collect();
        sql.push_str(&format!(" AND ({})", conds.join(joiner)));
    }
    let size = if q.size == 0 { 100 } else { q.size.min(1000) };
    sql.push_str(&format!(" ORDER BY id LIMIT {}", size + 1));
    let mut query = sqlx::query_scalar::<_, String>(&sql);
    for b in binds {
        query = query.bind(b);
    }
    let docs = query.fetch_all(&mut *conn).await.map_err(internal)?;
    let mut data = Vec::with_capacity(docs.len().min(size));
    for d in docs.iter().take(size) {
        data.push(serde_json::from_str::<Value>(d).map_err(ApiError::internal)?);
    }
    let offset = if docs.len() > size {
        data.last()
            .and_then(|d| d.get("id"))
            .and_then(Value::as_str)
            .map(encode_offset)
    } else {
        None
    };
    Ok(Page { data, offset })
}

/// `GET /{coll}/{key}` (optionally nested; a child of another parent is 404).
pub async fn get(
    pool: &AnyPool,
    kind: EntityKind,
    key: &str,
    parent: Option<&ParentRef>,
) -> Result<Value, ApiError> {
    let mut conn = pool.acquire().await.map_err(internal)?;
    let scope = resolve_scope(&mut conn, kind, parent).await?;
    let doc: Map<String, Value> = table::find_by_key(&mut conn, kind, key)
        .await
        .map_err(internal)?
        .ok_or_else(ApiError::not_found)?;
    if let Some(scope) = &scope {
        if !scope.owns(&doc) {
            return Err(ApiError::not_found());
        }
    }
    Ok(Value::Object(doc))
}

/// Distinct plugin names in the store, sorted.
pub async fn plugin_names(pool: &AnyPool) -> Result<Vec<String>, ApiError> {
    sqlx::query_scalar("SELECT DISTINCT name FROM plugins ORDER BY name")
        .fetch_all(pool)
        .await
        .map_err(internal)
}

fn parse_all<T: DeserializeOwned>(kind: EntityKind, docs: Vec<String>) -> anyhow::Result<Vec<T>> {
    docs.iter()
        .map(|d| {
            serde_json::from_str(d)
                .map_err(|e| anyhow::anyhow!("corrupt {} document: {e}", kind.table()))
        })
        .collect()
}

/// Everything, read in one transaction at one version (REPEATABLE READ on Postgres; an SQLite
/// read transaction sees one snapshot from its first read).
pub async fn load_config(pool: &AnyPool, postgres: bool) -> anyhow::Result<ConfigData> {
    let mut tx = pool.begin().await?;
    if postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let version = db::version(&mut tx).await?;
    let services = parse_all(
        EntityKind::Services,
        table::all_docs(&mut tx, EntityKind::Services).await?,
    )?;
    let routes = parse_all(
        EntityKind::Routes,
        table::all_docs(&mut tx, EntityKind::Routes).await?,
    )?;
    let consumers = parse_all(
        EntityKind::Consumers,
        table::all_docs(&mut tx, EntityKind::Consumers).await?,
    )?;
    let plugins = parse_all(
        EntityKind::Plugins,
        table::all_docs(&mut tx, EntityKind::Plugins).await?,
    )?;
    let jwt_secrets = parse_all(
        EntityKind::JwtSecrets,
        table::all_docs(&mut tx, EntityKind::JwtSecrets).await?,
    )?;
    tx.commit().await?;
    Ok(ConfigData {
        version,
        services,
        routes,
        consumers,
        plugins,
        jwt_secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip() {
        let id = "6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11";
        assert_eq!(decode_offset(&encode_offset(id)).unwrap(), id);
        let e = decode_offset("x").unwrap_err();
        assert_eq!(
            e.body,
            serde_json::json!({"code":7,"name":"invalid offset","message":"'x' is not a valid offset: bad base64 encoding"})
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(tag_pattern("a_b%"), "%,a\\_b\\%,%");
    }
}
