//! Token decoding and signature verification (Kong's `jwt_parser`), on the raw signing input.
//!
//! Verification goes through `jsonwebtoken::crypto::verify` (ring underneath; ES512 through the
//! RustCrypto `p521` crate, which ring lacks) with the key
//! parsed once per snapshot; the token's `alg` must equal the credential's algorithm before
//! any key is used, which rules out `alg: none` and HS/RS confusion.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use p521::ecdsa::signature::Verifier;
use p521::pkcs8::DecodePublicKey;
use serde_json::{Map, Value};

/// Longest token accepted; longer ones are `Bad token; invalid JSON`.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Kong's lenient base64 decoding: both alphabets (`-_` mapped to `+/`), padding optional.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decode base64 or base64url text, with or without padding (Kong's `base64_decode`).
pub fn b64_decode(input: &str) -> Option<Vec<u8>> {
    if input.bytes().any(|b| b == b'-' || b == b'_') {
        let mapped: String = input
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        LENIENT.decode(mapped).ok()
    } else {
        LENIENT.decode(input).ok()
    }
}

/// A JWS algorithm Kong accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    ES256,
    ES384,
    ES512,
    PS256,
    PS384,
    PS512,
    EdDSA,
}

impl Alg {
    /// Parse an `alg` name; `None` for anything Kong does not support (incl. `none`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "ES512" => Self::ES512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }

    /// HMAC algorithms verify with `secret`, the others with `rsa_public_key`.
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// The `jsonwebtoken` algorithm; `None` for ES512 (ring has no P-521; see [`VerifyKey`]).
    pub fn jwt(self) -> Option<Algorithm> {
        Some(match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::HS512 => Algorithm::HS512,
            Self::RS256 => Algorithm::RS256,
            Self::RS384 => Algorithm::RS384,
            Self::RS512 => Algorithm::RS512,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::ES512 => return None,
            Self::PS256 => Algorithm::PS256,
            Self::PS384 => Algorithm::PS384,
            Self::PS512 => Algorithm::PS512,
            Self::EdDSA => Algorithm::EdDSA,
        })
    }

    /// The signature length Kong's verifier insists on (raw R||S for ECDSA, 256 bytes for
    /// PSS); other lengths are an internal error there, so they are here.
    fn required_sig_len(self) -> Option<usize> {
        match self {
            Self::ES256 => Some(64),
            Self::ES384 => Some(96),
            Self::ES512 => Some(132),
            Self::PS256 | Self::PS384 | Self::PS512 => Some(256),
            _ => None,
        }
    }

    /// Parse a public key PEM for this (asymmetric) algorithm.
    pub fn public_key(self, pem: &[u8]) -> Result<VerifyKey, String> {
        let res = match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                DecodingKey::from_rsa_pem(pem)
            }
            Self::ES256 | Self::ES384 => DecodingKey::from_ec_pem(pem),
            Self::EdDSA => DecodingKey::from_ed_pem(pem),
            Self::ES512 => {
                let pem =
                    std::str::from_utf8(pem).map_err(|e| format!("invalid public key: {e}"))?;
                let pk = p521::PublicKey::from_public_key_pem(pem)
                    .map_err(|e| format!("invalid public key: {e}"))?;
                let vk = p521::ecdsa::VerifyingKey::from_sec1_bytes(&pk.to_sec1_bytes())
                    .map_err(|e| format!("invalid public key: {e}"))?;
                return Ok(VerifyKey::P521(Box::new(vk)));
            }
            Self::HS256 | Self::HS384 | Self::HS512 => {
                return Err("not a public key algorithm".into())
            }
        };
        res.map(VerifyKey::Jwt)
            .map_err(|e| format!("invalid public key: {e}"))
    }
}

/// A verification key: what `jsonwebtoken` handles (HMAC secrets, RSA, P-256/384, Ed25519),
/// or a P-521 key verified with the RustCrypto `p521` crate (ES512; ring has no P-521).
pub enum VerifyKey {
    /// Verified by `jsonwebtoken::crypto::verify`.
    Jwt(DecodingKey),
    /// ES512.
    P521(Box<p521::ecdsa::VerifyingKey>),
}

