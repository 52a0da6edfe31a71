//! Dense numbers for visitor hashes, so that aggregates keep their distinct
//! visitors as roaring bitmaps and a report over many days counts a union of
//! bitmaps instead of hashing every visitor of every day; and for group names
//! (pages, referrer hosts, browsers...), so that a report merging many days'
//! groups keys them by number instead of hashing every name of every day.
//!
//! The numbering lives in memory only, one per site, shared by every
//! snapshot of a store; a number is given to a visitor hash the first time
//! an aggregate holding it is built, and never changes. When the numbering
//! grows past its limit it is dropped and a new generation starts: every
//! aggregate is cached under the generation it was numbered in, so an
//! aggregate of an older generation is simply not found again. A report
//! takes one site's numbering once and uses it throughout, so all the
//! aggregates it unites share one generation.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use roaring::{MultiOps, RoaringBitmap};

/// Distinct values of a sorted slice (a slice with repeats adjacent).
fn distinct_sorted(v: &[u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    1 + v.windows(2).filter(|w| w[0] != w[1]).count() as u64
}

/// The number of distinct values in the union of slices.
///
/// The values are keyed hashes, spread evenly over `u64`, so they index an
/// open-addressing table by their own top bits, with no hashing: one pass,
/// a probe or two per value, in a table of twice as many slots as values.
/// This beats sorting or a general hash set over 100,000s of values. Uneven
/// values are still counted exactly, only slower (longer probes).
pub(crate) fn union_len(parts: &[&[u64]]) -> u64 {
    let parts: Vec<&[u64]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => return 0,
        [one] if one.windows(2).all(|w| w[0] <= w[1]) => return distinct_sorted(one),
        _ => {}
    }
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total < 64 {
        let mut all: Vec<u64> = parts.concat();
        all.sort_unstable();
        all.dedup();
        return all.len() as u64;
    }
    let bits = (usize::BITS - total.leading_zeros() + 1).min(40);
    let mask = (1usize << bits) - 1;
    let shift = 64 - bits;
    // Slot value 0 means empty; the value 0 itself is counted apart.
    let mut table = vec![0u64; mask + 1];
    let mut zero = false;
    let mut n = 0u64;
    for p in &parts {
        for &v in *p {
            if v == 0 {
                zero = true;
                continue;
            }
            let mut at = (v >> shift) as usize;
            loop {
                match table.get_mut(at) {
                    Some(slot) if *slot == 0 => {
                        *slot = v;
                        n += 1;
                        break;
                    }
                    Some(slot) if *slot == v => break,
                    _ => at = (at + 1) & mask,
                }
            }
        }
    }
    n + u64::from(zero)
}

/// A hasher for keys that are already uniform 64-bit hashes (keyed SipHash
/// visitor ids): the key is its own hash.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in, correctly if slowly.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdMap = HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>;

/// Bytes per numbered visitor, estimated (hash table slot and control byte
/// at a typical load).
const BYTES_PER_ID: usize = 24;
/// The numbering of all sites together is dropped past this many visitors
/// or a quarter of the cache budget, whichever is more.
const MIN_LIMIT: usize = 1 << 20;

/// One site's numbering of one generation.
pub(crate) struct DenseIds {
    pub generation: u64,
    map: Mutex<IdMap>,
    names: Mutex<Names>,
}

/// Group names and their numbers, both ways.
#[derive(Default)]
struct Names {
    ids: foldhash::HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl DenseIds {
    /// A numbering of no site, for reports that find no site to read.
    pub(crate) fn detached() -> DenseIds {
        DenseIds::new(u64::MAX)
    }

    fn new(generation: u64) -> DenseIds {
        DenseIds {
            generation,
            map: Mutex::new(IdMap::default()),
            names: Mutex::new(Names::default()),
        }
    }

    /// The number of a group name, numbering it if new.
    pub(crate) fn name_id(&self, name: &str) -> u32 {
        let Ok(mut g) = self.names.lock() else {
            return u32::MAX;
        };
        if let Some(&id) = g.ids.get(name) {
            return id;
        }
        let id = u32::try_from(g.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(name);
        g.names.push(Arc::clone(&name));
        g.ids.insert(name, id);
        id
    }

    /// The name of a number [`DenseIds::name_id`] gave (empty if none).
    pub(crate) fn name(&self, id: u32) -> Arc<str> {
        self.names
            .lock()
            .ok()
            .and_then(|g| g.names.get(id as usize).cloned())
            .unwrap_or_else(|| Arc::from(""))
    }

    /// The number of each of `hashes`, in order, numbering the hashes not
    /// seen before.
    pub(crate) fn number_each(&self, hashes: &[u64]) -> Vec<u32> {
        let mut ids: Vec<u32> = Vec::with_capacity(hashes.len());
        if let Ok(mut map) = self.map.lock() {
            for &h in hashes {
                let next = u32::try_from(map.len()).unwrap_or(u32::MAX);
                ids.push(*map.entry(h).or_insert(next));
            }
        }
        ids
    }

    /// Visitors and names numbered.
    fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len()) + self.names.lock().map_or(0, |n| n.names.len())
    }

