//! The writer: append events, commit them in one redb transaction, seal
//! full partitions into segments. What a commit writes is in `batch`.
//!
//! A commit writes the batch as pending rows, updates the session rows and
//! the session blocks they derive, and seals every partition whose pending
//! rows reached [`SEAL_ROWS`]: all in one transaction, so a crash loses at
//! most the uncommitted batch and never leaves half of one.

use foldhash::HashMap;
use std::sync::{Arc, MutexGuard};

use redb::ReadableTable;

use crate::core::{Core, InFlight, SiteState, WriterState};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::ingest::{prepare, Prepared};
use crate::ingest::{Dropped, Normalizer};
use crate::normalize::{cookieless_visitor, id_hash, IdKey};
use crate::storage::partition::PartMeta;
use crate::storage::row::Row;
use crate::storage::schema::*;
use crate::storage::seal::seal_many;
use crate::storage::sessions::FirstPv;
use crate::storage::sites::next_site_id;
use crate::storage::sites::{SiteRecord, SiteSettings};
use crate::storage::tombstones::{Covered, Hit};
use crate::storage::{day_of, Corrupt, DAY_MS};

mod aside;
mod batch;

pub use crate::core::SEAL_ROWS;

pub(crate) use aside::Aside;
use batch::CoveredSession;
pub(crate) use batch::{settled_before, write_batch, Batch, CommitPlan, Written};

/// Cookieless sessions end after this much inactivity.
pub const COOKIELESS_SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// What happened to an appended event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Buffered; stored at the next commit.
    Buffered,
    /// Accepted but dropped by a privacy rule.
    Dropped(Dropped),
}

/// What a commit stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// Events made durable.
    pub events: u64,
    /// Partitions sealed into segments by this commit.
    pub sealed_partitions: u64,
    /// Events the commit dropped because an opt-out or deletion request
    /// recorded by then covers them.
    pub dropped: u64,
}

/// Appends events and commits them. Get one from [`crate::Store::writer`];
/// any number may exist at once, on any threads.
///
/// A writer validates and normalizes each event as it is appended and
/// keeps it until [`Writer::commit`], which stores everything appended
/// since the last commit in one transaction. Holding a writer blocks
/// nothing: the store is locked only while a commit runs (and while one
/// `append` normalizes its event), so deletion requests, opt-outs, site
/// settings, imports, other writers and maintenance go on meanwhile.
/// Events appended since the last commit are lost when the writer is
/// dropped or the process dies; committed ones never are.
///
/// For many threads submitting events, [`crate::Store::ingest`] groups
/// their submissions into shared commits.
pub struct Writer<'s> {
    core: &'s Core,
    /// Appended and not committed: each with its site's name.
    items: Vec<(Arc<str>, Prepared)>,
}

/// Most rows that the spare vectors of a writer may hold room for.
const SPARE_ROWS: usize = 1 << 19;

impl<'s> Writer<'s> {
    /// Events appended and not committed yet.
    pub fn buffered(&self) -> usize {
        self.items.len()
    }

    /// Validates and normalizes one event and keeps it for the next
    /// commit.
    ///
    /// Returns [`Appended::Dropped`] for an event a privacy rule drops:
    /// Do Not Track, a sensitive selector, and an opt-out or deletion
    /// request known at this moment. The last two are checked again at
    /// commit, against the requests recorded by then, and the commit's
    /// [`CommitSummary::dropped`] counts what they dropped.
    pub fn append(&mut self, event: &Event) -> Result<Appended> {
        crate::guard::guarded("writing (append)", || {
            let event = event.view();
            event.validate()?;
            let mut b = Builder::new(self.core);
            let (site, p) = match b.prepare(&event)? {
                Ok(prepared) => prepared,
                Err(dropped) => return Ok(Appended::Dropped(dropped)),
            };
            let seen = b.would_drop(&site, &p);
            drop(b);
            self.items.push((site, p));
            Ok(seen.map_or(Appended::Buffered, Appended::Dropped))
        })
    }

    /// Makes every appended event durable, in one transaction.
    pub fn commit(&mut self) -> Result<CommitSummary> {
        crate::guard::guarded("writing (commit)", || {
            let items = std::mem::take(&mut self.items);
            let mut b = Builder::new(self.core);
            let mut dropped = 0;
            for (site, p) in items {
                if let Appended::Dropped(_) = b.append_prepared(&site, None, p)? {
                    dropped += 1;
                }
            }
            let mut summary = b.commit()?;
            summary.dropped += dropped;
            Ok(summary)
        })
    }

