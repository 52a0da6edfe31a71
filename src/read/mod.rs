//! Reading: a [`View`] is one redb read transaction, a consistent view
//! that a concurrent writer never changes.
//!
//! A partition is read as a list of segments: its sealed ones, then its
//! pending rows encoded into one segment in memory. Every report runs the
//! same code over both.

mod check;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};

use crate::cache::Cache;
use crate::error::Result;
use crate::storage::partition::PartMeta;
use crate::storage::row::decode_batch;
use crate::storage::schema::*;
use crate::storage::seal::load_dicts;
use crate::storage::segment::{self, PartitionDicts};
use crate::storage::sessions::{SessionBlock, SessionRow};
use crate::storage::sites::SiteRecord;
use crate::storage::tombstones::{hidden_for, Hidden};
use crate::storage::Corrupt;

pub(crate) struct Tables {
    pub sites: ReadOnlyTable<&'static str, u32>,
    pub site_config: ReadOnlyTable<u32, &'static [u8]>,
    pub partitions: ReadOnlyTable<(u32, i32), &'static [u8]>,
    pub columns: ReadOnlyTable<crate::storage::columns::ColKey, &'static [u8]>,
    pub dicts: ReadOnlyTable<(u32, i32, u8), &'static [u8]>,
    pub pending: ReadOnlyTable<(u32, i32, u64), &'static [u8]>,
    pub sessions: ReadOnlyTable<(u32, u64), &'static [u8]>,
    pub visitors: ReadOnlyTable<(u32, u64, u64), ()>,
    pub blocks: ReadOnlyTable<(u32, i32), &'static [u8]>,
    pub tails: ReadOnlyTable<(u32, i32, u64), &'static [u8]>,
    pub block_versions: ReadOnlyTable<(u32, i32), u64>,
    pub deletions: ReadOnlyTable<u64, &'static [u8]>,
    pub deleted_sessions: ReadOnlyTable<(u32, u64), i64>,
}

/// A consistent, read-only view of the store.
pub(crate) struct View {
    pub(crate) t: Tables,
    pub(crate) cache: Arc<Cache>,
    /// The number of commits this view sees, when known for sure (see
    /// `Core::view`): what is derived from the whole state is cached
    /// under it.
    pub(crate) generation: Option<u64>,
    _txn: ReadTransaction,
    /// The database the transaction reads: kept open while the view lives,
    /// even if a file rewrite has swapped in another (fields drop in
    /// order: this one last).
    _db: Arc<crate::storage::file::Db>,
}

/// Where a segment's columns come from.
#[derive(Clone)]
pub(crate) enum SegSource {
    Disk(crate::storage::partition::SegInfo),
    Mem(Arc<BTreeMap<u8, Vec<u8>>>),
}

/// One segment of a partition view.
#[derive(Clone)]
pub(crate) struct SegmentView {
    pub rows: u32,
    pub min_ts: i64,
    pub max_ts: i64,
    /// The segment in cache keys.
    pub slot: crate::cache::Seg,
    /// The version its cached columns are keyed by: the segment's own
    /// version for a sealed segment (its columns change only with it, not
    /// at every commit of the partition; the partition's `sealed` for a
    /// segment written before segments had one), 0 for a pending segment
    /// (whose slot is unique in the process).
    pub cache_version: u64,
    pub src: SegSource,
}

/// A partition as reports read it.
#[derive(Clone)]
pub(crate) struct PartitionView {
    pub site: u32,
    pub day: i32,
    /// The partition's version: cache keys carry it.
    pub version: u64,
    pub dicts: Arc<PartitionDicts>,
    pub segments: Vec<SegmentView>,
    /// The partition's `sealed` stamp: its segments and dictionaries
    /// change only with it (0 in stores written before it existed).
    pub sealed: u64,
    /// `segments[sealed_count..]` are its pending rows, in memory.
    pub sealed_count: usize,
}

