//! A store embedded in a server: events/s through the ingest handle with
//! 1, 8 and 64 submitters, in batches of 1 and of 20, each submission
//! waiting until it is durable; p50/p99 of that wait. Also with 16
//! submissions in flight per submitter (rows `Nt 16fl`: a handler that
//! does not hold its next request back until the last commit). Then the pause that
//! online maintenance imposes on commits, on stores of 1M and 10M events
//! with ingest running throughout.
//!
//! ```text
//! cargo bench --bench server
//! cargo bench --bench server --features server  # also async tasks (tokio) as submitters
//! HEATSTORE_BENCH_SECONDS=5 cargo bench --bench server      # per case (default 3)
//! HEATSTORE_BENCH_SIZES=1000000 cargo bench --bench server  # maintenance sizes
//! HEATSTORE_BENCH_SEAL_ASIDE=0 cargo bench --bench server    # seal inside the group commits
//! ```
//!
//! Stores for the maintenance part are built once under
//! `target/bench-data/` (as the queries bench does) and copied per run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heatstore::gen::{GenConfig, Generator};
use heatstore::{DeletionTarget, Event, IngestHandle, IngestOptions, Store};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Events to submit: generated traffic with fresh timestamps (today), so
/// that commits write today's partitions as a live server's do.
fn pool(n: usize) -> Vec<Event> {
    let now = now_ms();
    let cfg = GenConfig {
        events: n as u64,
        days: 1,
        start_ms: now - 86_400_000,
        ..GenConfig::default()
    };
    Generator::new(cfg).collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Outcome {
    events: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Submitter `t`'s next `batch` events from its own stretch of the pool,
/// from position `i`, wrapping around at the stretch's end.
fn submission(events: &[Event], t: usize, stretch: usize, i: usize, batch: usize) -> Vec<Event> {
    (0..batch)
        .map(|k| events[t * stretch + (i - t * stretch + k) % stretch.max(1)].clone())
        .collect()
}

/// One row of the throughput table.
fn print_row(label: &str, batch: usize, o: &Outcome) {
    let secs = o.elapsed.as_secs_f64();
    println!(
        "{:<12} {:>6} {:>14.0} {:>16.0} {:>10.2} {:>10.2}",
        label,
        batch,
        o.events as f64 / secs,
        o.latencies.len() as f64 / secs,
        percentile(&o.latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
    );
}

/// `submitters` threads submit `batch` events at a time, for `seconds` (or
/// until `stop`), each with up to `window` submissions not yet durable:
/// with 1 a thread waits for each one before the next; with more it goes
/// on submitting and waits for its oldest ticket when the window is full
/// (a handler that answers before the commit and checks the outcome
/// later). The latency is from submission to the durable receipt.
fn drive(
    ingest: &IngestHandle,
    events: &Arc<Vec<Event>>,
    submitters: usize,
    batch: usize,
    window: usize,
    seconds: f64,
    stop: Option<&Arc<AtomicBool>>,
) -> Outcome {
    let done = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let t0 = Instant::now();
    let threads: Vec<_> = (0..submitters)
        .map(|t| {
            let ingest = ingest.clone();
            let events = Arc::clone(events);
            let done = Arc::clone(&done);
            let latencies = Arc::clone(&latencies);
            let stop = stop.cloned();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                // Each submitter sends its own stretch of the traffic, in
                // order (as a server's handlers see distinct visitors),
                // and wraps around when it runs out.
                let stretch = events.len() / submitters;
                let mut i = t * stretch;
                let mut in_flight = std::collections::VecDeque::new();
                let mut settle = |(s0, ticket): (Instant, heatstore::Ticket)| {
                    let r = ticket.wait().expect("durable");
                    mine.push(s0.elapsed());
                    done.fetch_add((r.stored + r.dropped.len()) as u64, Ordering::Relaxed);
                };
                loop {
                    let over = match &stop {
                        Some(s) => s.load(Ordering::Relaxed),
                        None => Instant::now() >= deadline,
                    };
                    if over {
                        break;
                    }
                    let sub = submission(&events, t, stretch, i, batch);
                    i += batch;
                    in_flight.push_back((Instant::now(), ingest.submit(sub).expect("submit")));
                    if in_flight.len() >= window.max(1) {
                        if let Some(oldest) = in_flight.pop_front() {
                            settle(oldest);
                        }
                    }
                }
                in_flight.into_iter().for_each(&mut settle);
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = t0.elapsed();
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort_unstable();
    Outcome {
        events: done.load(Ordering::Relaxed),
        elapsed,
        latencies,
    }
}

/// [`drive`] with `submitters` async tasks on a two-thread tokio runtime
/// (as a server's request handlers are), each awaiting its ticket.
#[cfg(feature = "server")]
fn drive_async(
    ingest: &IngestHandle,
    events: &Arc<Vec<Event>>,
    submitters: usize,
    batch: usize,
    seconds: f64,
) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let t0 = Instant::now();
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..submitters)
            .map(|t| {
                let ingest = ingest.clone();
                let events = Arc::clone(events);
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    let mut done = 0u64;
                    let stretch = events.len() / submitters;
                    let mut i = t * stretch;
                    while Instant::now() < deadline {
                        let sub = submission(&events, t, stretch, i, batch);
                        i += batch;
                        let s0 = Instant::now();
                        let r = ingest.submit(sub).expect("submit").await.expect("durable");
                        mine.push(s0.elapsed());
                        done += (r.stored + r.dropped.len()) as u64;
                    }
                    (done, mine)
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let elapsed = t0.elapsed();
    let mut latencies = Vec::new();
    let mut events_done = 0;
    for (d, l) in results {
        events_done += d;
        latencies.extend(l);
    }
    latencies.sort_unstable();
    Outcome {
        events: events_done,
        elapsed,
        latencies,
    }
}

/// The ingest options benchmarked: the defaults, or
/// `HEATSTORE_BENCH_DELAY_US` as `max_delay`.
fn options() -> IngestOptions {
    let mut o = IngestOptions::default();
    if let Ok(us) = std::env::var("HEATSTORE_BENCH_DELAY_US") {
        o.max_delay = Duration::from_micros(us.parse().unwrap_or(0));
    }
    o.seal_aside = env_u64("HEATSTORE_BENCH_SEAL_ASIDE", 1) != 0;
    o
}

/// Submissions in flight per submitter in the table's windowed rows.
const WINDOW: usize = 16;

fn throughput(seconds: f64) {
    // Enough fresh traffic for the fastest case not to wrap around.
    let events = Arc::new(pool(env_u64("HEATSTORE_BENCH_POOL", 2_000_000) as usize));
    println!("ingest handle: durable submissions to a store on disk, {seconds:.0} s per case");
    println!(
        "{:<12} {:>6} {:>14} {:>16} {:>10} {:>10}",
        "submitters", "batch", "events/s", "submissions/s", "p50 ms", "p99 ms"
    );
    let only = std::env::var("HEATSTORE_BENCH_CASES").ok();
    for &submitters in &[1usize, 8, 64] {
        for &batch in &[1usize, 20] {
            if let Some(only) = &only {
                if !only
                    .split(',')
                    .any(|c| c == format!("{submitters}x{batch}"))
                {
                    continue;
                }
            }
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open(dir.path().join("s.heat")).unwrap());
            if let Ok(r) = std::env::var("HEATSTORE_BENCH_SEAL_ROWS") {
                store.set_seal_rows(r.parse().unwrap());
            }
            let ingest = store.ingest_with(options()).unwrap();
            // Warm-up: the sites exist, the caches are filled.
            drive(&ingest, &events, submitters, batch, 1, 0.3, None);
            let o = drive(&ingest, &events, submitters, batch, 1, seconds, None);
            print_row(&format!("{submitters} threads"), batch, &o);
            if submitters > 1 {
                // Handlers that do not wait for each commit before taking
                // the next request: 16 submissions in flight each. With
                // one in flight, a group holds at most half of what the
                // submitters have in flight (the other half waits in the
                // group being written), so events/s is bounded by
                // submitters × batch / latency; with more, by the work.
                // A fresh store, as for the tasks below.
                let dir = tempfile::tempdir().unwrap();
                let store = Arc::new(Store::open(dir.path().join("s.heat")).unwrap());
                let ingest = store.ingest_with(options()).unwrap();
                drive(&ingest, &events, submitters, batch, 1, 0.3, None);
                let o = drive(&ingest, &events, submitters, batch, WINDOW, seconds, None);
                print_row(&format!("{submitters}t {WINDOW}fl"), batch, &o);
                let stats = ingest.close().unwrap();
                assert_eq!(stats.failed_groups, 0);
            }
            #[cfg(feature = "server")]
            {
                // A fresh store, so that the tasks do not send again what
                // the threads stored.
                let dir = tempfile::tempdir().unwrap();
                let store = Arc::new(Store::open(dir.path().join("s.heat")).unwrap());
                let ingest = store.ingest_with(options()).unwrap();
                drive(&ingest, &events, submitters, batch, 1, 0.3, None);
                let o = drive_async(&ingest, &events, submitters, batch, seconds);
                print_row(&format!("{submitters} tasks"), batch, &o);
            }
            let stats = ingest.close().unwrap();
            assert_eq!(stats.failed_groups, 0);
            eprintln!(
                "  ({} groups, {:.0} events per group: {stats:?})",
                stats.groups,
                stats.stored as f64 / stats.groups.max(1) as f64
            );
        }
    }
}

/// The workload of the maintenance stores: 30 days to the start of today
/// (UTC), so the same store serves all day.
fn store_config(events: u64) -> GenConfig {
    let today = now_ms() / 86_400_000 * 86_400_000;
    GenConfig {
        events,
        days: 30,
        start_ms: today - 30 * 86_400_000,
        ..GenConfig::default()
    }
}

fn bench_store(events: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!(
        "heatstore-server-{events}ev-{}-v{}.redb",
        now_ms() / 86_400_000,
        heatstore::FORMAT_VERSION
    ));
    let ok = Store::open(&path)
        .and_then(|s| s.stats())
        .is_ok_and(|s| s.events == events && s.pending_events == 0);
    if !ok {
        let _ = std::fs::remove_file(&path);
        eprintln!("building {} ...", path.display());
        let store = Store::open(&path).unwrap();
        let mut ndjson = Vec::new();
        heatstore::gen::write_ndjson(store_config(events), &mut ndjson).unwrap();
        store.import_ndjson(ndjson.as_slice()).unwrap();
        store.compact().unwrap();
    }
    path
}

fn maintenance_pause(events: u64, seconds_min: f64) {
    let src = bench_store(events);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.heat");
    std::fs::copy(&src, &path).unwrap();
    let store = Arc::new(Store::open(&path).unwrap());
    // 100 visitors' deletion requests to carry out (their ids from the
    // start of the workload the store was built from).
    let mut visitors: Vec<(String, String)> = Vec::new();
    for e in Generator::new(store_config(events)).take(200_000) {
        if let Some(v) = e.visitor {
            if !visitors.iter().any(|(_, x)| *x == v) {
                visitors.push((e.site, v));
            }
        }
        if visitors.len() == 100 {
            break;
        }
    }
    for (site, v) in &visitors {
        store
            .request_deletion(site, DeletionTarget::Visitor(v.clone()))
            .unwrap();
    }
    let pool = Arc::new(pool(100_000));
    let ingest = store.ingest().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let ingest = ingest.clone();
        let pool = Arc::clone(&pool);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || drive(&ingest, &pool, 8, 20, 1, 0.0, Some(&stop)))
    };
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let report = store.maintenance(now_ms()).unwrap();
    let took = t0.elapsed();
    std::thread::sleep(Duration::from_secs_f64(seconds_min.min(1.0)));
    stop.store(true, Ordering::Relaxed);
    let o = driver.join().unwrap();
    ingest.close().unwrap();
    store.snapshot().unwrap().check().unwrap();
    println!(
        "{:>10} {:>10.2} {:>9} {:>10} {:>12.1} {:>12.1} {:>12.1} {:>12.0}",
        events,
        took.as_secs_f64(),
        report.rewrite_rounds,
        report.rows_removed,
        report.longest_pause_us as f64 / 1e3,
        percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
        o.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        o.events as f64 / o.elapsed.as_secs_f64(),
    );
    let _ = Path::new(&path);
}

fn main() {
    let seconds = env_u64("HEATSTORE_BENCH_SECONDS", 3) as f64;
    throughput(seconds);
    let sizes: Vec<u64> = std::env::var("HEATSTORE_BENCH_SIZES")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|v| v.trim().replace('_', "").parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1_000_000, 10_000_000]);
    println!();
    println!("online maintenance (100 sessions deleted) while 8 submitters send batches of 20");
    println!(
        "{:>10} {:>10} {:>9} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "events", "run s", "rounds", "rows", "pause ms", "ack p99 ms", "ack max ms", "events/s"
    );
    for n in sizes {
        maintenance_pause(n, seconds);
    }
}