impl VerifyKey {
    /// An HMAC secret.
    pub fn secret(bytes: &[u8]) -> Self {
        Self::Jwt(DecodingKey::from_secret(bytes))
    }
}

/// Why a token could not be decoded (the `Bad token; <why>` texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// `Bad token; invalid JSON`.
    Json,
    /// `Bad token; invalid alg`.
    Alg,
    /// `Bad token; invalid signature`.
    Signature,
}

impl DecodeError {
    /// The 401 message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Json => "Bad token; invalid JSON",
            Self::Alg => "Bad token; invalid alg",
            Self::Signature => "Bad token; invalid signature",
        }
    }
}

/// A decoded (not yet verified) token.
#[derive(Debug)]
pub struct Decoded<'t> {
    /// JOSE header.
    pub header: Map<String, Value>,
    /// Payload claims.
    pub claims: Map<String, Value>,
    /// `alg` of the header.
    pub alg: Alg,
    /// `<header>.<payload>` as sent: the signing input.
    pub signing_input: &'t str,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// A segment's JSON. Like Lua indexing a decoded array or string, those read as having no
/// fields (so a `[..]` header is `invalid alg`); numbers, booleans and `null`, which Lua cannot
/// index at all, are `invalid JSON` here (Kong would fail with a 500).
fn json_object(segment: &str) -> Result<Map<String, Value>, DecodeError> {
    let raw = b64_decode(segment).ok_or(DecodeError::Json)?;
    match serde_json::from_slice(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Array(_) | Value::String(_)) => Ok(Map::new()),
        _ => Err(DecodeError::Json),
    }
}

