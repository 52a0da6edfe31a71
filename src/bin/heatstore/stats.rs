//! `heatstore stats`: counts and sizes of a store.

use indicatif::HumanBytes;

use crate::common::{CmdResult, DbArg, Failure};
use crate::out::Out;
use crate::outln;

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
    let store = args.db.open_read()?;
    let s = store.stats()?;
    let mut out = Out::new();
    if args.json {
        let mut v = serde_json::to_value(&s).map_err(Failure::new)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("bytes_per_event".into(), s.bytes_per_event().into());
        }
        outln!(out, "{v}");
        return out.finish();
    }
    let rows = [
        ("events", s.events.to_string()),
        ("hidden events", s.hidden_events.to_string()),
        ("pending requests", s.pending_requests.to_string()),
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
        outln!(out, "{name:<16} {value}");
    }
    out.finish()
}
