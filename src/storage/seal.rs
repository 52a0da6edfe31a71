//! Sealing: a partition's pending rows (and the committing batch's) become
//! immutable segments, partitions of one commit encoded in parallel; and the
//! pieces that read and write segments' dictionaries and session attributes
//! for the writer, deletion and reads of pending rows.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use redb::{ReadableTable, WriteTransaction};

use super::columns;
use super::day_of;
use super::partition::{PartMeta, SegInfo};
use super::row::{decode_batch, Row};
use super::schema::*;
use super::segment::{self, col, PartitionDicts, SessionInfo, SEGMENT_ROWS};
use super::sessions::SessionRow;
use crate::error::Result;
use crate::normalize::SessionAttrs;

/// Sealing rewrites a partition's partial last segment together with the
/// new rows only while the segment holds at most this many times as many
/// rows as are added.
const MERGE_COST: usize = 4;

/// A partition's dictionaries: packed in `segment_columns` where its
/// metadata has a layout for them (`PartMeta::dict_layout`), else in table `dictionaries` (format 3).
pub(crate) fn load_dicts(
    cols: &impl ReadableTable<columns::ColKey, &'static [u8]>,
    t: &impl ReadableTable<(u32, i32, u8), &'static [u8]>,
    site: u32,
    day: i32,
    layout: &[(u8, u32)],
) -> Result<PartitionDicts> {
    let mut dicts = PartitionDicts::default();
    if !layout.is_empty() {
        let packed = columns::get_all(cols, site, day, columns::DICTS_SEGMENT, layout)?;
        for (dim, bytes) in packed {
            dicts
                .dicts
                .insert(dim, crate::storage::dict::Dict::decode(&bytes)?);
        }
        return Ok(dicts);
    }
    for e in t.range((site, day, 0)..=(site, day, u8::MAX))? {
        let (k, v) = e?;
        dicts
            .dicts
            .insert(k.value().2, crate::storage::dict::Dict::decode(v.value())?);
    }
    Ok(dicts)
}

/// Encodes `rows` (in arrival order) as new segments of a partition, with
/// their sessions' current attributes, and adds them to `meta`.
pub(crate) fn write_segments(
    txn: &WriteTransaction,
    cols: &mut redb::Table<columns::ColKey, &[u8]>,
    site: u32,
    day: i32,
    rows: &[Row],
    dicts: &mut PartitionDicts,
    meta: &mut PartMeta,
) -> Result<()> {
    let infos = current_infos(txn, site, rows.iter().map(|r| r.session))?;
    let encoded = encode_segments(rows, day, dicts, &infos);
    put_segments(cols, site, day, meta, encoded)
}

/// Encodes `rows` (in arrival order) as segments of [`SEGMENT_ROWS`] and
/// one partial, with each session's attributes and visitor from `infos`.
pub(crate) fn encode_segments(
    rows: &[Row],
    day: i32,
    dicts: &mut PartitionDicts,
    infos: &HashMap<u64, SessionInfo>,
) -> Vec<segment::EncodedSegment> {
    let lookup = |h: u64| infos.get(&h).cloned().unwrap_or_default();
    rows.chunks(SEGMENT_ROWS)
        .map(|chunk| segment::build(chunk, day, dicts, &lookup))
        .collect()
}

/// Stores encoded segments as the partition's next ones.
pub(crate) fn put_segments(
    cols: &mut redb::Table<columns::ColKey, &[u8]>,
    site: u32,
    day: i32,
    meta: &mut PartMeta,
    encoded: Vec<segment::EncodedSegment>,
) -> Result<()> {
    for enc in encoded {
        let id = meta.next_segment;
        meta.next_segment += 1;
        let layout = columns::put_segment(cols, site, day, id, &enc.columns)?;
        meta.segments.push(SegInfo {
            id,
            rows: enc.rows,
            min_ts: enc.min_ts,
            max_ts: enc.max_ts,
            version: rand::random(),
            layout,
        });
    }
    Ok(())
}

