//! One report request by name and options, as `heatstore query <report>`
//! takes it on the command line and `GET /api/<report>` in its query
//! string: one parser for both, so that the HTTP API answers exactly the
//! JSON of `heatstore query <report> --json`.
//!
//! Options carry the CLI's names (`site`, `from`, `to`, `page`, `kind`,
//! `device`, `browser`, `os`, `referrer`, `channel`, `selector`,
//! `include_bots`, `by`, `cols`, `row_px`, `step`, `interval`, `session`,
//! `limit`; `row-px` and `include-bots` are accepted too).
//!
//! ```
//! use heatstore::report::{Report, ReportRequest};
//! let store = heatstore::Store::in_memory()?;
//! let req = ReportRequest::from_pairs(
//!     Report::Heatmap,
//!     [("site", "a.com"), ("page", "/"), ("cols", "32")],
//! )
//! .map_err(heatstore::Error::InvalidArgument)?;
//! assert_eq!(req.cols, 32);
//! assert_eq!(req.row_px, 16); // the default
//! let json = req.run(&store.snapshot()?)?.to_json();
//! assert!(json.starts_with("{\"cells\":[]"));
//! # Ok::<(), heatstore::Error>(())
//! ```

use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::{validate_site, EventKind, MAX_SITE_LEN, MAX_TS};
use crate::normalize::{Channel, DeviceClass};
use crate::query::{
    Breakdown, DeviceBy, Elements, Filters, Heatmap, HeatmapOptions, Interval, Pages, RageClicks,
    ReferrerBy, ScrollReach, Series, SessionList,
};
use crate::snapshot::Snapshot;
use crate::StoredEvent;

/// Default heatmap columns.
pub const DEFAULT_COLS: u32 = 64;
/// Default heatmap row height in px.
pub const DEFAULT_ROW_PX: u32 = 16;
/// Default scroll reach step in percent.
pub const DEFAULT_STEP: u32 = 10;

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Report {
    /// Click (or `kind=move`) heatmap of a page.
    Heatmap,
    /// Clicks per element (selector).
    Elements,
    /// Rage clicks per element.
    Rage,
    /// Scroll reach of a page.
    Scroll,
    /// Sessions per referrer (`by`: host, domain, channel, utm_source,
    /// utm_medium, utm_campaign).
    Referrers,
    /// Sessions per device (`by`: class, browser, os, screen, lang, tz).
    Devices,
    /// Pageviews, visitors, entries and load time per page.
    Pages,
    /// Pageviews, sessions and visitors per `interval`.
    Series,
    /// Every event of `session` (a raw session id or a session key).
    Replay,
    /// Sessions matching the filters.
    Sessions,
}

impl Report {
    /// Every report, in the order the CLI lists them.
    pub const ALL: [Report; 10] = [
        Report::Heatmap,
        Report::Elements,
        Report::Rage,
        Report::Scroll,
        Report::Referrers,
        Report::Devices,
        Report::Pages,
        Report::Series,
        Report::Replay,
        Report::Sessions,
    ];

    /// The report's name (`heatstore query <name>`, `/api/<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Report::Heatmap => "heatmap",
            Report::Elements => "elements",
            Report::Rage => "rage",
            Report::Scroll => "scroll",
            Report::Referrers => "referrers",
            Report::Devices => "devices",
            Report::Pages => "pages",
            Report::Series => "series",
            Report::Replay => "replay",
            Report::Sessions => "sessions",
        }
    }

    /// The report of that name.
    pub fn parse(name: &str) -> Option<Report> {
        Report::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// A report with its site, filters and options; [`ReportRequest::run`]
/// answers it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportRequest {
    /// The report.
    pub report: Report,
    /// The site.
    pub site: String,
    /// The filters (`from`, `to`, `page`, `kind`, `device`, `browser`,
    /// `os`, `referrer`, `channel`, `selector`, `include_bots`).
    pub filters: Filters,
    /// Grouping of referrers (default host) or devices (default class).
    pub by: Option<String>,
    /// Heatmap columns ([`DEFAULT_COLS`]).
    pub cols: u32,
    /// Heatmap row height in px ([`DEFAULT_ROW_PX`]).
    pub row_px: u32,
    /// Scroll reach step in percent ([`DEFAULT_STEP`]).
    pub step: u32,
    /// Series bucket (default day).
    pub interval: Interval,
    /// Session for replay: its raw id, or its key (16 hex digits) as the
    /// sessions report gives it.
    pub session: Option<String>,
    /// Keep the top N rows.
    pub limit: Option<usize>,
}

impl ReportRequest {
    /// A request with no filters and every option at its default.
    pub fn new(report: Report, site: &str) -> ReportRequest {
        ReportRequest {
            report,
            site: site.to_owned(),
            filters: Filters::default(),
            by: None,
            cols: DEFAULT_COLS,
            row_px: DEFAULT_ROW_PX,
            step: DEFAULT_STEP,
            interval: Interval::Day,
            session: None,
            limit: None,
        }
    }

