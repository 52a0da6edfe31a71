//! The purge: a batch of pending requests carried out in one transaction
//! per site (affected partitions rewritten without the rows, with fresh
//! dictionaries; session rows, index entries and cookieless state removed),
//! and retention (partitions older than a site's retention dropped).

use crate::core::Core;
use crate::error::Result;
use crate::storage::columns;
use crate::storage::hiding::{hidden_sessions, record_request};
use crate::storage::partition::PartMeta;
use crate::storage::requests::{mark_purged, DeletionRequest, StoredTarget};
use crate::storage::row::{decode_batch, Row};
use crate::storage::schema::*;
use crate::storage::seal::{load_dicts, save_dicts, write_segments};
use crate::storage::segment;
use crate::storage::sessions::SessionRow;
use crate::storage::tombstones::Hidden;
use crate::storage::{day_of, day_start};
use redb::{ReadableTable, WriteTransaction};
use std::collections::BTreeSet;

impl Core {
    /// Drops partitions older than each site's retention.
    pub(super) fn expire(&mut self, now: i64) -> Result<u64> {
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
            let old: Vec<i32> = {
                let snap = self.view()?;
                snap.partitions(site_id, i32::MIN, day_of(before) - 1)?
                    .into_iter()
                    .map(|(d, _)| d)
                    .collect()
            };
            let has_blocks = {
                let txn = self.db.begin_read()?;
                let b = txn.open_table(SESSION_BLOCKS)?;
                let mut old_blocks = b.range((site_id, i32::MIN)..(site_id, day_of(before)))?;
                old_blocks.next().is_some()
            };
            if old.is_empty() && !has_blocks {
                continue;
            }
            let _guard = self.lock();
            let txn = self.db.rw()?.begin_write()?;
            let id = record_request(
                &txn,
                &name,
                site_id,
                StoredTarget::Retention { before },
                0,
                now,
            )?;
            let mut rows = 0;
            for day in &old {
                rows += rewrite_partition(&txn, site_id, *day, &|_| true)?;
            }
            remove_sessions_before(&txn, site_id, before)?;
            mark_purged(&txn, id, rows, now)?;
            txn.commit()?;
            dropped += old.len() as u64;
        }
        Ok(dropped)
    }

    /// Removes a request's rows from every table, in one transaction.
    pub(super) fn purge(
        &mut self,
        site: &str,
        batch: &[&DeletionRequest],
        now: i64,
    ) -> Result<(u64, u64)> {
        let _guard = self.lock();
        let txn = self.db.rw()?.begin_write()?;
        let found = txn.open_table(SITES)?.get(site)?.map(|g| g.value());
        let Some(site_id) = found else {
            for r in batch {
                mark_purged(&txn, r.id, 0, now)?;
            }
            txn.commit()?;
            return Ok((0, 0));
        };
        // One tombstone set for the whole batch, and which request each
        // removed row is counted for (the first that matches).
        let mut hidden = Hidden::default();
        let mut by_session = foldhash::HashMap::default();
        let mut visitor_requests = Vec::new();
        let mut ranges = Vec::new();
        let mut whole_site = None;
        for (i, r) in batch.iter().enumerate() {
            hidden.add(&r.target);
            match r.target {
                StoredTarget::Visitor { hash } => visitor_requests.push((hash, i)),
                StoredTarget::Session { hash } => {
                    by_session.entry(hash).or_insert(i);
                }
                StoredTarget::TimeRange { from, to } => ranges.push((from, to, i)),
                StoredTarget::Retention { before } => ranges.push((i64::MIN, before, i)),
                StoredTarget::Site => {
                    whole_site.get_or_insert(i);
                }
            }
        }
        // A visitor's request owns every session any of whose events named
        // the visitor (unless an earlier request owns it).
        {
            let index = txn.open_table(VISITOR_SESSIONS)?;
            for &(v, i) in &visitor_requests {
                for e in index.range((site_id, v, 0)..=(site_id, v, u64::MAX))? {
                    let s = e?.0.value().2;
                    let slot = by_session.entry(s).or_insert(i);
                    *slot = (*slot).min(i);
                }
            }
            hidden.resolve(&index, site_id)?;
        }
        let owner = |row: &Row| -> Option<usize> {
            [
                whole_site,
                by_session.get(&row.session).copied(),
                ranges
                    .iter()
                    .find(|&&(f, t, _)| row.ts >= f && row.ts < t)
                    .map(|&(_, _, i)| i),
            ]
            .into_iter()
            .flatten()
            .min()
        };
        // The partitions the batch can have rows in.
        let mut days = BTreeSet::new();
        if !hidden.sessions.is_empty() || !hidden.visitors.is_empty() {
            let sessions = txn.open_table(SESSIONS)?;
            let index = txn.open_table(VISITOR_SESSIONS)?;
            for (_, row) in hidden_sessions(&sessions, &index, site_id, &hidden)? {
                days.extend(row.days);
            }
        }
        {
            let parts = txn.open_table(PARTITIONS)?;
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
        }
        let counts = std::cell::RefCell::new(vec![0u64; batch.len()]);
        let mut rows = 0;
        for &day in &days {
            rows += rewrite_partition(&txn, site_id, day, &|row| {
                if !hidden.row_hidden(row) {
                    return false;
                }
                if let Some(i) = owner(row) {
                    if let Some(c) = counts.borrow_mut().get_mut(i) {
                        *c += 1;
                    }
                }
                true
            })?;
        }
        // Session rows, blocks and cookieless state of deleted sessions;
        // the hashes of sessions deleted by id or visitor are kept, so that
        // their late events are dropped at ingest.
        {
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut index = txn.open_table(VISITOR_SESSIONS)?;
            let mut deleted = txn.open_table(DELETED_SESSIONS)?;
            let opt_outs = txn.open_table(OPT_OUTS)?;
            for (hash, row) in hidden_sessions(&sessions, &index, site_id, &hidden)? {
                sessions.remove((site_id, hash))?;
                let visitors = row.index_visitors(hash);
                let mut opted_out = false;
                for v in &visitors {
                    index.remove((site_id, *v, hash))?;
                    opted_out |= opt_outs.get((site_id, *v))?.is_some();
                }
                let owner = by_session.get(&hash).and_then(|&i| batch.get(i));
                if let Some(r) = owner {
                    let cutoff = if opted_out { i64::MAX } else { r.requested_at };
                    let prev = deleted.get((site_id, hash))?.map(|g| g.value());
                    deleted.insert((site_id, hash), prev.unwrap_or(i64::MIN).max(cutoff))?;
                }
            }
            let mut cookieless = txn.open_table(COOKIELESS)?;
            let mut doomed = Vec::new();
            for e in cookieless.range((site_id, 0)..=(site_id, u64::MAX))? {
                let (k, v) = e?;
                if hidden.session_hidden(v.value().1, k.value().1) {
                    doomed.push(k.value());
                }
            }
            for k in doomed {
                cookieless.remove(k)?;
            }
        }
        if hidden.all {
            let range = (site_id, i32::MIN)..=(site_id, i32::MAX);
            let mut blocks = txn.open_table(SESSION_BLOCKS)?;
            blocks.retain_in(range.clone(), |_, _| false)?;
            let mut versions = txn.open_table(SESSION_BLOCK_VERSIONS)?;
            versions.retain_in(range, |_, _| false)?;
        }
        for (r, n) in batch.iter().zip(counts.into_inner()) {
            mark_purged(&txn, r.id, n, now)?;
        }
        txn.commit()?;
        Ok((rows, days.len() as u64))
    }
}

