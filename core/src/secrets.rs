//! Credentials (database URL and password, admin token) from env, files or Scaleway Secret Manager.
//!
//! Every credential `NAME` is resolved the same way, first hit wins:
//! 1. `NAME` — the value itself (local runs, or Serverless Containers secret env vars);
//! 2. `NAME_FILE` — a file holding it (Docker/Kubernetes secrets); one trailing newline is trimmed;
//! 3. `NAME_SECRET_ID` — a Scaleway Secret Manager secret id (`fr-par/<uuid>` or `<uuid>`), or
//!    `NAME_SECRET_NAME` (+ optional `NAME_SECRET_PATH`, default `/`) looked up by name in
//!    `SCW_DEFAULT_PROJECT_ID`. Fetched at start with the IAM key in `SCW_SECRET_KEY` from
//!    region `SCW_DEFAULT_REGION` (default `fr-par`), revision `latest_enabled`, CRC-checked.
//!
//! The database URL is `DATABASE_URL` resolved as above; when `DATABASE_PASSWORD` resolves too,
//! it is put into the URL as its password (so the URL can be plain config and only the password
//! a secret, as the seed deployment did). Without a database URL both binaries use the embedded
//! SQLite store under [`data_dir`].

use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::Engine;
use serde::Deserialize;

/// Default Scaleway API endpoint; `SCW_API_URL` overrides it (tests point it at a local mock).
const SCW_API_URL: &str = "https://api.scaleway.com";

/// Directory of the embedded store and the gateway's last-good snapshot: `GATEWAY_DATA_DIR`,
/// default `./data`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("GATEWAY_DATA_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// The embedded store URL used when no database is configured.
pub fn embedded_database_url() -> String {
    format!("sqlite://{}/gateway.db?mode=rwc", data_dir().display())
}

/// The database URL: `DATABASE_URL` (env, file or Secret Manager) with `DATABASE_PASSWORD`
/// applied when given, else the embedded store.
pub async fn resolve_database_url() -> anyhow::Result<String> {
    let Some(url) = resolve("DATABASE_URL").await? else {
        return Ok(embedded_database_url());
    };
    match resolve("DATABASE_PASSWORD").await? {
        Some(password) => with_password(&url, &password),
        None => Ok(url),
    }
}

/// The Admin API token (`ADMIN_TOKEN`, from env, file or Secret Manager), if configured.
pub async fn resolve_admin_token() -> anyhow::Result<Option<String>> {
    Ok(resolve("ADMIN_TOKEN").await?.filter(|t| !t.is_empty()))
}

/// Resolve credential `name` from its env var, its `_FILE` or Secret Manager (module docs).
pub async fn resolve(name: &str) -> anyhow::Result<Option<String>> {
    resolve_with(name, |key| {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    })
    .await
}

async fn resolve_with(
    name: &str,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<String>> {
    if let Some(value) = env(name) {
        return Ok(Some(value));
    }
    if let Some(path) = env(&format!("{name}_FILE")) {
        let text = tokio::fs::read_to_string(&path)
            .await
            .with_context(|| format!("{name}_FILE: cannot read {path}"))?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        return Ok(Some(text.to_owned()));
    }
    let by_id = env(&format!("{name}_SECRET_ID"));
    let by_name = env(&format!("{name}_SECRET_NAME"));
    let locator = match (by_id, by_name) {
        (Some(id), _) => SecretLocator::Id(id),
        (None, None) => return Ok(None),
        (None, Some(secret_name)) => SecretLocator::Name {
            name: secret_name,
            path: env(&format!("{name}_SECRET_PATH")).unwrap_or_else(|| "/".to_owned()),
            project_id: env("SCW_DEFAULT_PROJECT_ID").with_context(|| {
                format!("{name}_SECRET_NAME needs SCW_DEFAULT_PROJECT_ID to find the secret")
            })?,
        },
    };
    let api = SecretManager {
        base: env("SCW_API_URL").unwrap_or_else(|| SCW_API_URL.to_owned()),
        region: env("SCW_DEFAULT_REGION").unwrap_or_else(|| "fr-par".to_owned()),
        secret_key: env("SCW_SECRET_KEY")
            .with_context(|| format!("{name}: SCW_SECRET_KEY is needed to read Secret Manager"))?,
    };
    let value = api
        .access(&locator)
        .await
        .with_context(|| format!("{name}: reading it from Scaleway Secret Manager"))?;
    Ok(Some(value))
}

/// Where a secret lives in Secret Manager.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretLocator {
    /// By id; a `region/uuid` id (Terraform style) also sets the region.
    Id(String),
    /// By name and path within a project.
    Name {
        name: String,
        path: String,
        project_id: String,
    },
}

