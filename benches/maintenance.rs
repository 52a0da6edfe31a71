//! Maintenance cost: delete 1,000 visitors from a store of N generated
//! events, then time `maintenance` and count the bytes it writes.
//!
//! ```text
//! cargo bench --bench maintenance                      # 1M and 10M events
//! HEATSTORE_BENCH_SIZES=1000000 cargo bench --bench maintenance
//! ```
//! Stores are built once under `target/bench-data/` (shared with the
//! queries bench) and copied for each run, so the cached ones stay intact.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use heatstore::gen::{GenConfig, Generator};
use heatstore::{DeletionTarget, Store};

const VISITORS: usize = 1_000;

fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("write_bytes: ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn store_path(events: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!(
        "heatstore-{events}ev-30d-v{}.redb",
        heatstore::FORMAT_VERSION
    ))
}

fn build(path: &PathBuf, cfg: &GenConfig) -> heatstore::Result<()> {
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

fn main() -> heatstore::Result<()> {
    let sizes: Vec<u64> = std::env::var("HEATSTORE_BENCH_SIZES")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "maintenance: delete {VISITORS} visitors, then maintenance (purge + fresh-file rewrite)"
    );
    println!(
        "{:>10} {:>12} {:>12} {:>10} {:>12} {:>12} {:>14} {:>12}",
        "events",
        "file before",
        "file after",
        "rows gone",
        "partitions",
        "request ms",
        "maintenance s",
        "MB written"
    );
    for events in sizes {
        let cfg = GenConfig {
            events,
            ..GenConfig::default()
        };
        let master = store_path(events);
        build(&master, &cfg)?;
        // 1,000 distinct visitors of the workload, spread over its days.
        let mut visitors = BTreeSet::new();
        for e in Generator::new(cfg.clone()).step_by(7) {
            if let Some(v) = e.visitor {
                visitors.insert((e.site, v));
                if visitors.len() >= VISITORS {
                    break;
                }
            }
        }
        let work = master.with_extension("maintenance.redb");
        std::fs::copy(&master, &work)?;
        let store = Store::open(&work)?;
        let before = std::fs::metadata(&work)?.len();
        let t = Instant::now();
        for (site, v) in &visitors {
            store.request_deletion(site, DeletionTarget::Visitor(v.clone()))?;
        }
        let request_ms = t.elapsed().as_secs_f64() * 1e3;
        let w0 = written_bytes();
        let t = Instant::now();
        let report = store.maintenance(heatstore_now())?;
        let secs = t.elapsed().as_secs_f64();
        let written = written_bytes().saturating_sub(w0);
        let after = std::fs::metadata(&work)?.len();
        assert_eq!(report.erased.len(), visitors.len(), "every request erased");
        assert!(report.rows_removed > 0, "the visitors had events");
        println!(
            "{:>10} {:>12} {:>12} {:>10} {:>12} {:>12.1} {:>14.2} {:>12.1}",
            events,
            before,
            after,
            report.rows_removed,
            report.partitions_rewritten,
            request_ms,
            secs,
            written as f64 / 1e6
        );
        drop(store);
        let _ = std::fs::remove_file(&work);
    }
    Ok(())
}

fn heatstore_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
