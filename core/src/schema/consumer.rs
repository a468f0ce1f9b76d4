//! `consumers` schema (kong-compat §1.6).

use serde_json::{Map, Value};

use super::values::{self, FormType};
use super::{Meta, Violations};

/// Form coercion of consumer fields.
pub const FORM: &[(&str, FormType)] = &[
    ("created_at", FormType::Int),
    ("updated_at", FormType::Int),
    ("tags", FormType::Array),
];

const KNOWN: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "username",
    "custom_id",
    "tags",
];

/// Validate a full consumer body and return the stored document.
pub fn validate(
    body: Map<String, Value>,
    meta: &Meta,
    errs: &mut Violations,
) -> Map<String, Value> {
    values::unknown_fields(&body, KNOWN, errs);
    let b = &body;
    let mut doc = Map::new();
    meta.identity(b, &mut doc, errs, true);
    let username = super::opt_string(b, "username", errs, |_| Ok(()));
    let custom_id = super::opt_string(b, "custom_id", errs, |_| Ok(()));
    if username.is_null() && custom_id.is_null() && !errs.has("username") && !errs.has("custom_id")
    {
        errs.entity("at least one of these fields must be non-empty: 'custom_id', 'username'");
    }
    doc.insert("username".into(), username);
    doc.insert("custom_id".into(), custom_id);
    doc.insert("tags".into(), values::tags(b, errs));
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::run;
    use crate::store::EntityKind;

    #[test]
    fn needs_username_or_custom_id() {
        let err = run(EntityKind::Consumers, json!({})).unwrap_err();
        assert_eq!(
            err.body,
            json!({"code":2,"name":"schema violation",
                   "message":"schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')",
                   "fields":{"@entity":["at least one of these fields must be non-empty: 'custom_id', 'username'"]}})
        );
        let doc = run(
            EntityKind::Consumers,
            json!({"custom_id": "c1", "tags": ["a"]}),
        )
        .unwrap();
        let keys: Vec<&String> = doc.keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "created_at",
                "updated_at",
                "username",
                "custom_id",
                "tags"
            ]
        );
        assert_eq!(doc["username"], serde_json::Value::Null);
    }
}