/// A minimal Secret Manager v1beta1 client: one call, `…/versions/latest_enabled/access`.
struct SecretManager {
    base: String,
    region: String,
    secret_key: String,
}

/// The `access` response body.
#[derive(Deserialize)]
struct AccessResponse {
    data: String,
    #[serde(default)]
    data_crc32: Option<u32>,
}

impl SecretManager {
    fn access_url(&self, locator: &SecretLocator) -> anyhow::Result<url::Url> {
        let base = self.base.trim_end_matches('/');
        match locator {
            SecretLocator::Id(id) => {
                let (region, id) = match id.split_once('/') {
                    Some((region, id)) => (region, id),
                    None => (self.region.as_str(), id.as_str()),
                };
                let url = format!(
                    "{base}/secret-manager/v1beta1/regions/{region}/secrets/{id}/versions/latest_enabled/access"
                );
                Ok(url::Url::parse(&url)?)
            }
            SecretLocator::Name {
                name,
                path,
                project_id,
            } => {
                let region = &self.region;
                let mut url = url::Url::parse(&format!(
                    "{base}/secret-manager/v1beta1/regions/{region}/secrets-by-path/versions/latest_enabled/access"
                ))?;
                url.query_pairs_mut()
                    .append_pair("secret_name", name)
                    .append_pair("secret_path", path)
                    .append_pair("project_id", project_id);
                Ok(url)
            }
        }
    }

    async fn access(&self, locator: &SecretLocator) -> anyhow::Result<String> {
        let url = self.access_url(locator)?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let response = client
            .get(url)
            .header("X-Auth-Token", &self.secret_key)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            // Scaleway errors are JSON keyed by `type`; show it, never the key.
            let body = response.text().await.unwrap_or_default();
            bail!(
                "Secret Manager answered {status}: {}",
                body.chars().take(300).collect::<String>()
            );
        }
        let body: AccessResponse = response
            .json()
            .await
            .context("unexpected Secret Manager response")?;
        decode_payload(&body)
    }
}

fn decode_payload(body: &AccessResponse) -> anyhow::Result<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.data.trim())
        .context("secret payload is not base64")?;
    if let Some(expected) = body.data_crc32 {
        let actual = crc32(&bytes);
        if actual != expected {
            bail!("secret payload CRC mismatch (expected {expected}, got {actual})");
        }
    }
    let text = String::from_utf8(bytes).context("secret payload is not UTF-8")?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// CRC-32/IEEE, as Secret Manager's `data_crc32`. Bitwise on purpose: secrets are tiny and read
