//! Event reports: heatmaps, elements, rage clicks, scroll reach, pages,
//! series.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use serde::Serialize;

use std::sync::Arc;

use super::agg::{cover, pv_agg, pv_agg_usable, Cover, PvAgg, Visitors};
use super::scan::{day_span, scan, scan_partition, SegCtx};
use super::{top, Filters, HeatmapOptions, Interval};
use crate::cache::numbering::DenseIds;
use crate::error::{Error, Result};
use crate::read::{SiteRef, Snapshot};
use crate::storage::day_start;
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::EventKind;

/// One non-empty heatmap cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HeatmapCell {
    /// Column, `0..cols`.
    pub col: u32,
    /// Row: `y / row_px`.
    pub row: u32,
    /// Events in the cell.
    pub count: u64,
}

/// A click or move heatmap of one page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Heatmap {
    /// Non-empty cells, by (row, col).
    pub cells: Vec<HeatmapCell>,
    /// Events placed in cells.
    pub total: u64,
    /// Events left out: no viewport width on the event nor on the
    /// session's pageview of the page.
    pub skipped: u64,
    /// Columns of the grid.
    pub cols: u32,
    /// Row height in px.
    pub row_px: u32,
}

/// Clicks on one element.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Element {
    /// CSS selector.
    pub selector: String,
    /// Clicks.
    pub clicks: u64,
    /// Mean in-element x (0..=10000) over the clicks that gave one.
    pub mean_ex: Option<f64>,
    /// Mean in-element y (0..=10000) over the clicks that gave one.
    pub mean_ey: Option<f64>,
}

/// The element heatmap: clicks per selector.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Elements {
    /// Elements by clicks, descending.
    pub rows: Vec<Element>,
    /// Clicks with a selector.
    pub total: u64,
}

/// Rage clicks on one element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RageBurst {
    /// Selector of the burst's first click (`(none)` without one).
    pub selector: String,
    /// Bursts.
    pub bursts: u64,
    /// Clicks in those bursts.
    pub clicks: u64,
}

/// Rage clicks: 3 or more clicks of one session on one page, each within
/// 1 s and 24 px (both axes) of the burst's first click.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RageClicks {
    /// Bursts in all.
    pub bursts: u64,
    /// Sessions with at least one burst.
    pub sessions: u64,
    /// Bursts per element, most first.
    pub rows: Vec<RageBurst>,
}

/// How many sessions reached a depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ScrollStep {
    /// Depth in percent of the document.
    pub depth: u32,
    /// Sessions that reached at least this depth.
    pub sessions: u64,
}

/// Scroll reach of one page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScrollReach {
    /// Sessions that viewed or scrolled the page.
    pub sessions: u64,
    /// One step per `step` percent, 0 to 100.
    pub steps: Vec<ScrollStep>,
}

/// One page of the pages report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PageRow {
    /// Page path.
    pub page: String,
    /// Pageviews.
    pub pageviews: u64,
    /// Distinct visitors with a pageview.
    pub visitors: u64,
    /// Sessions that entered on the page.
    pub entries: u64,
    /// Mean load time over the pageviews that gave one.
    pub mean_load_ms: Option<f64>,
}

/// The pages report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Pages {
    /// Pages by pageviews, descending.
    pub rows: Vec<PageRow>,
    /// Pageviews in all.
    pub pageviews: u64,
    /// Distinct visitors in all.
    pub visitors: u64,
}

/// One bucket of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SeriesRow {
    /// Bucket start, ms since the epoch.
    pub ts: i64,
    /// Pageviews in the bucket.
    pub pageviews: u64,
    /// Sessions whose first pageview is in the bucket.
    pub sessions: u64,
    /// Distinct visitors with a pageview in the bucket.
    pub visitors: u64,
}

/// A time series.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Series {
    /// Bucket size.
    pub interval: Interval,
    /// Every bucket of the range (of the data without a range), in order.
    pub rows: Vec<SeriesRow>,
}

/// A click of the rage-click report.
struct RageClick {
    session: u64,
    /// Interned page.
    page: u32,
    ts: i64,
    pos: Pos,
    x: u64,
    y: u64,
    /// Interned selector, `u32::MAX` without one.
    selector: u32,
}

/// Position of a row in `(ts, arrival)` order within a site: day, segment,
/// row. Segments of a partition are in arrival order, rows of one session
/// in a segment in `(ts, arrival)` order.
type Pos = (i32, usize, u32);

/// A pageview of a session, for the viewport fallback.
#[derive(Clone, Copy, Debug)]
struct Pv {
    ts: i64,
    pos: Pos,
    vw: Option<u64>,
    vh: Option<u64>,
    dh: Option<u64>,
}

