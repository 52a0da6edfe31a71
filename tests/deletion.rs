//! Deletion requests: hidden at once, erased by maintenance (in bytes),
//! every other row still answering every report as the model says; crash
//! safety of maintenance; deadlines; opt-out; retention.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::model::{
    check_all, events, events_shaped, model_after, Model, Shape, VisitorOn, PAGES,
};
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
    for seed in [3u64, 11, 29, 41, 53] {
        let shape = Shape::random(&mut StdRng::seed_from_u64(seed));
        let all = events_shaped(seed, 60, shape);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.heat");
        let store = load(&path, &all, [5, 50, 1 << 20][seed as usize % 3]);
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
        // Reports before any request: their aggregates are cached, and the
        // days a request touches must not answer from them afterwards.
        check_reports(&store, &full, seed);
        let (mut visitors, mut sessions) = (Vec::new(), Vec::new());
        if let Some((site, v)) = &with_visitor {
            store
                .request_deletion(site, DeletionTarget::Visitor(v.clone()))
                .unwrap();
            visitors.push((site.clone(), v.clone()));
        }
        if let Some((site, v)) = &without {
            store
                .request_deletion(site, DeletionTarget::Visitor(v.clone()))
                .unwrap();
            visitors.push((site.clone(), v.clone()));
        }
        if let Some((site, s)) = &one_session {
            store
                .request_deletion(site, DeletionTarget::Session(s.clone()))
                .unwrap();
            sessions.push((site.clone(), s.clone()));
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
        let store = Store::open(&path).unwrap();
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
    let store = load(&path, &all, 20);
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
    let m = model_after(
        &all,
        &[("shop.example".to_owned(), "secret-visitor".to_owned())],
        &[],
        &[],
    );
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
    let store = store;
    let report = store.maintenance(BASE + 8 * DAY).unwrap();
    assert_eq!(report.overdue, vec![id], "an overdue request is reported");
    assert_eq!(report.erased, vec![id]);
    assert!(store.overdue_requests(BASE + 9 * DAY).unwrap().is_empty());
    // A site the store never saw is an error, not a request.
    assert!(matches!(
        store.request_deletion_at("b.example", DeletionTarget::Site, BASE),
        Err(heatstore::Error::UnknownSite { .. })
    ));
    assert_eq!(store.deletion_requests().unwrap().len(), 1);
    // The default window is 30 days.
    store
        .set_site_settings("b.example", SiteSettings::default())
        .unwrap();
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
    let store = store;
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
    let store = load(&path, &all, 30);
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
    let store = Store::open(&path).unwrap();
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
    let v = full.sessions.values().find(|s| s.visitor != s.id).unwrap();
    let v = (v.site.clone(), v.visitor.clone());
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
        let store = Store::open(&path).unwrap();
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
    let store = Store::open(&path).unwrap();
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

// ------------------------------------------- visitors and arrival order

/// The issue's three lines: a click arrives before the pageview that names
/// its session's visitor. Deleting that visitor must delete the click and
/// the pageview, and erase the referrer and selector from the file.
#[test]
fn deleting_a_visitor_named_after_the_first_event_arrived() {
    let lines = concat!(
        r##"{"site":"a.example","ts":1759300001000,"type":"click","session":"S1","url":"/p","x":10,"y":10,"vw":800,"selector":"#secret-btn"}"##,
        "\n",
        r##"{"site":"a.example","ts":1759300000000,"type":"pageview","session":"S1","visitor":"V1","url":"/p","vw":800,"vh":600,"dh":1000,"referrer":"https://secret-ref.example/"}"##,
        "\n",
        r##"{"site":"a.example","ts":1759300005000,"type":"pageview","session":"S2","visitor":"V2","url":"/q","vw":800,"vh":600,"dh":1000}"##,
        "\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.heat");
    let store = Store::open(&path).unwrap();
    let report = store.import_ndjson(lines.as_bytes()).unwrap();
    assert_eq!(report.accepted, 3);
    let f = Filters::default();
    let pages = store
        .snapshot()
        .unwrap()
        .pages("a.example", &f, None)
        .unwrap();
    assert_eq!(pages.visitors, 2, "V1 and V2");
    store
        .request_deletion("a.example", DeletionTarget::Visitor("V1".into()))
        .unwrap();
    let report = store.maintenance(BASE).unwrap();
    assert_eq!(report.rows_removed, 2);
    let r = &store.deletion_requests().unwrap()[0];
    assert_eq!((r.status, r.rows_removed), (RequestStatus::Erased, Some(2)));
    let snap = store.snapshot().unwrap();
    let pages = snap.pages("a.example", &f, None).unwrap();
    let names: Vec<&str> = pages.rows.iter().map(|r| r.page.as_str()).collect();
    assert_eq!(names, ["/q"]);
    assert!(snap
        .elements("a.example", &f, None)
        .unwrap()
        .rows
        .is_empty());
    assert_eq!(snap.check().unwrap(), 1);
    drop(snap);
    drop(store);
    for s in ["secret-ref.example", "#secret-btn"] {
        assert!(!files_contain(dir.path(), s), "{s} survived erasure");
    }
}

/// Events with unique strings per session (a custom event name and a
/// referrer host), so that a byte scan can tell whose data is left.
fn marked(all: Vec<Event>) -> Vec<Event> {
    all.into_iter()
        .map(|mut e| {
            let sid = e.session.clone().unwrap();
            match e.kind {
                EventKind::Custom => e.name = Some(format!("name-{sid}-q9")),
                EventKind::Pageview if e.ts % 2 == 0 => {
                    e.referrer = Some(format!("https://ref-{sid}-q9.example/"))
                }
                _ => {}
            }
            e
        })
        .collect()
}

fn marks(all: &[Event], site: &str, session: &str) -> Vec<String> {
    all.iter()
        .filter(|e| e.site == site && e.session.as_deref() == Some(session))
        .filter_map(|e| match e.kind {
            EventKind::Custom => e.name.clone(),
            EventKind::Pageview => e
                .referrer
                .as_deref()
                .filter(|r| r.contains("-q9."))
                .map(|r| r["https://".len()..r.len() - 1].to_owned()),
            _ => None,
        })
        .collect()
}

/// Random visitors deleted from workloads whose visitor ids ride on
/// pageviews only or on some events, sessions naming two visitors, arrival
/// shuffled: every report equals the model before and after maintenance
/// and reopen, and no byte of a deleted session is left in the folder.
#[test]
fn random_visitors_deleted_under_shuffled_arrival() {
    let shapes = [
        Shape {
            visitor_on: VisitorOn::Pageviews,
            two_visitors: 0.0,
            late: 1.0,
            no_viewport: 0.0,
        },
        Shape {
            visitor_on: VisitorOn::Some(0.3),
            two_visitors: 0.3,
            late: 0.6,
            no_viewport: 0.0,
        },
        Shape {
            visitor_on: VisitorOn::Pageviews,
            two_visitors: 0.4,
            late: 0.25,
            no_viewport: 0.0,
        },
    ];
    for (i, shape) in shapes.into_iter().enumerate() {
        let seed = 100 + i as u64;
        let all = marked(events_shaped(seed, 80, shape));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.heat");
        let store = load(&path, &all, [7, 60, 1 << 20][i % 3]);
        let full = Model::new(&all);
        let mut rng = StdRng::seed_from_u64(seed);
        let visitors = full.pick_visitors(&mut rng, 6);
        for (site, v) in &visitors {
            store
                .request_deletion(site, DeletionTarget::Visitor(v.clone()))
                .unwrap();
        }
        let m = model_after(&all, &visitors, &[], &[]);
        let gone: Vec<&common::model::SessionModel> = full
            .sessions
            .values()
            .filter(|s| Model::deleted(s, &visitors, &[]))
            .collect();
        assert!(!gone.is_empty(), "shape {shape:?} deletes something");
        check_reports(&store, &m, seed);
        let report = store.maintenance(BASE + DAY).unwrap();
        assert_eq!(
            report.rows_removed,
            (all.len() - m.events.len()) as u64,
            "rows removed, shape {shape:?}"
        );
        let counted: u64 = store
            .deletion_requests()
            .unwrap()
            .iter()
            .map(|r| r.rows_removed.unwrap())
            .sum();
        assert_eq!(counted, report.rows_removed, "audit rows, shape {shape:?}");
        check_reports(&store, &m, seed);
        assert_eq!(
            store.snapshot().unwrap().check().unwrap(),
            m.events.len() as u64
        );
        drop(store);
        let store = Store::open(&path).unwrap();
        check_reports(&store, &m, seed);
        drop(store);
        // The test can fail: kept sessions' strings are still there.
        let kept = full
            .sessions
            .values()
            .find(|s| !Model::deleted(s, &visitors, &[]) && !marks(&all, &s.site, &s.id).is_empty())
            .unwrap();
        for mark in marks(&all, &kept.site, &kept.id) {
            assert!(
                files_contain(dir.path(), &mark),
                "{mark} of a kept session is gone"
            );
        }
        for s in gone {
            for mark in marks(&all, &s.site, &s.id) {
                assert!(!files_contain(dir.path(), &mark), "{mark} survived erasure");
            }
        }
    }
}

/// Events that happened before a deletion request but arrive after it are
/// dropped at ingest, counted as dropped, and never stored: those naming
/// the deleted visitor, those of its sessions, and (when its naming
/// pageview is what arrives late) the session's events stored before.
#[test]
fn late_events_of_a_deleted_visitor_are_dropped_at_ingest() {
    let mk = |ts: i64, kind: EventKind, session: &str, visitor: Option<&str>| {
        let mut e = Event::new("a.example", BASE + ts, kind, session, "/late");
        e.visitor = visitor.map(str::to_owned);
        match kind {
            EventKind::Pageview => {
                (e.vw, e.vh, e.dh) = (Some(800), Some(600), Some(2000));
                e.referrer = Some(format!("https://ref-{session}-q8.example/"));
            }
            _ => {
                (e.x, e.y, e.vw) = (Some(5), Some(5), Some(800));
                e.selector = Some(format!("#sel-{session}-q8"));
            }
        }
        e
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.heat");
    let store = Store::open(&path).unwrap();
    let ndjson = |events: &[Event]| {
        events
            .iter()
            .map(|e| e.to_json_line() + "\n")
            .collect::<String>()
    };
    // First import: V's session A (pageview names V), session B's click
    // (its pageview naming V comes later), and W's session C.
    let first = [
        mk(0, EventKind::Pageview, "A", Some("V")),
        mk(10, EventKind::Click, "A", None),
        mk(20, EventKind::Click, "B", None),
        mk(30, EventKind::Pageview, "C", Some("W")),
    ];
    let report = store.import_ndjson(ndjson(&first).as_bytes()).unwrap();
    assert_eq!((report.accepted, report.dropped), (4, 0));
    store
        .request_deletion("a.example", DeletionTarget::Visitor("V".into()))
        .unwrap();
    // Late: A's events, B's pageview naming V, then B's events, and an
    // event of V's new session D; C's late event is kept.
    let late = [
        mk(11, EventKind::Click, "A", None),
        mk(15, EventKind::Pageview, "B", Some("V")),
        mk(25, EventKind::Click, "B", None),
        mk(40, EventKind::Pageview, "D", Some("V")),
        mk(41, EventKind::Click, "D", None),
        mk(31, EventKind::Click, "C", None),
    ];
    let report = store.import_ndjson(ndjson(&late).as_bytes()).unwrap();
    assert_eq!((report.accepted, report.dropped), (6, 5), "{report:?}");
    // Only C's events are visible: B's early click is hidden at once by a
    // request derived from V's.
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.counts("a.example").unwrap().events, 2);
    let requests = store.deletion_requests().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].derived_from, Some(requests[0].id));
    drop(snap);
    store.maintenance(BASE + DAY).unwrap();
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.check().unwrap(), 2);
    let removed: u64 = store
        .deletion_requests()
        .unwrap()
        .iter()
        .map(|r| r.rows_removed.unwrap())
        .sum();
    assert_eq!(removed, 3, "A's pageview and click, B's click");
    drop(snap);
    // Later still: more late events of A and B are dropped after erasure.
    let report = store
        .import_ndjson(
            ndjson(&[
                mk(12, EventKind::Click, "A", None),
                mk(26, EventKind::Click, "B", None),
            ])
            .as_bytes(),
        )
        .unwrap();
    assert_eq!((report.accepted, report.dropped), (2, 2));
    // An event after the request is new data: V came back.
    let mut after = mk(0, EventKind::Pageview, "E", Some("V"));
    after.ts = heatstore_now() + DAY;
    let report = store.import_ndjson(ndjson(&[after]).as_bytes()).unwrap();
    assert_eq!(report.dropped, 0);
    store.maintenance(BASE + 2 * DAY).unwrap();
    drop(store);
    for s in ["A", "B", "D"] {
        for mark in [format!("ref-{s}-q8.example"), format!("#sel-{s}-q8")] {
            assert!(!files_contain(dir.path(), &mark), "{mark} is stored");
        }
    }
    assert!(files_contain(dir.path(), "#sel-C-q8"));
}

