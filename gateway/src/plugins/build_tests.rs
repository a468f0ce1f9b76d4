//! Tests of [`super::build`]: each plugin from a stored row, defaults filled for partial
//! configs, invalid configs and unknown names refused (the route then fails closed).

use std::sync::Arc;

use gateway_core::model;
use serde_json::{json, Value};

use super::{build, Indexes};

fn row(name: &str, config: Value) -> model::Plugin {
    serde_json::from_value(json!({"id": uuid::Uuid::new_v4(), "name": name, "config": config}))
        .expect("plugin row")
}

#[test]
fn builds_each_plugin_with_priority() {
    let idx = Arc::new(Indexes::default());
    for (name, prio) in [("cors", 2000), ("jwt", 1450), ("statsd", 11)] {
        // `{}` and `null` configs get Kong's defaults.
        for config in [json!({}), Value::Null] {
            let p = build(&row(name, config), &idx).expect("builds");
            assert_eq!((p.name(), p.priority()), (name, prio));
        }
    }
}

#[test]
fn refuses_invalid_configs_and_unknown_plugins() {
    let idx = Arc::new(Indexes::default());
    let refused = |name: &str, config: Value| match build(&row(name, config), &idx) {
        Ok(_) => panic!("{name} built"),
        Err(e) => e,
    };
    let err = refused("cors", json!({"origins": ["(bad"]}));
    assert!(err.contains("not a valid regex"), "{err}");
    let err = refused("jwt", json!({"maximum_expiration": -1}));
    assert!(err.starts_with("invalid jwt config"), "{err}");
    let err = refused("key-auth", json!({}));
    assert_eq!(err, "plugin 'key-auth' not available");
}
