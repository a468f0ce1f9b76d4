//! Snapshot compilation: dropped routes, services and plugin precedence.

use super::*;
use serde_json::json;

struct Named(&'static str, u32);
impl Plugin for Named {
    fn name(&self) -> &'static str {
        self.0
    }
    fn priority(&self) -> u32 {
        self.1
    }
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn plugin(
    n: u128,
    name: &str,
    route: Option<u128>,
    service: Option<u128>,
    consumer: Option<u128>,
) -> model::Plugin {
    let fk = |x: Option<u128>| x.map(|v| json!({"id": id(v)})).unwrap_or(json!(null));
    serde_json::from_value(json!({
        "id": id(n), "name": name, "route": fk(route), "service": fk(service), "consumer": fk(consumer),
    }))
    .expect("plugin json")
}

fn built(plugins: &[model::Plugin]) -> HashMap<Uuid, Result<Arc<dyn Plugin>, Arc<str>>> {
    plugins
        .iter()
        .map(|p| {
            let name: &'static str = match p.name.as_str() {
                "cors" => "cors",
                "jwt" => "jwt",
                _ => "statsd",
            };
            let prio = gateway_core::plugin_config::info(name).map_or(0, |i| i.priority);
            (p.id, Ok(Arc::new(Named(name, prio)) as Arc<dyn Plugin>))
        })
        .collect()
}

/// Which instance ids ended up in a chain, in order.
fn ids(chain: &Chain) -> Vec<&'static str> {
    chain.iter().map(|p| p.name()).collect()
}

#[test]
fn precedence_picks_most_specific_per_name() {
    let route = 100;
    let service = 200;
    let plugins = vec![
        plugin(1, "statsd", None, None, None),
        plugin(2, "statsd", None, Some(service), None),
        plugin(3, "cors", None, None, None),
        plugin(4, "cors", Some(route), None, None),
        plugin(5, "jwt", Some(999), None, None), // other route: ignored
        plugin(6, "statsd", None, None, Some(7)), // consumer-scoped
    ];
    let b = built(&plugins);
    let (chain, per_consumer) = resolve_plugins(&plugins, &b, id(route), Some(id(service)));
    let chain = chain.expect("chain");
    // priority order: cors (2000) before statsd (11)
    assert_eq!(ids(&chain), vec!["cors", "statsd"]);
    // The picked instances are the most specific ones.
    let picked: Vec<Uuid> = chain
        .iter()
        .map(|p| {
            let any = Arc::as_ptr(p) as *const ();
            b.iter()
                .find(|(_, v)| v.as_ref().is_ok_and(|x| Arc::as_ptr(x) as *const () == any))
                .map(|(k, _)| *k)
                .expect("known")
        })
        .collect();
    assert_eq!(picked, vec![id(4), id(2)]);
    // consumer 7 gets its own statsd instance (consumer beats service).
    let c = per_consumer.get(&id(7)).expect("consumer chain");
    assert_eq!(ids(c), vec!["cors", "statsd"]);
    assert!(Arc::ptr_eq(&c[1], b[&id(6)].as_ref().expect("built")));
}

#[test]
fn broken_plugin_breaks_only_its_routes() {
    let plugins = vec![plugin(1, "jwt", Some(100), None, None)];
    let mut b = built(&plugins);
    b.insert(id(1), Err(Arc::from("bad config")));
    let (chain, _) = resolve_plugins(&plugins, &b, id(100), None);
    assert_eq!(chain.err().as_deref(), Some("bad config"));
    let (chain, _) = resolve_plugins(&plugins, &b, id(101), None);
    assert!(chain.expect("other route fine").is_empty());
}

#[test]
fn disabled_services_drop_routes_and_bad_regex_refuses() {
    let data: ConfigData = serde_json::from_value(json!({
        "version": 3,
        "services": [
            {"id": id(1), "host": "a.test", "enabled": true},
            {"id": id(2), "host": "b.test", "port": 8443, "protocol": "https", "enabled": false, "path": "/base"},
        ],
        "routes": [
            {"id": id(10), "paths": ["/a"], "service": {"id": id(1)}},
            {"id": id(11), "paths": ["/b"], "service": {"id": id(2)}},
            {"id": id(12), "paths": ["/none"]},
        ],
        "consumers": [], "plugins": [], "jwt_secrets": [],
    }))
    .expect("config");
    let ups = Upstreams::with_roots(rustls::RootCertStore::empty()).expect("ups");
    let snap = Snapshot::compile_with(data.clone(), &ups, true).expect("compiles");
    assert_eq!(snap.version, 3);
    let route_ids: Vec<Uuid> = snap.routes.iter().map(|r| r.route.id).collect();
    assert_eq!(route_ids, vec![id(10), id(12)]);
    let svc = snap.routes[0].service.as_ref().expect("service");
    assert_eq!(svc.host_header, "a.test");
    assert_eq!(svc.authority.as_str(), "a.test:80");
    assert!(snap.routes[1].service.is_none());

    let mut bad = data;
    bad.routes[0].paths = Some(vec!["~/(".into()]);
    assert!(Snapshot::compile_with(bad, &ups, true).is_err());
}

#[test]
fn global_chain_keeps_only_unscoped_built_instances() {
    let mut disabled = plugin(7, "jwt", None, None, None);
    disabled.enabled = false;
    let plugins = vec![
        plugin(1, "statsd", None, None, None),
        plugin(2, "cors", None, None, None),
        plugin(3, "jwt", Some(100), None, None), // route-scoped
        plugin(4, "jwt", None, Some(200), None), // service-scoped
        plugin(5, "jwt", None, None, Some(300)), // consumer-scoped
        disabled,
    ];
    let b = built(&plugins);
    let chain = global_chain(&plugins, &b);
    // Priority order: cors (2000) then statsd (11); nothing scoped, nothing disabled.
    assert_eq!(ids(&chain), vec!["cors", "statsd"]);
    assert!(Arc::ptr_eq(&chain[1], b[&id(1)].as_ref().expect("built")));

    // A global instance that failed to build is left out; the others stay.
    let mut b = b;
    b.insert(id(2), Err(Arc::from("bad config")));
    assert_eq!(ids(&global_chain(&plugins, &b)), vec!["statsd"]);
}

#[test]
fn compiled_snapshot_carries_the_global_chain() {
    let data: ConfigData = serde_json::from_value(json!({
        "version": 1,
        "services": [], "routes": [], "consumers": [], "jwt_secrets": [],
        "plugins": [
            {"id": id(1), "name": "statsd", "config": {"port": 8125, "prefix": "kong"}},
            {"id": id(2), "name": "cors", "route": {"id": id(9)}, "config": {}},
        ],
    }))
    .expect("config");
    let ups = Upstreams::with_roots(rustls::RootCertStore::empty()).expect("ups");
    let snap = Snapshot::compile_with(data, &ups, true).expect("compiles");
    assert_eq!(ids(&snap.globals), vec!["statsd"]);
}
