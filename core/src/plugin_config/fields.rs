//! A tiny schema walker for plugin configs: reads one record field by field, applies Kong's
//! defaults and form coercion, and collects Kong's field error texts.
//!
//! Rules (Kong's `kong.db.schema`): an absent field takes its default; an explicit `null`
//! (or `""` in a form) stays `null` and fails only when the field is required; form strings are
//! coerced (`"true"`/`"false"`, numbers, a lone scalar for an array); fields are returned in
//! schema order; any other key is an `unknown field`.

use serde_json::{Map, Number, Value};

use super::FieldErrors;

/// `expected one of: a, b` text for enumerations.
pub(crate) fn one_of_msg(allowed: &[&str]) -> String {
    format!("expected one of: {}", allowed.join(", "))
}

/// A raw field value after form handling.
enum Slot {
    Absent,
    Null,
    Value(Value),
}

/// Reads one record (the plugin `config`, a `queue`, a metric entry).
pub(crate) struct Record {
    input: Map<String, Value>,
    form: bool,
    out: Map<String, Value>,
    errors: FieldErrors,
}

impl Record {
    /// Start reading `input`; `None` or `null` is an empty record, a non-object is an error.
    pub(crate) fn new(input: Option<&Value>, form: bool) -> Result<Self, String> {
        let input = match input {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(Value::String(s)) if form && s.is_empty() => Map::new(),
            Some(_) => return Err("expected a record".into()),
        };
        Ok(Self {
            input,
            form,
            out: Map::new(),
            errors: Map::new(),
        })
    }

    fn take(&mut self, name: &str) -> Slot {
        match self.input.remove(name) {
            None => Slot::Absent,
            Some(Value::Null) => Slot::Null,
            Some(Value::String(s)) if self.form && s.is_empty() => Slot::Null,
            Some(v) => Slot::Value(v),
        }
    }

    /// Record an error for `name` (the field is output as `null`).
    pub(crate) fn error(&mut self, name: &str, err: impl Into<Value>) {
        self.errors.insert(name.to_string(), err.into());
    }

    /// Whether no error was recorded so far.
    pub(crate) fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    fn put(&mut self, name: &str, v: Value) {
        self.out.insert(name.to_string(), v);
    }

    /// Handle absent/null: returns the value to validate, or `None` when already settled.
    fn resolve(&mut self, name: &str, default: Option<Value>, required: bool) -> Option<Value> {
        match self.take(name) {
            Slot::Absent => match default {
                Some(d) => {
                    self.put(name, d);
                    None
                }
                None => self.missing(name, required),
            },
            Slot::Null => self.missing(name, required),
            Slot::Value(v) => Some(v),
        }
    }

    fn missing(&mut self, name: &str, required: bool) -> Option<Value> {
        if required {
            self.error(name, "required field missing");
        }
        self.put(name, Value::Null);
        None
    }

    /// A string field; `check` validates a present value.
    pub(crate) fn string(
        &mut self,
        name: &str,
        default: Option<&str>,
        required: bool,
        check: impl Fn(&str) -> Result<(), String>,
    ) {
        let Some(v) = self.resolve(name, default.map(|d| Value::String(d.into())), required) else {
            return;
        };
        match as_string(&v) {
            Some(s) => match check(s) {
                Ok(()) => self.put(name, v),
                Err(e) => {
                    self.error(name, e);
                    self.put(name, Value::Null);
                }
            },
            None => {
                self.error(name, "expected a string");
                self.put(name, Value::Null);
            }
        }
    }

    /// A boolean field.
    pub(crate) fn boolean(&mut self, name: &str, default: Option<bool>, required: bool) {
        let Some(v) = self.resolve(name, default.map(Value::Bool), required) else {
            return;
        };
        match coerce_bool(&v, self.form) {
            Some(b) => self.put(name, Value::Bool(b)),
            None => {
                self.error(name, "expected a boolean");
                self.put(name, Value::Null);
            }
        }
    }

