//! Counts and sizes: per site and for the whole store, as pending deletion
//! requests leave them visible.

use redb::{ReadableTable, ReadableTableMetadata};
use serde::Serialize;

use crate::error::Result;
use crate::read::View;
use crate::storage::sessions::SessionRow;

/// Counts of one site.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SiteCounts {
    /// Events stored and visible (not hidden by a pending deletion
    /// request).
    pub events: u64,
    /// Events still stored but hidden by deletion requests not erased yet
    /// (erased by the next maintenance run).
    pub hidden_events: u64,
    /// Of which not sealed into segments yet.
    pub pending_events: u64,
    /// Sessions.
    pub sessions: u64,
    /// Day partitions.
    pub partitions: u64,
    /// Sealed segments.
    pub segments: u64,
}

/// Sizes and counts of a whole store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Events stored (sealed and pending) and visible: not hidden by a
    /// deletion request that is not erased yet.
    pub events: u64,
    /// Events still stored but hidden by deletion requests not erased yet;
    /// `heatstore check` verifies `events + hidden_events`.
    pub hidden_events: u64,
    /// Deletion requests not erased yet (hidden, waiting for maintenance).
    pub pending_requests: u64,
    /// Sessions.
    pub sessions: u64,
    /// Sites.
    pub sites: u64,
    /// (site, day) partitions.
    pub partitions: u64,
    /// Sealed segments.
    pub segments: u64,
    /// Events committed but not sealed into a segment yet.
    pub pending_events: u64,
    /// Size of the store's file (0 in memory).
    pub file_bytes: u64,
}

impl StoreStats {
    /// Bytes on disk per stored event.
    pub fn bytes_per_event(&self) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.file_bytes as f64 / self.events as f64
        }
    }
}

impl View {
    /// Counts of one site (zeros for an unknown site).
    pub(crate) fn counts(&self, site: &str) -> Result<SiteCounts> {
        self.counts_with(site, true)
    }

    /// [`View::counts`], counting sessions only if `sessions`.
    fn counts_with(&self, site: &str, sessions: bool) -> Result<SiteCounts> {
        let Some(s) = self.site(site)? else {
            return Ok(SiteCounts::default());
        };
        let mut c = SiteCounts::default();
        for (_, meta) in self.partitions(s.id, i32::MIN, i32::MAX)? {
            c.partitions += 1;
            c.segments += meta.segments.len() as u64;
            c.events += meta.rows();
            c.pending_events += meta.pending_rows;
        }
        // (Without `sessions`, the caller counts them itself.)
        let range = (s.id, 0)..=(s.id, u64::MAX);
        for e in self.t.sessions.range(range)?.take_while(|_| sessions) {
            let (k, v) = e?;
            if !s.hidden.is_empty() {
                let row = SessionRow::decode(v.value())?;
                if s.hidden.session_hidden(k.value().1, row.visitor)
                    || s.hidden.days_hidden(&row.days)
                {
                    continue;
                }
            }
            c.sessions += 1;
        }
        if !s.hidden.is_empty() {
            // Count what pending deletion requests leave visible.
            let stored = c.events;
            let mut events = 0u64;
            let all = crate::query::Filters {
                include_bots: true,
                ..crate::query::Filters::default()
            };
            crate::query::scan::scan(self, &s, &all, None, &mut |ctx| {
                events += ctx.rows.len();
                Ok(())
            })?;
            c.events = events;
            c.hidden_events = stored.saturating_sub(events);
        }
        Ok(c)
    }

    /// Counts of the whole store (file size left 0: [`crate::Store::stats`] fills it).
    pub(crate) fn stats(&self) -> Result<StoreStats> {
        let mut s = StoreStats::default();
        for e in self.t.deletions.iter()? {
            let r = crate::storage::requests::DeletionRequest::decode(e?.1.value())?;
            if r.status != crate::storage::requests::RequestStatus::Erased {
                s.pending_requests += 1;
            }
        }
        // With nothing hidden, the store's sessions are its session table's
        // length (kept by redb): no walk over every session.
        let whole = s.pending_requests == 0;
        if whole {
            s.sessions = self.t.sessions.len()?;
        }
        for site in self.sites()? {
            let c = self.counts_with(&site, !whole)?;
            s.sites += 1;
            s.events += c.events;
            s.hidden_events += c.hidden_events;
            s.sessions += c.sessions;
            s.partitions += c.partitions;
            s.segments += c.segments;
            s.pending_events += c.pending_events;
        }
        Ok(s)
    }
}
