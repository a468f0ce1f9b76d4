//! The `jwt` plugin (kong-compat §3): authenticates a request by a signed JWT whose key claim
//! names a credential; Kong's check order, 401 bodies and `WWW-Authenticate` challenges.

pub mod keys;
mod token;
mod verify;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gateway_core::model;
use gateway_core::plugin_config::jwt::{Claim, JwtConfig};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{request, HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Map, Value};

use self::keys::{Credential, Credentials, KeyMaterial};
use self::token::{Extracted, Sources};
use self::verify::{Decoded, Verdict};
use super::{Authenticated, Flow, Indexes, Plugin, RequestCx};

/// Kong's PRIORITY for jwt.
pub const PRIORITY: u32 = 1450;

static X_CONSUMER_ID: HeaderName = HeaderName::from_static("x-consumer-id");
static X_CONSUMER_USERNAME: HeaderName = HeaderName::from_static("x-consumer-username");
static X_CONSUMER_CUSTOM_ID: HeaderName = HeaderName::from_static("x-consumer-custom-id");
static X_CREDENTIAL_IDENTIFIER: HeaderName = HeaderName::from_static("x-credential-identifier");
static X_ANONYMOUS_CONSUMER: HeaderName = HeaderName::from_static("x-anonymous-consumer");
const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// The upstream headers describing an authenticated consumer, prepared once.
#[derive(Debug, Clone)]
pub struct ConsumerHeaders {
    id: HeaderValue,
    username: Option<HeaderValue>,
    custom_id: Option<HeaderValue>,
    credential: Option<HeaderValue>,
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

impl ConsumerHeaders {
    /// Headers for `consumer`, authenticated by the credential `key` (`None`: anonymous).
    pub fn new(consumer: &model::Consumer, key: Option<&str>) -> Self {
        Self {
            id: HeaderValue::from_str(&consumer.id.to_string())
                .unwrap_or(HeaderValue::from_static("")),
            username: consumer.username.as_deref().and_then(header_value),
            custom_id: consumer.custom_id.as_deref().and_then(header_value),
            credential: key.and_then(header_value),
        }
    }

    /// Kong's `set_consumer`: set or clear each header; anonymous sets `X-Anonymous-Consumer`.
    fn apply(&self, headers: &mut HeaderMap, anonymous: bool) {
        headers.insert(X_CONSUMER_ID.clone(), self.id.clone());
        for (name, v) in [
            (&X_CONSUMER_CUSTOM_ID, &self.custom_id),
            (&X_CONSUMER_USERNAME, &self.username),
            (&X_CREDENTIAL_IDENTIFIER, &self.credential),
        ] {
            match v {
                Some(v) => {
                    headers.insert(name.clone(), v.clone());
                }
                None => {
                    headers.remove(name);
                }
            }
        }
        if anonymous {
            headers.insert(
                X_ANONYMOUS_CONSUMER.clone(),
                HeaderValue::from_static("true"),
            );
        } else {
            headers.remove(&X_ANONYMOUS_CONSUMER);
        }
    }
}

/// A rejection: status, JSON body, optional challenge.
struct Reject {
    status: StatusCode,
    body: Bytes,
    www: Option<HeaderValue>,
}

/// Precomputed 401 bodies that depend on the config.
struct Bodies {
    no_claim: Bytes,
    empty_claim: Bytes,
    no_credentials: Bytes,
}

fn message(msg: &str) -> Bytes {
    Bytes::from(json!({ "message": msg }).to_string())
}

/// The compiled `jwt` plugin of one snapshot.
pub struct JwtPlugin {
    cfg: JwtConfig,
    sources: Sources,
    credentials: Arc<Credentials>,
    /// `anonymous` resolved: `Err(name)` if configured but missing.
    anonymous: Option<Result<(Arc<model::Consumer>, ConsumerHeaders), String>>,
    www_base: HeaderValue,
    www_error: HeaderValue,
    bodies: Bodies,
}

impl JwtPlugin {
    /// Compile a normalized config against the snapshot's indexes.
    pub fn build(config: &Value, indexes: &Arc<Indexes>) -> Result<Self, String> {
        let cfg = JwtConfig::from_value(config)?;
        let sources = Sources::new(&cfg.uri_param_names, &cfg.cookie_names, &cfg.header_names)?;
        let (www_base, www_error) = match &cfg.realm {
            Some(r) => (
                format!("Bearer realm=\"{r}\""),
                format!("Bearer realm=\"{r}\", error=\"invalid_token\""),
            ),
            None => (
                "Bearer".to_string(),
                "Bearer error=\"invalid_token\"".to_string(),
            ),
        };
        let anonymous = cfg.anonymous.as_ref().map(|a| {
            lookup_consumer(indexes, a)
                .map(|c| {
                    let h = ConsumerHeaders::new(&c, None);
                    (c, h)
                })
                .ok_or_else(|| a.clone())
        });
        let claim = &cfg.key_claim_name;
        let bodies = Bodies {
            no_claim: message(&format!("No mandatory '{claim}' in claims")),
            empty_claim: message(&format!("Invalid '{claim}' in claims")),
            no_credentials: message(&format!("No credentials found for given '{claim}'")),
        };
        Ok(Self {
            sources,
            credentials: keys::credentials(indexes),
            anonymous,
            www_base: HeaderValue::from_str(&www_base)
                .map_err(|e| format!("invalid realm: {e}"))?,
            www_error: HeaderValue::from_str(&www_error)
                .map_err(|e| format!("invalid realm: {e}"))?,
            bodies,
            cfg,
        })
    }

