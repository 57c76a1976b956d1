//! The device check's memory of verified (username, password, machine)
//! triples: a leaf that knows nothing of the flows.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

/// How long a verified (username, password, machine) triple is remembered.
pub const CHECK_CACHE_SECS: i64 = 60;
/// Most triples remembered at once; past it the oldest half is dropped.
const CHECK_CACHE_MAX: usize = 10_000;

/// Verified triples, keyed by an HMAC of (username, password, machine) under
/// the deployment key, so no password is kept in memory in the clear.
#[derive(Debug, Default)]
pub(crate) struct CheckCache {
    entries: Mutex<HashMap<[u8; 32], CachedCheck>>,
    pub(crate) hits: AtomicU64,
}

#[derive(Clone, Debug)]
pub(crate) struct CachedCheck {
    pub(crate) user_id: String,
    pub(crate) username: String,
    pub(crate) credential_version: i64,
    pub(crate) machine_id: String,
    pub(crate) verified_at: i64,
}

impl CheckCache {
    pub(crate) fn get(&self, key: &[u8; 32], now: i64) -> Option<CachedCheck> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|e| now - e.verified_at < CHECK_CACHE_SECS)
            .cloned()
    }

    pub(crate) fn put(&self, key: [u8; 32], entry: CachedCheck) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CHECK_CACHE_MAX {
            let now = entry.verified_at;
            entries.retain(|_, e| now - e.verified_at < CHECK_CACHE_SECS);
            if entries.len() >= CHECK_CACHE_MAX {
                let mut ages: Vec<i64> = entries.values().map(|e| e.verified_at).collect();
                ages.sort_unstable();
                let median = ages[ages.len() / 2];
                entries.retain(|_, e| e.verified_at > median);
            }
        }
        entries.insert(key, entry);
    }

    pub(crate) fn forget(&self, key: &[u8; 32]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }
}
