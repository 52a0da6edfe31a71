//! The purge: a site's pending requests carried out while the store keeps
//! taking commits (affected partitions rewritten without the rows, with
//! fresh dictionaries; session rows, index entries and cookieless state
//! removed), and retention (partitions older than a site's retention
//! dropped).
//!
//! The slow part, decoding a partition's segments and encoding them again
//! without the deleted rows, runs on a snapshot with no lock held. A short
//! transaction then swaps the new segments in, if the partition's
//! segments are still the ones the snapshot had (its `sealed` version);
//! else the work is done again on a newer snapshot, and after a few tries
//! inside the transaction. Pending rows (few) are filtered inside it.
//! Every step commits on its own: until the last, the requests are still
//! pending and their tombstones hide what is left, and a run that dies is
//! finished by the next.

use std::collections::{BTreeMap, BTreeSet};

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::Pauses;
use crate::core::Core;
use crate::error::Result;
use crate::storage::columns;
use crate::storage::hiding::{hidden_sessions, record_request};
use crate::storage::journal::Touched;
use crate::storage::partition::PartMeta;
use crate::storage::requests::{mark_purged, DeletionRequest, StoredTarget};
use crate::storage::row::{decode_batch, encode_batch, Row};
use crate::storage::schema::*;
use crate::storage::seal::{
    encode_segments, load_dicts, put_segments, remove_dicts, save_dicts, write_segments,
    AttrsLookup,
};
use crate::storage::segment::{self, EncodedSegment, PartitionDicts};
use crate::storage::sessions::{block_days, BlockTables, SessionRow};
use crate::storage::tombstones::Hidden;
use crate::storage::{day_of, day_start};

/// Tries at rebuilding a partition aside before it is rebuilt inside a
/// transaction (commits kept sealing it meanwhile).
const ASIDE_TRIES: usize = 3;

/// Which rows a purge removes, and which request each is counted for.
struct Doomed<'a> {
    hidden: Hidden,
    batch: &'a [&'a DeletionRequest],
    /// Session → index in `batch` of the request that owns it.
    by_session: foldhash::HashMap<u64, usize>,
    ranges: Vec<(i64, i64, usize)>,
    whole_site: Option<usize>,
}

impl Doomed<'_> {
    /// Whether the row goes; counts it for its request.
    fn take(&self, row: &Row, counts: &mut [u64]) -> bool {
        if !self.hidden.row_hidden(row) {
            return false;
        }
        let owner = [
            self.whole_site,
            self.by_session.get(&row.session).copied(),
            self.ranges
                .iter()
                .find(|&&(f, t, _)| row.ts >= f && row.ts < t)
                .map(|&(_, _, i)| i),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(c) = owner.and_then(|i| counts.get_mut(i)) {
            *c += 1;
        }
        true
    }
}

impl Core {
    /// Drops partitions older than each site's retention.
    pub(super) fn expire(&self, now: i64, pauses: &mut Pauses) -> Result<u64> {
        let sites: Vec<(String, u32, Option<u32>)> = {
            let snap = self.view()?;
            let mut v = Vec::new();
            for name in snap.sites()? {
                if let Some((id, rec)) = snap.site_record(&name)? {
                    v.push((name, id, rec.settings.retention_days));
                }
            }
            v
        };
        let mut dropped = 0;
        for (name, site_id, retention) in sites {
            let Some(days) = retention else { continue };
            let before = day_start(day_of(now.max(0)) - days as i32 + 1);
            let (old, has_blocks) = {
                let r = self.read()?;
                let parts = r.open_table(PARTITIONS)?;
                let mut old = Vec::new();
                for e in parts.range((site_id, i32::MIN)..(site_id, day_of(before)))? {
                    old.push(e?.0.value().1);
                }
                let days = block_days(
                    &r.open_table(SESSION_BLOCKS)?,
                    &r.open_table(SESSION_BLOCK_TAILS)?,
                    site_id,
                    i32::MIN,
                    day_of(before) - 1,
                )?;
                (old, !days.is_empty())
            };
            if old.is_empty() && !has_blocks {
                continue;
            }
            // The request first: a run that dies after it is finished by
            // the next one's purge, which carries out pending requests.
            let id = pauses.write(self, |txn, touched| {
                record_request(
                    txn,
                    touched,
                    &name,
                    site_id,
                    StoredTarget::Retention { before },
                    0,
                    now,
                )
            })?;
            let mut rows = 0;
            for day in &old {
                rows += pauses.write(self, |txn, _| drop_partition(txn, site_id, *day))?;
            }
            let candidates = sessions_before(&*self.read()?, site_id, before)?;
            pauses.write(self, |txn, touched| {
                remove_sessions_before(txn, touched, site_id, before, &candidates)?;
                mark_purged(txn, id, rows, now)
            })?;
            self.forget_site(&name);
            dropped += old.len() as u64;
        }
        Ok(dropped)
    }

