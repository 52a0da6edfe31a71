//! The ingest handle seals full partitions aside (from a snapshot, on a
//! thread of its own, while group commits go on). Whatever commits do
//! meanwhile — late first pageviews, sessions changing visitor, deletion
//! requests, maintenance runs — every report equals the model of the
//! events submitted so far, before and after reopen, and the partitions
//! end up sealed.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::model::{check_all, events_shaped, model_after, Model, Shape, VisitorOn, PAGES};
use heatstore::query::{Filters, HeatmapOptions};
use heatstore::{DeletionTarget, IngestOptions, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400_000;
const BASE: i64 = 1_767_225_600_000; // 2026-01-01

fn check(store: &Store, m: &Model) {
    check_all(store, m, &Filters::default(), HeatmapOptions::default());
    for page in PAGES {
        check_all(
            store,
            m,
            &Filters::default().page(page),
            HeatmapOptions {
                cols: 9,
                row_px: 50,
            },
        );
    }
}

fn run(seed: u64, shape: Shape, seal_rows: u64) {
    let all = events_shaped(seed, 150, shape);
    let full = Model::new(&all);
    let mut rng = StdRng::seed_from_u64(seed);
    // Visitors to delete along the way.
    let mut targets = full.pick_visitors(&mut rng, 10);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aside.heat");
    let store = Arc::new(Store::open(&path).unwrap());
    store.set_seal_rows(seal_rows);
    let ingest = store
        .ingest_with(IngestOptions {
            max_events: 64,
            ..IngestOptions::default()
        })
        .unwrap();
    // Maintenance runs over and over while events come in.
    let done = Arc::new(AtomicBool::new(false));
    let maintainer = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut runs = 0;
            while !done.load(Ordering::SeqCst) {
                store.maintenance(BASE + DAY).unwrap();
                runs += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            runs
        })
    };
    let mut deleted = Vec::new();
    let mut i = 0;
    let mut checks = 0;
    while i < all.len() {
        let n = rng.random_range(1..=40).min(all.len() - i);
        ingest.submit(all[i..i + n].to_vec()).unwrap();
        i += n;
        if !targets.is_empty() && rng.random_range(0..12) == 0 {
            let (site, v) = targets.remove(0);
            match store.request_deletion(&site, DeletionTarget::Visitor(v.clone())) {
                Ok(_) => deleted.push((site, v)),
                // The site's first events are not committed yet.
                Err(heatstore::Error::UnknownSite { .. }) => targets.push((site, v)),
                Err(e) => panic!("{e}"),
            }
        }
        if rng.random_range(0..25) == 0 {
            ingest.flush().unwrap();
            check(&store, &model_after(&all[..i], &deleted, &[], &[]));
            checks += 1;
        }
    }
    let stats = ingest.close().unwrap();
    done.store(true, Ordering::SeqCst);
    let runs = maintainer.join().unwrap();
    let ctx = format!("seed {seed}, {shape:?}, seal_rows {seal_rows}: {stats:?}, {runs} maintenance runs, {checks} checks");
    assert!(stats.sealed_aside > 0, "{ctx}");
    assert_eq!(stats.failed_seals, 0, "{ctx}");
    let m = model_after(&all, &deleted, &[], &[]);
    check(&store, &m);
    let s = store.snapshot().unwrap().stats().unwrap();
    // Commits leave a partition pending up to 4 times the threshold
    // (then seal it inline): 2 sites over 3 days.
    assert!(
        s.pending_events < seal_rows * 4 * 6,
        "{ctx}: {} pending",
        s.pending_events
    );
    store.maintenance(BASE + DAY).unwrap();
    check(&store, &m);
    assert_eq!(
        store.snapshot().unwrap().check().unwrap(),
        m.events.len() as u64,
        "{ctx}"
    );
    drop(store);
    let store = Store::open(&path).unwrap();
    check(&store, &m);
}

#[test]
fn seals_aside_agree_with_the_model_under_late_arrival_deletions_and_maintenance() {
    let shapes = [
        // Every first pageview arriving late: sessions re-attributed
        // while their rows are sealed aside.
        Shape {
            visitor_on: VisitorOn::Pageviews,
            two_visitors: 0.0,
            late: 1.0,
            no_viewport: 0.0,
        },
        // Sessions naming a second visitor: re-filed meanwhile.
        Shape {
            visitor_on: VisitorOn::Some(0.3),
            two_visitors: 0.4,
            late: 0.6,
            no_viewport: 0.3,
        },
        Shape::CLASSIC,
    ];
    for (k, shape) in shapes.into_iter().enumerate() {
        for (j, seal_rows) in [20, 90].into_iter().enumerate() {
            run(700 + (k * 2 + j) as u64, shape, seal_rows);
        }
    }
}
