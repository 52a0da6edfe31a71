//! Ingest benchmark: NDJSON import (with normalization and without it,
//! `IngestMode::Raw`), the append API, NDJSON parsing alone, and bytes on
//! disk per event.
//!
//! `cargo bench --bench ingest`. Environment:
//! - `HEATSTORE_BENCH_EVENTS` (default 1,000,000): events generated;
//! - `HEATSTORE_BENCH_REPS` (default 3): timed repetitions of each case,
//!   after one warm-up on a tenth of the events.
//!
//! The main workload is the generator's default (one site, 30 days, 200
//! pages). A second table imports other shapes of traffic beside it, in
//! alternation (`HEATSTORE_BENCH_SHAPES`, comma-separated prefixes of the
//! names in [`shapes`]; default all): the default; a tracker's ids and
//! shuffled arrival; a held-out mix (three very uneven sites, 60 days,
//! half the pageviews on long-tail URLs, the tracker's ids and shuffle);
//! 200 sites with Zipf-like traffic; 80% of pageviews on long-tail URLs
//! with query strings; five times the moves and scrolls; and six bursts
//! of one site over five sites. Per shape it prints events/s, bytes per
//! event after compaction, the import's peak memory, and the distinct
//! URLs and sites of the input.
//!
//! **Peak RSS** is that of a whole process doing nothing but the import,
//! as `heatstore import FILE` would: once per shape, the bench runs itself
//! again as a child (`HEATSTORE_BENCH_CHILD_IMPORT`) that imports the
//! shape's NDJSON from a file into a fresh store and reports its peak
//! resident set (`VmHWM` in `/proc/self/status`). `n/a` where `/proc` has
//! no such field (not Linux). The timed runs stay in this process.
//!
//! The events and their NDJSON are built in memory before any timing. Each
//! timed import or append run opens a fresh store file, so the time
//! includes `Store::open` and, at the end, sealing every partition.
//!
//! No benchmark framework: a handful of long runs per case, median and
//! minimum reported. The machine is shared, so read medians.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use heatstore::gen::{numbered_sites, write_ndjson, GenConfig, Generator, VisitorIds};
use heatstore::{Event, IngestMode, Store};

/// Events per commit in the append case, as the importer does.
const COMMIT_EVERY: usize = 131_072;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Median and minimum of some timed runs.
#[derive(Clone, Copy)]
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

/// Runs `f` `reps` times and times each run. The value of the previous run
/// is dropped outside the timed region; the last one is returned.
fn time_reps<T>(reps: usize, mut f: impl FnMut(usize) -> T) -> (Timing, T) {
    let mut runs = Vec::with_capacity(reps);
    let mut last = None;
    for i in 0..reps.max(1) {
        let t0 = Instant::now();
        let v = f(i);
        runs.push(t0.elapsed());
        last = Some(black_box(v));
    }
    (Timing::of(runs), last.expect("at least one run"))
}

fn rate(events: usize, d: Duration) -> f64 {
    events as f64 / d.as_secs_f64()
}

/// A fresh store file in `dir`; removes what an earlier run left there.
fn fresh_store(dir: &Path, name: &str) -> (Store, PathBuf) {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    (Store::open(&path).expect("open store"), path)
}

fn import(dir: &Path, name: &str, ndjson: &[u8], expect: usize, mode: IngestMode) -> Store {
    let (store, _) = fresh_store(dir, name);
    store.set_ingest_mode(mode);
    let report = store.import_ndjson(ndjson).expect("import");
    assert_eq!(
        report.rejected,
        0,
        "rejected lines: {:?}",
        report.errors.first()
    );
    assert_eq!(report.accepted as usize, expect);
    store
}

fn append(dir: &Path, name: &str, events: &[Event]) -> Store {
    let (store, _) = fresh_store(dir, name);
    {
        let mut w = store.writer().expect("writer");
        for (i, e) in events.iter().enumerate() {
            w.append(e).expect("append");
            if (i + 1) % COMMIT_EVERY == 0 {
                w.commit().expect("commit");
            }
        }
        w.commit().expect("commit");
        w.seal_all().expect("seal");
    }
    store
}

fn parse_all(ndjson: &[u8]) -> usize {
    let mut n = 0;
    for line in ndjson.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        black_box(Event::from_json_line(line).expect("valid line"));
        n += 1;
    }
    n
}

