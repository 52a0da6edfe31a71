//! What one commit writes, in one transaction: new sites, cookieless state,
//! session rows (and the re-filing of sessions whose visitor changed), the
//! session blocks they derive, pending rows, and the partitions that reach
//! the seal threshold, sealed.

//!
//! A commit writes the batch as pending rows, updates the session rows and
//! the session blocks they derive, and seals every partition whose pending
//! rows reached [`SEAL_ROWS`]: all in one transaction, so a crash loses at
//! most the uncommitted batch and never leaves half of one.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

use redb::{ReadableTable, WriteTransaction};

use super::CommitSummary;
use crate::core::Core;
use crate::error::Result;
use crate::normalize::IdKey;
use crate::normalize::SessionAttrs;
use crate::storage::day_of;
use crate::storage::journal::Touched;
use crate::storage::partition::PartMeta;
use crate::storage::row::{encode_batch, Row};
use crate::storage::schema::*;
use crate::storage::seal::{patch_session_attrs, refile_visitors, seal_many};
use crate::storage::sessions::{
    BlockEntry, BlockTables, BlockTail, FirstPv, SessionBlock, SessionRow,
};
use crate::storage::tombstones::Cover;

#[derive(Default)]
pub(crate) struct SessionDelta {
    /// Each visitor the batch's events named for the session, with the
    /// `(ts, arrival)` of the first event that named it (few: usually one).
    pub(crate) named: Vec<(FirstPv, u64)>,
    pub(crate) first_pv: Option<(FirstPv, SessionAttrs)>,
    pub(crate) days: BTreeSet<i32>,
    /// The day last added to `days`, to skip the set for the common case.
    pub(crate) last_day: Option<i32>,
}

#[derive(Default)]
pub(crate) struct Batch {
    /// Rows by (site, day), each in arrival order: a row moves once, into
    /// its partition's vector, and is sealed or written pending from there.
    pub(crate) groups: HashMap<(u32, i32), Vec<Row>>,
    /// Rows in `groups`.
    pub(crate) len: usize,
    pub(crate) sessions: HashMap<(u32, u64), SessionDelta>,
    pub(crate) cookieless: HashMap<(u32, u64), (i64, u64)>,
    pub(crate) salts: BTreeMap<i32, IdKey>,
    /// Sessions an event naming a deleted visitor covered.
    pub(crate) covered: Vec<CoveredSession>,
    pub(crate) start_seq: u64,
}

/// A session that an event naming a deleted (or opted-out) visitor
/// covered: recorded as deleted, and its stored events deleted by a
/// request derived from the visitor's.
pub(crate) struct CoveredSession {
    pub(crate) site: u32,
    pub(crate) site_name: String,
    pub(crate) session: u64,
    pub(crate) cover: Cover,
    /// The derived request's deadline.
    pub(crate) deadline: i64,
}

