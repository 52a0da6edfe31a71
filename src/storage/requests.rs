//! Deletion requests as the store records them (table `deletion_requests`):
//! their audit records, and what recording one does at once (its sessions
//! leave the session blocks, so that no report sees them).

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::file::Db;
use super::schema::*;
use super::Corrupt;
use crate::error::Result;

/// A deletion target as the audit record keeps it: ids only as their keyed
/// hashes, so the record holds no personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StoredTarget {
    /// A visitor, by keyed hash.
    Visitor {
        /// The visitor's keyed hash.
        hash: u64,
    },
    /// A session, by keyed hash.
    Session {
        /// The session's keyed hash.
        hash: u64,
    },
    /// A time range.
    TimeRange {
        /// Start, inclusive.
        from: i64,
        /// End, exclusive.
        to: i64,
    },
    /// The whole site.
    Site,
    /// Retention: every partition before this day start.
    Retention {
        /// First ms kept.
        before: i64,
    },
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Recorded and hidden from every read; not erased yet.
    Pending,
    /// Rows removed from every table; the file rewrite has not finished.
    Purged,
    /// Gone from the file's bytes.
    Erased,
}

/// The audit record of a deletion request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRequest {
    /// Request id.
    pub id: u64,
    /// The site.
    pub site: String,
    /// What is deleted.
    pub target: StoredTarget,
    /// When it was asked (ms since the epoch).
    pub requested_at: i64,
    /// When it must be erased at the latest.
    pub deadline: i64,
    /// When its data stopped being returned by reads (= `requested_at`).
    pub hidden_at: i64,
    /// When its rows were removed from the tables.
    pub purged_at: Option<i64>,
    /// When the file rewrite finished: gone from the bytes.
    pub erased_at: Option<i64>,
    /// Rows (events) removed.
    pub rows_removed: Option<u64>,
    /// Status.
    pub status: RequestStatus,
    /// The request this one was derived from: a session that an event
    /// naming that request's visitor tied to it only after the request was
    /// made (the event arrived late). Such a request deletes the session's
    /// events stored before; its deadline is the original's, or the site's
    /// purge window from when it was derived if that one has passed.
    #[serde(default)]
    pub derived_from: Option<u64>,
}

impl DeletionRequest {
    pub(crate) fn encode(&self) -> Vec<u8> {
        rmp_serde::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<DeletionRequest, Corrupt> {
        rmp_serde::from_slice(bytes).map_err(|e| Corrupt::new("deletion request", e.to_string()))
    }

    /// Whether it is past its deadline without being erased at `now`.
    pub fn overdue(&self, now: i64) -> bool {
        self.status != RequestStatus::Erased && now > self.deadline
    }
}

pub(crate) fn all_requests(db: &Db) -> Result<Vec<DeletionRequest>> {
    let txn = db.begin_read()?;
    let t = txn.open_table(DELETIONS)?;
    let mut v = Vec::new();
    for e in t.iter()? {
        v.push(DeletionRequest::decode(e?.1.value())?);
    }
    Ok(v)
}

pub(crate) fn mark_purged(txn: &WriteTransaction, id: u64, rows: u64, now: i64) -> Result<()> {
    let mut t = txn.open_table(DELETIONS)?;
    let Some(bytes) = t.get(id)?.map(|g| g.value().to_vec()) else {
        return Ok(());
    };
    let mut r = DeletionRequest::decode(&bytes)?;
    r.status = RequestStatus::Purged;
    r.purged_at = Some(now);
    r.rows_removed = Some(rows);
    t.insert(id, r.encode().as_slice())?;
    Ok(())
}