impl PartitionView {
    /// The partition split for per-partition aggregates: its sealed
    /// segments, keyed by the `sealed` stamp (so that what is computed
    /// from them is kept while commits only add pending rows), and its
    /// pending rows, keyed by the version. Aggregates that add up (counts,
    /// sums, visitor sets) are computed on each and merged as if they
    /// were two days. The whole partition when it cannot be split.
    fn agg_parts(&self) -> Vec<std::borrow::Cow<'_, PartitionView>> {
        use std::borrow::Cow;
        if self.sealed == 0 || self.sealed_count == 0 {
            return vec![Cow::Borrowed(self)];
        }
        let half = |version: u64, segments: &[SegmentView]| PartitionView {
            site: self.site,
            day: self.day,
            version,
            dicts: Arc::clone(&self.dicts),
            segments: segments.to_vec(),
            sealed: self.sealed,
            sealed_count: segments.len(),
        };
        let (sealed, pending) = self
            .segments
            .split_at(self.sealed_count.min(self.segments.len()));
        let mut out = vec![Cow::Owned(half(self.sealed, sealed))];
        if !pending.is_empty() {
            let mut p = half(self.version, pending);
            p.sealed_count = 0;
            out.push(Cow::Owned(p));
        }
        out
    }

    /// `agg` of each of [`PartitionView::agg_parts`].
    pub(crate) fn aggs_of_parts<T>(
        &self,
        mut agg: impl FnMut(&PartitionView) -> Result<Arc<T>>,
    ) -> Result<Vec<Arc<T>>> {
        self.agg_parts().iter().map(|p| agg(p)).collect()
    }

    /// The partition at its version, as cache keys name it.
    pub(crate) fn key(&self) -> crate::cache::PartKey {
        crate::cache::PartKey {
            site: self.site,
            day: self.day,
            version: self.version,
        }
    }
}

/// Pending rows encoded as in-memory segments, with the dictionaries
/// extended by their strings: the last one built for a partition, which
/// the next version extends when it only gained batches.
struct PendingView {
    /// The partition version it is of.
    version: u64,
    /// The partition's pending epoch when it was built.
    epoch: u64,
    /// The pending batches it holds, by sequence number, in order.
    batches: Vec<u64>,
    dicts: Arc<PartitionDicts>,
    segments: Vec<PendingSegment>,
    /// Estimated bytes.
    size: usize,
}

/// A segment built from pending rows.
#[derive(Clone)]
struct PendingSegment {
    rows: u32,
    min_ts: i64,
    max_ts: i64,
    columns: Arc<BTreeMap<u8, Vec<u8>>>,
    /// Unique in the process: its slot in cache keys.
    id: u32,
}

/// In-memory segments a pending view may hold before the next extension
/// encodes all its rows again into one (each report reads every segment).
const PENDING_SEGMENTS_MAX: usize = 8;

/// The next in-memory segment's id.
fn next_pending_segment_id() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn dicts_size(d: &PartitionDicts) -> usize {
    d.dicts.values().map(|x| x.len() * 48).sum::<usize>() + 64
}

/// A resolved site: its id and secret key.
#[derive(Clone)]
pub(crate) struct SiteRef {
    pub id: u32,
    pub record: SiteRecord,
    /// What pending deletion requests hide.
    pub hidden: std::sync::Arc<Hidden>,
}

impl View {
    pub(crate) fn new(
        txn: ReadTransaction,
        db: Arc<crate::storage::file::Db>,
        cache: Arc<Cache>,
    ) -> Result<View> {
        let t = Tables {
            sites: txn.open_table(SITES)?,
            site_config: txn.open_table(SITE_CONFIG)?,
            partitions: txn.open_table(PARTITIONS)?,
            columns: txn.open_table(SEGMENT_COLUMNS)?,
            dicts: txn.open_table(DICTIONARIES)?,
            pending: txn.open_table(PENDING)?,
            sessions: txn.open_table(SESSIONS)?,
            visitors: txn.open_table(VISITOR_SESSIONS)?,
            blocks: txn.open_table(SESSION_BLOCKS)?,
            tails: txn.open_table(SESSION_BLOCK_TAILS)?,
            block_versions: txn.open_table(SESSION_BLOCK_VERSIONS)?,
            deletions: txn.open_table(DELETIONS)?,
            deleted_sessions: txn.open_table(DELETED_SESSIONS)?,
        };
        Ok(View {
            t,
            cache,
            generation: None,
            _txn: txn,
            _db: db,
        })
    }

    /// Every site, by name.
    pub(crate) fn sites(&self) -> Result<Vec<String>> {
        let mut v = Vec::new();
        for e in self.t.sites.iter()? {
            v.push(e?.0.value().to_owned());
        }
        Ok(v)
    }

    pub(crate) fn site_record(&self, site: &str) -> Result<Option<(u32, SiteRecord)>> {
        crate::storage::sites::load(&self.t.sites, &self.t.site_config, site)
    }

    pub(crate) fn site(&self, site: &str) -> Result<Option<SiteRef>> {
        let Some((id, record)) = self.site_record(site)? else {
            return Ok(None);
        };
        let compute = || {
            let h = hidden_for(
                &self.t.deletions,
                &self.t.visitors,
                &self.t.sessions,
                id,
                site,
            )?;
            let size = 256 + (h.sessions.len() + h.visitors.len() + h.days.len()) * 24;
            Ok((h, size))
        };
        let hidden = match self.generation {
            Some(generation) => self.cache.get_or_try(
                crate::cache::Key::Hidden {
                    site: id,
                    generation,
                },
                compute,
            )?,
            None => std::sync::Arc::new(compute()?.0),
        };
        Ok(Some(SiteRef { id, record, hidden }))
    }

