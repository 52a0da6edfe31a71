//! The writer: append events, commit them in one redb transaction, seal
//! full partitions into segments.
//!
//! A commit writes the batch as pending rows, updates the session rows and
//! the session blocks they derive, and seals every partition whose pending
//! rows reached [`SEAL_ROWS`]: all in one transaction, so a crash loses at
//! most the uncommitted batch and never leaves half of one.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;
use std::sync::MutexGuard;

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{Event, EventError, EventRef};
use crate::ingest::{Dropped, Normalizer};
use crate::normalize::{cookieless_visitor, id_hash, IdKey};
use crate::storage::partition::PartMeta;
use crate::storage::row::{encode_batch, Row};
use crate::storage::schema::*;
use crate::storage::seal::{patch_session_attrs, refile_visitors, seal_many};
use crate::storage::sessions::put_block;
use crate::storage::sessions::{BlockEntry, FirstPv, SessionAttrs, SessionBlock, SessionRow};
use crate::storage::sites::next_site_id;
use crate::storage::sites::{SiteRecord, SiteSettings};
use crate::storage::tombstones::{Cover, Covered, Hit};
use crate::storage::{day_of, day_start, Corrupt, DAY_MS};
use crate::store::{Store, WriterState};

/// A partition is sealed when this many of its rows are pending.
pub const SEAL_ROWS: u64 = 16_384;

/// Cookieless sessions end after this much inactivity.
pub const COOKIELESS_SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// Per-site state the writer keeps.
pub(crate) struct SiteState {
    pub id: u32,
    pub record: SiteRecord,
    /// What deletion requests and opt-outs cover of incoming events.
    pub covered: Covered,
    /// Created by this writer and not committed yet.
    pub is_new: bool,
}

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

#[derive(Default)]
struct SessionDelta {
    /// Each visitor the batch's events named for the session, with the
    /// `(ts, arrival)` of the first event that named it (few: usually one).
    named: Vec<(FirstPv, u64)>,
    first_pv: Option<(FirstPv, SessionAttrs)>,
    days: BTreeSet<i32>,
    /// The day last added to `days`, to skip the set for the common case.
    last_day: Option<i32>,
}

#[derive(Default)]
pub(crate) struct Batch {
    /// Rows by (site, day), each in arrival order: a row moves once, into
    /// its partition's vector, and is sealed or written pending from there.
    groups: HashMap<(u32, i32), Vec<Row>>,
    /// Rows in `groups`.
    len: usize,
    sessions: HashMap<(u32, u64), SessionDelta>,
    cookieless: HashMap<(u32, u64), (i64, u64)>,
    salts: BTreeMap<i32, IdKey>,
    /// Sessions an event naming a deleted visitor covered.
    covered: Vec<CoveredSession>,
    start_seq: u64,
}

/// A session that an event naming a deleted (or opted-out) visitor
/// covered: recorded as deleted, and its stored events deleted by a
/// request derived from the visitor's.
struct CoveredSession {
    site: u32,
    site_name: String,
    session: u64,
    cover: Cover,
    /// The derived request's deadline.
    deadline: i64,
}

impl Batch {
    fn push(&mut self, site: u32, day: i32, row: Row, spare: &mut Vec<Vec<Row>>) {
        self.groups
            .entry((site, day))
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(row);
        self.len += 1;
    }
}

/// An event normalized for its site and ready to buffer: the part of
/// ingest that needs only the site's settings and key, so that an import
/// runs it off the committing thread.
pub(crate) struct Prepared {
    /// The row, with its session and visitor hashes unless cookieless.
    pub row: Row,
    /// The attributes a pageview gives its session (boxed: most events
    /// are not pageviews, and prepared events are moved between threads).
    pub attrs: Option<Box<SessionAttrs>>,
    /// Whether the event names its visitor (`row.visitor` is then that
    /// visitor's hash; otherwise the session's).
    pub names_visitor: bool,
    /// (ip, ua) of a cookieless event: its ids depend on the day's salt and
    /// the visitor's last activity, which only the writer knows.
    pub cookieless: Option<Box<(String, String)>>,
}

