//! The heatmap viewport fallback, shared by heatmaps and scroll reach: an
//! event without its own viewport takes its session's pageview of the page
//! (the latest at or before it, else the earliest), looked up over the
//! session's days; and the cell an event lands in.

use super::scan::{scan, SegCtx};
use super::Filters;
use crate::error::Result;
use crate::read::{SiteRef, View};
use crate::storage::day_start;
use crate::storage::segment::col;
use crate::EventKind;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

/// Position of a row in `(ts, arrival)` order within a site: day, segment,
/// row. Segments of a partition are in arrival order, rows of one session
/// in a segment in `(ts, arrival)` order.
pub(crate) type Pos = (i32, usize, u32);

/// A pageview of a session, for the viewport fallback.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pv {
    pub(crate) ts: i64,
    pub(crate) pos: Pos,
    pub(crate) vw: Option<u64>,
    pub(crate) vh: Option<u64>,
    pub(crate) dh: Option<u64>,
}

pub(crate) fn seg_index(ctx: &SegCtx<'_>) -> usize {
    ctx.part
        .segments
        .iter()
        .position(|s| std::ptr::eq(s, ctx.seg))
        .unwrap_or(usize::MAX)
}

/// The pageviews of `page` of each session in `sessions`, over every day
/// those sessions have events on, in (ts, arrival) order.
pub(crate) fn session_pageviews(
    snap: &View,
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
pub(crate) struct InRangePageviews {
    pub(crate) by_session: HashMap<u64, Vec<Pv>>,
}

impl InRangePageviews {
    pub(crate) fn push(
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
    pub(crate) fn resolve(
        mut self,
        snap: &View,
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
pub(crate) fn pageview_for(pvs: Option<&Vec<Pv>>, ts: i64, pos: Pos) -> Option<&Pv> {
    let pvs = pvs?;
    pvs.iter()
        .rev()
        .find(|p| (p.ts, p.pos) <= (ts, pos))
        .or(pvs.first())
}

pub(crate) fn site_or_empty(snap: &View, site: &str) -> Result<Option<SiteRef>> {
    snap.site(site)
}
