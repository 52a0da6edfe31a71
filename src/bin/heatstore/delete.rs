//! `heatstore delete`: record a deletion request.

use heatstore::DeletionTarget;

use crate::common::{parse_site, parse_time_arg, CmdResult, DbArg, Failure};
use crate::out::Out;
use crate::outln;

/// Arguments of `heatstore delete`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["visitor", "session", "from", "all"])))]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
    /// The site.
    #[arg(long, value_parser = parse_site)]
    site: String,
    /// Delete one visitor (their `visitor` id, or the `session` id of a
    /// visitor-less session).
    #[arg(long)]
    visitor: Option<String>,
    /// Delete one session.
    #[arg(long)]
    session: Option<String>,
    /// Delete a time range from this time (with --to).
    #[arg(long, value_parser = parse_time_arg, requires = "to")]
    from: Option<i64>,
    /// End of the time range, exclusive.
    #[arg(long, value_parser = parse_time_arg, requires = "from")]
    to: Option<i64>,
    /// Delete all data of the site.
    #[arg(long)]
    all: bool,
    /// Print the request as JSON.
    #[arg(long)]
    json: bool,
}

/// Records the request; its data is hidden from now on.
pub fn run(args: &Args) -> CmdResult {
    let target = match (&args.visitor, &args.session, args.from, args.to, args.all) {
        (Some(v), ..) => DeletionTarget::Visitor(v.clone()),
        (_, Some(s), ..) => DeletionTarget::Session(s.clone()),
        (_, _, Some(from), Some(to), _) => DeletionTarget::TimeRange { from, to },
        (.., true) => DeletionTarget::Site,
        _ => {
            return Err(Failure::new(
                "give one of --visitor, --session, --from/--to or --all",
            ))
        }
    };
    let store = args.db.open_existing()?;
    let id = store.request_deletion(&args.site, target)?;
    let request = store
        .deletion_requests()?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Failure::new("the request was not recorded"))?;
    let mut out = Out::new();
    if args.json {
        outln!(
            out,
            "{}",
            serde_json::to_string(&request).map_err(Failure::new)?
        );
    } else {
        outln!(
            out,
            "deletion request {id} recorded: hidden from every report now, erased by `heatstore maintain` before {} (ms {})",
            crate::requests::time_text(request.deadline),
            request.deadline
        );
    }
    out.finish()
}
