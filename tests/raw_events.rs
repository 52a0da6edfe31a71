//! The raw event API (`Snapshot::events`, `Snapshot::event_batches`) equals
//! the naive model: the same events, with their sessions' attributes and
//! keyed hashes, on random workloads and filters, with sealed and pending
//! data, while deletion requests are pending and after maintenance.

mod common;

use common::model::{events_shaped, model_after_on_sites, random_filters, Model, Shape, ME};
use heatstore::normalize::DeviceClass;
use heatstore::query::{Column, Filters, RawEvent};
use heatstore::{DeletionTarget, Event, EventKind, Snapshot, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400_000;
const BASE: i64 = 1_767_225_600_000; // 2026-01-01

fn load(all: &[Event], seal_rows: u64, rng: &mut StdRng) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("raw.heat")).unwrap();
    store.set_seal_rows(seal_rows);
    let mut i = 0;
    while i < all.len() {
        let n = rng.random_range(1..=(all.len() - i).min(50));
        let mut w = store.writer().unwrap();
        for e in &all[i..i + n] {
            w.append(e).unwrap();
        }
        w.commit().unwrap();
        i += n;
    }
    (dir, store)
}

/// What the API must return for a model event (every column).
fn expected(snap: &Snapshot, m: &Model, e: &ME) -> RawEvent {
    let s = m.session(e);
    let stored = common::expected(&e.e);
    let a = s.attrs.as_ref();
    let hash = |id: &str| snap.id_hash(&e.e.site, id).unwrap().unwrap();
    RawEvent {
        ts: stored.ts,
        kind: stored.kind,
        page: stored.page,
        session: hash(&s.id),
        visitor: hash(&s.visitor),
        x: stored.x,
        y: stored.y,
        vw: stored.vw,
        vh: stored.vh,
        dh: stored.dh,
        load_ms: stored.load_ms,
        selector: stored.selector,
        ex: stored.ex,
        ey: stored.ey,
        len: stored.len,
        duration_ms: stored.duration_ms,
        name: stored.name,
        device: a.map_or(DeviceClass::Unknown, |a| a.device),
        browser: a.map(|a| a.browser.clone()),
        os: a.map(|a| a.os.clone()),
        referrer: a.map(|a| a.referrer_host.clone()),
        channel: a.map(|a| a.channel),
    }
}

fn model_events(snap: &Snapshot, m: &Model, site: &str, f: &Filters) -> Vec<RawEvent> {
    let mut v: Vec<RawEvent> = m
        .events
        .iter()
        .filter(|e| m.event_ok(e, site, f))
        .filter(|e| {
            f.selector.is_none()
                || e.e.selector == f.selector
                    && matches!(e.e.kind, EventKind::Click | EventKind::Input)
        })
        .map(|e| expected(snap, m, e))
        .collect();
    v.sort_by(cmp);
    v
}

fn cmp(a: &RawEvent, b: &RawEvent) -> std::cmp::Ordering {
    (
        a.ts,
        a.session,
        a.kind.code(),
        &a.page,
        a.x,
        a.y,
        &a.selector,
        a.len,
    )
        .cmp(&(
            b.ts,
            b.session,
            b.kind.code(),
            &b.page,
            b.x,
            b.y,
            &b.selector,
            b.len,
        ))
}

/// Every check of one store state against its model.
fn check(store: &Store, m: &Model, f: &Filters, what: &str) {
    let snap = store.snapshot().unwrap();
    for site in ["shop.example", "blog.example", "nowhere.example"] {
        let want = model_events(&snap, m, site, f);
        let mut got: Vec<RawEvent> = snap
            .events(site, f)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        got.sort_by(cmp);
        assert_eq!(
            got.len(),
            want.len(),
            "{what}: event count on {site}, {f:?}"
        );
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{what}: on {site}, {f:?}");
        }
        // Columnar batches of a few columns hold the same values, in the
        // order asked, and nothing else.
        let cols = [Column::Y, Column::Ts, Column::Device, Column::Selector];
        let mut rows = Vec::new();
        for b in snap.event_batches(site, f, &cols).unwrap() {
            let b = b.unwrap();
            assert_eq!(b.columns, cols);
            assert!(b.x.is_none() && b.page.is_none() && b.session.is_none());
            let (ts, y, dev, sel) = (
                b.ts.unwrap(),
                b.y.unwrap(),
                b.device.unwrap(),
                b.selector.unwrap(),
            );
            assert_eq!(ts.len(), b.rows);
            for i in 0..b.rows {
                rows.push((ts[i], y[i], dev[i], sel[i].as_deref().map(str::to_owned)));
            }
        }
        let mut want_rows: Vec<_> = want
            .iter()
            .map(|e| (e.ts, e.y, e.device, e.selector.clone()))
            .collect();
        rows.sort();
        want_rows.sort();
        assert_eq!(rows, want_rows, "{what}: batches on {site}, {f:?}");
    }
}

