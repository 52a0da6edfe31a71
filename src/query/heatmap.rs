//! Click and move heatmaps of a page: each event in column
//! `min(cols-1, x*cols/vw)` and row `y/row_px`, from per-partition
//! aggregates where the filters allow (below) and by scanning elsewhere.

use super::agg::{
    aggregates_answer, cover, row_devices, select_cohorts, Answers, Cover, NO_DEVICE,
};
use super::scan::{scan, scan_partition, SegCtx};
use super::viewport::*;
use super::{Filters, HeatmapOptions};
use crate::error::{Error, Result};
use crate::normalize::DeviceClass;
use crate::read::{PartitionView, SiteRef, View};
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::storage::tombstones::Hidden;
use crate::storage::{day_start, DAY_MS, HOUR_MS};
use crate::time::day_span;
use crate::EventKind;
use foldhash::{HashMap, HashMapExt};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// session's pageview of the page (a pageview without a viewport, as
    /// imported from a server log, or no pageview of the page at all).
    pub skipped: u64,
    /// Columns of the grid.
    pub cols: u32,
    /// Row height in px.
    pub row_px: u32,
}

impl View {
    /// The click (or move, with `filters.kind = Some(Move)`) heatmap of
    /// `filters.page`.
    ///
    /// Each event lands in column `min(cols-1, x*cols/vw)` and row
    /// `y/row_px`; `vw` is the event's, else that of the session's latest
    /// pageview of the page at or before the event, else of its earliest.
    pub(crate) fn heatmap(
        &self,
        site: &str,
        filters: &Filters,
        opts: HeatmapOptions,
    ) -> Result<Heatmap> {
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
        if heat_agg_usable(&site, &f) {
            heatmap(self, &site, &f, &page, kind, opts, &mut out)?;
            return Ok(out);
        }
        let mut cells: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        let mut pending: Vec<(u64, i64, Pos, u64, u64)> = Vec::new();
        let mut pvs = InRangePageviews::default();
        let place = |cells: &mut BTreeMap<(u32, u32), u64>, x: u64, y: u64, vw: u64| {
            let c = cell(x, y, vw, opts);
            *cells.entry(((c >> 32) as u32, c as u32)).or_default() += 1;
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
    }
}

// ------------------------------------------------------ from aggregates
// Heatmaps from per-partition aggregates.
//
// Two items per partition, computed on first use and kept in the cache of
// decoded data like those of [`super::agg`] (keyed by partition version,
// so never stale; nothing persistent):
//
// - [`PagePvs`]: the partition's pageviews of one page, by session, with
//   their viewport. An event without its own viewport width takes that of
//   its session's latest pageview of the page at or before it, else of
//   the earliest: when the partition holds such a pageview at or before
//   the event, it is the answer (any other is older); otherwise the
//   session's other days are looked up, through their own [`PagePvs`].
// - [`HeatAgg`]: for one page, event kind and grid (`cols`, `row_px`),
//   the cells of the partition's events per cohort (device class and
//   channel, as in the pageview aggregate) and hour, the events whose
//   pageview had no viewport (skipped), and the events whose pageview is
//   in another partition, kept unresolved and resolved at query time.
//
// A heatmap reads the aggregate of every partition its range covers whole
// or by whole hours, when no deletion request of the site is pending and
// no browser, OS or referrer filter is set; it scans the other partitions.

/// No value (optional columns never hold `u32::MAX`).
const NONE: u32 = u32::MAX;

/// One pageview of a page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PagePv {
    pub session: u64,
    pub ts: i64,
    /// Segment index in the partition and row: with `ts`, the order of a
    /// session's rows.
    pub seg: u32,
    pub row: u32,
    vw: u32,
}

fn opt(v: u32) -> Option<u64> {
    (v != NONE).then_some(u64::from(v))
}

impl PagePv {
    pub(super) fn vw(&self) -> Option<u64> {
        opt(self.vw)
    }
    fn order(&self) -> (i64, u32, u32) {
        (self.ts, self.seg, self.row)
    }
}

/// The pageviews of one page in one partition, by (session, ts, segment,
/// row).
pub(crate) struct PagePvs {
    list: Vec<PagePv>,
}

impl PagePvs {
    /// The session's pageviews, in order.
    pub(super) fn of(&self, session: u64) -> &[PagePv] {
        let a = self.list.partition_point(|p| p.session < session);
        let b = a + self
            .list
            .get(a..)
            .unwrap_or_default()
            .partition_point(|p| p.session == session);
        self.list.get(a..b).unwrap_or_default()
    }

