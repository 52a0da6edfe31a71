//! What write transactions touched of the tables too large to compare
//! whole, while an online file rewrite catches up with them.
//!
//! The rewrite (`deletion/rewrite.rs`) copies a snapshot of every table
//! into a fresh file while commits go on, then brings the copy up to date
//! in rounds. Most tables it compares directly: partition data by the
//! version every write of a partition changes, session blocks by their
//! versions, the small tables entry by entry. Three tables hold an entry
//! per session or visitor (`sessions`, `visitor_sessions`,
//! `cookieless_sessions`): comparing them would cost as much as copying
//! them, so every write transaction records the keys it wrote there
//! ([`Touched`]) and hands them to the [`Journal`] after it commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// The keys one write transaction wrote (inserted or removed) in the
/// journaled tables. Collects nothing while no rewrite is running.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    on: bool,
    /// `(site, session)` keys of `sessions`.
    pub(crate) sessions: Vec<(u32, u64)>,
    /// `(site, visitor)`: the visitor's entries of `visitor_sessions`.
    pub(crate) visitors: Vec<(u32, u64)>,
    /// `(site, visitor)` keys of `cookieless_sessions`.
    pub(crate) cookieless: Vec<(u32, u64)>,
    /// `(site, session)` of known sessions whose first pageview or
    /// visitor the transaction changed (what their sealed rows take from
    /// them): recorded whether or not a rewrite runs, for sealing aside
    /// (`Core::seal_aside`).
    pub(crate) reattributed: Vec<(u32, u64)>,
}

impl Touched {
    /// A collector for one transaction: records only when `on`.
    pub(crate) fn new(on: bool) -> Touched {
        Touched {
            on,
            ..Touched::default()
        }
    }

    /// Records a write of the session row `(site, session)`.
    pub(crate) fn session(&mut self, site: u32, session: u64) {
        if self.on {
            self.sessions.push((site, session));
        }
    }

    /// Records a write of one of `visitor`'s index entries.
    pub(crate) fn visitor(&mut self, site: u32, visitor: u64) {
        if self.on {
            self.visitors.push((site, visitor));
        }
    }

    /// Records that the first pageview or the visitor of a known session
    /// changed.
    pub(crate) fn reattributed(&mut self, site: u32, session: u64) {
        self.reattributed.push((site, session));
    }

    /// Records a write of the cookieless state of `(site, visitor)`.
    pub(crate) fn cookieless(&mut self, site: u32, visitor: u64) {
        if self.on {
            self.cookieless.push((site, visitor));
        }
    }

    fn append(&mut self, other: Touched) {
        self.sessions.extend(other.sessions);
        self.visitors.extend(other.visitors);
        self.cookieless.extend(other.cookieless);
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.visitors.is_empty() && self.cookieless.is_empty()
    }

    /// Sorts and deduplicates the keys.
    pub(crate) fn dedup(&mut self) {
        for v in [&mut self.sessions, &mut self.visitors, &mut self.cookieless] {
            v.sort_unstable();
            v.dedup();
        }
    }
}

/// The keys written since a rewrite began, across transactions.
///
/// A transaction records its keys after it commits, while it still holds
/// the store's commit lock: so a rewrite that drains the journal and then
/// takes a snapshot sees, in that snapshot, every change the drained keys
/// name; and one that holds the commit lock sees every committed change
/// either in the journal or in a snapshot already caught up.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    active: AtomicBool,
    keys: Mutex<Touched>,
}

impl Journal {
    /// Whether a rewrite is collecting keys.
    pub(crate) fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Starts collecting (with the commit lock held, so that no
    /// transaction straddles the start).
    pub(crate) fn start(&self) {
        *self.lock() = Touched::default();
        self.active.store(true, Ordering::Release);
    }

    /// Stops collecting and forgets what was collected.
    pub(crate) fn stop(&self) {
        self.active.store(false, Ordering::Release);
        *self.lock() = Touched::default();
    }

    /// Adds a committed transaction's keys.
    pub(crate) fn record(&self, touched: Touched) {
        if touched.on && !touched.is_empty() && self.active() {
            self.lock().append(touched);
        }
    }

    /// Takes the keys collected so far, sorted and deduplicated.
    pub(crate) fn drain(&self) -> Touched {
        let mut t = std::mem::take(&mut *self.lock());
        t.dedup();
        t
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Touched> {
        // The keys are plain data: a panic while one thread appended left
        // them usable (a key too many is harmless: it is copied again).
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_while_active_and_dedups() {
        let j = Journal::default();
        let mut t = Touched::new(j.active());
        t.session(1, 2);
        j.record(t);
        assert!(j.drain().is_empty());
        j.start();
        let mut t = Touched::new(j.active());
        t.session(1, 2);
        t.session(1, 2);
        t.visitor(1, 3);
        t.cookieless(2, 4);
        j.record(t);
        let d = j.drain();
        assert_eq!(d.sessions, vec![(1, 2)]);
        assert_eq!(d.visitors, vec![(1, 3)]);
        assert_eq!(d.cookieless, vec![(2, 4)]);
        assert!(j.drain().is_empty());
        j.stop();
        let mut t = Touched::new(true);
        t.session(9, 9);
        j.record(t);
        assert!(j.drain().is_empty());
    }
}
