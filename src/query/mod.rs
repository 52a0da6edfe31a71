//! Reports: heatmaps, scroll reach, referrers, devices, pages, series,
//! sessions and replay.
//!
//! Every report takes the same [`Filters`]. Event reports (heatmaps,
//! elements, rage clicks, scroll reach, pages, series pageviews) count the
//! events in `[from, to)` that pass the filters. Session reports (referrers,
//! devices, entry pages, series sessions, the session list) count sessions
//! whose first pageview is in `[from, to)` and whose attributes pass the
//! session filters (device, browser, OS, referrer, channel); when an event
//! filter is set (page, kind, selector) a session must also have at least
//! one event in the range that passes it. Bots are left out unless
//! [`Filters::include_bots`] is set or [`Filters::device`] asks for them.
//!
//! The raw event API ([`crate::Snapshot::events`],
//! [`crate::Snapshot::event_batches`]) returns the events themselves that
//! pass the same filters, for analyses the reports do not cover.
//!
//! Work is done per partition and segment: filters become bitmap algebra
//! over the segment's indexes, and only the columns of the surviving rows'
//! segments are decoded.

mod agg;
#[cfg(feature = "parquet")]
mod arrow;
pub(crate) use agg::block_key;
mod breakdowns;
mod counts;
mod elements;
mod events;
mod heatmap;
mod pages;
mod rage;
mod replay;
pub(crate) mod scan;
mod scroll;
mod series;
mod sessions;
mod viewport;

use serde::{Deserialize, Serialize};

#[cfg(feature = "parquet")]
pub use arrow::RecordBatches;
pub use breakdowns::{Breakdown, BreakdownRow};
pub use counts::{SiteCounts, StoreStats};
pub use elements::{Element, Elements};
pub use events::{Column, EventBatch, EventBatches, Events, RawEvent};
pub use heatmap::{Heatmap, HeatmapCell};
pub use pages::{PageRow, Pages};
pub use rage::{RageBurst, RageClicks};
pub use replay::StoredEvent;
pub use scroll::{ScrollReach, ScrollStep};
pub use series::{Series, SeriesRow};
pub use sessions::{SessionList, SessionSummary};

use crate::error::{Error, Result};
use crate::normalize::{Channel, DeviceClass};
use crate::EventKind;

/// Filters every report accepts; all combine with AND.
///
/// ```
/// use heatstore::query::Filters;
/// let f = Filters::range(1_700_000_000_000, 1_700_086_400_000).page("/pricing");
/// assert_eq!(f.page.as_deref(), Some("/pricing"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    /// Start of the range, ms since the epoch, inclusive.
    pub from: Option<i64>,
    /// End of the range, exclusive.
    pub to: Option<i64>,
    /// Page path (exact, case-sensitive).
    pub page: Option<String>,
    /// Event kind.
    pub kind: Option<EventKind>,
    /// Device class of the session.
    pub device: Option<DeviceClass>,
    /// Browser family of the session (`Chrome`, `Mobile Safari`).
    pub browser: Option<String>,
    /// OS family of the session (`Windows`, `iOS`).
    pub os: Option<String>,
    /// Referrer host of the session (`google.com`, `(direct)`).
    pub referrer: Option<String>,
    /// Channel of the session.
    pub channel: Option<Channel>,
    /// Target element selector (clicks and inputs on it).
    pub selector: Option<String>,
    /// Count bots too.
    pub include_bots: bool,
}

impl Filters {
    /// Filters for the range `[from, to)`.
    pub fn range(from: i64, to: i64) -> Filters {
        Filters {
            from: Some(from),
            to: Some(to),
            ..Filters::default()
        }
    }

    /// The same filters on one page.
    pub fn page(mut self, page: &str) -> Filters {
        self.page = Some(page.to_owned());
        self
    }

    /// The same filters on one kind.
    pub fn kind(mut self, kind: EventKind) -> Filters {
        self.kind = Some(kind);
        self
    }

