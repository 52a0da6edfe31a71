//! Query benchmark: every report, hot, on stores of 1 M and 10 M generated
//! events, and the cost of a fixed 30-day window over 1 M vs 10 M events of
//! history.
//!
//! `cargo bench --bench queries`. Environment:
//! - `HEATSTORE_BENCH_SIZES` (default `1000000,10000000`): store sizes, in
//!   events, each spread over 30 days;
//! - `HEATSTORE_BENCH_EVENTS`: one size only (e.g. `1000000` for a quick
//!   run); overrides `HEATSTORE_BENCH_SIZES`;
//! - `HEATSTORE_BENCH_RUNS` (default 20, at least 20): timed runs per
//!   report, after [`WARMUP`] untimed ones;
//! - `HEATSTORE_BENCH_REBUILD=1`: rebuild the cached stores;
//! - `HEATSTORE_BENCH_ONLY`: run only the reports whose name contains one
//!   of these comma-separated texts (e.g. `heatmap,pages`), for profiling
//!   with `perf record`;
//! - `HEATSTORE_BENCH_CACHE_BYTES`: budget of the stores' cache of decoded
//!   columns (`Store::set_cache_bytes`; `0` measures uncached reads).
//!   Default: the store's default.
//! - `HEATSTORE_BENCH_SHAPE=tracker`: build the stores from the tracker
//!   shape of traffic instead of the generator's default (the visitor id on
//!   pageviews only, every event arriving within two minutes in any order).
//! - `HEATSTORE_BENCH_PENDING` (default 100; 0 skips it): after the hot
//!   tables, each store is copied and every report (filter set `all`) is
//!   timed on the copy: the first query in a freshly opened store (the
//!   open timed apart), hot, then with this many pending visitor deletion
//!   requests (of visitors active in the window): the first query after
//!   they are filed, and hot.
//!
//! - `HEATSTORE_BENCH_RAW_ONLY=1`: only the raw event scans (the last
//!   table, always printed): events/s of `Snapshot::event_batches` over
//!   the last 30 days (all clicks, a few columns; every event, three
//!   columns), of `Snapshot::events` (every column, row by row) and, with
//!   the `parquet` feature, of Arrow record batches; the first scan in a
//!   freshly opened store and hot, on one core.
//!
//! Stores are generated once through the append API (`Generator` →
//! `Writer::append`, a commit every 131,072 events, `seal_all`, `compact`)
//! and cached under `target/bench-data/`, keyed by event count, days and
//! format version; a cached file that does not open or does not hold the
//! expected events is rebuilt.
//!
//! With two or more sizes, a third store holds the largest size over
//! `30 × largest / smallest` days (10 M over 300 days by default), so that
//! its last 30 days hold about as many events as the smallest store: the
//! window table compares the same 30-day reports on both. Cost should
//! follow the rows in the window, not the history.
//!
//! Every report runs on the last 30 days of its store's data,
//! `[max_ts − 30 d, max_ts)` (max ts to the hour, from an hourly series),
//! on the most viewed page where a report needs one. Each result is
//! checked to be non-empty, so a broken filter cannot measure nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use heatstore::gen::{GenConfig, Generator, VisitorIds};
use heatstore::normalize::{Channel, DeviceClass};
use heatstore::query::{Column, DeviceBy, Filters, HeatmapOptions, Interval, ReferrerBy};
use heatstore::{EventKind, Snapshot, Store, FORMAT_VERSION};

const SITE: &str = "shop.example.com";
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const WINDOW_DAYS: i64 = 30;
/// Untimed runs before the timed ones.
const WARMUP: usize = 3;
/// Events per commit while building, as the importer does.
const COMMIT_EVERY: usize = 131_072;

fn env_list(name: &str) -> Option<Vec<u64>> {
    let v = std::env::var(name).ok()?;
    let list = v
        .split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}={v:?}: {s:?} is not a number"))
        })
        .collect();
    Some(list)
}

