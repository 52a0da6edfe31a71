//! The public face of a consistent, read-only view of a store: every
//! report, count and check, declared here and delegating to the query layer
//! (one module per report under `query/`), inside the guard that turns a
//! panic raised in redb on a damaged page into [`crate::Error::Corrupt`].

use std::collections::BTreeMap;

use crate::error::Result;
use crate::guard::guarded;
use crate::query::{
    Breakdown, Column, DeviceBy, Elements, EventBatches, Events, Filters, Heatmap, HeatmapOptions,
    Interval, Pages, RageClicks, ReferrerBy, ScrollReach, Series, SessionList, SiteCounts,
    StoreStats, StoredEvent,
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
    /// assert!(bytes["column ts"] > 0);
    /// assert!(!bytes.keys().any(|k| k.contains("unknown")));
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

    /// Every stored event of `site` that passes `filters`, one by one, with
    /// its session's attributes: the raw event API, for analyses the
    /// reports do not cover. The filters mean what they mean for event
    /// reports: the range, page, kind and the session filters (device,
    /// browser, OS, referrer, channel; bots left out unless
    /// [`Filters::include_bots`] or [`Filters::device`] asks for them); a
    /// `selector` keeps the clicks and inputs on that element. Deleted
    /// data is never returned: rows that pending deletion requests hide
    /// are left out as in every report. Order: by UTC day, within a day in
    /// storage order (each session's events together, not sorted by time).
    ///
    /// Every column is decoded; [`Snapshot::event_batches`] decodes only
    /// the columns asked for, and is the fast path.
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","url":"/pricing","vw":390,"vh":700,"dh":3000,"ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy"}"##, "\n",
    /// # ).as_bytes())?;
    /// use heatstore::query::Filters;
    /// use heatstore::normalize::DeviceClass;
    /// let snap = store.snapshot()?;
    /// // Time from the pageview to the first click, per session.
    /// let mut first: std::collections::HashMap<u64, (i64, Option<i64>)> = Default::default();
    /// for e in snap.events("shop.example", &Filters::default())? {
    ///     let e = e?;
    ///     assert_eq!(e.device, DeviceClass::Mobile);
    ///     let s = first.entry(e.session).or_insert((i64::MAX, None));
    ///     match e.kind {
    ///         heatstore::EventKind::Pageview => s.0 = s.0.min(e.ts),
    ///         heatstore::EventKind::Click => s.1 = Some(s.1.map_or(e.ts, |t: i64| t.min(e.ts))),
    ///         _ => {}
    ///     }
    /// }
    /// let (pv, click) = first.values().next().copied().unwrap();
    /// assert_eq!(click.unwrap() - pv, 4000);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn events(&self, site: &str, filters: &Filters) -> Result<Events<'_>> {
        let batches = self.event_batches(site, filters, &Column::ALL)?;
        Ok(Events::new(batches))
    }

    /// The events of [`Snapshot::events`] as columnar batches (one per
    /// segment with matching rows, so memory stays bounded by a segment)
    /// holding only the `columns` asked for: bitmaps select the rows, and
    /// only those columns are decoded, for those rows only. See
    /// [`crate::query::EventBatch`] for an example; with the `parquet`
    /// feature, [`crate::query::EventBatch::to_record_batch`] makes an
    /// Arrow `RecordBatch` of each.
    pub fn event_batches(
        &self,
        site: &str,
        filters: &Filters,
        columns: &[Column],
    ) -> Result<EventBatches<'_>> {
        guarded("scanning events", || {
            EventBatches::new(&self.view, site, filters, columns)
        })
    }

    /// The keyed hash the store holds for a raw session or visitor id of
    /// `site`: the value of [`Column::Session`] and [`Column::Visitor`]
    /// for that id (`None`: no such site). The hash is keyed per site, so
    /// the same id has different hashes on different sites, and the raw id
    /// cannot be recovered from it; this finds one's own test session in a
    /// scan.
    ///
    /// ```
    /// let store = heatstore::Store::in_memory()?;
    /// store.import_ndjson(r#"{"site":"a.com","ts":1790812800000,"type":"pageview","session":"s1","url":"/"}"#.as_bytes())?;
    /// let snap = store.snapshot()?;
    /// let key = snap.id_hash("a.com", "s1")?.unwrap();
    /// let e = snap.events("a.com", &Default::default())?.next().unwrap()?;
    /// assert_eq!(e.session, key);
    /// assert_eq!(e.visitor, key, "no visitor named: the session stands for itself");
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn id_hash(&self, site: &str, raw_id: &str) -> Result<Option<u64>> {
        guarded("hashing an id", || {
            Ok(self
                .view
                .site(site)?
                .map(|s| crate::normalize::id_hash(&s.record.key, raw_id)))
        })
    }

    /// The batches of [`Snapshot::event_batches`] as Apache Arrow
    /// `RecordBatch`es (feature `parquet`), for DataFusion, Polars or a
    /// Parquet writer; the fields are the `columns`, in order
    /// ([`Column::arrow_field`]).
    #[cfg(feature = "parquet")]
    pub fn event_record_batches(
        &self,
        site: &str,
        filters: &Filters,
        columns: &[Column],
    ) -> Result<crate::query::RecordBatches<'_>> {
        Ok(crate::query::RecordBatches {
            inner: self.event_batches(site, filters, columns)?,
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
