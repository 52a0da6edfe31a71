//! `heatstore query <report>`: every report of the query API, as an
//! aligned table or, with `--json`, the serde form of the typed result.

use clap::ValueEnum;
use heatstore::normalize::{Channel, DeviceClass};
use heatstore::query::{Filters, Interval};
use heatstore::report::{
    parse_channel, parse_device, parse_interval, parse_kind, ReportRequest, ReportResult,
    DEFAULT_COLS, DEFAULT_ROW_PX, DEFAULT_STEP,
};
use heatstore::EventKind;
use serde::Serialize;

use crate::common::{parse_site, parse_time_arg, CmdResult, DbArg, Failure};
use crate::out::Out;
use crate::outln;
use crate::picture::PictureArgs;

/// Which report (the names of [`heatstore::report::Report`]).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Report {
    /// Click (or `--kind move`) heatmap of `--page`.
    Heatmap,
    /// Clicks per element (selector).
    Elements,
    /// Rage clicks per element.
    Rage,
    /// Scroll reach of `--page`.
    Scroll,
    /// Sessions per referrer (`--by host|domain|channel|utm_source|utm_medium|utm_campaign`).
    Referrers,
    /// Sessions per device (`--by class|browser|os|screen|lang|tz`).
    Devices,
    /// Pageviews, visitors, entries and load time per page.
    Pages,
    /// Pageviews, sessions and visitors per `--interval`.
    Series,
    /// Every event of `--session` (a raw session id or a session key).
    Replay,
    /// Sessions matching the filters (e.g. `--selector` clicked).
    Sessions,
}

impl Report {
    fn shared(self) -> heatstore::report::Report {
        use heatstore::report::Report as R;
        match self {
            Report::Heatmap => R::Heatmap,
            Report::Elements => R::Elements,
            Report::Rage => R::Rage,
            Report::Scroll => R::Scroll,
            Report::Referrers => R::Referrers,
            Report::Devices => R::Devices,
            Report::Pages => R::Pages,
            Report::Series => R::Series,
            Report::Replay => R::Replay,
            Report::Sessions => R::Sessions,
        }
    }
}

/// Arguments of `heatstore query`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The report.
    #[arg(value_enum)]
    report: Report,
    #[command(flatten)]
    db: DbArg,
    /// The site.
    #[arg(long, value_parser = parse_site)]
    site: String,
    /// Start of the range (ms since the epoch, RFC 3339, or a date YYYY-MM-DD at midnight UTC), inclusive.
    #[arg(long, value_parser = parse_time_arg)]
    from: Option<i64>,
    /// End of the range, exclusive.
    #[arg(long, value_parser = parse_time_arg)]
    to: Option<i64>,
    /// Page path.
    #[arg(long)]
    page: Option<String>,
    /// Event kind (pageview, click, move, scroll, input, leave, custom).
    #[arg(long, value_parser = parse_kind)]
    kind: Option<EventKind>,
    /// Device class (desktop, mobile, tablet, bot, unknown).
    #[arg(long, value_parser = parse_device)]
    device: Option<DeviceClass>,
    /// Browser family, e.g. "Chrome".
    #[arg(long)]
    browser: Option<String>,
    /// OS family, e.g. "iOS".
    #[arg(long)]
    os: Option<String>,
    /// Referrer host, e.g. google.com or "(direct)".
    #[arg(long)]
    referrer: Option<String>,
    /// Channel (direct, search, social, email, referral, campaign).
    #[arg(long, value_parser = parse_channel)]
    channel: Option<Channel>,
    /// Target element's selector (clicks and inputs on it).
    #[arg(long)]
    selector: Option<String>,
    /// Count bots too.
    #[arg(long)]
    include_bots: bool,
    /// Grouping of referrers or devices.
    #[arg(long)]
    by: Option<String>,
    /// Heatmap columns.
    #[arg(long, default_value_t = DEFAULT_COLS)]
    cols: u32,
    /// Heatmap row height in px.
    #[arg(long, default_value_t = DEFAULT_ROW_PX)]
    row_px: u32,
    /// Scroll reach step in percent.
    #[arg(long, default_value_t = DEFAULT_STEP)]
    step: u32,
    /// Series bucket: hour or day.
    #[arg(long, default_value = "day", value_parser = parse_interval)]
    interval: Interval,
    /// Session for replay: its raw id, or its key (16 hex digits) as the
    /// sessions report prints it.
    #[arg(long)]
    session: Option<String>,
    /// Keep the top N rows.
    #[arg(long)]
    limit: Option<usize>,
    /// Print the typed result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    picture: PictureArgs,
    /// Run the report N times in this process and print the median and
    /// minimum time to stderr (the first run fills the cache of decoded
    /// columns; later runs are hot, as in a long-running server).
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: u32,
}

