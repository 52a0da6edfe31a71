//! `heatstore import`: NDJSON files or access logs into a store, with a
//! progress bar.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use heatstore::logs::LogFormat;
use heatstore::{ImportProgress, ImportReport, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::common::{CmdResult, DbArg, Failure};
use crate::out::Out;
use crate::outln;

/// Read buffer in front of each input. Small on purpose: the NDJSON import
/// reads 1 MiB blocks, which bypass a buffer smaller than they are; only
/// the rest of a block's last line goes through it. A buffer as large as
/// a block would copy every block once more.
const READ_BUFFER: usize = 64 << 10;

/// What the input files are.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// Event NDJSON v1 (each line names its site).
    Ndjson,
    /// A web server's access log in the Combined Log Format: Apache
    /// `combined`, Nginx's default, or Apache `vhost_combined` (detected
    /// from the first lines). Needs `--site`.
    Combined,
    /// Apache `vhost_combined` only.
    VhostCombined,
    /// An NDJSON export of `heatstore export`: the sessions keep the
    /// attributes the exported store derived.
    Export,
}

/// Arguments of `heatstore import`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input files (Event NDJSON v1, or access logs with `--format
    /// combined`); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// What the files are.
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    format: Format,
    /// The site an access log's pageviews belong to (access logs only:
    /// NDJSON lines name their own).
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    #[command(flatten)]
    db: DbArg,
    /// Print one JSON object `{"accepted","rejected","dropped","errors"}`
    /// for the whole invocation instead of text, and no progress bar. With
    /// several files each error also names its `file`.
    #[arg(long)]
    json: bool,
    /// Rejected lines to print per file in the text report.
    #[arg(long, value_name = "N", default_value_t = 10)]
    show_errors: usize,
}

/// One input: its name for reports, its size when known, its bytes.
struct Input {
    name: String,
    len: Option<u64>,
    reader: Box<dyn Read + Send>,
}

fn open_input(path: &PathBuf) -> Result<Input, Failure> {
    if path.as_os_str() == "-" {
        return Ok(Input {
            name: "(stdin)".to_owned(),
            len: None,
            reader: Box::new(io::stdin()),
        });
    }
    let file = File::open(path)
        .map_err(|e| Failure::new(format!("cannot open {}: {e}", path.display())))?;
    let len = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok(Input {
        name: path.display().to_string(),
        len,
        reader: Box::new(file),
    })
}

/// A bar over the input's bytes with the commit rate as its message;
/// hidden with `--json` and when stderr is not a terminal.
fn progress_bar(input: &Input, quiet: bool) -> ProgressBar {
    if quiet || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (pb, template) = match input.len {
        Some(len) => (
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()),
            "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({eta})",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {prefix} {bytes} {msg} ({elapsed})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(input.name.clone());
    pb.set_message("0 events");
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        events as f64 / secs
    } else {
        0.0
    }
}

fn import_one(
    store: &Store,
    input: Input,
    how: How<'_>,
    quiet: bool,
    not_pages: &mut Vec<u64>,
) -> Result<(ImportReport, Duration), Failure> {
    let pb = progress_bar(&input, quiet);
    let start = Instant::now();
    let reader = BufReader::with_capacity(READ_BUFFER, pb.wrap_read(input.reader));
    let mut on_commit = |p: ImportProgress| {
        pb.set_message(format!(
            "{} events, {:.0} events/s",
            p.committed,
            rate(p.committed, start.elapsed())
        ));
    };
    let result = match how {
        How::Ndjson => store.import_ndjson_with_progress(reader, &mut on_commit),
        How::Export => store.import_export_with_progress(reader, &mut on_commit),
        How::Log(format, site) => store
            .import_access_log_with_progress(reader, format, site, &mut on_commit)
            .map(|r| {
                not_pages.push(r.not_pages);
                ImportReport {
                    accepted: r.accepted,
                    rejected: r.rejected,
                    dropped: r.dropped,
                    errors: r.errors,
                }
            }),
    };
    pb.finish_and_clear();
    let report = result.map_err(|e| Failure::new(format!("importing {}: {e}", input.name)))?;
    Ok((report, start.elapsed()))
}

