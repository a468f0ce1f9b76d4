//! `plugins` schema (kong-compat §1.6); the `config` is checked by [`crate::plugin_config`].

use serde_json::{Map, Value};

use super::values::{self, present, FormType};
use super::{Meta, Violations};
use crate::plugin_config;
use crate::store::InputFormat;

/// Form coercion of plugin fields (`config` is coerced by the plugin's own schema).
pub const FORM: &[(&str, FormType)] = &[
    ("created_at", FormType::Int),
    ("updated_at", FormType::Int),
    ("route", FormType::Record),
    ("service", FormType::Record),
    ("consumer", FormType::Record),
    ("config", FormType::Raw),
    ("protocols", FormType::Array),
    ("enabled", FormType::Bool),
    ("tags", FormType::Array),
];

const KNOWN: &[&str] = &[
    "id",
    "name",
    "instance_name",
    "created_at",
    "updated_at",
    "route",
    "service",
    "consumer",
    "config",
    "protocols",
    "enabled",
    "tags",
];

const HTTP_PROTOCOLS: &[&str] = &["grpc", "grpcs", "http", "https"];

/// The message of an unknown plugin name.
pub fn not_enabled(name: &str) -> String {
    format!("plugin '{name}' not enabled; add it to the 'plugins' configuration property")
}

/// Validate a full plugin body and return the stored document.
pub fn validate(
    body: Map<String, Value>,
    meta: &Meta,
    format: InputFormat,
    errs: &mut Violations,
) -> Map<String, Value> {
    values::unknown_fields(&body, KNOWN, errs);
    let b = &body;
    let mut doc = Map::new();
    let name = match present(b, "name") {
        None => {
            errs.field("name", "required field missing");
            None
        }
        Some(v) => match values::string(v) {
            Ok(n) => match plugin_config::info(n) {
                Some(info) => Some(info),
                None => {
                    errs.field("name", not_enabled(n));
                    None
                }
            },
            Err(e) => {
                errs.field("name", e);
                None
            }
        },
    };
    let id = meta.id(b, errs);
    doc.insert("id".into(), id);
    doc.insert(
        "name".into(),
        name.map_or_else(
            || b.get("name").cloned().unwrap_or(Value::Null),
            |i| Value::from(i.name),
        ),
    );
    doc.insert(
        "instance_name".into(),
        super::opt_string(b, "instance_name", errs, values::utf8_name),
    );
    meta.timestamps(b, &mut doc, errs, true);
    doc.insert("route".into(), values::foreign(b, "route", "name", errs));
    doc.insert(
        "service".into(),
        values::foreign(b, "service", "name", errs),
    );
    let consumer = values::foreign(b, "consumer", "username", errs);
    if let Some(info) = name {
        if !info.consumer_scoped && !consumer.is_null() {
            errs.field("consumer", "value must be null");
        }
    }
    doc.insert("consumer".into(), consumer);
    let config = match (present(b, "config"), name) {
        (Some(c), _) if !c.is_object() => {
            errs.field("config", "expected a record");
            Value::Null
        }
        (c, Some(info)) => match plugin_config::normalize(info.name, c, format) {
            Ok(cfg) => cfg,
            Err(fields) => {
                errs.field("config", Value::Object(fields));
                Value::Null
            }
        },
        (c, None) => c.cloned().unwrap_or(Value::Null),
    };
    doc.insert("config".into(), config);
    let allowed: &[&str] = match name {
        Some(i) if i.name == "statsd" => super::service::PROTOCOLS,
        _ => HTTP_PROTOCOLS,
    };
    let protocols = match present(b, "protocols") {
        None => Value::from(HTTP_PROTOCOLS.to_vec()),
        Some(v) => match values::strings(v, true, |s| {
            if allowed.contains(&s) {
                Ok(())
            } else {
                Err(format!("expected one of: {}", allowed.join(", ")))
            }
        }) {
            Ok(list) => Value::from(list),
            Err(e) => {
                errs.field("protocols", e);
                Value::Null
            }
        },
    };
    doc.insert("protocols".into(), protocols);
    doc.insert("enabled".into(), super::bool_or(b, "enabled", true, errs));
    doc.insert("tags".into(), values::tags(b, errs));
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::run;
    use crate::store::EntityKind;

    #[test]
    fn unknown_plugin() {
        let err = run(EntityKind::Plugins, json!({"name": "basic-auth"})).unwrap_err();
        assert_eq!(
            err.body,
            json!({"code":2,"name":"schema violation",
                   "message":"schema violation (name: plugin 'basic-auth' not enabled; add it to the 'plugins' configuration property)",
                   "fields":{"name":"plugin 'basic-auth' not enabled; add it to the 'plugins' configuration property"}})
        );
        let err = run(EntityKind::Plugins, json!({})).unwrap_err();
        assert_eq!(err.body["fields"]["name"], "required field missing");
    }

    #[test]
    fn jwt_rejects_consumer() {
        let err = run(
            EntityKind::Plugins,
            json!({"name": "jwt", "consumer": {"id": "6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11"}}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"consumer": "value must be null"})
        );
    }

    #[test]
    fn shape_and_defaults() {
        let doc = run(EntityKind::Plugins, json!({"name": "jwt"})).unwrap();
        let keys: Vec<&String> = doc.keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "name",
                "instance_name",
                "created_at",
                "updated_at",
                "route",
                "service",
                "consumer",
                "config",
                "protocols",
                "enabled",
                "tags"
            ]
        );
        assert_eq!(doc["protocols"], json!(["grpc", "grpcs", "http", "https"]));
        assert!(doc["config"].is_object());
        let err = run(EntityKind::Plugins, json!({"name": "jwt", "config": 5})).unwrap_err();
        assert_eq!(err.body["fields"]["config"], "expected a record");
    }
}
