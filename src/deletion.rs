//! Deletion requests, opt-outs, retention and verified erasure.
//!
//! A request is recorded durably with its deadline (time asked + the
//! site's purge window, at most 180 days). From the moment it commits, no
//! report, replay, session list or count includes its data: the request's
//! target is a tombstone every read consults, and the derived session
//! blocks are rewritten in the same transaction.
//!
//! [`Store::maintenance`] then carries out every pending request: it
//! rewrites the affected partitions without the rows (fresh dictionaries,
//! so strings nothing references any more go too), removes the session
//! rows and cookieless state, and finally rewrites the whole file into a
//! fresh one that replaces the old by an atomic rename, because redb does
//! not zero the pages it frees. Each step commits on its own and is
//! idempotent, so a run killed at any point is finished by the next one.

use std::collections::BTreeSet;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::Serialize;

use crate::core::Core;
use crate::error::{Error, Result};
use crate::normalize::id_hash;
use crate::storage::columns;
use crate::storage::file::{Db, Location};
use crate::storage::hiding::{hidden_sessions, record_request};
use crate::storage::partition::PartMeta;
use crate::storage::requests::{
    all_requests, mark_purged, DeletionRequest, RequestStatus, StoredTarget,
};
use crate::storage::row::{decode_batch, Row};
use crate::storage::schema::*;
use crate::storage::seal::{load_dicts, save_dicts, write_segments};
use crate::storage::segment;
use crate::storage::sessions::SessionRow;
use crate::storage::sites::ensure_site;
use crate::storage::tombstones::Hidden;
use crate::storage::{day_of, day_start};

/// What a deletion request deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletionTarget {
    /// Every event and session of one visitor (the `visitor` id, or the
    /// `session` id of a session none of whose events names a visitor).
    /// It covers every session any of whose events named the visitor, in
    /// whatever order they arrived: a session whose events name two
    /// visitors (a login switching ids) is deleted whole by a request for
    /// either. Events of those sessions that happened before the request
    /// and arrive after it are dropped at ingest.
    Visitor(String),
    /// Every event of one session.
    Session(String),
    /// Every event with `ts` in `[from, to)`. Sessions whose first pageview
    /// is in the range lose their attributes (they came from it) and leave
    /// the session reports; their other events stay.
    TimeRange {
        /// Start, ms since the epoch, inclusive.
        from: i64,
        /// End, exclusive.
        to: i64,
    },
    /// All data of the site.
    Site,
}

/// What a maintenance run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MaintenanceReport {
    /// Requests erased by this run.
    pub erased: Vec<u64>,
    /// Rows removed by this run.
    pub rows_removed: u64,
    /// Partitions rewritten or dropped.
    pub partitions_rewritten: u64,
    /// Partitions dropped by retention.
    pub partitions_expired: u64,
    /// Bytes of the file before and after the rewrite.
    pub file_bytes_before: u64,
    /// Bytes of the file after.
    pub file_bytes_after: u64,
    /// Requests past their deadline and not erased before this run.
    pub overdue: Vec<u64>,
}

pub(crate) use crate::time::now_ms;

impl Core {
    /// [`Store::request_deletion`] as if asked at `now` (ms since the epoch).
    pub(crate) fn request_deletion_at(
        &self,
        site: &str,
        target: DeletionTarget,
        now: i64,
    ) -> Result<u64> {
        if let DeletionTarget::TimeRange { from, to } = target {
            if from >= to {
                return Err(Error::InvalidArgument(format!(
                    "deletion time range is empty: from {from} is not before to {to}"
                )));
            }
        }
        let settings = self.site_settings(site)?;
        settings.validate()?;
        let mut state = self.lock();
        let txn = self.db.rw()?.begin_write()?;
        // A request for a site the store never saw is a mistake (a typo in
        // the name would otherwise record a request that deletes nothing).
        if txn.open_table(SITES)?.get(site)?.is_none() {
            return Err(Error::UnknownSite {
                site: site.to_owned(),
            });
        }
        let (site_id, key) = ensure_site(&txn, site)?;
        let stored = match &target {
            DeletionTarget::Visitor(v) => StoredTarget::Visitor {
                hash: id_hash(&key, v),
            },
            DeletionTarget::Session(s) => StoredTarget::Session {
                hash: id_hash(&key, s),
            },
            DeletionTarget::TimeRange { from, to } => StoredTarget::TimeRange {
                from: *from,
                to: *to,
            },
            DeletionTarget::Site => StoredTarget::Site,
        };
        let id = record_request(&txn, site, site_id, stored, settings.purge_window_days, now)?;
        txn.commit()?;
        state.sites.remove(site);
        Ok(id)
    }

    /// Opts a visitor out: their future events are dropped at ingest and a
    /// deletion request is filed for their past ones. Returns its id.
    pub(crate) fn opt_out(&self, site: &str, visitor: &str) -> Result<u64> {
        let settings = self.site_settings(site)?;
        let mut state = self.lock();
        let txn = self.db.rw()?.begin_write()?;
        let (site_id, key) = ensure_site(&txn, site)?;
        let hash = id_hash(&key, visitor);
        txn.open_table(OPT_OUTS)?.insert((site_id, hash), ())?;
        let id = record_request(
            &txn,
            site,
            site_id,
            StoredTarget::Visitor { hash },
            settings.purge_window_days,
            now_ms(),
        )?;
        txn.commit()?;
        state.sites.remove(site);
        Ok(id)
    }

