//! heatstore in one run: generate a realistic workload, store it in a file,
//! print every report, then delete one visitor and show the audit record.
//!
//! ```text
//! cargo run --release --example quickstart [EVENTS] [PATH]
//! ```
//! EVENTS defaults to 500,000; PATH to `quickstart.heat` in the system's
//! temporary directory. It also draws the top page's click heatmap as a PNG
//! beside the store (`quickstart.heatmap.png`) and prints where.

use std::time::Instant;

use heatstore::gen::{GenConfig, Generator};
use heatstore::query::{DeviceBy, Filters, Heatmap, HeatmapOptions, Interval, ReferrerBy};
use heatstore::{DeletionTarget, EventKind, Store};

const DAY: i64 = 86_400_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: u64 = match args.next() {
        Some(n) => n
            .parse()
            .map_err(|_| format!("EVENTS must be a number, got {n:?}"))?,
        None => 500_000,
    };
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("quickstart.heat"));
    let _ = std::fs::remove_file(&path);

    // 1. Generate and store.
    let cfg = GenConfig {
        events,
        ..GenConfig::default()
    };
    let site = cfg.sites.first().cloned().unwrap_or_default();
    let store = Store::open(&path)?;
    let started = Instant::now();
    let mut a_visitor = None;
    {
        let mut w = store.writer()?;
        for e in Generator::new(cfg.clone()) {
            if a_visitor.is_none() && e.kind == EventKind::Click {
                a_visitor = e.visitor.clone();
            }
            w.append(&e)?;
            if w.buffered() >= 131_072 {
                w.commit()?;
            }
        }
        w.seal_all()?;
    }
    store.compact()?;
    let took = started.elapsed();
    let stats = store.stats()?;
    println!("heatstore quickstart: {}", path.display());
    println!(
        "stored {} events of {} sessions in {:.2?} ({:.0} events/s), {} partitions, {} segments",
        stats.events,
        stats.sessions,
        took,
        stats.events as f64 / took.as_secs_f64(),
        stats.partitions,
        stats.segments
    );
    println!(
        "file: {} bytes, {:.2} bytes/event including indexes",
        stats.file_bytes,
        stats.bytes_per_event()
    );

    // 2. Reports over the last 30 days, on the most viewed page.
    let snap = store.snapshot()?;
    let to = cfg.start_ms + i64::from(cfg.days) * DAY;
    let range = Filters::range(to - 30 * DAY, to);
    let pages = snap.pages(&site, &range, Some(8))?;
    section("Top pages (last 30 days)");
    println!(
        "{:<40} {:>9} {:>9} {:>8} {:>10}",
        "page", "views", "visitors", "entries", "load ms"
    );
    for r in &pages.rows {
        let load = r.mean_load_ms.map_or("-".to_owned(), |m| format!("{m:.0}"));
        println!(
            "{:<40} {:>9} {:>9} {:>8} {:>10}",
            r.page, r.pageviews, r.visitors, r.entries, load
        );
    }
    let Some(top) = pages.rows.first().map(|r| r.page.clone()) else {
        println!("no pageviews: nothing more to show");
        return Ok(());
    };
    let on_top = range.clone().page(&top);

    section(&format!("Click heatmap of {top}"));
    let heat = snap.heatmap(&site, &on_top, HeatmapOptions::default())?;
    print_grid(&heat, 48, 24);
    #[cfg(feature = "png")]
    {
        // The same heatmap as a picture (feature `png`, on for examples).
        let png_path = path.with_extension("heatmap.png");
        let png =
            heatstore::render::heatmap_png(&heat, &heatstore::render::RenderOptions::default())?;
        std::fs::write(&png_path, png)
            .map_err(|e| format!("cannot write {}: {e}", png_path.display()))?;
        println!("picture of this heatmap: {}", png_path.display());
    }

    section(&format!("Elements clicked on {top}"));
    let elements = snap.elements(&site, &on_top, Some(6))?;
    for e in &elements.rows {
        println!(
            "{:<36} {:>7} clicks, mean position in element {}",
            e.selector,
            e.clicks,
            match (e.mean_ex, e.mean_ey) {
                (Some(x), Some(y)) => format!("({:.0}%, {:.0}%)", x / 100.0, y / 100.0),
                _ => "-".into(),
            }
        );
    }
    let rage = snap.rage_clicks(&site, &on_top, Some(3))?;
    println!(
        "rage clicks: {} bursts in {} sessions",
        rage.bursts, rage.sessions
    );

    section(&format!("Scroll reach of {top}"));
    let reach = snap.scroll_reach(&site, &on_top, 10)?;
    for s in &reach.steps {
        let pct = if reach.sessions == 0 {
            0.0
        } else {
            s.sessions as f64 * 100.0 / reach.sessions as f64
        };
        println!("{:>4}% {:>7} {}", s.depth, s.sessions, bar(pct, 40));
    }

    for (title, by) in [
        ("Referrers by channel", ReferrerBy::Channel),
        ("Referrers by host", ReferrerBy::Host),
    ] {
        section(title);
        breakdown(&snap.referrers(&site, &range, by, Some(8))?);
    }
    for (title, by) in [
        ("Devices", DeviceBy::Class),
        ("Browsers", DeviceBy::Browser),
        ("Operating systems", DeviceBy::Os),
    ] {
        section(title);
        breakdown(&snap.devices(&site, &range, by, Some(8))?);
    }

    section("Pageviews, sessions and visitors per day (last 7 days)");
    let series = snap.series(&site, &Filters::range(to - 7 * DAY, to), Interval::Day)?;
    for r in &series.rows {
        println!(
            "{} {:>8} {:>7} {:>7}",
            day_name(r.ts),
            r.pageviews,
            r.sessions,
            r.visitors
        );
    }

    // 3. From the heatmap to the recordings behind it.
    if let Some(el) = elements.rows.first() {
        section(&format!("Sessions that clicked {}", el.selector));
        let mut f = range.clone();
        f.selector = Some(el.selector.clone());
        let sessions = snap.sessions(&site, &f, Some(3))?;
        println!("{} sessions; the first ones:", sessions.total);
        for s in &sessions.rows {
            println!(
                "  {} {} {} via {} on {} {}",
                s.session,
                day_name(s.first_ts),
                s.entry_page,
                s.referrer,
                s.device.as_str(),
                s.browser
            );
        }
        if let Some(s) = sessions.rows.first() {
            let replay = snap.session_events_by_key(&site, &s.session)?;
            println!(
                "replay of {}: {} events, the first 8:",
                s.session,
                replay.len()
            );
            for e in replay.iter().take(8) {
                println!("  {} {:<8} {}", e.ts, e.kind.as_str(), e.page);
            }
        }
    }
    drop(snap);

    // 4. A visitor asks to be deleted.
    if let Some(visitor) = a_visitor {
        section("Deleting one visitor");
        let before = store.snapshot()?.counts(&site)?.events;
        let id = store.request_deletion(&site, DeletionTarget::Visitor(visitor))?;
        let hidden = store.snapshot()?.counts(&site)?.events;
        let report = store.maintenance(heatstore_now())?;
        let record = store
            .deletion_requests()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or("the request vanished")?;
        println!(
            "events before: {before}, hidden at once: {}, after maintenance: {}",
            before - hidden,
            store.snapshot()?.counts(&site)?.events
        );
        println!(
            "maintenance: {} rows removed, {} partitions rewritten, file {} -> {} bytes",
            report.rows_removed,
            report.partitions_rewritten,
            report.file_bytes_before,
            report.file_bytes_after
        );
        println!("audit record: {}", serde_json::to_string_pretty(&record)?);
    }
    Ok(())
}