    /// The session's latest pageview at or before `(ts, seg, row)`.
    pub(super) fn at_or_before(&self, session: u64, at: (i64, u32, u32)) -> Option<&PagePv> {
        let v = self.of(session);
        let n = v.partition_point(|p| p.order() <= at);
        n.checked_sub(1).and_then(|i| v.get(i))
    }
}

/// The partition's pageviews of the page `page_id` (every row, bots too:
/// the viewport fallback looks at the session's pageviews whatever the
/// filters; used only while no deletion request hides rows).
pub(crate) fn page_pvs(snap: &View, part: &PartitionView, page_id: u32) -> Result<Arc<PagePvs>> {
    let key = crate::cache::Key::PagePvs {
        part: part.key(),
        page: page_id,
    };
    snap.cache.get_or_try(key, || {
        let mut list = Vec::new();
        for (si, seg) in part.segments.iter().enumerate() {
            let ctx = SegCtx::new(snap, part, seg);
            let rows = ctx.kind_page_rows(EventKind::Pageview, page_id)?;
            if rows.is_empty() {
                continue;
            }
            let runs = ctx.runs()?;
            let ts = ctx.ts()?;
            let vw = ctx.opt(col::VW)?;
            let mut s = 0usize;
            for r in &rows {
                while runs.starts.get(s + 1).is_some_and(|&x| x <= r) {
                    s += 1;
                }
                list.push(PagePv {
                    session: runs.hashes.get(s).copied().unwrap_or_default(),
                    ts: ts.get(r as usize).copied().unwrap_or_default(),
                    seg: si as u32,
                    row: r,
                    vw: vw.get(r).map_or(NONE, |v| v as u32),
                });
            }
        }
        list.sort_unstable_by_key(|p| (p.session, p.order()));
        let size = list.len() * std::mem::size_of::<PagePv>() + 64;
        Ok((PagePvs { list }, size))
    })
}

/// An event whose pageview is in another partition (or nowhere).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unresolved {
    pub session: u64,
    pub x: u32,
    pub y: u32,
    /// Hour of the day.
    pub hour: u8,
}

/// (cell, events): the cell is `row << 32 | col`, so cells sort by
/// (row, col).
pub(crate) type Cells = Vec<(u64, u64)>;

/// The events of one cohort of one partition.
pub(crate) struct HeatCohort {
    pub device: u8,
    /// Channel as the per-session attribute codes hold it (code + 1).
    pub channel: u64,
    /// Cells of the day.
    pub day: Cells,
    /// Cells per hour of the day.
    pub hours: Vec<Cells>,
    /// Per hour: events whose pageview has no viewport width.
    pub skipped: [u64; 24],
    pub unresolved: Vec<Unresolved>,
}

/// A partition's events of one page and kind on one grid.
pub(crate) struct HeatAgg {
    /// Every row's time is on the partition's day (else it is not used).
    pub exact: bool,
    pub cohorts: Vec<HeatCohort>,
    /// Every cohort but bots merged.
    pub nonbot: HeatCohort,
}

impl HeatAgg {
    fn select<'a>(&'a self, f: &'a Filters) -> Box<dyn Iterator<Item = &'a HeatCohort> + 'a> {
        select_cohorts(f, &self.nonbot, &self.cohorts, |c| (c.device, c.channel, c))
    }
}

/// The cell an event lands in, as `row << 32 | col` (so cells sort by row,
/// then column): column `min(cols - 1, x * cols / vw)`, row `y / row_px`.
/// The one place the formula is written, for scans and aggregates alike.
fn cell(x: u64, y: u64, vw: u64, opts: HeatmapOptions) -> u64 {
    let c = (x.saturating_mul(u64::from(opts.cols)) / vw.max(1)).min(u64::from(opts.cols) - 1);
    let r = (y / u64::from(opts.row_px)).min(u64::from(u32::MAX));
    r << 32 | c
}

/// Sorts cells and sums repeats.
fn coalesce(mut v: Vec<(u64, u64)>) -> Cells {
    v.sort_unstable_by_key(|c| c.0);
    let mut out: Cells = Vec::with_capacity(v.len() / 2 + 1);
    for (c, n) in v {
        match out.last_mut() {
            Some(last) if last.0 == c => last.1 += n,
            _ => out.push((c, n)),
        }
    }
    out.shrink_to_fit();
    out
}

