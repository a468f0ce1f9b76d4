//! Keeping the snapshot current: load at start, LISTEN/NOTIFY + version polling, disk cache.
//!
//! * Start: connect to the store and load; if the database is unreachable, serve the last good
//!   configuration from the disk cache and keep retrying the database in the background.
//! * Then: wake on a Postgres NOTIFY (reconnecting listener) or a poll tick, compare the
//!   store's version with the snapshot's, and reload when it differs. A configuration that
//!   fails to compile is refused: the last good snapshot stays, the failure is logged and
//!   counted.
//! * Every published configuration is written to the cache file atomically (tmp + rename).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gateway_core::model::ConfigData;
use gateway_core::store::{Store, NOTIFY_CHANNEL};
use tokio::sync::Notify;

use crate::snapshot::Snapshot;
use crate::state::Shared;

/// Bound on every store call, so that a dead database never stalls reloading for long.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the first connection may take before the disk cache is served instead.
const START_TIMEOUT: Duration = Duration::from_millis(1500);

/// Reload settings.
#[derive(Debug, Clone)]
pub struct ReloadConfig {
    /// Store URL (`postgres://…` or `sqlite://…`).
    pub database_url: String,
    /// Where the last good configuration is cached.
    pub cache_path: PathBuf,
    /// Version poll period; `None`: 5 s on Postgres, 250 ms on SQLite.
    pub poll_interval: Option<Duration>,
    /// Delay between attempts to reach an unreachable database.
    pub retry_interval: Duration,
}

impl ReloadConfig {
    /// Settings from the environment: `CONFIG_POLL_INTERVAL_MS`, `SNAPSHOT_CACHE_PATH`
    /// (default `$GATEWAY_DATA_DIR/snapshot.json`).
    pub fn from_env(database_url: String) -> Self {
        let poll_interval = std::env::var("CONFIG_POLL_INTERVAL_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let cache_path = std::env::var_os("SNAPSHOT_CACHE_PATH")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| gateway_core::secrets::data_dir().join("snapshot.json"));
        Self {
            database_url,
            cache_path,
            poll_interval,
            retry_interval: Duration::from_secs(1),
        }
    }
}

/// Load the first configuration and spawn the task that keeps it current.
pub async fn start(shared: Arc<Shared>, config: ReloadConfig) -> tokio::task::JoinHandle<()> {
    let mut reloader = Reloader {
        shared,
        config,
        store: None,
        wake: Arc::new(Notify::new()),
    };
    // Do not keep a cached configuration waiting long for a slow or dead database.
    reloader.connect_within(START_TIMEOUT).await;
    if reloader.store.is_some() {
        reloader.check().await;
    }
    if !reloader.shared.is_ready() {
        reloader.load_cache().await;
    }
    tokio::spawn(reloader.run())
}

struct Reloader {
    shared: Arc<Shared>,
    config: ReloadConfig,
    store: Option<Store>,
    wake: Arc<Notify>,
}

// === impl Reloader ===

impl Reloader {
    async fn run(mut self) {
        loop {
            if self.store.is_none() {
                tokio::time::sleep(self.config.retry_interval).await;
                self.connect().await;
                if self.store.is_none() {
                    continue;
                }
            }
            self.check().await;
            let poll = self.poll_interval();
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    fn poll_interval(&self) -> Duration {
        self.config
            .poll_interval
            .unwrap_or_else(|| match &self.store {
                Some(s) if s.is_postgres() => Duration::from_secs(5),
                _ => Duration::from_millis(250),
            })
    }

    async fn connect(&mut self) {
        self.connect_within(STORE_TIMEOUT).await;
    }

    async fn connect_within(&mut self, timeout: Duration) {
        let url = self.config.database_url.clone();
        let store = match tokio::time::timeout(timeout, Store::connect(&url)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "configuration store unreachable; retrying");
                self.shared.set_db_reachable(false);
                return;
            }
            Err(_) => {
                tracing::warn!("configuration store connect timed out; retrying");
                self.shared.set_db_reachable(false);
                return;
            }
        };
        if let Err(e) = store.migrate().await {
            tracing::warn!(error = %e, "migrations not applied by the gateway");
        }
        if store.is_postgres() {
            tokio::spawn(listen(url, self.wake.clone()));
        }
        self.shared.set_db_reachable(true);
        tracing::info!(
            postgres = store.is_postgres(),
            "connected to the configuration store"
        );
        self.store = Some(store);
    }

