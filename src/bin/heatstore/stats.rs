//! `heatstore stats`: counts and sizes of a store.

use indicatif::HumanBytes;

use crate::common::{CmdResult, DbArg, Failure};

/// Arguments of `heatstore stats`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
    /// Print one JSON object (the fields of `StoreStats` plus
    /// `bytes_per_event`) instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints the store's statistics.
pub fn run(args: &Args) -> CmdResult {
    let store = args.db.open_existing()?;
    let s = store.stats()?;
    if args.json {
        let mut v = serde_json::to_value(&s).map_err(Failure::new)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("bytes_per_event".into(), s.bytes_per_event().into());
        }
        println!("{v}");
        return Ok(());
    }
    let rows = [
        ("events", s.events.to_string()),
        ("sessions", s.sessions.to_string()),
        ("sites", s.sites.to_string()),
        ("partitions", s.partitions.to_string()),
        ("segments", s.segments.to_string()),
        ("pending events", s.pending_events.to_string()),
        (
            "bytes on disk",
            format!("{} ({})", s.file_bytes, HumanBytes(s.file_bytes)),
        ),
        ("bytes per event", format!("{:.1}", s.bytes_per_event())),
    ];
    for (name, value) in rows {
        println!("{name:<16} {value}");
    }
    Ok(())
}