/// Writes a partition's dictionaries, packed, and their layout into `meta`
/// (which the caller stores).
pub(crate) fn save_dicts(
    txn: &WriteTransaction,
    cols: &mut redb::Table<columns::ColKey, &[u8]>,
    site: u32,
    day: i32,
    dicts: &PartitionDicts,
    meta: &mut PartMeta,
) -> Result<()> {
    let encoded: BTreeMap<u8, Vec<u8>> = dicts
        .dicts
        .iter()
        .map(|(dim, d)| (*dim, d.encode()))
        .collect();
    columns::remove_segment(cols, site, day, columns::DICTS_SEGMENT)?;
    meta.dict_layout = columns::put_segment(cols, site, day, columns::DICTS_SEGMENT, &encoded)?;
    // Dictionaries of format 3 are packed from now on.
    txn.open_table(DICTIONARIES)?
        .retain_in((site, day, 0)..=(site, day, u8::MAX), |_, _| false)?;
    Ok(())
}

/// Removes a partition's dictionaries, in either place.
pub(crate) fn remove_dicts(
    txn: &WriteTransaction,
    cols: &mut redb::Table<columns::ColKey, &[u8]>,
    site: u32,
    day: i32,
) -> Result<()> {
    columns::remove_segment(cols, site, day, columns::DICTS_SEGMENT)?;
    txn.open_table(DICTIONARIES)?
        .retain_in((site, day, 0)..=(site, day, u8::MAX), |_, _| false)?;
    Ok(())
}

/// Finds sessions' attributes: the session row gives the day of the first
/// pageview, that day's block the attributes. Blocks are decoded once.
pub(crate) struct AttrsLookup<'t, S, B, T> {
    sessions: &'t S,
    blocks: &'t B,
    tails: &'t T,
    site: u32,
    cache: HashMap<i32, crate::storage::sessions::BlockView>,
}

impl<'t, S, B, T> AttrsLookup<'t, S, B, T>
where
    S: ReadableTable<(u32, u64), &'static [u8]>,
    B: ReadableTable<(u32, i32), &'static [u8]>,
    T: ReadableTable<(u32, i32, u64), &'static [u8]>,
{
    pub(crate) fn new(sessions: &'t S, blocks: &'t B, tails: &'t T, site: u32) -> Self {
        AttrsLookup {
            sessions,
            blocks,
            tails,
            site,
            cache: HashMap::new(),
        }
    }

    /// The attributes and visitor of one session.
    pub(crate) fn info(&mut self, hash: u64) -> Result<SessionInfo> {
        let Some(row) = self
            .sessions
            .get((self.site, hash))?
            .map(|g| g.value().to_vec())
        else {
            return Ok(SessionInfo::default());
        };
        let row = SessionRow::decode(&row)?;
        let visitor = Some(row.visitor);
        let Some(fp) = row.first_pv else {
            return Ok(SessionInfo {
                attrs: None,
                visitor,
            });
        };
        let day = day_of(fp.ts);
        if !self.cache.contains_key(&day) {
            let view = crate::storage::sessions::BlockView::load(
                self.blocks,
                self.tails,
                (self.site, day),
            )?;
            self.cache.insert(day, view);
        }
        let entry = self.cache.get(&day).and_then(|v| v.entry(hash));
        // A session hidden by a pending deletion request has left its
        // block already: it has no attributes to give.
        Ok(SessionInfo {
            attrs: entry.map(|e| e.attrs),
            visitor,
        })
    }

    /// The attributes and visitor of every distinct session among `hashes`.
    pub(crate) fn all(
        &mut self,
        hashes: impl Iterator<Item = u64>,
    ) -> Result<HashMap<u64, SessionInfo>> {
        let mut out = HashMap::new();
        for h in hashes {
            if let std::collections::hash_map::Entry::Vacant(v) = out.entry(h) {
                v.insert(self.info(h)?);
            }
        }
        Ok(out)
    }
}

/// A session to patch: its hash, the days it has rows on, and the
/// attributes it has now (`None`: none, its first pageview is gone).
pub(crate) type AttrsPatch = (u64, Vec<i32>, Option<SessionAttrs>);

