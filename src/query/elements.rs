//! The element heatmap: clicks per selector, with the mean in-element position.

use std::cmp::Reverse;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use roaring::RoaringBitmap;
use serde::Serialize;

use super::agg::{
    aggregates_answer, cover, row_devices, select_cohorts, Answers, Cover, NO_DEVICE,
};
use super::scan::{scan_partition, SegCtx};
use super::viewport::*;
use super::{top, Filters};
use crate::error::Result;
use crate::normalize::DeviceClass;
use crate::read::{PartitionView, View};
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::storage::tombstones::Hidden;
use crate::storage::{day_start, DAY_MS};
use crate::time::day_span;
use crate::EventKind;

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

/// Clicks, sum and count of `ex`, sum and count of `ey`.
type Acc = (u64, u64, u64, u64, u64);

/// Sums by selector id (the partition's).
type BySelector = HashMap<u64, Acc>;

/// Sums by selector id for each (device class, channel).
type ByCohort = HashMap<(u8, u64), BySelector>;

/// Sums by selector name.
type Named = Vec<(String, Acc)>;

fn add(t: &mut Acc, a: &Acc) {
    t.0 += a.0;
    t.1 = t.1.saturating_add(a.1);
    t.2 = t.2.saturating_add(a.2);
    t.3 = t.3.saturating_add(a.3);
    t.4 += a.4;
}

/// Adds the clicks `rows` of a segment into `acc` by selector id (the
/// partition's), or into `split` by (device class, channel) first when it
/// is given. Clicks without a selector are not counted.
fn add_clicks(
    ctx: &SegCtx<'_>,
    rows: &RoaringBitmap,
    acc: &mut BySelector,
    mut split: Option<(&mut ByCohort, &[u8])>,
) -> Result<()> {
    let sel = ctx.opt(col::SELECTOR)?;
    let ex = ctx.opt(col::EX)?;
    let ey = ctx.opt(col::EY)?;
    let runs = ctx.runs()?;
    let codes = ctx.session_attrs()?;
    let mut s = 0usize;
    for r in rows {
        let Some(id) = sel.get(r) else { continue };
        let mut a: Acc = (1, 0, 0, 0, 0);
        if let Some(x) = ex.get(r) {
            a.1 = x;
            a.2 = 1;
        }
        if let Some(y) = ey.get(r) {
            a.3 = y;
            a.4 = 1;
        }
        match split.as_mut() {
            None => add(acc.entry(id).or_default(), &a),
            Some((by, device)) => {
                while runs.starts.get(s + 1).is_some_and(|&x| x <= r) {
                    s += 1;
                }
                let d = device.get(r as usize).copied().unwrap_or(NO_DEVICE);
                let channel = codes.get(s).map_or(0, |c| c[3]);
                add(
                    by.entry((d, channel)).or_default().entry(id).or_default(),
                    &a,
                );
                if d != DeviceClass::Bot.code() {
                    add(acc.entry(id).or_default(), &a);
                }
            }
        }
    }
    Ok(())
}

/// One partition's clicks per element (selector) on one page or all, by
/// cohort (device class and channel), and every cohort but bots merged:
/// what a report over a day its range covers whole reads instead of
/// scanning it.
struct ElementsAgg {
    /// Every click's time is on the partition's day (otherwise the
    /// aggregate is not used).
    exact: bool,
    cohorts: Vec<(u8, u64, Named)>,
    nonbot: Named,
}

impl ElementsAgg {
    fn select<'a>(
        &'a self,
        f: &'a Filters,
    ) -> Box<dyn Iterator<Item = &'a Vec<(String, Acc)>> + 'a> {
        select_cohorts(f, &self.nonbot, &self.cohorts, |c| (c.0, c.1, &c.2))
    }
}

