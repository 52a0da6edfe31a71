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

/// A partition at one version: every item derived from a partition's data
/// is keyed by it, so a changed partition is read under a new key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PartKey {
    pub site: u32,
    pub day: i32,
    pub version: u64,
}

/// A segment of a partition view: a sealed segment by id (its columns
/// keyed with the segment's own version), or a segment built in memory from
/// the partition's pending rows, by an id unique in the process (keyed
/// with version 0: the id alone names its content).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Sealed(u32),
    Pending(u32),
}

/// A day's session block at one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BlockKey {
    pub site: u32,
    pub day: i32,
    pub version: u64,
}

/// What is cached: one variant per kind of item, so that two kinds can
/// never collide (a collision would hand one kind's value to the other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A decoded column (or bitmap set) of a segment, by column id.
    Column { part: PartKey, seg: Seg, col: u8 },
    /// A partition's dictionaries.
    Dicts(PartKey),
    /// A partition's pending rows, built into in-memory segments: the
    /// last view built, whatever its version (the next one extends it).
    Pending { site: u32, day: i32 },
    /// A partition's pageview aggregate, numbered in a generation of the
    /// site's numbering, without the rows hidden by the pending requests
    /// whose key is `hidden` (0: all rows).
    PvAgg {
        part: PartKey,
        generation: u64,
        hidden: u64,
    },
    /// A partition's pageviews of one page (heatmap viewport fallback).
    PagePvs { part: PartKey, page: u32 },
    /// A partition's heatmap cells of one page, kind and grid.
    Heat {
        part: PartKey,
        page: u32,
        kind: u8,
        cols: u32,
        row_px: u32,
        hidden: u64,
    },
    /// A decoded session block.
    Block(BlockKey),
    /// A partition's scroll reach of one page, per session and cohort.
    Scroll {
        part: PartKey,
        page: u32,
        hidden: u64,
    },
    /// A partition's rage clicks of one page (`u32::MAX`: all), by cohort.
    Rage {
        part: PartKey,
        page: u32,
        hidden: u64,
    },
    /// A partition's clicks per element on one page (`u32::MAX`: all), by
    /// cohort.
    Elements {
        part: PartKey,
        page: u32,
        hidden: u64,
    },
    /// A session block's cohorts (device class, channel).
    Cohorts {
        block: BlockKey,
        generation: u64,
        hidden: u64,
    },
    /// What a site's pending deletion requests hide, as of a number of
    /// commits (`Core::view`).
    Hidden { site: u32, generation: u64 },
    /// A session block's groups by one field.
    Groups {
        block: BlockKey,
        field: u8,
        generation: u64,
        hidden: u64,
    },
}

impl Key {
    /// The day the item is of.
    #[cfg(test)]
    fn day(&self) -> i32 {
        match self {
            Key::Column { part, .. }
            | Key::Dicts(part)
            | Key::PvAgg { part, .. }
            | Key::PagePvs { part, .. }
            | Key::Heat { part, .. }
            | Key::Scroll { part, .. }
            | Key::Rage { part, .. }
            | Key::Elements { part, .. } => part.day,
            Key::Block(b) | Key::Cohorts { block: b, .. } | Key::Groups { block: b, .. } => b.day,
            Key::Pending { day, .. } => *day,
            Key::Hidden { .. } => i32::MIN,
        }
    }
}

/// Default budget: 1 GiB (every report over 10M events decodes a few
/// hundred MiB; a budget below the working set makes hot runs re-decode).
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

type Entry = (Arc<dyn Any + Send + Sync>, usize);

pub(crate) mod numbering;

pub(crate) struct Cache {
    inner: Mutex<(HashMap<Key, Entry>, usize)>,
    budget: std::sync::atomic::AtomicUsize,
    /// Every site's in-memory visitor numbering, for cached aggregates.
    pub(crate) visitors: numbering::Registry,
}

impl Cache {
    pub(crate) fn new(budget: usize) -> Cache {
        Cache {
            inner: Mutex::new((HashMap::new(), 0)),
            budget: budget.into(),
            visitors: numbering::Registry::default(),
        }
    }

    /// The visitor numbering of `site` (see `query::dense`).
    pub(crate) fn dense_ids(&self, site: u32) -> Arc<numbering::DenseIds> {
        let budget = self.budget.load(std::sync::atomic::Ordering::Relaxed);
        self.visitors.site(site, budget)
    }

    pub(crate) fn set_budget(&self, bytes: usize) {
        self.budget
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
        if bytes == 0 {
            if let Ok(mut g) = self.inner.lock() {
                g.0.clear();
                g.1 = 0;
            }
        }
    }

    /// The cached value of `key`, if there is one.
    pub(crate) fn get<T: Any + Send + Sync>(&self, key: Key) -> Option<Arc<T>> {
        let g = self.inner.lock().ok()?;
        let (v, _) = g.0.get(&key)?;
        Arc::clone(v).downcast::<T>().ok()
    }

    /// Caches `value` under `key`, replacing what was there.
    pub(crate) fn put<T: Any + Send + Sync>(&self, key: Key, value: T, size: usize) -> Arc<T> {
        let value = Arc::new(value);
        self.insert(key, Arc::clone(&value) as Arc<dyn Any + Send + Sync>, size);
        value
    }

    fn insert(&self, key: Key, value: Arc<dyn Any + Send + Sync>, size: usize) {
        let budget = self.budget.load(std::sync::atomic::Ordering::Relaxed);
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        // What the key held is replaced: its bytes are freed.
        if let Some((_, old)) = g.0.remove(&key) {
            g.1 -= old;
        }
        if size > budget {
            return;
        }
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
        g.0.insert(key, (value, size));
        g.1 += size;
    }

    /// The cached value of `key`, or `build`'s (value, estimated bytes),
    /// cached.
    pub(crate) fn get_or_try<T: Any + Send + Sync>(
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
        Ok(self.put(key, value, size))
    }
}

#[cfg(test)]
impl Cache {
    /// Evicts every item of one day, as a full cache might.
    pub(crate) fn evict_day(&self, day: i32) {
        if let Ok(mut g) = self.inner.lock() {
            let victims: Vec<Key> = g.0.keys().filter(|k| k.day() == day).copied().collect();
            for k in victims {
                if let Some((_, size)) = g.0.remove(&k) {
                    g.1 -= size;
                }
            }
        }
    }
}