    /// Drops the appended events.
    pub fn rollback(&mut self) {
        self.items.clear();
    }

    /// Commits, then seals every partition's pending rows into segments.
    pub fn seal_all(&mut self) -> Result<u64> {
        self.commit()?;
        crate::guard::guarded("writing (seal all)", || self.core.seal_all())
    }
}

/// Most pending rows [`Core::seal_all`] decodes and encodes at once
/// (partitions are not split): about 50 MB of rows in memory.
const SEAL_ALL_GROUP_ROWS: u64 = 1 << 18;

impl Core {
    /// Seals every partition's pending rows into segments and folds every
    /// session block tail into its block, in one transaction.
    pub(crate) fn seal_all(&self) -> Result<u64> {
        self.db().rw()?;
        let t0 = std::time::Instant::now();
        let n = self.write(|txn, _| {
            let parts: Vec<(u32, i32, u64)> = {
                let t = txn.open_table(PARTITIONS)?;
                let mut v = Vec::new();
                for e in t.iter()? {
                    let (k, val) = e?;
                    let pending = PartMeta::decode(val.value())?.pending_rows;
                    if pending > 0 {
                        let (site, day) = k.value();
                        v.push((site, day, pending));
                    }
                }
                v
            };
            // In groups of about SEAL_ALL_GROUP_ROWS rows: a store of many
            // small partitions (many sites) would otherwise hold every
            // pending row at once.
            let mut group = Vec::new();
            let mut rows = 0u64;
            for (i, &(site, day, pending)) in parts.iter().enumerate() {
                group.push((site, day, Vec::new()));
                rows += pending;
                if rows >= SEAL_ALL_GROUP_ROWS || i + 1 == parts.len() {
                    seal_many(txn, std::mem::take(&mut group))?;
                    rows = 0;
                }
            }
            // And every session block tail into its block, so that reads
            // decode one block per day.
            crate::storage::sessions::BlockTables::open(txn)?.fold_all()?;
            Ok(parts.len() as u64)
        })?;
        if std::env::var_os("HEATSTORE_TRACE").is_some() {
            eprintln!("seal_all {n} partitions {:?}", t0.elapsed());
        }
        Ok(n)
    }
}

/// Builds one batch and commits it, holding the writer's state lock for
/// its whole life: batches are built one at a time, so two never claim
/// the same sequence numbers, cookieless sessions or new sites. Writers,
/// the ingest committer and imports all build through it.
pub(crate) struct Builder<'c> {
    core: &'c Core,
    state: MutexGuard<'c, WriterState>,
    batch: Batch,
    /// An import's batch ([`Builder::for_import`]).
    import: bool,
}

impl<'c> Builder<'c> {
    /// Locks the writer's state (waiting for the batch being built, if
    /// any) and starts an empty batch.
    pub(crate) fn new(core: &'c Core) -> Builder<'c> {
        Builder {
            core,
            state: core.lock(),
            batch: Batch::default(),
            import: false,
        }
    }

    /// Marks the batch as an import's: its commit seals at
    /// [`crate::core::IMPORT_SEAL_ROWS`].
    pub(crate) fn for_import(mut self) -> Builder<'c> {
        self.import = true;
        self
    }

    /// Events an import commits at a time.
    pub(crate) fn import_batch(&self) -> usize {
        self.state.import_batch
    }

    /// Events in the batch.
    pub(crate) fn len(&self) -> usize {
        self.batch.len
    }

    fn next_seq(&mut self) -> Result<u64> {
        if let Some(s) = self.state.next_seq {
            return Ok(s);
        }
        let s = stored_next_seq(&self.core.read()?.open_table(META)?)?;
        self.state.next_seq = Some(s);
        Ok(s)
    }