/// The elements aggregate of a page (`u32::MAX`: every page) in a
/// partition, computed on first use, without the rows the site's pending
/// requests hide.
fn elements_agg(
    snap: &View,
    hidden: &Hidden,
    part: &PartitionView,
    page: u32,
) -> Result<Arc<ElementsAgg>> {
    let hidden_key = hidden.key_on(part.day);
    let key = crate::cache::Key::Elements {
        part: part.key(),
        page,
        hidden: hidden_key,
    };
    snap.cache.get_or_try(key, || {
        let start = day_start(part.day);
        let mut by: ByCohort = HashMap::new();
        let mut human: BySelector = HashMap::new();
        for seg in &part.segments {
            let ctx = SegCtx::new(snap, part, seg);
            let mut rows = ctx.kind_rows(EventKind::Click)?;
            if page != u32::MAX && !rows.is_empty() {
                rows &= ctx.bitmap_of(col::BM_PAGE, page)?;
            }
            if hidden_key != 0 && !rows.is_empty() {
                rows = super::scan::hide(&ctx, hidden, rows)?;
            }
            if rows.is_empty() {
                continue;
            }
            let ts = ctx.ts()?;
            let off_day = rows.iter().any(|r| {
                let t = ts.get(r as usize).copied().unwrap_or_default();
                !(0..DAY_MS).contains(&(t - start))
            });
            if off_day {
                let agg = ElementsAgg {
                    exact: false,
                    cohorts: Vec::new(),
                    nonbot: Vec::new(),
                };
                return Ok((agg, 64));
            }
            let device = row_devices(&ctx)?;
            add_clicks(&ctx, &rows, &mut human, Some((&mut by, &device)))?;
        }
        let mut size = 256;
        let mut named = |m: BySelector| -> Result<Named> {
            let mut v = Vec::with_capacity(m.len());
            for (id, a) in m {
                let name = part.dicts.resolve(Dim::Selector, id)?.to_owned();
                size += name.len() + 80;
                v.push((name, a));
            }
            Ok(v)
        };
        let nonbot = named(human)?;
        let mut cohorts = Vec::with_capacity(by.len());
        for ((d, ch), m) in by {
            cohorts.push((d, ch, named(m)?));
        }
        Ok((
            ElementsAgg {
                exact: true,
                cohorts,
                nonbot,
            },
            size,
        ))
    })
}

impl View {
    /// Clicks per element (selector), with the mean in-element position.
    /// Days the range covers whole are read from per-partition aggregates
    /// (cached), when the filters are ones they answer.
    pub(crate) fn elements(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<Elements> {
        filters.check()?;
        let mut out = Elements::default();
        let Some(site) = site_or_empty(self, site)? else {
            return Ok(out);
        };
        let f = Filters {
            kind: Some(EventKind::Click),
            ..filters.clone()
        };
        let answers = Answers {
            page: true,
            kind: true,
            selector: true,
        };
        let use_aggs = aggregates_answer(&site, &f, answers);
        let wanted = |name: &str| filters.selector.as_deref().is_none_or(|s| s == name);
        // selector → (clicks, ex sum, ex n, ey sum, ey n)
        let mut acc: HashMap<String, Acc> = HashMap::new();
        let mut merge = |name: &str, a: &Acc| {
            let t = match acc.get_mut(name) {
                Some(t) => t,
                None => acc.entry(name.to_owned()).or_default(),
            };
            add(t, a);
        };
        let (lo, hi) = day_span(f.from, f.to);
        for (day, meta) in self.partitions(site.id, lo, hi)? {
            let part = self.partition_view(site.id, day, &meta)?;
            if use_aggs && matches!(cover(&f, day), Cover::Day) {
                let page = match &f.page {
                    None => Some(u32::MAX),
                    Some(p) => part.dicts.dict(Dim::Page).and_then(|d| d.id(p)),
                };
                // A page the day has no row of: nothing to add.
                let Some(page) = page else { continue };
                let got = part.aggs_of_parts(|p| elements_agg(self, &site.hidden, p, page))?;
                if got.iter().all(|a| a.exact) {
                    for agg in &got {
                        for co in agg.select(&f) {
                            for (name, a) in co {
                                if wanted(name) {
                                    merge(name, a);
                                }
                            }
                        }
                    }
                    continue;
                }
            }
            scan_partition(self, &site, &part, &f, None, &mut |ctx| {
                let mut local: BySelector = HashMap::new();
                add_clicks(ctx, &ctx.rows, &mut local, None)?;
                for (id, a) in local {
                    let name = ctx.string(Dim::Selector, id)?;
                    if wanted(name) {
                        merge(name, &a);
                    }
                }
                Ok(())
            })?;
        }
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
    }
}
