//! Pageviews, unique visitors, entries and mean load time per page.

use super::agg::{aggregates_answer, cover, pv_agg, Answers, Cover, PvAgg, Visitors};
use super::scan::scan_partition;
use super::viewport::*;
use super::{top, Filters};
use crate::error::Result;
use crate::read::View;
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::time::day_span;
use crate::EventKind;
use foldhash::{HashMap, HashMapExt};
use serde::Serialize;
use std::cmp::Reverse;
use std::sync::Arc;

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

impl View {
    /// Pageviews, unique visitors, entries and mean load time per page.
    pub(crate) fn pages(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<Pages> {
        filters.check()?;
        let mut out = Pages::default();
        let Some(site_ref) = site_or_empty(self, site)? else {
            return Ok(out);
        };
        // Whole days come from the partitions' pageview aggregates when the
        // filters allow; the other partitions are scanned.
        let use_agg = aggregates_answer(
            &site_ref,
            filters,
            Answers {
                page: true,
                ..Answers::default()
            },
        );
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
                let got = part.aggs_of_parts(|p| pv_agg(self, &site_ref.hidden, p, &ids))?;
                if got.iter().all(|a| a.exact) {
                    for agg in got {
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
                    }
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
    }
}