fn heatstore_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A session row of format 4 (docs/format.md §5.3) as version 1 wrote it:
/// the MessagePack array `[visitor, [ts, seq] | nil, [days]]`.
fn version_1_row(packed: &[u8]) -> serde_json::Value {
    fn varint(b: &[u8], at: &mut usize) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = b[*at];
            *at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        v
    }
    let unzigzag = |v: u64| ((v >> 1) as i64) ^ -((v & 1) as i64);
    assert_eq!(packed[0], 0xC1, "a packed row");
    let visitor = u64::from_le_bytes(packed[1..9].try_into().unwrap());
    let flags = packed[9];
    let mut at = 10;
    let first_pv = if flags & 1 != 0 {
        let ts = unzigzag(varint(packed, &mut at));
        let seq = varint(packed, &mut at);
        serde_json::json!([ts, seq])
    } else {
        serde_json::Value::Null
    };
    if flags & 2 != 0 {
        varint(packed, &mut at);
        varint(packed, &mut at);
    }
    let mut days = Vec::new();
    let mut day = 0i64;
    for _ in 0..varint(packed, &mut at) {
        day += unzigzag(varint(packed, &mut at));
        days.push(day);
    }
    serde_json::json!([visitor, first_pv, days])
}

/// A store of format version 1 (session rows of three fields, no
/// `deleted_sessions` table) is migrated at open: its reports are unchanged,
/// `check` passes, and a late pageview naming a visitor re-files a session
/// of the old store.
#[test]
fn a_version_1_store_is_migrated_at_open() {
    use redb::{ReadableDatabase, ReadableTable};
    let all = events(9, 40);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.heat");
    drop(load(&path, &all, 30));
    {
        // Rewrite it as version 1 wrote it.
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let sessions = redb::TableDefinition::<(u32, u64), &[u8]>::new("sessions");
            let mut t = txn.open_table(sessions).unwrap();
            let rows: Vec<((u32, u64), Vec<u8>)> = t
                .iter()
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.value(), v.value().to_vec())
                })
                .collect();
            for (k, v) in rows {
                let legacy = version_1_row(&v);
                t.insert(k, rmp_serde::to_vec(&legacy).unwrap().as_slice())
                    .unwrap();
            }
            let meta = redb::TableDefinition::<&str, &[u8]>::new("meta");
            txn.open_table(meta)
                .unwrap()
                .insert("format_version", 1u32.to_le_bytes().as_slice())
                .unwrap();
        }
        assert!(txn
            .delete_table(redb::TableDefinition::<(u32, u64), i64>::new(
                "deleted_sessions"
            ))
            .unwrap());
        txn.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let m = Model::new(&all);
    check_reports(&store, &m, 9);
    store.snapshot().unwrap().check().unwrap();
    // A late pageview names a visitor for a session that named none.
    let lone = m.sessions.values().find(|s| s.named.is_empty()).unwrap();
    let first = all
        .iter()
        .filter(|e| e.site == lone.site && e.session.as_deref() == Some(&lone.id))
        .map(|e| e.ts)
        .min()
        .unwrap();
    let mut pv = Event::new(&lone.site, first - 1, EventKind::Pageview, &lone.id, "/");
    pv.visitor = Some("late-visitor".into());
    (pv.vw, pv.vh, pv.dh) = (Some(900), Some(700), Some(2000));
    let mut w = store.writer().unwrap();
    w.append(&pv).unwrap();
    w.commit().unwrap();
    drop(w);
    let mut more = all.clone();
    more.push(pv);
    check_reports(&store, &Model::new(&more), 9);
    store.snapshot().unwrap().check().unwrap();
    drop(store);
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn
        .open_table(redb::TableDefinition::<&str, &[u8]>::new("meta"))
        .unwrap();
    let v = meta
        .get("format_version")
        .unwrap()
        .unwrap()
        .value()
        .to_vec();
    assert_eq!(v, heatstore::FORMAT_VERSION.to_le_bytes());
}

