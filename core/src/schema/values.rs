//! Typed readers of JSON field values with Kong's error texts, and form-input coercion.
//!
//! Every reader returns the validated value or the error that goes under the field's name
//! (a string, or an array of per-element errors for collections).

use serde_json::{Map, Value};
use uuid::Uuid;

/// How a field is coerced when the body came from a form (kong-compat §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormType {
    /// Number: `"5"` -> `5`.
    Int,
    /// Boolean: `"true"`/`"false"`.
    Bool,
    /// Array or set: a lone scalar becomes a one-element array.
    Array,
    /// Array of records whose `port` is numeric (`sources`, `destinations`).
    Endpoints,
    /// Map of name -> array (`headers`).
    MapOfArrays,
    /// Foreign-key record `{"id": ..}`, kept as is.
    Record,
    /// Left for someone else to coerce (plugin `config`).
    Raw,
    /// Plain string.
    Str,
}

/// Coerce the string leaves of a form-decoded body by field type. `""` becomes `null`.
pub fn coerce_form(body: &mut Map<String, Value>, types: &[(&str, FormType)]) {
    for (key, value) in body.iter_mut() {
        let ty = types
            .iter()
            .find(|(name, _)| *name == key.as_str())
            .map_or(FormType::Str, |(_, t)| *t);
        if ty == FormType::Raw {
            continue;
        }
        if value.as_str() == Some("") {
            *value = Value::Null;
            continue;
        }
        coerce_value(value, ty);
    }
}

fn coerce_value(value: &mut Value, ty: FormType) {
    match ty {
        FormType::Int => coerce_number(value),
        FormType::Bool => coerce_bool(value),
        FormType::Array => coerce_array(value),
        FormType::Endpoints => {
            coerce_array(value);
            if let Value::Array(items) = value {
                for item in items {
                    if let Some(port) = item.get_mut("port") {
                        coerce_number(port);
                    }
                }
            }
        }
        FormType::MapOfArrays => {
            if let Value::Object(map) = value {
                for v in map.values_mut() {
                    coerce_array(v);
                }
            }
        }
        FormType::Record => {
            if let Value::Object(map) = value {
                for v in map.values_mut() {
                    if v.as_str() == Some("") {
                        *v = Value::Null;
                    }
                }
            }
        }
        FormType::Raw | FormType::Str => {}
    }
}

/// `"12"` -> `12` (integers and floats); anything else is left for the validator to reject.
pub fn coerce_number(value: &mut Value) {
    if let Value::String(s) = value {
        let t = s.trim();
        if let Ok(i) = t.parse::<i64>() {
            *value = Value::from(i);
        } else if let Ok(f) = t.parse::<f64>() {
            if let Some(n) = serde_json::Number::from_f64(f) {
                *value = Value::Number(n);
            }
        }
    }
}

/// `"true"`/`"false"` -> booleans.
pub fn coerce_bool(value: &mut Value) {
    match value.as_str() {
        Some("true") => *value = Value::Bool(true),
        Some("false") => *value = Value::Bool(false),
        _ => {}
    }
}

/// A lone scalar -> one-element array; `{"1": a, "2": b}` -> `[a, b]`.
pub fn coerce_array(value: &mut Value) {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            *value = Value::Array(vec![value.take()]);
        }
        Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok()) => {
            let mut items: Vec<(usize, Value)> = map
                .iter()
                .filter_map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v.clone())))
                .collect();
            items.sort_by_key(|(i, _)| *i);
            *value = Value::Array(items.into_iter().map(|(_, v)| v).collect());
        }
        _ => {}
    }
}

/// The value of `name` unless absent or `null`.
pub fn present<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// An integer in `min..=max`.
pub fn int(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    let n = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
    .ok_or_else(|| "expected an integer".to_string())?;
    if n < min || n > max {
        return Err(format!("value should be between {min} and {max}"));
    }
    Ok(n)
}

