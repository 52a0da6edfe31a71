//! Deletion requests: hidden at once, erased by maintenance (in bytes),
//! every other row still answering every report as the model says; crash
//! safety of maintenance; deadlines; opt-out; retention.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::model::{check_all, events, Model, PAGES};
use heatstore::query::{Filters, HeatmapOptions};
use heatstore::{DeletionTarget, Event, EventKind, RequestStatus, SiteSettings, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400_000;
const BASE: i64 = 1_767_225_600_000; // 2026-01-01

fn load(path: &Path, all: &[Event], seal_rows: u64) -> Store {
    let store = Store::open(path).unwrap();
    store.set_seal_rows(seal_rows);
    for chunk in all.chunks(37) {
        let mut w = store.writer().unwrap();
        for e in chunk {
            w.append(e).unwrap();
        }
        w.commit().unwrap();
    }
    store
}

/// The model after deletions: the events left, and sessions whose first
/// pageview fell in a deleted range keep no attributes.
fn model_after(
    all: &[Event],
    visitors: &[String],
    sessions: &[String],
    ranges: &[(i64, i64)],
) -> Model {
    let full = Model::new(all);
    let gone_session = |e: &Event| {
        let sid = e.session.clone().unwrap();
        let s = &full.sessions[&(e.site.clone(), sid.clone())];
        visitors.contains(&s.visitor) || sessions.contains(&sid)
    };
    let in_range = |t: i64| ranges.iter().any(|&(f, to)| t >= f && t < to);
    let left: Vec<Event> = all
        .iter()
        .filter(|e| !gone_session(e) && !in_range(e.ts))
        .cloned()
        .collect();
    let mut m = Model::new(&left);
    for (key, s) in m.sessions.iter_mut() {
        if let Some(orig) = full.sessions.get(key) {
            if orig.first.is_some_and(|(t, _)| in_range(t)) {
                s.first = None;
                s.attrs = None;
            }
        }
    }
    m
}

fn check_reports(store: &Store, m: &Model, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    check_all(store, m, &Filters::default(), HeatmapOptions::default());
    for page in PAGES {
        check_all(
            store,
            m,
            &Filters::default().page(page),
            HeatmapOptions::default(),
        );
    }
    for _ in 0..3 {
        let a = BASE + rng.random_range(0..2 * DAY);
        let f = Filters::range(a, a + rng.random_range(DAY / 2..2 * DAY))
            .page(PAGES[rng.random_range(0..PAGES.len())]);
        check_all(
            store,
            m,
            &f,
            HeatmapOptions {
                cols: 9,
                row_px: 50,
            },
        );
    }
}

#[test]
fn deletions_are_hidden_at_once_and_erased_by_maintenance() {
    for seed in [3u64, 11, 29] {
        let all = events(seed, 60);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.heat");
        let mut store = load(&path, &all, [5, 50, 1 << 20][seed as usize % 3]);
        let full = Model::new(&all);
        // One visitor with an id, one visitor-less session (its session id
        // stands for the visitor), one session, one time range.
        let with_visitor = full
            .sessions
            .values()
            .find(|s| s.visitor != s.id)
            .map(|s| (s.site.clone(), s.visitor.clone()));
        let without = full
            .sessions
            .values()
            .find(|s| s.visitor == s.id)
            .map(|s| (s.site.clone(), s.id.clone()));
        let one_session = full
            .sessions
            .values()
            .nth(5)
            .map(|s| (s.site.clone(), s.id.clone()));
        let range = (BASE + DAY / 2, BASE + DAY + DAY / 3);
        let (mut visitors, mut sessions) = (Vec::new(), Vec::new());
        if let Some((site, v)) = &with_visitor {
            store
                .request_deletion(site, DeletionTarget::Visitor(v.clone()))
                .unwrap();
            visitors.push(v.clone());
        }
        if let Some((site, v)) = &without {
            store
                .request_deletion(site, DeletionTarget::Visitor(v.clone()))
                .unwrap();
            visitors.push(v.clone());
        }
        if let Some((site, s)) = &one_session {
            store
                .request_deletion(site, DeletionTarget::Session(s.clone()))
                .unwrap();
            sessions.push(s.clone());
        }
        // The range is deleted on both sites.
        for site in ["shop.example", "blog.example"] {
            store
                .request_deletion(
                    site,
                    DeletionTarget::TimeRange {
                        from: range.0,
                        to: range.1,
                    },
                )
                .unwrap();
        }
        let m = model_after(&all, &visitors, &sessions, &[range]);
        // Hidden at once.
        check_reports(&store, &m, seed);
        for site in ["shop.example", "blog.example"] {
            let n = m.events.iter().filter(|e| e.e.site == site).count() as u64;
            assert_eq!(
                store.snapshot().unwrap().counts(site).unwrap().events,
                n,
                "hidden count, seed {seed}"
            );
        }
        // Erased, and still the same answers, also after a reopen.
        let report = store.maintenance(BASE + 10 * DAY).unwrap();
        assert_eq!(
            report.erased.len(),
            store.deletion_requests().unwrap().len()
        );
        assert_eq!(
            report.rows_removed,
            (all.len() - m.events.len()) as u64,
            "rows removed, seed {seed}"
        );
        check_reports(&store, &m, seed);
        drop(store);
        let mut store = Store::open(&path).unwrap();
        check_reports(&store, &m, seed);
        for r in store.deletion_requests().unwrap() {
            assert_eq!(r.status, RequestStatus::Erased);
            assert_eq!(r.erased_at, Some(BASE + 10 * DAY));
        }
        assert_eq!(
            store.snapshot().unwrap().check().unwrap(),
            m.events.len() as u64
        );
        // Idempotent.
        let again = store.maintenance(BASE + 11 * DAY).unwrap();
        assert!(again.erased.is_empty() && again.rows_removed == 0);
        check_reports(&store, &m, seed);
    }
}

const SECRETS: [&str; 5] = [
    "/secret-page-q7z",
    "#secret-selector-q7z",
    "secret-event-q7z",
    "secret-referrer-q7z.example",
    "Secretbrowser-q7z",
];

fn secret_events() -> Vec<Event> {
    let mut out = Vec::new();
    let mut pv = Event::new(
        "shop.example",
        BASE + 1000,
        EventKind::Pageview,
        "secret-session",
        "https://shop.example/secret-page-q7z?utm_campaign=secret-campaign-q7z",
    );
    pv.visitor = Some("secret-visitor".into());
    (pv.vw, pv.vh, pv.dh) = (Some(1000), Some(800), Some(3000));
    pv.referrer = Some("https://secret-referrer-q7z.example/x".into());
    pv.ua = Some("Secretbrowser-q7z/1.0".into());
    out.push(pv);
    let mut c = Event::new(
        "shop.example",
        BASE + 2000,
        EventKind::Click,
        "secret-session",
        "/secret-page-q7z",
    );
    c.visitor = Some("secret-visitor".into());
    (c.x, c.y) = (Some(10), Some(20));
    c.selector = Some("#secret-selector-q7z".into());
    out.push(c);
    let mut n = Event::new(
        "shop.example",
        BASE + 3000,
        EventKind::Custom,
        "secret-session",
        "/secret-page-q7z",
    );
    n.visitor = Some("secret-visitor".into());
    n.name = Some("secret-event-q7z".into());
    out.push(n);
    out
}

fn files_contain(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|f| {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[test]
fn erasure_leaves_no_byte_of_the_deleted_visitor() {
    let mut all = events(5, 40);
    all.splice(10..10, secret_events());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.heat");
    let mut store = load(&path, &all, 20);
    store.writer().unwrap().seal_all().unwrap();
    // The test can fail: the derived strings are in the file now.
    for s in [
        "/secret-page-q7z",
        "#secret-selector-q7z",
        "secret-event-q7z",
        "secret-referrer-q7z.example",
    ] {
        assert!(
            files_contain(dir.path(), s),
            "{s} should be stored before deletion"
        );
    }
    store
        .request_deletion(
            "shop.example",
            DeletionTarget::Visitor("secret-visitor".into()),
        )
        .unwrap();
    store.maintenance(BASE + DAY).unwrap();
    drop(store);
    for s in SECRETS.iter().chain(["secret-campaign-q7z"].iter()) {
        assert!(!files_contain(dir.path(), s), "{s} survived erasure");
    }
    let store = Store::open(&path).unwrap();
    let m = model_after(&all, &["secret-visitor".to_owned()], &[], &[]);
    check_reports(&store, &m, 5);
}

#[test]
fn deadlines_are_kept_and_reported() {
    let store = Store::in_memory().unwrap();
    let mut s = SiteSettings {
        purge_window_days: 181,
        ..SiteSettings::default()
    };
    assert!(matches!(
        store.set_site_settings("a.example", s.clone()),
        Err(heatstore::Error::Policy(_))
    ));
    s.purge_window_days = 7;
    store.set_site_settings("a.example", s).unwrap();
    let id = store
        .request_deletion_at("a.example", DeletionTarget::Session("x".into()), BASE)
        .unwrap();
    let r = store
        .deletion_requests()
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    assert_eq!(r.deadline, BASE + 7 * DAY);
    assert_eq!(r.status, RequestStatus::Pending);
    assert!(r.overdue(BASE + 8 * DAY) && !r.overdue(BASE + 6 * DAY));
    assert_eq!(store.overdue_requests(BASE + 8 * DAY).unwrap().len(), 1);
    let mut store = store;
    let report = store.maintenance(BASE + 8 * DAY).unwrap();
    assert_eq!(report.overdue, vec![id], "an overdue request is reported");
    assert_eq!(report.erased, vec![id]);
    assert!(store.overdue_requests(BASE + 9 * DAY).unwrap().is_empty());
    // The default window is 30 days.
    let id = store
        .request_deletion_at("b.example", DeletionTarget::Site, BASE)
        .unwrap();
    let r = store
        .deletion_requests()
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    assert_eq!(r.deadline, BASE + 30 * DAY);
    // The audit record holds no raw id.
    let json = serde_json::to_string(&store.deletion_requests().unwrap()).unwrap();
    assert!(!json.contains("\"x\""), "{json}");
}

#[test]
fn opt_out_drops_future_events_and_deletes_past_ones() {
    let store = Store::in_memory().unwrap();
    let mk = |ts: i64, session: &str| {
        let mut e = Event::new("a.example", ts, EventKind::Leave, session, "/");
        e.visitor = Some("v1".into());
        e.duration_ms = Some(5);
        e
    };
    let mut w = store.writer().unwrap();
    w.append(&mk(BASE, "s1")).unwrap();
    w.append(&mk(BASE + 1, "s2")).unwrap();
    w.commit().unwrap();
    drop(w);
    store.opt_out("a.example", "v1").unwrap();
    assert_eq!(
        store
            .snapshot()
            .unwrap()
            .counts("a.example")
            .unwrap()
            .events,
        0,
        "past events hidden at once"
    );
    let mut w = store.writer().unwrap();
    assert_eq!(
        w.append(&mk(BASE + 2, "s3")).unwrap(),
        heatstore::Appended::Dropped(heatstore::Dropped::OptedOut)
    );
    let mut other = mk(BASE + 3, "s4");
    other.visitor = Some("v2".into());
    assert_eq!(w.append(&other).unwrap(), heatstore::Appended::Buffered);
    w.commit().unwrap();
    drop(w);
    let mut store = store;
    store.maintenance(BASE + DAY).unwrap();
    assert_eq!(
        store
            .snapshot()
            .unwrap()
            .counts("a.example")
            .unwrap()
            .events,
        1
    );
}

#[test]
fn retention_drops_old_partitions() {
    let all = events(17, 50);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.heat");
    let mut store = load(&path, &all, 30);
    let s = SiteSettings {
        retention_days: Some(2),
        ..SiteSettings::default()
    };
    store.set_site_settings("shop.example", s).unwrap();
    // At BASE + 3.5 days with 2 days kept: days 0 and 1 go (day 2 and 3 stay).
    let now = BASE + 3 * DAY + DAY / 2;
    let report = store.maintenance(now).unwrap();
    assert!(report.partitions_expired > 0);
    let cut = BASE + 2 * DAY;
    let left: Vec<Event> = all
        .iter()
        .filter(|e| e.site != "shop.example" || e.ts >= cut)
        .cloned()
        .collect();
    let mut m = Model::new(&left);
    let full = Model::new(&all);
    for (key, sm) in m.sessions.iter_mut() {
        if key.0 == "shop.example" && full.sessions[key].first.is_some_and(|(t, _)| t < cut) {
            sm.first = None;
            sm.attrs = None;
        }
    }
    check_reports(&store, &m, 17);
}

// ------------------------------------------------------------ crash safety

const CHILD: &str = "HEATSTORE_MAINTENANCE_CHILD";

/// Run as a child process: maintenance on the store named by the env var.
#[test]
#[ignore]
fn maintenance_child() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let mut store = Store::open(&path).unwrap();
    println!("start");
    store.maintenance(BASE + 40 * DAY).unwrap();
    println!("done");
}

#[test]
fn maintenance_survives_kills_at_any_point() {
    let all = events(23, 120);
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.heat");
    let full = Model::new(&all);
    {
        let store = load(&master, &all, 40);
        let v = full.sessions.values().find(|s| s.visitor != s.id).unwrap();
        store
            .request_deletion(&v.site.clone(), DeletionTarget::Visitor(v.visitor.clone()))
            .unwrap();
        for site in ["shop.example", "blog.example"] {
            store
                .request_deletion(
                    site,
                    DeletionTarget::TimeRange {
                        from: BASE + DAY,
                        to: BASE + 2 * DAY,
                    },
                )
                .unwrap();
        }
    }
    let v = full
        .sessions
        .values()
        .find(|s| s.visitor != s.id)
        .unwrap()
        .visitor
        .clone();
    let m = model_after(&all, &[v], &[], &[(BASE + DAY, BASE + 2 * DAY)]);
    let mut rng = StdRng::seed_from_u64(99);
    let exe = std::env::current_exe().unwrap();
    let mut finished_runs = 0;
    for round in 0..24 {
        let work = dir.path().join(format!("w{round}"));
        std::fs::create_dir_all(&work).unwrap();
        let path = work.join("s.heat");
        std::fs::copy(&master, &path).unwrap();
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "maintenance_child",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 && !line.contains("start") {
            line.clear();
        }
        std::thread::sleep(std::time::Duration::from_micros(
            rng.random_range(0..(40_000 + round * 10_000)),
        ));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            finished_runs += 1;
        }
        // Reopen: nothing deleted is visible, nothing else is lost.
        let mut store = Store::open(&path).unwrap();
        store.snapshot().unwrap().check().unwrap();
        for site in ["shop.example", "blog.example"] {
            let n = m.events.iter().filter(|e| e.e.site == site).count() as u64;
            assert_eq!(
                store.snapshot().unwrap().counts(site).unwrap().events,
                n,
                "round {round}: count"
            );
        }
        check_all(&store, &m, &Filters::default(), HeatmapOptions::default());
        // The next run finishes the job.
        store.maintenance(BASE + 41 * DAY).unwrap();
        assert!(store
            .deletion_requests()
            .unwrap()
            .iter()
            .all(|r| r.status == RequestStatus::Erased));
        check_all(
            &store,
            &m,
            &Filters::default().page("/"),
            HeatmapOptions::default(),
        );
        let leftovers: HashSet<_> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "round {round}: stray files {leftovers:?}"
        );
    }
    assert!(finished_runs < 24, "no kill landed inside maintenance");
}

