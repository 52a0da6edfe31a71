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

mod purge;
mod rewrite;

use redb::ReadableTable;
use serde::Serialize;

use crate::core::Core;
use crate::error::{Error, Result};
use crate::normalize::id_hash;
use crate::storage::hiding::record_request;
use crate::storage::meta::{last_run, put_last_run, MaintenanceRun};
use crate::storage::requests::{all_requests, DeletionRequest, RequestStatus, StoredTarget};
use crate::storage::schema::*;
use crate::storage::sites::ensure_site;

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
    /// The longest time this run kept commits waiting, in µs: one of its
    /// own short transactions, or the pause in which the file rewrite
    /// catches up for the last time and swaps the files.
    pub longest_pause_us: u64,
    /// Catch-up rounds of the file rewrite (0: no rewrite was needed).
    pub rewrite_rounds: u32,
    /// How long the run took, in ms.
    pub duration_ms: u64,
}

/// Where erasure stands: see [`crate::Store::maintenance_status`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MaintenanceStatus {
    /// Whether a maintenance run is under way.
    pub running: bool,
    /// The last run that finished (kept in the file).
    pub last_run: Option<MaintenanceRun>,
    /// Requests not erased yet.
    pub pending: usize,
    /// The earliest deadline among them, ms since the epoch.
    pub earliest_deadline: Option<i64>,
    /// When the next run is due (`None`: nothing to do).
    pub next_due: Option<i64>,
    /// Requests past their deadline and not erased.
    pub overdue: Vec<u64>,
}

/// The commit pauses a maintenance run imposes, as it runs them.
#[derive(Debug, Default)]
pub(crate) struct Pauses {
    /// The longest so far.
    pub(crate) longest: std::time::Duration,
}

impl Pauses {
    /// Runs one write transaction (see [`Core::write`]) and notes how long
    /// it held the commit lock.
    pub(crate) fn write<T>(
        &mut self,
        core: &Core,
        f: impl FnOnce(&redb::WriteTransaction, &mut crate::storage::journal::Touched) -> Result<T>,
    ) -> Result<T> {
        let (out, held) = core.write_held(f)?;
        self.note(held);
        Ok(out)
    }

