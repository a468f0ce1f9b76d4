//! `services` schema (kong-compat §1.4), including the `url` shorthand.

use serde_json::{Map, Value};

use super::net;
use super::values::{self, present, FormType};
use super::{Meta, Violations};

/// Protocols a service (and a route) may use.
pub const PROTOCOLS: &[&str] = &[
    "grpc",
    "grpcs",
    "http",
    "https",
    "tcp",
    "tls",
    "tls_passthrough",
    "udp",
];

/// Form coercion of service fields.
pub const FORM: &[(&str, FormType)] = &[
    ("created_at", FormType::Int),
    ("updated_at", FormType::Int),
    ("retries", FormType::Int),
    ("port", FormType::Int),
    ("connect_timeout", FormType::Int),
    ("write_timeout", FormType::Int),
    ("read_timeout", FormType::Int),
    ("tags", FormType::Array),
    ("client_certificate", FormType::Record),
    ("tls_verify", FormType::Bool),
    ("tls_verify_depth", FormType::Int),
    ("ca_certificates", FormType::Array),
    ("enabled", FormType::Bool),
];

const KNOWN: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "name",
    "retries",
    "protocol",
    "host",
    "port",
    "path",
    "connect_timeout",
    "write_timeout",
    "read_timeout",
    "tags",
    "client_certificate",
    "tls_verify",
    "tls_verify_depth",
    "ca_certificates",
    "enabled",
    "url",
];

const MAX_TIMEOUT: i64 = 2_147_483_646;

/// Apply the `url` shorthand: it overwrites protocol/host/port/path.
fn apply_url(body: &mut Map<String, Value>, errs: &mut Violations) {
    let Some(url) = body.remove("url") else {
        return;
    };
    match url {
        Value::Null => {}
        Value::String(s) => {
            let parts = net::parse_url(&s);
            body.insert("protocol".into(), Value::String(parts.protocol));
            body.insert("host".into(), parts.host);
            body.insert("port".into(), parts.port);
            body.insert("path".into(), parts.path);
        }
        _ => errs.field("url", "expected a string"),
    }
}