fn heatstore_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn section(title: &str) {
    println!("\n== {title}");
}

fn bar(pct: f64, width: usize) -> String {
    "#".repeat(((pct / 100.0) * width as f64).round() as usize)
}

fn breakdown(b: &heatstore::query::Breakdown) {
    for r in &b.rows {
        let pct = if b.sessions == 0 {
            0.0
        } else {
            r.sessions as f64 * 100.0 / b.sessions as f64
        };
        println!(
            "{:<28} {:>8} {:>5.1}% {}",
            r.key,
            r.sessions,
            pct,
            bar(pct, 30)
        );
    }
}

fn day_name(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts / 1000)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| ts.to_string())
}

/// Prints a heatmap as text, folding cells into a `width` × `height` grid.
fn print_grid(h: &Heatmap, width: u32, height: u32) {
    let rows = h.cells.iter().map(|c| c.row + 1).max().unwrap_or(1);
    let mut grid = vec![vec![0u64; width as usize]; height as usize];
    for c in &h.cells {
        let x = (c.col * width / h.cols.max(1)) as usize;
        let y = (u64::from(c.row) * u64::from(height) / u64::from(rows)) as usize;
        if let Some(cell) = grid.get_mut(y).and_then(|r| r.get_mut(x)) {
            *cell += c.count;
        }
    }
    let max = grid.iter().flatten().copied().max().unwrap_or(0).max(1);
    let shades: Vec<char> = " .:-=+*#%@".chars().collect();
    println!(
        "{} clicks; page height ≈ {} px; one character ≈ {} px down",
        h.total,
        rows * h.row_px,
        rows * h.row_px / height
    );
    println!("+{}+", "-".repeat(width as usize));
    for row in grid {
        let line: String = row
            .iter()
            .map(|&n| {
                let i = if n == 0 {
                    0
                } else {
                    1 + ((n as f64).ln() / (max as f64).ln().max(1e-9) * 8.0) as usize
                };
                shades.get(i.min(9)).copied().unwrap_or('@')
            })
            .collect();
        println!("|{line}|");
    }
    println!("+{}+", "-".repeat(width as usize));
}
