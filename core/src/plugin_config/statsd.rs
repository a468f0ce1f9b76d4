//! The `statsd` plugin schema (kong-compat §5): defaults, validation and the typed config.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::fields::{one_of_msg, Record};
use super::jwt::entity_error;
use super::FieldErrors;

/// Metric names Kong knows.
pub const METRIC_NAMES: &[&str] = &[
    "kong_latency",
    "latency",
    "request_count",
    "request_per_user",
    "request_size",
    "response_size",
    "status_count",
    "status_count_per_user",
    "unique_users",
    "upstream_latency",
    "status_count_per_workspace",
    "status_count_per_user_per_route",
    "shdict_usage",
];
/// Stat types.
pub const STAT_TYPES: &[&str] = &["counter", "gauge", "histogram", "meter", "set", "timer"];
/// Consumer identifiers.
pub const CONSUMER_IDENTIFIERS: &[&str] = &["consumer_id", "custom_id", "username"];
/// Service identifiers.
pub const SERVICE_IDENTIFIERS: &[&str] = &[
    "service_id",
    "service_name",
    "service_host",
    "service_name_or_host",
];
/// Workspace identifiers.
pub const WORKSPACE_IDENTIFIERS: &[&str] = &["workspace_id", "workspace_name"];
/// Tag styles.
pub const TAG_STYLES: &[&str] = &["dogstatsd", "influxdb", "librato", "signalfx"];

/// Kong's default `metrics`, in order: (name, stat_type, sample_rate).
const DEFAULT_METRICS: &[(&str, &str, Option<u32>)] = &[
    ("request_count", "counter", Some(1)),
    ("latency", "timer", None),
    ("request_size", "counter", Some(1)),
    ("status_count", "counter", Some(1)),
    ("response_size", "counter", Some(1)),
    ("unique_users", "set", None),
    ("request_per_user", "counter", Some(1)),
    ("upstream_latency", "timer", None),
    ("kong_latency", "timer", None),
    ("status_count_per_user", "counter", Some(1)),
    ("status_count_per_workspace", "counter", Some(1)),
    ("status_count_per_user_per_route", "counter", Some(1)),
    ("shdict_usage", "gauge", Some(1)),
];

/// StatsD stat type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatType {
    /// `c`
    Counter,
    /// `g`
    Gauge,
    /// `h`
    Histogram,
    /// `m`
    Meter,
    /// `s`
    Set,
    /// `ms`
    Timer,
}

impl StatType {
    /// The StatsD type suffix (`c`, `g`, `h`, `m`, `s`, `ms`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Counter => "c",
            Self::Gauge => "g",
            Self::Histogram => "h",
            Self::Meter => "m",
            Self::Set => "s",
            Self::Timer => "ms",
        }
    }
}

/// How a consumer appears in metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerIdentifier {
    /// The consumer's `id`.
    ConsumerId,
    /// Its `custom_id` (no metric when null).
    CustomId,
    /// Its `username` (no metric when null).
    Username,
}

/// How a service appears in metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceIdentifier {
    /// The service `id`.
    ServiceId,
    /// Its `name` (`unnamed` when null).
    ServiceName,
    /// Its `host`.
    ServiceHost,
    /// Its `name`, else its `host`.
    ServiceNameOrHost,
}

/// How a workspace appears in metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceIdentifier {
    /// The workspace id (`default` here: one workspace).
    WorkspaceId,
    /// The workspace name (`default`).
    WorkspaceName,
}

/// Tag format for tagged metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagStyle {
    /// `name:v|t|#k:v,..`
    Dogstatsd,
    /// `name,k=v,..:v|t`
    Influxdb,
    /// `name#k=v,..:v|t`
    Librato,
    /// `name[k=v,..]:v|t`
    Signalfx,
}

/// One entry of `metrics`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MetricConfig {
    /// One of [`METRIC_NAMES`].
    pub name: String,
    /// Stat type.
    pub stat_type: StatType,
    /// Sample rate annotation (`|@rate` when != 1).
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Overrides `consumer_identifier_default`.
    #[serde(default)]
    pub consumer_identifier: Option<ConsumerIdentifier>,
    /// Overrides `service_identifier_default`.
    #[serde(default)]
    pub service_identifier: Option<ServiceIdentifier>,
    /// Overrides `workspace_identifier_default`.
    #[serde(default)]
    pub workspace_identifier: Option<WorkspaceIdentifier>,
}

/// The `queue` record (accepted and returned; the gateway queues with `max_entries`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueueConfig {
    /// Bound of the send queue.
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
}

fn default_max_entries() -> u64 {
    10_000
}