/// Decode a token in Kong's order: JSON of header and payload, then `alg`, then signature.
/// Like Kong's `tokenize(token, ".", 3)`, the third segment is the whole rest (so a fourth
/// segment makes the signature invalid base64).
pub fn decode(token: &str) -> Result<Decoded<'_>, DecodeError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(DecodeError::Json);
    }
    let mut parts = token.splitn(3, '.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(DecodeError::Json);
    };
    let header = json_object(h)?;
    let claims = json_object(p)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Alg::parse)
        .ok_or(DecodeError::Alg)?;
    let signature = b64_decode(s).ok_or(DecodeError::Signature)?;
    Ok(Decoded {
        header,
        claims,
        alg,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

/// Result of checking a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signature matches.
    Valid,
    /// Signature does not match (`Invalid signature`).
    Invalid,
    /// The verifier itself failed (wrong signature length, unsupported curve): a 500.
    Internal(String),
}

/// Verify the signature of `tok` with `key` for `alg` (the credential's algorithm, equal to
/// the token's).
pub fn verify_signature(tok: &Decoded<'_>, key: &VerifyKey, alg: Alg) -> Verdict {
    if let Some(len) = alg.required_sig_len() {
        if tok.signature.len() != len {
            return Verdict::Internal(format!(
                "{alg:?} signature must be {len} bytes, got {}",
                tok.signature.len()
            ));
        }
    }
    let key = match key {
        VerifyKey::P521(vk) => {
            let ok = p521::ecdsa::Signature::from_slice(&tok.signature)
                .is_ok_and(|sig| vk.verify(tok.signing_input.as_bytes(), &sig).is_ok());
            return if ok { Verdict::Valid } else { Verdict::Invalid };
        }
        VerifyKey::Jwt(k) => k,
    };
    let Some(jalg) = alg.jwt() else {
        return Verdict::Invalid;
    };
    // `crypto::verify` takes base64url text (and compares HMACs as text): give it the
    // canonical encoding of the decoded bytes, so that padding, the standard alphabet or
    // stray trailing bits compare as Kong compares them, on bytes.
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tok.signature);
    match jsonwebtoken::crypto::verify(&sig, tok.signing_input.as_bytes(), key, jalg) {
        Ok(true) => Verdict::Valid,
        Ok(false) | Err(_) => Verdict::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn seg(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn lenient_base64() {
        assert_eq!(b64_decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(b64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(b64_decode("-_8").as_deref(), b64_decode("+/8").as_deref());
        assert!(b64_decode("a*b").is_none());
    }

    #[test]
    fn decode_errors_in_kong_order() {
        let h = seg(r#"{"alg":"HS256"}"#);
        let p = seg(r#"{"iss":"k"}"#);
        assert_eq!(decode("abc").unwrap_err(), DecodeError::Json);
        assert_eq!(decode(&format!("{h}.{p}")).unwrap_err(), DecodeError::Json);
        assert_eq!(decode(&format!("{h}.!!.x")).unwrap_err(), DecodeError::Json);
        assert_eq!(
            decode(&format!("{}.{p}.x", seg("1"))).unwrap_err(),
            DecodeError::Json
        );
        assert_eq!(
            decode(&format!("{}.{p}.x", seg("[1]"))).unwrap_err(),
            DecodeError::Alg
        );
        assert_eq!(
            decode(&format!("{}.{p}.x", seg(r#"{"alg":"none"}"#))).unwrap_err(),
            DecodeError::Alg
        );
        assert_eq!(
            decode(&format!("{}.{p}.x", seg(r#"{"alg":1}"#))).unwrap_err(),
            DecodeError::Alg
        );
        assert_eq!(
            decode(&format!("{}.{p}.x", seg(r#"{"typ":"JWT"}"#))).unwrap_err(),
            DecodeError::Alg
        );
        assert_eq!(
            decode(&format!("{h}.{p}.a*b")).unwrap_err(),
            DecodeError::Signature
        );
        let long = format!("{h}.{}.sig", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(decode(&long).unwrap_err(), DecodeError::Json);
        assert_eq!(
            decode(&format!("{h}.{p}.c2ln.extra")).unwrap_err(),
            DecodeError::Signature
        );
        let tok = format!("{h}.{p}.c2ln");
        let ok = decode(&tok).unwrap();
        assert_eq!(ok.alg, Alg::HS256);
        assert_eq!(ok.signing_input, format!("{h}.{p}"));
        assert_eq!(ok.signature, b"sig");
    }

    #[test]
    fn hs256_verifies_and_rejects_tampering() {
        let key = VerifyKey::secret(b"secret");
        let enc = jsonwebtoken::EncodingKey::from_secret(b"secret");
        let head = jsonwebtoken::Header::new(Algorithm::HS256);
        let token = jsonwebtoken::encode(&head, &serde_json::json!({"iss":"k"}), &enc).unwrap();
        let d = decode(&token).unwrap();
        assert_eq!(verify_signature(&d, &key, Alg::HS256), Verdict::Valid);
        let (hp, sig) = token.rsplit_once('.').unwrap();
        let (h, _) = hp.split_once('.').unwrap();
        let tampered = format!("{h}.{}.{sig}", seg(r#"{"iss":"other"}"#));
        let d = decode(&tampered).unwrap();
        assert_eq!(verify_signature(&d, &key, Alg::HS256), Verdict::Invalid);
        // Padded signature text is accepted like Kong does.
        let padded = format!("{token}=");
        let d = decode(&padded).unwrap();
        assert_eq!(verify_signature(&d, &key, Alg::HS256), Verdict::Valid);
    }

    #[test]
    fn es_signature_length_is_internal_error() {
        let h = seg(r#"{"alg":"ES256"}"#);
        let p = seg(r#"{"iss":"k"}"#);
        let t = format!("{h}.{p}.{}", seg("short"));
        let d = decode(&t).unwrap();
        let key = VerifyKey::Jwt(DecodingKey::from_ec_der(&[4; 65]));
        assert!(matches!(
            verify_signature(&d, &key, Alg::ES256),
            Verdict::Internal(_)
        ));
    }
}
