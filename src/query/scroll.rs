//! Scroll reach of a page: how many sessions reached each depth.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet};
use roaring::RoaringBitmap;
use serde::Serialize;

use super::agg::{
    aggregates_answer, cover, row_devices, select_cohorts, Answers, Cover, NO_DEVICE,
};
use super::scan::{scan_partition, SegCtx};
use super::viewport::*;
use super::Filters;
use crate::error::{Error, Result};
use crate::normalize::DeviceClass;
use crate::read::{PartitionView, View};
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::storage::tombstones::Hidden;
use crate::storage::{day_start, DAY_MS};
use crate::time::day_span;
use crate::EventKind;

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

/// What scroll reach gathers: per session, the deepest point of its scroll
/// events on the page, and its first pageview of the page's fold; scrolls
/// without their own viewport, resolved against the session's pageviews
/// at the end.
#[derive(Default)]
struct Reach {
    deepest: HashMap<u64, u32>,
    /// Session → (ts, position, fold) of its first pageview.
    first_pv: HashMap<u64, (i64, Pos, u32)>,
    /// (session, ts, position, y) of scrolls without `vh`/`dh`.
    pending: Vec<(u64, i64, Pos, u64)>,
}

/// `min(100, (y + vh) * 100 / dh)`.
fn depth(y: u64, vh: u64, dh: u64) -> u32 {
    (y.saturating_add(vh).saturating_mul(100) / dh.max(1)).min(100) as u32
}

impl Reach {
    /// Adds `rows` (pageviews and scrolls of the page) of a segment.
    fn add(&mut self, ctx: &SegCtx<'_>, rows: &RoaringBitmap) -> Result<()> {
        let rows: Vec<u32> = rows.iter().collect();
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
                    (Some(vh), Some(dh)) => self.deeper(s, depth(y, vh, dh)),
                    _ => self.pending.push((s, t, pos, y)),
                }
            } else if let (Some(vh), Some(dh)) = (vhs[i], dhs[i]) {
                self.first(s, (t, pos, depth(0, vh, dh)));
            }
        }
        Ok(())
    }

    fn deeper(&mut self, session: u64, d: u32) {
        let e = self.deepest.entry(session).or_default();
        *e = (*e).max(d);
    }

    fn first(&mut self, session: u64, pv: (i64, Pos, u32)) {
        let e = self.first_pv.entry(session).or_insert(pv);
        if (pv.0, pv.1) < (e.0, e.1) {
            *e = pv;
        }
    }

    fn merge(&mut self, o: &Reach) {
        for (&s, &d) in &o.deepest {
            self.deeper(s, d);
        }
        for (&s, &pv) in &o.first_pv {
            self.first(s, pv);
        }
        self.pending.extend_from_slice(&o.pending);
    }

    /// Resolves the scrolls without a viewport whose session has a
    /// pageview of the page at or before them in `pvs` (the partition's own,
    /// in order): on a day whose rows are all on it, the latest such is the
    /// latest of all days. The others stay for the end.
    fn resolve_in(&mut self, pvs: &HashMap<u64, Vec<Pv>>) {
        let pending = std::mem::take(&mut self.pending);
        for (s, t, pos, y) in pending {
            let pv = pvs
                .get(&s)
                .and_then(|v| v.iter().rev().find(|p| (p.ts, p.pos) <= (t, pos)));
            match pv {
                Some(pv) => {
                    if let (Some(vh), Some(dh)) = (pv.vh, pv.dh) {
                        self.deeper(s, depth(y, vh, dh));
                    }
                }
                None => self.pending.push((s, t, pos, y)),
            }
        }
    }

    fn bytes(&self) -> usize {
        self.deepest.len() * 24 + self.first_pv.len() * 48 + self.pending.len() * 40 + 128
    }
}

/// The scroll reach of one page over one partition, by cohort (device
/// class and channel), and every cohort but bots merged: what a report
/// over a day its range covers whole reads instead of scanning it.
struct ScrollAgg {
    /// Every row's time is on the partition's day (otherwise the
    /// aggregate is not used).
    exact: bool,
    cohorts: Vec<(u8, u64, Reach)>,
    nonbot: Reach,
}

impl ScrollAgg {
    fn select<'a>(&'a self, f: &'a Filters) -> Box<dyn Iterator<Item = &'a Reach> + 'a> {
        select_cohorts(f, &self.nonbot, &self.cohorts, |c| (c.0, c.1, &c.2))
    }
}