/// Named shapes of traffic for the shapes table: the generator's default
/// and realistic variants of it.
fn shapes(n: u64) -> Vec<(&'static str, GenConfig)> {
    let base = GenConfig {
        events: n,
        ..GenConfig::default()
    };
    let tracker = GenConfig {
        visitor_ids: VisitorIds::Pageviews,
        arrival_jitter_ms: 120_000,
        ..base.clone()
    };
    vec![
        ("default", base.clone()),
        (
            // What most trackers send: the visitor id on pageviews only,
            // every event arriving within two minutes in any order, three
            // sites.
            "tracker: ids on pageviews, 2-min shuffle, 3 sites",
            GenConfig {
                sites: vec!["a.example".into(), "b.example".into(), "c.example".into()],
                ..tracker.clone()
            },
        ),
        (
            // Data unlike what the store was tuned on: another seed, three
            // sites whose traffic differs by 8x and 27x, two months, half
            // the pageviews on long-tail URLs, sent as the tracker sends.
            "held-out: 3 uneven sites, 60 days, tail 0.5, tracker",
            GenConfig {
                seed: 7,
                sites: vec![
                    "big.example.com".into(),
                    "mid.example.org".into(),
                    "tiny.example.net".into(),
                ],
                site_skew: 3.0,
                days: 60,
                url_tail: 0.5,
                ..tracker
            },
        ),
        (
            "many sites zipf: 200 sites",
            GenConfig {
                sites: numbered_sites(200),
                ..base.clone()
            },
        ),
        (
            "long-tail urls: 80% of pageviews, query strings",
            GenConfig {
                url_tail: 0.8,
                ..base.clone()
            },
        ),
        (
            "heavy motion: 5x moves and scrolls",
            GenConfig {
                motion: 5.0,
                ..base.clone()
            },
        ),
        (
            "bursts: 6 one-site bursts of 20x, 5 sites",
            GenConfig {
                sites: numbered_sites(5),
                bursts: 6,
                ..base
            },
        ),
    ]
}

