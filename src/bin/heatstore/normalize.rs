//! `heatstore normalize`: Event NDJSON in, the same events with what
//! heatstore derives at ingest out (page path; on pageviews the session
//! attributes). For feeding other databases the same facts, as the
//! side-by-side benchmark does. Rejected lines are reported on stderr.

use std::io::{BufRead, Write};

use heatstore::{Event, EventKind};

use crate::common::{CmdResult, Failure};
use crate::out::Out;
use crate::outln;

/// Arguments of `heatstore normalize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// NDJSON file (`-` for stdin).
    file: std::path::PathBuf,
}

/// Writes one enriched JSON object per accepted line.
pub fn run(args: &Args) -> CmdResult {
    let input: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(&args.file)
            .map_err(|e| Failure::new(format!("cannot open {}: {e}", args.file.display())))?;
        Box::new(std::io::BufReader::with_capacity(1 << 20, f))
    };
    let mut out = Out::new();
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(Failure::new)?;
        if line.trim_ascii().is_empty() {
            continue;
        }
        let e = match Event::from_json_line(&line) {
            Ok(e) => e,
            Err(err) => {
                let _ = writeln!(std::io::stderr(), "line {}: {err}", i + 1);
                continue;
            }
        };
        let mut v = serde_json::to_value(&e).map_err(Failure::new)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "page".into(),
                heatstore::normalize::parse_page(&e.url).path.into(),
            );
            if e.kind == EventKind::Pageview {
                obj.insert(
                    "attrs".into(),
                    serde_json::to_value(heatstore::normalize::session_attrs_of(&e))
                        .map_err(Failure::new)?,
                );
            }
        }
        outln!(out, "{v}");
    }
    out.finish()
}
