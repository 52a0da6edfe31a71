//! `heatstore check`: decode every structure of a store.

use crate::common::{CmdResult, DbArg};
use crate::out::Out;
use crate::outln;

/// Arguments of `heatstore check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
}

/// Prints how many events were verified, or fails with the first
/// corruption found.
pub fn run(args: &Args) -> CmdResult {
    let store = args.db.open_read()?;
    let events = store.snapshot()?.check()?;
    let stats = store.stats()?;
    let mut out = Out::new();
    if stats.hidden_events > 0 || stats.pending_requests > 0 {
        outln!(
            out,
            "ok: {events} events verified in {}: {} visible, {} hidden by {} pending deletion \
             requests (erased by the next `heatstore maintain`)",
            args.db.db.display(),
            stats.events,
            stats.hidden_events,
            stats.pending_requests
        );
    } else {
        outln!(
            out,
            "ok: {events} events verified in {}",
            args.db.db.display()
        );
    }
    out.finish()
}