#[test]
fn raw_events_equal_the_model() {
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed ^ 0xa11);
        let shape = Shape::random(&mut rng);
        let all = events_shaped(seed, rng.random_range(5..60), shape);
        let (_dir, store) = load(&all, [5, 40, 1 << 20][seed as usize % 3], &mut rng);
        let m = Model::new(&all);
        check(&store, &m, &Filters::default(), "unfiltered");
        for _ in 0..5 {
            let f = random_filters(&mut rng);
            check(&store, &m, &f, &format!("seed {seed}"));
        }
    }
}

#[test]
fn deleted_events_are_never_returned() {
    for seed in [2u64, 17, 33] {
        let mut rng = StdRng::seed_from_u64(seed);
        let shape = Shape::random(&mut rng);
        let all = events_shaped(seed, 50, shape);
        let (_dir, store) = load(&all, [5, 50, 1 << 20][seed as usize % 3], &mut rng);
        let full = Model::new(&all);
        let with_visitor = full
            .sessions
            .values()
            .find(|s| s.visitor != s.id)
            .map(|s| (s.site.clone(), s.visitor.clone()));
        let one_session = full
            .sessions
            .values()
            .nth(3)
            .map(|s| (s.site.clone(), s.id.clone()));
        let (mut visitors, mut sessions) = (Vec::new(), Vec::new());
        if let Some((site, v)) = &with_visitor {
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
        let range = (BASE + DAY / 2, BASE + DAY + DAY / 3);
        store
            .request_deletion(
                "shop.example",
                DeletionTarget::TimeRange {
                    from: range.0,
                    to: range.1,
                },
            )
            .unwrap();
        // The time range only on one site.
        let pending_model = model_after_on_sites(
            &all,
            &visitors,
            &sessions,
            &[(Some("shop.example"), range.0, range.1)],
        );
        let sites = ["shop.example", "blog.example"];
        let every = Filters {
            include_bots: true,
            ..Filters::default()
        };
        let model_events = |m: &Model| -> Vec<(i64, u8, String)> {
            let mut v: Vec<_> = m
                .events
                .iter()
                .filter(|e| sites.contains(&e.e.site.as_str()))
                .map(|e| (e.e.ts, e.e.kind.code(), e.page.clone()))
                .collect();
            v.sort();
            v
        };
        let store_events = || -> Vec<(i64, u8, String)> {
            let snap = store.snapshot().unwrap();
            let mut v = Vec::new();
            for site in sites {
                for e in snap.events(site, &every).unwrap() {
                    let e = e.unwrap();
                    v.push((e.ts, e.kind.code(), e.page));
                }
            }
            v.sort();
            v
        };
        // Pending: hidden at once (the events themselves; every column is
        // checked after maintenance, when the file no longer holds them).
        assert_eq!(
            store_events(),
            model_events(&pending_model),
            "pending, seed {seed}"
        );
        // Erased by maintenance, then every column against the model.
        store.maintenance(BASE + 10 * DAY).unwrap();
        assert_eq!(
            store_events(),
            model_events(&pending_model),
            "after maintenance, seed {seed}"
        );
        check(
            &store,
            &pending_model,
            &Filters::default(),
            "after maintenance",
        );
        for _ in 0..3 {
            let f = random_filters(&mut rng);
            check(
                &store,
                &pending_model,
                &f,
                &format!("after maintenance, seed {seed}"),
            );
        }
    }
}

#[test]
fn unknown_columns_are_named() {
    let err = Column::parse_list("ts,x,colour").unwrap_err().to_string();
    assert!(err.contains("\"colour\""), "{err}");
    assert_eq!(
        Column::parse_list("ts, x,type").unwrap(),
        [Column::Ts, Column::X, Column::Kind]
    );
}

#[cfg(feature = "parquet")]
#[test]
fn record_batches_hold_the_asked_columns() {
    let mut rng = StdRng::seed_from_u64(5);
    let all = events_shaped(5, 30, Shape::CLASSIC);
    let (_dir, store) = load(&all, 40, &mut rng);
    let m = Model::new(&all);
    let snap = store.snapshot().unwrap();
    let f = Filters {
        kind: Some(EventKind::Click),
        ..Filters::default()
    };
    let cols = [Column::Ts, Column::X, Column::Kind, Column::Channel];
    let batches = snap
        .event_record_batches("shop.example", &f, &cols)
        .unwrap();
    let schema = batches.schema();
    assert_eq!(
        schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        ["ts", "x", "kind", "channel"]
    );
    let mut n = 0;
    for rb in batches {
        let rb = rb.unwrap();
        assert_eq!(rb.schema(), schema);
        n += rb.num_rows();
    }
    assert_eq!(n, model_events(&snap, &m, "shop.example", &f).len());
    assert!(n > 0);
}