    /// Makes sure the writer knows `site`: loads it from the store, or
    /// creates it (uncommitted) with `new_record`, a fresh record when
    /// `None`.
    fn site(&mut self, site: &str, new_record: Option<&SiteRecord>) -> Result<()> {
        if self.state.sites.contains_key(site) {
            return Ok(());
        }
        let txn = self.core.read()?;
        let sites = txn.open_table(SITES)?;
        let conf = txn.open_table(SITE_CONFIG)?;
        let state = match crate::storage::sites::load(&sites, &conf, site)? {
            Some((id, record)) => SiteState {
                id,
                record,
                covered: crate::storage::tombstones::load(&txn, site, id)?,
                is_new: false,
            },
            None => {
                let taken = self
                    .state
                    .sites
                    .values()
                    .filter(|s| s.is_new)
                    .map(|s| s.id)
                    .max();
                let id = next_site_id(&sites)?.max(taken.map_or(0, |t| t + 1));
                SiteState {
                    id,
                    record: new_record
                        .cloned()
                        .unwrap_or_else(|| SiteRecord::new(SiteSettings::default())),
                    covered: Covered::default(),
                    is_new: true,
                }
            }
        };
        self.state.sites.insert(site.to_owned(), state);
        Ok(())
    }

    /// The record of every site the store or the writer knows.
    pub(crate) fn site_records(&mut self) -> Result<HashMap<String, SiteRecord>> {
        let names: Vec<String> = {
            let txn = self.core.read()?;
            let sites = txn.open_table(SITES)?;
            let mut v = Vec::new();
            for e in sites.iter()? {
                v.push(e?.0.value().to_owned());
            }
            v
        };
        for name in &names {
            self.site(name, None)?;
        }
        Ok(self
            .state
            .sites
            .iter()
            .map(|(name, s)| (name.clone(), s.record.clone()))
            .collect())
    }

    /// A copy of the writer's normalizer settings, for import workers.
    pub(crate) fn new_normalizer(&self) -> Normalizer {
        self.state.normalizer.fresh()
    }

    /// Normalizes a validated event for its site (loaded or made first).
    pub(crate) fn prepare(
        &mut self,
        event: &crate::event::EventRef<'_>,
    ) -> Result<std::result::Result<(Arc<str>, Prepared), Dropped>> {
        self.site(event.site, None)?;
        let WriterState {
            sites, normalizer, ..
        } = &mut *self.state;
        let Some(site) = sites.get(event.site) else {
            return Err(Error::InvalidArgument("site vanished".into()));
        };
        Ok(prepare(event, &site.record, normalizer)?.map(|p| (Arc::from(event.site), p)))
    }

    /// Normalizes a validated event and adds it to the batch.
    pub(crate) fn append_event(&mut self, event: &crate::event::EventRef<'_>) -> Result<Appended> {
        match self.prepare(event)? {
            Ok((site, p)) => self.append_prepared(&site, None, p),
            Err(dropped) => Ok(Appended::Dropped(dropped)),
        }
    }

    /// Whether a request or opt-out known now drops the prepared event
    /// (without recording anything: the commit decides).
    fn would_drop(&self, site: &str, p: &Prepared) -> Option<Dropped> {
        if p.cookieless.is_some() {
            return None;
        }
        let covered = &self.state.sites.get(site)?.covered;
        if covered.is_empty() {
            return None;
        }
        let named = p.names_visitor.then_some(p.row.visitor);
        Some(match covered.check(p.row.session, named, p.row.ts)? {
            Hit::Visitor(c) if c.cutoff == i64::MAX => Dropped::OptedOut,
            _ => Dropped::Deleted,
        })
    }

    fn salt(&mut self, day: i32) -> Result<IdKey> {
        if let Some(s) = self.batch.salts.get(&day) {
            return Ok(*s);
        }
        if let Some(s) = self.state.in_flight.iter().find_map(|f| f.salts.get(&day)) {
            let s = *s;
            self.batch.salts.insert(day, s);
            return Ok(s);
        }
        let txn = self.core.read()?;
        let salts = txn.open_table(SALTS)?;
        let stored = salts.get(day)?.map(|g| g.value().to_vec());
        let salt = match stored {
            Some(b) => <IdKey>::try_from(b.as_slice())
                .map_err(|_| Corrupt::new("cookieless salt", "not 16 bytes"))?,
            None => rand::random(),
        };
        self.batch.salts.insert(day, salt);
        Ok(salt)
    }