/// A number from `/proc/self/status`, in kB (`VmRSS`, `VmHWM`).
fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| {
        l.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The child of [`peak_rss_kb`]: imports the NDJSON file `input` into a
/// fresh store beside it and prints its own peak resident set in kB (or
/// `n/a`).
fn child_import(input: &str) {
    let store_path = PathBuf::from(format!("{input}.redb"));
    let _ = std::fs::remove_file(&store_path);
    let store = Store::open(&store_path).expect("open");
    let file = std::fs::File::open(input).expect("open the NDJSON");
    let report = store
        .import_ndjson(std::io::BufReader::with_capacity(1 << 20, file))
        .expect("import");
    assert_eq!(report.rejected, 0, "{:?}", report.errors.first());
    drop(store);
    let _ = std::fs::remove_file(&store_path);
    match proc_status_kb("VmHWM") {
        Some(kb) => println!("{kb}"),
        None => println!("n/a"),
    }
}

/// Peak resident memory, in kB, of a process that imports `ndjson` (from
/// a file in `dir`) and does nothing else; `None` where it cannot be told.
fn peak_rss_kb(dir: &Path, ndjson: &[u8]) -> Option<u64> {
    let input = dir.join("peak.ndjson");
    std::fs::write(&input, ndjson).expect("write the NDJSON");
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .env("HEATSTORE_BENCH_CHILD_IMPORT", &input)
        .output()
        .expect("run the child import");
    let _ = std::fs::remove_file(&input);
    assert!(
        out.status.success(),
        "child import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// One shape's input: its NDJSON and how many distinct URLs and sites.
struct ShapeInput {
    name: &'static str,
    ndjson: Vec<u8>,
    urls: usize,
    sites: usize,
}

/// Writes the NDJSON of `cfg` (the same bytes as `write_ndjson`) and
/// counts distinct URLs (by a 64-bit hash) and sites on the way.
fn shape_input(name: &'static str, cfg: GenConfig, n: usize) -> ShapeInput {
    let mut ndjson = Vec::with_capacity(n * 256);
    let mut urls = HashSet::new();
    let mut sites = HashSet::new();
    for e in Generator::new(cfg) {
        let mut h = DefaultHasher::new();
        e.url.hash(&mut h);
        urls.insert(h.finish());
        if !sites.contains(e.site.as_str()) {
            sites.insert(e.site.clone());
        }
        ndjson.extend_from_slice(e.to_json_line().as_bytes());
        ndjson.push(b'\n');
    }
    ShapeInput {
        name,
        ndjson,
        urls: urls.len(),
        sites: sites.len(),
    }
}

/// Imports each shape `reps` times, shapes in alternation, and prints
/// events/s and bytes/event after compaction for each.
fn shapes_table(dir: &Path, n: usize, reps: usize) {
    let wanted = std::env::var("HEATSTORE_BENCH_SHAPES").ok();
    let shapes: Vec<ShapeInput> = shapes(n as u64)
        .into_iter()
        .filter(|(name, _)| {
            wanted
                .as_deref()
                .is_none_or(|w| w.split(',').any(|x| name.starts_with(x.trim())))
        })
        .map(|(name, cfg)| {
            eprintln!("generating shape {name:?} ...");
            shape_input(name, cfg, n)
        })
        .collect();
    let mut runs: Vec<Vec<Duration>> = vec![Vec::new(); shapes.len()];
    let mut bpe = vec![0.0; shapes.len()];
    let peak_kb: Vec<Option<u64>> = shapes
        .iter()
        .map(|shape| {
            eprintln!(
                "shape {:?}, peak memory of an import process ...",
                shape.name
            );
            peak_rss_kb(dir, &shape.ndjson)
        })
        .collect();
    for rep in 0..reps {
        for (i, shape) in shapes.iter().enumerate() {
            eprintln!("shape {:?}, run {rep} ...", shape.name);
            let t0 = Instant::now();
            let store = import(dir, "shape.redb", &shape.ndjson, n, IngestMode::Normalize);
            runs[i].push(t0.elapsed());
            store.compact().expect("compact");
            bpe[i] = store.stats().expect("stats").bytes_per_event();
        }
    }
    println!();
    println!("import by shape of traffic: {n} events, {reps} runs each in alternation");
    println!("(peak RSS: of a process that only imports the shape's NDJSON from a file)");
    println!(
        "{:<52} {:>12} {:>12} {:>9} {:>11} {:>9} {:>6}",
        "shape", "median ev/s", "best ev/s", "B/event", "peak RSS", "URLs", "sites"
    );
    println!("{}", "-".repeat(117));
    for (i, shape) in shapes.iter().enumerate() {
        let t = Timing::of(runs[i].clone());
        let peak = match peak_kb[i] {
            Some(kb) => format!("{:.1} MiB", kb as f64 / 1024.0),
            None => "n/a".to_owned(),
        };
        println!(
            "{:<52} {:>12.0} {:>12.0} {:>9.2} {peak:>11} {:>9} {:>6}",
            shape.name,
            rate(n, t.median),
            rate(n, t.min),
            bpe[i],
            shape.urls,
            shape.sites
        );
    }
}

fn main() {
    if let Ok(input) = std::env::var("HEATSTORE_BENCH_CHILD_IMPORT") {
        child_import(&input);
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let n = env_usize("HEATSTORE_BENCH_EVENTS", 1_000_000);
    let reps = env_usize("HEATSTORE_BENCH_REPS", 3).max(1);
    let cfg = GenConfig {
        events: n as u64,
        ..GenConfig::default()
    };

    eprintln!("generating {n} events ...");
    let t0 = Instant::now();
    let events: Vec<Event> = Generator::new(cfg.clone()).collect();
    let mut ndjson = Vec::with_capacity(n * 256);
    write_ndjson(cfg, &mut ndjson).expect("write NDJSON");
    eprintln!(
        "generated in {:.1} s: {:.1} MB of NDJSON, {:.0} B/line",
        t0.elapsed().as_secs_f64(),
        ndjson.len() as f64 / 1e6,
        ndjson.len() as f64 / n as f64
    );

    // Warm-up: a tenth of the workload through each path (page cache, the
    // allocator, the UA parser's lazily built regexes).
    let warm = (n / 10).max(1);
    let warm_end = ndjson
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(warm - 1)
        .map_or(ndjson.len(), |(i, _)| i + 1);
    let dir = tempfile::Builder::new()
        .prefix("heatstore-ingest-bench")
        .tempdir()
        .expect("temp dir");
    eprintln!("warm-up on {warm} events ...");
    parse_all(&ndjson[..warm_end]);
    drop(import(
        dir.path(),
        "warm-import.redb",
        &ndjson[..warm_end],
        warm,
        IngestMode::Normalize,
    ));
    drop(append(dir.path(), "warm-append.redb", &events[..warm]));

    eprintln!("parse only x{reps} ...");
    let (parse, parsed) = time_reps(reps, |_| parse_all(&ndjson));
    assert_eq!(parsed, n);

    // The two import modes alternate run by run, so that a change in the
    // machine's load hits both alike.
    eprintln!("NDJSON import, normalized and raw, x{reps} each ...");
    let mut imp_runs = Vec::new();
    let mut raw_runs = Vec::new();
    let mut imported = None;
    for i in 0..reps {
        for mode in [IngestMode::Normalize, IngestMode::Raw] {
            let t0 = Instant::now();
            let name = format!("import-{mode:?}-{i}.redb");
            let store = import(dir.path(), &name, &ndjson, n, mode);
            let d = t0.elapsed();
            if mode == IngestMode::Normalize {
                imp_runs.push(d);
                imported = Some(store);
            } else {
                raw_runs.push(d);
            }
        }
    }
    let secs = |runs: &[Duration]| {
        runs.iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!(
        "import runs (s): normalized {}; raw {}",
        secs(&imp_runs),
        secs(&raw_runs)
    );
    let (imp, raw) = (Timing::of(imp_runs), Timing::of(raw_runs));
    let imported = imported.expect("at least one run");

    eprintln!("append API x{reps} ...");
    let (app, appended) = time_reps(reps, |i| {
        append(dir.path(), &format!("append-{i}.redb"), &events)
    });

    let st = imported.stats().expect("stats");
    assert_eq!(st.events as usize, n, "stored events");
    assert_eq!(st.pending_events, 0, "import leaves nothing pending");
    let bpe_import = st.bytes_per_event();
    let bpe_append = appended.stats().expect("stats").bytes_per_event();
    let t0 = Instant::now();
    imported.compact().expect("compact");
    let compact_time = t0.elapsed();
    let st_c = imported.stats().expect("stats");
    let bpe_compact = st_c.bytes_per_event();
    let breakdown = imported
        .snapshot()
        .expect("snapshot")
        .storage_breakdown()
        .expect("breakdown");

    println!();
    println!(
        "ingest: {n} events ({} sessions, {} partitions, {} segments), {reps} timed runs each, median / min",
        st.sessions, st.partitions, st.segments
    );
    println!("{:<44} {:>14} {:>14}", "case", "median", "min");
    println!("{}", "-".repeat(74));
    let row_rate = |name: &str, t: Timing| {
        // The minimum time is the maximum rate.
        println!(
            "{name:<44} {:>10.0} ev/s {:>10.0} ev/s",
            rate(n, t.median),
            rate(n, t.min)
        );
    };
    let row_time = |name: &str, t: Timing| {
        println!(
            "{name:<44} {:>12.2} s {:>12.2} s",
            t.median.as_secs_f64(),
            t.min.as_secs_f64()
        );
    };
    row_rate("NDJSON parse only (Event::from_json_line)", parse);
    row_rate("NDJSON import (open + import_ndjson)", imp);
    row_rate("NDJSON import, IngestMode::Raw", raw);
    row_rate("append API (append, commit/131072, seal_all)", app);
    row_time("  parse only, wall time", parse);
    row_time("  NDJSON import, wall time", imp);
    row_time("  NDJSON import raw, wall time", raw);
    row_time("  append API, wall time", app);
    println!(
        "{:<44} {:>13.1}%",
        "parse time / import time (median)",
        100.0 * parse.median.as_secs_f64() / imp.median.as_secs_f64()
    );
    println!(
        "{:<44} {:>13.1}%",
        "normalized import rate / raw import rate",
        100.0 * raw.median.as_secs_f64() / imp.median.as_secs_f64()
    );
    println!(
        "{:<44} {:>13.1}%",
        "append time / import time (median)",
        100.0 * app.median.as_secs_f64() / imp.median.as_secs_f64()
    );
    println!(
        "{:<44} {:>14.2}",
        "bytes/event on disk after import", bpe_import
    );
    println!(
        "{:<44} {:>14.2}",
        "bytes/event on disk after append API", bpe_append
    );
    println!(
        "{:<44} {:>14.2}",
        format!(
            "bytes/event after compact ({:.1} s)",
            compact_time.as_secs_f64()
        ),
        bpe_compact
    );
    println!(
        "{:<44} {:>14.1}",
        "NDJSON bytes/event (input)",
        ndjson.len() as f64 / n as f64
    );
    println!();
    println!("storage breakdown after compact (values only, without redb page overhead)");
    println!("{:<44} {:>14} {:>10}", "structure", "bytes", "B/event");
    println!("{}", "-".repeat(70));
    let total: u64 = breakdown.values().sum();
    let mut rows: Vec<_> = breakdown.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (name, bytes) in rows {
        println!("{name:<44} {bytes:>14} {:>10.3}", bytes as f64 / n as f64);
    }
    println!(
        "{:<44} {total:>14} {:>10.3}",
        "total (values)",
        total as f64 / n as f64
    );
    println!(
        "{:<44} {:>14} {:>10.3}",
        "file after compact",
        st_c.file_bytes,
        st_c.file_bytes as f64 / n as f64
    );
    drop(imported);
    drop(appended);
    // The shapes bring their own events: free the main workload's first.
    drop(events);
    drop(ndjson);
    shapes_table(dir.path(), n, reps);
}