fn seg_index(ctx: &SegCtx<'_>) -> usize {
    ctx.part
        .segments
        .iter()
        .position(|s| std::ptr::eq(s, ctx.seg))
        .unwrap_or(usize::MAX)
}

/// The pageviews of `page` of each session in `sessions`, over every day
/// those sessions have events on, in (ts, arrival) order.
fn session_pageviews(
    snap: &Snapshot,
    site: &SiteRef,
    sessions: &HashSet<u64>,
    page: &str,
) -> Result<HashMap<u64, Vec<Pv>>> {
    let mut out: HashMap<u64, Vec<Pv>> = HashMap::new();
    // Scan the days through the ordinary engine: same filters, all bots.
    let mut days: Vec<i32> = Vec::new();
    for &h in sessions {
        if let Some(row) = snap.session_row(site.id, h)? {
            days.extend(row.days);
        }
    }
    days.sort_unstable();
    days.dedup();
    for day in days {
        let f = Filters {
            page: Some(page.to_owned()),
            include_bots: true,
            from: Some(day_start(day)),
            to: Some(day_start(day + 1)),
            ..Filters::default()
        };
        scan(snap, site, &f, Some(&[EventKind::Pageview]), &mut |ctx| {
            let vw = ctx.opt(col::VW)?;
            let vh = ctx.opt(col::VH)?;
            let dh = ctx.opt(col::DH)?;
            let ts = ctx.ts()?;
            let si = seg_index(ctx);
            for r in &ctx.rows {
                let (s, _) = ctx.session_of(r)?;
                if sessions.contains(&s) {
                    out.entry(s).or_default().push(Pv {
                        ts: ts.get(r as usize).copied().unwrap_or_default(),
                        pos: (ctx.part.day, si, r),
                        vw: vw.get(r),
                        vh: vh.get(r),
                        dh: dh.get(r),
                    });
                }
            }
            Ok(())
        })?;
    }
    for v in out.values_mut() {
        v.sort_by_key(|p| (p.ts, p.pos));
    }
    Ok(out)
}

/// The page's pageviews seen by a report's own scan (in its range, passing
/// its filters), per session.
#[derive(Default)]
struct InRangePageviews {
    by_session: HashMap<u64, Vec<Pv>>,
}

impl InRangePageviews {
    fn push(
        &mut self,
        ctx: &SegCtx<'_>,
        si: usize,
        r: u32,
        vw: Option<u64>,
        vh: Option<u64>,
        dh: Option<u64>,
    ) -> Result<()> {
        let (s, _) = ctx.session_of(r)?;
        let ts = ctx.ts()?.get(r as usize).copied().unwrap_or_default();
        self.by_session.entry(s).or_default().push(Pv {
            ts,
            pos: (ctx.part.day, si, r),
            vw,
            vh,
            dh,
        });
        Ok(())
    }

    /// The pageview each event takes its viewport from. An in-range
    /// pageview at or before the event is the answer (any earlier one out of
    /// range is older); otherwise the session's pageviews are looked up
    /// over all its days.
    fn resolve(
        mut self,
        snap: &Snapshot,
        site: &SiteRef,
        page: &str,
        events: impl Iterator<Item = (u64, i64, Pos)>,
    ) -> Result<Vec<Option<Pv>>> {
        for v in self.by_session.values_mut() {
            v.sort_by_key(|p| (p.ts, p.pos));
        }
        let events: Vec<(u64, i64, Pos)> = events.collect();
        let mut out: Vec<Option<Pv>> = Vec::with_capacity(events.len());
        let mut missing = HashSet::new();
        for &(s, ts, pos) in &events {
            let hit = self
                .by_session
                .get(&s)
                .and_then(|v| v.iter().rev().find(|p| (p.ts, p.pos) <= (ts, pos)))
                .copied();
            if hit.is_none() {
                missing.insert(s);
            }
            out.push(hit);
        }
        if !missing.is_empty() {
            let all = session_pageviews(snap, site, &missing, page)?;
            for (slot, &(s, ts, pos)) in out.iter_mut().zip(&events) {
                if slot.is_none() {
                    *slot = pageview_for(all.get(&s), ts, pos).copied();
                }
            }
        }
        Ok(out)
    }
}

/// The session's latest pageview at or before `(ts, pos)`, else its earliest.
fn pageview_for(pvs: Option<&Vec<Pv>>, ts: i64, pos: Pos) -> Option<&Pv> {
    let pvs = pvs?;
    pvs.iter()
        .rev()
        .find(|p| (p.ts, p.pos) <= (ts, pos))
        .or(pvs.first())
}

