//! The writer: append events, commit them in one redb transaction, seal
//! full partitions into segments. What a commit writes is in `batch`.
//!
//! A commit writes the batch as pending rows, updates the session rows and
//! the session blocks they derive, and seals every partition whose pending
//! rows reached [`SEAL_ROWS`]: all in one transaction, so a crash loses at
//! most the uncommitted batch and never leaves half of one.

use std::collections::BTreeMap;

use foldhash::HashMap;
use std::sync::MutexGuard;

use redb::ReadableTable;

use crate::core::{Core, SiteState, WriterState};
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

mod batch;

pub use crate::core::SEAL_ROWS;

use batch::CoveredSession;
pub(crate) use batch::{write_batch, Batch, CommitPlan, Written};

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
}

/// Appends events and commits them. Get one from [`crate::Store::writer`].
///
/// Events appended since the last [`Writer::commit`] are lost when the
/// writer is dropped or the process dies; committed ones never are.
pub struct Writer<'s> {
    core: &'s Core,
    state: MutexGuard<'s, WriterState>,
    batch: Batch,
    /// Emptied row vectors of committed batches, for the next batch's
    /// partitions: their memory is reused rather than mapped afresh.
    spare: Vec<Vec<Row>>,
    /// The state of a batch being written on another thread.
    in_flight: InFlight,
}

/// What events appended while a batch is written elsewhere must see of it:
/// the store does not have it yet.
#[derive(Default)]
struct InFlight {
    salts: BTreeMap<i32, IdKey>,
    cookieless: HashMap<(u32, u64), (i64, u64)>,
}

/// Most rows that the spare vectors of a writer may hold room for.
const SPARE_ROWS: usize = 1 << 19;

