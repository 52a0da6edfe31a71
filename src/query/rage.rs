//! Rage clicks: bursts of 3 or more clicks of one session on one page.

use std::cmp::Reverse;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
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

/// A click of the rage-click report.
#[derive(Clone, Copy)]
struct RageClick {
    session: u64,
    /// Interned page (per partition in an aggregate's edge clicks).
    page: u32,
    ts: i64,
    pos: Pos,
    x: u64,
    y: u64,
    /// Interned selector (likewise), [`NONE`] without one.
    selector: u32,
}

/// No selector.
const NONE: u32 = u32::MAX;
/// A burst spans at most this long: clicks further than this from every
/// other day cannot be in a burst with that day's clicks.
const BURST_MS: i64 = 1000;

/// Finds the bursts of clicks sorted by (session, page, ts, pos): each
/// burst's session, first click's selector and clicks to `burst`.
fn bursts(clicks: &[RageClick], burst: &mut dyn FnMut(u64, u32, u64)) {
    for list in clicks.chunk_by(|a, b| (a.session, a.page) == (b.session, b.page)) {
        let mut i = 0;
        while let Some(first) = list.get(i) {
            let n = list
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .take_while(|c| {
                    c.ts - first.ts <= BURST_MS
                        && c.x.abs_diff(first.x) <= 24
                        && c.y.abs_diff(first.y) <= 24
                })
                .count();
            if n + 1 >= 3 {
                burst(first.session, first.selector, (n + 1) as u64);
                i += n + 1;
            } else {
                i += 1;
            }
        }
    }
}

/// Pages and selectors interned across partitions (their ids are per
/// partition), so that no click allocates or hashes a string.
#[derive(Default)]
struct Names {
    pages: HashMap<String, u32>,
    selectors: Vec<String>,
    selector_ids: HashMap<String, u32>,
}

impl Names {
    fn page(&mut self, name: &str) -> u32 {
        if let Some(&p) = self.pages.get(name) {
            return p;
        }
        let p = self.pages.len() as u32;
        self.pages.insert(name.to_owned(), p);
        p
    }

    fn selector(&mut self, name: &str) -> u32 {
        if let Some(&g) = self.selector_ids.get(name) {
            return g;
        }
        let g = self.selectors.len() as u32;
        self.selectors.push(name.to_owned());
        self.selector_ids.insert(name.to_owned(), g);
        g
    }
}

/// The clicks of `rows` in a segment, with the partition's page and
/// selector ids, and each one's row.
fn segment_clicks(ctx: &SegCtx<'_>, rows: &RoaringBitmap) -> Result<Vec<(u32, RageClick)>> {
    let xs = ctx.opt(col::X)?;
    let ys = ctx.opt(col::Y)?;
    let sel = ctx.opt(col::SELECTOR)?;
    let ts = ctx.ts()?;
    let runs = ctx.runs()?;
    let page_ids = ctx.page_ids()?;
    let si = seg_index(ctx);
    let mut out = Vec::new();
    let mut s = 0usize;
    for r in rows {
        let (Some(x), Some(y)) = (xs.get(r), ys.get(r)) else {
            continue;
        };
        while runs.starts.get(s + 1).is_some_and(|&x| x <= r) {
            s += 1;
        }
        let selector = sel
            .get(r)
            .map_or(NONE, |id| u32::try_from(id).unwrap_or(NONE - 1));
        out.push((
            r,
            RageClick {
                session: runs.hashes.get(s).copied().unwrap_or_default(),
                page: page_ids.get(r as usize).copied().unwrap_or(u32::MAX),
                ts: ts.get(r as usize).copied().unwrap_or_default(),
                pos: (ctx.part.day, si, r),
                x,
                y,
                selector,
            },
        ));
    }
    Ok(out)
}

/// One cohort's rage clicks over one day: the bursts of the (session,
/// page) click lists that no other day can touch, and the clicks of those
/// that one can (a click within [`BURST_MS`] of the day's edges), left for
/// the report to join with the other days'.
#[derive(Default)]
struct RageDay {
    /// Partition selector id ([`NONE`]) → (bursts, clicks).
    per: HashMap<u32, (u64, u64)>,
    /// Sessions with a burst.
    sessions: Vec<u64>,
    /// With the partition's page and selector ids.
    edge: Vec<RageClick>,
}

impl RageDay {
    /// From clicks sorted by (session, page, ts, pos).
    fn of(clicks: &[RageClick], start: i64) -> RageDay {
        let mut day = RageDay::default();
        let mut inner = Vec::new();
        for list in clicks.chunk_by(|a, b| (a.session, a.page) == (b.session, b.page)) {
            let near_edge = list
                .iter()
                .any(|c| c.ts - start < BURST_MS || start + DAY_MS - c.ts <= BURST_MS);
            if near_edge {
                day.edge.extend_from_slice(list);
            } else {
                inner.extend_from_slice(list);
            }
        }
        let RageDay { per, sessions, .. } = &mut day;
        bursts(&inner, &mut |session, selector, n| {
            let e = per.entry(selector).or_default();
            e.0 += 1;
            e.1 += n;
            sessions.push(session);
        });
        day.sessions.sort_unstable();
        day.sessions.dedup();
        day
    }

