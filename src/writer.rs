//! The writer: append events, commit them in one redb transaction, seal
//! full partitions into segments.
//!
//! A commit writes the batch as pending rows, updates the session rows and
//! the session blocks they derive, and seals every partition whose pending
//! rows reached [`SEAL_ROWS`]: all in one transaction, so a crash loses at
//! most the uncommitted batch and never leaves half of one.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::MutexGuard;

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{Event, EventError, EventRef};
use crate::ingest::{Dropped, Normalizer};
use crate::normalize::{cookieless_visitor, id_hash, IdKey};
use crate::site::{SiteRecord, SiteSettings};
use crate::storage::columns;
use crate::storage::row::{decode_batch, encode_batch, Row};
use crate::storage::schema::*;
use crate::storage::segment::{self, col, PartitionDicts, SEGMENT_ROWS};
use crate::storage::sessions::{BlockEntry, FirstPv, SessionAttrs, SessionBlock, SessionRow};
use crate::storage::{day_of, day_start, Corrupt};
use crate::store::{next_site_id, Store, WriterState};

/// A partition is sealed when this many of its rows are pending.
pub const SEAL_ROWS: u64 = 16_384;

/// Sealing rewrites a partition's partial last segment together with the
/// new rows only while the segment holds at most this many times as many
/// rows as are added.
const MERGE_COST: usize = 4;

/// Cookieless sessions end after this much inactivity.
pub const COOKIELESS_SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// Per-site state the writer keeps.
pub(crate) struct SiteState {
    pub id: u32,
    pub record: SiteRecord,
    pub opt_outs: HashSet<u64>,
    /// Created by this writer and not committed yet.
    pub is_new: bool,
}

/// Metadata of one sealed segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegInfo {
    pub id: u32,
    pub rows: u32,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// Metadata of one (site, day) partition (table `partitions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartMeta {
    pub segments: Vec<SegInfo>,
    pub next_segment: u32,
    pub pending_rows: u64,
    /// A fresh random value at every write of the partition: what readers
    /// key their caches of its decoded columns by.
    pub version: u64,
}

impl PartMeta {
    /// Encodes the metadata as a new version of the partition.
    pub fn encode_new_version(&mut self) -> Vec<u8> {
        self.version = rand::random();
        rmp_serde::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<PartMeta, Corrupt> {
        let meta: PartMeta = rmp_serde::from_slice(bytes)
            .map_err(|e| Corrupt::new("partition metadata", e.to_string()))?;
        if meta
            .segments
            .iter()
            .any(|s| s.rows as usize > SEGMENT_ROWS || s.min_ts > s.max_ts)
        {
            return Err(Corrupt::new(
                "partition metadata",
                "a segment claims more than 65,536 rows or a negative time span",
            ));
        }
        Ok(meta)
    }

    pub fn rows(&self) -> u64 {
        self.segments.iter().map(|s| u64::from(s.rows)).sum::<u64>() + self.pending_rows
    }
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
    visitor: u64,
    /// Some event of the batch named another visitor for this session.
    mixed: bool,
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
    start_seq: u64,
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
    match e.session {
        Some(s) => {
            row.session = id_hash(&record.key, s);
            row.visitor = e.visitor.map_or(row.session, |v| id_hash(&record.key, v));
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
        cookieless,
    }))
}

