//! `check`: every structure of a store decoded, and what ties them
//! together verified.

use super::*;
use crate::error::Result;
use crate::storage::segment::{self, col};
use crate::storage::sessions::SessionRow;
use crate::storage::Corrupt;
use redb::ReadableTable;

/// Visitors and sessions of erased deletion requests, with the time
/// before which their events must be gone.
#[derive(Default)]
struct ErasedIds {
    visitors: foldhash::HashMap<u64, i64>,
    sessions: foldhash::HashMap<u64, i64>,
}

impl ErasedIds {
    fn add_visitor(&mut self, hash: u64, at: i64) {
        let e = self.visitors.entry(hash).or_insert(at);
        *e = (*e).max(at);
    }

    fn add_session(&mut self, hash: u64, at: i64) {
        let e = self.sessions.entry(hash).or_insert(at);
        *e = (*e).max(at);
    }

    /// Whether an event at `ts` of `session`, whose visitor was named by an
    /// event at `named.1`, should have been erased.
    fn covers(&self, session: u64, named: Option<(u64, i64)>, ts: i64) -> bool {
        self.sessions.get(&session).is_some_and(|&at| ts < at)
            || named.is_some_and(|(v, named_ts)| {
                self.visitors
                    .get(&v)
                    .is_some_and(|&at| ts < at && named_ts < at)
            })
    }
}

impl View {
    /// Decodes every structure of the store: every segment column, bitmap,
    /// dictionary, pending batch, session row and session block, and checks
    /// what ties them together: each segment files its sessions under the
    /// visitor their session rows name, the visitor index holds exactly the
    /// visitors each session's events named, and no stored event belongs
    /// to a visitor or session whose deletion request is erased (other than
    /// events that happened after the request). Returns the number of
    /// events checked, or the first inconsistency found.
    pub(crate) fn check(&self) -> Result<u64> {
        let mut events = 0u64;
        for site in self.sites()? {
            let Some(s) = self.site(&site)? else { continue };
            let erased = self.erased_ids(&s, &site)?;
            let mut session_rows: foldhash::HashMap<u64, SessionRow> = Default::default();
            for e in self.t.sessions.range((s.id, 0)..=(s.id, u64::MAX))? {
                let (k, v) = e?;
                session_rows.insert(k.value().1, SessionRow::decode(v.value())?);
            }
            for (day, meta) in self.partitions(s.id, i32::MIN, i32::MAX)? {
                let view = self.partition_view(s.id, day, &meta)?;
                for seg in &view.segments {
                    let cols = self.all_columns(&view, seg)?;
                    let rows = segment::decode_rows(&cols, seg.rows, day, &view.dicts)?;
                    let runs = segment::SessionRuns::decode(
                        &self.need_column(&view, seg, col::SESSIONS)?,
                        seg.rows,
                    )?;
                    let attrs = self.need_column(&view, seg, col::SESSION_ATTRS)?;
                    segment::decode_session_attrs(&attrs, runs.len())?;
                    segment::decode_bitmaps(&self.need_column(&view, seg, col::BM_DEVICE)?)?;
                    segment::decode_bitmaps(&self.need_column(&view, seg, col::BM_HOUR)?)?;
                    segment::decode_bitmaps(&self.need_column(&view, seg, col::BM_PAGE)?)?;
                    for (hash, visitor) in runs.hashes.iter().zip(&runs.visitors) {
                        let filed = session_rows.get(hash).map(|r| r.visitor);
                        if filed != Some(*visitor) {
                            return Err(Corrupt::new(
                                "segment session column",
                                format!(
                                    "day {day} of site {}: session {hash:016x} is filed under \
                                     visitor {visitor:016x}, its session row names {}",
                                    s.id,
                                    filed.map_or("none".to_owned(), |v| format!("{v:016x}"))
                                ),
                            )
                            .into());
                        }
                    }
                    for r in &rows {
                        // The visitor that named the session before the
                        // event, if any: a visitor deleted before it was
                        // named covers nothing earlier of the session.
                        let named = session_rows.get(&r.session).and_then(|row| {
                            let at = row.named_at(r.session)?;
                            Some((row.visitor, at.ts))
                        });
                        if erased.covers(r.session, named, r.ts) {
                            return Err(Corrupt::new(
                                "erasure",
                                format!(
                                    "day {day} of site {site}: an event of session {:016x} at \
                                     {} belongs to an erased deletion request",
                                    r.session, r.ts
                                ),
                            )
                            .into());
                        }
                    }
                    events += rows.len() as u64;
                }
                self.session_block(s.id, day)?;
            }
            // The visitor index holds exactly what the session rows name.
            let mut want = 0u64;
            for (hash, row) in &session_rows {
                for v in row.index_visitors(*hash) {
                    if self.t.visitors.get((s.id, v, *hash))?.is_none() {
                        return Err(Corrupt::new(
                            "visitor index",
                            format!("session {hash:016x} of site {} is missing", s.id),
                        )
                        .into());
                    }
                    want += 1;
                }
            }
            let entries = self
                .t
                .visitors
                .range((s.id, 0, 0)..=(s.id, u64::MAX, u64::MAX))?
                .count() as u64;
            if entries != want {
                return Err(Corrupt::new(
                    "visitor index",
                    format!(
                        "{entries} entries where the {} sessions of site {} name {want}",
                        session_rows.len(),
                        s.id
                    ),
                )
                .into());
            }
            // A block version never outlives its block (or tail), and
            // every tail decodes.
            for e in self
                .t
                .block_versions
                .range((s.id, i32::MIN)..=(s.id, i32::MAX))?
            {
                let day = e?.0.value().1;
                if self.t.blocks.get((s.id, day))?.is_none()
                    && self
                        .t
                        .tails
                        .range((s.id, day, 0)..=(s.id, day, u64::MAX))?
                        .next()
                        .is_none()
                {
                    return Err(Corrupt::new(
                        "session block versions",
                        format!("day {day} of site {} has a version but no block", s.id),
                    )
                    .into());
                }
                self.session_block(s.id, day)?;
            }
        }
        Ok(events)
    }

    /// The visitors and sessions of a site's erased deletion requests,
    /// with the time of each request.
    fn erased_ids(&self, s: &SiteRef, site: &str) -> Result<ErasedIds> {
        use crate::storage::requests::{DeletionRequest, RequestStatus, StoredTarget};
        let mut out = ErasedIds::default();
        for e in self.t.deletions.iter()? {
            let r = DeletionRequest::decode(e?.1.value())?;
            if r.site != site || r.status != RequestStatus::Erased {
                continue;
            }
            match r.target {
                StoredTarget::Visitor { hash } => out.add_visitor(hash, r.requested_at),
                StoredTarget::Session { hash } => out.add_session(hash, r.requested_at),
                _ => {}
            }
        }
        for e in self
            .t
            .deleted_sessions
            .range((s.id, 0)..=(s.id, u64::MAX))?
        {
            let (k, v) = e?;
            out.add_session(k.value().1, v.value());
        }
        Ok(out)
    }
}
