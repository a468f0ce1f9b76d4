//! `jwt_secrets` schema (kong-compat §1.7): generated key/secret, algorithms, public keys.

use base64::Engine;
use jsonwebtoken::DecodingKey;
use rand::{Rng, RngCore};
use serde_json::{Map, Value};

use super::values::{self, present, FormType};
use super::{Meta, Violations};

/// Form coercion of credential fields.
pub const FORM: &[(&str, FormType)] = &[
    ("created_at", FormType::Int),
    ("consumer", FormType::Record),
    ("tags", FormType::Array),
];

const KNOWN: &[&str] = &[
    "id",
    "created_at",
    "consumer",
    "key",
    "secret",
    "rsa_public_key",
    "algorithm",
    "tags",
];

/// Algorithms Kong 3.10 accepts.
pub const ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512", "EdDSA",
];

/// Kong's random credential string: 24 random bytes in base64 (32 chars), with `/` and `+`
/// replaced by random letters.
pub fn random_string() -> String {
    let mut rng = rand::thread_rng();
    let mut bytes = [0u8; 24];
    rng.fill_bytes(&mut bytes);
    let letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '/' | '+' => letters[rng.gen_range(0..letters.len())] as char,
            c => c,
        })
        .collect()
}

/// Whether `pem` is a public key usable with `algorithm` (RS*/PS*: RSA, ES*: EC, EdDSA: Ed25519).
pub fn public_key_fits(algorithm: &str, pem: &str) -> bool {
    let pem = pem.as_bytes();
    match algorithm {
        a if a.starts_with("RS") || a.starts_with("PS") => DecodingKey::from_rsa_pem(pem).is_ok(),
        a if a.starts_with("ES") => DecodingKey::from_ec_pem(pem).is_ok(),
        "EdDSA" => DecodingKey::from_ed_pem(pem).is_ok(),
        _ => true,
    }
}