    /// Removes a site's pending requests' rows from every table.
    pub(super) fn purge(
        &self,
        site: &str,
        batch: &[&DeletionRequest],
        now: i64,
        pauses: &mut Pauses,
    ) -> Result<(u64, u64)> {
        let snap = self.read()?;
        let found = snap.open_table(SITES)?.get(site)?.map(|g| g.value());
        let Some(site_id) = found else {
            pauses.write(self, |txn, _| {
                for r in batch {
                    mark_purged(txn, r.id, 0, now)?;
                }
                Ok(())
            })?;
            return Ok((0, 0));
        };
        let doomed = doomed(&snap, site_id, batch)?;
        let days = affected_days(&snap, site_id, &doomed.hidden)?;
        let mut counts = vec![0u64; batch.len()];
        let mut rows = 0;
        for &day in &days {
            rows += self.purge_partition(site_id, day, &doomed, &mut counts, pauses)?;
        }
        // Cookieless state of deleted sessions: found on a snapshot, checked
        // again in the transaction.
        let cookieless: Vec<(u32, u64)> = {
            let snap = self.read()?;
            let t = snap.open_table(COOKIELESS)?;
            let mut v = Vec::new();
            for e in t.range((site_id, 0)..=(site_id, u64::MAX))? {
                let (k, val) = e?;
                if doomed.hidden.session_hidden(val.value().1, k.value().1) {
                    v.push(k.value());
                }
            }
            v
        };
        // The session rows last, with the writer's state held, so that no
        // batch being built or written meanwhile keeps a stale view of
        // the site.
        let mut state = self.lock_settled();
        pauses.write(self, |txn, touched| {
            remove_sessions(txn, touched, site_id, &doomed, &cookieless)?;
            for (r, n) in batch.iter().zip(&counts) {
                mark_purged(txn, r.id, *n, now)?;
            }
            Ok(())
        })?;
        state.sites.remove(site);
        drop(state);
        Ok((rows, days.len() as u64))
    }

    /// Removes the doomed rows of one partition: segments rebuilt aside
    /// and swapped in, pending rows filtered in the transaction.
    fn purge_partition(
        &self,
        site: u32,
        day: i32,
        doomed: &Doomed<'_>,
        counts: &mut [u64],
        pauses: &mut Pauses,
    ) -> Result<u64> {
        for _ in 0..ASIDE_TRIES {
            let snap = self.read()?;
            let mut tried = counts.to_vec();
            let Some(aside) = rebuild_aside(&snap, site, day, &mut |r| doomed.take(r, &mut tried))?
            else {
                // Gone meanwhile (retention, or a site deletion).
                return Ok(0);
            };
            drop(snap);
            let swapped = pauses.write(self, |txn, _| {
                swap_in(txn, site, day, aside, &mut |r| doomed.take(r, &mut tried))
            })?;
            if let Some(removed) = swapped {
                counts.copy_from_slice(&tried);
                return Ok(removed);
            }
        }
        pauses.write(self, |txn, _| {
            rewrite_partition(txn, site, day, &mut |r| doomed.take(r, counts))
        })
    }