impl Batch {
    pub(crate) fn push(&mut self, site: u32, day: i32, row: Row, spare: &mut Vec<Vec<Row>>) {
        self.groups
            .entry((site, day))
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(row);
        self.len += 1;
    }
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

/// What a commit needs of the writer's state, taken with its batch so that
/// the batch can be written on another thread ([`write_batch`]).
pub(crate) struct CommitPlan {
    /// (name, id, encoded record) of the sites the batch creates.
    pub(crate) new_sites: Vec<(String, u32, Vec<u8>)>,
    pub(crate) next_seq: Option<u64>,
    pub(crate) seal_rows: u64,
    pub(crate) seal_budget: u64,
    /// (site, day) of partitions to seal below `seal_rows`, in or out of
    /// the batch: an import's days it has moved past ([`settled_before`]).
    pub(crate) settled: BTreeSet<(u32, i32)>,
    /// Partitions that reach `seal_rows` are left pending, for the caller
    /// to seal aside (`Written::due`), until they reach
    /// [`DEFER_CAP`](super::aside::DEFER_CAP) times it.
    pub(crate) defer_seal: bool,
}

/// The days of an import's batch before which it has moved on: all but
/// a straggling hundredth of its rows are on or after the first day
/// returned. The import seals its partitions of earlier days below the
/// seal threshold, overlapped with parsing, instead of in the final
/// `seal_all`; a late row for one of them just goes pending again. On
/// shuffled input every day holds more than a hundredth of a batch, so
/// nothing is settled early.
pub(crate) fn settled_before(batch: &Batch) -> Option<i32> {
    let mut days: BTreeMap<i32, usize> = BTreeMap::new();
    for ((_, day), rows) in &batch.groups {
        *days.entry(*day).or_default() += rows.len();
    }
    let straggle = batch.len / 100;
    let mut seen = 0;
    for (day, n) in days {
        seen += n;
        if seen > straggle {
            return Some(day);
        }
    }
    None
}

/// A written batch: what it stored, and its emptied row vectors.
pub(crate) struct Written {
    pub(crate) summary: CommitSummary,
    pub(crate) spent: Vec<Vec<Row>>,
    pub(crate) new_sites: Vec<String>,
    /// (site, day) of the partitions left pending at or past the seal
    /// threshold (`CommitPlan::defer_seal`).
    pub(crate) due: Vec<(u32, i32)>,
}

/// Writes a batch in one transaction: needs nothing of the writer but
/// `plan`, so an import runs it while the next batch is buffered.
pub(crate) fn write_batch(core: &Core, batch: Batch, plan: CommitPlan) -> Result<Written> {
    core.write(|txn, touched| write_in(txn, touched, batch, plan))
}

fn write_in(
    txn: &WriteTransaction,
    touched: &mut Touched,
    batch: Batch,
    plan: CommitPlan,
) -> Result<Written> {
    let t_start = std::time::Instant::now();
    let mut summary = CommitSummary {
        events: batch.len as u64,
        ..CommitSummary::default()
    };
    // New sites, and the next sequence number (batches built while
    // another is in flight may commit first: it only grows).
    crate::storage::sites::create_new(txn, &plan.new_sites)?;
    {
        let mut meta = txn.open_table(META)?;
        if let Some(seq) = plan.next_seq {
            let stored = crate::write::stored_next_seq(&meta)?;
            if seq > stored {
                meta.insert("next_seq", seq.to_le_bytes().as_slice())?;
            }
        }
    }
    // Cookieless state and salts; salts older than yesterday are destroyed.
    {
        let mut c = txn.open_table(COOKIELESS)?;
        for (k, v) in &batch.cookieless {
            c.insert(*k, *v)?;
            touched.cookieless(k.0, k.1);
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
    // Known sessions whose first pageview (and attributes) the batch
    // changed: (site, hash, days with rows before, attributes now).
    let mut changed_sealed: Vec<(u32, u64, Vec<i32>, SessionAttrs)> = Vec::new();
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
            let mut row = match &old {
                Some(b) => SessionRow::decode(b)?,
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
                    if known && !old_days.is_empty() {
                        changed_sealed.push((site, hash, old_days.clone(), attrs.clone()));
                    }
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
                    if known {
                        touched.reattributed(site, hash);
                    }
                }
            }
            if refiled {
                touched.reattributed(site, hash);
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
            // Most events of a known session change nothing in its row:
            // rewriting it anyway would dirty a page of the table per
            // session in every commit.
            let bytes = row.encode();
            if old.as_deref() != Some(bytes.as_slice()) {
                sessions.insert((site, hash), bytes.as_slice())?;
                touched.session(site, hash);
            }
        }
        index_add.sort_unstable();
        let mut visitors = txn.open_table(VISITOR_SESSIONS)?;
        for key in index_remove {
            visitors.remove(key)?;
            touched.visitor(key.0, key.1);
        }
        for key in index_add {
            visitors.insert(key, ())?;
            touched.visitor(key.0, key.1);
        }
    }
    let t_rows = std::time::Instant::now();
    let n_blocks = block_changes.len();
    apply_block_changes(txn, block_changes)?;
    let t_blocks = std::time::Instant::now();
    let n_patch = changed_sealed.len();
    let mut patches: BTreeMap<u32, Vec<_>> = BTreeMap::new();
    for (site, hash, days, attrs) in changed_sealed {
        patches
            .entry(site)
            .or_default()
            .push((hash, days, Some(attrs)));
    }
    for (site, sessions) in &patches {
        patch_session_attrs(txn, *site, sessions)?;
    }
    let t_patch = std::time::Instant::now();
    for ((site, day), changes) in &refile {
        refile_visitors(txn, *site, *day, changes)?;
    }
    if std::env::var_os("HEATSTORE_TRACE").is_some() {
        eprintln!(
            "  rows {:?} blocks {n_blocks} {:?} patch {n_patch} {:?} refile {} {:?}",
            t_rows - t_start,
            t_blocks - t_rows,
            t_patch - t_blocks,
            refile.len(),
            t_patch.elapsed()
        );
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
            crate::storage::hiding::record_derived(
                txn,
                touched,
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
    let mut due = Vec::new();
    let seal_rows = plan.seal_rows;
    let defer_below = if plan.defer_seal {
        seal_rows.saturating_mul(super::aside::DEFER_CAP)
    } else {
        0
    };
    let mut seal_budget = plan.seal_budget;
    {
        let mut pending = txn.open_table(PENDING)?;
        let mut parts = txn.open_table(PARTITIONS)?;
        // What is left of it after the loop has no rows in the batch.
        let mut settled = plan.settled;
        for ((site, day), rows) in groups {
            let is_settled = settled.remove(&(site, day));
            let mut meta = match parts.get((site, day))?.map(|g| g.value().to_vec()) {
                Some(b) => PartMeta::decode(&b)?,
                None => PartMeta::default(),
            };
            let sealing = meta.pending_rows + rows.len() as u64;
            let deferred = sealing >= seal_rows && sealing < defer_below && !is_settled;
            // Within the budget, or the first: an import whose partitions
            // fill at the same pace does not decode them all at once.
            if (sealing >= seal_rows || is_settled)
                && !deferred
                && (to_seal.is_empty() || sealing <= seal_budget)
            {
                seal_budget = seal_budget.saturating_sub(sealing);
                to_seal.push((site, day, rows));
                // Sealing writes the partition's metadata again.
            } else {
                pending.insert((site, day, batch.start_seq), encode_batch(&rows).as_slice())?;
                meta.pending_rows += rows.len() as u64;
                if deferred {
                    due.push((site, day));
                }
                spent.push(rows);
                // Only a batch added: readers extend what they built.
                parts.insert((site, day), meta.encode_pending_append().as_slice())?;
            }
        }
        for (site, day) in settled {
            let Some(meta) = parts.get((site, day))?.map(|g| g.value().to_vec()) else {
                continue;
            };
            let pending = PartMeta::decode(&meta)?.pending_rows;
            if pending > 0 && pending <= seal_budget {
                seal_budget -= pending;
                to_seal.push((site, day, Vec::new()));
            }
        }
    }
    let t_seal = std::time::Instant::now();
    summary.sealed_partitions += to_seal.len() as u64;
    spent.extend(seal_many(txn, to_seal)?);
    if std::env::var_os("HEATSTORE_TRACE").is_some() {
        eprintln!(
            "sessions {:?} pending {:?} seal {:?}",
            t_sessions - t_start,
            t_seal - t_sessions,
            t_seal.elapsed()
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
        due,
    })
}

/// Applies a commit's changes to the session blocks: each day's changes
/// become one small tail, so a
/// commit costs what it changes, not what the day holds; a day's tails are
/// folded into its block now and then ([`TAIL_MAX`]).
fn apply_block_changes(txn: &WriteTransaction, changes: BlockChanges) -> Result<()> {
    let mut t = BlockTables::open(txn)?;
    for (key, list) in changes {
        let mut entries: BTreeMap<u64, BlockEntry> = BTreeMap::new();
        let mut removed: BTreeSet<u64> = BTreeSet::new();
        // The block as readers see it, built only when a change needs an
        // entry of it (a visitor changed: rare).
        let mut current: Option<Option<SessionBlock>> = None;
        for (hash, change) in list {
            match change {
                BlockChange::Put(e) => {
                    entries.insert(hash, *e);
                }
                BlockChange::Remove => {
                    entries.remove(&hash);
                    removed.insert(hash);
                }
                BlockChange::Visitor(v) => {
                    if let Some(e) = entries.get_mut(&hash) {
                        e.visitor = v;
                        continue;
                    }
                    if removed.contains(&hash) {
                        continue;
                    }
                    if current.is_none() {
                        current = Some(t.load(key)?);
                    }
                    let found = current
                        .as_ref()
                        .and_then(Option::as_ref)
                        .and_then(|b| b.hashes.binary_search(&hash).ok().and_then(|i| b.entry(i)));
                    if let Some(mut e) = found {
                        e.visitor = v;
                        entries.insert(hash, e);
                    }
                }
            }
        }
        let tail = BlockTail {
            entries: SessionBlock::build(entries.into_values().collect()),
            removed: removed.into_iter().collect(),
        };
        t.add_tail(key, &tail)?;
    }
    Ok(())
}
