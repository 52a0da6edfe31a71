//! A store embedded in a live server: 8 threads submit events through the
//! ingest handle, 4 query, and one files deletion requests and opt-outs
//! and runs maintenance twice, all at once. Afterwards every acknowledged
//! event is stored exactly once unless deleted, every deleted visitor is
//! gone from the reports and from the file's bytes, and no query failed or
//! saw an inconsistent state. A watchdog fails the test on a deadlock.
//!
//! Each submitter has a site of its own. Sites 4–7 see no deletion, so a
//! query can bound their counts exactly: at least the events acknowledged
//! before its snapshot, at most those submitted before it ended.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heatstore::query::Filters;
use heatstore::{DeletionTarget, Event, EventKind, IngestOptions, RequestStatus, Store};
use rand::{Rng, SeedableRng};

const SUBMITTERS: usize = 8;
const QUERIERS: usize = 4;
const EVENTS_PER_SUBMITTER: usize = 4_000;
const VISITORS_PER_SITE: usize = 30;
/// Sites below this one get deletion requests and opt-outs.
const DELETING_SITES: usize = 4;

fn site(t: usize) -> String {
    format!("s{t}.example")
}

fn visitor(t: usize, k: usize) -> String {
    format!("v{t}x{k}")
}

/// The `i`th event of submitter `t`: its visitor's id is in its URL (so a
/// byte scan finds what is left of the visitor), every event names it.
fn event(t: usize, i: usize, start: i64) -> (usize, Event) {
    let k = (i * 7 + i / 13) % VISITORS_PER_SITE;
    let v = visitor(t, k);
    let session = format!("{v}-s{}", i % 2);
    let kind = if i % 3 == 0 {
        EventKind::Pageview
    } else {
        EventKind::Click
    };
    let mut e = Event::new(
        &site(t),
        start + i as i64 * 1_000,
        kind,
        &session,
        &format!("/u/{v}/p{}", i % 4),
    );
    e.visitor = Some(v);
    e.ua = Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36".into());
    (e.vw, e.vh, e.dh) = (Some(1280), Some(720), Some(3000));
    if kind == EventKind::Click {
        (e.x, e.y) = (Some(10 + (i % 100) as u32), Some(20 + (i % 50) as u32));
    }
    (k, e)
}

/// What one submitter knows of its events: stored (acknowledged) or not.
#[derive(Default)]
struct Ledger {
    /// (visitor index, url, kind) of each event acknowledged as stored.
    stored: Vec<(usize, String, EventKind)>,
    dropped: u64,
}