    /// Makes the writer reload a site's state (its covers changed).
    fn forget_site(&self, site: &str) {
        self.lock().sites.remove(site);
    }
}

/// One tombstone set for a site's batch of requests, and which request
/// each removed row is counted for (the first that matches).
fn doomed<'a>(
    snap: &ReadTransaction,
    site_id: u32,
    batch: &'a [&'a DeletionRequest],
) -> Result<Doomed<'a>> {
    let mut d = Doomed {
        hidden: Hidden::default(),
        batch,
        by_session: foldhash::HashMap::default(),
        ranges: Vec::new(),
        whole_site: None,
    };
    let mut visitor_requests = Vec::new();
    for (i, r) in d.batch.iter().enumerate() {
        d.hidden.add(&r.target);
        match r.target {
            StoredTarget::Visitor { hash } => visitor_requests.push((hash, i)),
            StoredTarget::Session { hash } => {
                d.by_session.entry(hash).or_insert(i);
            }
            StoredTarget::TimeRange { from, to } => d.ranges.push((from, to, i)),
            StoredTarget::Retention { before } => d.ranges.push((i64::MIN, before, i)),
            StoredTarget::Site => {
                d.whole_site.get_or_insert(i);
            }
        }
    }
    // A visitor's request owns every session any of whose events named
    // the visitor (unless an earlier request owns it). Sessions tied to
    // the visitor after this snapshot are covered at ingest, by requests
    // derived from this one.
    let index = snap.open_table(VISITOR_SESSIONS)?;
    for &(v, i) in &visitor_requests {
        for e in index.range((site_id, v, 0)..=(site_id, v, u64::MAX))? {
            let s = e?.0.value().2;
            let slot = d.by_session.entry(s).or_insert(i);
            *slot = (*slot).min(i);
        }
    }
    d.hidden.resolve(&index, site_id)?;
    Ok(d)
}

/// The partitions the hidden rows can be in.
fn affected_days(snap: &ReadTransaction, site_id: u32, hidden: &Hidden) -> Result<BTreeSet<i32>> {
    let mut days = BTreeSet::new();
    if !hidden.sessions.is_empty() || !hidden.visitors.is_empty() {
        let sessions = snap.open_table(SESSIONS)?;
        let index = snap.open_table(VISITOR_SESSIONS)?;
        for (_, row) in hidden_sessions(&sessions, &index, site_id, hidden)? {
            days.extend(row.days);
        }
    }
    let parts = snap.open_table(PARTITIONS)?;
    let mut spans: Vec<(i32, i32)> = hidden
        .ranges
        .iter()
        .map(|&(f, t)| crate::time::day_span(Some(f), Some(t)))
        .collect();
    if hidden.all {
        spans.push((i32::MIN, i32::MAX));
    }
    for (lo, hi) in spans {
        for e in parts.range((site_id, lo)..=(site_id, hi))? {
            days.insert(e?.0.value().1);
        }
    }
    Ok(days)
}

/// A partition's segments rebuilt without the doomed rows, on a snapshot.
struct Aside {
    /// The partition's metadata in the snapshot.
    base: PartMeta,
    /// `None` when no segment row goes (only pending rows may).
    rebuilt: Option<(Vec<EncodedSegment>, PartitionDicts)>,
    removed: u64,
}

/// Every row of a partition's sealed segments, in segment order, decoded
/// with the partition's dictionaries.
fn sealed_rows(
    cols: &impl ReadableTable<columns::ColKey, &'static [u8]>,
    dicts: &impl ReadableTable<(u32, i32, u8), &'static [u8]>,
    site: u32,
    day: i32,
    meta: &PartMeta,
) -> Result<Vec<Row>> {
    let dicts = load_dicts(cols, dicts, site, day, &meta.dict_layout)?;
    let mut rows = Vec::new();
    for s in &meta.segments {
        let c = columns::get_all(cols, site, day, s.id, &s.layout)?;
        rows.extend(segment::decode_rows(&c, s.rows, day, &dicts)?);
    }
    Ok(rows)
}

