//! A compiled, immutable configuration version: router, services and per-route plugin chains.
//!
//! [`Snapshot::compile`] does all the work once per configuration version so that the request
//! path only reads: routes of disabled services are dropped, plugin instances are resolved per
//! route by Kong's precedence (most specific instance of each name wins, kong-compat §1.6) and
//! sorted by priority. A plugin that fails to build marks its routes broken (they answer 500).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use gateway_core::model::{self, ConfigData};
use http::uri::{Authority, Scheme};
use http::HeaderValue;
use uuid::Uuid;

use crate::plugins::{self, Indexes, Plugin};
use crate::router::Router;
use crate::upstream::{Client, ClientKey, Upstreams};

/// Plugins of a route, highest priority first.
pub type Chain = Arc<[Arc<dyn Plugin>]>;

/// A compiled configuration version.
pub struct Snapshot {
    /// Configuration version it was compiled from.
    pub version: i64,
    /// Route matcher; its indexes point into `routes`.
    pub router: Router,
    /// Routes of enabled services (and service-less routes).
    pub routes: Vec<Arc<RouteEntry>>,
    /// Lookups shared with the plugins.
    pub indexes: Arc<Indexes>,
    /// Global plugin instances (no route, service or consumer), highest priority first: what
    /// runs (`header_filter` and `log` only) on requests no route matches.
    pub globals: Chain,
}

/// A route ready to serve.
pub struct RouteEntry {
    /// The route as stored.
    pub route: Arc<model::Route>,
    /// Its service; `None` answers 503.
    pub service: Option<Arc<ServiceEntry>>,
    /// Plugin chain, or why the route must answer 500.
    pub plugins: Result<Chain, Arc<str>>,
    /// Chains that replace `plugins` after authentication, for consumers with
    /// consumer-scoped instances applying to this route.
    pub consumer_plugins: HashMap<Uuid, Chain>,
    /// Whether plain HTTP is accepted (`http` in `protocols`); otherwise 426.
    pub allows_http: bool,
    /// `strip_path`.
    pub strip_path: bool,
    /// `preserve_host`.
    pub preserve_host: bool,
}

/// A service ready to receive requests.
pub struct ServiceEntry {
    /// The service as stored.
    pub service: Arc<model::Service>,
    /// `http` or `https`.
    pub scheme: Scheme,
    /// `host:port` for the upstream URI.
    pub authority: Authority,
    /// Upstream `Host` header (port omitted when default for the scheme).
    pub host_header: HeaderValue,
    /// Service path, `/` when unset.
    pub base_path: Vec<u8>,
    /// Pooled client (regular: HTTP/1.1 + h2 ALPN).
    pub client: Client,
    /// HTTP/1.1-only client for `Upgrade` requests.
    pub upgrade_client: Client,
    /// Kong `read_timeout`: waiting for response headers and between body frames.
    pub read_timeout: Duration,
    /// Kong `write_timeout` (request body stalls).
    pub write_timeout: Duration,
}

/// Default of a service's `tls_verify = null` (Kong's global `proxy_ssl_verify`); env
/// `PROXY_SSL_VERIFY` (`on`/`off`), default `on`.
pub fn default_tls_verify() -> bool {
    !matches!(
        std::env::var("PROXY_SSL_VERIFY")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("off" | "false" | "0" | "no")
    )
}

// === impl Snapshot ===

impl Snapshot {
    /// Compile with the process-wide upstream client factory.
    pub fn compile(data: ConfigData) -> anyhow::Result<Snapshot> {
        Self::compile_with(data, Upstreams::global(), default_tls_verify())
    }