/// Median and minimum of the timed runs.
#[derive(Clone, Copy, Debug)]
struct Timing {
    median: Duration,
    min: Duration,
}

impl Timing {
    fn of(mut runs: Vec<Duration>) -> Timing {
        assert!(!runs.is_empty(), "no timed runs");
        runs.sort();
        let n = runs.len();
        let median = if n % 2 == 1 {
            runs[n / 2]
        } else {
            (runs[n / 2 - 1] + runs[n / 2]) / 2
        };
        Timing {
            median,
            min: runs[0],
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// [`WARMUP`] untimed runs of each of `fs`, then `runs` rounds that time
/// each once, in turn: interleaving keeps a change of machine load from
/// biasing one side of a comparison. Each `f` returns the size of its
/// result, which must be non-zero and stable. Returns, per `f`, the timing
/// and the size.
fn bench_interleaved(
    name: &str,
    runs: usize,
    mut fs: Vec<Box<dyn FnMut() -> u64 + '_>>,
) -> Vec<(Timing, u64)> {
    let mut sizes = vec![0u64; fs.len()];
    for _ in 0..WARMUP {
        for (f, size) in fs.iter_mut().zip(&mut sizes) {
            *size = black_box(f());
        }
    }
    for (i, size) in sizes.iter().enumerate() {
        assert!(
            *size > 0,
            "{name} (store {i}): empty result, the bench would measure nothing"
        );
    }
    let mut times = vec![Vec::with_capacity(runs); fs.len()];
    for _ in 0..runs {
        for (i, f) in fs.iter_mut().enumerate() {
            let t0 = Instant::now();
            let s = black_box(f());
            times[i].push(t0.elapsed());
            assert_eq!(
                s, sizes[i],
                "{name} (store {i}): result changed between runs"
            );
        }
    }
    times.into_iter().map(Timing::of).zip(sizes).collect()
}

fn bench_data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench-data")
}

fn label(events: u64, days: u32) -> String {
    let n = if events % 1_000_000 == 0 {
        format!("{}M", events / 1_000_000)
    } else if events % 1_000 == 0 {
        format!("{}k", events / 1_000)
    } else {
        events.to_string()
    };
    format!("{n}/{days}d")
}

/// Opens a cached store when it holds what it should.
fn open_cached(path: &Path, events: u64) -> Option<Store> {
    if !path.exists() {
        return None;
    }
    let store = match Store::open(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "  cached {} does not open ({e}): rebuilding",
                path.display()
            );
            return None;
        }
    };
    match store.snapshot().and_then(|s| s.counts(SITE)) {
        Ok(c) if c.events == events && c.pending_events == 0 => Some(store),
        Ok(c) => {
            eprintln!(
                "  cached {} holds {} events ({} pending), expected {events}: rebuilding",
                path.display(),
                c.events,
                c.pending_events
            );
            None
        }
        Err(e) => {
            eprintln!(
                "  cached {} is unreadable ({e}): rebuilding",
                path.display()
            );
            None
        }
    }
}

