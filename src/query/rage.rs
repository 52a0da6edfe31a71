//! Rage clicks: bursts of 3 or more clicks of one session on one page.

use super::scan::scan;
use super::viewport::*;
use super::{top, Filters};
use crate::error::Result;
use crate::read::View;
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::EventKind;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use serde::Serialize;
use std::cmp::Reverse;

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

impl View {
    /// Rage clicks: bursts of 3 or more clicks of one session on one page,
    /// each within 1 s and 24 px (on both axes) of the burst's first click.
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
    }
}