    /// Compile with an explicit client factory and `tls_verify = null` default.
    pub fn compile_with(
        data: ConfigData,
        upstreams: &Upstreams,
        tls_verify_default: bool,
    ) -> anyhow::Result<Snapshot> {
        let indexes = Arc::new(build_indexes(&data));

        let mut services = HashMap::new();
        for svc in &data.services {
            let entry = compile_service(svc, upstreams, tls_verify_default)
                .with_context(|| format!("service {}", svc.id))?;
            services.insert(svc.id, entry);
        }

        // Build each enabled plugin instance once.
        let built: HashMap<Uuid, Result<Arc<dyn Plugin>, Arc<str>>> = data
            .plugins
            .iter()
            .filter(|p| p.enabled)
            .map(|p| {
                let r = plugins::build(p, &indexes).map_err(|e| {
                    tracing::error!(plugin.id = %p.id, plugin.name = %p.name, error = %e, "plugin failed to build; its routes answer 500");
                    Arc::<str>::from(e)
                });
                (p.id, r)
            })
            .collect();

        let mut routes = Vec::with_capacity(data.routes.len());
        for route in &data.routes {
            if !route
                .protocols
                .iter()
                .any(|p| matches!(p.as_str(), "http" | "https" | "grpc" | "grpcs"))
            {
                continue;
            }
            let service = match route.service {
                Some(fk) => match services.get(&fk.id) {
                    Some(s) if !s.service.enabled => continue,
                    Some(s) => Some(s.clone()),
                    None => {
                        tracing::warn!(route.id = %route.id, service.id = %fk.id, "route references a missing service");
                        None
                    }
                },
                None => None,
            };
            let service_id = route.service.map(|s| s.id);
            let (plugins, consumer_plugins) =
                resolve_plugins(&data.plugins, &built, route.id, service_id);
            routes.push(Arc::new(RouteEntry {
                allows_http: route.protocols.iter().any(|p| p == "http" || p == "grpc"),
                strip_path: route.strip_path,
                preserve_host: route.preserve_host,
                route: Arc::new(route.clone()),
                service,
                plugins,
                consumer_plugins,
            }));
        }
        let router = Router::build(routes.iter().enumerate().map(|(i, r)| (i, &*r.route)))
            .map_err(anyhow::Error::msg)?;
        let globals = global_chain(&data.plugins, &built);
        Ok(Snapshot {
            version: data.version,
            router,
            routes,
            indexes,
            globals,
        })
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field("routes", &self.routes.len())
            .field("globals", &self.globals.len())
            .finish_non_exhaustive()
    }
}

fn build_indexes(data: &ConfigData) -> Indexes {
    let mut idx = Indexes::default();
    for c in &data.consumers {
        let c = Arc::new(c.clone());
        if let Some(u) = &c.username {
            idx.consumers_by_username.insert(u.clone(), c.clone());
        }
        idx.consumers_by_id.insert(c.id, c);
    }
    for j in &data.jwt_secrets {
        idx.jwt_by_key.insert(j.key.clone(), Arc::new(j.clone()));
    }
    idx
}

fn compile_service(
    svc: &model::Service,
    upstreams: &Upstreams,
    tls_verify_default: bool,
) -> anyhow::Result<Arc<ServiceEntry>> {
    let (scheme, default_port) = match svc.protocol.as_str() {
        "https" | "grpcs" | "tls" => (Scheme::HTTPS, 443),
        _ => (Scheme::HTTP, 80),
    };
    let host = if svc.host.contains(':') && !svc.host.starts_with('[') {
        format!("[{}]", svc.host)
    } else {
        svc.host.clone()
    };
    let authority: Authority = format!("{host}:{}", svc.port)
        .parse()
        .context("invalid host")?;
    let host_header = if svc.port == default_port {
        HeaderValue::from_str(&host)
    } else {
        HeaderValue::from_str(&format!("{host}:{}", svc.port))
    }
    .context("invalid host")?;
    let base_path = svc
        .path
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .as_bytes()
        .to_vec();
    let key = ClientKey {
        connect_timeout: Duration::from_millis(svc.connect_timeout.max(1)),
        retries: svc.retries,
        tls_verify: svc.tls_verify.unwrap_or(tls_verify_default),
        http1_only: false,
        http2_only: matches!(svc.protocol.as_str(), "grpc" | "grpcs"),
    };
    Ok(Arc::new(ServiceEntry {
        service: Arc::new(svc.clone()),
        scheme,
        authority,
        host_header,
        base_path,
        client: upstreams.client(key),
        upgrade_client: upstreams.client(ClientKey {
            http1_only: true,
            http2_only: false,
            ..key
        }),
        read_timeout: Duration::from_millis(svc.read_timeout.max(1)),
        write_timeout: Duration::from_millis(svc.write_timeout.max(1)),
    }))
}