/// The cached store of `events` over `days`, built when missing, and its
/// path.
fn store_for(events: u64, days: u32) -> (Store, PathBuf) {
    let dir = bench_data_dir();
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let tracker = std::env::var("HEATSTORE_BENCH_SHAPE").is_ok_and(|v| v == "tracker");
    let shape = if tracker { "-tracker" } else { "" };
    let path = dir.join(format!(
        "heatstore-{events}ev-{days}d{shape}-v{FORMAT_VERSION}.redb"
    ));
    let rebuild = std::env::var_os("HEATSTORE_BENCH_REBUILD").is_some_and(|v| v != "0");
    if !rebuild {
        if let Some(s) = open_cached(&path, events) {
            eprintln!("  {}: cached {}", label(events, days), path.display());
            return (s, path);
        }
    }
    let tmp = path.with_extension("building");
    let _ = std::fs::remove_file(&tmp);
    eprintln!("  {}: building {} ...", label(events, days), path.display());
    let t0 = Instant::now();
    {
        let store = Store::open(&tmp).expect("open store");
        {
            let mut w = store.writer().expect("writer");
            let mut cfg = GenConfig {
                events,
                days,
                ..GenConfig::default()
            };
            if tracker {
                cfg.visitor_ids = VisitorIds::Pageviews;
                cfg.arrival_jitter_ms = 120_000;
            }
            for (i, e) in Generator::new(cfg).enumerate() {
                w.append(&e).expect("append");
                if (i + 1) % COMMIT_EVERY == 0 {
                    w.commit().expect("commit");
                }
            }
            w.commit().expect("commit");
            w.seal_all().expect("seal");
        }
        store.compact().expect("compact");
        let st = store.stats().expect("stats");
        eprintln!(
            "  built in {:.1} s: {} events, {} sessions, {} partitions, {:.1} MB ({:.2} B/event)",
            t0.elapsed().as_secs_f64(),
            st.events,
            st.sessions,
            st.partitions,
            st.file_bytes as f64 / 1e6,
            st.bytes_per_event()
        );
    }
    std::fs::rename(&tmp, &path).expect("move the built store in place");
    let store = open_cached(&path, events).expect("the store just built");
    (store, path)
}

/// What the reports of one store and one filter set run on.
struct Setup {
    /// Range (and session filters) of every report.
    base: Filters,
    page: String,
    selector: String,
    session_key: String,
    /// Rage clicks run on `page`, or on the whole site when the page has
    /// no burst under these filters (small stores).
    rage_on_page: bool,
}

/// The last 30 days of the data: `[max_ts − 30 d, max_ts)`, max ts to the
/// hour after the last pageview.
fn window(snap: &Snapshot) -> (i64, i64) {
    let s = snap
        .series(SITE, &Filters::default(), Interval::Hour)
        .expect("series");
    let last = s
        .rows
        .iter()
        .rev()
        .find(|r| r.pageviews > 0)
        .expect("the store has pageviews");
    let to = last.ts + HOUR_MS;
    (to - WINDOW_DAYS * DAY_MS, to)
}

/// The most viewed page and its most clicked element over `[from, to)`,
/// and the session key the replay uses under `extra` filters.
fn setup(snap: &Snapshot, (from, to): (i64, i64), extra: &Filters) -> Setup {
    let range = Filters::range(from, to);
    let pages = snap.pages(SITE, &range, Some(1)).expect("pages");
    let page = pages.rows.first().expect("a most viewed page").page.clone();
    let els = snap
        .elements(SITE, &range.clone().page(&page), Some(1))
        .expect("elements");
    let selector = els
        .rows
        .first()
        .expect("a most clicked element")
        .selector
        .clone();
    let base = Filters {
        from: Some(from),
        to: Some(to),
        ..extra.clone()
    };
    let with_sel = Filters {
        selector: Some(selector.clone()),
        ..base.clone()
    };
    let list = snap.sessions(SITE, &with_sel, Some(50)).expect("sessions");
    let session_key = list
        .rows
        .first()
        .expect("a session that clicked the top element")
        .session
        .clone();
    let rage_on_page = snap
        .rage_clicks(SITE, &base.clone().page(&page), Some(1))
        .expect("rage clicks")
        .bursts
        > 0;
    Setup {
        base,
        page,
        selector,
        session_key,
        rage_on_page,
    }
}

/// One report: name, target at 10 M (ms), and how to run it.
type Report = (
    &'static str,
    Option<f64>,
    Box<dyn Fn(&Snapshot, &Setup) -> u64>,
);

