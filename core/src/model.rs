//! Configuration entities as stored and as the gateway reads them.
//!
//! The store keeps each entity as the exact JSON document the Admin API returns (Kong's shape,
//! every field present, unset ones `null`). These structs are the typed view of those documents
//! that the gateway compiles into a snapshot; unknown fields are ignored so that newer admin
//! versions never break older gateways.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A reference to another entity, `{"id": "<uuid>"}` in Kong's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Id of the referenced entity.
    pub id: Uuid,
}

/// An upstream service (`/services`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub id: Uuid,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "defaults::retries")]
    pub retries: u32,
    #[serde(default = "defaults::protocol")]
    pub protocol: String,
    pub host: String,
    #[serde(default = "defaults::port")]
    pub port: u16,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default = "defaults::timeout")]
    pub connect_timeout: u64,
    #[serde(default = "defaults::timeout")]
    pub write_timeout: u64,
    #[serde(default = "defaults::timeout")]
    pub read_timeout: u64,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub tls_verify: Option<bool>,
    #[serde(default)]
    pub tls_verify_depth: Option<u32>,
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
}

/// A route (`/routes`): matching rules plus the service it forwards to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub id: Uuid,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "defaults::route_protocols")]
    pub protocols: Vec<String>,
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub snis: Option<Vec<String>>,
    #[serde(default = "defaults::yes")]
    pub strip_path: bool,
    #[serde(default)]
    pub preserve_host: bool,
    #[serde(default)]
    pub regex_priority: i64,
    #[serde(default = "defaults::path_handling")]
    pub path_handling: String,
    #[serde(default = "defaults::https_redirect_status_code")]
    pub https_redirect_status_code: u16,
    #[serde(default = "defaults::yes")]
    pub request_buffering: bool,
    #[serde(default = "defaults::yes")]
    pub response_buffering: bool,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub service: Option<ForeignKey>,
}

/// A consumer (`/consumers`): the identity a credential authenticates as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub id: Uuid,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// A plugin instance (`/plugins`), scoped globally or to a service, route and/or consumer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plugin {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub instance_name: Option<String>,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub route: Option<ForeignKey>,
    #[serde(default)]
    pub service: Option<ForeignKey>,
    #[serde(default)]
    pub consumer: Option<ForeignKey>,
    /// The full configuration, already filled with defaults by the admin.
    #[serde(default)]
    pub config: serde_json::Value,
    #[serde(default = "defaults::plugin_protocols")]
    pub protocols: Vec<String>,
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// A JWT credential (`/consumers/{c}/jwt`, Kong's `jwt_secrets`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JwtSecret {
    pub id: Uuid,
    #[serde(default)]
    pub created_at: i64,
    pub consumer: ForeignKey,
    pub key: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub rsa_public_key: Option<String>,
    #[serde(default = "defaults::algorithm")]
    pub algorithm: String,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Everything the gateway needs, read in one consistent transaction at one `version`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigData {
    /// Configuration version; every committed admin write increments it.
    pub version: i64,
    pub services: Vec<Service>,
    pub routes: Vec<Route>,
    pub consumers: Vec<Consumer>,
    pub plugins: Vec<Plugin>,
    pub jwt_secrets: Vec<JwtSecret>,
}

/// Kong's defaults, shared by serde and by the admin's schema layer.
pub mod defaults {
    /// `services.retries`.
    pub fn retries() -> u32 {
        5
    }
    /// `services.protocol`.
    pub fn protocol() -> String {
        "http".into()
    }
    /// `services.port`.
    pub fn port() -> u16 {
        80
    }
    /// `services.{connect,write,read}_timeout`, milliseconds.
    pub fn timeout() -> u64 {
        60_000
    }
    /// `routes.protocols`.
    pub fn route_protocols() -> Vec<String> {
        vec!["http".into(), "https".into()]
    }
    /// `plugins.protocols`.
    pub fn plugin_protocols() -> Vec<String> {
        ["grpc", "grpcs", "http", "https"]
            .map(String::from)
            .to_vec()
    }
    /// `routes.path_handling`.
    pub fn path_handling() -> String {
        "v0".into()
    }
    /// `routes.https_redirect_status_code`.
    pub fn https_redirect_status_code() -> u16 {
        426
    }
    /// `jwt_secrets.algorithm`.
    pub fn algorithm() -> String {
        "HS256".into()
    }
    /// `true`, for serde.
    pub fn yes() -> bool {
        true
    }
}
