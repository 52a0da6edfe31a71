//! Fault injection below redb. Every write path — append and commit, seal,
//! import, a deletion request, an opt-out, site settings, purge, retention,
//! the file rewrite of maintenance, compaction — runs on a virtual disk
//! that fails its N-th I/O operation (an I/O error, a full disk) or crashes
//! there keeping only what was synced, for every N in turn. After each
//! fault the store reopens, `check` passes, the reports show either the
//! state before the operation or the state after it (every committed event
//! is there, no deleted row is back), and the operation succeeds when
//! retried (maintenance then leaves no byte of the deleted visitor).

mod common;

use std::sync::Arc;

use common::faulty::{Disk, DiskVfs, Fault};
use common::model::events;
use heatstore::query::{Filters, Interval, ReferrerBy};
use heatstore::{DeletionTarget, Event, EventKind, OpenOptions, SiteSettings, Store};

const NAME: &str = "store";
const SITES: [&str; 2] = ["shop.example", "blog.example"];
const MARK: &str = "victim-mark-z4";
const BASE: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;

fn open(disk: &Arc<Disk>) -> heatstore::Result<Store> {
    let vfs: Arc<dyn heatstore::Vfs> = Arc::new(DiskVfs(Arc::clone(disk)));
    OpenOptions::new().open_vfs(vfs, NAME)
}

/// What the reports say: the visible state of the store.
fn fingerprint(store: &Store) -> String {
    let snap = store.snapshot().expect("snapshot");
    let all = Filters::default();
    let mut out = String::new();
    for site in SITES {
        let c = snap.counts(site).expect("counts");
        let pages = snap.pages(site, &all, None).expect("pages");
        let series = snap.series(site, &all, Interval::Day).expect("series");
        let refs = snap
            .referrers(site, &all, ReferrerBy::Host, None)
            .expect("referrers");
        out += &format!(
            "{site}: {} events {} sessions; pages {:?}; series {:?}; referrers {:?}\n",
            c.events,
            c.sessions,
            pages
                .rows
                .iter()
                .map(|r| (&r.page, r.pageviews, r.visitors))
                .collect::<Vec<_>>(),
            series
                .rows
                .iter()
                .map(|r| (r.pageviews, r.sessions, r.visitors))
                .collect::<Vec<_>>(),
            refs.rows
                .iter()
                .map(|r| (&r.key, r.sessions))
                .collect::<Vec<_>>(),
        );
    }
    out
}

fn ndjson(events: &[Event]) -> String {
    events.iter().map(|e| e.to_json_line() + "\n").collect()
}

/// The workload: the base store holds `first`; operations add `rest`.
struct Work {
    first: Vec<Event>,
    rest: Vec<Event>,
    victim: String,
}

fn work() -> Work {
    let mut all = events(41, 14);
    // The victim's events carry a mark that must leave the file's bytes.
    let victim = all.iter().find_map(|e| e.visitor.clone()).unwrap();
    let site = all
        .iter()
        .find(|e| e.visitor.as_ref() == Some(&victim))
        .unwrap()
        .site
        .clone();
    let mut marked = Event::new(&site, BASE + 5, EventKind::Custom, "victim-s", "/");
    marked.visitor = Some(victim.clone());
    marked.name = Some(MARK.into());
    all.insert(3, marked);
    let cut = all.len() * 2 / 3;
    let rest = all.split_off(cut);
    Work {
        first: all,
        rest,
        victim,
    }
}

/// A base disk: the first events committed (some sealed), a deletion
/// request for the victim pending, retention set on one site.
fn base(w: &Work) -> Arc<Disk> {
    let disk = Disk::new();
    let store = open(&disk).unwrap();
    store.set_seal_rows(20);
    {
        let mut wr = store.writer().unwrap();
        for (i, e) in w.first.iter().enumerate() {
            wr.append(e).unwrap();
            if i % 40 == 39 {
                wr.commit().unwrap();
            }
        }
        wr.commit().unwrap();
    }
    let site = w
        .first
        .iter()
        .find(|e| e.name.as_deref() == Some(MARK))
        .unwrap()
        .site
        .clone();
    store
        .request_deletion(&site, DeletionTarget::Visitor(w.victim.clone()))
        .unwrap();
    drop(store);
    disk
}

type Op = fn(&mut Store, &Work) -> heatstore::Result<()>;

fn op_append(store: &mut Store, w: &Work) -> heatstore::Result<()> {
    let mut wr = store.writer()?;
    for e in &w.rest {
        wr.append(e)?;
    }
    wr.commit()?;
    Ok(())
}

fn op_seal(store: &mut Store, _: &Work) -> heatstore::Result<()> {
    store.writer()?.seal_all().map(|_| ())
}