    fn check(&self) -> Result<()> {
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f > t {
                return Err(Error::InvalidArgument(format!(
                    "time range: from ({f}) is after to ({t})"
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn has_event_filters(&self) -> bool {
        self.page.is_some() || self.kind.is_some() || self.selector.is_some()
    }

    pub(crate) fn in_range(&self, ts: i64) -> bool {
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts < t)
    }
}

/// Most buckets a [`Series`] may have: 100,000 (11 years by hour, 273 by
/// day). A longer range is [`Error::LimitExceeded`], before anything is
/// read or allocated.
pub const MAX_SERIES_BUCKETS: u64 = 100_000;

/// Most rows a session list returns without a limit: 100,000. More is
/// [`Error::LimitExceeded`]; with a limit, any number of sessions is
/// counted and only the first `limit` by time are kept in memory.
pub const MAX_LIST_ROWS: usize = 100_000;

/// The buckets of `interval` from `lo` to `hi` (bucket starts, inclusive),
/// or [`Error::LimitExceeded`] past [`MAX_SERIES_BUCKETS`].
pub(crate) fn series_buckets(lo: i64, hi: i64, interval: Interval) -> Result<u64> {
    let n = (i128::from(hi) - i128::from(lo)) / i128::from(interval.ms()) + 1;
    let n = u64::try_from(n.max(0)).unwrap_or(u64::MAX);
    if n > MAX_SERIES_BUCKETS {
        return Err(Error::LimitExceeded {
            what: "series buckets",
            limit: MAX_SERIES_BUCKETS,
            asked: n,
            hint: "narrow the range, or use a daily interval",
        });
    }
    Ok(n)
}

/// Heatmap grid options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatmapOptions {
    /// Columns across the viewport. Default 64.
    pub cols: u32,
    /// Row height in px. Default 16.
    pub row_px: u32,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            cols: 64,
            row_px: 16,
        }
    }
}

/// What a referrer breakdown groups by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrerBy {
    /// Referrer host (default).
    #[default]
    Host,
    /// Registrable domain.
    Domain,
    /// Channel.
    Channel,
    /// `utm_source`.
    UtmSource,
    /// `utm_medium`.
    UtmMedium,
    /// `utm_campaign`.
    UtmCampaign,
}

/// What a device breakdown groups by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceBy {
    /// Device class (default).
    #[default]
    Class,
    /// Browser family.
    Browser,
    /// OS family.
    Os,
    /// Screen size `WxH`.
    Screen,
    /// Primary language subtag.
    Lang,
    /// Time zone.
    Tz,
}

macro_rules! parse_by {
    ($t:ty, $($name:literal => $v:expr),*) => {
        impl std::str::FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($name => Ok($v),)*
                    _ => Err(Error::InvalidArgument(format!(
                        "unknown grouping {s:?} (expected one of: {})",
                        [$($name),*].join(", ")
                    ))),
                }
            }
        }
    };
}

parse_by!(ReferrerBy, "host" => ReferrerBy::Host, "domain" => ReferrerBy::Domain,
    "channel" => ReferrerBy::Channel, "utm_source" => ReferrerBy::UtmSource,
    "utm_medium" => ReferrerBy::UtmMedium, "utm_campaign" => ReferrerBy::UtmCampaign);
parse_by!(DeviceBy, "class" => DeviceBy::Class, "browser" => DeviceBy::Browser,
    "os" => DeviceBy::Os, "screen" => DeviceBy::Screen, "lang" => DeviceBy::Lang,
    "tz" => DeviceBy::Tz);

/// Bucket size of a time series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    /// One hour.
    Hour,
    /// One UTC day (default).
    #[default]
    Day,
}

impl Interval {
    pub(crate) fn ms(self) -> i64 {
        match self {
            Interval::Hour => crate::storage::HOUR_MS,
            Interval::Day => crate::storage::DAY_MS,
        }
    }
}

impl std::str::FromStr for Interval {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hour" => Ok(Interval::Hour),
            "day" => Ok(Interval::Day),
            _ => Err(Error::InvalidArgument(format!(
                "unknown interval {s:?} (expected hour or day)"
            ))),
        }
    }
}

/// Sorts `(key, count)` rows by count descending then key, and keeps `limit`.
pub(crate) fn top<T>(
    rows: &mut Vec<T>,
    limit: Option<usize>,
    key: impl Fn(&T) -> (std::cmp::Reverse<u64>, String),
) {
    rows.sort_by_cached_key(|r| key(r));
    if let Some(l) = limit {
        rows.truncate(l);
    }
}
