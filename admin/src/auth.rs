//! Admin token check, applied to every request (including `/` and `/status`).
//!
//! The token is read from `X-Auth-Token: <t>` (what the scw client sends) or
//! `Authorization: Bearer <t>`; anything else (another header, `Basic`, a wrong token) is 401
//! `{"message":"Unauthorized"}`.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};

use crate::{response, state::AppState};

/// The header the scw client uses.
pub const X_AUTH_TOKEN: &str = "x-auth-token";

/// Candidate tokens a request presents, in the accepted headers only.
fn presented(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    let x_auth = headers
        .get_all(X_AUTH_TOKEN)
        .iter()
        .map(HeaderValue::as_bytes);
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| {
            let v = v.as_bytes();
            let (scheme, rest) = v.split_at(v.iter().position(|b| *b == b' ')?);
            scheme
                .eq_ignore_ascii_case(b"bearer")
                .then(|| rest.trim_ascii())
        });
    x_auth.chain(bearer)
}

/// Middleware: pass the request on only when it carries the admin token.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Check every candidate so timing does not depend on which header matched.
    let ok = presented(req.headers()).fold(false, |acc, t| state.token.matches(t) | acc);
    if ok {
        next.run(req).await
    } else {
        let mut res = response::message(401, "Unauthorized");
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(pairs: &[(&'static str, &'static str)]) -> Vec<Vec<u8>> {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        presented(&h).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn accepted_headers() {
        assert_eq!(tokens(&[("x-auth-token", "t1")]), vec![b"t1".to_vec()]);
        assert_eq!(
            tokens(&[("authorization", "Bearer t2")]),
            vec![b"t2".to_vec()]
        );
        assert_eq!(
            tokens(&[("authorization", "bearer  t3 ")]),
            vec![b"t3".to_vec()]
        );
    }

    #[test]
    fn refused_headers() {
        assert!(tokens(&[("apikey", "t")]).is_empty());
        assert!(tokens(&[("authorization", "Basic dDp0")]).is_empty());
        assert!(tokens(&[("authorization", "t")]).is_empty());
    }
}