/// Small commits into a compacted store take a few pages, and the file
/// maintenance leaves is about what `compact` makes of the same content:
/// redb doubles a file that has no free page when a commit needs more
/// than a few, so a rewrite keeps a reserve (docs/format.md, "File
/// growth").
#[test]
fn small_commits_and_maintenance_do_not_grow_a_compacted_store() {
    use heatstore::gen::{GenConfig, Generator};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.heat");
    let store = Store::open(&path).unwrap();
    let cfg = GenConfig {
        events: 300_000,
        days: 20,
        start_ms: BASE,
        ..GenConfig::default()
    };
    let events: Vec<Event> = Generator::new(cfg).collect();
    let site = events[0].site.clone();
    let victims: Vec<String> = events
        .iter()
        .filter_map(|e| e.visitor.clone())
        .take(20)
        .collect();
    for chunk in events.chunks(50_000) {
        let mut w = store.writer().unwrap();
        for e in chunk {
            w.append(e).unwrap();
        }
        w.commit().unwrap();
    }
    store.writer().unwrap().seal_all().unwrap();
    store.compact().unwrap();
    let size = || std::fs::metadata(&path).unwrap().len();
    let compacted = size();
    // Control commits, one at a time.
    store
        .request_deletion(&site, DeletionTarget::Visitor("nobody".into()))
        .unwrap();
    store.opt_out(&site, "another-nobody").unwrap();
    store
        .set_site_settings(&site, SiteSettings::default())
        .unwrap();
    let grown = size() - compacted;
    assert!(
        grown < 64 << 10,
        "three small commits grew a compacted store by {grown} bytes"
    );
    // A purge of real visitors, then the rewrite.
    for v in &victims {
        store
            .request_deletion(&site, DeletionTarget::Visitor(v.clone()))
            .unwrap();
    }
    let report = store.maintenance(BASE + 30 * DAY).unwrap();
    assert!(report.rows_removed > 0);
    let after_maintenance = size();
    // Small commits after the rewrite too.
    store
        .request_deletion(&site, DeletionTarget::Visitor("nobody-2".into()))
        .unwrap();
    assert!(
        size() < after_maintenance + (64 << 10),
        "{} -> {}",
        after_maintenance,
        size()
    );
    store.compact().unwrap();
    let recompacted = size();
    assert!(
        after_maintenance as f64 <= 1.05 * recompacted as f64,
        "maintenance left {after_maintenance} bytes, compact makes {recompacted}"
    );
    // Fewer rows, a few more records: about the same size.
    assert!(
        recompacted <= compacted + (64 << 10),
        "{compacted} -> {recompacted}"
    );
}