#[test]
fn a_live_server_loses_nothing_and_deletes_everything_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.heat");
    let store = Arc::new(Store::open(&path).unwrap());
    store.set_seal_rows(2_000);
    let ingest = store
        .ingest_with(IngestOptions {
            queue_events: 4_096,
            max_events: 2_048,
            ..IngestOptions::default()
        })
        .unwrap();
    let start = heatstore_now() - 3 * 86_400_000;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let submitted: Arc<Vec<AtomicU64>> =
        Arc::new((0..SUBMITTERS).map(|_| AtomicU64::new(0)).collect());
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..SUBMITTERS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    // Visitors whose deletion (or opt-out) has returned, by site.
    let deleted: Arc<Mutex<BTreeMap<usize, BTreeSet<usize>>>> = Arc::default();
    let queries = Arc::new(AtomicU64::new(0));
    let maintenance_reports = Arc::new(Mutex::new(Vec::new()));

    let body = {
        let store = Arc::clone(&store);
        let ingest = ingest.clone();
        let submitted = Arc::clone(&submitted);
        let acked = Arc::clone(&acked);
        let stop = Arc::clone(&stop);
        let deleted = Arc::clone(&deleted);
        let queries = Arc::clone(&queries);
        let reports = Arc::clone(&maintenance_reports);
        std::thread::spawn(move || {
            let submitters: Vec<_> = (0..SUBMITTERS)
                .map(|t| {
                    let ingest = ingest.clone();
                    let submitted = Arc::clone(&submitted);
                    let acked = Arc::clone(&acked);
                    std::thread::spawn(move || {
                        let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
                        let mut ledger = Ledger::default();
                        let mut i = 0;
                        let mut waiting = Vec::new();
                        while i < EVENTS_PER_SUBMITTER {
                            let n = rng.random_range(1..=20).min(EVENTS_PER_SUBMITTER - i);
                            let batch: Vec<(usize, Event)> =
                                (i..i + n).map(|j| event(t, j, start)).collect();
                            i += n;
                            let events: Vec<Event> = batch.iter().map(|(_, e)| e.clone()).collect();
                            submitted[t].fetch_add(n as u64, Ordering::SeqCst);
                            let ticket = ingest.submit(events).expect("submit");
                            waiting.push((batch, ticket));
                            // Sometimes wait at once, sometimes let a few pile up.
                            if rng.random_bool(0.5) || waiting.len() > 8 {
                                for (batch, ticket) in waiting.drain(..) {
                                    let r = ticket.wait().expect("a group commit failed");
                                    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
                                    let dropped: BTreeSet<usize> =
                                        r.dropped.iter().map(|d| d.0).collect();
                                    for (j, (k, e)) in batch.into_iter().enumerate() {
                                        if dropped.contains(&j) {
                                            ledger.dropped += 1;
                                        } else {
                                            ledger.stored.push((k, e.url, e.kind));
                                        }
                                    }
                                    acked[t].fetch_add(r.stored as u64, Ordering::SeqCst);
                                }
                            }
                        }
                        for (batch, ticket) in waiting {
                            let r = ticket.wait().expect("a group commit failed");
                            let dropped: BTreeSet<usize> = r.dropped.iter().map(|d| d.0).collect();
                            for (j, (k, e)) in batch.into_iter().enumerate() {
                                if dropped.contains(&j) {
                                    ledger.dropped += 1;
                                } else {
                                    ledger.stored.push((k, e.url, e.kind));
                                }
                            }
                            acked[t].fetch_add(r.stored as u64, Ordering::SeqCst);
                        }
                        ledger
                    })
                })
                .collect();
            let queriers: Vec<_> = (0..QUERIERS)
                .map(|q| {
                    let store = Arc::clone(&store);
                    let submitted = Arc::clone(&submitted);
                    let acked = Arc::clone(&acked);
                    let stop = Arc::clone(&stop);
                    let deleted = Arc::clone(&deleted);
                    let queries = Arc::clone(&queries);
                    std::thread::spawn(move || {
                        let mut rng = rand::rngs::StdRng::seed_from_u64(100 + q as u64);
                        while !stop.load(Ordering::SeqCst) {
                            let t = rng.random_range(0..SUBMITTERS);
                            let low = acked[t].load(Ordering::SeqCst);
                            let gone: Vec<usize> = deleted
                                .lock()
                                .unwrap()
                                .get(&t)
                                .map(|s| s.iter().copied().collect())
                                .unwrap_or_default();
                            let snap = store.snapshot().expect("snapshot");
                            let c = snap.counts(&site(t)).expect("counts");
                            let high = submitted[t].load(Ordering::SeqCst);
                            if t >= DELETING_SITES {
                                assert!(
                                    low <= c.events && c.events <= high,
                                    "site {t}: {} events, acknowledged {low}, submitted {high}",
                                    c.events
                                );
                            } else {
                                assert!(c.events <= high, "site {t}: {} > {high}", c.events);
                            }
                            let pages = snap
                                .pages(&site(t), &Filters::default(), None)
                                .expect("pages");
                            let pageviews: u64 = pages.rows.iter().map(|r| r.pageviews).sum();
                            assert!(pageviews <= c.events);
                            // A deletion that returned hides the visitor from
                            // every snapshot taken after it.
                            for &k in &gone {
                                let v = visitor(t, k);
                                for s in 0..2 {
                                    let ev = snap
                                        .session_events(&site(t), &format!("{v}-s{s}"))
                                        .expect("replay");
                                    assert!(
                                        ev.is_empty(),
                                        "deleted visitor {v} still replays {} events",
                                        ev.len()
                                    );
                                }
                                assert!(
                                    pages
                                        .rows
                                        .iter()
                                        .all(|r| !r.page.contains(&format!("/u/{v}/"))),
                                    "deleted visitor {v} still in pages"
                                );
                            }
                            snap.series(
                                &site(t),
                                &Filters::default(),
                                heatstore::query::Interval::Hour,
                            )
                            .expect("series");
                            queries.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            let deleter = {
                let store = Arc::clone(&store);
                let deleted = Arc::clone(&deleted);
                let reports = Arc::clone(&reports);
                let acked = Arc::clone(&acked);
                std::thread::spawn(move || {
                    let acked_now = || acked.iter().map(|a| a.load(Ordering::SeqCst)).sum::<u64>();
                    for round in 0..2 {
                        std::thread::sleep(Duration::from_millis(300));
                        for t in 0..DELETING_SITES {
                            for j in 0..3 {
                                let k = round * 10 + t + j * 3;
                                let v = visitor(t, k);
                                if j == 0 {
                                    store.opt_out(&site(t), &v).expect("opt-out");
                                } else {
                                    store
                                        .request_deletion(&site(t), DeletionTarget::Visitor(v))
                                        .expect("deletion request");
                                }
                                deleted.lock().unwrap().entry(t).or_default().insert(k);
                            }
                        }
                        let before = acked_now();
                        let r = store.maintenance(heatstore_now()).expect("maintenance");
                        // Ingest went on during the run.
                        reports.lock().unwrap().push((r, acked_now() - before));
                    }
                })
            };
            let ledgers: Vec<Ledger> = submitters.into_iter().map(|s| s.join().unwrap()).collect();
            deleter.join().unwrap();
            stop.store(true, Ordering::SeqCst);
            for q in queriers {
                q.join().unwrap();
            }
            let _ = done_tx.send(());
            ledgers
        })
    };
    // The watchdog: the whole run ends well within this, or something
    // deadlocked.
    if done_rx.recv_timeout(Duration::from_secs(240)).is_err() {
        if body.is_finished() {
            // A thread panicked: show why.
            body.join().unwrap();
        }
        panic!("the run did not finish in 240 s: deadlock");
    }
    let ledgers = body.join().unwrap();
    ingest.flush().unwrap();
    let stats = ingest.close().unwrap();
    assert_eq!(stats.submitted, (SUBMITTERS * EVENTS_PER_SUBMITTER) as u64);
    assert!(queries.load(Ordering::SeqCst) > 20, "the queriers ran");
    let deleted = deleted.lock().unwrap().clone();
    let reports = maintenance_reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 2);
    eprintln!("maintenance runs (report, events acknowledged during the run): {reports:?}");
    assert!(
        reports.iter().any(|(r, _)| r.rows_removed > 0),
        "{reports:?}"
    );
    assert!(
        reports.iter().all(|(r, _)| r.rewrite_rounds >= 2),
        "both runs rewrote the file: {reports:?}"
    );
    assert!(
        reports.iter().all(|(_, during)| *during > 0),
        "ingest went on during both runs: {reports:?}"
    );

    // Every pending request is carried out by the second run: all erased.
    for r in store.deletion_requests().unwrap() {
        assert_eq!(r.status, RequestStatus::Erased, "{r:?}");
    }
    let expected = |store: &Store| {
        let snap = store.snapshot().unwrap();
        snap.check().unwrap();
        for (t, ledger) in ledgers.iter().enumerate() {
            let gone = deleted.get(&t).cloned().unwrap_or_default();
            let kept: Vec<&(usize, String, EventKind)> = ledger
                .stored
                .iter()
                .filter(|(k, _, _)| !gone.contains(k))
                .collect();
            let c = snap.counts(&site(t)).unwrap();
            assert_eq!(
                c.events,
                kept.len() as u64,
                "site {t}: stored exactly once unless deleted"
            );
            let mut model: BTreeMap<&str, (u64, BTreeSet<usize>)> = BTreeMap::new();
            for (k, url, kind) in &kept {
                if *kind == EventKind::Pageview {
                    let m = model.entry(url.as_str()).or_default();
                    m.0 += 1;
                    m.1.insert(*k);
                }
            }
            let pages = snap.pages(&site(t), &Filters::default(), None).unwrap();
            let got: BTreeMap<&str, (u64, u64)> = pages
                .rows
                .iter()
                .map(|r| (r.page.as_str(), (r.pageviews, r.visitors)))
                .collect();
            let want: BTreeMap<&str, (u64, u64)> = model
                .iter()
                .map(|(p, (n, v))| (*p, (*n, v.len() as u64)))
                .collect();
            assert_eq!(got, want, "site {t}: pages");
            if t >= DELETING_SITES {
                assert_eq!(ledger.dropped, 0);
            }
        }
    };
    expected(&store);
    drop(store);
    // After reopening, the same; and no byte of a deleted visitor is left.
    let store = Store::open(&path).unwrap();
    expected(&store);
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    for (t, ks) in &deleted {
        for &k in ks {
            let v = visitor(*t, k);
            assert!(
                !found(&format!("/u/{v}/")),
                "bytes of deleted visitor {v} are in the file"
            );
        }
    }
    assert!(
        found(&format!("/u/{}/", visitor(5, 1))),
        "the scan finds what was kept"
    );
}

fn heatstore_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Session reports after thousands of small commits (each rewriting only
/// its days' small block tails, folded into the blocks now and then) equal
/// those after one commit of the same events, shuffled arrival included.
#[test]
fn small_group_commits_give_the_reports_of_one_big_commit() {
    use heatstore::gen::{GenConfig, Generator};
    use heatstore::query::{DeviceBy, Interval, ReferrerBy};
    // One site, one day mostly: about 1,500 sessions in a day's block, so
    // its tail is folded into it along the way (at 1,024 changes).
    let cfg = GenConfig {
        events: 100_000,
        days: 1,
        sites: vec!["one.example".into()],
        arrival_jitter_ms: 120_000,
        late_fraction: 0.05,
        ..GenConfig::default()
    };
    let events: Vec<Event> = Generator::new(cfg.clone()).collect();
    let report = |store: &Store| {
        let snap = store.snapshot().unwrap();
        snap.check().unwrap();
        let f = Filters::default();
        let mut out = Vec::new();
        for site in snap.sites().unwrap() {
            out.push(format!(
                "{:?}",
                snap.devices(&site, &f, DeviceBy::Browser, None).unwrap()
            ));
            out.push(format!(
                "{:?}",
                snap.referrers(&site, &f, ReferrerBy::Host, None).unwrap()
            ));
            out.push(format!(
                "{:?}",
                snap.series(&site, &f, Interval::Hour).unwrap()
            ));
            out.push(format!(
                "{:?}",
                snap.sessions(&site, &f, Some(100_000)).unwrap().total
            ));
            let half = Filters::range(cfg.start_ms + 3_600_000, cfg.start_ms + 30 * 3_600_000);
            out.push(format!(
                "{:?}",
                snap.devices(&site, &half, DeviceBy::Class, None).unwrap()
            ));
        }
        out
    };
    let one = Store::in_memory().unwrap();
    let mut w = one.writer().unwrap();
    for e in &events {
        w.append(e).unwrap();
    }
    w.seal_all().unwrap();
    drop(w);
    let want = report(&one);

    let store = Arc::new(Store::in_memory().unwrap());
    let ingest = store.ingest().unwrap();
    for chunk in events.chunks(41) {
        ingest.submit_durable(chunk.to_vec()).unwrap();
    }
    ingest.close().unwrap();
    assert_eq!(report(&store), want, "before sealing");
    store.writer().unwrap().seal_all().unwrap();
    assert_eq!(report(&store), want, "after sealing");
}

/// The scheduler carries out requests without an operator: an overdue
/// one at once, a fresh one once it is `batch_after` old, while ingest
/// goes on; its status shows what it did and what is next.
#[test]
fn the_scheduler_erases_without_an_operator() {
    let store = Arc::new(Store::in_memory().unwrap());
    let ingest = store.ingest().unwrap();
    let start = heatstore_now() - 86_400_000;
    let events: Vec<Event> = (0..600).map(|i| event(0, i, start).1).collect();
    ingest.submit_durable(events).unwrap();
    let now = heatstore_now();
    // Filed 200 days ago: past its deadline (at most 180 days).
    let old = store
        .request_deletion_at(
            &site(0),
            DeletionTarget::Visitor(visitor(0, 1)),
            now - 200 * 86_400_000,
        )
        .unwrap();
    let status = store.maintenance_status(now).unwrap();
    assert_eq!(status.overdue, vec![old]);
    assert!(status.next_due.unwrap() <= now);
    let options = heatstore::ScheduleOptions {
        batch_after: Duration::from_millis(300),
        check_every: Duration::from_millis(20),
        ..heatstore::ScheduleOptions::default()
    };
    let scheduler = store.start_maintenance(options).unwrap();
    let wait_for = |what: &str, ok: &dyn Fn(&heatstore::ScheduleStatus) -> bool| {
        let t0 = std::time::Instant::now();
        loop {
            let s = scheduler.status().unwrap();
            if ok(&s) {
                return s;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "{what}: {s:?}");
            // Ingest goes on meanwhile (of other visitors: events of the
            // old request's visitor that happened after it was filed are
            // not covered by it).
            let (k, e) = event(0, 10_000 + t0.elapsed().as_millis() as usize, start);
            if k != 1 && k != 2 {
                ingest.submit(vec![e]).unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let s = wait_for("the overdue request erased", &|s| {
        s.store.pending == 0 && s.runs >= 1
    });
    assert!(s.store.overdue.is_empty());
    assert_eq!(s.last_error, None);
    assert_eq!(s.last_report.as_ref().unwrap().erased, vec![old]);
    assert!(s.store.last_run.is_some());
    // A fresh request waits for `batch_after`, then goes too.
    let fresh = store
        .request_deletion(&site(0), DeletionTarget::Visitor(visitor(0, 2)))
        .unwrap();
    let s = scheduler.status().unwrap();
    assert_eq!(s.store.pending, 1);
    assert!(s.store.next_due.unwrap() > heatstore_now() - 50);
    // (`runs` counts a run once it has returned, just after its last
    // transaction marked the request erased.)
    let s = wait_for("the fresh request erased", &|s| {
        s.store.pending == 0 && s.runs >= 2
    });
    assert_eq!(s.last_error, None);
    let erased: Vec<u64> = store
        .deletion_requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.status == RequestStatus::Erased)
        .map(|r| r.id)
        .collect();
    assert_eq!(erased, vec![old, fresh]);
    scheduler.stop();
    ingest.close().unwrap();
    let snap = store.snapshot().unwrap();
    for k in [1, 2] {
        let v = visitor(0, k);
        assert!(snap
            .session_events(&site(0), &format!("{v}-s0"))
            .unwrap()
            .is_empty());
    }
}