    /// A number (`integer` = Kong's integer type); `check` validates a present value.
    pub(crate) fn number(
        &mut self,
        name: &str,
        default: Option<Value>,
        integer: bool,
        check: impl Fn(f64) -> Result<(), String>,
    ) {
        let Some(v) = self.resolve(name, default, false) else {
            return;
        };
        match coerce_number(&v, self.form, integer) {
            Ok(n) => match check(n.as_f64().unwrap_or(f64::NAN)) {
                Ok(()) => self.put(name, Value::Number(n)),
                Err(e) => {
                    self.error(name, e);
                    self.put(name, Value::Null);
                }
            },
            Err(e) => {
                self.error(name, e);
                self.put(name, Value::Null);
            }
        }
    }

    /// An array (`set` dedupes, keeping the first occurrence) of strings; `check` validates
    /// each element. Element errors are reported as an array (valid elements `null`).
    pub(crate) fn strings(
        &mut self,
        name: &str,
        default: Option<&[&str]>,
        set: bool,
        check: impl Fn(&str) -> Result<(), String>,
    ) {
        let default =
            default.map(|d| Value::Array(d.iter().map(|s| Value::String(s.to_string())).collect()));
        let Some(v) = self.resolve(name, default, false) else {
            return;
        };
        let Some(items) = as_array(v, self.form) else {
            self.error(
                name,
                if set {
                    "expected a set"
                } else {
                    "expected an array"
                },
            );
            self.put(name, Value::Null);
            return;
        };
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        let mut errs: Vec<Value> = Vec::new();
        let mut failed = false;
        for item in items {
            let res = match as_string(&item) {
                Some(s) => check(s),
                None => Err("expected a string".to_string()),
            };
            match res {
                Ok(()) => {
                    errs.push(Value::Null);
                    if !(set && out.contains(&item)) {
                        out.push(item);
                    }
                }
                Err(e) => {
                    failed = true;
                    errs.push(Value::String(e));
                }
            }
        }
        if failed {
            while errs.last() == Some(&Value::Null) {
                errs.pop();
            }
            self.error(name, Value::Array(errs));
            self.put(name, Value::Null);
        } else {
            self.put(name, Value::Array(out));
        }
    }

    /// A nested record read by `read`; absent means the default record.
    pub(crate) fn record(&mut self, name: &str, read: impl Fn(&mut Record)) {
        let raw = match self.take(name) {
            Slot::Absent | Slot::Null => None,
            Slot::Value(v) => Some(v),
        };
        match Record::new(raw.as_ref(), self.form) {
            Ok(mut sub) => {
                read(&mut sub);
                match sub.finish() {
                    Ok(v) => self.put(name, Value::Object(v)),
                    Err(e) => {
                        self.error(name, Value::Object(e));
                        self.put(name, Value::Null);
                    }
                }
            }
            Err(e) => {
                self.error(name, e);
                self.put(name, Value::Null);
            }
        }
    }

    /// An array of records, each read by `read`; `default` when absent.
    pub(crate) fn records(&mut self, name: &str, default: Value, read: impl Fn(&mut Record)) {
        let Some(v) = self.resolve(name, Some(default), false) else {
            return;
        };
        let Some(items) = as_array(v, self.form) else {
            self.error(name, "expected an array");
            self.put(name, Value::Null);
            return;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut errs = Vec::new();
        let mut failed = false;
        for item in items {
            let res = Record::new(Some(&item), self.form)
                .map_err(Value::String)
                .and_then(|mut sub| {
                    read(&mut sub);
                    sub.finish().map_err(Value::Object)
                });
            match res {
                Ok(m) => {
                    out.push(Value::Object(m));
                    errs.push(Value::Null);
                }
                Err(e) => {
                    failed = true;
                    errs.push(e);
                }
            }
        }
        if failed {
            while errs.last() == Some(&Value::Null) {
                errs.pop();
            }
            self.error(name, Value::Array(errs));
            self.put(name, Value::Null);
        } else {
            self.put(name, Value::Array(out));
        }
    }

    /// The output value of an already read field.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.out.get(name)
    }