fn op_import(store: &mut Store, w: &Work) -> heatstore::Result<()> {
    store.import_ndjson(ndjson(&w.rest).as_bytes()).map(|_| ())
}

fn op_request(store: &mut Store, _: &Work) -> heatstore::Result<()> {
    store
        .request_deletion(
            "blog.example",
            DeletionTarget::TimeRange {
                from: BASE + DAY,
                to: BASE + DAY + DAY / 2,
            },
        )
        .map(|_| ())
}

fn op_opt_out(store: &mut Store, _: &Work) -> heatstore::Result<()> {
    store.opt_out("shop.example", "v3").map(|_| ())
}

fn op_settings(store: &mut Store, _: &Work) -> heatstore::Result<()> {
    let s = SiteSettings {
        sensitive_selectors: vec!["#card*".into()],
        ..SiteSettings::default()
    };
    store.set_site_settings("blog.example", s)
}

fn op_maintain(store: &mut Store, _: &Work) -> heatstore::Result<()> {
    store.maintenance(BASE + 10 * DAY).map(|_| ())
}

fn op_retention(store: &mut Store, _: &Work) -> heatstore::Result<()> {
    let s = SiteSettings {
        retention_days: Some(2),
        ..SiteSettings::default()
    };
    store.set_site_settings("shop.example", s)?;
    store.maintenance(BASE + 3 * DAY).map(|_| ())
}

fn op_compact(store: &mut Store, _: &Work) -> heatstore::Result<()> {
    store.compact().map(|_| ())
}

/// Whether the operation may be run again on a store where it already
/// took effect (a second append would store the events twice).
fn idempotent(name: &str) -> bool {
    matches!(name, "seal" | "maintain" | "compact" | "settings")
}

#[derive(Default, Debug)]
struct Tally {
    points: u64,
    failed_ops: u64,
    before: u64,
    after: u64,
}

fn run_case(w: &Work, name: &str, op: Op, faults: &[Fault]) -> Tally {
    let base = base(w);
    // The clean run: how many I/O operations, and the state after.
    let (before, after, n) = {
        let disk = base.copy();
        let mut store = open(&disk).unwrap();
        let before = fingerprint(&store);
        let start = disk.ops();
        op(&mut store, w).unwrap_or_else(|e| panic!("{name}: clean run failed: {e}"));
        let n = disk.ops() - start;
        (before, fingerprint(&store), n)
    };
    assert!(n > 0, "{name} did no I/O");
    let mut tally = Tally::default();
    for k in 1..=n {
        for &fault in faults {
            tally.points += 1;
            let disk = base.copy();
            let mut store = open(&disk).unwrap();
            let at = disk.ops() + k;
            disk.plan(Some((at, fault)));
            let result = op(&mut store, w);
            drop(store);
            tally.failed_ops += u64::from(result.is_err());
            let disk = if fault == Fault::Crash {
                disk.after_crash()
            } else {
                disk.plan(None);
                disk
            };
            let ctx = format!("{name}: {fault:?} at I/O {k} of {n} ({result:?})");
            let mut store = open(&disk).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
            store
                .snapshot()
                .and_then(|s| s.check())
                .unwrap_or_else(|e| panic!("{ctx}: check: {e}"));
            let now = fingerprint(&store);
            let applied = if now == before {
                tally.before += 1;
                false
            } else if now == after {
                tally.after += 1;
                true
            } else {
                panic!("{ctx}: neither the state before nor after:\n{now}\nbefore:\n{before}\nafter:\n{after}");
            };
            if !applied || idempotent(name) {
                op(&mut store, w).unwrap_or_else(|e| panic!("{ctx}: retry: {e}"));
                assert_eq!(fingerprint(&store), after, "{ctx}: after the retry");
                store.snapshot().unwrap().check().unwrap();
            }
            if name == "maintain" {
                assert!(!disk.contains(MARK.as_bytes()), "{ctx}: the mark survived");
            }
        }
    }
    tally
}

fn cases() -> Vec<(&'static str, Op)> {
    vec![
        ("append", op_append as Op),
        ("seal", op_seal),
        ("import", op_import),
        ("request", op_request),
        ("opt-out", op_opt_out),
        ("settings", op_settings),
        ("maintain", op_maintain),
        ("retention", op_retention),
        ("compact", op_compact),
    ]
}

#[test]
fn every_write_path_survives_a_fault_at_every_io_point() {
    let w = work();
    let mut report = Vec::new();
    for (name, op) in cases() {
        let t = run_case(&w, name, op, &[Fault::Error, Fault::Full, Fault::Crash]);
        assert!(t.failed_ops > 0, "{name}: no fault made it fail");
        report.push(format!("{name}: {t:?}"));
    }
    // The figures of the closing note: `cargo test --test faults -- --nocapture`.
    for line in report {
        println!("{line}");
    }
}