    fn bytes(&self) -> usize {
        self.per.len() * 32 + self.sessions.len() * 8 + self.edge.len() * 64 + 128
    }
}

/// The rage clicks of a partition (of one page, or all), by cohort (device
/// class and channel) and every cohort but bots merged.
struct RageAgg {
    /// Every click's time is on the partition's day.
    exact: bool,
    cohorts: Vec<(u8, u64, RageDay)>,
    nonbot: RageDay,
}

impl RageAgg {
    fn select<'a>(&'a self, f: &'a Filters) -> Box<dyn Iterator<Item = &'a RageDay> + 'a> {
        select_cohorts(f, &self.nonbot, &self.cohorts, |c| (c.0, c.1, &c.2))
    }
}

/// The rage aggregate of a partition (`page`: a page id, or `u32::MAX`
/// for every page), computed on first use, without hidden rows.
fn rage_agg(snap: &View, hidden: &Hidden, part: &PartitionView, page: u32) -> Result<Arc<RageAgg>> {
    let hidden_key = hidden.key_on(part.day);
    let key = crate::cache::Key::Rage {
        part: part.key(),
        page,
        hidden: hidden_key,
    };
    snap.cache.get_or_try(key, || {
        let start = day_start(part.day);
        let mut by_cohort: HashMap<(u8, u64), Vec<RageClick>> = HashMap::new();
        let mut human = Vec::new();
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
            let runs = ctx.runs()?;
            let codes = ctx.session_attrs()?;
            let device = row_devices(&ctx)?;
            for (r, c) in segment_clicks(&ctx, &rows)? {
                if !(0..DAY_MS).contains(&(c.ts - start)) {
                    let agg = RageAgg {
                        exact: false,
                        cohorts: Vec::new(),
                        nonbot: RageDay::default(),
                    };
                    return Ok((agg, 64));
                }
                let d = device.get(r as usize).copied().unwrap_or(NO_DEVICE);
                let channel = codes.get(runs.session_of(r)).map_or(0, |c| c[3]);
                by_cohort.entry((d, channel)).or_default().push(c);
                if d != DeviceClass::Bot.code() {
                    human.push(c);
                }
            }
        }
        let order = |c: &RageClick| (c.session, c.page, c.ts, c.pos);
        human.sort_unstable_by_key(order);
        let nonbot = RageDay::of(&human, start);
        let cohorts: Vec<(u8, u64, RageDay)> = by_cohort
            .into_iter()
            .map(|((d, ch), mut clicks)| {
                clicks.sort_unstable_by_key(order);
                (d, ch, RageDay::of(&clicks, start))
            })
            .collect();
        let size = 256 + nonbot.bytes() + cohorts.iter().map(|c| c.2.bytes()).sum::<usize>();
        Ok((
            RageAgg {
                exact: true,
                cohorts,
                nonbot,
            },
            size,
        ))
    })
}