fn rebuild_aside(
    snap: &ReadTransaction,
    site: u32,
    day: i32,
    gone: &mut dyn FnMut(&Row) -> bool,
) -> Result<Option<Aside>> {
    let parts = snap.open_table(PARTITIONS)?;
    let Some(base) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
        return Ok(None);
    };
    let base = PartMeta::decode(&base)?;
    let cols = snap.open_table(SEGMENT_COLUMNS)?;
    let mut rows = sealed_rows(&cols, &snap.open_table(DICTIONARIES)?, site, day, &base)?;
    let before = rows.len() as u64;
    rows.retain(|r| !gone(r));
    let removed = before - rows.len() as u64;
    let rebuilt = if removed == 0 {
        None
    } else {
        let sessions = snap.open_table(SESSIONS)?;
        let blocks = snap.open_table(SESSION_BLOCKS)?;
        let tails = snap.open_table(SESSION_BLOCK_TAILS)?;
        let infos = AttrsLookup::new(&sessions, &blocks, &tails, site)
            .all(rows.iter().map(|r| r.session))?;
        let mut dicts = PartitionDicts::default();
        let encoded = encode_segments(&rows, day, &mut dicts, &infos);
        Some((encoded, dicts))
    };
    Ok(Some(Aside {
        base,
        rebuilt,
        removed,
    }))
}

/// Swaps segments rebuilt aside in and filters the pending rows, in `txn`;
/// `None` when the partition's segments changed since the snapshot.
fn swap_in(
    txn: &WriteTransaction,
    site: u32,
    day: i32,
    aside: Aside,
    gone: &mut dyn FnMut(&Row) -> bool,
) -> Result<Option<u64>> {
    let mut parts = txn.open_table(PARTITIONS)?;
    let Some(now) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
        return Ok(Some(0));
    };
    let mut meta = PartMeta::decode(&now)?;
    if meta.sealed != aside.base.sealed
        || meta.segments != aside.base.segments
        || meta.next_segment != aside.base.next_segment
    {
        return Ok(None);
    }
    let mut removed = aside.removed;
    let mut changed = false;
    if let Some((encoded, dicts)) = aside.rebuilt {
        let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
        for s in &meta.segments {
            columns::remove_segment(&mut cols, site, day, s.id)?;
        }
        meta.segments.clear();
        put_segments(&mut cols, site, day, &mut meta, encoded)?;
        // Replaces the old dictionaries, in either place.
        save_dicts(txn, &mut cols, site, day, &dicts, &mut meta)?;
        changed = true;
    }
    let (pending_removed, pending_left) = filter_pending(txn, site, day, gone)?;
    if pending_removed > 0 {
        removed += pending_removed;
        meta.pending_rows = pending_left;
        changed = true;
    }
    if !changed {
        return Ok(Some(0));
    }
    if meta.segments.is_empty() && meta.pending_rows == 0 {
        parts.remove((site, day))?;
    } else {
        parts.insert((site, day), meta.encode_new_version().as_slice())?;
    }
    Ok(Some(removed))
}

/// Removes the doomed rows of a partition's pending batches; returns
/// (rows removed, rows left).
fn filter_pending(
    txn: &WriteTransaction,
    site: u32,
    day: i32,
    gone: &mut dyn FnMut(&Row) -> bool,
) -> Result<(u64, u64)> {
    let mut pending = txn.open_table(PENDING)?;
    let mut rewrite = Vec::new();
    let (mut removed, mut left) = (0, 0);
    for e in pending.range((site, day, 0)..=(site, day, u64::MAX))? {
        let (k, v) = e?;
        let mut rows = decode_batch(v.value())?;
        let before = rows.len();
        rows.retain(|r| !gone(r));
        left += rows.len() as u64;
        if rows.len() != before {
            removed += (before - rows.len()) as u64;
            rewrite.push((k.value(), rows));
        }
    }
    for (k, rows) in rewrite {
        if rows.is_empty() {
            pending.remove(k)?;
        } else {
            pending.insert(k, encode_batch(&rows).as_slice())?;
        }
    }
    Ok((removed, left))
}