/// When sealed sessions' attributes change (an earlier pageview arrived
/// late), rewrites their attribute codes and device bitmaps in the
/// segments that hold them: `sessions` lists each session with the days
/// it has rows on and the attributes it has now (every caller has them at
/// hand: looking them up would decode the day's whole session block).
/// Each partition is read and written once, whatever the number of its
/// sessions that changed.
pub(crate) fn patch_session_attrs(
    txn: &WriteTransaction,
    site: u32,
    sessions: &[AttrsPatch],
) -> Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let mut attrs: HashMap<u64, &Option<SessionAttrs>> = HashMap::new();
    let mut by_day: std::collections::BTreeMap<i32, Vec<u64>> = std::collections::BTreeMap::new();
    for (hash, days, now) in sessions {
        attrs.insert(*hash, now);
        for &d in days {
            by_day.entry(d).or_default().push(*hash);
        }
    }
    let mut parts = txn.open_table(PARTITIONS)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    for (day, mut hashes) in by_day {
        hashes.sort_unstable();
        hashes.dedup();
        let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
            continue;
        };
        let mut meta = PartMeta::decode(&meta)?;
        let dict_layout = meta.dict_layout.clone();
        let mut dicts: Option<(PartitionDicts, Vec<(u8, usize)>)> = None;
        for seg in meta.segments.iter_mut() {
            let Some(sess) = columns::get(&cols, site, day, seg.id, &seg.layout, col::SESSIONS)?
            else {
                continue;
            };
            let runs = segment::SessionRuns::decode(&sess, seg.rows)?;
            let found: Vec<(usize, u64)> = hashes
                .iter()
                .filter_map(|h| runs.hashes.binary_search(h).ok().map(|i| (i, *h)))
                .collect();
            if found.is_empty() {
                continue;
            }
            let (dicts, _) = match &mut dicts {
                Some(d) => d,
                None => {
                    let d = load_dicts(
                        &cols,
                        &txn.open_table(DICTIONARIES)?,
                        site,
                        day,
                        &dict_layout,
                    )?;
                    let lens = d.dicts.iter().map(|(k, v)| (*k, v.len())).collect();
                    dicts.insert((d, lens))
                }
            };
            let bytes = columns::get(&cols, site, day, seg.id, &seg.layout, col::SESSION_ATTRS)?
                .unwrap_or_default();
            let mut codes = segment::decode_session_attrs(&bytes, runs.len())?;
            for (i, h) in found {
                if let (Some(slot), Some(a)) = (codes.get_mut(i), attrs.get(&h)) {
                    *slot = segment::session_attr_codes(a.as_ref(), dicts);
                }
            }
            let changes = BTreeMap::from([
                (col::SESSION_ATTRS, segment::encode_session_attrs(&codes)),
                (
                    col::BM_DEVICE,
                    segment::encode_device_bitmaps(&runs.starts, &codes),
                ),
            ]);
            columns::replace(&mut cols, site, day, seg.id, &mut seg.layout, &changes)?;
            // Columns changed in place: readers' cached ones are stale.
            seg.version = rand::random();
        }
        if let Some((d, lens)) = dicts {
            // Only the dictionaries that gained strings are written again.
            let grown: BTreeMap<u8, Vec<u8>> = d
                .dicts
                .iter()
                .filter(|(dim, dict)| {
                    lens.iter().find(|(k, _)| k == *dim).map(|(_, n)| *n) != Some(dict.len())
                })
                .map(|(dim, dict)| (*dim, dict.encode()))
                .collect();
            if meta.dict_layout.is_empty() {
                save_dicts(txn, &mut cols, site, day, &d, &mut meta)?;
            } else {
                columns::replace(
                    &mut cols,
                    site,
                    day,
                    columns::DICTS_SEGMENT,
                    &mut meta.dict_layout,
                    &grown,
                )?;
            }
            // Columns changed in place: a new version for readers' caches.
            parts.insert((site, day), meta.encode_new_version().as_slice())?;
        } else if meta.pending_rows > 0 {
            // Pending rows take their session's attributes when they are
            // built for reading: those built before must not be read again.
            parts.insert((site, day), meta.encode_pending_change().as_slice())?;
        }
    }
    Ok(())
}