/// A non-empty string.
pub fn string(value: &Value) -> Result<&str, String> {
    match value {
        Value::String(s) if s.is_empty() => Err("length must be at least 1".into()),
        Value::String(s) => Ok(s),
        _ => Err("expected a string".into()),
    }
}

/// A boolean.
pub fn boolean(value: &Value) -> Result<bool, String> {
    value.as_bool().ok_or_else(|| "expected a boolean".into())
}

/// A UUID in canonical text form (lowercased).
pub fn uuid(value: &Value) -> Result<String, String> {
    let s = value
        .as_str()
        .ok_or_else(|| "expected a string".to_string())?;
    parse_uuid(s).ok_or_else(|| "expected a valid UUID".into())
}

/// `Some(canonical)` when `s` is UUID-shaped (8-4-4-4-12 hex).
pub fn parse_uuid(s: &str) -> Option<String> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok().map(|u| u.hyphenated().to_string())
}

/// One of a fixed list: `expected one of: a, b`.
pub fn one_of<'a>(value: &'a Value, allowed: &[&str]) -> Result<&'a str, String> {
    let s = value
        .as_str()
        .ok_or_else(|| "expected a string".to_string())?;
    if allowed.contains(&s) {
        Ok(s)
    } else {
        Err(format!("expected one of: {}", allowed.join(", ")))
    }
}

/// An array (or set, deduplicated keeping order) of strings, each checked by `check`.
/// Element errors come back as an array with `null` for valid elements.
pub fn strings(
    value: &Value,
    set: bool,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, Value> {
    let items: &[Value] = match value {
        Value::Array(items) => items,
        Value::Object(map) if map.is_empty() => &[],
        _ => {
            let msg = if set {
                "expected a set"
            } else {
                "expected an array"
            };
            return Err(Value::String(msg.into()));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    let mut errors: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let res = match item {
            Value::String(s) if s.is_empty() => Err("length must be at least 1".to_string()),
            Value::String(s) => check(s).map(|_| s.clone()),
            _ => Err("expected a string".to_string()),
        };
        match res {
            Ok(s) => {
                if !(set && out.contains(&s)) {
                    out.push(s);
                }
            }
            Err(e) => {
                errors.resize(i, Value::Null);
                errors.push(Value::String(e));
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Value::Array(errors))
    }
}

/// Kong's tag rule: printable ASCII except `,` and `/`, or UTF-8 beyond ASCII.
pub fn tag(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| !c.is_ascii() || ((c.is_ascii_graphic() || c == ' ') && c != ',' && c != '/'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tag '{s}': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
        ))
    }
}

/// `tags`: a set of tags, `null` when absent.
pub fn tags(body: &Map<String, Value>, errs: &mut super::Violations) -> Value {
    match present(body, "tags") {
        None => Value::Null,
        Some(v) => match strings(v, true, tag) {
            Ok(t) => Value::from(t),
            Err(e) => {
                errs.field("tags", e);
                Value::Null
            }
        },
    }
}

/// Kong's `utf8_name`: ASCII alphanumerics and `. - _ ~`, any non-ASCII character.
pub fn utf8_name(s: &str) -> Result<(), String> {
    if s.chars()
        .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || ".-_~".contains(c))
    {
        Ok(())
    } else {
        Err(format!(
            "invalid value '{s}': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
        ))
    }
}

/// Unknown keys of `body` (not in `known`) -> `unknown field`.
pub fn unknown_fields(body: &Map<String, Value>, known: &[&str], errs: &mut super::Violations) {
    for key in body.keys() {
        if !known.contains(&key.as_str()) {
            errs.field(key, "unknown field");
        }
    }
}