/// One cohort being summed: (hour, cell) per placed event.
#[derive(Default)]
struct CohortAcc {
    placed: Vec<(u8, u64)>,
    skipped: [u64; 24],
    unresolved: Vec<Unresolved>,
}

impl CohortAcc {
    fn finish(mut self, device: u8, channel: u64, size: &mut usize) -> HeatCohort {
        self.placed.sort_unstable();
        let mut hours: Vec<Cells> = vec![Vec::new(); 24];
        for &(h, c) in &self.placed {
            if let Some(list) = hours.get_mut(usize::from(h)) {
                match list.last_mut() {
                    Some(last) if last.0 == c => last.1 += 1,
                    _ => list.push((c, 1)),
                }
            }
        }
        for h in &mut hours {
            h.shrink_to_fit();
        }
        let day = coalesce(hours.iter().flatten().copied().collect());
        *size += (day.len() + hours.iter().map(Vec::len).sum::<usize>()) * 16
            + self.unresolved.len() * std::mem::size_of::<Unresolved>()
            + 24 * 32
            + 256;
        HeatCohort {
            device,
            channel,
            day,
            hours,
            skipped: self.skipped,
            unresolved: self.unresolved,
        }
    }
}

/// The heat aggregate of a partition, computed on first use.
fn heat_agg(
    snap: &View,
    hidden: &Hidden,
    part: &PartitionView,
    page_id: u32,
    kind: EventKind,
    opts: HeatmapOptions,
) -> Result<Arc<HeatAgg>> {
    let hidden_key = hidden.key_on(part.day);
    let key = crate::cache::Key::Heat {
        part: part.key(),
        page: page_id,
        kind: kind.code(),
        cols: opts.cols,
        row_px: opts.row_px,
        hidden: hidden_key,
    };
    snap.cache.get_or_try(key, || {
        let pvs = page_pvs(snap, part, page_id)?;
        let start = day_start(part.day);
        let mut exact = true;
        let mut acc: HashMap<(u8, u64), CohortAcc> = HashMap::new();
        let mut nonbot = CohortAcc::default();
        for (si, seg) in part.segments.iter().enumerate() {
            let ctx = SegCtx::new(snap, part, seg);
            let mut rows = ctx.kind_page_rows(kind, page_id)?;
            if hidden_key != 0 && !rows.is_empty() {
                rows = super::scan::hide(&ctx, hidden, rows)?;
            }
            if rows.is_empty() {
                continue;
            }
            let runs = ctx.runs()?;
            let codes = ctx.session_attrs()?;
            let ts = ctx.ts()?;
            let (xs, ys, vws) = (ctx.opt(col::X)?, ctx.opt(col::Y)?, ctx.opt(col::VW)?);
            let device = row_devices(&ctx)?;
            let mut s = 0usize;
            for r in &rows {
                while runs.starts.get(s + 1).is_some_and(|&x| x <= r) {
                    s += 1;
                }
                let t = ts.get(r as usize).copied().unwrap_or_default();
                let off = t - start;
                if !(0..DAY_MS).contains(&off) {
                    exact = false;
                    continue;
                }
                let (Some(x), Some(y)) = (xs.get(r), ys.get(r)) else {
                    continue;
                };
                let hour = (off / HOUR_MS) as u8;
                let session = runs.hashes.get(s).copied().unwrap_or_default();
                let d = device.get(r as usize).copied().unwrap_or(NO_DEVICE);
                let channel = codes.get(s).map_or(0, |c| c[3]);
                let vw = match vws.get(r) {
                    Some(vw) => Some(vw),
                    None => match pvs.at_or_before(session, (t, si as u32, r)) {
                        Some(pv) => pv.vw(),
                        None => {
                            let u = Unresolved {
                                session,
                                x: x as u32,
                                y: y as u32,
                                hour,
                            };
                            acc.entry((d, channel)).or_default().unresolved.push(u);
                            if d != DeviceClass::Bot.code() {
                                nonbot.unresolved.push(u);
                            }
                            continue;
                        }
                    },
                };
                let c = acc.entry((d, channel)).or_default();
                match vw {
                    Some(vw) => {
                        let cell = cell(x, y, vw, opts);
                        c.placed.push((hour, cell));
                        if d != DeviceClass::Bot.code() {
                            nonbot.placed.push((hour, cell));
                        }
                    }
                    None => {
                        if let Some(n) = c.skipped.get_mut(usize::from(hour)) {
                            *n += 1;
                        }
                        if d != DeviceClass::Bot.code() {
                            if let Some(n) = nonbot.skipped.get_mut(usize::from(hour)) {
                                *n += 1;
                            }
                        }
                    }
                }
            }
        }
        let mut size = 256;
        let cohorts = acc
            .into_iter()
            .map(|((d, ch), a)| a.finish(d, ch, &mut size))
            .collect();
        let nonbot = nonbot.finish(NO_DEVICE, u64::MAX, &mut size);
        Ok((
            HeatAgg {
                exact,
                cohorts,
                nonbot,
            },
            size,
        ))
    })
}