/// Per (site, day): sessions to put into (`Some`) or take out of (`None`)
/// that day's session block.
type BlockChanges = BTreeMap<(u32, i32), Vec<(u64, Option<BlockEntry>)>>;

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
                let opt = txn.open_table(OPT_OUTS)?;
                let mut opt_outs = HashSet::new();
                for e in opt.range((id, 0)..=(id, u64::MAX))? {
                    opt_outs.insert(e?.0.value().1);
                }
                SiteState {
                    id,
                    record: SiteRecord::decode(&bytes)?,
                    opt_outs,
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
                    opt_outs: HashSet::new(),
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
    }

    /// Buffers an event that [`prepare`] normalized with `record`, the
    /// site's record (the one a new site is created with).
    pub(crate) fn append_prepared(
        &mut self,
        site_name: &str,
        record: Option<&SiteRecord>,
        p: Prepared,
    ) -> Result<Appended> {
        // One lookup of the site for the common case: known, no opt-outs.
        let (site_id, has_opt_outs) = match self.state.sites.get(site_name) {
            Some(s) => (s.id, !s.opt_outs.is_empty()),
            None => {
                self.site(site_name, record)?;
                match self.state.sites.get(site_name) {
                    Some(s) => (s.id, !s.opt_outs.is_empty()),
                    None => return Err(Error::InvalidArgument("site vanished".into())),
                }
            }
        };
        let seq = self.next_seq()?;
        let Prepared {
            mut row,
            attrs,
            cookieless,
        } = p;
        if let Some(c) = cookieless {
            let salt = self.salt(day_of(row.ts))?;
            row.visitor = cookieless_visitor(&salt, site_name, &c.0, &c.1);
            row.session = self.cookieless_session(site_id, row.visitor, row.ts)?;
        }
        let opted_out = has_opt_outs
            && self
                .state
                .sites
                .get(site_name)
                .is_some_and(|s| s.opt_outs.contains(&row.visitor));
        if opted_out {
            return Ok(Appended::Dropped(Dropped::OptedOut));
        }
        self.state.next_seq = Some(seq + 1);
        let (session, visitor) = (row.session, row.visitor);
        let delta = self
            .batch
            .sessions
            .entry((site_id, session))
            .or_insert_with(|| SessionDelta {
                visitor,
                ..SessionDelta::default()
            });
        delta.mixed |= delta.visitor != visitor;
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

    /// Makes every buffered event durable, in one transaction.
    pub fn commit(&mut self) -> Result<CommitSummary> {
        if self.batch.len == 0 && !self.state.sites.values().any(|s| s.is_new) {
            return Ok(CommitSummary::default());
        }
        let batch = std::mem::take(&mut self.batch);
        let plan = self.plan();
        let written = write_batch(self.store, batch, plan);
        self.finish(written)
    }

    /// What a commit of the current batch needs of the writer's state.
    fn plan(&self) -> CommitPlan {
        CommitPlan {
            new_sites: self
                .state
                .sites
                .iter()
                .filter(|(_, s)| s.is_new)
                .map(|(name, s)| (name.clone(), s.id, s.record.encode()))
                .collect(),
            next_seq: self.state.next_seq,
            seal_rows: self.state.seal_rows,
        }
    }

    /// Takes the buffered events and what their commit needs, for
    /// [`write_batch`] on another thread; `None` when there is nothing to
    /// commit. Until [`Writer::finish`] is given the outcome, the batch's
    /// cookieless state and salts stay visible to the events appended next.
    pub(crate) fn take_for_commit(&mut self) -> Option<(Batch, CommitPlan)> {
        if self.batch.len == 0 && !self.state.sites.values().any(|s| s.is_new) {
            return None;
        }
        let batch = std::mem::take(&mut self.batch);
        self.in_flight = InFlight {
            salts: batch.salts.clone(),
            cookieless: batch.cookieless.clone(),
        };
        let plan = self.plan();
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
        self.commit()?;
        let txn = self.store.db.begin_write()?;
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
    let txn = store.db.begin_write()?;
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
        let yesterday = day_of(crate::deletion::now_ms()) - 1;
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
    // A session's visitor is the one named by its first event to
    // arrive: rows naming another are counted for it.
    let mut visitor_fix: HashMap<(u32, u64), u64> = HashMap::new();
    {
        let mut sessions = txn.open_table(SESSIONS)?;
        // In key order, B-tree updates walk the tree's leaves in turn.
        let mut deltas: Vec<((u32, u64), SessionDelta)> = batch.sessions.into_iter().collect();
        deltas.sort_unstable_by_key(|(k, _)| *k);
        let mut new_visitors = Vec::new();
        for ((site, hash), delta) in deltas {
            let old = sessions.get((site, hash))?.map(|g| g.value().to_vec());
            let known = old.is_some();
            let mut row = match old {
                Some(b) => SessionRow::decode(&b)?,
                None => SessionRow {
                    visitor: delta.visitor,
                    ..SessionRow::default()
                },
            };
            if delta.mixed || row.visitor != delta.visitor {
                visitor_fix.insert((site, hash), row.visitor);
            }
            let old_days = row.days.clone();
            for d in &delta.days {
                row.add_day(*d);
            }
            if let Some((fp, attrs)) = delta.first_pv {
                if row.first_pv.is_none_or(|old| fp < old) {
                    if let Some(old) = row.first_pv {
                        let old_day = day_of(old.ts);
                        if old_day != day_of(fp.ts) {
                            block_changes
                                .entry((site, old_day))
                                .or_default()
                                .push((hash, None));
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
                        .push((hash, Some(entry)));
                    if known && !old_days.is_empty() {
                        changed_sealed.push((site, hash, old_days));
                    }
                }
            }
            if !known {
                new_visitors.push((site, row.visitor, hash));
            }
            sessions.insert((site, hash), row.encode().as_slice())?;
        }
        new_visitors.sort_unstable();
        let mut visitors = txn.open_table(VISITOR_SESSIONS)?;
        for key in new_visitors {
            visitors.insert(key, ())?;
        }
    }
    apply_block_changes(&txn, block_changes)?;
    for (site, hash, days) in changed_sealed {
        patch_session_attrs(&txn, site, hash, &days)?;
    }
    let t_sessions = std::time::Instant::now();
    // Pending rows, one batch per partition.
    let mut groups: Vec<((u32, i32), Vec<Row>)> = batch.groups.into_iter().collect();
    groups.sort_unstable_by_key(|(k, _)| *k);
    if !visitor_fix.is_empty() {
        for ((site, _), rows) in &mut groups {
            for row in rows.iter_mut() {
                if let Some(v) = visitor_fix.get(&(*site, row.session)) {
                    row.visitor = *v;
                }
            }
        }
    }
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
        for (hash, entry) in list {
            match entry {
                Some(e) => entries.insert(hash, e),
                None => entries.remove(&hash),
            };
        }
        let bytes = (!entries.is_empty())
            .then(|| SessionBlock::build(entries.into_values().collect()).encode(start));
        put_block(&mut blocks, &mut versions, (site, day), bytes.as_deref())?;
    }
    Ok(())
}

/// Writes a day's session block (`None`: removes it) with a fresh version,
/// as every write of a block must (`SESSION_BLOCK_VERSIONS`).
pub(crate) fn put_block(
    blocks: &mut redb::Table<'_, (u32, i32), &'static [u8]>,
    versions: &mut redb::Table<'_, (u32, i32), u64>,
    key: (u32, i32),
    bytes: Option<&[u8]>,
) -> Result<()> {
    match bytes {
        Some(b) => {
            blocks.insert(key, b)?;
            versions.insert(key, rand::random::<u64>())?;
        }
        None => {
            blocks.remove(key)?;
            versions.remove(key)?;
        }
    }
    Ok(())
}

pub(crate) fn load_dicts(
    t: &impl ReadableTable<(u32, i32, u8), &'static [u8]>,
    site: u32,
    day: i32,
) -> Result<PartitionDicts> {
    let mut dicts = PartitionDicts::default();
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
    let attrs = sessions_attrs(txn, site, rows)?;
    let encoded = encode_segments(rows, day, dicts, &attrs);
    put_segments(cols, site, day, meta, encoded)
}

/// The attributes of every session of `rows`.
fn sessions_attrs(
    txn: &WriteTransaction,
    site: u32,
    rows: &[Row],
) -> Result<HashMap<u64, Option<SessionAttrs>>> {
    let sessions = txn.open_table(SESSIONS)?;
    let blocks = txn.open_table(SESSION_BLOCKS)?;
    AttrsLookup::new(&sessions, &blocks, site).all(rows.iter().map(|r| r.session))
}

/// Encodes `rows` (in arrival order) as segments of [`SEGMENT_ROWS`] and
/// one partial.
fn encode_segments(
    rows: &[Row],
    day: i32,
    dicts: &mut PartitionDicts,
    attrs: &HashMap<u64, Option<SessionAttrs>>,
) -> Vec<segment::EncodedSegment> {
    let lookup = |h: u64| attrs.get(&h).cloned().flatten();
    rows.chunks(SEGMENT_ROWS)
        .map(|chunk| segment::build(chunk, day, dicts, &lookup))
        .collect()
}

/// Stores encoded segments as the partition's next ones.
fn put_segments(
    cols: &mut redb::Table<columns::ColKey, &[u8]>,
    site: u32,
    day: i32,
    meta: &mut PartMeta,
    encoded: Vec<segment::EncodedSegment>,
) -> Result<()> {
    for enc in encoded {
        let id = meta.next_segment;
        meta.next_segment += 1;
        for (c, bytes) in &enc.columns {
            columns::put(cols, site, day, id, *c, bytes)?;
        }
        meta.segments.push(SegInfo {
            id,
            rows: enc.rows,
            min_ts: enc.min_ts,
            max_ts: enc.max_ts,
        });
    }
    Ok(())
}

pub(crate) fn save_dicts(
    txn: &WriteTransaction,
    site: u32,
    day: i32,
    dicts: &PartitionDicts,
) -> Result<()> {
    let mut t = txn.open_table(DICTIONARIES)?;
    for (dim, d) in &dicts.dicts {
        t.insert((site, day, *dim), d.encode().as_slice())?;
    }
    Ok(())
}

/// Finds sessions' attributes: the session row gives the day of the first
/// pageview, that day's block the attributes. Blocks are decoded once.
pub(crate) struct AttrsLookup<'t, S, B> {
    sessions: &'t S,
    blocks: &'t B,
    site: u32,
    cache: HashMap<i32, Option<SessionBlock>>,
}

impl<'t, S, B> AttrsLookup<'t, S, B>
where
    S: ReadableTable<(u32, u64), &'static [u8]>,
    B: ReadableTable<(u32, i32), &'static [u8]>,
{
    pub fn new(sessions: &'t S, blocks: &'t B, site: u32) -> Self {
        AttrsLookup {
            sessions,
            blocks,
            site,
            cache: HashMap::new(),
        }
    }

    /// The attributes of one session (`None` before its first pageview).
    pub fn get(&mut self, hash: u64) -> Result<Option<SessionAttrs>> {
        let Some(row) = self
            .sessions
            .get((self.site, hash))?
            .map(|g| g.value().to_vec())
        else {
            return Ok(None);
        };
        let Some(fp) = SessionRow::decode(&row)?.first_pv else {
            return Ok(None);
        };
        let day = day_of(fp.ts);
        if !self.cache.contains_key(&day) {
            let block = match self.blocks.get((self.site, day))? {
                Some(g) => Some(SessionBlock::decode(g.value(), day_start(day))?),
                None => None,
            };
            self.cache.insert(day, block);
        }
        let block = self.cache.get(&day).and_then(Option::as_ref);
        let entry = block.and_then(|b| b.hashes.binary_search(&hash).ok().and_then(|i| b.entry(i)));
        // A session hidden by a pending deletion request has left its
        // block already: it has no attributes to give.
        Ok(entry.map(|e| e.attrs))
    }

    /// The attributes of every distinct session among `hashes`.
    pub fn all(
        &mut self,
        hashes: impl Iterator<Item = u64>,
    ) -> Result<HashMap<u64, Option<SessionAttrs>>> {
        let mut out = HashMap::new();
        for h in hashes {
            if let std::collections::hash_map::Entry::Vacant(v) = out.entry(h) {
                v.insert(self.get(h)?);
            }
        }
        Ok(out)
    }
}

/// When a sealed session's attributes change (an earlier pageview arrived
/// late), rewrite its attribute codes and device bitmaps in the segments
/// that hold it.
pub(crate) fn patch_session_attrs(
    txn: &WriteTransaction,
    site: u32,
    hash: u64,
    days: &[i32],
) -> Result<()> {
    let attrs = {
        let sessions = txn.open_table(SESSIONS)?;
        let blocks = txn.open_table(SESSION_BLOCKS)?;
        let mut lookup = AttrsLookup::new(&sessions, &blocks, site);
        lookup.get(hash)?
    };
    let mut parts = txn.open_table(PARTITIONS)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
    for &day in days {
        let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
            continue;
        };
        let mut meta = PartMeta::decode(&meta)?;
        let mut dicts = None;
        for seg in &meta.segments {
            let Some(sess) = columns::get(&cols, site, day, seg.id, col::SESSIONS)? else {
                continue;
            };
            let runs = segment::SessionRuns::decode(&sess, seg.rows)?;
            let Ok(i) = runs.hashes.binary_search(&hash) else {
                continue;
            };
            let dicts = match &mut dicts {
                Some(d) => d,
                None => dicts.insert(load_dicts(&txn.open_table(DICTIONARIES)?, site, day)?),
            };
            let bytes =
                columns::get(&cols, site, day, seg.id, col::SESSION_ATTRS)?.unwrap_or_default();
            let mut codes = segment::decode_session_attrs(&bytes, runs.len())?;
            if let Some(slot) = codes.get_mut(i) {
                *slot = segment::session_attr_codes(attrs.as_ref(), dicts);
            }
            columns::put(
                &mut cols,
                site,
                day,
                seg.id,
                col::SESSION_ATTRS,
                &segment::encode_session_attrs(&codes),
            )?;
            columns::put(
                &mut cols,
                site,
                day,
                seg.id,
                col::BM_DEVICE,
                &segment::encode_device_bitmaps(&runs.starts, &codes),
            )?;
        }
        if let Some(d) = dicts {
            save_dicts(txn, site, day, &d)?;
            // Columns changed in place: a new version for readers' caches.
            parts.insert((site, day), meta.encode_new_version().as_slice())?;
        }
    }
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
    attrs: HashMap<u64, Option<SessionAttrs>>,
    encoded: Vec<segment::EncodedSegment>,
}