fn reports() -> Vec<Report> {
    let on_page = |s: &Setup| s.base.clone().page(&s.page);
    vec![
        (
            "heatmap (click)",
            Some(2.0),
            Box::new(move |snap, s| {
                let f = on_page(s).kind(EventKind::Click);
                snap.heatmap(SITE, &f, HeatmapOptions::default())
                    .expect("heatmap")
                    .total
            }),
        ),
        (
            "heatmap (move)",
            Some(2.0),
            Box::new(move |snap, s| {
                let f = on_page(s).kind(EventKind::Move);
                snap.heatmap(SITE, &f, HeatmapOptions::default())
                    .expect("heatmap")
                    .total
            }),
        ),
        (
            "elements (limit 20)",
            None,
            Box::new(move |snap, s| {
                snap.elements(SITE, &on_page(s), Some(20))
                    .expect("elements")
                    .total
            }),
        ),
        (
            "rage_clicks (limit 20)",
            None,
            Box::new(move |snap, s| {
                let f = if s.rage_on_page {
                    on_page(s)
                } else {
                    s.base.clone()
                };
                snap.rage_clicks(SITE, &f, Some(20))
                    .expect("rage clicks")
                    .bursts
            }),
        ),
        (
            "scroll_reach (step 10)",
            None,
            Box::new(move |snap, s| {
                snap.scroll_reach(SITE, &on_page(s), 10)
                    .expect("scroll reach")
                    .sessions
            }),
        ),
        (
            "referrers (host, limit 20)",
            Some(2.0),
            Box::new(|snap, s| {
                snap.referrers(SITE, &s.base, ReferrerBy::Host, Some(20))
                    .expect("referrers")
                    .sessions
            }),
        ),
        (
            "devices (class)",
            Some(2.0),
            Box::new(|snap, s| {
                snap.devices(SITE, &s.base, DeviceBy::Class, None)
                    .expect("devices")
                    .sessions
            }),
        ),
        (
            "pages (limit 20)",
            Some(5.0),
            Box::new(|snap, s| {
                snap.pages(SITE, &s.base, Some(20))
                    .expect("pages")
                    .pageviews
            }),
        ),
        (
            "series (day)",
            Some(1.0),
            Box::new(|snap, s| {
                let r = snap.series(SITE, &s.base, Interval::Day).expect("series");
                r.rows.iter().map(|r| r.pageviews + r.sessions).sum()
            }),
        ),
        (
            "series (hour)",
            Some(1.0),
            Box::new(|snap, s| {
                let r = snap.series(SITE, &s.base, Interval::Hour).expect("series");
                r.rows.iter().map(|r| r.pageviews + r.sessions).sum()
            }),
        ),
        (
            "sessions (selector, limit 50)",
            None,
            Box::new(|snap, s| {
                let f = Filters {
                    selector: Some(s.selector.clone()),
                    ..s.base.clone()
                };
                snap.sessions(SITE, &f, Some(50)).expect("sessions").total
            }),
        ),
        (
            "replay (one session)",
            Some(1.0),
            Box::new(|snap, s| {
                snap.session_events_by_key(SITE, &s.session_key)
                    .expect("replay")
                    .len() as u64
            }),
        ),
    ]
}

/// The filter sets every report runs under.
fn filter_sets() -> Vec<(&'static str, Filters)> {
    vec![
        ("all", Filters::default()),
        (
            "mobile+search",
            Filters {
                device: Some(DeviceClass::Mobile),
                channel: Some(Channel::Search),
                ..Filters::default()
            },
        ),
    ]
}

/// Timings of one store: (report, filter set) → (timing, result size).
struct Measured {
    label: String,
    events: u64,
    snapshot_open: Timing,
    rows: Vec<(String, String, Option<f64>, Timing, u64)>,
}

/// One store ready to report on: its snapshot and, per filter set, what
/// the reports run on.
struct Prepared<'s> {
    label: String,
    store: &'s Store,
    snap: Snapshot,
    setups: Vec<Setup>,
}