    /// A request from `(option, value)` pairs (a query string): `site` is
    /// required, an option may be given once, an unknown one is an error.
    /// The error names the option and says what was expected.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        report: Report,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> std::result::Result<ReportRequest, String> {
        let mut req = ReportRequest::new(report, "");
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in pairs {
            let name = name.as_ref().replace('-', "_");
            if seen.contains(&name) {
                return Err(format!("{name}: given more than once"));
            }
            req.set(&name, value.as_ref())?;
            seen.push(name);
        }
        if req.site.is_empty() {
            return Err("site: required (the site to report on)".to_owned());
        }
        Ok(req)
    }

    /// Sets one option by its CLI name (`row_px` or `row-px`). The error
    /// names the option and says what was expected.
    pub fn set(&mut self, name: &str, value: &str) -> std::result::Result<(), String> {
        let named = |r: std::result::Result<(), String>| r.map_err(|e| format!("{name}: {e}"));
        let f = &mut self.filters;
        named(match name.replace('-', "_").as_str() {
            "site" => parse_site(value).map(|s| self.site = s),
            "from" => parse_time(value).map(|t| f.from = Some(t)),
            "to" => parse_time(value).map(|t| f.to = Some(t)),
            "page" => {
                f.page = Some(value.to_owned());
                Ok(())
            }
            "kind" => parse_kind(value).map(|k| f.kind = Some(k)),
            "device" => parse_device(value).map(|d| f.device = Some(d)),
            "browser" => {
                f.browser = Some(value.to_owned());
                Ok(())
            }
            "os" => {
                f.os = Some(value.to_owned());
                Ok(())
            }
            "referrer" => {
                f.referrer = Some(value.to_owned());
                Ok(())
            }
            "channel" => parse_channel(value).map(|c| f.channel = Some(c)),
            "selector" => {
                f.selector = Some(value.to_owned());
                Ok(())
            }
            "include_bots" => parse_flag(value).map(|b| f.include_bots = b),
            "by" => {
                self.by = Some(value.to_owned());
                Ok(())
            }
            "cols" => parse_count(value).map(|n| self.cols = n),
            "row_px" => parse_count(value).map(|n| self.row_px = n),
            "step" => parse_count(value).map(|n| self.step = n),
            "interval" => parse_interval(value).map(|i| self.interval = i),
            "session" => {
                self.session = Some(value.to_owned());
                Ok(())
            }
            "limit" => parse_limit(value).map(|n| self.limit = Some(n)),
            _ => Err(format!(
                "unknown option (expected one of: {})",
                OPTIONS.join(", ")
            )),
        })
    }

    /// Runs the report on a snapshot.
    pub fn run(&self, snap: &Snapshot) -> Result<ReportResult> {
        let (site, f, limit) = (self.site.as_str(), &self.filters, self.limit);
        Ok(match self.report {
            Report::Heatmap => ReportResult::Heatmap(snap.heatmap(
                site,
                f,
                HeatmapOptions {
                    cols: self.cols,
                    row_px: self.row_px,
                },
            )?),
            Report::Elements => ReportResult::Elements(snap.elements(site, f, limit)?),
            Report::Rage => ReportResult::Rage(snap.rage_clicks(site, f, limit)?),
            Report::Scroll => ReportResult::Scroll(snap.scroll_reach(site, f, self.step)?),
            Report::Referrers => {
                let by: ReferrerBy = self.by.as_deref().unwrap_or("host").parse()?;
                ReportResult::Breakdown(snap.referrers(site, f, by, limit)?)
            }
            Report::Devices => {
                let by: DeviceBy = self.by.as_deref().unwrap_or("class").parse()?;
                ReportResult::Breakdown(snap.devices(site, f, by, limit)?)
            }
            Report::Pages => ReportResult::Pages(snap.pages(site, f, limit)?),
            Report::Series => ReportResult::Series(snap.series(site, f, self.interval)?),
            Report::Replay => {
                let session = self.session.as_deref().ok_or_else(|| {
                    Error::InvalidArgument(
                        "replay needs session (a raw session id, or a key from the sessions report)"
                            .into(),
                    )
                })?;
                ReportResult::Replay(replay(snap, site, session)?)
            }
            Report::Sessions => ReportResult::Sessions(snap.sessions(site, f, limit)?),
        })
    }
}

/// The options [`ReportRequest::set`] knows.
pub const OPTIONS: [&str; 19] = [
    "site",
    "from",
    "to",
    "page",
    "kind",
    "device",
    "browser",
    "os",
    "referrer",
    "channel",
    "selector",
    "include_bots",
    "by",
    "cols",
    "row_px",
    "step",
    "interval",
    "session",
    "limit",
];

/// A raw session id first; a 16-hex-digit key when the raw id has no events.
fn replay(snap: &Snapshot, site: &str, session: &str) -> Result<Vec<StoredEvent>> {
    let events = snap.session_events(site, session)?;
    if events.is_empty() && session.len() == 16 && session.bytes().all(|b| b.is_ascii_hexdigit()) {
        return snap.session_events_by_key(site, session);
    }
    Ok(events)
}