/// Whether heat aggregates answer these filters exactly (on partitions
/// their range covers whole or by whole hours). The heatmap has no
/// selector filter; device and channel are the aggregates' cohorts.
pub(crate) fn heat_agg_usable(site: &SiteRef, f: &Filters) -> bool {
    // Page and kind select the aggregate; a selector does not filter
    // heatmaps.
    let all = Answers {
        page: true,
        kind: true,
        selector: true,
    };
    aggregates_answer(site, f, all)
}

/// An event waiting for its session's pageview in another partition.
struct Pending {
    session: u64,
    day: i32,
    x: u64,
    y: u64,
}

/// The heatmap of `page` and `kind` from aggregates and scans; `f` has
/// the kind set. Only when [`heat_agg_usable`].
pub(crate) fn heatmap(
    snap: &View,
    site: &SiteRef,
    f: &Filters,
    page: &str,
    kind: EventKind,
    opts: HeatmapOptions,
    out: &mut Heatmap,
) -> Result<()> {
    let mut aggs: Vec<(Arc<HeatAgg>, Cover)> = Vec::new();
    // Cells of scanned events, one entry per event.
    let mut loose: Vec<(u64, u64)> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let (lo, hi) = day_span(f.from, f.to);
    for (day, meta) in snap.partitions(site.id, lo, hi)? {
        let part = snap.partition_view(site.id, day, &meta)?;
        let Some(page_id) = part.dicts.dict(Dim::Page).and_then(|d| d.id(page)) else {
            continue;
        };
        let c = cover(f, day);
        if !matches!(c, Cover::Partial) {
            let agg = heat_agg(snap, &site.hidden, &part, page_id, kind, opts)?;
            if agg.exact {
                for co in agg.select(f) {
                    let hour_in = |h: usize| match &c {
                        Cover::Hours(hs) => hs.get(h).copied().unwrap_or(false),
                        _ => true,
                    };
                    for (h, n) in co.skipped.iter().enumerate() {
                        if hour_in(h) {
                            out.skipped += n;
                        }
                    }
                    for u in &co.unresolved {
                        if hour_in(usize::from(u.hour)) {
                            pending.push(Pending {
                                session: u.session,
                                day,
                                x: u64::from(u.x),
                                y: u64::from(u.y),
                            });
                        }
                    }
                }
                aggs.push((agg, c));
                continue;
            }
        }
        let pvs = page_pvs(snap, &part, page_id)?;
        scan_partition(snap, site, &part, f, None, &mut |ctx| {
            let si = ctx
                .part
                .segments
                .iter()
                .position(|s| std::ptr::eq(s, ctx.seg))
                .unwrap_or(usize::MAX) as u32;
            let runs = ctx.runs()?;
            let ts = ctx.ts()?;
            let (xs, ys, vws) = (ctx.opt(col::X)?, ctx.opt(col::Y)?, ctx.opt(col::VW)?);
            let mut s = 0usize;
            for r in &ctx.rows {
                let (Some(x), Some(y)) = (xs.get(r), ys.get(r)) else {
                    continue;
                };
                if let Some(vw) = vws.get(r) {
                    loose.push((cell(x, y, vw, opts), 1));
                    continue;
                }
                while runs.starts.get(s + 1).is_some_and(|&x| x <= r) {
                    s += 1;
                }
                let session = runs.hashes.get(s).copied().unwrap_or_default();
                let at = (ts.get(r as usize).copied().unwrap_or_default(), si, r);
                match pvs.at_or_before(session, at) {
                    Some(pv) => match pv.vw() {
                        Some(vw) => loose.push((cell(x, y, vw, opts), 1)),
                        None => out.skipped += 1,
                    },
                    None => pending.push(Pending {
                        session,
                        day: ctx.part.day,
                        x,
                        y,
                    }),
                }
            }
            Ok(())
        })?;
    }
    resolve(snap, site, page, &pending, &mut |p, vw| match vw {
        Some(vw) => loose.push((cell(p.x, p.y, vw, opts), 1)),
        None => out.skipped += 1,
    })?;
    let loose = coalesce(loose);
    let mut lists: Vec<&[(u64, u64)]> = vec![&loose];
    for (agg, c) in &aggs {
        for co in agg.select(f) {
            match c {
                Cover::Hours(hs) => {
                    for (h, list) in co.hours.iter().enumerate() {
                        if hs.get(h).copied().unwrap_or(false) {
                            lists.push(list);
                        }
                    }
                }
                _ => lists.push(&co.day),
            }
        }
    }
    out.cells = merge(&lists, opts.cols);
    out.total = out.cells.iter().map(|c| c.count).sum();
    Ok(())
}