    /// The number of distinct visitors in the union of `bitmaps` and
    /// `numbers` (numbered here) and `raw` hashes.
    pub(crate) fn count(&self, bitmaps: &[&RoaringBitmap], numbers: &[u32], raw: &[u64]) -> u64 {
        match bitmaps {
            [] if numbers.is_empty() => return union_len(&[raw]),
            [one] if numbers.is_empty() && raw.is_empty() => return one.len(),
            _ => {}
        }
        let mut union = bitmaps.iter().copied().union();
        union.extend(numbers.iter().copied());
        if raw.is_empty() {
            return union.len();
        }
        // A raw hash with a number may be in the union; one without cannot
        // be in any bitmap, so those are counted apart.
        let mut unnumbered = Vec::new();
        let mut extra = RoaringBitmap::new();
        if let Ok(map) = self.map.lock() {
            for &h in raw {
                match map.get(&h) {
                    Some(&id) if !union.contains(id) => {
                        extra.insert(id);
                    }
                    Some(_) => {}
                    None => unnumbered.push(h),
                }
            }
        }
        union.len() + extra.len() + union_len(&[&unnumbered])
    }
}

/// Numbers sorted and deduplicated.
pub(crate) fn sorted_ids(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The bitmap of numbers (in any order, with repeats).
pub(crate) fn bitmap_of(ids: Vec<u32>) -> RoaringBitmap {
    // Sorted and deduplicated: cannot fail.
    RoaringBitmap::from_sorted_iter(sorted_ids(ids)).unwrap_or_default()
}

/// Every site's numbering, as the store's cache keeps it.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<(u64, HashMap<u32, Arc<DenseIds>>)>,
}

impl Registry {
    /// The numbering of `site`; first drops every site's if together they
    /// hold more than the limit for a cache of `budget` bytes.
    pub(crate) fn site(&self, site: u32, budget: usize) -> Arc<DenseIds> {
        let limit = (budget / 4 / BYTES_PER_ID).max(MIN_LIMIT);
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (generation, sites) = &mut *g;
        let held: usize = sites.values().map(|d| d.len()).sum();
        if held > limit {
            sites.clear();
            *generation += 1;
        }
        let generation = *generation;
        Arc::clone(
            sites
                .entry(site)
                .or_insert_with(|| Arc::new(DenseIds::new(generation))),
        )
    }
}

#[cfg(test)]
impl Registry {
    /// Starts a new generation now.
    pub(crate) fn restart(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.1.clear();
            g.0 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort_dedup(mut v: Vec<u64>) -> Vec<u64> {
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The distinct values of all parts, by sorting (for tests).
    pub(crate) fn naive(parts: &[&[u64]]) -> u64 {
        let mut all: Vec<u64> = parts.concat();
        all.sort_unstable();
        all.dedup();
        all.len() as u64
    }

    proptest::proptest! {
        #[test]
        fn count_equals_naive_union(
            lists in proptest::collection::vec(
                proptest::collection::vec(0u64..300, 0..200), 0..6),
            cells in proptest::collection::vec(0u64..350, 0..100),
            raw in proptest::collection::vec(0u64..400, 0..200),
        ) {
            let reg = Registry::default();
            let ids = reg.site(1, 0);
            let bitmaps: Vec<RoaringBitmap> = lists
                .iter()
                .map(|l| bitmap_of(ids.number_each(l)))
                .collect();
            let refs: Vec<&RoaringBitmap> = bitmaps.iter().collect();
            let numbers = sorted_ids(ids.number_each(&cells));
            let mut parts: Vec<&[u64]> = lists.iter().map(Vec::as_slice).collect();
            parts.push(&cells);
            parts.push(&raw);
            proptest::prop_assert_eq!(ids.count(&refs, &numbers, &raw), naive(&parts));
        }
    }

    #[test]
    fn a_new_generation_starts_past_the_limit() {
        let reg = Registry::default();
        let a = reg.site(7, 0);
        let many: Vec<u64> = (0..MIN_LIMIT as u64).collect();
        a.number_each(&many);
        // At the limit the numbering is kept.
        assert_eq!(reg.site(8, 0).generation, a.generation);
        assert_eq!(reg.site(7, 0).len(), MIN_LIMIT);
        a.number_each(&[u64::MAX]);
        let b = reg.site(7, 0);
        assert!(b.generation > a.generation, "numbering was not dropped");
        assert_eq!(b.len(), 0);
        // The old numbering stays whole for whoever still holds it.
        assert_eq!(a.len(), MIN_LIMIT + 1);
    }

    proptest::proptest! {
        #[test]
        fn union_len_equals_sort_dedup(
            parts in proptest::collection::vec(
                proptest::collection::vec(proptest::prelude::any::<u64>(), 0..400), 0..8),
            small in proptest::collection::vec(0u64..50, 0..300),
        ) {
            let mut parts: Vec<Vec<u64>> = parts.into_iter().map(sort_dedup).collect();
            // Overlaps and skewed values too.
            let mut s = small.clone();
            s.sort_unstable();
            parts.push(s);
            if let Some(first) = parts.first().cloned() {
                parts.push(first);
            }
            let slices: Vec<&[u64]> = parts.iter().map(Vec::as_slice).collect();
            proptest::prop_assert_eq!(union_len(&slices), naive(&slices));
        }
    }

    #[test]
    fn union_len_of_large_overlapping_sets() {
        let a: Vec<u64> = (0..50_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let b: Vec<u64> = (25_000..90_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let (a, b) = (sort_dedup(a), sort_dedup(b));
        assert_eq!(union_len(&[&a, &b]), 90_000);
        assert_eq!(union_len(&[&a, &a]), 50_000);
    }
}
