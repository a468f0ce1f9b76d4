//! The `jwt` plugin schema (kong-compat §3): defaults, validation and the typed config.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{one_of_msg, Record};
use super::FieldErrors;

/// Largest `maximum_expiration`, seconds (one year).
pub const MAX_EXPIRATION: f64 = 31_536_000.0;

/// A registered claim the plugin can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Claim {
    /// Expiration time: rejected when `exp <= now`.
    Exp,
    /// Not-before: rejected when `nbf > now`.
    Nbf,
}

impl Claim {
    /// The claim's name in the token.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exp => "exp",
            Self::Nbf => "nbf",
        }
    }
}

/// Typed, normalized `jwt` config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JwtConfig {
    /// Query arguments holding a token.
    #[serde(default)]
    pub uri_param_names: Vec<String>,
    /// Cookies holding a token.
    #[serde(default)]
    pub cookie_names: Vec<String>,
    /// Headers holding `Bearer <token>`.
    #[serde(default)]
    pub header_names: Vec<String>,
    /// Claim (payload, else header) naming the credential `key`.
    pub key_claim_name: String,
    /// HS secrets are base64(url)-encoded.
    pub secret_is_base64: bool,
    /// Claims to verify (`null` = none).
    #[serde(default)]
    pub claims_to_verify: Vec<Claim>,
    /// Consumer id or username used when authentication fails.
    #[serde(default)]
    pub anonymous: Option<String>,
    /// Authenticate `OPTIONS` requests too.
    pub run_on_preflight: bool,
    /// Maximum token lifetime in seconds, 0 = unlimited.
    pub maximum_expiration: f64,
    /// `realm` of the `WWW-Authenticate` challenge.
    #[serde(default)]
    pub realm: Option<String>,
}

impl JwtConfig {
    /// Parse a normalized config (the output of [`super::normalize`]).
    pub fn from_value(v: &Value) -> Result<Self, String> {
        // `null` sets (claims_to_verify, cookie_names...) mean empty.
        let mut v = v.clone();
        if let Value::Object(m) = &mut v {
            for k in [
                "uri_param_names",
                "cookie_names",
                "header_names",
                "claims_to_verify",
            ] {
                if m.get(k) == Some(&Value::Null) {
                    m.remove(k);
                }
            }
            if m.get("key_claim_name") == Some(&Value::Null) {
                m.insert("key_claim_name".into(), Value::String("iss".into()));
            }
            if m.get("maximum_expiration") == Some(&Value::Null) {
                m.insert("maximum_expiration".into(), Value::from(0));
            }
        }
        serde_json::from_value(v).map_err(|e| format!("invalid jwt config: {e}"))
    }
}

/// Validate and fill a `jwt` config.
pub(crate) fn normalize(
    config: Option<&Value>,
    form: bool,
) -> Result<Map<String, Value>, FieldErrors> {
    let mut r = Record::new(config, form).map_err(entity_error)?;
    let any = |_: &str| Ok(());
    r.strings("uri_param_names", Some(&["jwt"]), true, any);
    r.strings("cookie_names", Some(&[]), true, any);
    r.string("key_claim_name", Some("iss"), false, any);
    r.boolean("secret_is_base64", Some(false), true);
    r.strings("claims_to_verify", None, true, |s| {
        if s == "exp" || s == "nbf" {
            Ok(())
        } else {
            Err(one_of_msg(&["exp", "nbf"]))
        }
    });
    r.string("anonymous", None, false, any);
    r.boolean("run_on_preflight", Some(true), true);
    r.number("maximum_expiration", Some(Value::from(0)), false, |n| {
        if (0.0..=MAX_EXPIRATION).contains(&n) {
            Ok(())
        } else {
            Err("value should be between 0 and 31536000".into())
        }
    });
    r.strings("header_names", Some(&["authorization"]), true, any);
    r.string("realm", None, false, any);
    // Entity check: maximum_expiration > 0 requires `exp` in claims_to_verify.
    if r.ok() {
        let max = r
            .get("maximum_expiration")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let has_exp = r
            .get("claims_to_verify")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c == "exp"));
        if max > 0.0 && !has_exp {
            r.error("claims_to_verify", "expected to contain: exp");
        }
    }
    r.finish()
}

/// A non-record `config`.
pub(crate) fn entity_error(msg: String) -> FieldErrors {
    let mut m = Map::new();
    m.insert("@entity".into(), Value::Array(vec![Value::String(msg)]));
    m
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults() {
        let out = normalize(None, false).unwrap();
        assert_eq!(
            Value::Object(out.clone()),
            json!({"uri_param_names":["jwt"],"cookie_names":[],"key_claim_name":"iss",
                   "secret_is_base64":false,"claims_to_verify":null,"anonymous":null,
                   "run_on_preflight":true,"maximum_expiration":0,
                   "header_names":["authorization"],"realm":null})
        );
        let cfg = JwtConfig::from_value(&Value::Object(out)).unwrap();
        assert!(cfg.claims_to_verify.is_empty());
        assert_eq!(cfg.key_claim_name, "iss");
    }

    #[test]
    fn claims_and_max_expiration() {
        let err = normalize(Some(&json!({"claims_to_verify":["exp","foo"]})), false).unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"claims_to_verify":[null,"expected one of: exp, nbf"]})
        );
        let err = normalize(Some(&json!({"maximum_expiration": 10})), false).unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"claims_to_verify":"expected to contain: exp"})
        );
        let err = normalize(Some(&json!({"maximum_expiration": 31536001})), false).unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"maximum_expiration":"value should be between 0 and 31536000"})
        );
        let ok = normalize(
            Some(&json!({"maximum_expiration": "60", "claims_to_verify": "exp"})),
            true,
        )
        .unwrap();
        let cfg = JwtConfig::from_value(&Value::Object(ok)).unwrap();
        assert_eq!(cfg.claims_to_verify, vec![Claim::Exp]);
        assert_eq!(cfg.maximum_expiration, 60.0);
    }

    #[test]
    fn unknown_and_types() {
        let err = normalize(Some(&json!({"foo": 1, "run_on_preflight": "no"})), false).unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"foo":"unknown field","run_on_preflight":"expected a boolean"})
        );
        let err = normalize(Some(&json!({"secret_is_base64": null})), false).unwrap_err();
        assert_eq!(
            Value::Object(err),
            json!({"secret_is_base64":"required field missing"})
        );
    }
}