/// Normalizes a validated event for the site whose record is `record`.
/// `Ok(Err(_))` is an event dropped by a privacy rule; `Err` rejects it.
pub(crate) fn prepare(
    e: &EventRef<'_>,
    record: &SiteRecord,
    normalizer: &mut Normalizer,
) -> std::result::Result<std::result::Result<Prepared, Dropped>, EventError> {
    let normalized = match normalizer.normalize(e, &record.settings)? {
        Ok(n) => n,
        Err(dropped) => return Ok(Err(dropped)),
    };
    let mut row = normalized.row;
    let mut cookieless = None;
    let mut names_visitor = true;
    match e.session {
        Some(s) => {
            row.session = id_hash(&record.key, s);
            row.visitor = e.visitor.map_or(row.session, |v| id_hash(&record.key, v));
            names_visitor = e.visitor.is_some();
        }
        None => {
            let (Some(ip), Some(ua)) = (e.ip, e.ua) else {
                return Err(EventError::new("session", "is required"));
            };
            cookieless = Some(Box::new((ip.to_owned(), ua.to_owned())));
        }
    }
    Ok(Ok(Prepared {
        row,
        attrs: normalized.attrs,
        names_visitor,
        cookieless,
    }))
}

/// What a commit changes of one session in a day's session block.
enum BlockChange {
    /// Put in (or replace) its entry.
    Put(Box<BlockEntry>),
    /// Take it out.
    Remove,
    /// Its visitor changed.
    Visitor(u64),
}

/// Per (site, day): the changes to that day's session block.
type BlockChanges = BTreeMap<(u32, i32), Vec<(u64, BlockChange)>>;

