//! The `cors` plugin schema (kong-compat §4): defaults, validation and the typed config.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{one_of_msg, Record};
use super::jwt::entity_error;
use super::FieldErrors;

/// Default and allowed `methods`, in Kong's order.
pub const METHODS: &[&str] = &[
    "GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

/// Typed, normalized `cors` config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CorsConfig {
    /// Allowed origins: `*`, literals or regexes (`null` = allow all).
    #[serde(default)]
    pub origins: Option<Vec<String>>,
    /// `Access-Control-Allow-Headers` (`null` = echo the request's).
    #[serde(default)]
    pub headers: Option<Vec<String>>,
    /// `Access-Control-Expose-Headers`.
    #[serde(default)]
    pub exposed_headers: Option<Vec<String>>,
    /// `Access-Control-Allow-Methods`.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// `Access-Control-Max-Age`, seconds.
    #[serde(default)]
    pub max_age: Option<f64>,
    /// Send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// Answer private network access preflights.
    pub private_network: bool,
    /// Proxy preflights instead of answering them.
    pub preflight_continue: bool,
    /// Add CORS headers to requests without `Origin`.
    pub allow_origin_absent: bool,
}

impl CorsConfig {
    /// Parse a normalized config (the output of [`super::normalize`]).
    pub fn from_value(v: &Value) -> Result<Self, String> {
        serde_json::from_value(v.clone()).map_err(|e| format!("invalid cors config: {e}"))
    }
}

/// Whether an origins entry is acceptable: `*` or a valid regex.
fn check_origin(s: &str) -> Result<(), String> {
    if s == "*" || regex::Regex::new(s).is_ok() {
        Ok(())
    } else {
        Err(format!("'{s}' is not a valid regex"))
    }
}

/// Validate and fill a `cors` config.
pub(crate) fn normalize(
    config: Option<&Value>,
    form: bool,
) -> Result<Map<String, Value>, FieldErrors> {
    let mut r = Record::new(config, form).map_err(entity_error)?;
    let any = |_: &str| Ok(());
    r.strings("origins", None, false, check_origin);
    r.strings("headers", None, false, any);
    r.strings("exposed_headers", None, false, any);
    r.strings("methods", Some(METHODS), false, |m| {
        if METHODS.contains(&m) {
            Ok(())
        } else {
            Err(one_of_msg(METHODS))
        }
    });
    r.number("max_age", None, false, |_| Ok(()));
    r.boolean("credentials", Some(false), true);
    r.boolean("private_network", Some(false), true);
    r.boolean("preflight_continue", Some(false), true);
    r.boolean("allow_origin_absent", Some(true), true);
    r.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults() {
        let out = normalize(Some(&json!({})), false).unwrap();
        assert_eq!(
            Value::Object(out.clone()),
            json!({"origins":null,"headers":null,"exposed_headers":null,
                   "methods":["GET","HEAD","PUT","PATCH","POST","DELETE","OPTIONS","TRACE","CONNECT"],
                   "max_age":null,"credentials":false,"private_network":false,
                   "preflight_continue":false,"allow_origin_absent":true})
        );
        let cfg = CorsConfig::from_value(&Value::Object(out)).unwrap();
        assert!(cfg.allow_origin_absent);
    }

    #[test]
    fn validation() {
        let err = normalize(
            Some(&json!({"origins":["*","(bad"],"methods":["GET","FOO"]})),
            false,
        )
        .unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"origins":[null,"'(bad' is not a valid regex"],
                   "methods":[null,"expected one of: GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT"]})
        );
        let out = normalize(
            Some(&json!({"origins":"*","credentials":"true","max_age":"3600"})),
            true,
        )
        .unwrap();
        assert_eq!(out["origins"], json!(["*"]));
        assert_eq!(out["credentials"], json!(true));
        assert_eq!(out["max_age"], json!(3600));
    }
}