    /// Every deletion request with its status and deadline, oldest first.
    pub(crate) fn deletion_requests(&self) -> Result<Vec<DeletionRequest>> {
        all_requests(&self.db)
    }

    /// Requests past their deadline at `now` and not erased yet.
    pub(crate) fn overdue_requests(&self, now: i64) -> Result<Vec<DeletionRequest>> {
        Ok(all_requests(&self.db)?
            .into_iter()
            .filter(|r| r.overdue(now))
            .collect())
    }

    /// Carries out every pending deletion request and the sites' retention
    /// at `now`, then rewrites the file so no freed page keeps erased bytes.
    /// Idempotent; safe to kill at any point (the next run finishes).
    pub(crate) fn maintenance(&mut self, now: i64) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport {
            overdue: self.overdue_requests(now)?.iter().map(|r| r.id).collect(),
            ..MaintenanceReport::default()
        };
        report.partitions_expired = self.expire(now)?;
        let requests: Vec<DeletionRequest> = self
            .deletion_requests()?
            .into_iter()
            .filter(|r| r.status == RequestStatus::Pending)
            .collect();
        // One purge per site for all its pending requests: each affected
        // partition is rewritten once, however many requests touch it.
        let mut by_site: std::collections::BTreeMap<&str, Vec<&DeletionRequest>> =
            std::collections::BTreeMap::new();
        for r in &requests {
            by_site.entry(r.site.as_str()).or_default().push(r);
        }
        for (site, batch) in by_site {
            let (rows, parts) = self.purge(site, &batch, now)?;
            report.rows_removed += rows;
            report.partitions_rewritten += parts;
        }
        let to_erase: Vec<DeletionRequest> = self
            .deletion_requests()?
            .into_iter()
            .filter(|r| r.status == RequestStatus::Purged)
            .collect();
        report.file_bytes_before = self
            .path()
            .map_or(Ok(0), |p| std::fs::metadata(p).map(|m| m.len()))?;
        if !to_erase.is_empty() || report.partitions_expired > 0 {
            self.rewrite_file()?;
        }
        report.file_bytes_after = self
            .path()
            .map_or(Ok(0), |p| std::fs::metadata(p).map(|m| m.len()))?;
        if !to_erase.is_empty() {
            let txn = self.db.rw()?.begin_write()?;
            {
                let mut t = txn.open_table(DELETIONS)?;
                for mut r in to_erase {
                    r.status = RequestStatus::Erased;
                    r.erased_at = Some(now);
                    t.insert(r.id, r.encode().as_slice())?;
                    report.erased.push(r.id);
                }
            }
            txn.commit()?;
        }
        Ok(report)
    }

    /// Drops partitions older than each site's retention.
    fn expire(&mut self, now: i64) -> Result<u64> {
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
    fn purge(&mut self, site: &str, batch: &[&DeletionRequest], now: i64) -> Result<(u64, u64)> {
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
                .map(|&(f, t)| (day_of(f.max(0)), day_of((t - 1).max(0))))
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

    /// Rewrites every table into a fresh file and swaps it in atomically:
    /// the new file holds only live pages, so nothing erased survives in
    /// its bytes.
    ///
    /// The fresh file is built as `<name>.rewrite` beside the store and
    /// renamed over it while this process still holds it open: its lock
    /// covers the file at the store's path from the rename on, so no other
    /// process can open the store in between. Only maintenance touches the
    /// `.rewrite` file (a stale one, left by a run that died, is removed
    /// here, under the store's lock).
    pub(crate) fn rewrite_file(&mut self) -> Result<()> {
        // `&mut self`: no writer can exist while the file is swapped.
        let fresh = match &self.location {
            Location::File(path) => {
                let tmp = rewrite_path(path);
                match std::fs::remove_file(&tmp) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
                let fresh = Database::create(&tmp)?;
                copy_all(self.db.rw()?, &fresh)?;
                std::fs::rename(&tmp, path)?;
                crate::storage::file::sync_dir(path.parent().unwrap_or(Path::new(".")));
                fresh
            }
            Location::Memory => {
                let fresh = Database::builder()
                    .create_with_backend(redb::backends::InMemoryBackend::new())?;
                copy_all(self.db.rw()?, &fresh)?;
                fresh
            }
            Location::Vfs(vfs, name) => {
                let tmp = format!("{name}.rewrite");
                vfs.remove(&tmp)?;
                let backend = crate::storage::file::Boxed(vfs.open(&tmp, true)?);
                let fresh = Database::builder().create_with_backend(backend)?;
                copy_all(self.db.rw()?, &fresh)?;
                vfs.rename(&tmp, name)?;
                fresh
            }
        };
        self.db = Db::Rw(fresh);
        Ok(())
    }
}

/// The temporary file a rewrite builds before the rename.
pub(crate) fn rewrite_path(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".rewrite");
    path.with_file_name(name)
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

/// Copies every heatstore table into a fresh database.
fn copy_all(from: &Database, to: &Database) -> Result<()> {
    let r = from.begin_read()?;
    let w = to.begin_write()?;
    crate::storage::schema::copy_tables(&r, &w, false)?;
    w.commit()?;
    Ok(())
}
