//! Tombstones: what deletion requests hide from reads (`Hidden`, for
//! requests not erased yet) and what they and opt-outs cover of the events
//! still to come (`Covered`, for ingest).
//!
//! # Covers of events still to come
//!
//! A deletion request covers the events that happened before it was made,
//! whenever they arrive: an event of a deleted session, of a deleted
//! visitor, in a deleted time range or of a deleted site's past is dropped
//! at ingest if its `ts` is before the request's time. An opted-out
//! visitor's events are dropped whenever they happened.
//!
//! A visitor's deletion covers every session any of whose events named
//! the visitor, and the events naming no visitor of the session whose id
//! is the visitor's (a session naming none stands for its visitor). An event that names a deleted visitor therefore also
//! covers its session: the session's later events are dropped, and its
//! events stored before (which did not name the visitor, so nothing tied
//! them to it) are deleted by a request derived from the visitor's, with
//! the same deadline.

use std::collections::HashSet;

use foldhash::HashMap;
use redb::ReadableTable;

use super::requests::{DeletionRequest, RequestStatus, StoredTarget};
use super::row::Row;
use crate::error::Result;

/// Why and until when an id or range is covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cover {
    /// Events with `ts` before this are covered (`i64::MAX`: every event,
    /// for opted-out visitors).
    pub cutoff: i64,
    /// The request that covers it (0 when none is recorded, e.g. a
    /// session covered by an erased request, known from `deleted_sessions`).
    pub request: u64,
    /// That request's deadline.
    pub deadline: i64,
}

impl Cover {
    fn covers(&self, ts: i64) -> bool {
        ts < self.cutoff
    }

    /// The later-reaching of two covers of the same id.
    fn widest(self, other: Cover) -> Cover {
        if other.cutoff > self.cutoff {
            other
        } else {
            self
        }
    }
}

/// What covers an event, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hit {
    /// Its session, a time range or the whole site.
    Session,
    /// The visitor it names: its session is covered from now on.
    Visitor(Cover),
}

/// The covers of one site.
#[derive(Clone, Debug, Default)]
pub(crate) struct Covered {
    visitors: HashMap<u64, Cover>,
    sessions: HashMap<u64, Cover>,
    ranges: Vec<(i64, i64, Cover)>,
    site: Option<Cover>,
}

impl Covered {
    pub(crate) fn is_empty(&self) -> bool {
        self.visitors.is_empty()
            && self.sessions.is_empty()
            && self.ranges.is_empty()
            && self.site.is_none()
    }

    pub(crate) fn add_visitor(&mut self, hash: u64, c: Cover) {
        let e = self.visitors.entry(hash).or_insert(c);
        *e = e.widest(c);
    }

    pub(crate) fn add_session(&mut self, hash: u64, c: Cover) {
        let e = self.sessions.entry(hash).or_insert(c);
        *e = e.widest(c);
    }

    pub(crate) fn add_range(&mut self, from: i64, to: i64, c: Cover) {
        self.ranges.push((from, to, c));
    }

    pub(crate) fn add_site(&mut self, c: Cover) {
        self.site = Some(self.site.map_or(c, |s| s.widest(c)));
    }

    /// Whether a session is covered for an event at `ts`.
    pub(crate) fn session(&self, hash: u64, ts: i64) -> bool {
        self.sessions.get(&hash).is_some_and(|c| c.covers(ts))
    }

    /// What covers an event of `session` at `ts` that names `visitor`.
    pub(crate) fn check(&self, session: u64, visitor: Option<u64>, ts: i64) -> Option<Hit> {
        if let Some(c) = visitor.and_then(|v| self.visitors.get(&v)) {
            if c.covers(ts) {
                return Some(Hit::Visitor(*c));
            }
        }
        // An event that names no visitor: its session stands for its
        // visitor (until an event names one), so a request for a visitor
        // of the session's id covers it, whether or not the session was
        // stored when the request was made or erased.
        let as_visitor =
            visitor.is_none() && self.visitors.get(&session).is_some_and(|c| c.covers(ts));
        if as_visitor
            || self.session(session, ts)
            || self.site.is_some_and(|c| c.covers(ts))
            || self
                .ranges
                .iter()
                .any(|&(f, t, c)| ts >= f && ts < t && c.covers(ts))
        {
            return Some(Hit::Session);
        }
        None
    }
}

