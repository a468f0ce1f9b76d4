//! Shared state of the Admin API: the store, the admin token, node facts and counters.

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::backend::Backend;

/// Default request-body limit (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The admin token; compared in constant time, never printed by `Debug`.
#[derive(Clone)]
pub struct AdminToken(Arc<[u8]>);

impl AdminToken {
    /// Wrap a token. The caller refuses empty tokens before this point.
    pub fn new(token: impl AsRef<[u8]>) -> Self {
        Self(Arc::from(token.as_ref()))
    }

    /// Whether `candidate` equals the token (constant time for equal lengths).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        !self.0.is_empty() && bool::from(self.0.as_ref().ct_eq(candidate))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Connection and request counters reported by `GET /status`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections accepted by the listener.
    pub connections_accepted: AtomicU64,
    /// Connections currently open.
    pub connections_active: AtomicU64,
    /// Connections fully handled (closed).
    pub connections_handled: AtomicU64,
    /// Requests received since start.
    pub total_requests: AtomicU64,
    /// Requests currently being answered.
    pub requests_active: AtomicU64,
}

impl Counters {
    /// Read a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Facts about this node shown by `GET /`.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Random id chosen at start.
    pub node_id: Uuid,
    /// Host name of the machine.
    pub hostname: String,
    /// Listen addresses, for the sanitized `configuration`.
    pub admin_listen: Vec<String>,
}

impl NodeInfo {
    /// Facts for this process: a fresh node id and the machine's host name.
    pub fn current(admin_listen: Vec<String>) -> Self {
        let hostname = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".to_owned());
        Self {
            node_id: Uuid::new_v4(),
            hostname,
            admin_listen,
        }
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Entity storage.
    pub store: Arc<dyn Backend>,
    /// The token every request must present.
    pub token: AdminToken,
    /// Node facts for `GET /`.
    pub node: Arc<NodeInfo>,
    /// Counters for `GET /status`.
    pub counters: Arc<Counters>,
    /// Largest accepted request body, in bytes (larger -> 413).
    pub body_limit: usize,
}

impl AppState {
    /// State with default node facts, fresh counters and the default body limit.
    pub fn new(store: Arc<dyn Backend>, token: AdminToken) -> Self {
        Self {
            store,
            token,
            node: Arc::new(NodeInfo::current(Vec::new())),
            counters: Arc::new(Counters::default()),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Replace the node facts (the binary records its listen address).
    pub fn with_node(mut self, node: NodeInfo) -> Self {
        self.node = Arc::new(node);
        self
    }

    /// Share counters with the listener that counts connections.
    pub fn with_counters(mut self, counters: Arc<Counters>) -> Self {
        self.counters = counters;
        self
    }

    /// Change the body limit.
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matching() {
        let t = AdminToken::new("s3cret");
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3cre"));
        assert!(!t.matches(b"s3cret!"));
        assert!(!t.matches(b""));
        assert!(!AdminToken::new("").matches(b""));
        assert_eq!(format!("{t:?}"), "AdminToken(<redacted>)");
    }
}
