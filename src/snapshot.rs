//! The public face of a consistent, read-only view of a store: every
//! report, count and check, declared here and delegating to the query layer
//! (one module per report under `query/`), inside the guard that turns a
//! panic raised in redb on a damaged page into [`crate::Error::Corrupt`].

use std::collections::BTreeMap;

use crate::error::Result;
use crate::guard::guarded;
use crate::query::{
    Breakdown, DeviceBy, Elements, Filters, Heatmap, HeatmapOptions, Interval, Pages, RageClicks,
    ReferrerBy, ScrollReach, Series, SessionList, SiteCounts, StoreStats, StoredEvent,
};
use crate::read::View;

/// A consistent, read-only view of the store: one redb read transaction,
/// which a concurrent writer never changes. Every report of the query API
/// is a method of it; see the crate documentation for their semantics.
///
/// ```
/// use heatstore::query::Filters;
/// let store = heatstore::Store::in_memory()?;
/// let snap = store.snapshot()?;
/// assert!(snap.sites()?.is_empty());
/// assert_eq!(snap.pages("a.example", &Filters::default(), None)?.pageviews, 0);
/// # Ok::<(), heatstore::Error>(())
/// ```
pub struct Snapshot {
    pub(crate) view: View,
}

impl Snapshot {
    /// Every site, by name.
    pub fn sites(&self) -> Result<Vec<String>> {
        guarded("reading sites", || self.view.sites())
    }

    /// Counts of one site (zeros for an unknown site).
    pub fn counts(&self, site: &str) -> Result<SiteCounts> {
        guarded("reading counts", || self.view.counts(site))
    }

    /// Counts of the whole store (file size left 0: [`crate::Store::stats`] fills it).
    pub fn stats(&self) -> Result<StoreStats> {
        guarded("reading stats", || self.view.stats())
    }

    /// Decodes every structure of the store: every segment column, bitmap,
    /// dictionary, pending batch, session row and session block, and checks
    /// what ties them together: each segment files its sessions under the
    /// visitor their session rows name, the visitor index holds exactly the
    /// visitors each session's events named, and no stored event belongs
    /// to a visitor or session whose deletion request is erased (other than
    /// events that happened after the request). Returns the number of
    /// events checked, or the first inconsistency found.
    pub fn check(&self) -> Result<u64> {
        guarded("reading check", || self.view.check())
    }

    /// Bytes stored per structure (segment columns by name, bitmap indexes,
    /// dictionaries, session tables, pending log): where the space goes.
    /// Values only, without redb's page and B-tree overhead.
    pub fn storage_breakdown(&self) -> Result<BTreeMap<String, u64>> {
        guarded("reading storage breakdown", || {
            self.view.storage_breakdown()
        })
    }

    /// The click (or move, with `filters.kind = Some(Move)`) heatmap of
    /// `filters.page`.
    ///
    /// Each event lands in column `min(cols-1, x*cols/vw)` and row
    /// `y/row_px`; `vw` is the event's, else that of the session's latest
    /// pageview of the page at or before the event, else of its earliest.
    pub fn heatmap(&self, site: &str, filters: &Filters, opts: HeatmapOptions) -> Result<Heatmap> {
        guarded("reading heatmap", || self.view.heatmap(site, filters, opts))
    }

    /// Clicks per element (selector), with the mean in-element position.
    pub fn elements(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<Elements> {
        guarded("reading elements", || {
            self.view.elements(site, filters, limit)
        })
    }

    /// Rage clicks: bursts of 3 or more clicks of one session on one page,
    /// each within 1 s and 24 px (on both axes) of the burst's first click.
    pub fn rage_clicks(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<RageClicks> {
        guarded("reading rage clicks", || {
            self.view.rage_clicks(site, filters, limit)
        })
    }

    /// Scroll reach of `filters.page` in steps of `step` percent.
    ///
    /// Per session the deepest point reached over its scroll events on the
    /// page, `min(100, (scrollTop + vh) * 100 / dh)`, or the fold
    /// `vh * 100 / dh` of its first pageview of the page when it has none.
    pub fn scroll_reach(&self, site: &str, filters: &Filters, step: u32) -> Result<ScrollReach> {
        guarded("reading scroll reach", || {
            self.view.scroll_reach(site, filters, step)
        })
    }

    /// Pageviews, unique visitors, entries and mean load time per page.
    pub fn pages(&self, site: &str, filters: &Filters, limit: Option<usize>) -> Result<Pages> {
        guarded("reading pages", || self.view.pages(site, filters, limit))
    }

    /// Pageviews, sessions and unique visitors per hour or UTC day.
    pub fn series(&self, site: &str, filters: &Filters, interval: Interval) -> Result<Series> {
        guarded("reading series", || {
            self.view.series(site, filters, interval)
        })
    }

    /// Sessions per referrer host, domain, channel or campaign field.
    pub fn referrers(
        &self,
        site: &str,
        filters: &Filters,
        by: ReferrerBy,
        limit: Option<usize>,
    ) -> Result<Breakdown> {
        guarded("reading referrers", || {
            self.view.referrers(site, filters, by, limit)
        })
    }

    /// Sessions per device class, browser, OS, screen, language or zone.
    pub fn devices(
        &self,
        site: &str,
        filters: &Filters,
        by: DeviceBy,
        limit: Option<usize>,
    ) -> Result<Breakdown> {
        guarded("reading devices", || {
            self.view.devices(site, filters, by, limit)
        })
    }

    /// The sessions matching the filters, e.g. those that clicked one
    /// element (`filters.selector`): from a heatmap to its recordings.
    pub fn sessions(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<SessionList> {
        guarded("reading sessions", || {
            self.view.sessions(site, filters, limit)
        })
    }

    /// Every event of one session, in `(ts, arrival)` order (replay).
    pub fn session_events(&self, site: &str, session: &str) -> Result<Vec<StoredEvent>> {
        guarded("reading session events", || {
            self.view.session_events(site, session)
        })
    }

    /// Replay by a session key from [`SessionSummary::session`].
    pub fn session_events_by_key(&self, site: &str, key: &str) -> Result<Vec<StoredEvent>> {
        guarded("reading session events by key", || {
            self.view.session_events_by_key(site, key)
        })
    }
}
