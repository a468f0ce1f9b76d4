//! The `statsd` plugin (kong-compat §5): in the log phase, formats Kong's metric lines for the
//! finished exchange and queues them on a shared non-blocking sink ([`sink`]).
//!
//! Lines are formatted here rather than by cadence's `StatsdClient` because Kong's wire format
//! needs things cadence does not produce: the `|@rate` annotation without client-side
//! sampling, and the influxdb/librato/signalfx tag placements. The formatted text is written
//! raw through cadence's `MetricSink::emit` (behind its `QueuingMetricSink`).
//!
//! `shdict_usage` is accepted in the config but emits nothing: it reports OpenResty shared
//! dictionaries, which do not exist in this gateway.

pub mod sink;

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use gateway_core::model;
use gateway_core::plugin_config::statsd::{
    ConsumerIdentifier, MetricConfig, ServiceIdentifier, StatsdConfig, TagStyle,
    WorkspaceIdentifier,
};
use serde_json::Value;

use self::sink::{Sink, SinkKey};
use super::{Plugin, Summary};

/// Kong's PRIORITY for statsd.
pub const PRIORITY: u32 = 11;

/// The workspace every entity belongs to (this gateway has only Kong's `default` one).
const WORKSPACE: &str = "default";

/// This node's hostname with `.` replaced by `_`.
fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        hostname::get()
            .map(|h| h.to_string_lossy().replace('.', "_"))
            .unwrap_or_else(|_| "localhost".into())
    })
}

/// Which metric a config entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RequestCount,
    Latency,
    RequestSize,
    ResponseSize,
    StatusCount,
    UniqueUsers,
    RequestPerUser,
    UpstreamLatency,
    KongLatency,
    StatusCountPerUser,
    StatusCountPerWorkspace,
    StatusCountPerUserPerRoute,
    ShdictUsage,
}

impl Kind {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "request_count" => Self::RequestCount,
            "latency" => Self::Latency,
            "request_size" => Self::RequestSize,
            "response_size" => Self::ResponseSize,
            "status_count" => Self::StatusCount,
            "unique_users" => Self::UniqueUsers,
            "request_per_user" => Self::RequestPerUser,
            "upstream_latency" => Self::UpstreamLatency,
            "kong_latency" => Self::KongLatency,
            "status_count_per_user" => Self::StatusCountPerUser,
            "status_count_per_workspace" => Self::StatusCountPerWorkspace,
            "status_count_per_user_per_route" => Self::StatusCountPerUserPerRoute,
            "shdict_usage" => Self::ShdictUsage,
            _ => return None,
        })
    }

    /// Stat name of the plain (taggable) metrics.
    fn plain_stat(self) -> Option<&'static str> {
        Some(match self {
            Self::RequestCount => "request.count",
            Self::Latency => "latency",
            Self::RequestSize => "request.size",
            Self::ResponseSize => "response.size",
            Self::UpstreamLatency => "upstream_latency",
            Self::KongLatency => "kong_latency",
            _ => return None,
        })
    }
}

/// One compiled metric entry.
#[derive(Debug)]
struct Metric {
    kind: Kind,
    /// `|c`, `|ms`... plus `|@rate` when the rate is not 1.
    suffix: String,
    consumer: ConsumerIdentifier,
    service: ServiceIdentifier,
    workspace: WorkspaceIdentifier,
}

/// The compiled `statsd` plugin.
#[derive(Debug)]
pub struct StatsdPlugin {
    /// `<prefix>.` (with `node.<host>.` when `hostname_in_prefix`).
    prefix: String,
    metrics: Vec<Metric>,
    allow_status: Option<Vec<(u16, u16)>>,
    tag_style: Option<TagStyle>,
    packet_size: usize,
    tcp: bool,
    sink: Arc<Sink>,
}

/// Lua's `tostring` of a number (`%.14g`-like): integers without a fraction.
fn lua_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn metric_suffix(m: &MetricConfig) -> String {
    let mut s = format!("|{}", m.stat_type.suffix());
    if let Some(rate) = m.sample_rate.filter(|r| *r != 1.0) {
        s.push_str("|@");
        s.push_str(&lua_number(rate));
    }
    s
}

