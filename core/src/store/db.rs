//! Connecting, migrating, and the write transaction every admin write runs in.
//!
//! One code path for PostgreSQL and SQLite through sqlx's `Any` driver; SQL here and in
//! `migrations/` runs unchanged on both (`$n` placeholders, TEXT ids, BIGINT seconds).

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyConnection;
use sqlx::{Any, AnyPool, Transaction};

use super::NOTIFY_CHANNEL;
use crate::error::ApiError;

/// Open a pool on `url` (`postgres://…` or `sqlite://path?mode=rwc`).
pub async fn connect(url: &str) -> anyhow::Result<(AnyPool, bool)> {
    sqlx::any::install_default_drivers();
    let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
    if !postgres {
        if let Some(path) = sqlite_path(url) {
            if let Some(dir) = std::path::Path::new(&path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)?;
                }
            }
        }
    }
    let options = AnyPoolOptions::new()
        .max_connections(if postgres { 10 } else { 8 })
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    sqlite_pragmas(conn).await?;
                }
                Ok(())
            })
        });
    let pool = options.connect(url).await?;
    Ok((pool, postgres))
}

/// WAL, a generous busy timeout (writers queue on the lock), enforced foreign keys and a
/// case-sensitive LIKE (tag filters must match exactly, as on Postgres).
async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA busy_timeout = 30000",
        "PRAGMA foreign_keys = ON",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA case_sensitive_like = ON",
    ] {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The file path of a `sqlite:` URL, `None` for in-memory databases.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path.to_string())
    }
}

/// Apply `migrations/`. Postgres serializes concurrent migrators with an advisory lock; SQLite
/// cannot, so a racing loser (its bookkeeping insert collides) simply retries and then finds
/// the migration applied.
pub async fn migrate(pool: &AnyPool) -> anyhow::Result<()> {
    let migrator = sqlx::migrate!("../migrations");
    let mut attempt = 0;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "migration failed, retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The current configuration version.
pub async fn version(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM config_version WHERE id = 1")
        .fetch_one(conn)
        .await
}

/// Map a database error to the Admin API's 500.
pub fn internal(e: sqlx::Error) -> ApiError {
    ApiError::internal(e)
}

/// A write transaction holding the configuration-version row lock.
///
/// It starts with `UPDATE config_version … RETURNING version`, which serializes all writers on
/// both databases (row lock on Postgres, the write lock on SQLite), so every check done inside
/// sees the latest committed state and cannot race. Dropping it without [`WriteTx::commit`]
/// rolls everything back, version bump included.
pub struct WriteTx {
    /// The open transaction.
    pub tx: Transaction<'static, Any>,
    /// The version this write will publish.
    pub version: i64,
    postgres: bool,
}

impl WriteTx {
    /// Begin and bump the version.
    pub async fn begin(pool: &AnyPool, postgres: bool) -> Result<Self, ApiError> {
        let mut tx = pool.begin().await.map_err(internal)?;
        let version: i64 = sqlx::query_scalar(
            "UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?;
        Ok(Self {
            tx,
            version,
            postgres,
        })
    }

    /// The connection of the transaction.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Notify listeners (Postgres) and commit.
    pub async fn commit(mut self) -> Result<(), ApiError> {
        if self.postgres {
            // pg_notify returns `void`, which the Any driver cannot decode: select a constant.
            sqlx::query("SELECT CAST(1 AS BIGINT) FROM (SELECT pg_notify($1, $2)) AS n")
                .bind(NOTIFY_CHANNEL)
                .bind(self.version.to_string())
                .execute(&mut *self.tx)
                .await
                .map_err(internal)?;
        }
        self.tx.commit().await.map_err(internal)
    }

    /// Roll back (nothing changed; the version is not bumped).
    pub async fn rollback(self) -> Result<(), ApiError> {
        self.tx.rollback().await.map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/gw.db?mode=rwc").as_deref(),
            Some("data/gw.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x/gw.db").as_deref(),
            Some("/tmp/x/gw.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
