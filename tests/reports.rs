//! Every report equals a naive in-memory implementation written straight
//! from the semantics in DESIGN.md, on random events over several sites,
//! with sealed and pending data mixed and reopens in between.

mod common;

use common::model::{check_all, events, Model, PAGES};
use heatstore::normalize::{Channel, DeviceClass};
use heatstore::query::{Filters, HeatmapOptions, ReferrerBy};
use heatstore::{EventKind, Store};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn filters(rng: &mut StdRng) -> Filters {
    let base = 1_767_225_600_000i64;
    let mut f = Filters::default();
    if rng.random_range(0..3) > 0 {
        let a = base + rng.random_range(-86_400_000..3 * 86_400_000i64);
        let b = a + rng.random_range(0..3 * 86_400_000i64);
        // Ranges on whole hours and days too: reports answer those from
        // per-partition aggregates, the others by scanning.
        let unit = [1, 3_600_000, 86_400_000][rng.random_range(0..3)];
        f.from = Some(a.div_euclid(unit) * unit);
        f.to = Some(b.div_euclid(unit) * unit);
    }
    if rng.random_range(0..2) == 0 {
        f.page = Some(PAGES[rng.random_range(0..PAGES.len())].to_owned());
    }
    match rng.random_range(0..8) {
        0 => f.kind = Some(EventKind::Click),
        1 => f.kind = Some(EventKind::Pageview),
        2 => f.kind = Some(EventKind::Scroll),
        _ => {}
    }
    match rng.random_range(0..10) {
        0 => f.device = Some(DeviceClass::Mobile),
        1 => f.device = Some(DeviceClass::Bot),
        2 => f.browser = Some("Chrome".into()),
        3 => f.os = Some("iOS".into()),
        4 => f.referrer = Some("google.com".into()),
        5 => f.channel = Some(Channel::Direct),
        6 => f.channel = Some(Channel::Social),
        7 => f.selector = Some("#buy".into()),
        _ => {}
    }
    f.include_bots = rng.random_range(0..4) == 0;
    f
}

fn run(seed: u64, n_sessions: usize, reopen: bool) {
    let all = events(seed, n_sessions);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.heat");
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
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
        let f = filters(&mut rng);
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
