//! Building gateway configurations (ConfigData) for the disk-cache path, and small clients.

use gateway_core::model::ConfigData;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{Gateway, Upstream};

/// A fixed uuid from a small number.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// A configuration from service and route JSON documents.
pub fn config(services: Vec<Value>, routes: Vec<Value>) -> ConfigData {
    serde_json::from_value(json!({
        "version": 1, "services": services, "routes": routes,
        "consumers": [], "plugins": [], "jwt_secrets": [],
    }))
    .expect("config json")
}

/// A service on `up` (plain HTTP), with extra fields merged in.
pub fn service(n: u128, up: &Upstream, extra: Value) -> Value {
    let mut v =
        json!({"id": id(n), "host": "127.0.0.1", "port": up.addr.port(), "protocol": "http"});
    merge(&mut v, extra);
    v
}

/// A route to service `svc` (or none), with extra fields merged in.
pub fn route(n: u128, svc: Option<u128>, extra: Value) -> Value {
    let mut v =
        json!({"id": id(n), "name": format!("r{n}"), "service": svc.map(|s| json!({"id": id(s)}))});
    merge(&mut v, extra);
    v
}

/// Merge the fields of `extra` into `v`.
pub fn merge(v: &mut Value, extra: Value) {
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
}

/// A client that ignores proxy settings.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// GET through the gateway (optional Host); status and JSON body.
pub async fn get_json(gw: &Gateway, path: &str, host: Option<&str>) -> (u16, Value) {
    let mut rb = client().get(format!("{}{path}", gw.url));
    if let Some(h) = host {
        rb = rb.header("host", h);
    }
    let res = rb.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}