fn site_or_empty(snap: &Snapshot, site: &str) -> Result<Option<SiteRef>> {
    snap.site(site)
}

impl Snapshot {
    /// The click (or move, with `filters.kind = Some(Move)`) heatmap of
    /// `filters.page`.
    ///
    /// Each event lands in column `min(cols-1, x*cols/vw)` and row
    /// `y/row_px`; `vw` is the event's, else that of the session's latest
    /// pageview of the page at or before the event, else of its earliest.
    pub fn heatmap(&self, site: &str, filters: &Filters, opts: HeatmapOptions) -> Result<Heatmap> {
        crate::guard::guarded("reading a report (heatmap)", || {
            filters.check()?;
            if opts.cols == 0 || opts.row_px == 0 {
                return Err(Error::InvalidArgument(
                    "cols and row_px must be at least 1".into(),
                ));
            }
            let page = filters
                .page
                .clone()
                .ok_or_else(|| Error::InvalidArgument("a heatmap needs a page".into()))?;
            let kind = filters.kind.unwrap_or(EventKind::Click);
            if !matches!(kind, EventKind::Click | EventKind::Move) {
                return Err(Error::InvalidArgument(format!(
                    "a heatmap is of click or move events, not {kind}"
                )));
            }
            let mut out = Heatmap {
                cols: opts.cols,
                row_px: opts.row_px,
                ..Heatmap::default()
            };
            let Some(site) = site_or_empty(self, site)? else {
                return Ok(out);
            };
            let f = Filters {
                kind: Some(kind),
                ..filters.clone()
            };
            if super::heat::heat_agg_usable(&site, &f) {
                super::heat::heatmap(self, &site, &f, &page, kind, opts, &mut out)?;
                return Ok(out);
            }
            let mut cells: BTreeMap<(u32, u32), u64> = BTreeMap::new();
            let mut pending: Vec<(u64, i64, Pos, u64, u64)> = Vec::new();
            let mut pvs = InRangePageviews::default();
            let place = |cells: &mut BTreeMap<(u32, u32), u64>, x: u64, y: u64, vw: u64| {
                let c = (x.saturating_mul(u64::from(opts.cols)) / vw.max(1))
                    .min(u64::from(opts.cols) - 1) as u32;
                let r = (y / u64::from(opts.row_px)).min(u64::from(u32::MAX)) as u32;
                *cells.entry((r, c)).or_default() += 1;
            };
            // One scan: the events, and the page's pageviews for the viewport
            // fallback.
            let f = Filters { kind: None, ..f };
            scan(
                self,
                &site,
                &f,
                Some(&[kind, EventKind::Pageview]),
                &mut |ctx| {
                    let pageviews = ctx.kind_rows(EventKind::Pageview)?;
                    let rows: Vec<u32> = ctx.rows.iter().collect();
                    let xs = ctx.opt(col::X)?.values_of(rows.iter().copied());
                    let ys = ctx.opt(col::Y)?.values_of(rows.iter().copied());
                    let vws = ctx.opt(col::VW)?.values_of(rows.iter().copied());
                    let si = seg_index(ctx);
                    for (i, &r) in rows.iter().enumerate() {
                        if pageviews.contains(r) {
                            pvs.push(ctx, si, r, vws[i], None, None)?;
                            continue;
                        }
                        let (Some(x), Some(y)) = (xs[i], ys[i]) else {
                            continue;
                        };
                        match vws[i] {
                            Some(vw) => place(&mut cells, x, y, vw),
                            None => {
                                let ts = ctx.ts()?.get(r as usize).copied().unwrap_or_default();
                                let (s, _) = ctx.session_of(r)?;
                                pending.push((s, ts, (ctx.part.day, si, r), x, y));
                            }
                        }
                    }
                    Ok(())
                },
            )?;
            let found = pvs.resolve(self, &site, &page, pending.iter().map(|p| (p.0, p.1, p.2)))?;
            for ((_, _, _, x, y), pv) in pending.into_iter().zip(found) {
                match pv.and_then(|p| p.vw) {
                    Some(vw) => place(&mut cells, x, y, vw),
                    None => out.skipped += 1,
                }
            }
            out.total = cells.values().sum();
            out.cells = cells
                .into_iter()
                .map(|((row, col), count)| HeatmapCell { col, row, count })
                .collect();
            Ok(out)
        })
    }

