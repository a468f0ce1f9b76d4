//! Unit tests of the jwt plugin: every failure mode with its exact status, body and challenge,
//! the success headers, every algorithm, claims, anonymous and preflight handling.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gateway_core::model::{Consumer, ForeignKey, JwtSecret};
use gateway_core::plugin_config;
use gateway_core::store::InputFormat;
use http::request::Parts;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn consumer(username: Option<&str>, custom_id: Option<&str>) -> Arc<Consumer> {
    Arc::new(Consumer {
        id: Uuid::new_v4(),
        created_at: 0,
        updated_at: 0,
        username: username.map(String::from),
        custom_id: custom_id.map(String::from),
        tags: None,
    })
}

struct World {
    indexes: Arc<Indexes>,
    alice: Arc<Consumer>,
    anon: Arc<Consumer>,
}

/// Credentials: `hs` (HS256 "secret"), `hs512`, `nosecret` (HS256, no secret), `b64`
/// (HS256, secret base64 of "decoded!"), one per asymmetric algorithm named after it,
/// `orphan` (consumer gone). Consumers: alice (username + custom id), anon (username only).
fn world() -> World {
    let alice = consumer(Some("alice"), Some("alice-cid"));
    let anon = consumer(Some("anon"), None);
    let mut idx = Indexes::default();
    for c in [&alice, &anon] {
        idx.consumers_by_id.insert(c.id, c.clone());
        idx.consumers_by_username
            .insert(c.username.clone().unwrap_or_default(), c.clone());
    }
    let mut add = |key: &str, alg: &str, secret: Option<&str>, pem: Option<String>, owner: Uuid| {
        idx.jwt_by_key.insert(
            key.into(),
            Arc::new(JwtSecret {
                id: Uuid::new_v4(),
                created_at: 0,
                consumer: ForeignKey { id: owner },
                key: key.into(),
                secret: secret.map(String::from),
                rsa_public_key: pem,
                algorithm: alg.into(),
                tags: None,
            }),
        );
    };
    add("hs", "HS256", Some("secret"), None, alice.id);
    add("HS384", "HS384", Some("secret384"), None, alice.id);
    add("HS512", "HS512", Some("secret512"), None, alice.id);
    add("nosecret", "HS256", None, None, alice.id);
    add(
        "b64",
        "HS256",
        Some(&URL_SAFE_NO_PAD.encode("decoded!")),
        None,
        alice.id,
    );
    add("orphan", "HS256", Some("secret"), None, Uuid::new_v4());
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        add(alg, alg, None, Some(fixture("rsa_public.pem")), alice.id);
    }
    add(
        "ES256",
        "ES256",
        None,
        Some(fixture("ec256_public.pem")),
        alice.id,
    );
    add(
        "ES384",
        "ES384",
        None,
        Some(fixture("ec384_public.pem")),
        alice.id,
    );
    add(
        "ES512",
        "ES512",
        None,
        Some(fixture("ec521_public.pem")),
        alice.id,
    );
    add(
        "EdDSA",
        "EdDSA",
        None,
        Some(fixture("ed25519_public.pem")),
        alice.id,
    );
    add("nokey", "RS256", None, None, alice.id);
    World {
        indexes: Arc::new(idx),
        alice,
        anon,
    }
}

fn plugin(w: &World, config: Value) -> JwtPlugin {
    let cfg =
        plugin_config::normalize("jwt", Some(&config), InputFormat::Json).expect("valid config");
    JwtPlugin::build(&cfg, &w.indexes).expect("builds")
}

