//! A cache of decoded segment data shared by every snapshot of a store.
//!
//! Keys carry the partition's version, a fresh random value at every write
//! of the partition, so a cached value never goes stale: a changed
//! partition is simply read under a new key. The cache holds at most
//! a budget of bytes (estimated); past it, arbitrary entries are evicted
//! until the new one fits.

use std::any::Any;
use std::sync::{Arc, Mutex};

use foldhash::{HashMap, HashMapExt};

use crate::error::Result;

/// (site, day, partition version, segment slot, item).
pub(crate) type Key = (u32, i32, u64, u32, u8);

/// A key and the parameters of an item computed for them (e.g. a page and
/// a heatmap grid); 0 for items without.
type FullKey = (Key, u128);

/// The segment slot of partition-wide items (dictionaries, pending rows).
pub(crate) const PARTITION: u32 = u32::MAX;
/// Slots of segments built in memory from pending rows start here.
pub(crate) const PENDING_BASE: u32 = u32::MAX - 4096;

/// Default budget: 1 GiB (every report over 10M events decodes a few
/// hundred MiB; a budget below the working set makes hot runs re-decode).
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

type Entry = (Arc<dyn Any + Send + Sync>, usize);

pub(crate) struct Cache {
    inner: Mutex<(HashMap<FullKey, Entry>, usize)>,
    budget: std::sync::atomic::AtomicUsize,
    /// Every site's in-memory visitor numbering, for cached aggregates.
    pub(crate) visitors: crate::query::dense::Registry,
}

impl Cache {
    pub fn new(budget: usize) -> Cache {
        Cache {
            inner: Mutex::new((HashMap::new(), 0)),
            budget: budget.into(),
            visitors: crate::query::dense::Registry::default(),
        }
    }

    /// The visitor numbering of `site` (see `query::dense`).
    pub fn dense_ids(&self, site: u32) -> Arc<crate::query::dense::DenseIds> {
        let budget = self.budget.load(std::sync::atomic::Ordering::Relaxed);
        self.visitors.site(site, budget)
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
        self.get_or_try_with(key, 0, build)
    }

    /// [`Cache::get_or_try`] for an item that also depends on `param`.
    pub fn get_or_try_with<T: Any + Send + Sync>(
        &self,
        key: Key,
        param: u128,
        build: impl FnOnce() -> Result<(T, usize)>,
    ) -> Result<Arc<T>> {
        let key = (key, param);
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
                    // Evict arbitrary entries (hash order) until the new one
                    // fits with an eighth of the budget to spare, rather
                    // than starting over: a working set a little over the
                    // budget then keeps most of itself.
                    let target = budget.saturating_sub(budget / 8).saturating_sub(size);
                    let mut victims = Vec::new();
                    let mut freed = 0usize;
                    for (k, (_, sz)) in g.0.iter() {
                        if g.1 - freed <= target {
                            break;
                        }
                        victims.push(*k);
                        freed += sz;
                    }
                    for k in victims {
                        g.0.remove(&k);
                    }
                    g.1 -= freed;
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

#[cfg(test)]
impl Cache {
    /// Evicts every item of one day, as a full cache might.
    pub fn evict_day(&self, day: i32) {
        if let Ok(mut g) = self.inner.lock() {
            let victims: Vec<FullKey> = g.0.keys().filter(|k| k.0 .1 == day).copied().collect();
            for k in victims {
                if let Some((_, size)) = g.0.remove(&k) {
                    g.1 -= size;
                }
            }
        }
    }
}