/// Typed, normalized `statsd` config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatsdConfig {
    /// StatsD server host.
    pub host: String,
    /// StatsD server port.
    pub port: u16,
    /// Metric name prefix (`null` = none).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Metrics to send.
    pub metrics: Vec<MetricConfig>,
    /// Only log responses whose status is in one of these `a-b` ranges.
    #[serde(default)]
    pub allow_status_codes: Option<Vec<String>>,
    /// Pack lines into UDP packets of at most this size (0 = one line per packet).
    pub udp_packet_size: f64,
    /// Send over TCP instead of UDP.
    pub use_tcp: bool,
    /// Prefix becomes `<prefix>.node.<hostname>`.
    pub hostname_in_prefix: bool,
    /// Default consumer identifier.
    pub consumer_identifier_default: ConsumerIdentifier,
    /// Default service identifier.
    pub service_identifier_default: ServiceIdentifier,
    /// Default workspace identifier.
    pub workspace_identifier_default: WorkspaceIdentifier,
    /// Tag style; `null` = names carry the scope.
    #[serde(default)]
    pub tag_style: Option<TagStyle>,
    /// Queue parameters.
    pub queue: QueueConfig,
}

impl StatsdConfig {
    /// Parse a normalized config (the output of [`super::normalize`]).
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let mut v = v.clone();
        if let Value::Object(m) = &mut v {
            let defaults = [
                ("host", json!("localhost")),
                ("port", json!(8125)),
                ("udp_packet_size", json!(0)),
                ("use_tcp", json!(false)),
                ("hostname_in_prefix", json!(false)),
                ("queue", json!({})),
                ("metrics", json!([])),
            ];
            for (k, d) in defaults {
                if m.get(k).is_none_or(Value::is_null) {
                    m.insert(k.into(), d);
                }
            }
        }
        serde_json::from_value(v).map_err(|e| format!("invalid statsd config: {e}"))
    }
}

/// Kong's `metrics` default, every field present.
pub fn default_metrics() -> Value {
    Value::Array(
        DEFAULT_METRICS
            .iter()
            .map(|(name, stat, rate)| {
                json!({"name": name, "stat_type": stat, "sample_rate": rate,
                       "consumer_identifier": null, "service_identifier": null,
                       "workspace_identifier": null})
            })
            .collect(),
    )
}

fn enum_check(allowed: &'static [&'static str]) -> impl Fn(&str) -> Result<(), String> {
    move |s| {
        if allowed.contains(&s) {
            Ok(())
        } else {
            Err(one_of_msg(allowed))
        }
    }
}

fn between(lo: f64, hi: f64) -> impl Fn(f64) -> Result<(), String> {
    move |n| {
        if (lo..=hi).contains(&n) {
            Ok(())
        } else {
            Err(format!("value should be between {lo} and {hi}"))
        }
    }
}

/// Kong's `typedefs.host`: a hostname or IP address, without a port.
fn check_host(h: &str) -> Result<(), String> {
    let bare = h
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(h);
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if let Some((name, port)) = h.rsplit_once(':') {
        if !name.contains(':') && port.parse::<u16>().is_ok() {
            return Err("must not have a port".into());
        }
        return Err(format!("invalid value: {h}"));
    }
    let valid = !h.is_empty()
        && h.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid {
        Ok(())
    } else {
        Err(format!("invalid hostname: {h}"))
    }
}

fn check_status_range(s: &str) -> Result<(), String> {
    let ok = s.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(format!("invalid value: {s}"))
    }
}

fn read_metric(m: &mut Record) {
    m.string("name", None, true, enum_check(METRIC_NAMES));
    m.string("stat_type", None, true, enum_check(STAT_TYPES));
    m.number("sample_rate", None, false, |n| {
        if n > 0.0 {
            Ok(())
        } else {
            Err("value must be greater than 0".into())
        }
    });
    m.string(
        "consumer_identifier",
        None,
        false,
        enum_check(CONSUMER_IDENTIFIERS),
    );
    m.string(
        "service_identifier",
        None,
        false,
        enum_check(SERVICE_IDENTIFIERS),
    );
    m.string(
        "workspace_identifier",
        None,
        false,
        enum_check(WORKSPACE_IDENTIFIERS),
    );
    if !m.ok() {
        return;
    }
    let name = m
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let stat = m
        .get("stat_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name == "unique_users" && stat != "set" {
        m.error("stat_type", "value must be set");
        m.entity_error("failed conditional validation given value of field 'name'");
    }
    if (stat == "counter" || stat == "gauge") && m.get("sample_rate").is_none_or(Value::is_null) {
        m.error("sample_rate", "required field missing");
        m.entity_error("failed conditional validation given value of field 'stat_type'");
    }
}

fn read_queue(q: &mut Record) {
    q.number(
        "max_batch_size",
        Some(json!(1)),
        true,
        between(1.0, 1_000_000.0),
    );
    q.number(
        "max_coalescing_delay",
        Some(json!(1)),
        false,
        between(0.0, 3600.0),
    );
    q.number(
        "max_entries",
        Some(json!(10000)),
        true,
        between(1.0, 1_000_000.0),
    );
    q.number("max_bytes", None, true, |_| Ok(()));
    q.number("max_retry_time", Some(json!(60)), false, |_| Ok(()));
    q.number(
        "initial_retry_delay",
        Some(json!(0.01)),
        false,
        between(0.001, 1_000_000.0),
    );
    q.number(
        "max_retry_delay",
        Some(json!(60)),
        false,
        between(0.001, 1_000_000.0),
    );
    q.number("concurrency_limit", Some(json!(1)), true, |n| {
        if n == 1.0 || n == -1.0 {
            Ok(())
        } else {
            Err("expected one of: -1, 1".into())
        }
    });
}