/// Re-files sessions whose visitor changed (`changes`: session hash → new
/// visitor) in the sealed segments of one partition, and gives the
/// partition a new version (of its segments only if one changed), so that
/// readers rebuild what they derived from its segments and pending rows (pending rows take their session's visitor
/// when they are encoded, for reads and at sealing).
pub(crate) fn refile_visitors(
    txn: &WriteTransaction,
    site: u32,
    day: i32,
    changes: &HashMap<u64, u64>,
) -> Result<()> {
    let mut parts = txn.open_table(PARTITIONS)?;
    let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
        return Ok(());
    };
    let mut meta = PartMeta::decode(&meta)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    let mut any = false;
    for seg in meta.segments.iter_mut() {
        let Some(bytes) = columns::get(&cols, site, day, seg.id, &seg.layout, col::SESSIONS)?
        else {
            continue;
        };
        let mut runs = segment::SessionRuns::decode(&bytes, seg.rows)?;
        let mut changed = false;
        if changes.len() < runs.len() / 8 {
            for (hash, visitor) in changes {
                if let Ok(i) = runs.hashes.binary_search(hash) {
                    if let Some(slot) = runs.visitors.get_mut(i) {
                        changed |= *slot != *visitor;
                        *slot = *visitor;
                    }
                }
            }
        } else {
            for (hash, slot) in runs.hashes.iter().zip(runs.visitors.iter_mut()) {
                if let Some(v) = changes.get(hash) {
                    changed |= *slot != *v;
                    *slot = *v;
                }
            }
        }
        if changed {
            let changes = BTreeMap::from([(col::SESSIONS, runs.encode())]);
            columns::replace(&mut cols, site, day, seg.id, &mut seg.layout, &changes)?;
            seg.version = rand::random();
            any = true;
        }
    }
    // Segments rewritten: a new version of them; else only what pending
    // rows take from their sessions changed.
    let encoded = if any {
        meta.encode_new_version()
    } else {
        meta.encode_pending_change()
    };
    parts.insert((site, day), encoded.as_slice())?;
    Ok(())
}

/// A partition to seal, with all it needs read from the store: encoding it
/// touches nothing else, so partitions are encoded in parallel.
struct SealJob {
    site: u32,
    day: i32,
    meta: PartMeta,
    dicts: PartitionDicts,
    rows: Vec<Row>,
    /// The emptied vector of the new rows, when they joined the partial
    /// last segment's.
    spare: Option<Vec<Row>>,
    infos: HashMap<u64, SessionInfo>,
    encoded: Vec<segment::EncodedSegment>,
}

impl SealJob {
    /// Encodes the rows, then drops them (on the encoding thread: the
    /// emptied vector is kept for its memory).
    fn encode(&mut self) {
        self.encoded = encode_segments(&self.rows, self.day, &mut self.dicts, &self.infos);
        self.rows.clear();
    }
}

/// Seals partitions (each named once): for each, its partial last segment
/// (if any), its pending rows and `extra` rows of the committing batch, in
/// that (arrival) order, become full segments of [`SEGMENT_ROWS`] and one
/// partial. Partitions are encoded on as many threads as there are cores.
///
/// Gives back the row vectors it used, for their memory.
pub(crate) fn seal_many(
    txn: &WriteTransaction,
    parts: Vec<(u32, i32, Vec<Row>)>,
) -> Result<Vec<Vec<Row>>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let mut jobs = Vec::with_capacity(parts.len());
    for (site, day, extra) in parts {
        jobs.push(seal_job(txn, site, day, extra)?);
    }
    encode_in_parallel(&mut jobs);
    let mut parts = txn.open_table(PARTITIONS)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    let mut spent = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        put_segments(
            &mut cols,
            job.site,
            job.day,
            &mut job.meta,
            std::mem::take(&mut job.encoded),
        )?;
        job.meta.pending_rows = 0;
        save_dicts(txn, &mut cols, job.site, job.day, &job.dicts, &mut job.meta)?;
        parts.insert(
            (job.site, job.day),
            job.meta.encode_new_version().as_slice(),
        )?;
        spent.push(job.rows);
        spent.extend(job.spare);
    }
    Ok(spent)
}