/// A session with no visitor id stands for its visitor: deleting that
/// visitor covers the session's events that arrive afterwards, its late
/// first pageview included, which must not bring the session back into
/// the session reports once maintenance has carried the request out.
#[test]
fn a_late_first_pageview_of_a_deleted_visitorless_session_stays_deleted() {
    let mk = |ts: i64, kind: EventKind, session: &str| {
        let mut e = Event::new("a.example", BASE + ts, kind, session, "/x");
        e.referrer = Some(format!("https://ref-{session}-q9.example/"));
        (e.vw, e.vh, e.dh) = (Some(800), Some(600), Some(2000));
        if kind == EventKind::Click {
            (e.x, e.y) = (Some(5), Some(5));
        }
        e
    };
    for (via_ingest, request_first) in [(false, false), (true, false), (false, true), (true, true)]
    {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path().join("x.heat")).unwrap());
        let put = |events: Vec<Event>| {
            if via_ingest {
                let ingest = store.ingest().unwrap();
                ingest.submit_durable(events).unwrap();
                ingest.close().unwrap();
            } else {
                let mut w = store.writer().unwrap();
                for e in &events {
                    w.append(e).unwrap();
                }
                w.commit().unwrap();
            }
        };
        let request = || {
            store
                .request_deletion("a.example", DeletionTarget::Visitor("X".into()))
                .unwrap();
        };
        if request_first {
            put(vec![mk(2_000, EventKind::Pageview, "Y")]);
            request();
            put(vec![mk(1_100, EventKind::Click, "X")]);
            put(vec![mk(1_000, EventKind::Pageview, "X")]);
        } else {
            put(vec![
                mk(1_000, EventKind::Pageview, "X"),
                mk(1_100, EventKind::Click, "X"),
                mk(2_000, EventKind::Pageview, "Y"),
            ]);
            request();
        }
        put(vec![mk(500, EventKind::Pageview, "X")]);
        // Z's events all come after its request is erased.
        store
            .request_deletion("a.example", DeletionTarget::Visitor("Z".into()))
            .unwrap();
        let sessions = |store: &Store| {
            let snap = store.snapshot().unwrap();
            let f = Filters::default();
            (
                snap.counts("a.example").unwrap().events,
                snap.sessions("a.example", &f, None).unwrap().total,
                snap.referrers("a.example", &f, heatstore::query::ReferrerBy::Host, None)
                    .unwrap()
                    .rows
                    .iter()
                    .map(|r| r.sessions)
                    .sum::<u64>(),
            )
        };
        assert_eq!(
            sessions(&store),
            (1, 1, 1),
            "hidden, ingest {via_ingest}, request first {request_first}"
        );
        store.maintenance(BASE + DAY).unwrap();
        assert_eq!(
            sessions(&store),
            (1, 1, 1),
            "erased, ingest {via_ingest}, request first {request_first}"
        );
        // After erasure too: the session's past events are still covered.
        put(vec![
            mk(1_200, EventKind::Click, "X"),
            mk(400, EventKind::Pageview, "X"),
            mk(300, EventKind::Pageview, "Z"),
            mk(310, EventKind::Click, "Z"),
        ]);
        assert_eq!(
            sessions(&store),
            (1, 1, 1),
            "after erasure, ingest {via_ingest}, request first {request_first}"
        );
        store.maintenance(BASE + DAY).unwrap();
        drop(store);
        assert!(
            !files_contain(dir.path(), "ref-x-q9"),
            "X's referrer is stored"
        );
        assert!(
            !files_contain(dir.path(), "ref-z-q9"),
            "Z's referrer is stored"
        );
        assert!(files_contain(dir.path(), "ref-y-q9"));
    }
}