    /// The partitions (days) of a site in `[from_day, to_day]`.
    pub(crate) fn partitions(
        &self,
        site: u32,
        from_day: i32,
        to_day: i32,
    ) -> Result<Vec<(i32, PartMeta)>> {
        let mut v = Vec::new();
        if from_day > to_day {
            return Ok(v);
        }
        for e in self.t.partitions.range((site, from_day)..=(site, to_day))? {
            let (k, val) = e?;
            v.push((k.value().1, PartMeta::decode(val.value())?));
        }
        Ok(v)
    }

    pub(crate) fn session_row(&self, site: u32, hash: u64) -> Result<Option<SessionRow>> {
        match self.t.sessions.get((site, hash))? {
            Some(g) => Ok(Some(SessionRow::decode(g.value())?)),
            None => Ok(None),
        }
    }

    /// The partition's pending rows built into in-memory segments: the
    /// cached view when it is of this version; the cached one extended by
    /// the batches added since, when nothing else changed (same pending
    /// epoch, its batches a prefix of today's); built from all pending
    /// rows otherwise.
    fn pending_view(&self, site: u32, day: i32, meta: &PartMeta) -> Result<Arc<PendingView>> {
        let key = crate::cache::Key::Pending { site, day };
        let cached = self.cache.get::<PendingView>(key);
        if let Some(v) = &cached {
            if v.version == meta.version {
                return Ok(Arc::clone(v));
            }
        }
        let mut batches = Vec::new();
        let mut bytes = Vec::new();
        for e in self
            .t
            .pending
            .range((site, day, 0)..=(site, day, u64::MAX))?
        {
            let (k, v) = e?;
            batches.push(k.value().2);
            bytes.push(v);
        }
        let base = cached.filter(|v| {
            v.epoch == meta.pending_epoch
                && v.segments.len() < PENDING_SEGMENTS_MAX
                && batches.starts_with(&v.batches)
        });
        let skip = base.as_ref().map_or(0, |b| b.batches.len());
        let mut rows = Vec::new();
        for b in &bytes[skip..] {
            rows.extend(decode_batch(b.value())?);
        }
        let infos = crate::storage::seal::AttrsLookup::new(
            &self.t.sessions,
            &self.t.blocks,
            &self.t.tails,
            site,
        )
        .all(rows.iter().map(|r| r.session))?;
        let (mut dicts, mut segs, mut size) = match &base {
            Some(b) => (
                (*b.dicts).clone(),
                b.segments.clone(),
                b.size - dicts_size(&b.dicts),
            ),
            None => (
                load_dicts(&self.t.columns, &self.t.dicts, site, day, &meta.dict_layout)?,
                Vec::new(),
                0,
            ),
        };
        for enc in crate::storage::seal::encode_segments(&rows, day, &mut dicts, &infos) {
            size += enc.columns.values().map(Vec::len).sum::<usize>();
            segs.push(PendingSegment {
                rows: enc.rows,
                min_ts: enc.min_ts,
                max_ts: enc.max_ts,
                columns: Arc::new(enc.columns),
                id: next_pending_segment_id(),
            });
        }
        size += dicts_size(&dicts);
        let view = PendingView {
            version: meta.version,
            epoch: meta.pending_epoch,
            batches,
            dicts: Arc::new(dicts),
            segments: segs,
            size,
        };
        Ok(self.cache.put(key, view, size))
    }

