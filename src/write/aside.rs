//! Sealing aside: the ingest handle's partitions that reach the seal
//! threshold are encoded from a read snapshot on a thread of their own,
//! while group commits go on, and stored by a short transaction of their
//! own; a commit seals inline only once a partition is far past the
//! threshold ([`DEFER_CAP`]). Encoding is most of sealing's cost: kept out
//! of the commit lock, it no longer holds up the durable acknowledgement
//! of the groups that happen to fill a partition.
//!
//! What the snapshot read may change before the store: a commit may add
//! pending batches (they stay pending), seal the partition inline or grow
//! its dictionaries (the seal is then stale: nothing is written, the
//! caller tries again), record a deletion request (stale too: the seal
//! runs again after it), or change the first pageview or the visitor of a
//! session, patching it in the segments already sealed: those sessions are
//! recorded by every commit while a seal aside runs
//! ([`Core::seal_log_begin`]) and patched in the new segments (a merged
//! partial segment's rows included) by the transaction that stores them.
//! Maintenance (purge, retention, the file rewrite) does not run
//! meanwhile: a seal aside holds the maintenance lock, or waits.

use std::collections::BTreeSet;

use foldhash::HashMap;
use redb::ReadableTable;

use crate::core::Core;
use crate::error::Result;
use crate::storage::schema::DELETIONS;
use crate::storage::seal::{
    apply_aside, current_infos, patch_session_attrs, prepare_aside, refile_visitors, AsideSeal,
};

/// A commit that may leave sealing aside still seals a partition inline
/// once its pending rows reach this many times the seal threshold (the
/// sealer is behind or keeps finding its work stale).
pub(crate) const DEFER_CAP: u64 = 4;

/// What became of one seal aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Aside {
    /// Sealed: the rows the new segments hold, and how long the storing
    /// transaction held the commit lock.
    Sealed {
        rows: u64,
        pause: std::time::Duration,
    },
    /// Too little pending (sealed meanwhile).
    Nothing,
    /// The partition changed while it was encoded: nothing written.
    Stale,
    /// Maintenance is running: try later.
    Busy,
}

/// A seal aside between its snapshot and its store.
pub(crate) struct Prepared {
    seal: AsideSeal,
    /// The latest deletion request the snapshot saw.
    requests: u64,
    /// Where the seal log stood before the snapshot.
    pos: u64,
}

impl Core {
    /// Seals the pending rows of partition `(site, day)` aside (see the
    /// module's documentation), if at least `min_rows` are pending.
    pub(crate) fn seal_aside(&self, site: u32, day: i32, min_rows: u64) -> Result<Aside> {
        let Ok(_maintenance) = self.maintenance.try_lock() else {
            return Ok(Aside::Busy);
        };
        // Ended however this ends (a panic while encoding included): a
        // log left open would grow with every commit.
        struct Ends<'c>(&'c Core);
        impl Drop for Ends<'_> {
            fn drop(&mut self) {
                self.0.seal_log_end();
                self.0.sealing_aside.store(false, SeqCst);
            }
        }
        use std::sync::atomic::Ordering::SeqCst;
        // The maintenance status does not count this as a run.
        self.sealing_aside.store(true, SeqCst);
        let pos = self.seal_log_begin();
        let _ends = Ends(self);
        match self.prepare_seal(site, day, min_rows, pos)? {
            Some(p) => self.store_seal(p),
            None => Ok(Aside::Nothing),
        }
    }

    /// Reads and encodes, without the commit lock. `pos`: from
    /// [`Core::seal_log_begin`], called before.
    fn prepare_seal(
        &self,
        site: u32,
        day: i32,
        min_rows: u64,
        pos: u64,
    ) -> Result<Option<Prepared>> {
        let read = self.read()?;
        let requests = last_request(&read.open_table(DELETIONS)?)?;
        Ok(
            prepare_aside(&read, site, day, min_rows)?.map(|seal| Prepared {
                seal,
                requests,
                pos,
            }),
        )
    }

    /// Stores what [`Core::prepare_seal`] encoded, in one transaction
    /// that also patches the sessions re-attributed since.
    fn store_seal(&self, p: Prepared) -> Result<Aside> {
        let Prepared {
            mut seal,
            requests,
            pos,
        } = p;
        let (site, day) = (seal.site, seal.day);
        let rows = seal.rows();
        // Storing does not need them: the patch step does.
        let infos = std::mem::take(&mut seal.infos);
        let (stored, pause) = self.write_held(|txn, _| {
            if last_request(&txn.open_table(DELETIONS)?)? != requests {
                return Ok(false);
            }
            if !apply_aside(txn, seal)? {
                return Ok(false);
            }
            // Sessions re-attributed since the snapshot, among those the
            // new segments hold.
            let changed: BTreeSet<u64> = self
                .reattributed_since(pos)
                .into_iter()
                .filter(|(s, h)| *s == site && infos.contains_key(h))
                .map(|(_, h)| h)
                .collect();
            if changed.is_empty() {
                return Ok(true);
            }
            let now = current_infos(txn, site, changed.iter().copied())?;
            let mut patch = Vec::new();
            let mut refile: HashMap<u64, u64> = HashMap::default();
            for (hash, info) in &now {
                let then = infos.get(hash);
                if then.map(|t| &t.attrs) != Some(&info.attrs) {
                    patch.push((*hash, vec![day], info.attrs.clone()));
                }
                if let Some(v) = info.visitor {
                    if then.and_then(|t| t.visitor) != Some(v) {
                        refile.insert(*hash, v);
                    }
                }
            }
            patch_session_attrs(txn, site, &patch)?;
            if !refile.is_empty() {
                refile_visitors(txn, site, day, &refile)?;
            }
            Ok(true)
        })?;
        Ok(if stored {
            Aside::Sealed { rows, pause }
        } else {
            Aside::Stale
        })
    }
}