    /// Reload when the store's version differs from the snapshot's.
    async fn check(&mut self) {
        let Some(store) = &self.store else { return };
        let version = match tokio::time::timeout(STORE_TIMEOUT, store.version()).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                self.unreachable(&e.to_string());
                return;
            }
            Err(_) => {
                self.unreachable("timed out");
                return;
            }
        };
        self.shared.set_db_reachable(true);
        if self.shared.is_ready() && version == self.shared.version() {
            return;
        }
        let data = match tokio::time::timeout(STORE_TIMEOUT, store.load_config()).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                self.unreachable(&e.to_string());
                return;
            }
            Err(_) => {
                self.unreachable("timed out");
                return;
            }
        };
        if self.shared.is_ready() && data.version == self.shared.version() {
            return;
        }
        if self.apply(data.clone(), "store") {
            if let Err(e) = write_cache(&self.config.cache_path, &data).await {
                tracing::warn!(path = %self.config.cache_path.display(), error = %e, "writing the snapshot cache failed");
            }
        }
    }

    fn unreachable(&self, error: &str) {
        if self.shared.db_reachable() {
            tracing::warn!(
                error,
                "configuration store unreachable; serving the last good configuration"
            );
        }
        self.shared.set_db_reachable(false);
    }

    /// Compile and publish; `false` (and the old snapshot kept) when it does not compile.
    fn apply(&self, data: ConfigData, source: &str) -> bool {
        let version = data.version;
        match Snapshot::compile(data) {
            Ok(snap) => {
                tracing::info!(
                    version,
                    source,
                    routes = snap.routes.len(),
                    "configuration loaded"
                );
                self.shared.publish(snap);
                true
            }
            Err(e) => {
                self.shared.count_reload_failure();
                tracing::error!(version, source, error = %format!("{e:#}"), "configuration refused; keeping the last good one");
                false
            }
        }
    }

    async fn load_cache(&self) {
        let path = &self.config.cache_path;
        match tokio::fs::read(path).await {
            Ok(bytes) => match serde_json::from_slice::<ConfigData>(&bytes) {
                Ok(data) => {
                    self.apply(data, "disk cache");
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "snapshot cache unreadable")
                }
            },
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "no snapshot cache; waiting for the store")
            }
        }
    }
}

/// Wake the reloader on every NOTIFY; reconnect forever.
async fn listen(url: String, wake: Arc<Notify>) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                Ok(()) => {
                    // A reconnect may have missed notifications: check once.
                    wake.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => wake.notify_one(),
                            // Connection lost: sqlx reconnects on the next call; re-check.
                            Ok(None) => wake.notify_one(),
                            Err(e) => {
                                tracing::debug!(error = %e, "config listener failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "LISTEN failed"),
            },
            Err(e) => tracing::debug!(error = %e, "config listener connect failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Write `data` to `path` atomically (tmp file in the same directory, then rename).
pub async fn write_cache(path: &Path, data: &ConfigData) -> anyhow::Result<()> {
    let json = serde_json::to_vec(data)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    tokio::fs::write(&tmp, &json).await?;
    tokio::fs::rename(&tmp, path).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cache_round_trips_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/snapshot.json");
        let data = ConfigData {
            version: 42,
            ..ConfigData::default()
        };
        write_cache(&path, &data).await.expect("write");
        let back: ConfigData =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(back.version, 42);
        // No temp file left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("ls")
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[tokio::test]
    async fn unreachable_store_serves_from_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("snapshot.json");
        write_cache(
            &path,
            &ConfigData {
                version: 7,
                ..ConfigData::default()
            },
        )
        .await
        .expect("write");
        let shared = Shared::new();
        let config = ReloadConfig {
            database_url: "postgres://nobody@127.0.0.1:1/none".into(),
            cache_path: path,
            poll_interval: None,
            retry_interval: Duration::from_millis(50),
        };
        let task = start(shared.clone(), config).await;
        assert!(shared.is_ready());
        assert_eq!(shared.version(), 7);
        assert!(!shared.db_reachable());
        task.abort();
    }
}