/// Validate a full service body and return the stored document.
pub fn validate(
    mut body: Map<String, Value>,
    meta: &Meta,
    errs: &mut Violations,
) -> Map<String, Value> {
    values::unknown_fields(&body, KNOWN, errs);
    apply_url(&mut body, errs);
    let b = &body;
    let mut doc = Map::new();
    meta.identity(b, &mut doc, errs, true);

    let name = super::opt_string(b, "name", errs, values::utf8_name);
    doc.insert("name".into(), name);
    doc.insert(
        "retries".into(),
        super::int_or(b, "retries", 0, 32767, 5, errs),
    );
    let protocol = match present(b, "protocol") {
        None => "http".to_string(),
        Some(v) => match values::one_of(v, PROTOCOLS) {
            Ok(p) => p.to_string(),
            Err(e) => {
                errs.field("protocol", e);
                String::new()
            }
        },
    };
    doc.insert("protocol".into(), Value::String(protocol.clone()));
    let host = match present(b, "host") {
        None => {
            errs.field("host", "required field missing");
            Value::Null
        }
        Some(v) => match values::string(v).and_then(|s| net::host(s).map(|_| s)) {
            Ok(s) => Value::String(s.to_string()),
            Err(e) => {
                errs.field("host", e);
                Value::Null
            }
        },
    };
    doc.insert("host".into(), host);
    doc.insert("port".into(), super::int_or(b, "port", 0, 65535, 80, errs));
    let path = super::opt_string(b, "path", errs, net::service_path);
    doc.insert("path".into(), path.clone());
    for t in ["connect_timeout", "write_timeout", "read_timeout"] {
        doc.insert(t.into(), super::int_or(b, t, 1, MAX_TIMEOUT, 60_000, errs));
    }
    doc.insert("tags".into(), values::tags(b, errs));
    let client_certificate = values::foreign(b, "client_certificate", "id", errs);
    doc.insert("client_certificate".into(), client_certificate);
    let tls_verify = match present(b, "tls_verify") {
        None => Value::Null,
        Some(v) => super::check(errs, "tls_verify", values::boolean(v).map(Value::Bool)),
    };
    doc.insert("tls_verify".into(), tls_verify);
    let depth = match present(b, "tls_verify_depth") {
        None => Value::Null,
        Some(v) => super::check(
            errs,
            "tls_verify_depth",
            values::int(v, 0, 64).map(Value::from),
        ),
    };
    doc.insert("tls_verify_depth".into(), depth);
    let ca = match present(b, "ca_certificates") {
        None => Value::Null,
        Some(v) => match values::strings(v, false, |s| {
            values::uuid(&Value::String(s.into())).map(|_| ())
        }) {
            Ok(list) => Value::from(list),
            Err(e) => {
                errs.field("ca_certificates", e);
                Value::Null
            }
        },
    };
    doc.insert("ca_certificates".into(), ca);
    doc.insert("enabled".into(), super::bool_or(b, "enabled", true, errs));

    // Entity checks (only meaningful when the protocol itself is valid).
    if !protocol.is_empty() {
        if !matches!(protocol.as_str(), "https" | "tls") {
            for f in [
                "client_certificate",
                "tls_verify",
                "tls_verify_depth",
                "ca_certificates",
            ] {
                if !doc[f].is_null() && !errs.has(f) {
                    errs.field(f, "value must be null");
                    errs.entity("failed conditional validation given value of field 'protocol'");
                }
            }
        }
        if matches!(protocol.as_str(), "tcp" | "tls" | "udp" | "grpc" | "grpcs")
            && !path.is_null()
            && !errs.has("path")
        {
            errs.field("path", "value must be null");
            errs.entity("failed conditional validation given value of field 'protocol'");
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::run;
    use crate::store::EntityKind;

    #[test]
    fn defaults_and_order() {
        let doc = run(
            EntityKind::Services,
            json!({"name": "svc", "host": "upstream.test"}),
        )
        .unwrap();
        let keys: Vec<&String> = doc.keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "created_at",
                "updated_at",
                "name",
                "retries",
                "protocol",
                "host",
                "port",
                "path",
                "connect_timeout",
                "write_timeout",
                "read_timeout",
                "tags",
                "client_certificate",
                "tls_verify",
                "tls_verify_depth",
                "ca_certificates",
                "enabled"
            ]
        );
        assert_eq!(doc["retries"], 5);
        assert_eq!(doc["port"], 80);
        assert_eq!(doc["protocol"], "http");
        assert_eq!(doc["enabled"], true);
        assert_eq!(doc["path"], serde_json::Value::Null);
    }

    #[test]
    fn url_shorthand() {
        let doc = run(
            EntityKind::Services,
            json!({"url": "https://service.test/"}),
        )
        .unwrap();
        assert_eq!(
            (&doc["protocol"], &doc["host"], &doc["port"], &doc["path"]),
            (
                &json!("https"),
                &json!("service.test"),
                &json!(443),
                &json!("/")
            )
        );
        assert!(doc.get("url").is_none());
        let err = run(EntityKind::Services, json!({"url": "invalid url"})).unwrap_err();
        assert_eq!(
            err.body["message"],
            "2 schema violations (host: required field missing; path: should start with: /)"
        );
        assert!(run(EntityKind::Services, json!({"url": ""})).is_err());
    }

    #[test]
    fn field_errors() {
        let err = run(
            EntityKind::Services,
            json!({"host": "h", "protocol": "ftp", "port": 70000, "connect_timeout": 0, "foo": 1}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"]["protocol"],
            "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"
        );
        assert_eq!(
            err.body["fields"]["port"],
            "value should be between 0 and 65535"
        );
        assert_eq!(
            err.body["fields"]["connect_timeout"],
            "value should be between 1 and 2147483646"
        );
        assert_eq!(err.body["fields"]["foo"], "unknown field");
        let err = run(EntityKind::Services, json!({"host": "h", "retries": "x"})).unwrap_err();
        assert_eq!(err.body["fields"]["retries"], "expected an integer");
    }

    #[test]
    fn tls_fields_need_https() {
        let err = run(
            EntityKind::Services,
            json!({"host": "h", "tls_verify": true}),
        )
        .unwrap_err();
        assert_eq!(err.body["fields"]["tls_verify"], "value must be null");
        assert!(run(
            EntityKind::Services,
            json!({"host": "h", "protocol": "https", "tls_verify": true})
        )
        .is_ok());
        let err = run(
            EntityKind::Services,
            json!({"host": "h", "protocol": "tcp", "path": "/a"}),
        )
        .unwrap_err();
        assert_eq!(err.body["fields"]["path"], "value must be null");
    }
}
