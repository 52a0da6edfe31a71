//! Every report equals a naive in-memory implementation written straight
//! from the semantics in docs/semantics.md, on random events over several sites,
//! with sealed and pending data mixed and reopens in between.

mod common;

use common::model::{
    check_all, events_shaped, random_filters as filters, Model, Shape, VisitorOn, PAGES,
};
use heatstore::normalize::DeviceClass;
use heatstore::query::{Filters, HeatmapOptions, ReferrerBy};
use heatstore::{EventKind, Store};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn run(seed: u64, n_sessions: usize, reopen: bool) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    // Visitor ids on every event, on pageviews only or on some; sessions
    // naming two visitors; arrival from mostly in order to shuffled.
    let shape = Shape::random(&mut rng);
    run_shaped(seed, n_sessions, reopen, shape, &mut rng);
}

fn run_shaped(seed: u64, n_sessions: usize, reopen: bool, shape: Shape, rng: &mut StdRng) {
    let all = events_shaped(seed, n_sessions, shape);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.heat");
    let seal_rows = [5, 40, 1 << 20][rng.random_range(0..3)];
    let mut store = Store::open(&path).unwrap();
    store.set_seal_rows(seal_rows);
    let mut i = 0;
    while i < all.len() {
        let n = rng.random_range(1..=all.len() - i).min(60);
        let mut w = store.writer().unwrap();
        for e in &all[i..i + n] {
            w.append(e).unwrap();
        }
        if rng.random_range(0..3) == 0 {
            w.seal_all().unwrap();
        } else {
            w.commit().unwrap();
        }
        drop(w);
        i += n;
        // Query between writes on the same store: a cached decoding of an
        // older version of a partition must never answer for a newer one.
        if rng.random_range(0..6) == 0 {
            let so_far = Model::new(&all[..i]);
            check_all(
                &store,
                &so_far,
                &Filters::default().page(PAGES[0]),
                HeatmapOptions::default(),
            );
        }
        if reopen && rng.random_range(0..5) == 0 {
            drop(store);
            store = Store::open(&path).unwrap();
            store.set_seal_rows(seal_rows);
        }
    }
    let m = Model::new(&all);
    for _ in 0..6 {
        let f = filters(rng);
        let opts = HeatmapOptions {
            cols: [64, 7, 1][rng.random_range(0..3)],
            row_px: [16, 100, 1][rng.random_range(0..3)],
        };
        check_all(&store, &m, &f, opts);
    }
    // Everything unfiltered, and every page.
    for page in PAGES {
        check_all(
            &store,
            &m,
            &Filters::default().page(page),
            HeatmapOptions::default(),
        );
    }
    check_all(&store, &m, &Filters::default(), HeatmapOptions::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn reports_equal_the_model(seed in any::<u64>(), n in 1usize..40, reopen in any::<bool>()) {
        run(seed, n, reopen);
    }
}

#[test]
fn reports_equal_the_model_with_many_sessions() {
    run(7, 150, true);
}

/// Trackers that send the visitor id on pageviews only, with every event
/// arriving in random order: a session's visitor is the one its first
/// naming event gives, not its first event to arrive.
#[test]
fn reports_equal_the_model_when_ids_ride_on_pageviews_only() {
    for seed in [1u64, 2, 3] {
        let mut rng = StdRng::seed_from_u64(seed);
        let shape = Shape {
            visitor_on: VisitorOn::Pageviews,
            two_visitors: 0.0,
            late: 1.0,
            no_viewport: 0.0,
        };
        run_shaped(seed, 120, seed == 2, shape, &mut rng);
    }
}

/// Ids on some events only, sessions that name a second visitor, and
/// half the events out of order.
#[test]
fn reports_equal_the_model_with_ids_on_some_events_and_second_visitors() {
    for (seed, p) in [(4u64, 0.1), (5, 0.5)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let shape = Shape {
            visitor_on: VisitorOn::Some(p),
            two_visitors: 0.3,
            late: 0.6,
            no_viewport: 0.0,
        };
        run_shaped(seed, 120, true, shape, &mut rng);
    }
}

/// Pageviews without a viewport or document height (server logs, no-JS
/// pixels) count in every report; heatmap events that find no viewport are
/// `skipped`, scroll reach leaves out what has no document height.
#[test]
fn reports_equal_the_model_with_viewport_less_pageviews() {
    for (seed, p) in [(11u64, 0.5), (12, 1.0)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let shape = Shape {
            visitor_on: VisitorOn::Pageviews,
            two_visitors: 0.0,
            late: 0.6,
            no_viewport: p,
        };
        run_shaped(seed, 120, seed == 12, shape, &mut rng);
    }
}

#[test]
fn unknown_site_gives_empty_reports() {
    let store = Store::in_memory().unwrap();
    let snap = store.snapshot().unwrap();
    let f = Filters::default().page("/");
    assert_eq!(
        snap.heatmap("nope", &f, HeatmapOptions::default())
            .unwrap()
            .total,
        0
    );
    assert!(snap
        .referrers("nope", &f, ReferrerBy::Host, None)
        .unwrap()
        .rows
        .is_empty());
    assert!(
        snap.heatmap("nope", &Filters::default(), HeatmapOptions::default())
            .is_err(),
        "a heatmap needs a page"
    );
}

/// Heatmaps from per-partition aggregates: events without their own
/// viewport take it from the session's pageview of the page in another
/// partition (an earlier day, or the earliest pageview on a later day), or
/// from none (skipped), for bots
/// and mobile sessions too, sealed and pending, over whole days, whole
/// hours and partial ranges.
#[test]
fn heatmap_viewport_fallback_across_days() {
    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;
    let base = 1_767_225_600_000i64;
    let site = "shop.example";
    let mut all = Vec::new();
    let pv = |ts: i64, session: &str, page: &str, vw: Option<u32>, ua: usize| {
        let mut e = heatstore::Event::new(site, ts, EventKind::Pageview, session, page);
        e.vw = vw;
        (e.vh, e.dh) = (Some(700), Some(3000));
        e.ua = common::model::UAS[ua].map(str::to_owned);
        e
    };
    let ev = |ts: i64, kind: EventKind, session: &str, page: &str, vw: Option<u32>, x: u32| {
        let mut e = heatstore::Event::new(site, ts, kind, session, page);
        e.vw = vw;
        (e.x, e.y) = (Some(x), Some(x * 3 % 5000));
        e
    };
    for (i, ua) in [0usize, 1, 4, 0].into_iter().enumerate() {
        let s = format!("s{i}");
        let off = i as i64 * 61_000;
        // Pageview just before midnight, events after it: on the next day.
        all.push(pv(
            base + DAY - HOUR + off,
            &s,
            "/",
            Some(1000 + i as u32),
            ua,
        ));
        for (k, kind) in [EventKind::Click, EventKind::Move].into_iter().enumerate() {
            all.push(ev(
                base + DAY + 10 * 60_000 + off + k as i64,
                kind,
                &s,
                "/",
                None,
                900,
            ));
            all.push(ev(
                base + DAY + 2 * HOUR + off + k as i64,
                kind,
                &s,
                "/",
                None,
                420,
            ));
            all.push(ev(
                base + DAY + 3 * HOUR + off + k as i64,
                kind,
                &s,
                "/",
                Some(640),
                420,
            ));
        }
        // A later pageview on day 1 answers for its day's later events, and
        // for day 2's.
        all.push(pv(base + DAY + 5 * HOUR + off, &s, "/", Some(500), ua));
        all.push(ev(
            base + DAY + 6 * HOUR + off,
            EventKind::Click,
            &s,
            "/",
            None,
            300,
        ));
        all.push(ev(
            base + 2 * DAY + HOUR + off,
            EventKind::Click,
            &s,
            "/",
            None,
            300,
        ));
        all.push(ev(
            base + 2 * DAY + HOUR + off,
            EventKind::Move,
            &s,
            "/",
            None,
            333,
        ));
        // Clicks before any pageview of the page take the earliest one, on a
        // later day.
        let t = format!("t{i}");
        all.push(ev(
            base + HOUR + off,
            EventKind::Click,
            &t,
            "/pricing",
            None,
            77,
        ));
        all.push(pv(base + 2 * DAY + off, &t, "/", Some(900), ua));
        all.push(pv(
            base + 2 * DAY + 2 * HOUR + off,
            &t,
            "/pricing",
            Some(1300),
            ua,
        ));
        all.push(ev(
            base + 2 * DAY + 3 * HOUR + off,
            EventKind::Click,
            &t,
            "/pricing",
            None,
            1200,
        ));
        // A pageview two days earlier; and events with no pageview at all.
        let u = format!("u{i}");
        all.push(pv(base + off, &u, "/", Some(1234), ua));
        all.push(ev(base + DAY + off, EventKind::Click, &u, "/", None, 10));
        all.push(ev(
            base + DAY + off,
            EventKind::Click,
            &format!("w{i}"),
            "/",
            None,
            10,
        ));
    }
    let m = Model::new(&all);
    let check = |store: &Store| {
        for (from, to) in [
            (None, None),
            (Some(base + DAY), Some(base + 2 * DAY)),
            (Some(base + DAY), Some(base + 3 * DAY)),
            (Some(base), Some(base + 3 * DAY)),
            (Some(base + DAY + 2 * HOUR), Some(base + 2 * DAY + 2 * HOUR)),
            (Some(base + DAY + 1), Some(base + 2 * DAY + 2 * HOUR + 5)),
        ] {
            for page in ["/", "/pricing"] {
                for (device, include_bots) in [
                    (None, false),
                    (None, true),
                    (Some(DeviceClass::Mobile), false),
                    (Some(DeviceClass::Bot), false),
                ] {
                    let f = Filters {
                        from,
                        to,
                        page: Some(page.to_owned()),
                        device,
                        include_bots,
                        ..Filters::default()
                    };
                    for opts in [
                        HeatmapOptions::default(),
                        HeatmapOptions { cols: 7, row_px: 1 },
                    ] {
                        check_all(store, &m, &f, opts);
                    }
                }
            }
        }
    };
    let store = Store::in_memory().unwrap();
    {
        let mut w = store.writer().unwrap();
        for e in &all {
            w.append(e).unwrap();
        }
        w.commit().unwrap();
    }
    check(&store);
    store.writer().unwrap().seal_all().unwrap();
    check(&store);
}

/// A live dashboard: a report after every small commit, with the rows
/// mostly pending. Readers extend the pending rows they built for the last
/// version by the batches added since; late first pageviews, visitors
/// named late and seals in between must each make them build again.
#[test]
fn reports_equal_the_model_when_queried_after_every_commit() {
    for (seed, late) in [(21u64, 1.0), (22, 0.25)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let shape = Shape {
            visitor_on: VisitorOn::Some(0.5),
            two_visitors: 0.2,
            late,
            no_viewport: 0.3,
        };
        let all = events_shaped(seed, 90, shape);
        let store = Store::in_memory().unwrap();
        store.set_seal_rows(1 << 20);
        let mut i = 0;
        let mut commits = 0;
        while i < all.len() {
            let n = rng.random_range(1..=8).min(all.len() - i);
            let mut w = store.writer().unwrap();
            for e in &all[i..i + n] {
                w.append(e).unwrap();
            }
            if rng.random_range(0..25) == 0 {
                w.seal_all().unwrap();
            } else {
                w.commit().unwrap();
            }
            drop(w);
            i += n;
            commits += 1;
            let so_far = Model::new(&all[..i]);
            let page = PAGES[commits % PAGES.len()];
            check_all(
                &store,
                &so_far,
                &Filters::default().page(page),
                HeatmapOptions::default(),
            );
        }
        assert!(commits > 100, "{commits} commits");
        check_all(
            &store,
            &Model::new(&all),
            &Filters::default(),
            HeatmapOptions::default(),
        );
    }
}
