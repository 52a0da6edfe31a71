//! Export speed: every site of a store of N generated events exported as
//! NDJSON and (with the `parquet` feature) as a Parquet dataset, in events
//! per second, with the bytes written.
//!
//! ```text
//! cargo bench --bench export --features parquet                 # 1M events
//! HEATSTORE_BENCH_SIZES=10000000 cargo bench --bench export --features parquet
//! ```
//! Without `--features parquet` only NDJSON is measured. The store is built
//! once under `target/bench-data/` (the same file the maintenance bench
//! uses) and only read; exports go to `target/bench-data/export-out/` and
//! are removed after each run. Each format runs `HEATSTORE_BENCH_RUNS`
//! times (default 3); the median and the best are printed.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use heatstore::gen::{GenConfig, Generator};
use heatstore::{ExportReport, Snapshot, Store};

fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn store_path(events: u64) -> PathBuf {
    data_dir().join(format!(
        "heatstore-{events}ev-30d-v{}.redb",
        heatstore::FORMAT_VERSION
    ))
}

fn build(path: &Path, cfg: &GenConfig) -> heatstore::Result<()> {
    let ok = Store::open(path)
        .and_then(|s| s.stats())
        .is_ok_and(|s| s.events == cfg.events && s.pending_events == 0);
    if ok {
        return Ok(());
    }
    let _ = std::fs::remove_file(path);
    let store = Store::open(path)?;
    {
        let mut w = store.writer()?;
        for e in Generator::new(cfg.clone()) {
            w.append(&e)?;
            if w.buffered() >= 131_072 {
                w.commit()?;
            }
        }
        w.seal_all()?;
    }
    store.compact()?;
    Ok(())
}

/// One format's export of every site; the totals.
type Export = dyn Fn(&Snapshot, &str, &Path) -> heatstore::Result<ExportReport>;

fn ndjson(snap: &Snapshot, site: &str, out: &Path) -> heatstore::Result<ExportReport> {
    std::fs::create_dir_all(out)?;
    let file = std::fs::File::create(out.join(format!("{site}.ndjson")))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let r = snap.export_ndjson(site, None, None, &mut w)?;
    w.flush()?;
    Ok(r)
}

#[cfg(feature = "parquet")]
fn parquet(snap: &Snapshot, site: &str, out: &Path) -> heatstore::Result<ExportReport> {
    snap.export_parquet(site, None, None, out)
}

fn run(
    snap: &Snapshot,
    sites: &[String],
    out: &Path,
    export: &Export,
) -> heatstore::Result<(f64, ExportReport)> {
    let _ = std::fs::remove_dir_all(out);
    let started = Instant::now();
    let mut total = ExportReport::default();
    for site in sites {
        let r = export(snap, site, out)?;
        total.events += r.events;
        total.sessions += r.sessions;
        total.files += r.files;
        total.bytes += r.bytes;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(out);
    Ok((secs, total))
}

fn main() -> heatstore::Result<()> {
    let sizes: Vec<u64> = std::env::var("HEATSTORE_BENCH_SIZES")
        .unwrap_or_else(|_| "1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("HEATSTORE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    #[cfg_attr(not(feature = "parquet"), allow(unused_mut))]
    let mut formats: Vec<(&str, &Export)> = vec![("ndjson", &ndjson)];
    #[cfg(feature = "parquet")]
    formats.push(("parquet", &parquet));
    #[cfg(not(feature = "parquet"))]
    println!("(Parquet not measured: run with --features parquet)");
    println!("export: every site, whole range, {runs} runs per format");
    println!(
        "{:>10} {:>8} {:>12} {:>14} {:>14} {:>8} {:>14} {:>11}",
        "events",
        "format",
        "median s",
        "events/s med",
        "events/s best",
        "files",
        "bytes",
        "bytes/event"
    );
    for events in sizes {
        let cfg = GenConfig {
            events,
            ..GenConfig::default()
        };
        let path = store_path(events);
        build(&path, &cfg)?;
        let store = Store::open_read_only(&path)?;
        let snap = store.snapshot()?;
        let out = data_dir().join("export-out");
        for (name, export) in &formats {
            let mut times = Vec::new();
            let mut report = ExportReport::default();
            for _ in 0..runs {
                let (secs, r) = run(&snap, &cfg.sites, &out, *export)?;
                times.push(secs);
                report = r;
            }
            times.sort_by(f64::total_cmp);
            let (med, best) = (times[times.len() / 2], times[0]);
            let ev = report.events as f64;
            println!(
                "{:>10} {:>8} {:>12.3} {:>14.0} {:>14.0} {:>8} {:>14} {:>11.1}",
                events,
                name,
                med,
                ev / med,
                ev / best,
                report.files,
                report.bytes,
                report.bytes as f64 / ev.max(1.0)
            );
        }
    }
    Ok(())
}