/// The id of the latest deletion request (0: none).
fn last_request(t: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64> {
    Ok(t.last()?.map_or(0, |(k, _)| k.value()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Filters;
    use crate::report::{Report, ReportRequest};
    use crate::{Event, EventKind, Store};

    const DAY: i64 = 86_400_000;

    fn click(ts: i64, session: &str) -> Event {
        let mut e = Event::new("a.example", ts, EventKind::Click, session, "/p");
        (e.x, e.y, e.vw) = (Some((ts % 700) as u32), Some(40), Some(1280));
        e.selector = Some("#buy".into());
        e
    }

    fn pageview(ts: i64, session: &str, visitor: Option<&str>, mobile: bool) -> Event {
        let mut e = Event::new("a.example", ts, EventKind::Pageview, session, "/p");
        e.visitor = visitor.map(str::to_owned);
        e.referrer = Some(format!("https://{session}.ref.example/"));
        e.ua = Some(if mobile {
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1".into()
        } else {
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36".into()
        });
        (e.vw, e.vh, e.dh) = (Some(1280), Some(800), Some(3000));
        e
    }

    fn commit(store: &Store, events: &[Event]) {
        let mut w = store.writer().unwrap();
        for e in events {
            w.append(e).unwrap();
        }
        w.commit().unwrap();
    }

    /// Every report but replay, unfiltered and by device, as JSON.
    fn reports(store: &Store) -> Vec<String> {
        let snap = store.snapshot().unwrap();
        let mut out = Vec::new();
        for report in Report::ALL {
            if report == Report::Replay {
                continue;
            }
            for device in [None, Some("mobile"), Some("desktop")] {
                let mut r = ReportRequest::new(report, "a.example");
                r.filters = Filters::default().page("/p");
                if let Some(d) = device {
                    r.set("device", d).unwrap();
                }
                // Session keys are keyed by the store: left out.
                let json = r.run(&snap).unwrap().to_json();
                let json: String = json
                    .split("\"session\":\"")
                    .enumerate()
                    .map(|(i, part)| {
                        if i == 0 {
                            part
                        } else {
                            part.get(18..).unwrap_or("")
                        }
                    })
                    .collect();
                out.push(format!("{report:?} {device:?} {json}"));
            }
        }
        out
    }

    /// Sessions whose first pageview (with its attributes) and visitor
    /// arrive while their rows are being sealed aside end up in the new
    /// segments as if they had been sealed inline: every report equals
    /// that of a store given the same events and sealed at once.
    #[test]
    fn sessions_re_attributed_during_a_seal_aside_are_patched() {
        let t0 = crate::time::now_ms() - 3 * DAY;
        let first: Vec<Event> = (0..40)
            .map(|i| click(t0 + 1000 + i, ["s1", "s2", "s3"][i as usize % 3]))
            .chain([
                pageview(t0 + 500, "s2", Some("v2"), false),
                pageview(t0 + 1500, "s3", None, false),
            ])
            .collect();
        // Late: s1's first pageview (mobile), s3's naming visitor v2
        // (its sealed pageview then counts as v2's).
        let late = [
            pageview(t0 + 100, "s1", None, true),
            pageview(t0 + 200, "s3", Some("v2"), true),
        ];
        // With `sealed_first`, half of the rows are sealed before the rest
        // are committed: the late events then also patch that sealed
        // segment in place (which the seal aside merges with the pending
        // rows), and the seal is still stored.
        for (sealed_first, mutate) in [(false, false), (false, true), (true, false), (true, true)] {
            let store = Store::in_memory().unwrap();
            store.set_seal_rows(1 << 20);
            if sealed_first {
                commit(&store, &first[..20]);
                store.writer().unwrap().seal_all().unwrap();
                commit(&store, &first[20..]);
            } else {
                commit(&store, &first);
            }
            let core = &store.core;
            let day = crate::time::day_of(t0 + 1000);
            let site = core.lock().sites["a.example"].id;
            let pos = core.seal_log_begin();
            let prepared = core.prepare_seal(site, day, 1, pos).unwrap().unwrap();
            let mut late = late.clone();
            if sealed_first {
                // Strings the partition's dictionaries hold already (s2's,
                // patched in by the second commit): a late pageview that
                // grew them would make the seal stale.
                late[0] = pageview(t0 + 100, "s1", None, false);
                late[0].referrer = Some("https://s2.ref.example/".into());
                late[1] = pageview(t0 + 200, "s3", Some("v2"), false);
                late[1].referrer = late[0].referrer.clone();
            }
            // The partition's `sealed` stamp as stored now.
            let stamp = || {
                core.read()
                    .unwrap()
                    .open_table(crate::storage::schema::PARTITIONS)
                    .unwrap()
                    .get((site, day))
                    .unwrap()
                    .map(|g| {
                        crate::storage::partition::PartMeta::decode(g.value())
                            .unwrap()
                            .sealed
                    })
            };
            let sealed_before = stamp();
            commit(&store, &late);
            let sealed_after = stamp();
            // The late events patched the sealed segment in place.
            assert_eq!(sealed_before != sealed_after, sealed_first);
            if mutate {
                // What the patch step is for: without the log, the new
                // segments keep what the snapshot saw.
                let p = Prepared {
                    pos: u64::MAX,
                    ..prepared
                };
                assert!(matches!(core.store_seal(p).unwrap(), Aside::Sealed { .. }));
            } else {
                assert!(matches!(
                    core.store_seal(prepared).unwrap(),
                    Aside::Sealed { rows: 42, .. }
                ));
                let s = store.snapshot().unwrap().stats().unwrap();
                // One segment: the sealed half merged with the rest.
                assert_eq!(s.segments, 1);
            }
            core.seal_log_end();
            let s = store.snapshot().unwrap().stats().unwrap();
            assert_eq!((s.events, s.pending_events), (44, 2));
            let reference = Store::in_memory().unwrap();
            commit(&reference, &first);
            commit(&reference, &late);
            reference.writer().unwrap().seal_all().unwrap();
            let (got, want) = (reports(&store), reports(&reference));
            if mutate {
                assert_ne!(got, want, "the test can fail");
            } else {
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g, w);
                }
                // Sealing the rest changes nothing either.
                store.writer().unwrap().seal_all().unwrap();
                assert_eq!(reports(&store), want);
            }
        }
    }

    /// A seal aside whose partition was sealed, or whose site got a
    /// deletion request, while it encoded writes nothing; nothing is lost.
    #[test]
    fn a_seal_aside_overtaken_is_stale() {
        let t0 = crate::time::now_ms() - 3 * DAY;
        let events: Vec<Event> = (0..30).map(|i| click(t0 + i, "s1")).collect();
        for overtake in ["seal", "request"] {
            let store = Store::in_memory().unwrap();
            store.set_seal_rows(1 << 20);
            commit(&store, &events);
            let core = &store.core;
            let site = core.lock().sites["a.example"].id;
            let pos = core.seal_log_begin();
            let p = core
                .prepare_seal(site, crate::time::day_of(t0), 1, pos)
                .unwrap()
                .unwrap();
            match overtake {
                "seal" => {
                    commit(&store, &[click(t0 + 100, "s2")]);
                    store.writer().unwrap().seal_all().unwrap();
                }
                _ => {
                    store
                        .request_deletion("a.example", crate::DeletionTarget::Session("s9".into()))
                        .unwrap();
                }
            }
            assert_eq!(core.store_seal(p).unwrap(), Aside::Stale, "{overtake}");
            core.seal_log_end();
            let s = store.snapshot().unwrap().stats().unwrap();
            let n = if overtake == "seal" { 31 } else { 30 };
            assert_eq!(s.events, n, "{overtake}");
            assert_eq!(
                core.seal_aside(site, crate::time::day_of(t0), 1).unwrap() == Aside::Nothing,
                overtake == "seal"
            );
            assert_eq!(store.snapshot().unwrap().stats().unwrap().pending_events, 0);
            assert_eq!(store.snapshot().unwrap().stats().unwrap().events, n);
        }
    }
}