    fn cookieless_session(&mut self, site: u32, visitor: u64, ts: i64) -> Result<u64> {
        let known = self.batch.cookieless.get(&(site, visitor)).or_else(|| {
            // The latest batch in flight first.
            self.state
                .in_flight
                .iter()
                .rev()
                .find_map(|f| f.cookieless.get(&(site, visitor)))
        });
        let state = match known {
            Some(s) => Some(*s),
            None => {
                let txn = self.core.read()?;
                let t = txn.open_table(COOKIELESS)?;
                let v = t.get((site, visitor))?.map(|g| g.value());
                v
            }
        };
        let session = match state {
            Some((last, session)) if (ts - last).abs() <= COOKIELESS_SESSION_GAP_MS => session,
            _ => {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&visitor.to_le_bytes());
                key[8..].copy_from_slice(&ts.to_le_bytes());
                id_hash(&key, "cookieless-session")
            }
        };
        let last = state.map_or(ts, |(l, _)| l.max(ts));
        self.batch
            .cookieless
            .insert((site, visitor), (last, session));
        Ok(session)
    }

    /// Adds an event that [`prepare`] normalized with `record`, the site's
    /// record (the one a new site is created with), to the batch.
    pub(crate) fn append_prepared(
        &mut self,
        site_name: &str,
        record: Option<&SiteRecord>,
        p: Prepared,
    ) -> Result<Appended> {
        // One lookup of the site for the common case: known, nothing
        // covered by deletion requests or opt-outs.
        let key = |s: &SiteState| (s.id, !s.covered.is_empty());
        let (site_id, has_covers) = match self.state.sites.get(site_name).map(key) {
            Some(k) => k,
            None => {
                self.site(site_name, record)?;
                self.state
                    .sites
                    .get(site_name)
                    .map(key)
                    .ok_or_else(|| Error::InvalidArgument("site vanished".into()))?
            }
        };
        let seq = self.next_seq()?;
        let Prepared {
            mut row,
            attrs,
            names_visitor,
            cookieless,
        } = p;
        if let Some(c) = cookieless {
            let salt = self.salt(day_of(row.ts))?;
            row.visitor = cookieless_visitor(&salt, site_name, &c.0, &c.1);
            row.session = self.cookieless_session(site_id, row.visitor, row.ts)?;
        }
        if has_covers {
            if let Some(dropped) = self.covered(site_name, &row, names_visitor) {
                return Ok(Appended::Dropped(dropped));
            }
        }
        self.state.next_seq = Some(seq + 1);
        let (session, visitor) = (row.session, row.visitor);
        let delta = self.batch.sessions.entry((site_id, session)).or_default();
        if names_visitor {
            let at = FirstPv { ts: row.ts, seq };
            match delta.named.iter_mut().find(|(_, v)| *v == visitor) {
                Some(slot) => slot.0 = slot.0.min(at),
                None => delta.named.push((at, visitor)),
            }
        }
        let day = day_of(row.ts);
        if delta.last_day != Some(day) {
            delta.days.insert(day);
            delta.last_day = Some(day);
        }
        if let Some(attrs) = attrs {
            let fp = FirstPv { ts: row.ts, seq };
            if delta.first_pv.as_ref().is_none_or(|(old, _)| fp < *old) {
                delta.first_pv = Some((fp, *attrs));
            }
        }
        if self.batch.len == 0 {
            self.batch.start_seq = seq;
        }
        self.batch.push(site_id, day, row, &mut self.state.spare);
        Ok(Appended::Buffered)
    }

    /// Whether a deletion request or opt-out covers the row (see
    /// [`crate::covered`]); an event naming a deleted visitor covers its
    /// session from now on.
    fn covered(&mut self, site_name: &str, row: &Row, names_visitor: bool) -> Option<Dropped> {
        let site = self.state.sites.get_mut(site_name)?;
        let named = names_visitor.then_some(row.visitor);
        let hit = site.covered.check(row.session, named, row.ts)?;
        let dropped = match hit {
            Hit::Visitor(c) if c.cutoff == i64::MAX => Dropped::OptedOut,
            _ => Dropped::Deleted,
        };
        if let Hit::Visitor(cover) = hit {
            if !site.covered.session(row.session, row.ts) {
                site.covered.add_session(row.session, cover);
                let now = crate::time::now_ms();
                let window = i64::from(site.record.settings.purge_window_days) * DAY_MS;
                self.batch.covered.push(CoveredSession {
                    site: site.id,
                    site_name: site_name.to_owned(),
                    session: row.session,
                    cover,
                    deadline: if cover.deadline > now {
                        cover.deadline
                    } else {
                        now.saturating_add(window)
                    },
                });
            }
        }
        Some(dropped)
    }

    /// Drops the batch built so far, and what the writer's state may have
    /// learnt from it (the lock is kept until the builder is dropped).
    pub(crate) fn rollback_batch(&mut self) {
        self.batch = Batch::default();
        self.state.forget_after_failure();
    }

    /// Makes the batch durable, in one transaction, and releases the lock.
    pub(crate) fn commit(mut self) -> Result<CommitSummary> {
        let Some((batch, plan)) = self.take_batch() else {
            return Ok(CommitSummary::default());
        };
        let written = write_batch(self.core, batch, plan);
        self.finish(0, written)
    }

    /// Takes the batch and what its commit needs of the writer's state;
    /// `None` when there is nothing to commit.
    fn take_batch(&mut self) -> Option<(Batch, CommitPlan)> {
        if self.batch.len == 0
            && self.batch.covered.is_empty()
            && !self.state.sites.values().any(|s| s.is_new)
        {
            return None;
        }
        let plan = CommitPlan {
            new_sites: self
                .state
                .sites
                .iter()
                .filter(|(_, s)| s.is_new)
                .map(|(name, s)| (name.clone(), s.id, s.record.encode()))
                .collect(),
            next_seq: self.state.next_seq,
            seal_rows: if self.import {
                self.state.seal_rows.min(crate::core::IMPORT_SEAL_ROWS)
            } else {
                self.state.seal_rows
            },
            seal_budget: self.state.seal_budget,
            settled: Default::default(),
            defer_seal: false,
        };
        Some((std::mem::take(&mut self.batch), plan))
    }

    /// [`Builder::take_batch`] for [`write_batch`] on another thread: until
    /// [`Builder::finish`] is given the outcome, the batch's cookieless
    /// state and salts stay visible to the batches built meanwhile. Returns
    /// the id to finish it with.
    ///
    /// The batch counts as in flight (see [`crate::core::Gate`]) until
    /// the returned passage is dropped: drop it once the batch is written
    /// or abandoned.
    pub(crate) fn take_for_commit(
        &mut self,
    ) -> Option<(u64, Batch, CommitPlan, crate::core::Passage)> {
        let (batch, plan) = self.take_batch()?;
        let passage = self.core.writes.enter();
        let id = batch.start_seq;
        self.state.in_flight.push(InFlight {
            id,
            salts: batch.salts.clone(),
            cookieless: batch.cookieless.clone(),
        });
        Some((id, batch, plan, passage))
    }

    /// Takes in the outcome of [`write_batch`] for the batch `id` taken
    /// by [`Builder::take_for_commit`] (0: the builder's own).
    pub(crate) fn finish(&mut self, id: u64, written: Result<Written>) -> Result<CommitSummary> {
        if id != 0 {
            self.state.in_flight.retain(|f| f.id != id);
        }
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                // Nothing of the batch was written: forget cached state
                // that may describe it.
                self.state.forget_after_failure();
                return Err(e);
            }
        };
        for name in &written.new_sites {
            if let Some(s) = self.state.sites.get_mut(name) {
                s.is_new = false;
            }
        }
        let spare = &mut self.state.spare;
        let mut room: usize = spare.iter().map(Vec::capacity).sum();
        for mut rows in written.spent {
            if room + rows.capacity() > SPARE_ROWS {
                break;
            }
            rows.clear();
            room += rows.capacity();
            spare.push(rows);
        }
        Ok(written.summary)
    }
}

/// The next sequence number a store would give, from its header table.
pub(crate) fn stored_next_seq(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<u64> {
    Ok(match meta.get("next_seq")? {
        Some(g) => <[u8; 8]>::try_from(g.value())
            .map(u64::from_le_bytes)
            .map_err(|_| Corrupt::new("store header", "next_seq is not 8 bytes"))?,
        None => 0,
    })
}

impl Core {
    /// A writer (nothing is locked until it commits).
    pub(crate) fn writer(&self) -> Result<Writer<'_>> {
        self.db().rw()?;
        Ok(Writer {
            core: self,
            items: Vec::new(),
        })
    }
}
