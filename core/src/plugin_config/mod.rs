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
    PluginInfo { name: "cors", priority: 2000, consumer_scoped: false },
    PluginInfo { name: "jwt", priority: 1450, consumer_scoped: false },
    PluginInfo { name: "statsd", priority: 11, consumer_scoped: true },
];

/// Facts about a supported plugin, `None` for unknown names.
pub fn info(name: &str) -> Option<&'static PluginInfo> {
    PLUGINS.iter().find(|p| p.name == name)
}

/// Validate and fill a plugin config (see the module contract). `config` is `None` when the
/// client sent none. Unknown plugin names are the caller's concern (check [`info`] first).
pub fn normalize(name: &str, config: Option<&Value>, format: InputFormat) -> Result<Value, FieldErrors> {
    // PLACEHOLDER until the plugin work lands: accept objects as-is.
    let _ = (name, format);
    Ok(config.cloned().unwrap_or_else(|| Value::Object(Map::new())))
}