#[test]
fn a_store_without_the_visitor_index_gets_one_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.heat");
    let all = events(7, 60);
    drop(load(&path, &all, 16));
    // Take the index away, as in a store written before it existed.
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        assert!(txn
            .delete_table(redb::TableDefinition::<(u32, u64, u64), ()>::new(
                "visitor_sessions"
            ))
            .unwrap());
        txn.commit().unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    store.snapshot().unwrap().check().unwrap();
    // A visitor's request finds its sessions through the rebuilt index.
    let victim = all.iter().find_map(|e| e.visitor.clone()).unwrap();
    let site = all
        .iter()
        .find(|e| e.visitor.as_ref() == Some(&victim))
        .unwrap()
        .site
        .clone();
    let theirs = all
        .iter()
        .filter(|e| e.site == site && e.visitor.as_ref() == Some(&victim))
        .count() as u64;
    let before = store.snapshot().unwrap().counts(&site).unwrap();
    store
        .request_deletion(&site, DeletionTarget::Visitor(victim))
        .unwrap();
    let report = store.maintenance(BASE + 10 * DAY).unwrap();
    assert_eq!(report.rows_removed, theirs);
    let after = store.snapshot().unwrap().counts(&site).unwrap();
    assert_eq!(after.events, before.events - theirs);
    assert!(after.sessions < before.sessions);
    store.snapshot().unwrap().check().unwrap();
}
