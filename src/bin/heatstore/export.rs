//! `heatstore export`: one site's events as NDJSON (or a Parquet dataset),
//! with a progress bar.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use heatstore::{ExportProgress, ExportReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::common::{parse_site, parse_time_arg, CmdResult, DbArg, Failure};
use crate::out::Out;
use crate::outln;

/// What to write.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// Event NDJSON v1, one line per stored event (`heatstore import
    /// --format export` reads it back).
    Ndjson,
    /// A Hive-partitioned Parquet dataset (`site=…/date=…/part-….parquet`
    /// events and a `sessions` dataset) in the directory --out; needs a
    /// build with the `parquet` feature.
    Parquet,
}

/// Arguments of `heatstore export`.
#[derive(clap::Args, Debug)]
pub struct Args {
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
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    format: Format,
    /// The file (NDJSON; `-` is standard output) or directory (Parquet).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Print one JSON object `{"events","sessions","files","bytes"}`
    /// instead of text, and no progress bar.
    #[arg(long)]
    json: bool,
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} exporting [{bar:30}] {pos}/{len} events ({per_sec}, {eta})",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn export_ndjson(
    args: &Args,
    snap: &heatstore::Snapshot,
    on: &mut dyn FnMut(ExportProgress),
) -> Result<ExportReport, Failure> {
    if args.out.as_os_str() == "-" {
        let mut w = BufWriter::with_capacity(1 << 20, io::stdout().lock());
        return match snap.export_ndjson_with_progress(&args.site, args.from, args.to, &mut w, on) {
            Err(heatstore::Error::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                Err(Failure::closed_pipe())
            }
            other => Ok(other?),
        };
    }
    // Written aside and renamed when complete: a failed export never
    // leaves a file that looks whole.
    let mut part = args.out.clone().into_os_string();
    part.push(".partial");
    let part = PathBuf::from(part);
    let file = File::create(&part)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", part.display())))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let result = snap
        .export_ndjson_with_progress(&args.site, args.from, args.to, &mut w, on)
        .and_then(|r| {
            let file = w
                .into_inner()
                .map_err(|e| heatstore::Error::Io(e.into_error()))?;
            file.sync_all().map_err(heatstore::Error::Io)?;
            Ok(r)
        });
    match result {
        Ok(r) => {
            std::fs::rename(&part, &args.out).map_err(|e| {
                Failure::new(format!("cannot move {} into place: {e}", part.display()))
            })?;
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(Failure::new(format!(
                "exporting to {}: {e}",
                args.out.display()
            )))
        }
    }
}

#[cfg(feature = "parquet")]
fn export_parquet(
    args: &Args,
    snap: &heatstore::Snapshot,
    on: &mut dyn FnMut(ExportProgress),
) -> Result<ExportReport, Failure> {
    snap.export_parquet_with_progress(&args.site, args.from, args.to, &args.out, on)
        .map_err(|e| Failure::new(format!("exporting to {}: {e}", args.out.display())))
}

#[cfg(not(feature = "parquet"))]
fn export_parquet(
    _: &Args,
    _: &heatstore::Snapshot,
    _: &mut dyn FnMut(ExportProgress),
) -> Result<ExportReport, Failure> {
    Err(Failure::new(
        "this heatstore was built without Parquet: rebuild with `--features cli,parquet`",
    ))
}

pub fn run(args: &Args) -> CmdResult {
    let store = args.db.open_read()?;
    let snap = store.snapshot()?;
    let to_stdout = args.out.as_os_str() == "-";
    let pb = progress_bar(args.json || to_stdout && io::stdout().is_terminal());
    let start = Instant::now();
    let mut on = |p: ExportProgress| {
        pb.set_length(p.total.max(p.events));
        pb.set_position(p.events);
    };
    let result = match args.format {
        Format::Ndjson => export_ndjson(args, &snap, &mut on),
        Format::Parquet => export_parquet(args, &snap, &mut on),
    };
    pb.finish_and_clear();
    let r = result?;
    let elapsed = start.elapsed();
    // The copy is outside the store's reach from now on.
    let _ = writeln!(
        io::stderr(),
        "note: deletion requests recorded after this export cannot reach the copy{}: \
         when one is recorded, delete the copy and export again (docs/export.md)",
        if to_stdout {
            String::new()
        } else {
            format!(" at {}", args.out.display())
        }
    );
    if to_stdout {
        return Ok(());
    }
    let mut out = Out::new();
    if args.json {
        let v =
            json!({"events": r.events, "sessions": r.sessions, "files": r.files, "bytes": r.bytes});
        outln!(out, "{v}");
    } else {
        let secs = elapsed.as_secs_f64().max(1e-9);
        outln!(
            out,
            "{}: {} events, {} sessions, {} files, {} bytes in {:.2} s ({:.0} events/s)",
            args.out.display(),
            r.events,
            r.sessions,
            r.files,
            r.bytes,
            secs,
            r.events as f64 / secs
        );
    }
    out.finish()
}