fn prepare(label: String, store: &Store) -> Prepared<'_> {
    if let Ok(v) = std::env::var("HEATSTORE_BENCH_CACHE_BYTES") {
        let bytes = v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("HEATSTORE_BENCH_CACHE_BYTES={v:?} is not a number"));
        store.set_cache_bytes(bytes);
    }
    let snap = store.snapshot().expect("snapshot");
    let win = window(&snap);
    eprintln!("  {label}: window [{}, {}) ms", win.0, win.1);
    let setups = filter_sets()
        .into_iter()
        .map(|(fname, extra)| {
            let s = setup(&snap, win, &extra);
            eprintln!(
                "  {label} [{fname}]: page {:?}, element {:?}, session {}{}",
                s.page,
                s.selector,
                s.session_key,
                if s.rage_on_page {
                    ""
                } else {
                    ", rage clicks site-wide (none on the page)"
                }
            );
            s
        })
        .collect();
    Prepared {
        label,
        store,
        snap,
        setups,
    }
}

/// Times every report on every store, the stores' runs interleaved.
fn measure(stores: &[(String, &Store)], runs: usize) -> Vec<Measured> {
    let prepared: Vec<Prepared<'_>> = stores.iter().map(|(l, s)| prepare(l.clone(), s)).collect();
    let open_fs = prepared
        .iter()
        .map(|p| {
            Box::new(move || {
                black_box(p.store.snapshot().expect("snapshot"));
                1u64
            }) as Box<dyn FnMut() -> u64>
        })
        .collect();
    let opens = bench_interleaved("snapshot open", runs, open_fs);
    let mut out: Vec<Measured> = prepared
        .iter()
        .zip(&opens)
        .map(|(p, (t, _))| Measured {
            label: p.label.clone(),
            events: p.snap.counts(SITE).expect("counts").events,
            snapshot_open: *t,
            rows: Vec::new(),
        })
        .collect();
    let only = std::env::var("HEATSTORE_BENCH_ONLY").ok();
    for (k, (fname, _)) in filter_sets().into_iter().enumerate() {
        for (name, target, run) in reports() {
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|o| name.contains(o.trim())))
            {
                continue;
            }
            let fs = prepared
                .iter()
                .map(|p| {
                    let run = &run;
                    Box::new(move || run(&p.snap, &p.setups[k])) as Box<dyn FnMut() -> u64>
                })
                .collect();
            let results = bench_interleaved(&format!("{name} [{fname}]"), runs, fs);
            for (m, (t, size)) in out.iter_mut().zip(results) {
                eprintln!(
                    "    {:<10} {name:<32} {fname:<14} median {:>9.3} ms  min {:>9.3} ms  result {size}",
                    m.label,
                    ms(t.median),
                    ms(t.min)
                );
                m.rows
                    .push((name.to_owned(), fname.to_owned(), target, t, size));
            }
        }
    }
    out
}