/// Session rows, index entries, blocks and cookieless state of deleted
/// sessions; the hashes of sessions deleted by id or visitor are kept, so
/// that their late events are dropped at ingest.
fn remove_sessions(
    txn: &WriteTransaction,
    touched: &mut Touched,
    site_id: u32,
    d: &Doomed<'_>,
    cookieless_candidates: &[(u32, u64)],
) -> Result<()> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut index = txn.open_table(VISITOR_SESSIONS)?;
    let mut deleted = txn.open_table(DELETED_SESSIONS)?;
    let opt_outs = txn.open_table(OPT_OUTS)?;
    // Sessions in a block by now: those the request found left theirs
    // when it was recorded, but a session first stored after it (its
    // events named no visitor, so they were kept, hidden from reads)
    // entered one.
    let mut in_blocks: BTreeMap<i32, BTreeSet<u64>> = BTreeMap::new();
    for (hash, row) in hidden_sessions(&sessions, &index, site_id, &d.hidden)? {
        if let Some(fp) = row.first_pv {
            in_blocks.entry(day_of(fp.ts)).or_default().insert(hash);
        }
        sessions.remove((site_id, hash))?;
        touched.session(site_id, hash);
        let visitors = row.index_visitors(hash);
        let mut opted_out = false;
        for v in &visitors {
            index.remove((site_id, *v, hash))?;
            touched.visitor(site_id, *v);
            opted_out |= opt_outs.get((site_id, *v))?.is_some();
        }
        let owner = d.by_session.get(&hash).and_then(|&i| d.batch.get(i));
        if let Some(r) = owner {
            let cutoff = if opted_out { i64::MAX } else { r.requested_at };
            let prev = deleted.get((site_id, hash))?.map(|g| g.value());
            deleted.insert((site_id, hash), prev.unwrap_or(i64::MIN).max(cutoff))?;
        }
    }
    let mut cookieless = txn.open_table(COOKIELESS)?;
    for &k in cookieless_candidates {
        let doomed = cookieless
            .get(k)?
            .is_some_and(|v| d.hidden.session_hidden(v.value().1, k.1));
        if doomed {
            cookieless.remove(k)?;
            touched.cookieless(k.0, k.1);
        }
    }
    let mut blocks = BlockTables::open(txn)?;
    if d.hidden.all {
        blocks.remove_days(site_id, i32::MIN..i32::MAX)?;
        return Ok(());
    }
    for (day, hashes) in in_blocks {
        blocks.retain((site_id, day), |e| !hashes.contains(&e.hash))?;
    }
    Ok(())
}

/// The sessions of a site with a day before `before` (retention's
/// candidates), found on a snapshot.
fn sessions_before(snap: &ReadTransaction, site: u32, before: i64) -> Result<Vec<u64>> {
    let sessions = snap.open_table(SESSIONS)?;
    let mut out = Vec::new();
    for e in sessions.range((site, 0)..=(site, u64::MAX))? {
        let (k, v) = e?;
        let row = SessionRow::decode(v.value())?;
        if row.days.iter().any(|&d| d < day_of(before))
            || row.first_pv.is_some_and(|f| f.ts < before)
        {
            out.push(k.value().1);
        }
    }
    Ok(out)
}