/// The covers of site `id` (named `site`) as the store holds them: its
/// deletion requests (every status), the sessions its erased requests
/// deleted, and its opt-outs; sessions of visitors whose request is not
/// erased yet are found through the visitor index.
pub(crate) fn load(txn: &redb::ReadTransaction, site: &str, id: u32) -> crate::Result<Covered> {
    use super::schema::{DELETED_SESSIONS, DELETIONS, OPT_OUTS, VISITOR_SESSIONS};

    let mut c = Covered::default();
    let index = txn.open_table(VISITOR_SESSIONS)?;
    let sessions_of = |v: u64, cover: Cover, c: &mut Covered| -> crate::Result<()> {
        for e in index.range((id, v, 0)..=(id, v, u64::MAX))? {
            c.add_session(e?.0.value().2, cover);
        }
        Ok(())
    };
    let opt_outs = txn.open_table(OPT_OUTS)?;
    for e in opt_outs.range((id, 0)..=(id, u64::MAX))? {
        let v = e?.0.value().1;
        let cover = Cover {
            cutoff: i64::MAX,
            request: 0,
            deadline: i64::MAX,
        };
        c.add_visitor(v, cover);
        sessions_of(v, cover, &mut c)?;
    }
    let requests = txn.open_table(DELETIONS)?;
    for e in requests.iter()? {
        let r = DeletionRequest::decode(e?.1.value())?;
        if r.site != site {
            continue;
        }
        let cover = Cover {
            cutoff: r.requested_at,
            request: r.id,
            deadline: r.deadline,
        };
        match r.target {
            StoredTarget::Visitor { hash } => {
                c.add_visitor(hash, cover);
                if r.status != RequestStatus::Erased {
                    sessions_of(hash, cover, &mut c)?;
                }
            }
            StoredTarget::Session { hash } => c.add_session(hash, cover),
            StoredTarget::TimeRange { from, to } => c.add_range(from, to, cover),
            StoredTarget::Site => c.add_site(cover),
            // Retention drops old partitions; what arrives older is dropped
            // by the next maintenance run.
            StoredTarget::Retention { .. } => {}
        }
    }
    let deleted = txn.open_table(DELETED_SESSIONS)?;
    for e in deleted.range((id, 0)..=(id, u64::MAX))? {
        let (k, v) = e?;
        c.add_session(
            k.value().1,
            Cover {
                cutoff: v.value(),
                request: 0,
                deadline: 0,
            },
        );
    }
    Ok(c)
}

// ------------------------------------------------------- hidden from reads

/// Rows hidden by pending requests, for one site.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hidden {
    pub all: bool,
    pub sessions: HashSet<u64>,
    pub visitors: HashSet<u64>,
    pub ranges: Vec<(i64, i64)>,
    /// The days the hidden sessions have rows on (from their session
    /// rows; filled by [`hidden_for`]): with `all` and `ranges`, the days
    /// whose partitions and session blocks hold hidden rows.
    pub days: std::collections::BTreeSet<i32>,
    /// A key of everything hidden (0 when nothing is): aggregates of a
    /// partition computed without its hidden rows are cached under it.
    pub key: u64,
}

impl Hidden {
    /// Whether day `day`'s partition or session block may hold hidden
    /// rows. A day it says no for holds none: its aggregates answer as
    /// they are.
    pub(crate) fn touches(&self, day: i32) -> bool {
        if self.all || self.days.contains(&day) {
            return true;
        }
        let (start, end) = (crate::time::day_start(day), crate::time::day_start(day + 1));
        self.ranges.iter().any(|&(f, t)| f < end && start < t)
    }

    /// The key of what is hidden on a day: 0 when nothing is (the
    /// aggregates of the day as stored), else [`Hidden::key`].
    pub(crate) fn key_on(&self, day: i32) -> u64 {
        if self.touches(day) {
            self.key
        } else {
            0
        }
    }

    /// Sets [`Hidden::key`] from the contents.
    fn seal_key(&mut self) {
        use std::hash::BuildHasher;
        if self.is_empty() {
            self.key = 0;
            return;
        }
        let mut sessions: Vec<u64> = self.sessions.iter().copied().collect();
        let mut visitors: Vec<u64> = self.visitors.iter().copied().collect();
        sessions.sort_unstable();
        visitors.sort_unstable();
        let h = foldhash::fast::FixedState::with_seed(0x41dd).hash_one((
            self.all,
            &sessions,
            &visitors,
            &self.ranges,
        ));
        // 0 stands for "nothing hidden".
        self.key = h.max(1);
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.all && self.sessions.is_empty() && self.visitors.is_empty() && self.ranges.is_empty()
    }