impl SealJob {
    /// Encodes the rows, then drops them (on the encoding thread: the
    /// emptied vector is kept for its memory).
    fn encode(&mut self) {
        self.encoded = encode_segments(&self.rows, self.day, &mut self.dicts, &self.attrs);
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
        parts.insert(
            (job.site, job.day),
            job.meta.encode_new_version().as_slice(),
        )?;
        save_dicts(txn, job.site, job.day, &job.dicts)?;
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
    let dicts = load_dicts(&txn.open_table(DICTIONARIES)?, site, day)?;
    let mut cols = txn.open_table(SEGMENT_COLUMNS)?;
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
            let tail = columns::get_all(&cols, site, day, last.id)?;
            let mut all = segment::decode_rows(&tail, last.rows, day, &dicts)?;
            all.append(&mut rows);
            spare = Some(std::mem::replace(&mut rows, all));
            columns::remove_segment(&mut cols, site, day, last.id)?;
            meta.segments.pop();
        }
    }
    drop(cols);
    let attrs = sessions_attrs(txn, site, &rows)?;
    Ok(SealJob {
        site,
        day,
        meta,
        dicts,
        rows,
        spare,
        attrs,
        encoded: Vec::new(),
    })
}

/// Encodes every job, spread over the machine's cores by row count.
fn encode_in_parallel(jobs: &mut [SealJob]) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
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