/// Validate and fill a `statsd` config.
pub(crate) fn normalize(
    config: Option<&Value>,
    form: bool,
) -> Result<Map<String, Value>, FieldErrors> {
    let mut r = Record::new(config, form).map_err(entity_error)?;
    r.string("host", Some("localhost"), false, check_host);
    r.number("port", Some(json!(8125)), true, between(0.0, 65535.0));
    r.string("prefix", Some("kong"), false, |_| Ok(()));
    r.records("metrics", default_metrics(), read_metric);
    r.strings("allow_status_codes", None, false, check_status_range);
    r.number(
        "udp_packet_size",
        Some(json!(0)),
        false,
        between(0.0, 65507.0),
    );
    r.boolean("use_tcp", Some(false), false);
    r.boolean("hostname_in_prefix", Some(false), false);
    r.string(
        "consumer_identifier_default",
        Some("custom_id"),
        true,
        enum_check(CONSUMER_IDENTIFIERS),
    );
    r.string(
        "service_identifier_default",
        Some("service_name_or_host"),
        true,
        enum_check(SERVICE_IDENTIFIERS),
    );
    r.string(
        "workspace_identifier_default",
        Some("workspace_id"),
        true,
        enum_check(WORKSPACE_IDENTIFIERS),
    );
    r.number("retry_count", None, true, |_| Ok(()));
    r.number("queue_size", None, true, |_| Ok(()));
    r.number("flush_timeout", None, false, |_| Ok(()));
    r.string("tag_style", None, false, enum_check(TAG_STYLES));
    r.record("queue", read_queue);
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip() {
        let out = normalize(None, false).unwrap();
        assert_eq!(out["host"], json!("localhost"));
        assert_eq!(out["port"], json!(8125));
        assert_eq!(out["prefix"], json!("kong"));
        assert_eq!(out["metrics"].as_array().map(Vec::len), Some(13));
        assert_eq!(
            out["metrics"][0],
            json!({"name":"request_count","stat_type":"counter","sample_rate":1,
                   "consumer_identifier":null,"service_identifier":null,"workspace_identifier":null})
        );
        assert_eq!(out["metrics"][1]["sample_rate"], Value::Null);
        assert_eq!(
            out["queue"],
            json!({"max_batch_size":1,"max_coalescing_delay":1,"max_entries":10000,"max_bytes":null,
                   "max_retry_time":60,"initial_retry_delay":0.01,"max_retry_delay":60,"concurrency_limit":1})
        );
        for k in [
            "allow_status_codes",
            "tag_style",
            "retry_count",
            "queue_size",
            "flush_timeout",
        ] {
            assert_eq!(out[k], Value::Null, "{k}");
        }
        let cfg = StatsdConfig::from_value(&Value::Object(out)).unwrap();
        assert_eq!(cfg.metrics.len(), 13);
        assert_eq!(
            cfg.consumer_identifier_default,
            ConsumerIdentifier::CustomId
        );
        assert_eq!(cfg.queue.max_entries, 10000);
    }

    #[test]
    fn metric_checks() {
        let err = normalize(
            Some(
                &json!({"metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1},
                                    {"name":"unique_users","stat_type":"counter","sample_rate":1},
                                    {"name":"latency","stat_type":"gauge"},
                                    {"name":"nope","stat_type":"timer"}]}),
            ),
            false,
        )
        .unwrap_err();
        let m = &err["metrics"];
        assert_eq!(m[0], Value::Null);
        assert_eq!(m[1]["stat_type"], json!("value must be set"));
        assert_eq!(m[2]["sample_rate"], json!("required field missing"));
        assert!(m[3]["name"]
            .as_str()
            .unwrap()
            .starts_with("expected one of: kong_latency"));
    }

    #[test]
    fn field_checks() {
        let err = normalize(
            Some(&json!({"host":"a:80","port":70000,"allow_status_codes":["200-299","2xx"],"tag_style":"x",
                         "udp_packet_size":70000})),
            false,
        )
        .unwrap_err();
        assert_eq!(err["host"], json!("must not have a port"));
        assert_eq!(err["port"], json!("value should be between 0 and 65535"));
        assert_eq!(
            err["allow_status_codes"],
            json!([null, "invalid value: 2xx"])
        );
        assert_eq!(
            err["tag_style"],
            json!("expected one of: dogstatsd, influxdb, librato, signalfx")
        );
        assert_eq!(
            err["udp_packet_size"],
            json!("value should be between 0 and 65507")
        );
        let ok = normalize(Some(&json!({"port":"9125","use_tcp":"true","metrics":{"1":{"name":"latency","stat_type":"timer"}}})), true)
            .unwrap();
        assert_eq!(ok["port"], json!(9125));
        assert_eq!(ok["use_tcp"], json!(true));
        assert_eq!(ok["metrics"][0]["name"], json!("latency"));
    }
}