impl View {
    /// Rage clicks: bursts of 3 or more clicks of one session on one page,
    /// each within 1 s and 24 px (on both axes) of the burst's first click.
    /// Days the range covers whole are read from per-day aggregates when
    /// the filters are ones they answer.
    pub(crate) fn rage_clicks(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<RageClicks> {
        filters.check()?;
        let mut out = RageClicks::default();
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
            selector: false,
        };
        let use_aggs = aggregates_answer(&site, &f, answers);
        let mut names = Names::default();
        let mut sessions: HashSet<u64> = HashSet::new();
        // Interned selector ([`NONE`]: none) → (bursts, clicks).
        let mut per: HashMap<u32, (u64, u64)> = HashMap::new();
        // Clicks scanned (and the aggregates' edge clicks), interned, as
        // flat records sorted once by (session, page, ts, pos).
        let mut clicks: Vec<RageClick> = Vec::new();
        let (lo, hi) = day_span(f.from, f.to);
        for (day, meta) in self.partitions(site.id, lo, hi)? {
            let part = self.partition_view(site.id, day, &meta)?;
            // Partition ids → interned ids.
            let mut page_map: HashMap<u32, u32> = HashMap::new();
            let mut sel_map: HashMap<u32, u32> = HashMap::new();
            let mut intern = |names: &mut Names, c: RageClick| -> Result<RageClick> {
                let page = match page_map.get(&c.page) {
                    Some(&p) => p,
                    None => {
                        let p = names.page(part.dicts.resolve(Dim::Page, u64::from(c.page))?);
                        page_map.insert(c.page, p);
                        p
                    }
                };
                let selector = match (c.selector, sel_map.get(&c.selector)) {
                    (NONE, _) => NONE,
                    (_, Some(&g)) => g,
                    (id, None) => {
                        let g = names.selector(part.dicts.resolve(Dim::Selector, u64::from(id))?);
                        sel_map.insert(id, g);
                        g
                    }
                };
                Ok(RageClick {
                    page,
                    selector,
                    ..c
                })
            };
            if use_aggs && matches!(cover(&f, day), Cover::Day) {
                let page = match &f.page {
                    None => Some(u32::MAX),
                    Some(p) => part.dicts.dict(Dim::Page).and_then(|d| d.id(p)),
                };
                let Some(page) = page else {
                    continue;
                };
                let agg = rage_agg(self, &site.hidden, &part, page)?;
                if agg.exact {
                    for co in agg.select(&f) {
                        for (&id, &(b, n)) in &co.per {
                            let g = if id == NONE {
                                NONE
                            } else {
                                names.selector(part.dicts.resolve(Dim::Selector, u64::from(id))?)
                            };
                            let e = per.entry(g).or_default();
                            e.0 += b;
                            e.1 += n;
                            out.bursts += b;
                        }
                        sessions.extend(co.sessions.iter().copied());
                        for c in &co.edge {
                            clicks.push(intern(&mut names, *c)?);
                        }
                    }
                    continue;
                }
            }
            scan_partition(self, &site, &part, &f, None, &mut |ctx| {
                for (_, c) in segment_clicks(ctx, &ctx.rows)? {
                    clicks.push(intern(&mut names, c)?);
                }
                Ok(())
            })?;
        }
        clicks.sort_unstable_by_key(|c| (c.session, c.page, c.ts, c.pos));
        bursts(&clicks, &mut |session, selector, n| {
            out.bursts += 1;
            sessions.insert(session);
            let e = per.entry(selector).or_default();
            e.0 += 1;
            e.1 += n;
        });
        // By name: a selector named `(none)` is one row with no selector.
        let mut by_name: HashMap<String, (u64, u64)> = HashMap::new();
        for (g, (b, c)) in per {
            let name = names
                .selectors
                .get(g as usize)
                .cloned()
                .unwrap_or_else(|| "(none)".to_owned());
            let e = by_name.entry(name).or_default();
            e.0 += b;
            e.1 += c;
        }
        out.sessions = sessions.len() as u64;
        out.rows = by_name
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
    }
}

#[cfg(test)]
mod tests {
    use crate::query::Filters;
    use crate::storage::DAY_MS;
    use crate::{Event, EventKind, Store};

    /// Bursts that cross midnight are found whole, whether the days are
    /// read from their aggregates (a range of whole days) or scanned (a
    /// range that cuts the first day), before and after sealing.
    #[test]
    fn bursts_across_midnight_are_joined() {
        let store = Store::in_memory().unwrap();
        let t0 = (crate::time::now_ms() / DAY_MS - 5) * DAY_MS;
        // (session, ms from midnight, x): s1's burst crosses midnight; s2's
        // is at noon before it; s3's six clicks are one burst from its
        // first (three on each day: two bursts if the days were apart).
        let clicks: &[(&str, i64, u32)] = &[
            ("s1", -300, 10),
            ("s1", 200, 12),
            ("s1", 400, 14),
            ("s2", -12 * 3_600_000, 300),
            ("s2", -12 * 3_600_000 + 100, 301),
            ("s2", -12 * 3_600_000 + 200, 302),
            ("s3", -500, 600),
            ("s3", -400, 601),
            ("s3", -300, 602),
            ("s3", 100, 603),
            ("s3", 200, 604),
            ("s3", 300, 605),
        ];
        let mut w = store.writer().unwrap();
        for &(s, at, x) in clicks {
            let mut e = Event::new("r.example", t0 + at, EventKind::Click, s, "/");
            (e.x, e.y, e.vw) = (Some(x), Some(100), Some(1280));
            e.selector = Some(format!("#b{s}"));
            w.append(&e).unwrap();
        }
        w.commit().unwrap();
        let whole = Filters {
            from: Some(t0 - DAY_MS),
            to: Some(t0 + DAY_MS),
            ..Filters::default()
        };
        let cut = Filters {
            from: Some(t0 - DAY_MS + 1),
            ..whole.clone()
        };
        let check = |store: &Store| {
            for f in [&whole, &cut] {
                let got = store
                    .snapshot()
                    .unwrap()
                    .rage_clicks("r.example", f, None)
                    .unwrap();
                assert_eq!((got.bursts, got.sessions), (3, 3), "{f:?}");
                let mut rows: Vec<(String, u64, u64)> = got
                    .rows
                    .iter()
                    .map(|r| (r.selector.clone(), r.bursts, r.clicks))
                    .collect();
                rows.sort();
                let want = [("#bs1", 1, 3), ("#bs2", 1, 3), ("#bs3", 1, 6)];
                let want: Vec<(String, u64, u64)> = want
                    .iter()
                    .map(|(s, b, c)| (s.to_string(), *b, *c))
                    .collect();
                assert_eq!(rows, want, "{f:?}");
            }
        };
        check(&store);
        store.writer().unwrap().seal_all().unwrap();
        check(&store);
    }
}
