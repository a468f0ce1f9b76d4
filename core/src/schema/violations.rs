//! Collecting schema violations and rendering them as Kong's code-2 error (kong-compat §1.3).

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Field and entity errors of one validation run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Violations {
    entity: Vec<String>,
    fields: Map<String, Value>,
}

impl Violations {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record an error on a field (a string, or a nested object/array of errors).
    pub fn field(&mut self, name: &str, err: impl Into<Value>) {
        self.fields.insert(name.to_string(), err.into());
    }

    /// Record an entity-level error (`fields["@entity"]`); duplicates are dropped.
    pub fn entity(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if !self.entity.contains(&msg) {
            self.entity.push(msg);
        }
    }

    /// Whether `name` already has an error.
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entity.is_empty() && self.fields.is_empty()
    }

    /// `Ok(())` when empty, else the schema violation error.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// The 400 code-2 `schema violation` error: entity-level messages first, then field errors
    /// sorted by name and flattened as `parent.child` (array elements by 1-based index).
    pub fn into_error(self) -> ApiError {
        let mut parts: Vec<String> = self.entity.clone();
        let mut names: Vec<&String> = self.fields.keys().collect();
        names.sort();
        for name in names {
            flatten(name, &self.fields[name.as_str()], &mut parts);
        }
        let message = if parts.len() == 1 {
            format!("schema violation ({})", parts[0])
        } else {
            format!("{} schema violations ({})", parts.len(), parts.join("; "))
        };
        let mut fields = self.fields;
        if !self.entity.is_empty() {
            fields.insert(
                "@entity".into(),
                Value::Array(self.entity.into_iter().map(Value::String).collect()),
            );
        }
        ApiError::dao(
            400,
            2,
            "schema violation",
            message,
            Some(Value::Object(fields)),
        )
    }
}

fn flatten(prefix: &str, err: &Value, out: &mut Vec<String>) {
    match err {
        Value::String(s) => out.push(format!("{prefix}: {s}")),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                if k == "@entity" {
                    if let Value::Array(items) = &map[k.as_str()] {
                        for item in items {
                            flatten(prefix, item, out);
                        }
                    }
                    continue;
                }
                flatten(&format!("{prefix}.{k}"), &map[k.as_str()], out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_null() {
                    flatten(&format!("{prefix}.{}", i + 1), item, out);
                }
            }
        }
        Value::Null => {}
        other => out.push(format!("{prefix}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_error_message() {
        let mut v = Violations::new();
        v.field("name", "required field missing");
        let e = v.into_error();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.body,
            json!({"code":2,"name":"schema violation","message":"schema violation (name: required field missing)","fields":{"name":"required field missing"}})
        );
    }

    #[test]
    fn entity_first_then_sorted_fields() {
        let mut v = Violations::new();
        v.field("rsa_public_key", "required field missing");
        v.entity("failed conditional validation given value of field 'algorithm'");
        v.field("algorithm", "x");
        let e = v.into_error();
        assert_eq!(
            e.body["message"],
            "3 schema violations (failed conditional validation given value of field 'algorithm'; algorithm: x; rsa_public_key: required field missing)"
        );
        assert_eq!(
            e.body["fields"]["@entity"],
            json!(["failed conditional validation given value of field 'algorithm'"])
        );
    }

    #[test]
    fn nested_and_array_errors_are_flattened() {
        let mut v = Violations::new();
        v.field(
            "config",
            json!({"origins": [null, "invalid regex"], "a": "b"}),
        );
        v.field("methods", json!([null, "invalid value: get"]));
        let e = v.into_error();
        assert_eq!(
            e.body["message"],
            "3 schema violations (config.a: b; config.origins.2: invalid regex; methods.2: invalid value: get)"
        );
    }
}
