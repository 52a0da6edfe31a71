//! A cache of decoded segment data shared by every snapshot of a store.
//!
//! Keys carry the partition's version, a fresh random value at every write
//! of the partition, so a cached value never goes stale: a changed
//! partition is simply read under a new key. The cache holds at most
//! [`Cache::budget`] bytes (estimated); past that it starts over.

use std::any::Any;
use std::sync::{Arc, Mutex};

use foldhash::{HashMap, HashMapExt};

use crate::error::Result;

/// (site, day, partition version, segment slot, item).
pub(crate) type Key = (u32, i32, u64, u32, u8);

/// The segment slot of partition-wide items (dictionaries, pending rows).
pub(crate) const PARTITION: u32 = u32::MAX;
/// Slots of segments built in memory from pending rows start here.
pub(crate) const PENDING_BASE: u32 = u32::MAX - 4096;

/// Default budget: 512 MiB (the decoded working set of the reports over
/// 10M events is about 300 MiB).
pub const DEFAULT_CACHE_BYTES: usize = 512 << 20;

type Entry = (Arc<dyn Any + Send + Sync>, usize);

pub(crate) struct Cache {
    inner: Mutex<(HashMap<Key, Entry>, usize)>,
    budget: std::sync::atomic::AtomicUsize,
}

impl Cache {
    pub fn new(budget: usize) -> Cache {
        Cache {
            inner: Mutex::new((HashMap::new(), 0)),
            budget: budget.into(),
        }
    }

    pub fn set_budget(&self, bytes: usize) {
        self.budget
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
        if bytes == 0 {
            if let Ok(mut g) = self.inner.lock() {
                g.0.clear();
                g.1 = 0;
            }
        }
    }

    /// The cached value of `key`, or `build`'s (value, estimated bytes),
    /// cached.
    pub fn get_or_try<T: Any + Send + Sync>(
        &self,
        key: Key,
        build: impl FnOnce() -> Result<(T, usize)>,
    ) -> Result<Arc<T>> {
        if let Ok(g) = self.inner.lock() {
            if let Some((v, _)) = g.0.get(&key) {
                if let Ok(v) = Arc::clone(v).downcast::<T>() {
                    return Ok(v);
                }
            }
        }
        let (value, size) = build()?;
        let value = Arc::new(value);
        let budget = self.budget.load(std::sync::atomic::Ordering::Relaxed);
        if size <= budget {
            if let Ok(mut g) = self.inner.lock() {
                if g.1 + size > budget {
                    g.0.clear();
                    g.1 = 0;
                }
                let erased: Arc<dyn Any + Send + Sync> = value.clone();
                if g.0.insert(key, (erased, size)).is_none() {
                    g.1 += size;
                }
            }
        }
        Ok(value)
    }
}