/// Visitor ids active in `[from, to)` of the store of `events` over
/// `days`, `n` of them spread over the window's visitors (the generator
/// is deterministic: the same configuration makes the same events).
fn visitors_in(events: u64, days: u32, (from, to): (i64, i64), n: usize) -> Vec<String> {
    let tracker = std::env::var("HEATSTORE_BENCH_SHAPE").is_ok_and(|v| v == "tracker");
    let mut cfg = GenConfig {
        events,
        days,
        ..GenConfig::default()
    };
    if tracker {
        cfg.visitor_ids = VisitorIds::Pageviews;
        cfg.arrival_jitter_ms = 120_000;
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in Generator::new(cfg) {
        if e.site == SITE && e.ts >= from && e.ts < to {
            if let Some(v) = e.visitor {
                seen.insert(v);
            }
        }
    }
    let all: Vec<String> = seen.into_iter().collect();
    let step = (all.len() / n.max(1)).max(1);
    all.into_iter().step_by(step).take(n).collect()
}

/// The first query of each report in a freshly opened copy of a store,
/// hot, and with `pending` visitor deletion requests.
fn cold_and_pending(p: &Prepared<'_>, path: &Path, events: u64, days: u32, pending: usize) {
    let copy = path.with_extension("pending-copy");
    std::fs::copy(path, &copy).expect("copy the store");
    let setup = &p.setups[0];
    let win = (
        setup.base.from.expect("window"),
        setup.base.to.expect("window"),
    );
    println!();
    println!(
        "store {}: first query in a fresh store (in-process), hot, and with {pending} pending visitor deletions (ms, median of {} hot runs)",
        p.label, 20
    );
    println!(
        "| report | open | first query | hot | first after {pending} requests | hot with {pending} pending | pending / none |"
    );
    println!("|---|---|---|---|---|---|---|");
    let visitors = visitors_in(events, days, win, pending);
    let mut rows = Vec::new();
    for (name, _, run) in reports() {
        let t0 = Instant::now();
        let store = Store::open(&copy).expect("open the copy");
        let open = t0.elapsed();
        let t1 = Instant::now();
        let snap = store.snapshot().expect("snapshot");
        black_box(run(&snap, setup));
        let first = t1.elapsed();
        drop(snap);
        let hot = hot_of(&store, &*run, setup);
        rows.push((name, open, first, hot));
        drop(store);
    }
    // The requests, filed once, then every report again.
    let store = Store::open(&copy).expect("open the copy");
    for v in &visitors {
        store
            .request_deletion(SITE, heatstore::DeletionTarget::Visitor(v.clone()))
            .expect("request");
    }
    for ((name, open, first, hot), (_, _, run)) in rows.into_iter().zip(reports()) {
        let t0 = Instant::now();
        let snap = store.snapshot().expect("snapshot");
        black_box(run(&snap, setup));
        let after = t0.elapsed();
        drop(snap);
        let hot_pending = hot_of(&store, &*run, setup);
        println!(
            "| {name} | {:.2} | {:.2} | {:.3} | {:.2} | {:.3} | {:.2}× |",
            ms(open),
            ms(first),
            ms(hot.median),
            ms(after),
            ms(hot_pending.median),
            hot_pending.median.as_secs_f64() / hot.median.as_secs_f64().max(1e-9)
        );
    }
    drop(store);
    let _ = std::fs::remove_file(&copy);
}

/// A raw scan: rows returned.
type Scan = Box<dyn Fn(&Snapshot, &Filters) -> u64>;

fn raw_scans() -> Vec<(&'static str, Filters, Scan)> {
    let clicks = Filters {
        kind: Some(EventKind::Click),
        ..Filters::default()
    };
    let batches = |cols: &'static [Column]| -> Scan {
        Box::new(move |snap: &Snapshot, f: &Filters| {
            let mut n = 0u64;
            for b in snap.event_batches(SITE, f, cols).expect("scan") {
                let b = b.expect("batch");
                n += b.rows as u64;
                black_box(&b);
            }
            n
        })
    };
    let mut v: Vec<(&'static str, Filters, Scan)> = vec![
        (
            "clicks: ts, x, y, vw (batches)",
            clicks.clone(),
            batches(&[Column::Ts, Column::X, Column::Y, Column::Vw]),
        ),
        (
            "every event: ts, kind, session (batches)",
            Filters::default(),
            batches(&[Column::Ts, Column::Kind, Column::Session]),
        ),
        (
            "clicks: every column, row by row (events)",
            clicks.clone(),
            Box::new(|snap: &Snapshot, f: &Filters| {
                let mut n = 0u64;
                for e in snap.events(SITE, f).expect("scan") {
                    black_box(e.expect("event"));
                    n += 1;
                }
                n
            }),
        ),
    ];
    #[cfg(feature = "parquet")]
    v.push((
        "clicks: ts, x, y, vw, selector (Arrow record batches)",
        clicks,
        Box::new(|snap: &Snapshot, f: &Filters| {
            let cols = [
                Column::Ts,
                Column::X,
                Column::Y,
                Column::Vw,
                Column::Selector,
            ];
            let mut n = 0u64;
            for rb in snap.event_record_batches(SITE, f, &cols).expect("scan") {
                n += rb.expect("record batch").num_rows() as u64;
            }
            n
        }),
    ));
    v
}

