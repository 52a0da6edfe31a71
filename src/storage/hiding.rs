//! What recording a deletion request does at once, in its transaction: the
//! audit record, and its sessions leaving the session blocks (so that no
//! report sees them; reads hide their rows through the tombstones).

use std::collections::BTreeSet;

use redb::{ReadableTable, WriteTransaction};

use super::journal::Touched;
use super::requests::{DeletionRequest, RequestStatus, StoredTarget};
use super::schema::*;
use super::sessions::{block_days, BlockTables, SessionRow};
use super::sites::MAX_PURGE_WINDOW_DAYS;
use super::tombstones::Hidden;
use crate::error::{Error, Result};
use crate::time::{day_of, now_ms, DAY_MS};

pub(crate) fn record_request(
    txn: &WriteTransaction,
    touched: &mut Touched,
    site: &str,
    site_id: u32,
    target: StoredTarget,
    window_days: u32,
    now: i64,
) -> Result<u64> {
    if window_days > MAX_PURGE_WINDOW_DAYS {
        return Err(Error::Policy(format!(
            "purge window of {window_days} days is over the maximum of {MAX_PURGE_WINDOW_DAYS} days"
        )));
    }
    let mut t = txn.open_table(DELETIONS)?;
    let id = t.last()?.map_or(1, |(k, _)| k.value() + 1);
    let r = DeletionRequest {
        id,
        site: site.to_owned(),
        target,
        requested_at: now,
        deadline: now.saturating_add(i64::from(window_days) * DAY_MS),
        hidden_at: now,
        purged_at: None,
        erased_at: None,
        rows_removed: None,
        status: RequestStatus::Pending,
        derived_from: None,
    };
    t.insert(id, r.encode().as_slice())?;
    drop(t);
    hide_sessions(txn, touched, site_id, &target)?;
    Ok(id)
}

/// Records a request derived from request `from` that deletes one session
/// (see [`DeletionRequest::derived_from`]), hidden at once like any other.
pub(crate) fn record_derived(
    txn: &WriteTransaction,
    touched: &mut Touched,
    site: &str,
    site_id: u32,
    session: u64,
    from: u64,
    deadline: i64,
) -> Result<u64> {
    let now = now_ms();
    let mut t = txn.open_table(DELETIONS)?;
    let id = t.last()?.map_or(1, |(k, _)| k.value() + 1);
    let target = StoredTarget::Session { hash: session };
    let r = DeletionRequest {
        id,
        site: site.to_owned(),
        target,
        requested_at: now,
        deadline,
        hidden_at: now,
        purged_at: None,
        erased_at: None,
        rows_removed: None,
        status: RequestStatus::Pending,
        derived_from: (from != 0).then_some(from),
    };
    t.insert(id, r.encode().as_slice())?;
    drop(t);
    hide_sessions(txn, touched, site_id, &target)?;
    Ok(id)
}

/// Makes the session reports forget the target's sessions at once: remove
/// them from the session blocks, and for a time range, take away the
/// attributes of sessions whose first pageview is in it.
pub(crate) fn hide_sessions(
    txn: &WriteTransaction,
    touched: &mut Touched,
    site: u32,
    target: &StoredTarget,
) -> Result<()> {
    let mut hidden = Hidden::default();
    hidden.add(target);
    hidden.resolve(&txn.open_table(VISITOR_SESSIONS)?, site)?;
    // The blocks to look at: for a visitor or a session, only the days of
    // their sessions' first pageviews; otherwise every block of the site.
    let only_days: Option<BTreeSet<i32>> = match *target {
        StoredTarget::Session { hash } => {
            let sessions = txn.open_table(SESSIONS)?;
            let row = sessions.get((site, hash))?.map(|g| g.value().to_vec());
            let mut days = BTreeSet::new();
            if let Some(b) = row {
                if let Some(fp) = SessionRow::decode(&b)?.first_pv {
                    days.insert(day_of(fp.ts));
                }
            }
            Some(days)
        }
        StoredTarget::Visitor { .. } => {
            let sessions = txn.open_table(SESSIONS)?;
            let index = txn.open_table(VISITOR_SESSIONS)?;
            let mut days = BTreeSet::new();
            for (_, row) in hidden_sessions(&sessions, &index, site, &hidden)? {
                if let Some(fp) = row.first_pv {
                    days.insert(day_of(fp.ts));
                }
            }
            Some(days)
        }
        _ => None,
    };
    let mut blocks = BlockTables::open(txn)?;
    let days: Vec<i32> = match only_days {
        Some(d) => d.into_iter().collect(),
        None => block_days(&blocks.blocks, &blocks.tails, site, i32::MIN, i32::MAX)?,
    };
    let mut lost_attrs = Vec::new();
    for day in days {
        blocks.retain((site, day), |e| {
            let gone = hidden.session_hidden(e.hash, e.visitor) || hidden.ts_hidden(e.first_ts);
            if gone && !hidden.session_hidden(e.hash, e.visitor) {
                lost_attrs.push(e.hash);
            }
            !gone
        })?;
    }
    drop(blocks);
    // Sessions whose first pageview is deleted keep no attributes.
    if !lost_attrs.is_empty() {
        let mut sessions = txn.open_table(SESSIONS)?;
        let mut patch = Vec::new();
        for hash in lost_attrs {
            let Some(bytes) = sessions.get((site, hash))?.map(|g| g.value().to_vec()) else {
                continue;
            };
            let mut row = SessionRow::decode(&bytes)?;
            row.first_pv = None;
            sessions.insert((site, hash), row.encode().as_slice())?;
            touched.session(site, hash);
            // No attributes now: the block lost its entry.
            patch.push((hash, row.days, None));
        }
        drop(sessions);
        crate::storage::seal::patch_session_attrs(txn, site, &patch)?;
    }
    Ok(())
}

/// The session rows the tombstones hide, by session hash: found by key and
/// through the visitor index, not by a scan (unless the whole site is
/// hidden).
pub(crate) fn hidden_sessions(
    sessions: &impl ReadableTable<(u32, u64), &'static [u8]>,
    index: &impl ReadableTable<(u32, u64, u64), ()>,
    site: u32,
    hidden: &Hidden,
) -> Result<Vec<(u64, SessionRow)>> {
    let mut out = Vec::new();
    if hidden.all {
        for e in sessions.range((site, 0)..=(site, u64::MAX))? {
            let (k, v) = e?;
            out.push((k.value().1, SessionRow::decode(v.value())?));
        }
        return Ok(out);
    }
    // Every session any of whose events named a hidden visitor.
    let mut hashes: BTreeSet<u64> = hidden.sessions.iter().copied().collect();
    for &v in &hidden.visitors {
        for e in index.range((site, v, 0)..=(site, v, u64::MAX))? {
            hashes.insert(e?.0.value().2);
        }
    }
    for hash in hashes {
        let Some(bytes) = sessions.get((site, hash))?.map(|g| g.value().to_vec()) else {
            continue;
        };
        out.push((hash, SessionRow::decode(&bytes)?));
    }
    Ok(out)
}