/// once at start, so a table or a crate would buy nothing.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Put `password` into a database URL (percent-encoded), replacing any password there.
fn with_password(url: &str, password: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("DATABASE_URL is not a valid URL")?;
    parsed
        .set_password(Some(password))
        .map_err(|()| anyhow::anyhow!("DATABASE_URL cannot carry a password"))?;
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn crc32_matches_zlib() {
        // zlib.crc32(b"hello") == 907060870
        assert_eq!(crc32(b"hello"), 907_060_870);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn password_is_injected_and_escaped() {
        let url = with_password(
            "postgres://gw@db.internal:5432/rdb?sslmode=require",
            "p@ss/w:rd",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://gw:p%40ss%2Fw%3Ard@db.internal:5432/rdb?sslmode=require"
        );
    }

    #[test]
    fn payload_crc_is_checked() {
        let ok = AccessResponse {
            data: "aGVsbG8=".into(),
            data_crc32: Some(907_060_870),
        };
        assert_eq!(decode_payload(&ok).unwrap(), "hello");
        let bad = AccessResponse {
            data: "aGVsbG8=".into(),
            data_crc32: Some(1),
        };
        assert!(decode_payload(&bad).is_err());
        let not_b64 = AccessResponse {
            data: "***".into(),
            data_crc32: None,
        };
        assert!(decode_payload(&not_b64).is_err());
    }

    #[tokio::test]
    async fn env_then_file_then_nothing() {
        assert_eq!(
            resolve_with("X", env_of(&[("X", "direct")]))
                .await
                .unwrap()
                .as_deref(),
            Some("direct")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(
            resolve_with("X", env_of(&[("X_FILE", path)]))
                .await
                .unwrap()
                .as_deref(),
            Some("from-file")
        );
        assert_eq!(resolve_with("X", env_of(&[])).await.unwrap(), None);
        assert!(resolve_with("X", env_of(&[("X_FILE", "/nonexistent/x")]))
            .await
            .is_err());
        assert!(
            resolve_with("X", env_of(&[("X_SECRET_ID", "abc")]))
                .await
                .is_err(),
            "no SCW_SECRET_KEY"
        );
    }

    /// A one-shot HTTP server standing in for Secret Manager; returns the request head it saw.
    async fn mock_scaleway(
        status: &'static str,
        body: String,
    ) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            head
        });
        (base, task)
    }

    #[tokio::test]
    async fn reads_secret_by_id_from_secret_manager() {
        let body = r#"{"secret_id":"11111111-1111-1111-1111-111111111111","revision":2,"data":"czNjcjN0","data_crc32":null,"type":"opaque"}"#;
        let (base, seen) = mock_scaleway("200 OK", body.to_owned()).await;
        let env = env_of(&[
            (
                "ADMIN_TOKEN_SECRET_ID",
                "nl-ams/11111111-1111-1111-1111-111111111111",
            ),
            ("SCW_SECRET_KEY", "secret-key"),
            ("SCW_API_URL", &base),
        ]);
        let value = resolve_with("ADMIN_TOKEN", env).await.unwrap();
        assert_eq!(value.as_deref(), Some("s3cr3t"));
        let head = seen.await.unwrap();
        assert!(head.starts_with(
            "GET /secret-manager/v1beta1/regions/nl-ams/secrets/11111111-1111-1111-1111-111111111111/versions/latest_enabled/access "
        ), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("x-auth-token: secret-key"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn reads_secret_by_name_and_reports_errors() {
        let body = r#"{"data":"cHc=","data_crc32":null}"#;
        let (base, seen) = mock_scaleway("200 OK", body.to_owned()).await;
        let env = env_of(&[
            ("DATABASE_PASSWORD_SECRET_NAME", "scw-gw-database-password"),
            ("SCW_DEFAULT_PROJECT_ID", "proj"),
            ("SCW_SECRET_KEY", "k"),
            ("SCW_API_URL", &base),
        ]);
        assert_eq!(
            resolve_with("DATABASE_PASSWORD", env)
                .await
                .unwrap()
                .as_deref(),
            Some("pw")
        );
        let head = seen.await.unwrap();
        assert!(head.contains("/regions/fr-par/secrets-by-path/versions/latest_enabled/access?secret_name=scw-gw-database-password&secret_path=%2F&project_id=proj"), "{head}");

        let error = r#"{"message":"resource is not found","resource":"secret","type":"not_found"}"#;
        let (base, _seen) = mock_scaleway("404 Not Found", error.to_owned()).await;
        let env = env_of(&[
            ("X_SECRET_ID", "abc"),
            ("SCW_SECRET_KEY", "k"),
            ("SCW_API_URL", &base),
        ]);
        let err = resolve_with("X", env).await.unwrap_err();
        assert!(format!("{err:#}").contains("not_found"), "{err:#}");
    }
}
