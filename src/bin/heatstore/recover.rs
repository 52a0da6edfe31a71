//! `heatstore recover`: set a damaged store aside and salvage what reads.

use crate::common::{CmdResult, Failure};
use crate::out::Out;
use crate::outln;

/// Arguments of `heatstore recover`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The damaged store's file.
    #[arg(long, value_name = "DB")]
    db: std::path::PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Renames the damaged file to `<name>.damaged-<ms>`, copies every entry
/// that still reads into a new store at the same path, checks it.
pub fn run(args: &Args) -> CmdResult {
    let report = heatstore::Store::recover(&args.db)?;
    let mut out = Out::new();
    if args.json {
        outln!(
            out,
            "{}",
            serde_json::to_string(&report).map_err(Failure::new)?
        );
        return out.finish();
    }
    outln!(
        out,
        "the damaged file is now {} (kept; delete it yourself once you are done with it)",
        report.set_aside.display()
    );
    if report.readable {
        outln!(
            out,
            "copied {} entries into a new store at {}",
            report.entries_copied,
            args.db.display()
        );
    } else {
        outln!(
            out,
            "nothing could be read from it; {} is a new, empty store",
            args.db.display()
        );
    }
    for (table, why) in &report.tables_damaged {
        outln!(out, "  could not read all of {table}: {why}");
    }
    match &report.check_error {
        None => outln!(out, "check: ok"),
        Some(e) => outln!(
            out,
            "check: {e}\n(the salvaged data is kept: export what the reports still answer, or \
             re-import your events)"
        ),
    }
    out.finish()
}