/// Kong's precedence of a plugin instance for a route, higher = more specific; `None` when the
/// instance does not apply. `consumer` scoping is checked by the caller.
fn specificity(p: &model::Plugin, route: Uuid, service: Option<Uuid>) -> Option<u8> {
    if p.route.is_some_and(|r| r.id != route) {
        return None;
    }
    if let Some(s) = p.service {
        if Some(s.id) != service {
            return None;
        }
    }
    Some(
        match (p.route.is_some(), p.service.is_some(), p.consumer.is_some()) {
            (true, true, true) => 7,
            (true, false, true) => 6,
            (false, true, true) => 5,
            (true, true, false) => 4,
            (false, false, true) => 3,
            (true, false, false) => 2,
            (false, true, false) => 1,
            (false, false, false) => 0,
        },
    )
}

/// The global instances (no route, service or consumer), one per name, highest priority
/// first: Kong's `globals` iterator, used on requests no route matches. An instance that failed
/// to build is left out (the routes it applies to answer 500 already; a 404 has nothing to
/// protect, so it is still answered).
fn global_chain(
    all: &[model::Plugin],
    built: &HashMap<Uuid, Result<Arc<dyn Plugin>, Arc<str>>>,
) -> Chain {
    let mut seen = std::collections::HashSet::new();
    let mut chain: Vec<Arc<dyn Plugin>> = all
        .iter()
        .filter(|p| p.enabled && p.route.is_none() && p.service.is_none() && p.consumer.is_none())
        // Duplicates of one name cannot be stored; if present, the first one wins, as in
        // `resolve_plugins`.
        .filter(|p| seen.insert(p.name.as_str()))
        .filter_map(|p| built.get(&p.id)?.as_ref().ok().cloned())
        .collect();
    chain.sort_by_key(|p| std::cmp::Reverse(p.priority()));
    Chain::from(chain)
}

type Resolved = (Result<Chain, Arc<str>>, HashMap<Uuid, Chain>);

/// The route's chain without consumer, plus a chain per consumer with scoped instances.
fn resolve_plugins(
    all: &[model::Plugin],
    built: &HashMap<Uuid, Result<Arc<dyn Plugin>, Arc<str>>>,
    route: Uuid,
    service: Option<Uuid>,
) -> Resolved {
    let applicable: Vec<(&model::Plugin, u8)> = all
        .iter()
        .filter(|p| p.enabled)
        .filter_map(|p| specificity(p, route, service).map(|s| (p, s)))
        .collect();

    let pick = |consumer: Option<Uuid>| -> Result<Chain, Arc<str>> {
        let mut best: HashMap<&str, (&model::Plugin, u8)> = HashMap::new();
        for &(p, s) in &applicable {
            if p.consumer.is_some_and(|c| Some(c.id) != consumer) {
                continue;
            }
            match best.get(p.name.as_str()) {
                Some(&(_, cur)) if cur >= s => {}
                _ => {
                    best.insert(p.name.as_str(), (p, s));
                }
            }
        }
        let mut chain = Vec::with_capacity(best.len());
        for (p, _) in best.values() {
            match built.get(&p.id) {
                Some(Ok(plugin)) => chain.push(plugin.clone()),
                Some(Err(e)) => return Err(e.clone()),
                None => return Err(Arc::from("plugin missing")),
            }
        }
        chain.sort_by_key(|p| std::cmp::Reverse(p.priority()));
        Ok(Chain::from(chain))
    };

    let base = pick(None);
    let mut per_consumer = HashMap::new();
    let mut base = base;
    let consumers: Vec<Uuid> = {
        let mut v: Vec<Uuid> = applicable
            .iter()
            .filter_map(|(p, _)| p.consumer.map(|c| c.id))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    for c in consumers {
        match pick(Some(c)) {
            Ok(chain) => {
                per_consumer.insert(c, chain);
            }
            // Fail closed: a broken consumer-scoped instance breaks the route.
            Err(e) => base = Err(e),
        }
    }
    (base, per_consumer)
}

#[cfg(test)]
mod tests;
