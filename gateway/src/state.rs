//! State shared by the listeners and the reload task.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use gateway_core::model::ConfigData;

use crate::snapshot::Snapshot;
use crate::upstream::Upstreams;

/// The current configuration and the health facts `/status` reports.
#[derive(Debug)]
pub struct Shared {
    /// The snapshot every request loads once (`load_full`) and keeps until it is done.
    pub snapshot: ArcSwap<Snapshot>,
    loaded: AtomicBool,
    db_reachable: AtomicBool,
    reload_failures: AtomicI64,
}

// === impl Shared ===

impl Shared {
    /// Empty configuration, not ready.
    pub fn new() -> Arc<Self> {
        let empty = Snapshot::compile_with(ConfigData::default(), Upstreams::global(), true)
            .expect("the empty configuration compiles");
        Arc::new(Self {
            snapshot: ArcSwap::from_pointee(empty),
            loaded: AtomicBool::new(false),
            db_reachable: AtomicBool::new(false),
            reload_failures: AtomicI64::new(0),
        })
    }

    /// Publish a new snapshot and mark the gateway ready.
    pub fn publish(&self, snap: Snapshot) {
        self.snapshot.store(Arc::new(snap));
        self.loaded.store(true, Ordering::Release);
    }

    /// Whether a configuration has been loaded (from the store or the disk cache).
    pub fn is_ready(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Version of the current snapshot.
    pub fn version(&self) -> i64 {
        self.snapshot.load().version
    }

    /// Record whether the last store access worked.
    pub fn set_db_reachable(&self, ok: bool) {
        self.db_reachable.store(ok, Ordering::Relaxed);
    }

    /// Whether the last store access worked.
    pub fn db_reachable(&self) -> bool {
        self.db_reachable.load(Ordering::Relaxed)
    }

    /// Count a refused configuration (failed to compile).
    pub fn count_reload_failure(&self) {
        self.reload_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Configurations refused so far.
    pub fn reload_failures(&self) -> i64 {
        self.reload_failures.load(Ordering::Relaxed)
    }
}