/// The raw event scans over the last 30 days of a store: the first scan
/// in a freshly opened store, then hot (median of 20).
fn raw_scan_table(label: &str, path: &Path) {
    println!();
    println!(
        "store {label}: raw event scans, last 30 days, one thread (first scan in a freshly opened store; hot: median of 20)"
    );
    println!("| scan | events | first scan ms | first: M events/s | hot ms | hot: M events/s |");
    println!("|---|---|---|---|---|---|");
    for (name, base, scan) in raw_scans() {
        let store = Store::open(path).expect("open the store");
        let (from, to) = window(&store.snapshot().expect("snapshot"));
        let f = Filters {
            from: Some(from),
            to: Some(to),
            ..base
        };
        drop(store);
        let store = Store::open(path).expect("open the store");
        if let Some(bytes) = std::env::var("HEATSTORE_BENCH_CACHE_BYTES")
            .ok()
            .and_then(|v| v.replace('_', "").parse().ok())
        {
            store.set_cache_bytes(bytes);
        }
        let t0 = Instant::now();
        let snap = store.snapshot().expect("snapshot");
        let n = scan(&snap, &f);
        let first = t0.elapsed();
        drop(snap);
        assert!(n > 0, "{name}: the scan returned nothing");
        let mut times = Vec::new();
        for i in 0..WARMUP + 20 {
            let t = Instant::now();
            let snap = store.snapshot().expect("snapshot");
            assert_eq!(scan(&snap, &f), n, "{name}: scans disagree");
            if i >= WARMUP {
                times.push(t.elapsed());
            }
        }
        let hot = Timing::of(times).median;
        let rate = |d: Duration| n as f64 / d.as_secs_f64().max(1e-9) / 1e6;
        println!(
            "| {name} | {n} | {:.1} | {:.1} | {:.2} | {:.1} |",
            ms(first),
            rate(first),
            ms(hot),
            rate(hot)
        );
    }
}

/// Median of 20 hot runs (after [`WARMUP`] untimed ones) of a report.
fn hot_of(store: &Store, run: &dyn Fn(&Snapshot, &Setup) -> u64, setup: &Setup) -> Timing {
    let mut times = Vec::new();
    for i in 0..WARMUP + 20 {
        let t0 = Instant::now();
        let snap = store.snapshot().expect("snapshot");
        black_box(run(&snap, setup));
        if i >= WARMUP {
            times.push(t0.elapsed());
        }
    }
    Timing::of(times)
}

fn print_store(m: &Measured, runs: usize) {
    println!();
    println!(
        "store {} ({} events), last 30 days, {WARMUP} warm-ups + {runs} hot runs per report",
        m.label, m.events
    );
    println!(
        "{:<32} {:<14} {:>11} {:>11} {:>12}",
        "report", "filters", "median ms", "min ms", "result"
    );
    println!("{}", "-".repeat(84));
    println!(
        "{:<32} {:<14} {:>11.3} {:>11.3} {:>12}",
        "snapshot open",
        "-",
        ms(m.snapshot_open.median),
        ms(m.snapshot_open.min),
        "-"
    );
    for (name, f, _, t, size) in &m.rows {
        println!(
            "{name:<32} {f:<14} {:>11.3} {:>11.3} {size:>12}",
            ms(t.median),
            ms(t.min)
        );
    }
}

/// Side-by-side medians of two stores with their ratio (`b / a`), and the
/// targets checked against `b`.
fn print_compare(title: &str, a: &Measured, b: &Measured) {
    println!();
    println!("{title}");
    println!(
        "{:<32} {:<14} {:>12} {:>12} {:>7} {:>8} {:>6}",
        "report",
        "filters",
        format!("{} ms", a.label),
        format!("{} ms", b.label),
        "ratio",
        "target",
        "verdict"
    );
    println!("{}", "-".repeat(98));
    for ((name, f, target, ta, _), (_, _, _, tb, _)) in a.rows.iter().zip(&b.rows) {
        let (ma, mb) = (ms(ta.median), ms(tb.median));
        let (tgt, verdict) = match target {
            Some(t) => (format!("≤ {t} ms"), if mb <= *t { "PASS" } else { "MISS" }),
            None => ("-".to_owned(), "-"),
        };
        println!(
            "{name:<32} {f:<14} {ma:>12.3} {mb:>12.3} {:>7.2} {tgt:>8} {verdict:>6}",
            mb / ma
        );
    }
}

