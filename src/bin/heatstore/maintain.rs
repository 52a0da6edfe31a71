//! `heatstore maintain`: carry out deletion requests and retention.

use std::io::Write;

use crate::common::{parse_time_arg, CmdResult, DbArg, Failure};
use crate::out::Out;
use crate::outln;

/// Arguments of `heatstore maintain`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
    /// The time to run at (ms since the epoch, RFC 3339, or a date YYYY-MM-DD at midnight UTC); default now.
    #[arg(long, value_parser = parse_time_arg)]
    now: Option<i64>,
    /// Print the maintenance report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs maintenance; overdue requests are reported on stderr.
pub fn run(args: &Args) -> CmdResult {
    let store = args.db.open_existing()?;
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    });
    let report = store.maintenance(now)?;
    for id in &report.overdue {
        let _ = writeln!(
            std::io::stderr(),
            "warning: deletion request {id} was past its deadline before this run"
        );
    }
    let mut out = Out::new();
    if args.json {
        outln!(
            out,
            "{}",
            serde_json::to_string(&report).map_err(Failure::new)?
        );
    } else {
        outln!(
            out,
            "erased {} requests ({} rows) in {} partitions; {} partitions expired; file {} -> {} bytes",
            report.erased.len(),
            report.rows_removed,
            report.partitions_rewritten,
            report.partitions_expired,
            report.file_bytes_before,
            report.file_bytes_after
        );
    }
    out.finish()
}