/// Retention: sessions whose first pageview is before `before` leave the
/// blocks; session rows with no day left go. `candidates` (found on a
/// snapshot) are read again here.
fn remove_sessions_before(
    txn: &WriteTransaction,
    touched: &mut Touched,
    site: u32,
    before: i64,
    candidates: &[u64],
) -> Result<()> {
    BlockTables::open(txn)?.remove_days(site, i32::MIN..day_of(before))?;
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut index = txn.open_table(VISITOR_SESSIONS)?;
    for &hash in candidates {
        let Some(bytes) = sessions.get((site, hash))?.map(|g| g.value().to_vec()) else {
            continue;
        };
        let mut row = SessionRow::decode(&bytes)?;
        let n = row.days.len();
        row.days.retain(|&d| d >= day_of(before));
        let lost_first = row.first_pv.is_some_and(|f| f.ts < before);
        if lost_first {
            row.first_pv = None;
        }
        touched.session(site, hash);
        if row.days.is_empty() {
            sessions.remove((site, hash))?;
            for v in row.index_visitors(hash) {
                index.remove((site, v, hash))?;
                touched.visitor(site, v);
            }
        } else if row.days.len() != n || lost_first {
            sessions.insert((site, hash), row.encode().as_slice())?;
        }
    }
    Ok(())
}

/// Rewrites one partition without the rows `gone` selects, with fresh
/// dictionaries, inside `txn`. Returns the number of rows removed.
pub(crate) fn rewrite_partition(
    txn: &WriteTransaction,
    site: u32,
    day: i32,
    gone: &mut dyn FnMut(&Row) -> bool,
) -> Result<u64> {
    let mut parts = txn.open_table(PARTITIONS)?;
    let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
        return Ok(0);
    };
    let meta = PartMeta::decode(&meta)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    // Every row, in arrival order: segments, then pending batches.
    let mut rows = sealed_rows(&cols, &txn.open_table(DICTIONARIES)?, site, day, &meta)?;
    let mut pending = txn.open_table(PENDING)?;
    for e in pending.range((site, day, 0)..=(site, day, u64::MAX))? {
        rows.extend(decode_batch(e?.1.value())?);
    }
    let before = rows.len() as u64;
    rows.retain(|r| !gone(r));
    let removed = before - rows.len() as u64;
    if removed == 0 {
        return Ok(0);
    }
    // Drop the old partition whole.
    for s in &meta.segments {
        columns::remove_segment(&mut cols, site, day, s.id)?;
    }
    pending.retain_in((site, day, 0)..=(site, day, u64::MAX), |_, _| false)?;
    remove_dicts(txn, &mut cols, site, day)?;
    if rows.is_empty() {
        parts.remove((site, day))?;
        return Ok(removed);
    }
    // Rebuild it from what is left, with fresh dictionaries.
    let mut dicts = PartitionDicts::default();
    let mut new_meta = PartMeta {
        next_segment: meta.next_segment,
        ..PartMeta::default()
    };
    write_segments(txn, &mut cols, site, day, &rows, &mut dicts, &mut new_meta)?;
    save_dicts(txn, &mut cols, site, day, &dicts, &mut new_meta)?;
    parts.insert((site, day), new_meta.encode_new_version().as_slice())?;
    Ok(removed)
}

/// Drops one partition whole (retention), without decoding it. Returns
/// the number of rows it held.
fn drop_partition(txn: &WriteTransaction, site: u32, day: i32) -> Result<u64> {
    let mut parts = txn.open_table(PARTITIONS)?;
    let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
        return Ok(0);
    };
    let meta = PartMeta::decode(&meta)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    for s in &meta.segments {
        columns::remove_segment(&mut cols, site, day, s.id)?;
    }
    txn.open_table(PENDING)?
        .retain_in((site, day, 0)..=(site, day, u64::MAX), |_, _| false)?;
    remove_dicts(txn, &mut cols, site, day)?;
    parts.remove((site, day))?;
    Ok(meta.segments.iter().map(|s| u64::from(s.rows)).sum::<u64>() + meta.pending_rows)
}