/// The scroll aggregate of a page in a partition, computed on first use,
/// without the rows the site's pending requests hide.
fn scroll_agg(
    snap: &View,
    hidden: &Hidden,
    part: &PartitionView,
    page_id: u32,
) -> Result<Arc<ScrollAgg>> {
    let hidden_key = hidden.key_on(part.day);
    let key = crate::cache::Key::Scroll {
        part: part.key(),
        page: page_id,
        hidden: hidden_key,
    };
    snap.cache.get_or_try(key, || {
        let start = day_start(part.day);
        let mut cohorts: HashMap<(u8, u64), Reach> = HashMap::new();
        let mut nonbot = Reach::default();
        // The day's pageviews of the page per session, bots too (as the
        // end's lookup takes them), without hidden rows.
        let mut pvs: HashMap<u64, Vec<Pv>> = HashMap::new();
        for (si, seg) in part.segments.iter().enumerate() {
            let ctx = SegCtx::new(snap, part, seg);
            let mut rows = ctx.kind_page_rows(EventKind::Pageview, page_id)?;
            rows |= ctx.kind_page_rows(EventKind::Scroll, page_id)?;
            if hidden_key != 0 && !rows.is_empty() {
                rows = super::scan::hide(&ctx, hidden, rows)?;
            }
            if rows.is_empty() {
                continue;
            }
            let ts = ctx.ts()?;
            let views = rows.clone() & ctx.kind_rows(EventKind::Pageview)?;
            if !views.is_empty() {
                let (vws, vhs, dhs) = (ctx.opt(col::VW)?, ctx.opt(col::VH)?, ctx.opt(col::DH)?);
                for r in &views {
                    let (session, _) = ctx.session_of(r)?;
                    pvs.entry(session).or_default().push(Pv {
                        ts: ts.get(r as usize).copied().unwrap_or_default(),
                        pos: (part.day, si, r),
                        vw: vws.get(r),
                        vh: vhs.get(r),
                        dh: dhs.get(r),
                    });
                }
            }
            let off_day = rows.iter().any(|r| {
                let t = ts.get(r as usize).copied().unwrap_or_default();
                !(0..DAY_MS).contains(&(t - start))
            });
            if off_day {
                let agg = ScrollAgg {
                    exact: false,
                    cohorts: Vec::new(),
                    nonbot: Reach::default(),
                };
                return Ok((agg, 64));
            }
            // The rows of each cohort, then each cohort's reach.
            let runs = ctx.runs()?;
            let codes = ctx.session_attrs()?;
            let device = row_devices(&ctx)?;
            let mut split: HashMap<(u8, u64), RoaringBitmap> = HashMap::new();
            let mut human = RoaringBitmap::new();
            let mut s = 0usize;
            for r in &rows {
                while runs.starts.get(s + 1).is_some_and(|&x| x <= r) {
                    s += 1;
                }
                let d = device.get(r as usize).copied().unwrap_or(NO_DEVICE);
                let channel = codes.get(s).map_or(0, |c| c[3]);
                split.entry((d, channel)).or_default().insert(r);
                if d != DeviceClass::Bot.code() {
                    human.insert(r);
                }
            }
            for (k, bm) in &split {
                cohorts.entry(*k).or_default().add(&ctx, bm)?;
            }
            nonbot.add(&ctx, &human)?;
        }
        for v in pvs.values_mut() {
            v.sort_by_key(|p| (p.ts, p.pos));
        }
        nonbot.resolve_in(&pvs);
        let cohorts: Vec<(u8, u64, Reach)> = cohorts
            .into_iter()
            .map(|((d, ch), mut r)| {
                r.resolve_in(&pvs);
                (d, ch, r)
            })
            .collect();
        let size = 256 + nonbot.bytes() + cohorts.iter().map(|c| c.2.bytes()).sum::<usize>();
        Ok((
            ScrollAgg {
                exact: true,
                cohorts,
                nonbot,
            },
            size,
        ))
    })
}

impl View {
    /// Scroll reach of `filters.page` in steps of `step` percent.
    ///
    /// Per session the deepest point reached over its scroll events on the
    /// page, `min(100, (scrollTop + vh) * 100 / dh)`, or the fold
    /// `vh * 100 / dh` of its first pageview of the page when it has none.
    /// Days the range covers whole are read from per-partition aggregates
    /// (cached), when the filters are ones they answer.
    pub(crate) fn scroll_reach(
        &self,
        site: &str,
        filters: &Filters,
        step: u32,
    ) -> Result<ScrollReach> {
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
        let kinds = match filters.kind {
            Some(k @ (EventKind::Pageview | EventKind::Scroll)) => vec![k],
            Some(_) => return Ok(out),
            None => vec![EventKind::Pageview, EventKind::Scroll],
        };
        let answers = Answers {
            page: true,
            kind: false,
            selector: false,
        };
        let use_aggs = filters.kind.is_none() && aggregates_answer(&site, &f, answers);
        let mut reach = Reach::default();
        let (lo, hi) = day_span(f.from, f.to);
        for (day, meta) in self.partitions(site.id, lo, hi)? {
            let part = self.partition_view(site.id, day, &meta)?;
            if use_aggs && matches!(cover(&f, day), Cover::Day) {
                let Some(page_id) = part.dicts.dict(Dim::Page).and_then(|d| d.id(&page)) else {
                    continue;
                };
                let agg = scroll_agg(self, &site.hidden, &part, page_id)?;
                if agg.exact {
                    for co in agg.select(&f) {
                        reach.merge(co);
                    }
                    continue;
                }
            }
            scan_partition(self, &site, &part, &f, Some(&kinds), &mut |ctx| {
                reach.add(ctx, &ctx.rows)
            })?;
        }
        let Reach {
            mut deepest,
            first_pv,
            pending,
        } = reach;
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
    }
}