    fn reject(&self, body: Bytes) -> Reject {
        Reject {
            status: StatusCode::UNAUTHORIZED,
            body,
            www: Some(self.www_error.clone()),
        }
    }

    /// Kong's `do_authentication`.
    fn authenticate(
        &self,
        req: &mut request::Parts,
        now: f64,
    ) -> Result<(Arc<Credential>, Arc<model::Consumer>), Reject> {
        let token = match token::extract(req, &self.sources) {
            Extracted::One(t) => t.into_owned(),
            Extracted::None => {
                return Err(Reject {
                    status: StatusCode::UNAUTHORIZED,
                    body: Bytes::from_static(br#"{"message":"Unauthorized"}"#),
                    www: Some(self.www_base.clone()),
                })
            }
            Extracted::Multiple => {
                return Err(self.reject(Bytes::from_static(
                    br#"{"message":"Multiple tokens provided"}"#,
                )))
            }
            Extracted::Unrecognizable => {
                return Err(
                    self.reject(Bytes::from_static(br#"{"message":"Unrecognizable token"}"#))
                )
            }
        };
        let tok = verify::decode(&token).map_err(|e| self.reject(message(e.message())))?;
        let claim_name = self.cfg.key_claim_name.as_str();
        // `claims[k] or header[k]`: Lua falls through on nil and false.
        let truthy = |v: Option<&Value>| v.filter(|v| !matches!(v, Value::Bool(false))).cloned();
        let key = truthy(tok.claims.get(claim_name))
            .or_else(|| truthy(tok.header.get(claim_name)))
            .ok_or_else(|| self.reject(self.bodies.no_claim.clone()))?;
        let key = match key {
            Value::String(s) if s.is_empty() => {
                return Err(self.reject(self.bodies.empty_claim.clone()))
            }
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let cred = key
            .as_deref()
            .and_then(|k| self.credentials.get(k))
            .ok_or_else(|| self.reject(self.bodies.no_credentials.clone()))?;
        let Some(alg) = cred.alg.filter(|a| *a == tok.alg) else {
            return Err(self.reject(Bytes::from_static(br#"{"message":"Invalid algorithm"}"#)));
        };
        self.check_signature(&tok, cred, alg)?;
        self.check_claims(&tok, now)?;
        let consumer = cred.consumer.clone().ok_or_else(|| Reject {
            status: StatusCode::UNAUTHORIZED,
            body: message(&format!(
                "Could not find consumer for '{claim_name}={}'",
                cred.secret.key
            )),
            www: None,
        })?;
        Ok((cred.clone(), consumer))
    }

    fn check_signature(
        &self,
        tok: &Decoded<'_>,
        cred: &Credential,
        alg: verify::Alg,
    ) -> Result<(), Reject> {
        let invalid_key =
            || self.reject(Bytes::from_static(br#"{"message":"Invalid key/secret"}"#));
        let key = match &cred.key {
            KeyMaterial::Hmac { plain, decoded } => {
                let k = if self.cfg.secret_is_base64 {
                    decoded
                } else {
                    plain
                };
                k.as_ref().ok_or_else(invalid_key)?
            }
            KeyMaterial::Public { key, b64_decodable } => {
                let key = key.as_ref().ok_or_else(invalid_key)?;
                if self.cfg.secret_is_base64 {
                    // Kong base64-decodes the PEM too; the result is never a usable key.
                    return Err(if *b64_decodable {
                        internal("public key is not usable base64")
                    } else {
                        invalid_key()
                    });
                }
                key.as_ref().map_err(|e| internal(e))?
            }
        };
        match verify::verify_signature(tok, key, alg) {
            Verdict::Valid => Ok(()),
            Verdict::Invalid => {
                Err(self.reject(Bytes::from_static(br#"{"message":"Invalid signature"}"#)))
            }
            Verdict::Internal(e) => Err(internal(&e)),
        }
    }

    fn check_claims(&self, tok: &Decoded<'_>, now: f64) -> Result<(), Reject> {
        let mut errors = Map::new();
        for claim in &self.cfg.claims_to_verify {
            let name = claim.as_str();
            let err = match tok.claims.get(name).and_then(Value::as_f64) {
                None => "must be a number",
                Some(v) if *claim == Claim::Exp && v <= now => "token expired",
                Some(v) if *claim == Claim::Nbf && v > now => "token not valid yet",
                Some(_) => continue,
            };
            errors.insert(name.to_string(), Value::String(err.into()));
        }
        if errors.is_empty() && self.cfg.maximum_expiration > 0.0 {
            let exceeds = match tok.claims.get("exp").and_then(Value::as_f64) {
                Some(exp) => exp - now > self.cfg.maximum_expiration,
                None => true,
            };
            if exceeds {
                errors.insert(
                    "exp".into(),
                    Value::String("exceeds maximum allowed expiration".into()),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(self.reject(Bytes::from(Value::Object(errors).to_string())))
        }
    }
}

/// An internal error (Kong's `error()` in access): 500 with the error template.
fn internal(detail: &str) -> Reject {
    tracing::error!(target: "gateway::plugins::jwt", "jwt internal error: {detail}");
    Reject {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: Bytes::new(),
        www: None,
    }
}

/// `kong.client.load_consumer(x, true)`: by id when uuid-shaped, else (or if absent) by username.
fn lookup_consumer(indexes: &Indexes, key: &str) -> Option<Arc<model::Consumer>> {
    key.parse::<uuid::Uuid>()
        .ok()
        .and_then(|id| indexes.consumers_by_id.get(&id).cloned())
        .or_else(|| indexes.consumers_by_username.get(key).cloned())
}

/// Kong's `kong.response.error` template body (request id when known).
pub(crate) fn error_template(req: &request::Parts, cx: &RequestCx, msg: &str) -> Bytes {
    let id = if cx.request_id.is_empty() {
        req.headers
            .get("x-kong-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    } else {
        cx.request_id.as_str()
    };
    let msg = serde_json::to_string(msg).unwrap_or_else(|_| "\"\"".into());
    if id.is_empty() {
        Bytes::from(format!("{{\n  \"message\":{msg}\n}}"))
    } else {
        let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
        Bytes::from(format!(
            "{{\n  \"message\":{msg},\n  \"request_id\":{id}\n}}"
        ))
    }
}

fn respond(status: StatusCode, body: Bytes, www: Option<HeaderValue>) -> Flow {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, JSON);
    if let Some(w) = www {
        res.headers_mut().insert(WWW_AUTHENTICATE, w);
    }
    Flow::Respond(res)
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0)
}

impl Plugin for JwtPlugin {
    fn name(&self) -> &'static str {
        "jwt"
    }

    fn priority(&self) -> u32 {
        PRIORITY
    }

    fn access(&self, req: &mut request::Parts, cx: &mut RequestCx) -> Flow {
        if !self.cfg.run_on_preflight && req.method == Method::OPTIONS {
            return Flow::Continue;
        }
        let already = cx
            .authenticated
            .as_ref()
            .is_some_and(|a| a.credential.is_some());
        if self.anonymous.is_some() && already {
            return Flow::Continue;
        }
        match self.authenticate(req, now_secs()) {
            Ok((cred, consumer)) => {
                if let Some(h) = &cred.headers {
                    h.apply(&mut req.headers, false);
                }
                cx.authenticated = Some(Authenticated {
                    consumer,
                    credential: Some(cred.key_id.clone()),
                });
                Flow::Continue
            }
            Err(rej) => match &self.anonymous {
                Some(Ok((consumer, headers)))
                    if rej.status != StatusCode::INTERNAL_SERVER_ERROR =>
                {
                    headers.apply(&mut req.headers, true);
                    cx.authenticated = Some(Authenticated {
                        consumer: consumer.clone(),
                        credential: None,
                    });
                    Flow::Continue
                }
                Some(Err(name)) if rej.status != StatusCode::INTERNAL_SERVER_ERROR => {
                    let msg = format!("anonymous consumer {name} is configured but doesn't exist");
                    tracing::error!(target: "gateway::plugins::jwt", "{msg}");
                    respond(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        error_template(req, cx, &msg),
                        None,
                    )
                }
                _ if rej.status == StatusCode::INTERNAL_SERVER_ERROR => respond(
                    rej.status,
                    error_template(req, cx, "An unexpected error occurred"),
                    None,
                ),
                _ => respond(rej.status, rej.body, rej.www),
            },
        }
    }
}

#[cfg(test)]
mod tests;
