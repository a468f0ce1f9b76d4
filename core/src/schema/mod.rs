//! Kong-compatible validation and defaulting of entity input (kong-compat §1.3–§1.7).
//!
//! [`validate`] turns a full entity body (POST, PUT, or PATCH after [`merge`]) into the stored
//! document: every field present in Kong's order, defaults filled, unset fields `null`. Foreign
//! keys stay as given (`{"id": ..}` or `{"name": ..}`); the store resolves them. Errors come
//! back as Kong's code-2 schema violation.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::store::{EntityKind, InputFormat};

pub mod consumer;
pub mod jwt;
pub mod net;
pub mod plugin;
pub mod route;
pub mod service;
pub mod values;
mod violations;

pub use violations::Violations;

/// Server-side facts a validation needs: identity of the entity being replaced and the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Id to keep (the existing entity's); otherwise the body's `id` or a new v4.
    pub id: Option<String>,
    /// `created_at` to keep (the existing entity's); otherwise the body's or `now`.
    pub created_at: Option<i64>,
    /// Current unix time, seconds.
    pub now: i64,
}

impl Meta {
    /// A brand-new entity at `now`.
    pub fn new(now: i64) -> Self {
        Self {
            id: None,
            created_at: None,
            now,
        }
    }

    fn id(&self, b: &Map<String, Value>, errs: &mut Violations) -> Value {
        if let Some(id) = &self.id {
            return Value::String(id.clone());
        }
        match values::present(b, "id") {
            None => Value::String(uuid::Uuid::new_v4().to_string()),
            Some(v) => match values::uuid(v) {
                Ok(id) => Value::String(id),
                Err(e) => {
                    errs.field("id", e);
                    Value::Null
                }
            },
        }
    }

    fn timestamps(
        &self,
        b: &Map<String, Value>,
        doc: &mut Map<String, Value>,
        errs: &mut Violations,
        updated: bool,
    ) {
        let created = match (self.created_at, values::present(b, "created_at")) {
            (Some(c), _) => Value::from(c),
            (None, None) => Value::from(self.now),
            (None, Some(v)) => check(
                errs,
                "created_at",
                values::int(v, 0, i64::MAX).map(Value::from),
            ),
        };
        doc.insert("created_at".into(), created);
        if updated {
            if let Some(v) = values::present(b, "updated_at") {
                if let Err(e) = values::int(v, 0, i64::MAX) {
                    errs.field("updated_at", e);
                }
            }
            doc.insert("updated_at".into(), Value::from(self.now));
        }
    }

    fn identity(
        &self,
        b: &Map<String, Value>,
        doc: &mut Map<String, Value>,
        errs: &mut Violations,
        updated: bool,
    ) {
        let id = self.id(b, errs);
        doc.insert("id".into(), id);
        self.timestamps(b, doc, errs, updated);
    }
}

/// `Ok(v)` -> `v`; `Err(e)` -> recorded under `name`, `null`.
fn check(errs: &mut Violations, name: &str, r: Result<Value, String>) -> Value {
    r.unwrap_or_else(|e| {
        errs.field(name, e);
        Value::Null
    })
}

/// An optional non-empty string checked by `extra`.
fn opt_string(
    b: &Map<String, Value>,
    name: &str,
    errs: &mut Violations,
    extra: impl Fn(&str) -> Result<(), String>,
) -> Value {
    match values::present(b, name) {
        None => Value::Null,
        Some(v) => check(
            errs,
            name,
            values::string(v).and_then(|s| extra(s).map(|_| Value::String(s.to_string()))),
        ),
    }
}

/// An integer in range, `default` when absent or `null`.
fn int_or(
    b: &Map<String, Value>,
    name: &str,
    min: i64,
    max: i64,
    default: i64,
    errs: &mut Violations,
) -> Value {
    match values::present(b, name) {
        None => Value::from(default),
        Some(v) => check(errs, name, values::int(v, min, max).map(Value::from)),
    }
}

/// A boolean, `default` when absent or `null`.
fn bool_or(b: &Map<String, Value>, name: &str, default: bool, errs: &mut Violations) -> Value {
    match values::present(b, name) {
        None => Value::Bool(default),
        Some(v) => check(errs, name, values::boolean(v).map(Value::Bool)),
    }
}

/// The form coercion table of an entity kind.
pub fn form_types(kind: EntityKind) -> &'static [(&'static str, values::FormType)] {
    match kind {
        EntityKind::Services => service::FORM,
        EntityKind::Routes => route::FORM,
        EntityKind::Consumers => consumer::FORM,
        EntityKind::Plugins => plugin::FORM,
        EntityKind::JwtSecrets => jwt::FORM,
    }
}