/// A report's typed result. Its JSON ([`ReportResult::to_json`]) is the
/// serde form of the result itself, what `heatstore query --json` prints.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ReportResult {
    /// [`Report::Heatmap`].
    Heatmap(Heatmap),
    /// [`Report::Elements`].
    Elements(Elements),
    /// [`Report::Rage`].
    Rage(RageClicks),
    /// [`Report::Scroll`].
    Scroll(ScrollReach),
    /// [`Report::Referrers`] and [`Report::Devices`].
    Breakdown(Breakdown),
    /// [`Report::Pages`].
    Pages(Pages),
    /// [`Report::Series`].
    Series(Series),
    /// [`Report::Replay`]: the session's events in `(ts, arrival)` order.
    Replay(Vec<StoredEvent>),
    /// [`Report::Sessions`].
    Sessions(SessionList),
}

impl ReportResult {
    /// The result as one line of JSON.
    pub fn to_json(&self) -> String {
        // Results are plain structs of numbers and strings: serializing
        // cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A time: ms since the Unix epoch, RFC 3339 or a date (`YYYY-MM-DD`,
/// midnight UTC), in `0..=MAX_TS`.
pub fn parse_time(s: &str) -> std::result::Result<i64, String> {
    match crate::time::parse_time(s.trim()) {
        Some(t) if (0..=MAX_TS).contains(&t) => Ok(t),
        Some(t) => Err(format!(
            "{t} is out of range (0..={MAX_TS} ms since the Unix epoch)"
        )),
        None => Err(
            "expected ms since the Unix epoch, an RFC 3339 time such as 2026-10-01T00:00:00Z, or a date such as 2026-10-01 (midnight UTC)"
                .to_owned(),
        ),
    }
}

/// A site name (the `site` field's rule, [`validate_site`]).
pub fn parse_site(s: &str) -> std::result::Result<String, String> {
    if s.is_empty() {
        return Err("a site name must not be empty".to_owned());
    }
    if s.len() > MAX_SITE_LEN {
        return Err(format!(
            "a site name is at most {MAX_SITE_LEN} bytes, this one is {}",
            s.len()
        ));
    }
    validate_site(s).map_err(|e| e.reason)?;
    Ok(s.to_owned())
}

/// An event kind by name.
pub fn parse_kind(s: &str) -> std::result::Result<EventKind, String> {
    EventKind::parse(s)
        .ok_or_else(|| "expected pageview, click, move, scroll, input, leave or custom".to_owned())
}

/// A device class by name.
pub fn parse_device(s: &str) -> std::result::Result<DeviceClass, String> {
    DeviceClass::parse(s)
        .ok_or_else(|| "expected desktop, mobile, tablet, bot or unknown".to_owned())
}

/// A channel by name.
pub fn parse_channel(s: &str) -> std::result::Result<Channel, String> {
    Channel::parse(s).ok_or_else(|| {
        "expected direct, search, social, email, referral, campaign or ai".to_owned()
    })
}

/// A series bucket: `hour` or `day`.
pub fn parse_interval(s: &str) -> std::result::Result<Interval, String> {
    s.parse().map_err(|e: Error| match e {
        Error::InvalidArgument(m) => m,
        other => other.to_string(),
    })
}

fn parse_flag(s: &str) -> std::result::Result<bool, String> {
    match s {
        "" | "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

fn parse_count(s: &str) -> std::result::Result<u32, String> {
    s.trim()
        .parse()
        .map_err(|_| "expected a whole number from 0 to 4294967295".to_owned())
}

fn parse_limit(s: &str) -> std::result::Result<usize, String> {
    s.trim()
        .parse()
        .map_err(|_| "expected a whole number of rows".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_by_their_cli_names() {
        let r = ReportRequest::from_pairs(
            Report::Heatmap,
            [
                ("site", "a.com"),
                ("row-px", "8"),
                ("include_bots", "true"),
                ("kind", "move"),
                ("from", "1970-01-01T00:00:01Z"),
            ],
        )
        .unwrap();
        assert_eq!(r.row_px, 8);
        assert!(r.filters.include_bots);
        assert_eq!(r.filters.kind, Some(EventKind::Move));
        assert_eq!(r.filters.from, Some(1000));
    }

    #[test]
    fn bad_options_are_named() {
        let err = |pairs: &[(&str, &str)]| {
            ReportRequest::from_pairs(Report::Pages, pairs.iter().copied()).unwrap_err()
        };
        assert!(err(&[("page", "/")]).starts_with("site:"));
        assert!(err(&[("site", "a.com"), ("cols", "x")]).starts_with("cols:"));
        assert!(err(&[("site", "a.com"), ("bogus", "1")]).starts_with("bogus: unknown option"));
        assert!(err(&[("site", "a.com"), ("site", "b.com")]).contains("more than once"));
        assert!(err(&[("site", "a.com"), ("kind", "tap")]).starts_with("kind:"));
        assert!(err(&[("site", "a.com"), ("to", "-1")]).starts_with("to:"));
        assert!(err(&[("site", "a..com")]).starts_with("site:"));
    }

    #[test]
    fn every_report_has_a_name() {
        for r in Report::ALL {
            assert_eq!(Report::parse(r.as_str()), Some(r));
        }
        assert_eq!(Report::parse("nope"), None);
    }
}
