//! Plugin schemas: validation, Kong's defaults and typed configs for `jwt`, `cors`, `statsd`.
//!
//! INTERFACE CONTRACT:
//! * [`normalize`] is called by the schema layer for every plugin write: it validates the
//!   `config` object of the named plugin (coercing form strings when `format` is `Form`) and
//!   returns it filled with every default, exactly as Kong returns it; or the field error map
//!   that goes under `fields.config` of a schema violation.
//! * The typed configs ([`JwtConfig`], [`CorsConfig`], [`StatsdConfig`]) deserialize a
//!   normalized config; the gateway compiles them into plugins once per snapshot.

use serde_json::{Map, Value};

use crate::store::InputFormat;

pub mod cors;
mod fields;
pub mod jwt;
pub mod statsd;

pub use cors::CorsConfig;
pub use jwt::JwtConfig;
pub use statsd::StatsdConfig;

/// Field errors of a plugin config, the object placed under `fields.config` (Kong nests them:
/// `{"origins": {"1": "invalid regex"}}` etc.).
pub type FieldErrors = Map<String, Value>;

/// Static facts about a plugin this gateway supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginInfo {
    /// Plugin name (`jwt`, `cors`, `statsd`).
    pub name: &'static str,
    /// Kong's PRIORITY: higher runs first.
    pub priority: u32,
    /// Whether the plugin may be scoped to a consumer (jwt and cors may not).
    pub consumer_scoped: bool,
}

/// The plugins this gateway supports, highest priority first.
pub const PLUGINS: &[PluginInfo] = &[
    PluginInfo {
        name: "cors",
        priority: 2000,
        consumer_scoped: false,
    },
    PluginInfo {
        name: "jwt",
        priority: 1450,
        consumer_scoped: false,
    },
    PluginInfo {
        name: "statsd",
        priority: 11,
        consumer_scoped: true,
    },
];

/// Facts about a supported plugin, `None` for unknown names.
pub fn info(name: &str) -> Option<&'static PluginInfo> {
    PLUGINS.iter().find(|p| p.name == name)
}

/// Validate and fill a plugin config (see the module contract). `config` is `None` when the
/// client sent none. Unknown plugin names are the caller's concern (check [`info`] first).
pub fn normalize(
    name: &str,
    config: Option<&Value>,
    format: InputFormat,
) -> Result<Value, FieldErrors> {
    let form = format == InputFormat::Form;
    let out = match name {
        "jwt" => jwt::normalize(config, form)?,
        "cors" => cors::normalize(config, form)?,
        "statsd" => statsd::normalize(config, form)?,
        // Unknown names are rejected by the caller; keep whatever was sent.
        _ => return Ok(config.cloned().unwrap_or_else(|| Value::Object(Map::new()))),
    };
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dispatches_by_name() {
        let jwt = normalize("jwt", None, InputFormat::Json).unwrap();
        assert_eq!(jwt["key_claim_name"], json!("iss"));
        let cors = normalize("cors", Some(&json!({"origins": "*"})), InputFormat::Form).unwrap();
        assert_eq!(cors["origins"], json!(["*"]));
        let err = normalize("statsd", Some(&json!({"port": "x"})), InputFormat::Json).unwrap_err();
        assert_eq!(Value::Object(err), json!({"port": "expected an integer"}));
        assert!(JwtConfig::from_value(&jwt).is_ok());
        assert!(CorsConfig::from_value(&cors).is_ok());
        let statsd = normalize("statsd", None, InputFormat::Json).unwrap();
        assert!(StatsdConfig::from_value(&statsd).is_ok());
    }
}