/// How the inputs are read.
#[derive(Clone, Copy)]
enum How<'a> {
    Ndjson,
    Export,
    Log(LogFormat, &'a str),
}

fn print_text(
    text: &mut Vec<String>,
    name: &str,
    r: &ImportReport,
    elapsed: Duration,
    show: usize,
) {
    text.push(format!(
        "{name}: {} accepted ({} dropped by privacy rules), {} rejected in {:.2} s ({:.0} events/s)",
        r.accepted,
        r.dropped,
        r.rejected,
        elapsed.as_secs_f64(),
        rate(r.accepted, elapsed)
    ));
    for e in r.errors.iter().take(show) {
        text.push(format!("  line {}: {}", e.line, e.reason));
    }
    let hidden = r.rejected.saturating_sub(r.errors.len().min(show) as u64);
    if hidden > 0 {
        text.push(format!(
            "  ... and {hidden} more rejected lines (--json lists them)"
        ));
    }
}

/// Imports every file in order; stops at the first file that cannot be
/// read or stored (the batches committed before it stay).
pub fn run(args: &Args) -> CmdResult {
    let how =
        match (args.format, args.site.as_deref()) {
            (Format::Ndjson, None) => How::Ndjson,
            (Format::Export, None) => How::Export,
            (Format::Ndjson | Format::Export, Some(_)) => return Err(Failure::new(
                "--site is for access logs (--format combined): NDJSON lines name their own site",
            )),
            (_, None) => {
                return Err(Failure::new(
                    "an access log needs --site SITE: its lines do not say which site they are",
                ))
            }
            (Format::Combined, Some(site)) => How::Log(LogFormat::Auto, site),
            (Format::VhostCombined, Some(site)) => How::Log(LogFormat::VhostCombined, site),
        };
    // Open every input first: a typo in the last name should not leave
    // the first files imported.
    let inputs = args
        .files
        .iter()
        .map(open_input)
        .collect::<Result<Vec<_>, _>>()?;
    let store = args.db.open_or_create()?;
    let many = inputs.len() > 1;
    let (mut accepted, mut rejected, mut dropped) = (0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    let mut total_time = Duration::ZERO;
    let mut not_pages_total = 0u64;
    // The text is written once the data work is done: a closed or full
    // standard output must not stop an import half-way.
    let mut text = Vec::new();
    for input in inputs {
        let name = input.name.clone();
        let mut skipped = Vec::new();
        let (report, elapsed) = import_one(&store, input, how, args.json, &mut skipped)?;
        total_time += elapsed;
        accepted += report.accepted;
        rejected += report.rejected;
        dropped += report.dropped;
        not_pages_total += skipped.iter().sum::<u64>();
        if args.json {
            for e in &report.errors {
                errors.push(if many {
                    json!({"file": name, "line": e.line, "reason": e.reason})
                } else {
                    json!({"line": e.line, "reason": e.reason})
                });
            }
        } else {
            print_text(&mut text, &name, &report, elapsed, args.show_errors);
            if let Some(n) = skipped.first() {
                text.push(format!(
                    "  {n} lines are no page (assets, not GET, errors, endpoints) and were skipped"
                ));
            }
        }
    }
    if args.json {
        let mut report = json!({
            "accepted": accepted,
            "rejected": rejected,
            "dropped": dropped,
            "errors": errors,
        });
        if matches!(how, How::Log(..)) {
            report["not_pages"] = json!(not_pages_total);
        }
        text.push(report.to_string());
    } else if many {
        text.push(format!(
            "total: {accepted} accepted ({dropped} dropped), {rejected} rejected in {:.2} s ({:.0} events/s)",
            total_time.as_secs_f64(),
            rate(accepted, total_time)
        ));
    }
    // Give the pages the import freed back: the file shrinks to its
    // compacted size (about 10 bytes/event instead of about 25). Done
    // before the output is flushed: a closed pipe must not skip it.
    store.compact()?;
    let mut out = Out::new();
    for line in text {
        outln!(out, "{line}");
    }
    out.finish()
}
