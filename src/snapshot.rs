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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// let sites = snap.sites()?;
    /// assert_eq!(sites, ["shop.example"]);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn sites(&self) -> Result<Vec<String>> {
        guarded("reading sites", || self.view.sites())
    }

    /// Counts of one site (zeros for an unknown site).
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// let c = snap.counts("shop.example")?;
    /// assert_eq!((c.events, c.sessions, c.hidden_events), (5, 1, 0));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn counts(&self, site: &str) -> Result<SiteCounts> {
        guarded("reading counts", || self.view.counts(site))
    }

    /// Counts of the whole store (file size left 0: [`crate::Store::stats`] fills it).
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// let s = snap.stats()?;
    /// assert_eq!((s.events, s.sites), (5, 1));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// assert_eq!(snap.check()?, 5); // every event decoded, nothing inconsistent
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn check(&self) -> Result<u64> {
        guarded("reading check", || self.view.check())
    }

    /// Bytes stored per structure (segment columns by name, bitmap indexes,
    /// dictionaries, session tables, pending log): where the space goes.
    /// Values only, without redb's page and B-tree overhead.
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// let bytes = snap.storage_breakdown()?;
    /// assert!(bytes.contains_key("session rows"));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::{Filters, HeatmapOptions};
    /// let f = Filters::default().page("/pricing");
    /// let h = snap.heatmap("shop.example", &f, HeatmapOptions::default())?;
    /// // x = 195 of a 390 px viewport: the middle column of 64; y = 1200 px: row 75.
    /// assert_eq!((h.total, h.cells[0].col, h.cells[0].row), (3, 32, 75));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn heatmap(&self, site: &str, filters: &Filters, opts: HeatmapOptions) -> Result<Heatmap> {
        guarded("reading heatmap", || self.view.heatmap(site, filters, opts))
    }

    /// Clicks per element (selector), with the mean in-element position.
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::Filters;
    /// let e = snap.elements("shop.example", &Filters::default(), None)?;
    /// assert_eq!((e.rows[0].selector.as_str(), e.rows[0].clicks), ("#buy", 3));
    /// assert_eq!(e.rows[0].mean_ex, Some(5000.0));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::Filters;
    /// let r = snap.rage_clicks("shop.example", &Filters::default(), None)?;
    /// assert_eq!((r.bursts, r.sessions), (1, 1));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::Filters;
    /// let f = Filters::default().page("/pricing");
    /// let s = snap.scroll_reach("shop.example", &f, 10)?;
    /// // (1500 + 700) / 3000 = 73%: every step up to 70% is reached.
    /// let reached: Vec<u64> = s.steps.iter().map(|x| x.sessions).collect();
    /// assert_eq!(reached, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn scroll_reach(&self, site: &str, filters: &Filters, step: u32) -> Result<ScrollReach> {
        guarded("reading scroll reach", || {
            self.view.scroll_reach(site, filters, step)
        })
    }

    /// Pageviews, unique visitors, entries and mean load time per page.
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::Filters;
    /// let p = snap.pages("shop.example", &Filters::default(), Some(10))?;
    /// assert_eq!((p.rows[0].page.as_str(), p.rows[0].pageviews, p.rows[0].entries), ("/pricing", 1, 1));
    /// assert_eq!(p.rows[0].mean_load_ms, Some(900.0));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn pages(&self, site: &str, filters: &Filters, limit: Option<usize>) -> Result<Pages> {
        guarded("reading pages", || self.view.pages(site, filters, limit))
    }

    /// Pageviews, sessions and unique visitors per hour or UTC day.
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::{Filters, Interval};
    /// let day = Filters::range(1_790_812_800_000, 1_790_899_200_000);
    /// let s = snap.series("shop.example", &day, Interval::Hour)?;
    /// assert_eq!(s.rows.len(), 24);
    /// assert_eq!((s.rows[0].pageviews, s.rows[0].sessions, s.rows[0].visitors), (1, 1, 1));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn series(&self, site: &str, filters: &Filters, interval: Interval) -> Result<Series> {
        guarded("reading series", || {
            self.view.series(site, filters, interval)
        })
    }

    /// Sessions per referrer host, domain, channel or campaign field.
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::{Filters, ReferrerBy};
    /// let r = snap.referrers("shop.example", &Filters::default(), ReferrerBy::Host, None)?;
    /// assert_eq!((r.rows[0].key.as_str(), r.rows[0].sessions), ("google.com", 1));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::{DeviceBy, Filters};
    /// let d = snap.devices("shop.example", &Filters::default(), DeviceBy::Class, None)?;
    /// assert_eq!(d.rows[0].key, "mobile");
    /// let b = snap.devices("shop.example", &Filters::default(), DeviceBy::Browser, None)?;
    /// assert_eq!(b.rows[0].key, "Mobile Safari");
    /// # Ok::<(), heatstore::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::Filters;
    /// // The sessions that clicked `#buy`.
    /// let f = Filters { selector: Some("#buy".into()), ..Filters::default() };
    /// let list = snap.sessions("shop.example", &f, Some(10))?;
    /// assert_eq!((list.total, list.rows[0].entry_page.as_str()), (1, "/pricing"));
    /// # Ok::<(), heatstore::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// let events = snap.session_events("shop.example", "s1")?;
    /// assert_eq!(events.len(), 5);
    /// assert_eq!(events[0].kind, heatstore::EventKind::Pageview);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn session_events(&self, site: &str, session: &str) -> Result<Vec<StoredEvent>> {
        guarded("reading session events", || {
            self.view.session_events(site, session)
        })
    }

    /// Replay by a session key from [`crate::query::SessionSummary::session`].
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","visitor":"v1","url":"/pricing","referrer":"https://www.google.com/","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1","vw":390,"vh":700,"dh":3000,"load_ms":900}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy","ex":5000,"ey":2500}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804300,"type":"click","session":"s1","url":"/pricing","x":196,"y":1201,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804600,"type":"click","session":"s1","url":"/pricing","x":197,"y":1202,"selector":"#buy"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812806000,"type":"scroll","session":"s1","url":"/pricing","y":1500}"##, "\n",
    /// # ).as_bytes())?;
    /// # let snap = store.snapshot()?;
    /// use heatstore::query::Filters;
    /// let list = snap.sessions("shop.example", &Filters::default(), None)?;
    /// let events = snap.session_events_by_key("shop.example", &list.rows[0].session)?;
    /// assert_eq!(events.len(), 5);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn session_events_by_key(&self, site: &str, key: &str) -> Result<Vec<StoredEvent>> {
        guarded("reading session events by key", || {
            self.view.session_events_by_key(site, key)
        })
    }

    /// Writes every visible event of `site` in `[from, to)` (`None`: no
    /// bound) to `out` as Event NDJSON v1, one line per stored event, from
    /// this snapshot: `session` and `visitor` are the stored keyed hashes
    /// in hex (the raw ids are never stored; `visitor` only when an event
    /// named one), `url` the stored page, and each pageview carries
    /// `derived`, the attributes ingest derived for its session (referrer
    /// host, domain and channel, campaign, device, browser, OS, screen,
    /// language, time zone). [`crate::Store::import_export`] reads it back
    /// into a store that answers every report as this one. Memory stays
    /// bounded (one segment and a few days of sessions at a time). See
    /// `docs/export.md`.
    ///
    /// ```
    /// let store = heatstore::Store::in_memory()?;
    /// store.import_ndjson(r#"{"site":"a.com","ts":1790812800000,"type":"pageview","session":"s1","url":"/?utm_source=news","referrer":"https://www.google.com/"}"#.as_bytes())?;
    /// let mut out = Vec::new();
    /// let r = store.snapshot()?.export_ndjson("a.com", None, None, &mut out)?;
    /// assert_eq!(r.events, 1);
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.contains(r#""channel":"campaign""#), "{text}");
    /// let copy = heatstore::Store::in_memory()?;
    /// assert_eq!(copy.import_export(text.as_bytes())?.accepted, 1);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn export_ndjson(
        &self,
        site: &str,
        from: Option<i64>,
        to: Option<i64>,
        out: &mut dyn std::io::Write,
    ) -> Result<crate::ExportReport> {
        self.export_ndjson_with_progress(site, from, to, out, &mut |_| {})
    }

    /// [`Snapshot::export_ndjson`], calling `progress` every
    /// [`crate::EXPORT_PROGRESS_EVERY`] events.
    pub fn export_ndjson_with_progress(
        &self,
        site: &str,
        from: Option<i64>,
        to: Option<i64>,
        out: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(crate::ExportProgress),
    ) -> Result<crate::ExportReport> {
        guarded("exporting NDJSON", || {
            self.view.export_ndjson(site, from, to, out, progress)
        })
    }

    /// Writes every visible event of `site` in `[from, to)` as a
    /// Hive-partitioned Parquet dataset under `dir`:
    /// `events/site=…/date=…/part-NNNNN.parquet` (one row per event, with
    /// its session's attributes) and `sessions/site=…/date=…/part-NNNNN.parquet`
    /// (one row per session whose first pageview is in the range, by its
    /// day). Files are written one at a time, in row groups of 65,536 rows
    /// (bounded memory). Columns in `docs/export.md`. Feature `parquet`.
    #[cfg(feature = "parquet")]
    pub fn export_parquet(
        &self,
        site: &str,
        from: Option<i64>,
        to: Option<i64>,
        dir: &std::path::Path,
    ) -> Result<crate::ExportReport> {
        self.export_parquet_with_progress(site, from, to, dir, &mut |_| {})
    }

    /// [`Snapshot::export_parquet`], calling `progress` every
    /// [`crate::EXPORT_PROGRESS_EVERY`] events.
    #[cfg(feature = "parquet")]
    pub fn export_parquet_with_progress(
        &self,
        site: &str,
        from: Option<i64>,
        to: Option<i64>,
        dir: &std::path::Path,
        progress: &mut dyn FnMut(crate::ExportProgress),
    ) -> Result<crate::ExportReport> {
        guarded("exporting Parquet", || {
            self.view.export_parquet(site, from, to, dir, progress)
        })
    }
}