    /// Opens a partition for reading.
    pub(crate) fn partition_view(
        &self,
        site: u32,
        day: i32,
        meta: &PartMeta,
    ) -> Result<PartitionView> {
        let version = meta.version;
        let sealed_key = crate::cache::PartKey {
            site,
            day,
            version: meta.sealed,
        };
        let mut segments: Vec<SegmentView> = meta
            .segments
            .iter()
            .map(|s| SegmentView {
                rows: s.rows,
                min_ts: s.min_ts,
                max_ts: s.max_ts,
                slot: crate::cache::Seg::Sealed(s.id),
                cache_version: if s.version != 0 {
                    s.version
                } else {
                    meta.sealed
                },
                src: SegSource::Disk(s.clone()),
            })
            .collect();
        let dicts = if meta.pending_rows == 0 {
            // Dictionaries change only with `sealed`, like the segments.
            self.cache
                .get_or_try(crate::cache::Key::Dicts(sealed_key), || {
                    let d =
                        load_dicts(&self.t.columns, &self.t.dicts, site, day, &meta.dict_layout)?;
                    let size = dicts_size(&d);
                    Ok((d, size))
                })?
        } else {
            let pending = self.pending_view(site, day, meta)?;
            for s in &pending.segments {
                segments.push(SegmentView {
                    rows: s.rows,
                    min_ts: s.min_ts,
                    max_ts: s.max_ts,
                    slot: crate::cache::Seg::Pending(s.id),
                    cache_version: 0,
                    src: SegSource::Mem(Arc::clone(&s.columns)),
                });
            }
            Arc::clone(&pending.dicts)
        };
        Ok(PartitionView {
            site,
            day,
            version,
            dicts,
            segments,
            sealed: meta.sealed,
            sealed_count: meta.segments.len(),
        })
    }

    /// One column of a segment, `None` when the segment has none.
    pub(crate) fn column<'a>(
        &self,
        p: &PartitionView,
        s: &'a SegmentView,
        id: u8,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        match &s.src {
            SegSource::Mem(cols) => Ok(cols.get(&id).map(|v| Cow::Borrowed(v.as_slice()))),
            SegSource::Disk(seg) => Ok(crate::storage::columns::get(
                &self.t.columns,
                p.site,
                p.day,
                seg.id,
                &seg.layout,
                id,
            )?
            .map(Cow::Owned)),
        }
    }

    pub(crate) fn need_column<'a>(
        &self,
        p: &PartitionView,
        s: &'a SegmentView,
        id: u8,
    ) -> Result<Cow<'a, [u8]>> {
        self.column(p, s, id)?
            .ok_or_else(|| Corrupt::new("segment", format!("column {id} is missing")).into())
    }

    pub(crate) fn all_columns(
        &self,
        p: &PartitionView,
        s: &SegmentView,
    ) -> Result<BTreeMap<u8, Vec<u8>>> {
        match &s.src {
            SegSource::Mem(cols) => Ok((**cols).clone()),
            SegSource::Disk(seg) => crate::storage::columns::get_all(
                &self.t.columns,
                p.site,
                p.day,
                seg.id,
                &seg.layout,
            ),
        }
    }

    /// A day's session block from its stored bytes, decoded once per
    /// distinct content (the cache key hashes the bytes).
    /// The decoded session block of `bytes` (the `day`'s of `site`), from
    /// the cache, and the key it is cached under (what the block's
    /// aggregates are cached under too): the block's version, or a hash of
    /// its bytes when it has none.
    /// The read transaction the view reads.
    pub(crate) fn txn(&self) -> &ReadTransaction {
        &self._txn
    }

    pub(crate) fn session_block_cached(
        &self,
        site: u32,
        day: i32,
    ) -> Result<Option<(Arc<SessionBlock>, u64)>> {
        let key = match self.t.block_versions.get((site, day))? {
            Some(v) => v.value(),
            None => {
                // Written before versions existed (and so without a tail).
                match self.t.blocks.get((site, day))? {
                    Some(g) => crate::query::block_key(g.value()),
                    None => return Ok(None),
                }
            }
        };
        let mut found = true;
        let b = self.cache.get_or_try(
            crate::cache::Key::Block(crate::cache::BlockKey {
                site,
                day,
                version: key,
            }),
            || {
                let b = self.session_block(site, day)?.unwrap_or_else(|| {
                    found = false;
                    SessionBlock::default()
                });
                let size = b.len() * 96 + 64;
                Ok((b, size))
            },
        )?;
        Ok(found.then_some((b, key)))
    }

    /// The session block of a day (sessions whose first pageview is on
    /// it), block ⊕ tail.
    pub(crate) fn session_block(&self, site: u32, day: i32) -> Result<Option<SessionBlock>> {
        crate::storage::sessions::load_block(&self.t.blocks, &self.t.tails, (site, day))
    }

    /// The days of `site` in `[lo, hi]` with sessions, and their blocks.
    pub(crate) fn blocks_in(
        &self,
        site: u32,
        lo: i32,
        hi: i32,
    ) -> Result<Vec<(i32, Arc<SessionBlock>, u64)>> {
        let mut out = Vec::new();
        if lo > hi {
            return Ok(out);
        }
        for day in
            crate::storage::sessions::block_days(&self.t.blocks, &self.t.tails, site, lo, hi)?
        {
            if let Some((b, key)) = self.session_block_cached(site, day)? {
                out.push((day, b, key));
            }
        }
        Ok(out)
    }
}