    /// Add an entity-level error (`@entity` array).
    pub(crate) fn entity_error(&mut self, msg: &str) {
        let entry = self
            .errors
            .entry("@entity")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = entry {
            a.push(Value::String(msg.into()));
        }
    }

    /// Finish: leftover keys are unknown fields; the filled record or the error map.
    pub(crate) fn finish(mut self) -> Result<Map<String, Value>, FieldErrors> {
        let unknown: Vec<String> = self.input.keys().cloned().collect();
        for k in unknown {
            self.error(&k, "unknown field");
        }
        if self.errors.is_empty() {
            Ok(self.out)
        } else {
            Err(self.errors)
        }
    }
}

fn as_string(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn coerce_bool(v: &Value, form: bool) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if form && s == "true" => Some(true),
        Value::String(s) if form && s == "false" => Some(false),
        _ => None,
    }
}

fn coerce_number(v: &Value, form: bool, integer: bool) -> Result<Number, String> {
    let type_err = || {
        if integer {
            "expected an integer"
        } else {
            "expected a number"
        }
        .to_string()
    };
    let n = match v {
        Value::Number(n) => n.clone(),
        Value::String(s) if form => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                Number::from(i)
            } else {
                let f: f64 = s.parse().map_err(|_| type_err())?;
                Number::from_f64(f).ok_or_else(type_err)?
            }
        }
        _ => return Err(type_err()),
    };
    if n.is_i64() || n.is_u64() {
        return Ok(n);
    }
    let f = n.as_f64().ok_or_else(type_err)?;
    if integer {
        if f.fract() != 0.0 || !f.is_finite() {
            return Err(type_err());
        }
        return Ok(Number::from(f as i64));
    }
    Ok(n)
}

/// An array value; in a form, a lone scalar is a one-element array and `{"1":..,"2":..}`
/// (indexed keys) an array in index order.
fn as_array(v: Value, form: bool) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a),
        Value::Object(m) if form => {
            let mut items: Vec<(u64, Value)> = Vec::with_capacity(m.len());
            for (k, v) in m {
                items.push((k.parse().ok()?, v));
            }
            items.sort_by_key(|(i, _)| *i);
            Some(items.into_iter().map(|(_, v)| v).collect())
        }
        v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) if form => Some(vec![v]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_null_and_unknown() {
        let input = json!({"b": null, "x": 1});
        let mut r = Record::new(Some(&input), false).unwrap();
        r.boolean("a", Some(true), true);
        r.boolean("b", Some(false), true);
        let err = r.finish().unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"b": "required field missing", "x": "unknown field"})
        );
    }

    #[test]
    fn form_coercion() {
        let input = json!({"a": "false", "n": "12", "s": "one", "e": ""});
        let mut r = Record::new(Some(&input), true).unwrap();
        r.boolean("a", Some(true), true);
        r.number("n", None, true, |_| Ok(()));
        r.strings("s", None, true, |_| Ok(()));
        r.strings("e", Some(&["d"]), true, |_| Ok(()));
        let out = r.finish().unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"a": false, "n": 12, "s": ["one"], "e": null})
        );
    }

    #[test]
    fn json_is_not_coerced() {
        let input = json!({"a": "true", "n": "1", "f": 1.5});
        let mut r = Record::new(Some(&input), false).unwrap();
        r.boolean("a", None, false);
        r.number("n", None, false, |_| Ok(()));
        r.number("f", None, true, |_| Ok(()));
        let err = r.finish().unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"a": "expected a boolean", "n": "expected a number", "f": "expected an integer"})
        );
    }

    #[test]
    fn element_errors_are_arrays() {
        let input = json!({"s": ["ok", "bad", "ok"]});
        let mut r = Record::new(Some(&input), false).unwrap();
        r.strings("s", None, false, |s| {
            if s == "bad" {
                Err("nope".into())
            } else {
                Ok(())
            }
        });
        let err = r.finish().unwrap_err();
        assert_eq!(Value::Object(err), json!({"s": [null, "nope"]}));
    }
}