/// Where a result goes.
#[derive(Clone, Copy)]
enum Output {
    Json,
    Table,
    /// A timing run of `--repeat`: computed, not printed.
    Silent,
}

fn print<T: Serialize>(
    o: &mut Out,
    mode: Output,
    value: &T,
    table: impl FnOnce(&mut Out, &T) -> CmdResult,
) -> CmdResult {
    match mode {
        Output::Json => outln!(o, "{}", serde_json::to_string(value).map_err(Failure::new)?),
        Output::Table => table(o, value)?,
        Output::Silent => {}
    }
    Ok(())
}

fn rows(o: &mut Out, header: &[&str], body: Vec<Vec<String>>) -> CmdResult {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |o: &mut Out, cells: Vec<String>| -> CmdResult {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        outln!(o, "{}", parts.join("  ").trim_end());
        Ok(())
    };
    line(o, header.iter().map(|h| h.to_string()).collect())?;
    for r in body {
        line(o, r)?;
    }
    Ok(())
}

fn opt_f(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |x| format!("{x:.1}"))
}

/// Runs one report (`--repeat` times).
pub fn run(args: &Args) -> CmdResult {
    if args.picture.png.is_some() && !matches!(args.report, Report::Heatmap | Report::Scroll) {
        return Err(Failure::new(
            "--png draws the heatmap and scroll reports only",
        ));
    }
    let store = args.db.open_read()?;
    let mut out = Out::new();
    let mut times = Vec::new();
    for i in 1..args.repeat.max(1) {
        let started = std::time::Instant::now();
        run_once(args, &store, &mut out, false)?;
        if i > 1 {
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    let started = std::time::Instant::now();
    run_once(args, &store, &mut out, true)?;
    times.push(started.elapsed().as_secs_f64() * 1e3);
    out.finish()?;
    if args.repeat > 1 {
        times.sort_by(f64::total_cmp);
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "timing: median {:.3} ms, min {:.3} ms over {} hot runs",
            times[times.len() / 2],
            times[0],
            times.len()
        );
    }
    Ok(())
}

/// The shared request (`heatstore::report`, also what `GET /api/<report>`
/// parses) from the command line.
fn request(args: &Args) -> ReportRequest {
    let mut req = ReportRequest::new(args.report.shared(), &args.site);
    req.filters = Filters {
        from: args.from,
        to: args.to,
        page: args.page.clone(),
        kind: args.kind,
        device: args.device,
        browser: args.browser.clone(),
        os: args.os.clone(),
        referrer: args.referrer.clone(),
        channel: args.channel,
        selector: args.selector.clone(),
        include_bots: args.include_bots,
    };
    req.by.clone_from(&args.by);
    req.cols = args.cols;
    req.row_px = args.row_px;
    req.step = args.step;
    req.interval = args.interval;
    req.session.clone_from(&args.session);
    req.limit = args.limit;
    req
}

fn run_once(args: &Args, store: &heatstore::Store, o: &mut Out, output: bool) -> CmdResult {
    let snap = store.snapshot()?;
    let req = request(args);
    let result = req.run(&snap).map_err(|e| match (&e, args.report) {
        (heatstore::Error::InvalidArgument(_), Report::Replay) if args.session.is_none() => {
            Failure::new("replay needs --session (a raw session id or a key from `query sessions`)")
        }
        _ => Failure::from(e),
    })?;
    let json = match (output, args.json) {
        (false, _) => Output::Silent,
        (true, true) => Output::Json,
        (true, false) => Output::Table,
    };
    if output {
        match &result {
            ReportResult::Heatmap(h) => args.picture.heatmap(h)?,
            ReportResult::Scroll(s) => args.picture.scroll(s)?,
            _ => {}
        }
    }
    match &result {
        ReportResult::Heatmap(h) => print(o, json, h, |o, h| {
            outln!(
                o,
                "{} events in {} cells ({} without a viewport width)",
                h.total,
                h.cells.len(),
                h.skipped
            );
            let mut cells = h.cells.clone();
            cells.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then((a.row, a.col).cmp(&(b.row, b.col)))
            });
            cells.truncate(args.limit.unwrap_or(20));
            rows(
                o,
                &["row", "col", "count"],
                cells
                    .iter()
                    .map(|c| vec![c.row.to_string(), c.col.to_string(), c.count.to_string()])
                    .collect(),
            )
        }),
        ReportResult::Elements(e) => print(o, json, e, |o, e| {
            rows(
                o,
                &["selector", "clicks", "mean ex", "mean ey"],
                e.rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.selector.clone(),
                            r.clicks.to_string(),
                            opt_f(r.mean_ex),
                            opt_f(r.mean_ey),
                        ]
                    })
                    .collect(),
            )
        }),
        ReportResult::Rage(r) => print(o, json, r, |o, r| {
            outln!(o, "{} bursts in {} sessions", r.bursts, r.sessions);
            rows(
                o,
                &["selector", "bursts", "clicks"],
                r.rows
                    .iter()
                    .map(|b| {
                        vec![
                            b.selector.clone(),
                            b.bursts.to_string(),
                            b.clicks.to_string(),
                        ]
                    })
                    .collect(),
            )
        }),
        ReportResult::Scroll(s) => print(o, json, s, |o, s| {
            outln!(o, "{} sessions", s.sessions);
            rows(
                o,
                &["depth %", "sessions"],
                s.steps
                    .iter()
                    .map(|x| vec![x.depth.to_string(), x.sessions.to_string()])
                    .collect(),
            )
        }),
        ReportResult::Breakdown(b) => print(o, json, b, breakdown),
        ReportResult::Pages(p) => print(o, json, p, |o, p| {
            rows(
                o,
                &["page", "pageviews", "visitors", "entries", "mean load ms"],
                p.rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.page.clone(),
                            r.pageviews.to_string(),
                            r.visitors.to_string(),
                            r.entries.to_string(),
                            opt_f(r.mean_load_ms),
                        ]
                    })
                    .collect(),
            )
        }),
        ReportResult::Series(s) => print(o, json, s, |o, s| {
            rows(
                o,
                &["bucket", "pageviews", "sessions", "visitors"],
                s.rows
                    .iter()
                    .map(|r| {
                        vec![
                            time_text(r.ts),
                            r.pageviews.to_string(),
                            r.sessions.to_string(),
                            r.visitors.to_string(),
                        ]
                    })
                    .collect(),
            )
        }),
        ReportResult::Replay(events) => print(o, json, events, |o, ev| {
            rows(
                o,
                &["ts", "type", "page", "x", "y", "selector"],
                ev.iter()
                    .map(|e| {
                        let o = |v: Option<u32>| v.map_or(String::new(), |x| x.to_string());
                        vec![
                            time_text(e.ts),
                            e.kind.as_str().to_owned(),
                            e.page.clone(),
                            o(e.x),
                            o(e.y),
                            e.selector.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
            )
        }),
        ReportResult::Sessions(s) => print(o, json, s, |o, s| {
            outln!(o, "{} sessions", s.total);
            rows(
                o,
                &[
                    "session",
                    "first",
                    "entry page",
                    "referrer",
                    "channel",
                    "device",
                    "browser",
                    "os",
                ],
                s.rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.session.clone(),
                            time_text(r.first_ts),
                            r.entry_page.clone(),
                            r.referrer.clone(),
                            r.channel.as_str().to_owned(),
                            r.device.as_str().to_owned(),
                            r.browser.clone(),
                            r.os.clone(),
                        ]
                    })
                    .collect(),
            )
        }),
        // A report added to the library but not yet to the CLI's tables.
        other => print(o, json, other, |o, v| {
            outln!(o, "{}", v.to_json());
            Ok(())
        }),
    }
}

fn breakdown(o: &mut Out, b: &heatstore::query::Breakdown) -> CmdResult {
    outln!(o, "{} sessions, {} visitors", b.sessions, b.visitors);
    rows(
        o,
        &["key", "sessions", "visitors"],
        b.rows
            .iter()
            .map(|r| {
                vec![
                    r.key.clone(),
                    r.sessions.to_string(),
                    r.visitors.to_string(),
                ]
            })
            .collect(),
    )
}

fn time_text(ms: i64) -> String {
    let fmt = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}