/// Validate a full credential body and return the stored document.
pub fn validate(
    body: Map<String, Value>,
    meta: &Meta,
    errs: &mut Violations,
) -> Map<String, Value> {
    values::unknown_fields(&body, KNOWN, errs);
    let b = &body;
    let mut doc = Map::new();
    meta.identity(b, &mut doc, errs, false);
    let consumer = values::foreign(b, "consumer", "username", errs);
    if consumer.is_null() && !errs.has("consumer") {
        errs.field("consumer", "required field missing");
    }
    doc.insert("consumer".into(), consumer);
    let key = super::opt_string(b, "key", errs, |_| Ok(()));
    let key = if key.is_null() && !errs.has("key") {
        Value::String(random_string())
    } else {
        key
    };
    doc.insert("key".into(), key);
    let secret = super::opt_string(b, "secret", errs, |_| Ok(()));
    let secret = if secret.is_null() && !errs.has("secret") {
        Value::String(random_string())
    } else {
        secret
    };
    doc.insert("secret".into(), secret);
    let rsa = super::opt_string(b, "rsa_public_key", errs, |_| Ok(()));
    let algorithm = match present(b, "algorithm") {
        None => Some("HS256"),
        Some(v) => match values::one_of(v, ALGORITHMS) {
            Ok(a) => Some(a),
            Err(e) => {
                errs.field("algorithm", e);
                None
            }
        },
    };
    if let Some(alg) = algorithm {
        if !alg.starts_with("HS") && !errs.has("rsa_public_key") {
            match rsa.as_str() {
                None => {
                    errs.field("rsa_public_key", "required field missing");
                    errs.entity("failed conditional validation given value of field 'algorithm'");
                }
                Some(pem) if !public_key_fits(alg, pem) => {
                    // Kong's conditional carries the key check: field and entity errors.
                    errs.field("rsa_public_key", "invalid key");
                    errs.entity("failed conditional validation given value of field 'algorithm'");
                }
                Some(_) => {}
            }
        }
    }
    doc.insert("rsa_public_key".into(), rsa);
    doc.insert(
        "algorithm".into(),
        algorithm.map_or(Value::Null, Value::from),
    );
    doc.insert("tags".into(), values::tags(b, errs));
    doc
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::super::tests::run;
    use super::*;
    use crate::store::EntityKind;

    /// A 2048-bit RSA public key.
    pub const RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvUJp9+fuklNgz/+oCpUR
pVo/L+1tAs9doe99iRpq5Iwu7/97LcMW60i1MfGaHvVHI3+PovZQwbEQM7NbDFpo
liGHfxq3sOZA5dfo3XpzzcJQv1SPhWU5g6tMg2AIYj3cZQHtRQox72/iD4q3jEvZ
noPdhrhxt+nkpCtQGMoKZGiKLZ0IgeSxr5zIyHSwnSs1WtC40WFyyzp4xWP63ewL
14cRjI8eS3WN61uJKdHPKQMArVXJUoae6RaUBG5OHE6fBm+eJAUqjkk3E/LKWHgf
6U8yAU/zr4BT/qh5/+IAZ88YCJFYGTUa7Y9lQ0Nqt4KkMS6rjbpNFIKzfRWt4IcU
kwIDAQAB
-----END PUBLIC KEY-----
";
    const EC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEe5FcteobpuuLw8mxj5PvW52qYVgc
2S67a5DFIgYhyy7UzJPGnKF+7NUG8Qd8eJmIML0pUDA18GbvUdEHhRuNuQ==
-----END PUBLIC KEY-----
";
    const ED_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA6NUiY71aF2f47R8/Ac7vaxW0GCtq2TWmB+ab88jGFKE=
-----END PUBLIC KEY-----
";
    const CONSUMER: &str = "6f1c1c2e-7d4e-4c39-9f0e-2b0f3f3b3a11";

    #[test]
    fn generated_strings() {
        for _ in 0..50 {
            let s = random_string();
            assert_eq!(s.len(), 32);
            assert!(!s.contains('/') && !s.contains('+'), "{s}");
        }
        assert_ne!(random_string(), random_string());
    }

    #[test]
    fn defaults_and_shape() {
        let doc = run(
            EntityKind::JwtSecrets,
            json!({"consumer": {"id": CONSUMER}}),
        )
        .unwrap();
        let keys: Vec<&String> = doc.keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "created_at",
                "consumer",
                "key",
                "secret",
                "rsa_public_key",
                "algorithm",
                "tags"
            ]
        );
        assert_eq!(doc["algorithm"], "HS256");
        assert_eq!(doc["key"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn rsa_key_required_and_checked() {
        let err = run(
            EntityKind::JwtSecrets,
            json!({"consumer": {"id": CONSUMER}, "algorithm": "RS256"}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"rsa_public_key":"required field missing","@entity":["failed conditional validation given value of field 'algorithm'"]})
        );
        let err = run(
            EntityKind::JwtSecrets,
            json!({"consumer": {"id": CONSUMER}, "algorithm": "RS256", "rsa_public_key": "nope"}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"rsa_public_key": "invalid key", "@entity": ["failed conditional validation given value of field 'algorithm'"]})
        );
        let err = run(
            EntityKind::JwtSecrets,
            json!({"consumer": {"id": CONSUMER}, "algorithm": "ES256", "rsa_public_key": RSA_PEM}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"rsa_public_key": "invalid key", "@entity": ["failed conditional validation given value of field 'algorithm'"]})
        );
        for (alg, pem) in [
            ("RS256", RSA_PEM),
            ("PS512", RSA_PEM),
            ("ES256", EC_PEM),
            ("EdDSA", ED_PEM),
        ] {
            let body =
                json!({"consumer": {"id": CONSUMER}, "algorithm": alg, "rsa_public_key": pem});
            assert!(run(EntityKind::JwtSecrets, body).is_ok(), "{alg}");
        }
        let err = run(
            EntityKind::JwtSecrets,
            json!({"consumer": {"id": CONSUMER}, "algorithm": "none"}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"]["algorithm"],
            "expected one of: HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA"
        );
    }

    #[test]
    fn consumer_required() {
        let err = run(EntityKind::JwtSecrets, json!({})).unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"consumer": "required field missing"})
        );
    }
}
