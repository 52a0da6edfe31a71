//! `heatstore check`: decode every structure of a store.

use crate::common::{CmdResult, DbArg};

/// Arguments of `heatstore check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
}

/// Prints how many events were verified, or fails with the first
/// corruption found.
pub fn run(args: &Args) -> CmdResult {
    let store = args.db.open_existing()?;
    let events = store.snapshot()?.check()?;
    println!("ok: {events} events verified in {}", args.db.db.display());
    Ok(())
}
