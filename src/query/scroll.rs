//! Scroll reach of a page: how many sessions reached each depth.

use super::scan::scan;
use super::viewport::*;
use super::Filters;
use crate::error::{Error, Result};
use crate::read::View;
use crate::storage::segment::col;
use crate::EventKind;
use foldhash::{HashMap, HashMapExt, HashSet};
use serde::Serialize;

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

impl View {
    /// Scroll reach of `filters.page` in steps of `step` percent.
    ///
    /// Per session the deepest point reached over its scroll events on the
    /// page, `min(100, (scrollTop + vh) * 100 / dh)`, or the fold
    /// `vh * 100 / dh` of its first pageview of the page when it has none.
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
    }
}