/// With one store only: its medians against the targets (which are set
/// for 10 M events).
fn print_targets(m: &Measured) {
    println!();
    println!("targets (set for 10 M events) against {}", m.label);
    println!(
        "{:<32} {:<14} {:>11} {:>8} {:>6}",
        "report", "filters", "median ms", "target", "verdict"
    );
    println!("{}", "-".repeat(76));
    for (name, f, target, t, _) in &m.rows {
        let Some(target) = target else { continue };
        let med = ms(t.median);
        println!(
            "{name:<32} {f:<14} {med:>11.3} {:>8} {:>6}",
            format!("≤ {target} ms"),
            if med <= *target { "PASS" } else { "MISS" }
        );
    }
}

fn main() {
    let mut sizes = env_list("HEATSTORE_BENCH_EVENTS")
        .or_else(|| env_list("HEATSTORE_BENCH_SIZES"))
        .unwrap_or_else(|| vec![1_000_000, 10_000_000]);
    sizes.sort_unstable();
    sizes.dedup();
    assert!(!sizes.is_empty() && sizes[0] > 0, "no store sizes");
    let runs = std::env::var("HEATSTORE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .max(20);

    eprintln!("stores:");
    if std::env::var("HEATSTORE_BENCH_RAW_ONLY").is_ok_and(|v| v == "1") {
        for &n in &sizes {
            let (store, path) = store_for(n, WINDOW_DAYS as u32);
            drop(store);
            raw_scan_table(&label(n, WINDOW_DAYS as u32), &path);
        }
        return;
    }
    let mut measured = Vec::new();
    let pending = std::env::var("HEATSTORE_BENCH_PENDING")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100);
    let mut later = Vec::new();
    for &n in &sizes {
        let (store, path) = store_for(n, WINDOW_DAYS as u32);
        measured.extend(measure(&[(label(n, WINDOW_DAYS as u32), &store)], runs));
        later.push((n, path));
    }
    // The same last-30-day reports over a longer history, measured
    // interleaved with the smallest store so that load changes cancel out.
    let history = (sizes.len() >= 2).then(|| {
        let (small, large) = (sizes[0], sizes[sizes.len() - 1]);
        let days = (WINDOW_DAYS as u64 * large / small).min(u64::from(u32::MAX)) as u32;
        let (short, _) = store_for(small, WINDOW_DAYS as u32);
        let (long, _) = store_for(large, days);
        let mut pair = measure(
            &[
                (label(small, WINDOW_DAYS as u32), &short),
                (label(large, days), &long),
            ],
            runs,
        );
        let long = pair.pop().expect("two stores measured");
        let short = pair.pop().expect("two stores measured");
        (short, long)
    });

    for m in &measured {
        print_store(m, runs);
    }
    if let Some((_, h)) = &history {
        print_store(h, runs);
    }
    if pending > 0 {
        for (n, path) in &later {
            let store = Store::open(path).expect("reopen the store");
            let p = prepare(label(*n, WINDOW_DAYS as u32), &store);
            cold_and_pending(&p, path, *n, WINDOW_DAYS as u32, pending);
        }
    }
    let (first, last) = (&measured[0], &measured[measured.len() - 1]);
    if measured.len() >= 2 {
        print_compare(
            "all data in the window: median ms by store size (ratio = larger / smaller; targets at the larger)",
            first,
            last,
        );
    } else {
        print_targets(first);
    }
    if let Some((short, long)) = &history {
        print_compare(
            "fixed 30-day window, longer history (runs interleaved): ratio should be ~1 (cost follows rows in the window)",
            short,
            long,
        );
    }
    for (n, path) in &later {
        raw_scan_table(&label(*n, WINDOW_DAYS as u32), path);
    }
}