/// Reads what sealing a partition needs, and takes its pending rows and
/// (when it is worth rewriting) its partial last segment out of the store.
fn seal_job(txn: &WriteTransaction, site: u32, day: i32, extra: Vec<Row>) -> Result<SealJob> {
    let mut meta = match txn
        .open_table(PARTITIONS)?
        .get((site, day))?
        .map(|g| g.value().to_vec())
    {
        Some(b) => PartMeta::decode(&b)?,
        None => PartMeta::default(),
    };
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    let dicts = load_dicts(
        &cols,
        &txn.open_table(DICTIONARIES)?,
        site,
        day,
        &meta.dict_layout,
    )?;
    let mut rows = if meta.pending_rows == 0 {
        extra
    } else {
        let mut rows = Vec::new();
        let mut pending = txn.open_table(PENDING)?;
        let mut keys = Vec::new();
        for e in pending.range((site, day, 0)..=(site, day, u64::MAX))? {
            let (k, v) = e?;
            rows.extend(decode_batch(v.value())?);
            keys.push(k.value());
        }
        for k in keys {
            pending.remove(k)?;
        }
        rows.extend(extra);
        rows
    };
    let mut spare = None;
    if let Some(last) = meta.segments.last().cloned() {
        // The partial last segment is rewritten with the new rows while
        // that costs at most MERGE_COST times their own encoding: segments
        // grow towards full in a steady stream, and a few late rows do not
        // rewrite a large segment (they make a small one).
        if (last.rows as usize) < SEGMENT_ROWS && rows.len() * MERGE_COST >= last.rows as usize {
            let tail = columns::get_all(&cols, site, day, last.id, &last.layout)?;
            let mut all = segment::decode_rows(&tail, last.rows, day, &dicts)?;
            all.append(&mut rows);
            spare = Some(std::mem::replace(&mut rows, all));
            columns::remove_segment(&mut cols, site, day, last.id)?;
            meta.segments.pop();
        }
    }
    drop(cols);
    let infos = current_infos(txn, site, rows.iter().map(|r| r.session))?;
    Ok(SealJob {
        site,
        day,
        meta,
        dicts,
        rows,
        spare,
        infos,
        encoded: Vec::new(),
    })
}

/// Encodes every job, spread over the machine's cores by row count.
fn encode_in_parallel(jobs: &mut [SealJob]) {
    // Asking the system is a few system calls: once per process.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let threads = cores.min(jobs.len());
    if threads <= 1 {
        jobs.iter_mut().for_each(SealJob::encode);
        return;
    }
    // Largest first, each to the least loaded thread.
    let mut order: Vec<&mut SealJob> = jobs.iter_mut().collect();
    order.sort_by_key(|j| std::cmp::Reverse(j.rows.len()));
    let mut shares: Vec<(usize, Vec<&mut SealJob>)> =
        (0..threads).map(|_| (0, Vec::new())).collect();
    for job in order {
        if let Some(share) = shares.iter_mut().min_by_key(|(load, _)| *load) {
            share.0 += job.rows.len();
            share.1.push(job);
        }
    }
    std::thread::scope(|scope| {
        let mut shares = shares.into_iter();
        let mine = shares.next();
        for (_, share) in shares {
            scope.spawn(move || share.into_iter().for_each(|j| j.encode()));
        }
        if let Some((_, share)) = mine {
            share.into_iter().for_each(|j| j.encode());
        }
    });
}

/// A partition sealed from a read snapshot, outside the commit lock (see
/// `write::aside`): what was read, and the segments encoded from it.
/// [`apply_aside`] stores them if the partition's segments, dictionaries
/// and the pending batches taken are still those read.
pub(crate) struct AsideSeal {
    pub(crate) site: u32,
    pub(crate) day: i32,
    /// The metadata as read.
    base: PartMeta,
    /// The partial last segment rewritten with the pending rows.
    merged: Option<u32>,
    /// The pending batches taken: key and encoded length.
    taken: Vec<((u32, i32, u64), usize)>,
    /// Rows in those batches.
    taken_rows: u64,
    dicts: PartitionDicts,
    /// What the encoded segments took of each of their sessions.
    pub(crate) infos: HashMap<u64, SessionInfo>,
    encoded: Vec<segment::EncodedSegment>,
}

impl AsideSeal {
    /// Rows the new segments hold (pending ones and a merged segment's).
    pub(crate) fn rows(&self) -> u64 {
        self.encoded.iter().map(|e| u64::from(e.rows)).sum()
    }
}

