//! `heatstore requests`: every deletion request with its status.

use heatstore::RequestStatus;

use crate::common::{CmdResult, DbArg, Failure};
use crate::out::Out;
use crate::outln;

/// Arguments of `heatstore requests`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
    /// Print the audit records as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn time_text(ms: i64) -> String {
    let fmt = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Lists the requests; overdue ones are flagged.
pub fn run(args: &Args) -> CmdResult {
    let store = args.db.open_read()?;
    let requests = store.deletion_requests()?;
    let mut out = Out::new();
    if args.json {
        outln!(
            out,
            "{}",
            serde_json::to_string(&requests).map_err(Failure::new)?
        );
        return out.finish();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    outln!(
        out,
        "{:>4}  {:<24} {:<9} {:<22} {:<22} {:>8}  target",
        "id",
        "site",
        "status",
        "requested",
        "deadline",
        "rows"
    );
    for r in &requests {
        let status = match r.status {
            RequestStatus::Pending => "pending",
            RequestStatus::Purged => "purged",
            RequestStatus::Erased => "erased",
        };
        outln!(
            out,
            "{:>4}  {:<24} {:<9} {:<22} {:<22} {:>8}  {}{}",
            r.id,
            r.site,
            status,
            time_text(r.requested_at),
            time_text(r.deadline),
            r.rows_removed.map_or("-".to_owned(), |n| n.to_string()),
            serde_json::to_string(&r.target).unwrap_or_default(),
            if r.overdue(now) { "  OVERDUE" } else { "" }
        );
    }
    out.finish()
}