/// Retention: sessions whose first pageview is before `before` leave the
/// blocks; session rows with no day left go.
fn remove_sessions_before(txn: &WriteTransaction, site: u32, before: i64) -> Result<()> {
    let range = (site, i32::MIN)..(site, day_of(before));
    let mut blocks = txn.open_table(SESSION_BLOCKS)?;
    blocks.retain_in(range.clone(), |_, _| false)?;
    let mut versions = txn.open_table(SESSION_BLOCK_VERSIONS)?;
    versions.retain_in(range, |_, _| false)?;
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut doomed = Vec::new();
    let mut update = Vec::new();
    for e in sessions.range((site, 0)..=(site, u64::MAX))? {
        let (k, v) = e?;
        let mut row = SessionRow::decode(v.value())?;
        let n = row.days.len();
        row.days.retain(|&d| d >= day_of(before));
        if row.first_pv.is_some_and(|f| f.ts < before) {
            row.first_pv = None;
        }
        if row.days.is_empty() {
            doomed.push((k.value(), row.index_visitors(k.value().1)));
        } else if row.days.len() != n {
            update.push((k.value(), row));
        }
    }
    let mut index = txn.open_table(VISITOR_SESSIONS)?;
    for ((site, hash), visitors) in doomed {
        sessions.remove((site, hash))?;
        for v in visitors {
            index.remove((site, v, hash))?;
        }
    }
    for (k, row) in update {
        sessions.insert(k, row.encode().as_slice())?;
    }
    Ok(())
}

/// Rewrites one partition without the rows `gone` selects, with fresh
/// dictionaries. Returns the number of rows removed.
pub(crate) fn rewrite_partition(
    txn: &WriteTransaction,
    site: u32,
    day: i32,
    gone: &dyn Fn(&Row) -> bool,
) -> Result<u64> {
    let mut parts = txn.open_table(PARTITIONS)?;
    let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
        return Ok(0);
    };
    let meta = PartMeta::decode(&meta)?;
    let old_dicts = load_dicts(&txn.open_table(DICTIONARIES)?, site, day)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    // Every row, in arrival order: segments, then pending batches.
    let mut rows = Vec::new();
    for s in &meta.segments {
        let c = columns::get_all(&cols, site, day, s.id)?;
        rows.extend(segment::decode_rows(&c, s.rows, day, &old_dicts)?);
    }
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
    let mut dict_table = txn.open_table(DICTIONARIES)?;
    dict_table.retain_in((site, day, 0)..=(site, day, u8::MAX), |_, _| false)?;
    drop(dict_table);
    if rows.is_empty() {
        parts.remove((site, day))?;
        return Ok(removed);
    }
    // Rebuild it from what is left, with fresh dictionaries.
    let mut dicts = segment::PartitionDicts::default();
    let mut new_meta = PartMeta {
        next_segment: meta.next_segment,
        ..PartMeta::default()
    };
    write_segments(txn, &mut cols, site, day, &rows, &mut dicts, &mut new_meta)?;
    parts.insert((site, day), new_meta.encode_new_version().as_slice())?;
    save_dicts(txn, site, day, &dicts)?;
    Ok(removed)
}