/// Reads a partition's pending rows (and, by the rule of [`seal_many`],
/// its partial last segment) from a read snapshot and encodes them as
/// segments. `None` when fewer than `min_rows` (at least one) are pending.
pub(crate) fn prepare_aside(
    txn: &redb::ReadTransaction,
    site: u32,
    day: i32,
    min_rows: u64,
) -> Result<Option<AsideSeal>> {
    let Some(base) = txn
        .open_table(PARTITIONS)?
        .get((site, day))?
        .map(|g| g.value().to_vec())
    else {
        return Ok(None);
    };
    let base = PartMeta::decode(&base)?;
    if base.pending_rows < min_rows.max(1) {
        return Ok(None);
    }
    let cols = txn.open_table(SEGMENT_COLUMNS)?;
    let mut dicts = load_dicts(
        &cols,
        &txn.open_table(DICTIONARIES)?,
        site,
        day,
        &base.dict_layout,
    )?;
    let mut pending_rows = Vec::new();
    let mut taken = Vec::new();
    for e in txn
        .open_table(PENDING)?
        .range((site, day, 0)..=(site, day, u64::MAX))?
    {
        let (k, v) = e?;
        pending_rows.extend(decode_batch(v.value())?);
        taken.push((k.value(), v.value().len()));
    }
    let taken_rows = pending_rows.len() as u64;
    let mut merged = None;
    let mut all = pending_rows;
    if let Some(last) = base.segments.last() {
        if (last.rows as usize) < SEGMENT_ROWS && all.len() * MERGE_COST >= last.rows as usize {
            let tail = columns::get_all(&cols, site, day, last.id, &last.layout)?;
            let mut rows = segment::decode_rows(&tail, last.rows, day, &dicts)?;
            rows.append(&mut all);
            all = rows;
            merged = Some(last.id);
        }
    }
    let sessions = txn.open_table(SESSIONS)?;
    let blocks = txn.open_table(SESSION_BLOCKS)?;
    let tails = txn.open_table(SESSION_BLOCK_TAILS)?;
    let infos =
        AttrsLookup::new(&sessions, &blocks, &tails, site).all(all.iter().map(|r| r.session))?;
    let encoded = encode_segments(&all, day, &mut dicts, &infos);
    Ok(Some(AsideSeal {
        site,
        day,
        base,
        merged,
        taken,
        taken_rows,
        dicts,
        infos,
        encoded,
    }))
}

/// Stores what [`prepare_aside`] encoded, in the transaction that takes
/// its pending batches out: `false` (and nothing written) when the
/// partition changed meanwhile in a way the encoded segments did not see
/// (segments added or replaced, dictionaries written, a batch taken gone
/// or different).
/// Batches pending after the snapshot stay pending. Sessions whose
/// attributes or visitor changed since are the caller's to patch.
pub(crate) fn apply_aside(txn: &WriteTransaction, seal: AsideSeal) -> Result<bool> {
    let AsideSeal {
        site,
        day,
        base,
        merged,
        taken,
        taken_rows,
        dicts,
        encoded,
        ..
    } = seal;
    let mut parts = txn.open_table(PARTITIONS)?;
    let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
        return Ok(false);
    };
    let mut meta = PartMeta::decode(&meta)?;
    // A commit that patched sessions' attributes or visitors in the
    // segments in place (new column versions, same segments) does not
    // make the seal stale: those sessions are in the seal log, and the
    // caller patches them in the new segments. The merged segment is
    // replaced whatever its version.
    let shape = |m: &PartMeta| {
        m.segments
            .iter()
            .map(|s| (s.id, s.rows, s.min_ts, s.max_ts))
            .collect::<Vec<_>>()
    };
    if shape(&meta) != shape(&base)
        || meta.dict_layout != base.dict_layout
        || meta.next_segment != base.next_segment
        || meta.pending_rows < taken_rows
    {
        return Ok(false);
    }
    let mut pending = txn.open_table(PENDING)?;
    for (key, len) in &taken {
        if pending.get(*key)?.map(|g| g.value().len()) != Some(*len) {
            return Ok(false);
        }
    }
    for (key, _) in &taken {
        pending.remove(*key)?;
    }
    drop(pending);
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    if let Some(id) = merged {
        columns::remove_segment(&mut cols, site, day, id)?;
        meta.segments.pop();
    }
    put_segments(&mut cols, site, day, &mut meta, encoded)?;
    meta.pending_rows -= taken_rows;
    save_dicts(txn, &mut cols, site, day, &dicts, &mut meta)?;
    parts.insert((site, day), meta.encode_new_version().as_slice())?;
    Ok(true)
}

/// The attributes and visitor the sessions `hashes` have in `txn` now.
pub(crate) fn current_infos(
    txn: &WriteTransaction,
    site: u32,
    hashes: impl Iterator<Item = u64>,
) -> Result<HashMap<u64, SessionInfo>> {
    let sessions = txn.open_table(SESSIONS)?;
    let blocks = txn.open_table(SESSION_BLOCKS)?;
    let tails = txn.open_table(SESSION_BLOCK_TAILS)?;
    AttrsLookup::new(&sessions, &blocks, &tails, site).all(hashes)
}