impl View {
    /// Bytes stored per structure (segment columns by name, bitmap indexes,
    /// dictionaries, session tables, pending log): where the space goes.
    /// Values only, without redb's page and B-tree overhead.
    pub(crate) fn storage_breakdown(&self) -> Result<BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        // Chunks of packed segments are told apart by their layouts;
        // segments of format 3 have a column byte in every key.
        for e in self.t.columns.iter()? {
            let (k, v) = e?;
            let c = k.value().3;
            if c != crate::storage::columns::PACKED {
                *out.entry(format!("column {}", segment::column_name(c)))
                    .or_default() += v.value().len() as u64;
            }
        }
        for e in self.t.partitions.iter()? {
            let meta = PartMeta::decode(e?.1.value())?;
            for s in &meta.segments {
                for &(c, n) in &s.layout {
                    let c = crate::storage::columns::id(c);
                    *out.entry(format!("column {}", segment::column_name(c)))
                        .or_default() += u64::from(n);
                }
            }
            let dicts: u32 = meta.dict_layout.iter().map(|(_, n)| n).sum();
            *out.entry("dictionaries".into()).or_default() += u64::from(dicts);
        }
        for e in self.t.dicts.iter()? {
            *out.entry("dictionaries".into()).or_default() += e?.1.value().len() as u64;
        }
        for e in self.t.pending.iter()? {
            *out.entry("pending log".into()).or_default() += e?.1.value().len() as u64;
        }
        for e in self.t.sessions.iter()? {
            *out.entry("session rows".into()).or_default() += e?.1.value().len() as u64 + 12;
        }
        for e in self.t.blocks.iter()? {
            *out.entry("session blocks".into()).or_default() += e?.1.value().len() as u64;
        }
        for e in self.t.tails.iter()? {
            *out.entry("session blocks".into()).or_default() += e?.1.value().len() as u64;
        }
        for e in self.t.block_versions.iter()? {
            e?;
            *out.entry("session blocks".into()).or_default() += 8;
        }
        for e in self.t.visitors.iter()? {
            e?;
            // The key: site, visitor hash, session hash.
            *out.entry("visitor index".into()).or_default() += 20;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::query::Filters;
    use crate::report::{Report, ReportRequest};
    use crate::{Event, EventKind, Store};
    use rand::{Rng, SeedableRng};

    fn reports(store: &Store) -> Vec<String> {
        let snap = store.snapshot().unwrap();
        let mut out = Vec::new();
        for report in Report::ALL {
            if matches!(report, Report::Replay | Report::Sessions) {
                continue;
            }
            let mut r = ReportRequest::new(report, "p.example");
            r.filters = Filters::default().page("/a");
            out.push(format!("{report:?} {}", r.run(&snap).unwrap().to_json()));
        }
        out
    }

    /// A pending view extended commit after commit (and encoded whole
    /// again every `PENDING_SEGMENTS_MAX` extensions) answers every report
    /// as one built from scratch for each version.
    #[test]
    fn extended_pending_views_answer_as_fresh_ones() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let extended = Store::in_memory().unwrap();
        let fresh = Store::in_memory().unwrap();
        extended.set_seal_rows(1 << 30);
        fresh.set_seal_rows(1 << 30);
        fresh.set_cache_bytes(0);
        let t0 = crate::time::now_ms() - 86_400_000;
        let mut n = 0i64;
        for _ in 0..70 {
            let size = [1, 3, 40, 200][rng.random_range(0..4)];
            let events: Vec<Event> = (0..size)
                .map(|_| {
                    n += 1;
                    let s = format!("s{}", rng.random_range(0..30));
                    // Late first pageviews now and then.
                    let ts = t0 + n * 10 - rng.random_range(0..2) * 5_000;
                    let kind = if rng.random_range(0..8) == 0 {
                        EventKind::Pageview
                    } else {
                        EventKind::Click
                    };
                    let mut e = Event::new("p.example", ts, kind, &s, "/a");
                    (e.vw, e.vh, e.dh) = (Some(1000), Some(700), Some(2000));
                    if kind == EventKind::Click {
                        (e.x, e.y) = (Some(rng.random_range(0..1000)), Some(n as u32 % 2000));
                        e.selector = Some(format!("#b{}", n % 5));
                    } else {
                        e.referrer = Some(format!("https://r{}.example/", n % 3));
                    }
                    e
                })
                .collect();
            for store in [&extended, &fresh] {
                let mut w = store.writer().unwrap();
                for e in &events {
                    w.append(e).unwrap();
                }
                w.commit().unwrap();
            }
            assert_eq!(reports(&extended), reports(&fresh), "after {n} events");
        }
    }
}