    /// Clicks per element (selector), with the mean in-element position.
    pub fn elements(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<Elements> {
        crate::guard::guarded("reading a report (elements)", || {
            filters.check()?;
            let mut out = Elements::default();
            let Some(site) = site_or_empty(self, site)? else {
                return Ok(out);
            };
            let f = Filters {
                kind: Some(EventKind::Click),
                ..filters.clone()
            };
            // selector → (clicks, ex sum, ex n, ey sum, ey n)
            let mut acc: HashMap<String, (u64, u64, u64, u64, u64)> = HashMap::new();
            scan(self, &site, &f, None, &mut |ctx| {
                let sel = ctx.opt(col::SELECTOR)?;
                let ex = ctx.opt(col::EX)?;
                let ey = ctx.opt(col::EY)?;
                // Partition selector id → (clicks, ex sum, ex n, ey sum, ey n).
                let mut local: HashMap<u64, (u64, u64, u64, u64, u64)> = HashMap::new();
                for r in &ctx.rows {
                    let Some(s) = sel.get(r) else { continue };
                    let a = local.entry(s).or_default();
                    a.0 += 1;
                    if let Some(x) = ex.get(r) {
                        a.1 = a.1.saturating_add(x);
                        a.2 += 1;
                    }
                    if let Some(y) = ey.get(r) {
                        a.3 = a.3.saturating_add(y);
                        a.4 += 1;
                    }
                }
                for (id, a) in local {
                    let name = ctx.string(Dim::Selector, id)?;
                    if filters.selector.as_deref().is_some_and(|s| s != name) {
                        continue;
                    }
                    let t = match acc.get_mut(name) {
                        Some(t) => t,
                        None => acc.entry(name.to_owned()).or_default(),
                    };
                    t.0 += a.0;
                    t.1 = t.1.saturating_add(a.1);
                    t.2 = t.2.saturating_add(a.2);
                    t.3 = t.3.saturating_add(a.3);
                    t.4 += a.4;
                }
                Ok(())
            })?;
            let mean = |sum: u64, n: u64| (n > 0).then(|| sum as f64 / n as f64);
            out.rows = acc
                .into_iter()
                .map(|(selector, a)| Element {
                    selector,
                    clicks: a.0,
                    mean_ex: mean(a.1, a.2),
                    mean_ey: mean(a.3, a.4),
                })
                .collect();
            out.total = out.rows.iter().map(|r| r.clicks).sum();
            top(&mut out.rows, limit, |r| {
                (Reverse(r.clicks), r.selector.clone())
            });
            Ok(out)
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
        crate::guard::guarded("reading a report (rage clicks)", || {
            filters.check()?;
            let mut out = RageClicks::default();
            let Some(site) = site_or_empty(self, site)? else {
                return Ok(out);
            };
            let f = Filters {
                kind: Some(EventKind::Click),
                ..filters.clone()
            };
            // Clicks as flat records sorted once by (session, page, ts, pos):
            // pages and selectors are interned across partitions (their ids
            // are per partition), so no row allocates or hashes a string.
            let mut pages: HashMap<String, u32> = HashMap::new();
            let mut selectors: Vec<String> = Vec::new();
            let mut selector_ids: HashMap<String, u32> = HashMap::new();
            let mut clicks: Vec<RageClick> = Vec::new();
            scan(self, &site, &f, None, &mut |ctx| {
                let xs = ctx.opt(col::X)?;
                let ys = ctx.opt(col::Y)?;
                let sel = ctx.opt(col::SELECTOR)?;
                let ts = ctx.ts()?;
                let runs = ctx.runs()?;
                let page_ids = ctx.page_ids()?;
                let si = seg_index(ctx);
                // Partition ids → interned ids, for this segment.
                let mut page_map: HashMap<u32, u32> = HashMap::new();
                let mut sel_map: HashMap<u64, u32> = HashMap::new();
                let mut s = 0usize;
                for r in &ctx.rows {
                    let (Some(x), Some(y)) = (xs.get(r), ys.get(r)) else {
                        continue;
                    };
                    while runs.starts.get(s + 1).is_some_and(|&x| x <= r) {
                        s += 1;
                    }
                    let local = page_ids.get(r as usize).copied().unwrap_or(u32::MAX);
                    let page = match page_map.get(&local) {
                        Some(&p) => p,
                        None => {
                            let name = ctx.string(Dim::Page, u64::from(local))?;
                            let n = pages.len() as u32;
                            let p = *pages.entry(name.to_owned()).or_insert(n);
                            page_map.insert(local, p);
                            p
                        }
                    };
                    let selector = match sel.get(r) {
                        None => u32::MAX,
                        Some(id) => match sel_map.get(&id) {
                            Some(&g) => g,
                            None => {
                                let name = ctx.string(Dim::Selector, id)?;
                                let g = match selector_ids.get(name) {
                                    Some(&g) => g,
                                    None => {
                                        let g = selectors.len() as u32;
                                        selectors.push(name.to_owned());
                                        selector_ids.insert(name.to_owned(), g);
                                        g
                                    }
                                };
                                sel_map.insert(id, g);
                                g
                            }
                        },
                    };
                    clicks.push(RageClick {
                        session: runs.hashes.get(s).copied().unwrap_or_default(),
                        page,
                        ts: ts.get(r as usize).copied().unwrap_or_default(),
                        pos: (ctx.part.day, si, r),
                        x,
                        y,
                        selector,
                    });
                }
                Ok(())
            })?;
            clicks.sort_unstable_by_key(|c| (c.session, c.page, c.ts, c.pos));
            let mut sessions = HashSet::new();
            // Interned selector (u32::MAX: none) → (bursts, clicks).
            let mut per: HashMap<u32, (u64, u64)> = HashMap::new();
            for list in clicks.chunk_by(|a, b| (a.session, a.page) == (b.session, b.page)) {
                let mut i = 0;
                while let Some(first) = list.get(i) {
                    let n = list
                        .get(i + 1..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|c| {
                            c.ts - first.ts <= 1000
                                && c.x.abs_diff(first.x) <= 24
                                && c.y.abs_diff(first.y) <= 24
                        })
                        .count();
                    if n + 1 >= 3 {
                        out.bursts += 1;
                        sessions.insert(first.session);
                        let e = per.entry(first.selector).or_default();
                        e.0 += 1;
                        e.1 += (n + 1) as u64;
                        i += n + 1;
                    } else {
                        i += 1;
                    }
                }
            }
            // By name: a selector named `(none)` is one row with no selector.
            let mut by_name: HashMap<String, (u64, u64)> = HashMap::new();
            for (g, (b, c)) in per {
                let name = selectors
                    .get(g as usize)
                    .cloned()
                    .unwrap_or_else(|| "(none)".to_owned());
                let e = by_name.entry(name).or_default();
                e.0 += b;
                e.1 += c;
            }
            let per = by_name;
            out.sessions = sessions.len() as u64;
            out.rows = per
                .into_iter()
                .map(|(selector, (bursts, clicks))| RageBurst {
                    selector,
                    bursts,
                    clicks,
                })
                .collect();
            top(&mut out.rows, limit, |r| {
                (Reverse(r.bursts), r.selector.clone())
            });
            Ok(out)
        })
    }

    /// Scroll reach of `filters.page` in steps of `step` percent.
    ///
    /// Per session the deepest point reached over its scroll events on the
    /// page, `min(100, (scrollTop + vh) * 100 / dh)`, or the fold
    /// `vh * 100 / dh` of its first pageview of the page when it has none.
    pub fn scroll_reach(&self, site: &str, filters: &Filters, step: u32) -> Result<ScrollReach> {
        crate::guard::guarded("reading a report (scroll reach)", || {
            filters.check()?;
            if step == 0 || step > 100 {
                return Err(Error::InvalidArgument("step must be in 1..=100".into()));
            }
            let page = filters
                .page
                .clone()
                .ok_or_else(|| Error::InvalidArgument("scroll reach needs a page".into()))?;
            let mut out = ScrollReach::default();
            let Some(site) = site_or_empty(self, site)? else {
                return Ok(out);
            };
            let f = Filters {
                kind: None,
                ..filters.clone()
            };
            let depth = |y: u64, vh: u64, dh: u64| {
                (y.saturating_add(vh).saturating_mul(100) / dh.max(1)).min(100) as u32
            };
            // session → (deepest scroll, first pageview (ts,pos,fold))
            let mut deepest: HashMap<u64, u32> = HashMap::new();
            let mut first_pv: HashMap<u64, (i64, Pos, u32)> = HashMap::new();
            let mut pending: Vec<(u64, i64, Pos, u64)> = Vec::new();
            let kinds = match filters.kind {
                Some(k @ (EventKind::Pageview | EventKind::Scroll)) => vec![k],
                Some(_) => return Ok(out),
                None => vec![EventKind::Pageview, EventKind::Scroll],
            };
            scan(self, &site, &f, Some(&kinds), &mut |ctx| {
                let rows: Vec<u32> = ctx.rows.iter().collect();
                let scrolls = ctx.kind_rows(EventKind::Scroll)?;
                let ys = ctx.opt(col::Y)?.values_of(rows.iter().copied());
                let vhs = ctx.opt(col::VH)?.values_of(rows.iter().copied());
                let dhs = ctx.opt(col::DH)?.values_of(rows.iter().copied());
                let ts = ctx.ts()?;
                let si = seg_index(ctx);
                for (i, &r) in rows.iter().enumerate() {
                    let (s, _) = ctx.session_of(r)?;
                    let t = ts.get(r as usize).copied().unwrap_or_default();
                    let pos = (ctx.part.day, si, r);
                    if scrolls.contains(r) {
                        let Some(y) = ys[i] else { continue };
                        match (vhs[i], dhs[i]) {
                            (Some(vh), Some(dh)) => {
                                let d = depth(y, vh, dh);
                                let e = deepest.entry(s).or_default();
                                *e = (*e).max(d);
                            }
                            _ => pending.push((s, t, pos, y)),
                        }
                    } else if let (Some(vh), Some(dh)) = (vhs[i], dhs[i]) {
                        let fold = depth(0, vh, dh);
                        let e = first_pv.entry(s).or_insert((t, pos, fold));
                        if (t, pos) < (e.0, e.1) {
                            *e = (t, pos, fold);
                        }
                    }
                }
                Ok(())
            })?;
            if !pending.is_empty() {
                let sessions: HashSet<u64> = pending.iter().map(|p| p.0).collect();
                let pvs = session_pageviews(self, &site, &sessions, &page)?;
                for (s, ts, pos, y) in pending {
                    if let Some(pv) = pageview_for(pvs.get(&s), ts, pos) {
                        if let (Some(vh), Some(dh)) = (pv.vh, pv.dh) {
                            let e = deepest.entry(s).or_default();
                            *e = (*e).max(depth(y, vh, dh));
                        }
                    }
                }
            }
            let mut reach: HashMap<u64, u32> = first_pv
                .into_iter()
                .map(|(s, (_, _, fold))| (s, fold))
                .collect();
            for (s, d) in deepest {
                reach.insert(s, d);
            }
            out.sessions = reach.len() as u64;
            out.steps = (0..=100)
                .step_by(step as usize)
                .map(|d| ScrollStep {
                    depth: d,
                    sessions: reach.values().filter(|&&r| r >= d).count() as u64,
                })
                .collect();
            Ok(out)
        })
    }

    /// Pageviews, unique visitors, entries and mean load time per page.
    pub fn pages(&self, site: &str, filters: &Filters, limit: Option<usize>) -> Result<Pages> {
        crate::guard::guarded("reading a report (pages)", || {
            filters.check()?;
            let mut out = Pages::default();
            let Some(site_ref) = site_or_empty(self, site)? else {
                return Ok(out);
            };
            // Whole days come from the partitions' pageview aggregates when the
            // filters allow; the other partitions are scanned.
            let use_agg = pv_agg_usable(&site_ref, filters, true);
            let ids = self.cache.dense_ids(site_ref.id);
            let mut aggs: Vec<(Arc<PvAgg>, Cover)> = Vec::new();
            // page's number → (pageviews, load sum, load n, scanned visitors)
            let mut acc: HashMap<u32, (u64, u64, u64, Vec<u64>)> = HashMap::new();
            let want = filters.page.as_deref().map(|w| ids.name_id(w));
            let mut all_raw: Vec<u64> = Vec::new();
            let (lo, hi) = day_span(filters.from, filters.to);
            for (day, meta) in self.partitions(site_ref.id, lo, hi)? {
                let part = self.partition_view(site_ref.id, day, &meta)?;
                let c = cover(filters, day);
                if use_agg && !matches!(c, Cover::Partial) {
                    let agg = pv_agg(self, &part, &ids)?;
                    if agg.exact {
                        let pages = agg.select(filters).flat_map(|co| &co.pages);
                        for p in pages {
                            if want.is_some_and(|w| w != p.id) {
                                continue;
                            }
                            let (n, load_sum, load_n) = match &c {
                                Cover::Hours(hs) => p.cells(hs).fold((0, 0u64, 0u64), |a, h| {
                                    (
                                        a.0 + h.pageviews,
                                        a.1.saturating_add(h.load_sum),
                                        a.2.saturating_add(h.load_n),
                                    )
                                }),
                                _ => (p.pageviews, p.load_sum, p.load_n),
                            };
                            if n == 0 {
                                continue;
                            }
                            let t = acc.entry(p.id).or_default();
                            t.0 += n;
                            t.1 = t.1.saturating_add(load_sum);
                            t.2 = t.2.saturating_add(load_n);
                        }
                        aggs.push((agg, c));
                        continue;
                    }
                }
                scan_partition(
                    self,
                    &site_ref,
                    &part,
                    filters,
                    Some(&[EventKind::Pageview]),
                    &mut |ctx| {
                        let loads = ctx.opt(col::LOAD_MS)?;
                        let pages = ctx.page_ids()?;
                        let runs = ctx.runs()?;
                        // page id → (pageviews, load sum, load n, visitors)
                        let mut local: HashMap<u32, (u64, u64, u64, Vec<u64>)> = HashMap::new();
                        let mut si = 0usize;
                        for r in &ctx.rows {
                            while runs.starts.get(si + 1).is_some_and(|&s| s <= r) {
                                si += 1;
                            }
                            let v = runs.visitors.get(si).copied().unwrap_or_default();
                            let p = pages.get(r as usize).copied().unwrap_or(u32::MAX);
                            let a = local.entry(p).or_default();
                            a.0 += 1;
                            a.3.push(v);
                            if let Some(l) = loads.get(r) {
                                a.1 = a.1.saturating_add(l);
                                a.2 += 1;
                            }
                        }
                        for (p, a) in local {
                            let name = ctx.string(Dim::Page, u64::from(p))?;
                            let t = acc.entry(ids.name_id(name)).or_default();
                            t.0 += a.0;
                            t.1 = t.1.saturating_add(a.1);
                            t.2 = t.2.saturating_add(a.2);
                            all_raw.extend_from_slice(&a.3);
                            t.3.extend(a.3);
                        }
                        Ok(())
                    },
                )?;
            }
            let mut entries = self.entry_counts(site, filters)?;
            // Rows, with their page's number when it has pageviews.
            let mut rows: Vec<(PageRow, Option<u32>)> = acc
                .iter()
                .map(|(&id, a)| {
                    let page = ids.name(id).to_string();
                    let row = PageRow {
                        entries: entries.remove(&page).unwrap_or(0),
                        pageviews: a.0,
                        visitors: 0,
                        mean_load_ms: (a.2 > 0).then(|| a.1 as f64 / a.2 as f64),
                        page,
                    };
                    (row, Some(id))
                })
                .collect();
            rows.extend(entries.into_iter().map(|(page, n)| {
                let row = PageRow {
                    entries: n,
                    pageviews: 0,
                    visitors: 0,
                    mean_load_ms: None,
                    page,
                };
                (row, None)
            }));
            out.pageviews = rows.iter().map(|r| r.0.pageviews).sum();
            top(&mut rows, limit, |r| {
                (Reverse(r.0.pageviews), r.0.page.clone())
            });
            // Distinct visitors only of the pages kept.
            for (row, id) in &mut rows {
                let Some(id) = *id else { continue };
                let mut v = Visitors::default();
                if let Some(a) = acc.get_mut(&id) {
                    v.raw = std::mem::take(&mut a.3);
                }
                page_visitors(&aggs, filters, &mut v, id);
                row.visitors = v.len(&ids);
            }
            out.rows = rows.into_iter().map(|r| r.0).collect();
            let mut all = Visitors {
                raw: all_raw,
                ..Visitors::default()
            };
            match want {
                Some(w) => page_visitors(&aggs, filters, &mut all, w),
                None => {
                    for (agg, c) in &aggs {
                        for co in agg.select(filters) {
                            match c {
                                Cover::Hours(hs) => {
                                    let hours = co.hours.iter().zip(hs).filter(|(_, on)| **on);
                                    all.lists.extend(hours.map(|((_, bm), _)| bm));
                                }
                                _ => all.lists.push(&co.visitors),
                            }
                        }
                    }
                }
            }
            out.visitors = all.len(&ids);
            Ok(out)
        })
    }

    /// Pageviews, sessions and unique visitors per hour or UTC day.
    pub fn series(&self, site: &str, filters: &Filters, interval: Interval) -> Result<Series> {
        crate::guard::guarded("reading a report (series)", || {
            filters.check()?;
            let mut out = Series {
                interval,
                rows: Vec::new(),
            };
            let ms = interval.ms();
            let bucket = |t: i64| t.div_euclid(ms) * ms;
            if let (Some(from), Some(to)) = (filters.from, filters.to) {
                if to > from {
                    super::series_buckets(bucket(from), bucket(to - 1), interval)?;
                }
            }
            let site_ref = site_or_empty(self, site)?;
            let ids = match &site_ref {
                Some(s) => self.cache.dense_ids(s.id),
                None => Arc::new(DenseIds::detached()),
            };
            let mut aggs: Vec<(i32, Arc<PvAgg>, Cover)> = Vec::new();
            let mut acc: BTreeMap<i64, Bucket<'_>> = BTreeMap::new();
            if let Some(site_ref) = &site_ref {
                self.series_acc(site_ref, filters, &ids, &bucket, &mut acc, &mut aggs)?;
                self.series_sessions(site_ref, filters, &ids, &bucket, &mut acc)?;
            }
            // Visitor arrays of the aggregated partitions, per bucket.
            let cohorts = aggs
                .iter()
                .flat_map(|(day, agg, c)| agg.select(filters).map(move |co| (*day, co, c)));
            for (day, agg, c) in cohorts {
                let start = day_start(day);
                match c {
                    // Only buckets with pageviews: a bucket made here would
                    // widen an open-ended series.
                    Cover::Day if interval == Interval::Day => {
                        if !agg.visitors.is_empty() {
                            acc.entry(start)
                                .or_default()
                                .visitors
                                .lists
                                .push(&agg.visitors);
                        }
                    }
                    _ => {
                        for (h, (_, v)) in agg.hours.iter().enumerate() {
                            if v.is_empty() {
                                continue;
                            }
                            if let Cover::Hours(hs) = c {
                                if !hs.get(h).copied().unwrap_or(false) {
                                    continue;
                                }
                            }
                            let b = bucket(start + h as i64 * crate::storage::HOUR_MS);
                            acc.entry(b).or_default().visitors.lists.push(v);
                        }
                    }
                }
            }
            let lo = filters
                .from
                .map(bucket)
                .or_else(|| acc.keys().next().copied());
            let hi = filters
                .to
                .map(|t| bucket(t - 1))
                .or_else(|| acc.keys().last().copied());
            if let (Some(lo), Some(hi)) = (lo, hi) {
                let n = super::series_buckets(lo, hi, interval)?;
                out.rows.reserve(usize::try_from(n).unwrap_or(0));
                let mut t = lo;
                while t <= hi {
                    let a = acc.remove(&t).unwrap_or_default();
                    out.rows.push(SeriesRow {
                        ts: t,
                        pageviews: a.pageviews,
                        sessions: a.sessions,
                        visitors: a.visitors.len(&ids),
                    });
                    t += ms;
                }
            }
            Ok(out)
        })
    }

    fn series_acc(
        &self,
        site: &SiteRef,
        filters: &Filters,
        ids: &DenseIds,
        bucket: &dyn Fn(i64) -> i64,
        acc: &mut BTreeMap<i64, Bucket<'_>>,
        aggs: &mut Vec<(i32, Arc<PvAgg>, Cover)>,
    ) -> Result<()> {
        let use_agg = pv_agg_usable(site, filters, false);
        let (lo, hi) = day_span(filters.from, filters.to);
        for (day, meta) in self.partitions(site.id, lo, hi)? {
            let part = self.partition_view(site.id, day, &meta)?;
            if use_agg {
                let c = cover(filters, day);
                if !matches!(c, Cover::Partial) {
                    let agg = pv_agg(self, &part, ids)?;
                    if agg.exact {
                        let start = day_start(day);
                        let hours = agg
                            .select(filters)
                            .flat_map(|co| co.hours.iter().enumerate());
                        for (h, (n, _)) in hours {
                            if let Cover::Hours(hs) = &c {
                                if !hs.get(h).copied().unwrap_or(false) {
                                    continue;
                                }
                            }
                            if *n > 0 {
                                let b = bucket(start + h as i64 * crate::storage::HOUR_MS);
                                acc.entry(b).or_default().pageviews += n;
                            }
                        }
                        aggs.push((day, agg, c));
                        continue;
                    }
                }
            }
            scan_partition(
                self,
                site,
                &part,
                filters,
                Some(&[EventKind::Pageview]),
                &mut |ctx| {
                    let ts = ctx.ts()?;
                    let runs = ctx.runs()?;
                    let mut si = 0usize;
                    for r in &ctx.rows {
                        while runs.starts.get(si + 1).is_some_and(|&s| s <= r) {
                            si += 1;
                        }
                        let v = runs.visitors.get(si).copied().unwrap_or_default();
                        let t = ts.get(r as usize).copied().unwrap_or_default();
                        let a = acc.entry(bucket(t)).or_default();
                        a.pageviews += 1;
                        a.visitors.raw.push(v);
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }
}

/// Adds a page's visitors on the aggregated days: a bitmap per whole day,
/// the hours' cells' numbers on days covered by whole hours.
fn page_visitors<'a>(
    aggs: &'a [(Arc<PvAgg>, Cover)],
    filters: &'a Filters,
    v: &mut Visitors<'a>,
    page: u32,
) {
    for (agg, c) in aggs {
        for co in agg.select(filters) {
            let Some(p) = co.page(page) else {
                continue;
            };
            match c {
                Cover::Hours(hs) => {
                    for cell in p.cells(hs) {
                        v.ids.extend_from_slice(&cell.visitors);
                    }
                }
                _ => v.lists.push(&p.visitors),
            }
        }
    }
}

/// One bucket of a series being summed.
#[derive(Default)]
pub(crate) struct Bucket<'a> {
    pub pageviews: u64,
    pub sessions: u64,
    pub visitors: Visitors<'a>,
}