fn hs(claims: Value, secret: &[u8], alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn signed(alg: Algorithm, claims: Value) -> String {
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(b"secret"),
        Algorithm::HS384 => EncodingKey::from_secret(b"secret384"),
        Algorithm::HS512 => EncodingKey::from_secret(b"secret512"),
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(fixture("ec256_private.pem").as_bytes()).unwrap()
        }
        Algorithm::ES384 => {
            EncodingKey::from_ec_pem(fixture("ec384_private.pem").as_bytes()).unwrap()
        }
        Algorithm::EdDSA => {
            EncodingKey::from_ed_pem(fixture("ed25519_private.pem").as_bytes()).unwrap()
        }
        _ => EncodingKey::from_rsa_pem(fixture("rsa_private.pem").as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
}

fn seg(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn bearer(token: &str) -> Parts {
    req("GET", "/", &[("authorization", &format!("Bearer {token}"))])
}

struct Out {
    status: StatusCode,
    body: String,
    www: Option<String>,
}

fn run(p: &JwtPlugin, r: &mut Parts, cx: &mut RequestCx) -> Option<Out> {
    match p.access(r, cx) {
        Flow::Continue => None,
        Flow::Respond(res) => {
            let (parts, body) = res.into_parts();
            let bytes = futures_util::FutureExt::now_or_never(body.collect())
                .unwrap()
                .unwrap()
                .to_bytes();
            assert_eq!(
                parts.headers["content-type"],
                "application/json; charset=utf-8"
            );
            Some(Out {
                status: parts.status,
                body: String::from_utf8(bytes.to_vec()).unwrap(),
                www: parts
                    .headers
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().to_string()),
            })
        }
    }
}

fn reject(p: &JwtPlugin, mut r: Parts) -> Out {
    run(p, &mut r, &mut RequestCx::default()).expect("rejected")
}

fn assert_401(p: &JwtPlugin, r: Parts, body: &str) {
    let out = reject(p, r);
    assert_eq!(out.status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(out.body, body);
    assert_eq!(
        out.www.as_deref(),
        Some("Bearer error=\"invalid_token\""),
        "{body}"
    );
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn no_token_is_unauthorized_with_plain_challenge() {
    let w = world();
    let p = plugin(&w, json!({}));
    let out = reject(&p, req("GET", "/", &[]));
    assert_eq!(
        (out.status, out.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"message":"Unauthorized"}"#)
    );
    assert_eq!(out.www.as_deref(), Some("Bearer"));
    let realm = plugin(&w, json!({"realm": "kong"}));
    assert_eq!(
        reject(&realm, req("GET", "/", &[])).www.as_deref(),
        Some("Bearer realm=\"kong\"")
    );
    let out = reject(&realm, bearer("x"));
    assert_eq!(
        out.www.as_deref(),
        Some("Bearer realm=\"kong\", error=\"invalid_token\"")
    );
}

#[test]
fn multiple_and_unrecognizable_tokens() {
    let w = world();
    let p = plugin(&w, json!({}));
    let a = signed(Algorithm::HS256, json!({"iss": "hs"}));
    let b = signed(Algorithm::HS256, json!({"iss": "hs", "x": 1}));
    let r = req(
        "GET",
        &format!("/?jwt={a}"),
        &[("authorization", &format!("Bearer {b}"))],
    );
    assert_401(&p, r, r#"{"message":"Multiple tokens provided"}"#);
    assert_401(
        &p,
        req("GET", "/?jwt", &[]),
        r#"{"message":"Unrecognizable token"}"#,
    );
    // The same token twice is one token.
    let r = req(
        "GET",
        &format!("/?jwt={a}"),
        &[("authorization", &format!("Bearer {a}"))],
    );
    assert!(run(&p, &mut { r }, &mut RequestCx::default()).is_none());
}

#[test]
fn bad_tokens() {
    let w = world();
    let p = plugin(&w, json!({}));
    let good_payload = seg(&json!({"iss": "hs"}));
    assert_401(
        &p,
        bearer("notatoken"),
        r#"{"message":"Bad token; invalid JSON"}"#,
    );
    assert_401(
        &p,
        bearer(&format!("{}.{good_payload}", seg(&json!({"alg":"HS256"})))),
        r#"{"message":"Bad token; invalid JSON"}"#,
    );
    assert_401(
        &p,
        bearer("e30.bm90IGpzb24.sig"),
        r#"{"message":"Bad token; invalid JSON"}"#,
    );
    assert_401(
        &p,
        bearer(&format!("{}.{good_payload}.", seg(&json!({"alg":"none"})))),
        r#"{"message":"Bad token; invalid alg"}"#,
    );
    assert_401(
        &p,
        bearer(&format!("{}.{good_payload}.", seg(&json!({"typ":"JWT"})))),
        r#"{"message":"Bad token; invalid alg"}"#,
    );
    assert_401(
        &p,
        bearer(&format!(
            "{}.{good_payload}.a$b",
            seg(&json!({"alg":"HS256"}))
        )),
        r#"{"message":"Bad token; invalid signature"}"#,
    );
    let huge = signed(
        Algorithm::HS256,
        json!({"iss": "hs", "pad": "x".repeat(9000)}),
    );
    assert_401(
        &p,
        bearer(&huge),
        r#"{"message":"Bad token; invalid JSON"}"#,
    );
}

#[test]
fn key_claim_checks() {
    let w = world();
    let p = plugin(&w, json!({}));
    assert_401(
        &p,
        bearer(&signed(Algorithm::HS256, json!({"sub": "x"}))),
        r#"{"message":"No mandatory 'iss' in claims"}"#,
    );
    assert_401(
        &p,
        bearer(&signed(Algorithm::HS256, json!({"iss": false}))),
        r#"{"message":"No mandatory 'iss' in claims"}"#,
    );
    assert_401(
        &p,
        bearer(&signed(Algorithm::HS256, json!({"iss": ""}))),
        r#"{"message":"Invalid 'iss' in claims"}"#,
    );
    assert_401(
        &p,
        bearer(&signed(Algorithm::HS256, json!({"iss": "nobody"}))),
        r#"{"message":"No credentials found for given 'iss'"}"#,
    );
    // Custom claim name, found in the JOSE header.
    let kid = plugin(&w, json!({"key_claim_name": "kid"}));
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("hs".into());
    let t =
        jsonwebtoken::encode(&h, &json!({"a": 1}), &EncodingKey::from_secret(b"secret")).unwrap();
    assert!(run(&kid, &mut bearer(&t), &mut RequestCx::default()).is_none());
    assert_401(
        &kid,
        bearer(&signed(Algorithm::HS256, json!({"iss": "hs"}))),
        r#"{"message":"No mandatory 'kid' in claims"}"#,
    );
}

#[test]
fn algorithm_must_match_credential() {
    let w = world();
    let p = plugin(&w, json!({}));
    assert_401(
        &p,
        bearer(&hs(json!({"iss": "hs"}), b"secret", Algorithm::HS512)),
        r#"{"message":"Invalid algorithm"}"#,
    );
    // Algorithm confusion: an HS token "signed" with the RSA public key of an RS credential.
    let pem = fixture("rsa_public.pem");
    let confused = hs(json!({"iss": "RS256"}), pem.as_bytes(), Algorithm::HS256);
    assert_401(&p, bearer(&confused), r#"{"message":"Invalid algorithm"}"#);
    // An RS token against an HS credential.
    assert_401(
        &p,
        bearer(&signed(Algorithm::RS256, json!({"iss": "hs"}))),
        r#"{"message":"Invalid algorithm"}"#,
    );
}

#[test]
fn key_and_signature_checks() {
    let w = world();
    let p = plugin(&w, json!({}));
    assert_401(
        &p,
        bearer(&hs(json!({"iss": "nosecret"}), b"x", Algorithm::HS256)),
        r#"{"message":"Invalid key/secret"}"#,
    );
    assert_401(
        &p,
        bearer(&signed(Algorithm::RS256, json!({"iss": "nokey"}))),
        r#"{"message":"Invalid key/secret"}"#,
    );
    assert_401(
        &p,
        bearer(&hs(json!({"iss": "hs"}), b"wrong", Algorithm::HS256)),
        r#"{"message":"Invalid signature"}"#,
    );
    // Tampered payload keeps the original signature.
    let t = signed(Algorithm::RS256, json!({"iss": "RS256", "admin": false}));
    let parts: Vec<&str> = t.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        seg(&json!({"iss": "RS256", "admin": true})),
        parts[2]
    );
    assert_401(&p, bearer(&tampered), r#"{"message":"Invalid signature"}"#);
    // Signed by another RSA key.
    let other = EncodingKey::from_rsa_pem(fixture("rsa2_private.pem").as_bytes()).unwrap();
    let t = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({"iss": "RS256"}),
        &other,
    )
    .unwrap();
    assert_401(&p, bearer(&t), r#"{"message":"Invalid signature"}"#);
}

#[test]
fn secret_is_base64() {
    let w = world();
    let p = plugin(&w, json!({"secret_is_base64": true}));
    assert!(run(
        &p,
        &mut bearer(&hs(json!({"iss": "b64"}), b"decoded!", Algorithm::HS256)),
        &mut RequestCx::default()
    )
    .is_none());
    assert_401(
        &p,
        bearer(&hs(
            json!({"iss": "b64"}),
            URL_SAFE_NO_PAD.encode("decoded!").as_bytes(),
            Algorithm::HS256,
        )),
        r#"{"message":"Invalid signature"}"#,
    );
    // "secret" is not valid base64 (length 6 is fine; "secret" decodes) -> a different key.
    assert_401(
        &p,
        bearer(&signed(Algorithm::HS256, json!({"iss": "hs"}))),
        r#"{"message":"Invalid signature"}"#,
    );
}

#[test]
fn every_supported_algorithm_authenticates() {
    let w = world();
    let p = plugin(&w, json!({}));
    let algs = [
        (Algorithm::HS256, "hs"),
        (Algorithm::HS384, "HS384"),
        (Algorithm::HS512, "HS512"),
        (Algorithm::RS256, "RS256"),
        (Algorithm::RS384, "RS384"),
        (Algorithm::RS512, "RS512"),
        (Algorithm::PS256, "PS256"),
        (Algorithm::PS384, "PS384"),
        (Algorithm::PS512, "PS512"),
        (Algorithm::ES256, "ES256"),
        (Algorithm::ES384, "ES384"),
        (Algorithm::EdDSA, "EdDSA"),
    ];
    for (alg, key) in algs {
        let t = signed(alg, json!({"iss": key}));
        let mut r = bearer(&t);
        let mut cx = RequestCx::default();
        assert!(run(&p, &mut r, &mut cx).is_none(), "{alg:?} rejected");
        assert_eq!(r.headers["x-credential-identifier"], key, "{alg:?}");
        // Any flipped signature byte fails.
        let (hp, sig) = t.rsplit_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        raw[5] ^= 1;
        let bad = format!("{hp}.{}", URL_SAFE_NO_PAD.encode(raw));
        assert_401(&p, bearer(&bad), r#"{"message":"Invalid signature"}"#);
    }
}

/// An ES512 token signed with the P-521 fixture (jsonwebtoken cannot sign ES512).
fn es512(claims: Value) -> String {
    use p521::ecdsa::signature::RandomizedSigner;
    use p521::pkcs8::DecodePrivateKey;
    let sk = p521::SecretKey::from_pkcs8_pem(&fixture("ec521_private.pem")).unwrap();
    let sk = p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes()).unwrap();
    let input = format!(
        "{}.{}",
        seg(&json!({"alg": "ES512", "typ": "JWT"})),
        seg(&claims)
    );
    let sig: p521::ecdsa::Signature = sk.sign_with_rng(&mut rand::rngs::OsRng, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

#[test]
fn es512_authenticates() {
    let w = world();
    let p = plugin(&w, json!({}));
    let t = es512(json!({"iss": "ES512"}));
    let mut r = bearer(&t);
    assert!(run(&p, &mut r, &mut RequestCx::default()).is_none());
    assert_eq!(r.headers["x-credential-identifier"], "ES512");
    let (hp, sig) = t.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    raw[7] ^= 1;
    let bad = format!("{hp}.{}", URL_SAFE_NO_PAD.encode(raw));
    assert_401(&p, bearer(&bad), r#"{"message":"Invalid signature"}"#);
}

#[test]
fn bad_signature_lengths_are_internal_errors() {
    let w = world();
    let p = plugin(&w, json!({}));
    let h = seg(&json!({"alg": "ES512"}));
    let t = format!(
        "{h}.{}.{}",
        seg(&json!({"iss": "ES512"})),
        URL_SAFE_NO_PAD.encode([1u8; 64])
    );
    let out = reject(&p, bearer(&t));
    assert_eq!(out.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        out.body,
        "{\n  \"message\":\"An unexpected error occurred\"\n}"
    );
    let h = seg(&json!({"alg": "ES256"}));
    let t = format!(
        "{h}.{}.{}",
        seg(&json!({"iss": "ES256"})),
        URL_SAFE_NO_PAD.encode([1u8; 70])
    );
    let mut r = bearer(&t);
    let mut cx = RequestCx {
        request_id: "abc123".into(),
        ..Default::default()
    };
    let out = run(&p, &mut r, &mut cx).unwrap();
    assert_eq!(out.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        out.body,
        "{\n  \"message\":\"An unexpected error occurred\",\n  \"request_id\":\"abc123\"\n}"
    );
}

#[test]
fn claims_verification() {
    let w = world();
    let p = plugin(&w, json!({"claims_to_verify": ["exp", "nbf"]}));
    let t = |c: Value| bearer(&signed(Algorithm::HS256, c));
    let n = now();
    assert_401(
        &p,
        t(json!({"iss": "hs", "exp": n - 10, "nbf": n - 10})),
        r#"{"exp":"token expired"}"#,
    );
    assert_401(
        &p,
        t(json!({"iss": "hs", "exp": n, "nbf": n - 10})),
        r#"{"exp":"token expired"}"#,
    );
    assert_401(
        &p,
        t(json!({"iss": "hs", "exp": n + 100, "nbf": n + 100})),
        r#"{"nbf":"token not valid yet"}"#,
    );
    let out = reject(&p, t(json!({"iss": "hs"})));
    assert_eq!(
        serde_json::from_str::<Value>(&out.body).unwrap(),
        json!({"nbf":"must be a number","exp":"must be a number"})
    );
    assert_401(
        &p,
        t(json!({"iss": "hs", "exp": "soon", "nbf": n})),
        r#"{"exp":"must be a number"}"#,
    );
    assert!(run(
        &p,
        &mut t(json!({"iss": "hs", "exp": n + 100, "nbf": n})),
        &mut RequestCx::default()
    )
    .is_none());
    // Nothing verified by default.
    let lax = plugin(&w, json!({}));
    assert!(run(
        &lax,
        &mut t(json!({"iss": "hs", "exp": n - 100})),
        &mut RequestCx::default()
    )
    .is_none());
}

#[test]
fn maximum_expiration() {
    let w = world();
    let p = plugin(
        &w,
        json!({"claims_to_verify": ["exp"], "maximum_expiration": 60}),
    );
    let t = |c: Value| bearer(&signed(Algorithm::HS256, c));
    let n = now();
    assert_401(
        &p,
        t(json!({"iss": "hs", "exp": n + 3600})),
        r#"{"exp":"exceeds maximum allowed expiration"}"#,
    );
    assert!(run(
        &p,
        &mut t(json!({"iss": "hs", "exp": n + 30})),
        &mut RequestCx::default()
    )
    .is_none());
}

#[test]
fn consumer_gone() {
    let w = world();
    let p = plugin(&w, json!({}));
    let out = reject(
        &p,
        bearer(&signed(Algorithm::HS256, json!({"iss": "orphan"}))),
    );
    assert_eq!(out.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        out.body,
        r#"{"message":"Could not find consumer for 'iss=orphan'"}"#
    );
    assert_eq!(out.www, None);
}

#[test]
fn success_sets_consumer_headers() {
    let w = world();
    let p = plugin(&w, json!({}));
    let token = signed(Algorithm::HS256, json!({"iss": "hs"}));
    let mut r = req(
        "GET",
        "/",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-anonymous-consumer", "true"),
            ("x-consumer-username", "forged"),
        ],
    );
    let mut cx = RequestCx::default();
    assert!(run(&p, &mut r, &mut cx).is_none());
    assert_eq!(r.headers["x-consumer-id"], w.alice.id.to_string());
    assert_eq!(r.headers["x-consumer-username"], "alice");
    assert_eq!(r.headers["x-consumer-custom-id"], "alice-cid");
    assert_eq!(r.headers["x-credential-identifier"], "hs");
    assert!(r.headers.get("x-anonymous-consumer").is_none());
    // The token stays in the upstream request.
    assert_eq!(r.headers["authorization"], format!("Bearer {token}"));
    let auth = cx.authenticated.expect("authenticated");
    assert_eq!(auth.consumer.id, w.alice.id);
    assert_eq!(auth.credential.as_deref(), Some("hs"));

    // Cookie and query sources, custom header name.
    let p = plugin(
        &w,
        json!({"cookie_names": ["session"], "header_names": ["x-jwt"]}),
    );
    let mut r = req("GET", "/", &[("cookie", &format!("a=b; session={token}"))]);
    assert!(run(&p, &mut r, &mut RequestCx::default()).is_none());
    let mut r = req("GET", &format!("/p?x=1&jwt={token}"), &[]);
    assert!(run(&p, &mut r, &mut RequestCx::default()).is_none());
    let mut r = req("GET", "/", &[("x-jwt", &format!("bearer {token}"))]);
    assert!(run(&p, &mut r, &mut RequestCx::default()).is_none());
}

#[test]
fn custom_id_header_removed_when_absent() {
    let w = world();
    let mut idx = Indexes::default();
    idx.consumers_by_id.insert(w.anon.id, w.anon.clone());
    idx.jwt_by_key.insert(
        "k".into(),
        Arc::new(JwtSecret {
            id: Uuid::new_v4(),
            created_at: 0,
            consumer: ForeignKey { id: w.anon.id },
            key: "k".into(),
            secret: Some("s".into()),
            rsa_public_key: None,
            algorithm: "HS256".into(),
            tags: None,
        }),
    );
    let w2 = World {
        indexes: Arc::new(idx),
        alice: w.alice.clone(),
        anon: w.anon.clone(),
    };
    let p = plugin(&w2, json!({}));
    let t = hs(json!({"iss": "k"}), b"s", Algorithm::HS256);
    let mut r = req(
        "GET",
        "/",
        &[
            ("authorization", &format!("Bearer {t}")),
            ("x-consumer-custom-id", "forged"),
        ],
    );
    assert!(run(&p, &mut r, &mut RequestCx::default()).is_none());
    assert!(r.headers.get("x-consumer-custom-id").is_none());
    assert_eq!(r.headers["x-consumer-username"], "anon");
}

#[test]
fn anonymous_consumer() {
    let w = world();
    for anon in [w.anon.id.to_string(), "anon".to_string()] {
        let p = plugin(&w, json!({"anonymous": anon}));
        let mut r = req("GET", "/", &[("x-credential-identifier", "forged")]);
        let mut cx = RequestCx::default();
        assert!(run(&p, &mut r, &mut cx).is_none());
        assert_eq!(r.headers["x-consumer-id"], w.anon.id.to_string());
        assert_eq!(r.headers["x-consumer-username"], "anon");
        assert_eq!(r.headers["x-anonymous-consumer"], "true");
        assert!(r.headers.get("x-credential-identifier").is_none());
        let auth = cx.authenticated.expect("anonymous set");
        assert!(auth.credential.is_none());
        // A valid token still authenticates the real consumer.
        let mut r = bearer(&signed(Algorithm::HS256, json!({"iss": "hs"})));
        assert!(run(&p, &mut r, &mut RequestCx::default()).is_none());
        assert_eq!(r.headers["x-consumer-username"], "alice");
    }
    // Already authenticated by another plugin: nothing happens.
    let p = plugin(&w, json!({"anonymous": "anon"}));
    let mut cx = RequestCx {
        authenticated: Some(Authenticated {
            consumer: w.alice.clone(),
            credential: Some(Arc::from("other")),
        }),
        ..Default::default()
    };
    let mut r = req("GET", "/", &[]);
    assert!(run(&p, &mut r, &mut cx).is_none());
    assert!(r.headers.get("x-consumer-id").is_none());
    // Without anonymous, a failure rejects even if someone else authenticated.
    let strict = plugin(&w, json!({}));
    assert!(run(&strict, &mut req("GET", "/", &[]), &mut cx).is_some());
    // Missing anonymous consumer: 500.
    let p = plugin(&w, json!({"anonymous": "ghost"}));
    let out = reject(&p, req("GET", "/", &[]));
    assert_eq!(out.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        out.body,
        "{\n  \"message\":\"anonymous consumer ghost is configured but doesn't exist\"\n}"
    );
}

#[test]
fn preflight_option() {
    let w = world();
    let skip = plugin(&w, json!({"run_on_preflight": false}));
    assert!(run(
        &skip,
        &mut req("OPTIONS", "/", &[]),
        &mut RequestCx::default()
    )
    .is_none());
    assert!(run(&skip, &mut req("GET", "/", &[]), &mut RequestCx::default()).is_some());
    let check = plugin(&w, json!({}));
    assert!(run(
        &check,
        &mut req("OPTIONS", "/", &[]),
        &mut RequestCx::default()
    )
    .is_some());
}

#[test]
fn credentials_follow_the_snapshot() {
    // A credential added to a new snapshot works once plugins are rebuilt for it.
    let w = world();
    let p = plugin(&w, json!({}));
    let t = hs(json!({"iss": "fresh"}), b"s", Algorithm::HS256);
    assert_401(
        &p,
        bearer(&t),
        r#"{"message":"No credentials found for given 'iss'"}"#,
    );
    let mut idx = Indexes {
        consumers_by_id: w.indexes.consumers_by_id.clone(),
        consumers_by_username: w.indexes.consumers_by_username.clone(),
        jwt_by_key: HashMap::new(),
        ..Default::default()
    };
    idx.jwt_by_key.insert(
        "fresh".into(),
        Arc::new(JwtSecret {
            id: Uuid::new_v4(),
            created_at: 0,
            consumer: ForeignKey { id: w.alice.id },
            key: "fresh".into(),
            secret: Some("s".into()),
            rsa_public_key: None,
            algorithm: "HS256".into(),
            tags: None,
        }),
    );
    let w2 = World {
        indexes: Arc::new(idx),
        alice: w.alice.clone(),
        anon: w.anon.clone(),
    };
    let p2 = plugin(&w2, json!({}));
    assert!(run(&p2, &mut bearer(&t), &mut RequestCx::default()).is_none());
}
