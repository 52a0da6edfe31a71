//! `heatstore gen`: the deterministic synthetic workload as NDJSON.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use heatstore::gen::{numbered_sites, write_ndjson, GenConfig, MAX_MOTION, MAX_SITE_SKEW};

use crate::common::{parse_fraction, parse_site, parse_time_arg, CmdResult, Failure};

/// Arguments of `heatstore gen`. Options left out take the defaults of
/// `heatstore::gen::GenConfig`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Exactly how many events to write.
    #[arg(long, value_name = "N")]
    events: u64,
    /// Seed of every random choice: the same options write the same bytes.
    #[arg(long, value_name = "S")]
    seed: u64,
    /// Sites, comma-separated; the first gets the most traffic.
    #[arg(long, value_name = "SITE,...", value_delimiter = ',', value_parser = parse_site)]
    sites: Vec<String>,
    /// Instead of --sites: N sites named site-001.example, site-002.example,
    /// ... (1 to 10000), traffic falling off by rank (see --site-skew).
    #[arg(long, value_name = "N", conflicts_with = "sites", value_parser = parse_site_count)]
    site_count: Option<u32>,
    /// Exponent S of the sites' traffic weights 1/rank^S (0 to 10): 0
    /// shares it evenly, 1 is Zipf, 3 makes the first site dwarf the rest.
    /// Default 1.3.
    #[arg(long, value_name = "S", value_parser = parse_site_skew)]
    site_skew: Option<f64>,
    /// Length of the window over which sessions start, in days.
    #[arg(long, value_name = "D")]
    days: Option<u32>,
    /// Start of the window: ms since the Unix epoch, RFC 3339, or a date (YYYY-MM-DD, midnight UTC).
    #[arg(long, value_name = "T", value_parser = parse_time_arg)]
    start: Option<i64>,
    /// Pages per site.
    #[arg(long, value_name = "N")]
    pages: Option<u32>,
    /// Share of events that arrive late (0..=1).
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    late_fraction: Option<f64>,
    /// Share of visitors without cookies (0..=1).
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    cookieless_fraction: Option<f64>,
    /// Share of visitors sending Do-Not-Track (0..=1).
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    dnt_fraction: Option<f64>,
    /// Which events carry the visitor id: `every`, `pageviews`, or a
    /// fraction of events such as `0.3`.
    #[arg(long, value_name = "WHICH")]
    visitor_ids: Option<heatstore::gen::VisitorIds>,
    /// Every event arrives up to this many ms after its time, in random
    /// order within that window (e.g. 120000 for two minutes).
    #[arg(long, value_name = "MS")]
    jitter_ms: Option<u32>,
    /// Share of pageviews (0..=1) that go to long, nearly all distinct
    /// URLs outside the site's pages: deep paths with search, filter and
    /// tracking query strings. Default 0.
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    url_tail: Option<f64>,
    /// Mouse moves and scrolls per pageview, as a multiple of the usual
    /// (0 to 20): 5 makes them about 95% of the events. Default 1.
    #[arg(long, value_name = "M", value_parser = parse_motion)]
    motion: Option<f64>,
    /// Number of 1–3 hour windows in which one site, drawn at random, gets
    /// 20 times its usual sessions (a campaign, a viral post; 0 to 10000).
    /// Default 0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10_000))]
    bursts: Option<u32>,
    /// Write to FILE instead of standard output (`-` is standard output).
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

impl Args {
    fn config(&self) -> GenConfig {
        let d = GenConfig::default();
        GenConfig {
            seed: self.seed,
            events: self.events,
            sites: match self.site_count {
                Some(n) => numbered_sites(n),
                None if self.sites.is_empty() => d.sites,
                None => self.sites.clone(),
            },
            site_skew: self.site_skew.unwrap_or(d.site_skew),
            start_ms: self.start.unwrap_or(d.start_ms),
            days: self.days.unwrap_or(d.days),
            pages: self.pages.unwrap_or(d.pages),
            late_fraction: self.late_fraction.unwrap_or(d.late_fraction),
            cookieless_fraction: self.cookieless_fraction.unwrap_or(d.cookieless_fraction),
            dnt_fraction: self.dnt_fraction.unwrap_or(d.dnt_fraction),
            visitor_ids: self.visitor_ids.unwrap_or(d.visitor_ids),
            arrival_jitter_ms: self.jitter_ms.unwrap_or(d.arrival_jitter_ms),
            url_tail: self.url_tail.unwrap_or(d.url_tail),
            motion: self.motion.unwrap_or(d.motion),
            bursts: self.bursts.unwrap_or(d.bursts),
        }
    }
}

/// Most sites `--site-count` makes: each has its own page catalogue.
const MAX_SITE_COUNT: u32 = 10_000;

fn parse_site_count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_SITE_COUNT).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number from 1 to {MAX_SITE_COUNT}"
        )),
    }
}

/// A finite number in `0..=max`.
fn parse_bounded(s: &str, max: f64) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=max).contains(&f) => Ok(f),
        _ => Err(format!("expected a number from 0 to {max}")),
    }
}

fn parse_motion(s: &str) -> Result<f64, String> {
    parse_bounded(s, MAX_MOTION)
}

fn parse_site_skew(s: &str) -> Result<f64, String> {
    parse_bounded(s, MAX_SITE_SKEW)
}

/// Writes the workload. A closed pipe (`heatstore gen ... | head`) ends it
/// quietly with success.
pub fn run(args: &Args) -> CmdResult {
    let cfg = args.config();
    // `write_ndjson` puts its own 64 KiB `BufWriter` in front of `w`, so
    // the handles are passed unbuffered.
    let result = match args.out.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            let file = File::create(path)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", path.display())))?;
            write_ndjson(cfg, &file).and_then(|bytes| file.sync_all().map(|()| bytes))
        }
        _ => write_ndjson(cfg, io::stdout().lock()),
    };
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(format!("cannot write the events: {e}"))),
    }
}