/// Turn a request body into an object, coercing form input by schema.
pub fn body_object(
    kind: EntityKind,
    body: &Value,
    format: InputFormat,
) -> Result<Map<String, Value>, ApiError> {
    let mut map = match body {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(ApiError::message(400, "Cannot parse JSON body")),
    };
    if format == InputFormat::Form {
        values::coerce_form(&mut map, form_types(kind));
    }
    Ok(map)
}

/// PATCH: `patch` over `existing` (top-level replace; plugin `config` merged recursively).
pub fn merge(
    kind: EntityKind,
    existing: &Map<String, Value>,
    patch: Map<String, Value>,
) -> Map<String, Value> {
    let mut out = existing.clone();
    for (k, v) in patch {
        if kind == EntityKind::Plugins && k == "config" {
            if let (Some(Value::Object(old)), Value::Object(new)) = (existing.get("config"), &v) {
                out.insert(k, Value::Object(deep_merge(old, new)));
                continue;
            }
        }
        out.insert(k, v);
    }
    out
}

fn deep_merge(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut out = old.clone();
    for (k, v) in new {
        match (old.get(k), v) {
            (Some(Value::Object(o)), Value::Object(n)) => {
                out.insert(k.clone(), Value::Object(deep_merge(o, n)));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// Validate a full entity body of `kind` and return its stored document (kong-compat shape).
pub fn validate(
    kind: EntityKind,
    body: Map<String, Value>,
    format: InputFormat,
    meta: &Meta,
) -> Result<Map<String, Value>, ApiError> {
    let mut errs = Violations::new();
    let doc = match kind {
        EntityKind::Services => service::validate(body, meta, &mut errs),
        EntityKind::Routes => route::validate(body, meta, &mut errs),
        EntityKind::Consumers => consumer::validate(body, meta, &mut errs),
        EntityKind::Plugins => plugin::validate(body, meta, format, &mut errs),
        EntityKind::JwtSecrets => jwt::validate(body, meta, &mut errs),
    };
    errs.into_result()?;
    Ok(doc)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{json, Map, Value};

    use super::*;

    /// Validate a JSON body of `kind` as a creation at t=1700000000.
    pub fn run(kind: EntityKind, body: Value) -> Result<Map<String, Value>, ApiError> {
        let map = body_object(kind, &body, InputFormat::Json)?;
        validate(kind, map, InputFormat::Json, &Meta::new(1_700_000_000))
    }

    #[test]
    fn ids_and_timestamps() {
        let doc = run(EntityKind::Consumers, json!({"username": "bob"})).unwrap();
        assert!(values::parse_uuid(doc["id"].as_str().unwrap()).is_some());
        assert_eq!(doc["created_at"], 1_700_000_000);
        assert_eq!(doc["updated_at"], 1_700_000_000);
        let id = "6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11";
        let doc = run(EntityKind::Consumers, json!({"username": "bob", "id": id})).unwrap();
        assert_eq!(doc["id"], id);
        let err = run(EntityKind::Consumers, json!({"username": "bob", "id": "x"})).unwrap_err();
        assert_eq!(err.body["fields"]["id"], "expected a valid UUID");
        let meta = Meta {
            id: Some(id.into()),
            created_at: Some(5),
            now: 10,
        };
        let body = json!({"username": "bob"}).as_object().unwrap().clone();
        let doc = validate(EntityKind::Consumers, body, InputFormat::Json, &meta).unwrap();
        assert_eq!(
            (&doc["id"], &doc["created_at"], &doc["updated_at"]),
            (&json!(id), &json!(5), &json!(10))
        );
    }

    #[test]
    fn form_bodies_are_coerced() {
        let body = json!({"name": "svc", "host": "h", "port": "8080", "enabled": "false", "tags": "t1", "path": ""});
        let map = body_object(EntityKind::Services, &body, InputFormat::Form).unwrap();
        let doc = validate(EntityKind::Services, map, InputFormat::Form, &Meta::new(1)).unwrap();
        assert_eq!(doc["port"], 8080);
        assert_eq!(doc["enabled"], false);
        assert_eq!(doc["tags"], json!(["t1"]));
        assert_eq!(doc["path"], Value::Null);
    }

    #[test]
    fn patch_merges_config_deeply() {
        let old = json!({"name": "cors", "config": {"origins": ["a"], "max_age": 5}});
        let patch = json!({"config": {"max_age": 10}});
        let out = merge(
            EntityKind::Plugins,
            old.as_object().unwrap(),
            patch.as_object().unwrap().clone(),
        );
        assert_eq!(out["config"], json!({"origins": ["a"], "max_age": 10}));
    }

    #[test]
    fn non_object_body() {
        assert_eq!(
            body_object(EntityKind::Services, &json!([1]), InputFormat::Json).unwrap_err(),
            ApiError::message(400, "Cannot parse JSON body")
        );
    }
}