/// A foreign-key record: `{"id": uuid}` or `{"<alt>": string}`; `null` when absent.
/// Returned as a normalized object, resolved later by the store.
pub fn foreign(
    body: &Map<String, Value>,
    name: &str,
    alt: &str,
    errs: &mut super::Violations,
) -> Value {
    let Some(v) = present(body, name) else {
        return Value::Null;
    };
    let Value::Object(map) = v else {
        errs.field(name, "expected a record");
        return Value::Null;
    };
    let mut sub = Map::new();
    let mut out = Map::new();
    for (k, v) in map {
        if k == "id" {
            if v.is_null() {
                continue;
            }
            match uuid(v) {
                Ok(id) => {
                    out.insert("id".into(), Value::String(id));
                }
                Err(e) => {
                    sub.insert(k.clone(), Value::String(e));
                }
            }
        } else if k == alt {
            if v.is_null() {
                continue;
            }
            match string(v) {
                Ok(s) => {
                    out.insert(alt.into(), Value::String(s.into()));
                }
                Err(e) => {
                    sub.insert(k.clone(), Value::String(e));
                }
            }
        } else {
            sub.insert(k.clone(), Value::String("unknown field".into()));
        }
    }
    if !sub.is_empty() {
        errs.field(name, Value::Object(sub));
        return Value::Null;
    }
    if out.is_empty() {
        // `{}` / `{"id": null}` clears the reference.
        return Value::Null;
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn form_coercion() {
        let mut body = json!({
            "port": "8080", "enabled": "false", "tags": "a", "paths": {"2": "/b", "1": "/a"},
            "name": "", "headers": {"x-a": "1"}, "path": "/p", "config": {"x": "1"}
        });
        let types = [
            ("port", FormType::Int),
            ("enabled", FormType::Bool),
            ("tags", FormType::Array),
            ("paths", FormType::Array),
            ("headers", FormType::MapOfArrays),
            ("config", FormType::Raw),
        ];
        coerce_form(body.as_object_mut().unwrap(), &types);
        assert_eq!(
            body,
            json!({"port": 8080, "enabled": false, "tags": ["a"], "paths": ["/a", "/b"], "name": null,
                   "headers": {"x-a": ["1"]}, "path": "/p", "config": {"x": "1"}})
        );
    }

    #[test]
    fn integers() {
        assert_eq!(int(&json!(5), 0, 10), Ok(5));
        assert_eq!(int(&json!(5.0), 0, 10), Ok(5));
        assert_eq!(int(&json!(5.5), 0, 10), Err("expected an integer".into()));
        assert_eq!(int(&json!("5"), 0, 10), Err("expected an integer".into()));
        assert_eq!(
            int(&json!(11), 0, 10),
            Err("value should be between 0 and 10".into())
        );
    }

    #[test]
    fn string_sets() {
        assert_eq!(
            strings(&json!(["a", "a", "b"]), true, |_| Ok(())),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            strings(&json!("a"), true, |_| Ok(())),
            Err(json!("expected a set"))
        );
        assert_eq!(
            strings(&json!(["ok", 1]), false, |_| Ok(())),
            Err(json!([null, "expected a string"]))
        );
    }

    #[test]
    fn names_and_tags() {
        assert!(utf8_name("svc-1.a_b~").is_ok());
        assert!(utf8_name("été").is_ok());
        assert!(utf8_name("a b").is_err());
        assert!(tag("ok-tag").is_ok());
        assert!(tag("a,b").is_err());
        assert!(tag("a/b").is_err());
    }

    #[test]
    fn uuids() {
        assert!(parse_uuid("6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11").is_some());
        assert!(parse_uuid("6F1C1C2E-7D4E-4C39-9F0E-2B0F3F3B3A11").is_some());
        assert!(parse_uuid("6f1c1c2e7d4e4c399f0e2b0f3f3b3a11").is_none());
        assert!(parse_uuid("svc").is_none());
    }

    #[test]
    fn foreign_records() {
        let mut errs = super::super::Violations::new();
        let body = json!({"service": {"name": "svc"}, "route": {"foo": 1}, "consumer": null});
        let body = body.as_object().unwrap();
        assert_eq!(
            foreign(body, "service", "name", &mut errs),
            json!({"name": "svc"})
        );
        assert_eq!(
            foreign(body, "consumer", "username", &mut errs),
            Value::Null
        );
        assert_eq!(foreign(body, "route", "name", &mut errs), Value::Null);
        assert!(errs.has("route"));
    }
}