impl<'s> Writer<'s> {
    pub(crate) fn new(core: &'s Core, state: MutexGuard<'s, WriterState>) -> Writer<'s> {
        Writer {
            core,
            state,
            batch: Batch::default(),
            spare: Vec::new(),
            in_flight: InFlight::default(),
        }
    }

    /// Events an import commits at a time.
    pub(crate) fn import_batch(&self) -> usize {
        self.state.import_batch
    }

    /// Events buffered and not committed yet.
    pub fn buffered(&self) -> usize {
        self.batch.len
    }

    fn next_seq(&mut self) -> Result<u64> {
        if let Some(s) = self.state.next_seq {
            return Ok(s);
        }
        let txn = self.core.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let s = match meta.get("next_seq")? {
            Some(g) => <[u8; 8]>::try_from(g.value())
                .map(u64::from_le_bytes)
                .map_err(|_| Corrupt::new("store header", "next_seq is not 8 bytes"))?,
            None => 0,
        };
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
        let txn = self.core.db.begin_read()?;
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

    /// The record of every site the store or this writer knows.
    pub(crate) fn site_records(&mut self) -> Result<HashMap<String, SiteRecord>> {
        let names: Vec<String> = {
            let txn = self.core.db.begin_read()?;
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

    fn salt(&mut self, day: i32) -> Result<IdKey> {
        if let Some(s) = self.batch.salts.get(&day) {
            return Ok(*s);
        }
        if let Some(s) = self.in_flight.salts.get(&day) {
            self.batch.salts.insert(day, *s);
            return Ok(*s);
        }
        let txn = self.core.db.begin_read()?;
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
        let known = self
            .batch
            .cookieless
            .get(&(site, visitor))
            .or_else(|| self.in_flight.cookieless.get(&(site, visitor)));
        let state = match known {
            Some(s) => Some(*s),
            None => {
                let txn = self.core.db.begin_read()?;
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

    /// Validates, normalizes and buffers one event.
    pub fn append(&mut self, event: &Event) -> Result<Appended> {
        crate::guard::guarded("writing (append)", || {
            let event = event.view();
            event.validate()?;
            self.site(event.site, None)?;
            let WriterState {
                sites, normalizer, ..
            } = &mut *self.state;
            let Some(site) = sites.get(event.site) else {
                return Err(Error::InvalidArgument("site vanished".into()));
            };
            match prepare(&event, &site.record, normalizer)? {
                // The site is known now: no record is needed to create it.
                Ok(p) => self.append_prepared(event.site, None, p),
                Err(dropped) => Ok(Appended::Dropped(dropped)),
            }
        })
    }

    /// Buffers an event that [`prepare`] normalized with `record`, the
    /// site's record (the one a new site is created with).
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
        self.batch.push(site_id, day, row, &mut self.spare);
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

    /// Makes every buffered event durable, in one transaction.
    pub fn commit(&mut self) -> Result<CommitSummary> {
        crate::guard::guarded("writing (commit)", || {
            let Some((batch, plan)) = self.take_batch() else {
                return Ok(CommitSummary::default());
            };
            let written = write_batch(self.core, batch, plan);
            self.finish(written)
        })
    }

    /// Takes the buffered events and what their commit needs of the
    /// writer's state; `None` when there is nothing to commit.
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
            seal_rows: self.state.seal_rows,
        };
        Some((std::mem::take(&mut self.batch), plan))
    }

    /// [`Writer::take_batch`] for [`write_batch`] on another thread: until
    /// [`Writer::finish`] is given the outcome, the batch's cookieless state
    /// and salts stay visible to the events appended next.
    pub(crate) fn take_for_commit(&mut self) -> Option<(Batch, CommitPlan)> {
        let (batch, plan) = self.take_batch()?;
        self.in_flight = InFlight {
            salts: batch.salts.clone(),
            cookieless: batch.cookieless.clone(),
        };
        Some((batch, plan))
    }

    /// Takes in the outcome of [`write_batch`] for the last batch taken.
    pub(crate) fn finish(&mut self, written: Result<Written>) -> Result<CommitSummary> {
        self.in_flight = InFlight::default();
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                // Nothing of the batch was written: forget cached state that
                // may describe it.
                self.state.sites.clear();
                self.state.next_seq = None;
                return Err(e);
            }
        };
        for name in &written.new_sites {
            if let Some(s) = self.state.sites.get_mut(name) {
                s.is_new = false;
            }
        }
        let mut room: usize = self.spare.iter().map(Vec::capacity).sum();
        for mut rows in written.spent {
            if room + rows.capacity() > SPARE_ROWS {
                break;
            }
            rows.clear();
            room += rows.capacity();
            self.spare.push(rows);
        }
        Ok(written.summary)
    }

    /// Drops the buffered events.
    pub fn rollback(&mut self) {
        self.batch = Batch::default();
        self.state.sites.retain(|_, s| !s.is_new);
        self.state.next_seq = None;
    }

    /// Seals every partition's pending rows into segments.
    pub fn seal_all(&mut self) -> Result<u64> {
        crate::guard::guarded("writing (seal all)", || {
            self.commit()?;
            let txn = self.core.db.rw()?.begin_write()?;
            let parts: Vec<(u32, i32)> = {
                let t = txn.open_table(PARTITIONS)?;
                let mut v = Vec::new();
                for e in t.iter()? {
                    let (k, val) = e?;
                    if PartMeta::decode(val.value())?.pending_rows > 0 {
                        v.push(k.value());
                    }
                }
                v
            };
            let t0 = std::time::Instant::now();
            seal_many(
                &txn,
                parts
                    .iter()
                    .map(|&(site, day)| (site, day, Vec::new()))
                    .collect(),
            )?;
            txn.commit()?;
            if std::env::var_os("HEATSTORE_TRACE").is_some() {
                eprintln!("seal_all {} partitions {:?}", parts.len(), t0.elapsed());
            }
            Ok(parts.len() as u64)
        })
    }
}

impl Core {
    /// The writer: locks the writer's state for as long as it lives.
    pub(crate) fn writer(&self) -> Result<Writer<'_>> {
        self.db.rw()?;
        Ok(Writer::new(self, self.lock()))
    }
}