    pub(crate) fn session_hidden(&self, session: u64, visitor: u64) -> bool {
        self.all || self.sessions.contains(&session) || self.visitors.contains(&visitor)
    }

    pub(crate) fn row_hidden(&self, r: &Row) -> bool {
        self.session_hidden(r.session, r.visitor) || self.ts_hidden(r.ts)
    }

    pub(crate) fn ts_hidden(&self, ts: i64) -> bool {
        self.ranges.iter().any(|&(f, t)| ts >= f && ts < t)
    }

    /// Whether a session with rows on `days` has none left visible by the
    /// time ranges alone: each of its days lies whole in a hidden range.
    /// (A day only partly hidden counts as visible.)
    pub(crate) fn days_hidden(&self, days: &[i32]) -> bool {
        !self.ranges.is_empty()
            && !days.is_empty()
            && days.iter().all(|&d| {
                let (start, end) = (crate::time::day_start(d), crate::time::day_start(d + 1));
                self.ranges.iter().any(|&(f, t)| f <= start && end <= t)
            })
    }

    /// Adds the sessions of the hidden visitors, found through the visitor
    /// index: every session any of whose events named one of them.
    pub(crate) fn resolve(
        &mut self,
        index: &impl ReadableTable<(u32, u64, u64), ()>,
        site: u32,
    ) -> Result<()> {
        for &v in &self.visitors {
            for e in index.range((site, v, 0)..=(site, v, u64::MAX))? {
                self.sessions.insert(e?.0.value().2);
            }
        }
        Ok(())
    }

    pub(crate) fn add(&mut self, t: &StoredTarget) {
        match *t {
            StoredTarget::Visitor { hash } => {
                self.visitors.insert(hash);
            }
            StoredTarget::Session { hash } => {
                self.sessions.insert(hash);
            }
            StoredTarget::TimeRange { from, to } => self.ranges.push((from, to)),
            StoredTarget::Retention { before } => self.ranges.push((i64::MIN, before)),
            StoredTarget::Site => self.all = true,
        }
    }
}

/// The tombstones of a site (`site`, id `site_id`): its requests not
/// erased yet, with the sessions of their visitors.
pub(crate) fn hidden_for(
    t: &impl ReadableTable<u64, &'static [u8]>,
    index: &impl ReadableTable<(u32, u64, u64), ()>,
    sessions: &impl ReadableTable<(u32, u64), &'static [u8]>,
    site_id: u32,
    site: &str,
) -> Result<Hidden> {
    let mut h = Hidden::default();
    for e in t.iter()? {
        let r = DeletionRequest::decode(e?.1.value())?;
        if r.site == site && r.status != RequestStatus::Erased {
            h.add(&r.target);
        }
    }
    h.resolve(index, site_id)?;
    if !h.all {
        for &s in &h.sessions {
            if let Some(g) = sessions.get((site_id, s))? {
                let row = super::sessions::SessionRow::decode(g.value())?;
                h.days.extend(row.days.iter().copied());
            }
        }
    }
    h.seal_key();
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Cover = Cover {
        cutoff: 100,
        request: 1,
        deadline: 1_000,
    };

    #[test]
    fn only_events_before_the_cutoff_are_covered() {
        let mut c = Covered::default();
        assert!(c.is_empty());
        c.add_visitor(7, C);
        c.add_session(8, C);
        c.add_range(10, 20, C);
        assert_eq!(c.check(1, Some(7), 99), Some(Hit::Visitor(C)));
        assert_eq!(c.check(1, Some(7), 100), None);
        assert_eq!(c.check(8, None, 50), Some(Hit::Session));
        assert_eq!(c.check(8, Some(9), 150), None);
        assert_eq!(c.check(2, None, 15), Some(Hit::Session));
        assert_eq!(c.check(2, None, 25), None);
        // An opt-out covers every event, and wins over an earlier request.
        let out = Cover {
            cutoff: i64::MAX,
            ..C
        };
        c.add_visitor(7, out);
        c.add_visitor(7, C);
        assert_eq!(c.check(1, Some(7), i64::MAX - 1), Some(Hit::Visitor(out)));
        c.add_site(C);
        assert_eq!(c.check(3, None, 5), Some(Hit::Session));
    }
}
