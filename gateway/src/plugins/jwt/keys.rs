//! JWT credentials compiled once per snapshot: algorithm parsed, public keys parsed into
//! `DecodingKey`s, HMAC secrets prepared both raw and base64-decoded. Shared by every jwt
//! plugin instance of the snapshot through [`Indexes::jwt_credentials`].

use std::collections::HashMap;
use std::sync::Arc;

use super::verify::{b64_decode, Alg, VerifyKey};
use super::ConsumerHeaders;
use crate::plugins::Indexes;
use gateway_core::model;

/// Key material of a credential.
pub enum KeyMaterial {
    /// HMAC secret: as stored, and base64-decoded (for `secret_is_base64`) when decodable.
    Hmac {
        plain: Option<VerifyKey>,
        decoded: Option<VerifyKey>,
    },
    /// Public key; `Err` when the PEM does not parse. `b64_decodable` tells whether Kong's
    /// `secret_is_base64` decoding of the PEM text would succeed.
    Public {
        key: Option<Result<VerifyKey, String>>,
        b64_decodable: bool,
    },
}

/// One compiled JWT credential.
pub struct Credential {
    /// The stored credential.
    pub secret: Arc<model::JwtSecret>,
    /// `key`, shared with [`crate::plugins::Authenticated`].
    pub key_id: Arc<str>,
    /// The owning consumer, `None` if it is gone.
    pub consumer: Option<Arc<model::Consumer>>,
    /// Upstream headers for a success with this credential (when the consumer exists).
    pub headers: Option<ConsumerHeaders>,
    /// Its algorithm, `None` if the stored name is unknown (then no token matches it).
    pub alg: Option<Alg>,
    /// Key material.
    pub key: KeyMaterial,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("key", &self.secret.key)
            .field("alg", &self.alg)
            .finish()
    }
}

impl Credential {
    /// Compile a stored credential.
    pub fn compile(secret: Arc<model::JwtSecret>, consumer: Option<Arc<model::Consumer>>) -> Self {
        let alg = Alg::parse(&secret.algorithm);
        let key = match alg {
            Some(a) if !a.is_hmac() => {
                let pem = secret.rsa_public_key.as_deref();
                KeyMaterial::Public {
                    key: pem.map(|p| a.public_key(p.as_bytes())),
                    b64_decodable: pem.and_then(b64_decode).is_some(),
                }
            }
            _ => {
                let s = secret.secret.as_deref();
                KeyMaterial::Hmac {
                    plain: s.map(|s| VerifyKey::secret(s.as_bytes())),
                    decoded: s.and_then(b64_decode).map(|b| VerifyKey::secret(&b)),
                }
            }
        };
        let headers = consumer
            .as_deref()
            .map(|c| ConsumerHeaders::new(c, Some(&secret.key)));
        Self {
            key_id: Arc::from(secret.key.as_str()),
            consumer,
            headers,
            secret,
            alg,
            key,
        }
    }
}

/// Compiled credentials by `key`.
pub type Credentials = HashMap<String, Arc<Credential>>;

/// The snapshot's compiled credentials (compiled on first use, then shared).
pub fn credentials(indexes: &Indexes) -> Arc<Credentials> {
    indexes
        .jwt_credentials
        .get_or_init(|| {
            Arc::new(
                indexes
                    .jwt_by_key
                    .iter()
                    .map(|(k, s)| {
                        (k.clone(), {
                            let consumer = indexes.consumers_by_id.get(&s.consumer.id).cloned();
                            Arc::new(Credential::compile(s.clone(), consumer))
                        })
                    })
                    .collect(),
            )
        })
        .clone()
}