/// The viewport width each pending event takes: that of its session's
/// latest pageview of the page before the event's day (the event's own
/// partition has none at or before it), else of its earliest one. `place`
/// gets `None` when there is no such pageview or it has no width.
fn resolve(
    snap: &View,
    site: &SiteRef,
    page: &str,
    pending: &[Pending],
    place: &mut dyn FnMut(&Pending, Option<u64>),
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    use std::collections::hash_map::Entry;
    let mut by_day: HashMap<i32, Option<Arc<PagePvs>>> = HashMap::new();
    let mut days_of: HashMap<u64, Vec<i32>> = HashMap::new();
    for p in pending {
        let days = match days_of.entry(p.session) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(
                snap.session_row(site.id, p.session)?
                    .map(|r| r.days)
                    .unwrap_or_default(),
            ),
        };
        for &d in days.iter() {
            if let Entry::Vacant(e) = by_day.entry(d) {
                e.insert(day_pvs(snap, site, page, d)?);
            }
        }
        let days: &[i32] = days;
        let of = |d: &i32| -> &[PagePv] {
            by_day
                .get(d)
                .and_then(|x| x.as_deref())
                .map_or(&[], |pvs| pvs.of(p.session))
        };
        let before = days
            .iter()
            .rev()
            .filter(|&&d| d < p.day)
            .find_map(|d| of(d).last());
        let pv = before.or_else(|| days.iter().find_map(|d| of(d).first()));
        place(p, pv.and_then(PagePv::vw));
    }
    Ok(())
}

/// The page's pageviews on one day of the site, if any.
fn day_pvs(snap: &View, site: &SiteRef, page: &str, day: i32) -> Result<Option<Arc<PagePvs>>> {
    let Some((_, meta)) = snap.partitions(site.id, day, day)?.into_iter().next() else {
        return Ok(None);
    };
    let part = snap.partition_view(site.id, day, &meta)?;
    match part.dicts.dict(Dim::Page).and_then(|x| x.id(page)) {
        Some(id) => Ok(Some(page_pvs(snap, &part, id)?)),
        None => Ok(None),
    }
}

/// Sums sorted cell lists into the result's cells, by (row, col).
fn merge(lists: &[&[(u64, u64)]], cols: u32) -> Vec<HeatmapCell> {
    let entries: usize = lists.iter().map(|l| l.len()).sum();
    let max_row = lists
        .iter()
        .filter_map(|l| l.last())
        .map(|c| c.0 >> 32)
        .max();
    let Some(max_row) = max_row else {
        return Vec::new();
    };
    let out_cell = |c: u64, count: u64| HeatmapCell {
        col: (c & 0xffff_ffff) as u32,
        row: (c >> 32) as u32,
        count,
    };
    let cols = u64::from(cols);
    let grid = (max_row + 1).saturating_mul(cols);
    // A dense grid when it is small next to the entries: one add per
    // entry; else a sort of every entry.
    if grid <= (entries as u64).saturating_mul(8).max(1 << 16) {
        let mut dense = vec![0u64; grid as usize];
        for l in lists {
            for &(c, n) in *l {
                let i = (c >> 32) * cols + (c & 0xffff_ffff);
                if let Some(slot) = dense.get_mut(i as usize) {
                    *slot += n;
                }
            }
        }
        dense
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| {
                let i = i as u64;
                out_cell((i / cols) << 32 | (i % cols), n)
            })
            .collect()
    } else {
        coalesce(lists.concat())
            .into_iter()
            .map(|(c, n)| out_cell(c, n))
            .collect()
    }
}