    /// Notes one pause.
    pub(crate) fn note(&mut self, d: std::time::Duration) {
        self.longest = self.longest.max(d);
    }
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
        let mut state = self.lock_settled();
        let reserved = state.reserved();
        let id = self.write(|txn, touched| {
            // A request for a site the store never saw is a mistake (a
            // typo in the name would otherwise record a request that
            // deletes nothing). A site a writer made and has not
            // committed yet is known.
            if txn.open_table(SITES)?.get(site)?.is_none() && !reserved.sites.contains_key(site) {
                return Err(Error::UnknownSite {
                    site: site.to_owned(),
                });
            }
            let (site_id, key) = ensure_site(txn, site, &reserved)?;
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
            record_request(
                txn,
                touched,
                site,
                site_id,
                stored,
                settings.purge_window_days,
                now,
            )
        })?;
        state.sites.remove(site);
        Ok(id)
    }

    /// Opts a visitor out: their future events are dropped at ingest and a
    /// deletion request is filed for their past ones. Returns its id.
    pub(crate) fn opt_out(&self, site: &str, visitor: &str) -> Result<u64> {
        let settings = self.site_settings(site)?;
        let mut state = self.lock_settled();
        let reserved = state.reserved();
        let id = self.write(|txn, touched| {
            let (site_id, key) = ensure_site(txn, site, &reserved)?;
            let hash = id_hash(&key, visitor);
            txn.open_table(OPT_OUTS)?.insert((site_id, hash), ())?;
            record_request(
                txn,
                touched,
                site,
                site_id,
                StoredTarget::Visitor { hash },
                settings.purge_window_days,
                now_ms(),
            )
        })?;
        state.sites.remove(site);
        Ok(id)
    }

    /// Every deletion request with its status and deadline, oldest first.
    pub(crate) fn deletion_requests(&self) -> Result<Vec<DeletionRequest>> {
        all_requests(&self.db())
    }

    /// Requests past their deadline at `now` and not erased yet.
    pub(crate) fn overdue_requests(&self, now: i64) -> Result<Vec<DeletionRequest>> {
        Ok(all_requests(&self.db())?
            .into_iter()
            .filter(|r| r.overdue(now))
            .collect())
    }

    /// Carries out every pending deletion request and the sites' retention
    /// at `now`, then rewrites the file so no freed page keeps erased bytes.
    /// Idempotent; safe to kill at any point (the next run finishes). Runs
    /// while the store keeps serving: one run at a time (a second waits).
    pub(crate) fn maintenance(&self, now: i64) -> Result<MaintenanceReport> {
        let _one = self
            .maintenance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.db().rw()?;
        let started = std::time::Instant::now();
        let started_at = now_ms();
        let mut pauses = Pauses::default();
        let mut report = MaintenanceReport {
            overdue: self.overdue_requests(now)?.iter().map(|r| r.id).collect(),
            ..MaintenanceReport::default()
        };
        report.partitions_expired = self.expire(now, &mut pauses)?;
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
            let (rows, parts) = self.purge(site, &batch, now, &mut pauses)?;
            report.rows_removed += rows;
            report.partitions_rewritten += parts;
        }
        let to_erase: Vec<DeletionRequest> = self
            .deletion_requests()?
            .into_iter()
            .filter(|r| r.status == RequestStatus::Purged)
            .collect();
        report.file_bytes_before = self.file_bytes()?;
        if !to_erase.is_empty() || report.partitions_expired > 0 {
            report.rewrite_rounds = self.rewrite_file(&mut pauses)?.rounds;
        }
        report.file_bytes_after = self.file_bytes()?;
        if !to_erase.is_empty() {
            let erased = pauses.write(self, |txn, _| {
                let mut t = txn.open_table(DELETIONS)?;
                let mut erased = Vec::new();
                for mut r in to_erase {
                    r.status = RequestStatus::Erased;
                    r.erased_at = Some(now);
                    t.insert(r.id, r.encode().as_slice())?;
                    erased.push(r.id);
                }
                Ok(erased)
            })?;
            report.erased = erased;
        }
        report.longest_pause_us = u64::try_from(pauses.longest.as_micros()).unwrap_or(u64::MAX);
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let run = MaintenanceRun {
            started_at,
            finished_at: now_ms(),
            as_of: now,
            erased: report.erased.len() as u64,
            rows_removed: report.rows_removed,
            partitions_expired: report.partitions_expired,
            longest_pause_us: report.longest_pause_us,
        };
        self.write(|txn, _| put_last_run(txn, &run))?;
        Ok(report)
    }

    /// Where erasure stands at `now`: the last maintenance run, what is
    /// pending, what is overdue, and when a run is next due given `lead`
    /// (how long before a deadline a run must happen), `batch_after` (how
    /// old a pending request may get before a run carries it out) and
    /// `retention_every` (how often retention runs for sites that have one).
    pub(crate) fn maintenance_status(
        &self,
        now: i64,
        lead: std::time::Duration,
        batch_after: std::time::Duration,
        retention_every: std::time::Duration,
    ) -> Result<MaintenanceStatus> {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let view = self.view()?;
        let last_run = last_run(view.txn())?;
        let requests = self.deletion_requests()?;
        let open: Vec<&DeletionRequest> = requests
            .iter()
            .filter(|r| r.status != RequestStatus::Erased)
            .collect();
        let earliest_deadline = open.iter().map(|r| r.deadline).min();
        let oldest = open.iter().map(|r| r.requested_at).min();
        let mut due = [
            earliest_deadline.map(|d| d.saturating_sub(ms(lead))),
            oldest.map(|t| t.saturating_add(ms(batch_after))),
        ]
        .into_iter()
        .flatten()
        .min();
        let mut has_retention = false;
        for site in view.sites()? {
            if let Some((_, r)) = view.site_record(&site)? {
                has_retention |= r.settings.retention_days.is_some();
            }
        }
        if has_retention {
            let next = last_run
                .as_ref()
                .map_or(now, |r| r.as_of.saturating_add(ms(retention_every)));
            due = Some(due.map_or(next, |d| d.min(next)));
        }
        Ok(MaintenanceStatus {
            running: self.maintenance.try_lock().is_err()
                && !self.sealing_aside.load(std::sync::atomic::Ordering::SeqCst),
            last_run,
            pending: open.len(),
            earliest_deadline,
            next_due: due,
            overdue: open
                .iter()
                .filter(|r| r.overdue(now))
                .map(|r| r.id)
                .collect(),
        })
    }

    /// The size of the store's file (0 in memory).
    fn file_bytes(&self) -> Result<u64> {
        Ok(self
            .path()
            .map_or(Ok(0), |p| std::fs::metadata(p).map(|m| m.len()))?)
    }

    /// Rewrites the file into a fresh, compact one while the store keeps
    /// serving. Returns whether it ran (not on a read-only store).
    pub(crate) fn compact(&self) -> Result<bool> {
        let _one = self
            .maintenance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.db().rw()?;
        self.rewrite_file(&mut Pauses::default())?;
        Ok(true)
    }
}