/// Appends events and commits them. Get one from [`Store::writer`].
///
/// Events appended since the last [`Writer::commit`] are lost when the
/// writer is dropped or the process dies; committed ones never are.
pub struct Writer<'s> {
    store: &'s Store,
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
    pub(crate) fn new(store: &'s Store, state: MutexGuard<'s, WriterState>) -> Writer<'s> {
        Writer {
            store,
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
        let txn = self.store.db.begin_read()?;
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
        let txn = self.store.db.begin_read()?;
        let sites = txn.open_table(SITES)?;
        let state = match sites.get(site)?.map(|g| g.value()) {
            Some(id) => {
                let conf = txn.open_table(SITE_CONFIG)?;
                let bytes = conf
                    .get(id)?
                    .map(|g| g.value().to_vec())
                    .ok_or_else(|| Corrupt::new("site settings", format!("site {id} has none")))?;
                SiteState {
                    id,
                    record: SiteRecord::decode(&bytes)?,
                    covered: crate::storage::tombstones::load(&txn, site, id)?,
                    is_new: false,
                }
            }
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
            let txn = self.store.db.begin_read()?;
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
        let txn = self.store.db.begin_read()?;
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
                let txn = self.store.db.begin_read()?;
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
            let written = write_batch(self.store, batch, plan);
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
            let txn = self.store.db.rw()?.begin_write()?;
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

/// What a commit needs of the writer's state, taken with its batch so that
/// the batch can be written on another thread ([`write_batch`]).
pub(crate) struct CommitPlan {
    /// (name, id, encoded record) of the sites the batch creates.
    new_sites: Vec<(String, u32, Vec<u8>)>,
    next_seq: Option<u64>,
    seal_rows: u64,
}

/// A written batch: what it stored, and its emptied row vectors.
pub(crate) struct Written {
    summary: CommitSummary,
    spent: Vec<Vec<Row>>,
    new_sites: Vec<String>,
}

/// Writes a batch in one transaction: needs nothing of the writer but
/// `plan`, so an import runs it while the next batch is buffered.
pub(crate) fn write_batch(store: &Store, batch: Batch, plan: CommitPlan) -> Result<Written> {
    let t_start = std::time::Instant::now();
    let txn = store.db.rw()?.begin_write()?;
    let mut summary = CommitSummary {
        events: batch.len as u64,
        ..CommitSummary::default()
    };
    // New sites.
    {
        let mut sites = txn.open_table(SITES)?;
        let mut conf = txn.open_table(SITE_CONFIG)?;
        for (name, id, record) in &plan.new_sites {
            sites.insert(name.as_str(), *id)?;
            conf.insert(*id, record.as_slice())?;
        }
        let mut meta = txn.open_table(META)?;
        if let Some(seq) = plan.next_seq {
            meta.insert("next_seq", seq.to_le_bytes().as_slice())?;
        }
    }
    // Cookieless state and salts; salts older than yesterday are destroyed.
    {
        let mut c = txn.open_table(COOKIELESS)?;
        for (k, v) in &batch.cookieless {
            c.insert(*k, *v)?;
        }
        // A day's salt lives until the end of the next day (by the
        // clock, not by event times): older ones are destroyed, and
        // events of older days get a salt that is never stored.
        let mut salts = txn.open_table(SALTS)?;
        let yesterday = day_of(crate::time::now_ms()) - 1;
        for (day, salt) in &batch.salts {
            if *day >= yesterday {
                salts.insert(*day, salt.as_slice())?;
            }
        }
        salts.retain(|day, _| day >= yesterday)?;
    }
    // Sessions, and the session blocks they derive.
    let mut block_changes: BlockChanges = BTreeMap::new();
    let mut changed_sealed: Vec<(u32, u64, Vec<i32>)> = Vec::new();
    // Sessions whose visitor changed, per (site, day) they have rows on:
    // session → its visitor now.
    let mut refile: BTreeMap<(u32, i32), HashMap<u64, u64>> = BTreeMap::new();
    {
        let mut sessions = txn.open_table(SESSIONS)?;
        // In key order, B-tree updates walk the tree's leaves in turn.
        let mut deltas: Vec<((u32, u64), SessionDelta)> = batch.sessions.into_iter().collect();
        deltas.sort_unstable_by_key(|(k, _)| *k);
        let mut index_add = Vec::new();
        let mut index_remove = Vec::new();
        for ((site, hash), delta) in deltas {
            let old = sessions.get((site, hash))?.map(|g| g.value().to_vec());
            let known = old.is_some();
            let mut row = match old {
                Some(b) => SessionRow::decode(&b)?,
                None => SessionRow::new(hash),
            };
            let old_index = if known {
                row.index_visitors(hash)
            } else {
                Vec::new()
            };
            let old_visitor = row.visitor;
            for &(at, visitor) in &delta.named {
                row.name(hash, at, visitor);
            }
            let refiled = known && row.visitor != old_visitor;
            let old_days = row.days.clone();
            for d in &delta.days {
                row.add_day(*d);
            }
            let mut entry_written = false;
            if let Some((fp, attrs)) = delta.first_pv {
                if row.first_pv.is_none_or(|old| fp < old) {
                    if let Some(old) = row.first_pv {
                        let old_day = day_of(old.ts);
                        if old_day != day_of(fp.ts) {
                            block_changes
                                .entry((site, old_day))
                                .or_default()
                                .push((hash, BlockChange::Remove));
                        }
                    }
                    row.first_pv = Some(fp);
                    let entry = BlockEntry {
                        hash,
                        visitor: row.visitor,
                        first_ts: fp.ts,
                        attrs,
                    };
                    block_changes
                        .entry((site, day_of(fp.ts)))
                        .or_default()
                        .push((hash, BlockChange::Put(Box::new(entry))));
                    entry_written = true;
                    if known && !old_days.is_empty() {
                        changed_sealed.push((site, hash, old_days.clone()));
                    }
                }
            }
            if refiled {
                if let (Some(fp), false) = (row.first_pv, entry_written) {
                    block_changes
                        .entry((site, day_of(fp.ts)))
                        .or_default()
                        .push((hash, BlockChange::Visitor(row.visitor)));
                }
                for &d in &old_days {
                    refile
                        .entry((site, d))
                        .or_default()
                        .insert(hash, row.visitor);
                }
            }
            let new_index = row.index_visitors(hash);
            for v in &old_index {
                if new_index.binary_search(v).is_err() {
                    index_remove.push((site, *v, hash));
                }
            }
            for v in &new_index {
                if old_index.binary_search(v).is_err() {
                    index_add.push((site, *v, hash));
                }
            }
            sessions.insert((site, hash), row.encode().as_slice())?;
        }
        index_add.sort_unstable();
        let mut visitors = txn.open_table(VISITOR_SESSIONS)?;
        for key in index_remove {
            visitors.remove(key)?;
        }
        for key in index_add {
            visitors.insert(key, ())?;
        }
    }
    apply_block_changes(&txn, block_changes)?;
    for (site, hash, days) in changed_sealed {
        patch_session_attrs(&txn, site, hash, &days)?;
    }
    for ((site, day), changes) in &refile {
        refile_visitors(&txn, *site, *day, changes)?;
    }
    // Sessions covered by a deleted visitor's request: remembered, and
    // their stored events (which did not name the visitor) deleted.
    if !batch.covered.is_empty() {
        let mut known = Vec::new();
        {
            let sessions = txn.open_table(SESSIONS)?;
            let mut deleted = txn.open_table(DELETED_SESSIONS)?;
            for c in &batch.covered {
                let prev = deleted.get((c.site, c.session))?.map(|g| g.value());
                deleted.insert(
                    (c.site, c.session),
                    prev.unwrap_or(i64::MIN).max(c.cover.cutoff),
                )?;
                if sessions.get((c.site, c.session))?.is_some() {
                    known.push(c);
                }
            }
        }
        for c in known {
            crate::storage::requests::record_derived(
                &txn,
                &c.site_name,
                c.site,
                c.session,
                c.cover.request,
                c.deadline,
            )?;
        }
    }
    let t_sessions = std::time::Instant::now();
    // Pending rows, one batch per partition. Rows keep the visitor their
    // event named; segments take each session's visitor from its row.
    let mut groups: Vec<((u32, i32), Vec<Row>)> = batch.groups.into_iter().collect();
    groups.sort_unstable_by_key(|(k, _)| *k);
    // Partitions that reach the seal threshold are sealed straight from
    // memory; the others get a pending batch.
    let mut to_seal = Vec::new();
    let mut spent = Vec::new();
    let seal_rows = plan.seal_rows;
    {
        let mut pending = txn.open_table(PENDING)?;
        let mut parts = txn.open_table(PARTITIONS)?;
        for ((site, day), rows) in groups {
            let mut meta = match parts.get((site, day))?.map(|g| g.value().to_vec()) {
                Some(b) => PartMeta::decode(&b)?,
                None => PartMeta::default(),
            };
            if meta.pending_rows + rows.len() as u64 >= seal_rows {
                to_seal.push((site, day, rows));
            } else {
                pending.insert((site, day, batch.start_seq), encode_batch(&rows).as_slice())?;
                meta.pending_rows += rows.len() as u64;
                spent.push(rows);
            }
            parts.insert((site, day), meta.encode_new_version().as_slice())?;
        }
    }
    let t_seal = std::time::Instant::now();
    summary.sealed_partitions += to_seal.len() as u64;
    spent.extend(seal_many(&txn, to_seal)?);
    let t_commit = std::time::Instant::now();
    txn.commit()?;
    if std::env::var_os("HEATSTORE_TRACE").is_some() {
        eprintln!(
            "sessions {:?} pending {:?} seal {:?} commit {:?}",
            t_sessions - t_start,
            t_seal - t_sessions,
            t_commit - t_seal,
            t_commit.elapsed()
        );
    }
    Ok(Written {
        summary,
        spent,
        new_sites: plan
            .new_sites
            .into_iter()
            .map(|(name, _, _)| name)
            .collect(),
    })
}

fn apply_block_changes(txn: &WriteTransaction, changes: BlockChanges) -> Result<()> {
    let mut blocks = txn.open_table(SESSION_BLOCKS)?;
    let mut versions = txn.open_table(SESSION_BLOCK_VERSIONS)?;
    for ((site, day), list) in changes {
        let start = day_start(day);
        let old = blocks.get((site, day))?.map(|g| g.value().to_vec());
        let mut entries: BTreeMap<u64, BlockEntry> = match old {
            Some(b) => SessionBlock::decode(&b, start)?
                .entries()
                .into_iter()
                .map(|e| (e.hash, e))
                .collect(),
            None => BTreeMap::new(),
        };
        for (hash, change) in list {
            match change {
                BlockChange::Put(e) => {
                    entries.insert(hash, *e);
                }
                BlockChange::Remove => {
                    entries.remove(&hash);
                }
                BlockChange::Visitor(v) => {
                    if let Some(e) = entries.get_mut(&hash) {
                        e.visitor = v;
                    }
                }
            }
        }
        let bytes = (!entries.is_empty())
            .then(|| SessionBlock::build(entries.into_values().collect()).encode(start));
        put_block(&mut blocks, &mut versions, (site, day), bytes.as_deref())?;
    }
    Ok(())
}