fn parse_range(r: &str) -> Option<(u16, u16)> {
    let (a, b) = r.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl StatsdPlugin {
    /// Compile a normalized config; the sink is shared with every other instance using the
    /// same endpoint.
    pub fn build(config: &Value) -> Result<Self, String> {
        let cfg = StatsdConfig::from_value(config)?;
        // Kong's logger falls back to `kong` for a null prefix and always joins with `.`
        // (an empty prefix gives a leading dot, as in Kong).
        let base = cfg.prefix.as_deref().unwrap_or("kong");
        let prefix = if cfg.hostname_in_prefix && cfg.tag_style.is_none() {
            format!("{base}.node.{}.", hostname())
        } else {
            format!("{base}.")
        };
        let metrics = cfg
            .metrics
            .iter()
            .filter_map(|m| {
                Some(Metric {
                    kind: Kind::parse(&m.name)?,
                    suffix: metric_suffix(m),
                    consumer: m
                        .consumer_identifier
                        .unwrap_or(cfg.consumer_identifier_default),
                    service: m
                        .service_identifier
                        .unwrap_or(cfg.service_identifier_default),
                    workspace: m
                        .workspace_identifier
                        .unwrap_or(cfg.workspace_identifier_default),
                })
            })
            .collect();
        let allow_status = match &cfg.allow_status_codes {
            Some(list) => Some(
                list.iter()
                    .map(|r| parse_range(r).ok_or_else(|| format!("invalid status range {r}")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let packet_size = cfg.udp_packet_size as usize;
        let key = SinkKey {
            host: cfg.host.clone(),
            port: cfg.port,
            tcp: cfg.use_tcp,
            packet_size,
            capacity: usize::try_from(cfg.queue.max_entries)
                .unwrap_or(10_000)
                .max(1),
        };
        Ok(Self {
            prefix,
            metrics,
            allow_status,
            tag_style: cfg.tag_style,
            packet_size,
            tcp: cfg.use_tcp,
            sink: sink::shared(&key),
        })
    }

    /// Kong's metric lines for one exchange, in config order.
    pub fn lines(&self, s: &Summary) -> Vec<String> {
        self.format(s).iter().map(str::to_owned).collect()
    }

    /// The lines of [`Self::lines`] written into one buffer (no allocation per line).
    fn format(&self, s: &Summary) -> Lines {
        let mut out = Lines {
            buf: String::with_capacity(64 * self.metrics.len()),
            ends: Vec::with_capacity(self.metrics.len()),
        };
        if let Some(ranges) = &self.allow_status {
            if !ranges.iter().any(|(a, b)| (*a..=*b).contains(&s.status)) {
                return out;
            }
        }
        let consumer = s.consumer.as_deref();
        // Metrics almost always share one service identifier: format each scope once.
        let mut scopes: Vec<(ServiceIdentifier, String)> = Vec::with_capacity(1);
        for m in &self.metrics {
            if let Some(style) = self.tag_style {
                if let Some(stat) = m.kind.plain_stat() {
                    if let Some(v) = plain_value(m.kind, s) {
                        out.buf.push_str(&self.tagged_line(style, stat, v, m, s));
                        out.ends.push(out.buf.len());
                    }
                }
                continue;
            }
            let i = match scopes.iter().position(|(ident, _)| *ident == m.service) {
                Some(i) => i,
                None => {
                    scopes.push((m.service, scope(s.service.as_deref(), m.service)));
                    scopes.len() - 1
                }
            };
            let scope = &scopes[i].1;
            let p = &self.prefix;
            let sfx = &m.suffix;
            let status = s.status;
            let user = || consumer.and_then(|c| consumer_id(c, m.consumer));
            let buf = &mut out.buf;
            let before = buf.len();
            // Writing to a String cannot fail; a skipped metric writes nothing.
            let _ = match m.kind {
                Kind::StatusCount => write!(buf, "{p}{scope}.status.{status}:1{sfx}"),
                Kind::UniqueUsers => match user() {
                    Some(u) => write!(buf, "{p}{scope}.user.uniques:{u}{sfx}"),
                    None => Ok(()),
                },
                Kind::RequestPerUser => match user() {
                    Some(u) => write!(buf, "{p}{scope}.user.{u}.request.count:1{sfx}"),
                    None => Ok(()),
                },
                Kind::StatusCountPerUser => match user() {
                    Some(u) => write!(buf, "{p}{scope}.user.{u}.status.{status}:1{sfx}"),
                    None => Ok(()),
                },
                Kind::StatusCountPerWorkspace => {
                    let ws = workspace_id(m.workspace);
                    write!(buf, "{p}{scope}.workspace.{ws}.status.{status}:1{sfx}")
                }
                // Skipped without a route (a request no route matched), as without a user.
                Kind::StatusCountPerUserPerRoute => match (s.route.as_deref(), user()) {
                    (Some(r), Some(u)) => {
                        write!(buf, "{p}route.{}.user.{u}.status.{status}:1{sfx}", r.id)
                    }
                    _ => Ok(()),
                },
                Kind::ShdictUsage => Ok(()),
                plain => match (plain.plain_stat(), plain_value(plain, s)) {
                    (Some(stat), Some(v)) => write!(buf, "{p}{scope}.{stat}:{v}{sfx}"),
                    _ => Ok(()),
                },
            };
            if buf.len() > before {
                out.ends.push(buf.len());
            }
        }
        out
    }

    fn tagged_line(
        &self,
        style: TagStyle,
        stat: &str,
        value: u64,
        m: &Metric,
        s: &Summary,
    ) -> String {
        let mut tags: Vec<(&str, String)> = Vec::with_capacity(6);
        if let Some(svc) = s
            .service
            .as_deref()
            .and_then(|svc| service_id(svc, m.service))
        {
            tags.push(("service", svc));
        }
        // No route tag for a request no route matched (Kong leaves the nil tag out).
        if let Some(r) = s.route.as_deref() {
            tags.push(("route", r.name.clone().unwrap_or_else(|| r.id.to_string())));
        }
        tags.push(("workspace", workspace_id(m.workspace).to_string()));
        if let Some(c) = s
            .consumer
            .as_deref()
            .and_then(|c| consumer_id(c, m.consumer))
        {
            tags.push(("consumer", c.to_string()));
        }
        tags.push(("node", hostname().to_string()));
        tags.push(("status", s.status.to_string()));
        let p = &self.prefix;
        let sfx = &m.suffix;
        let mut line = String::with_capacity(96);
        let join = |sep: char| {
            tags.iter()
                .map(|(k, v)| format!("{k}{sep}{v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let _ = match style {
            TagStyle::Dogstatsd => write!(line, "{p}{stat}:{value}{sfx}|#{}", join(':')),
            TagStyle::Influxdb => write!(line, "{p}{stat},{}:{value}{sfx}", join('=')),
            TagStyle::Librato => write!(line, "{p}{stat}#{}:{value}{sfx}", join('=')),
            TagStyle::Signalfx => write!(line, "{p}{stat}[{}]:{value}{sfx}", join('=')),
        };
        line
    }

    /// Pack lines: TCP sends each line + `\n`; UDP sends one line per datagram, or joins lines
    /// with `\n` into datagrams of at most `udp_packet_size` bytes.
    fn send(&self, lines: &Lines) {
        if lines.ends.is_empty() {
            return;
        }
        if self.tcp {
            let mut buf = String::with_capacity(lines.buf.len() + lines.ends.len());
            for l in lines.iter() {
                buf.push_str(l);
                buf.push('\n');
            }
            self.sink.emit(&buf);
            return;
        }
        if self.packet_size == 0 {
            for l in lines.iter() {
                self.sink.emit(l);
            }
            return;
        }
        let mut packet = String::with_capacity(self.packet_size);
        for l in lines.iter() {
            if !packet.is_empty() && packet.len() + 1 + l.len() > self.packet_size {
                self.sink.emit(&packet);
                packet.clear();
            }
            if !packet.is_empty() {
                packet.push('\n');
            }
            packet.push_str(l);
        }
        if !packet.is_empty() {
            self.sink.emit(&packet);
        }
    }
}

/// The lines of one exchange, back to back in one buffer.
struct Lines {
    buf: String,
    /// End offset of each line in `buf`.
    ends: Vec<usize>,
}

impl Lines {
    fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.buf[a..b])
    }
}

/// Value of a plain metric; `None` when it does not apply (upstream latency when not proxied).
fn plain_value(kind: Kind, s: &Summary) -> Option<u64> {
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    match kind {
        Kind::RequestCount => Some(1),
        Kind::Latency => Some(ms(s.latency)),
        Kind::RequestSize => Some(s.request_size),
        Kind::ResponseSize => Some(s.response_size),
        Kind::UpstreamLatency => s.upstream_latency.map(ms),
        Kind::KongLatency => Some(ms(s.gateway_latency)),
        _ => None,
    }
}

/// `service.<id>` (`.` -> `_`, `unnamed` when null) or `global.unmatched`.
fn scope(service: Option<&model::Service>, ident: ServiceIdentifier) -> String {
    match service {
        None => "global.unmatched".to_string(),
        Some(svc) => match service_id(svc, ident) {
            Some(id) => format!("service.{}", id.replace('.', "_")),
            None => "service.unnamed".to_string(),
        },
    }
}

fn service_id(svc: &model::Service, ident: ServiceIdentifier) -> Option<String> {
    match ident {
        ServiceIdentifier::ServiceId => Some(svc.id.to_string()),
        ServiceIdentifier::ServiceName => svc.name.clone(),
        ServiceIdentifier::ServiceHost => Some(svc.host.clone()),
        ServiceIdentifier::ServiceNameOrHost => {
            Some(svc.name.clone().unwrap_or_else(|| svc.host.clone()))
        }
    }
}

fn consumer_id(c: &model::Consumer, ident: ConsumerIdentifier) -> Option<String> {
    match ident {
        ConsumerIdentifier::ConsumerId => Some(c.id.to_string()),
        ConsumerIdentifier::CustomId => c.custom_id.clone(),
        ConsumerIdentifier::Username => c.username.clone(),
    }
}

/// The workspace: this gateway has only Kong's `default` workspace, reported by that name
/// for both identifiers (there is no workspace uuid to report).
fn workspace_id(_ident: WorkspaceIdentifier) -> &'static str {
    WORKSPACE
}

impl Plugin for StatsdPlugin {
    fn name(&self) -> &'static str {
        "statsd"
    }

    fn priority(&self) -> u32 {
        PRIORITY
    }

    fn log(&self, summary: &Summary) {
        self.send(&self.format(summary));
    }
}

#[cfg(test)]
mod tests;
