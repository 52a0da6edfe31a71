//! Pageviews, sessions and unique visitors per hour or UTC day.

use super::agg::{aggregates_answer, cover, pv_agg, Answers, Cover, PvAgg, Visitors};
use super::scan::scan_partition;
use super::viewport::*;
use super::{Filters, Interval};
use crate::cache::numbering::DenseIds;
use crate::error::Result;
use crate::read::{SiteRef, View};
use crate::storage::day_start;
use crate::time::day_span;
use crate::EventKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// One bucket of a series being summed.
#[derive(Default)]
pub(crate) struct Bucket<'a> {
    pub pageviews: u64,
    pub sessions: u64,
    pub visitors: Visitors<'a>,
}

impl View {
    /// Pageviews, sessions and unique visitors per hour or UTC day.
    pub(crate) fn series(
        &self,
        site: &str,
        filters: &Filters,
        interval: Interval,
    ) -> Result<Series> {
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
        let use_agg = aggregates_answer(site, filters, Answers::default());
        let (lo, hi) = day_span(filters.from, filters.to);
        for (day, meta) in self.partitions(site.id, lo, hi)? {
            let part = self.partition_view(site.id, day, &meta)?;
            if use_agg {
                let c = cover(filters, day);
                if !matches!(c, Cover::Partial) {
                    let got = part.aggs_of_parts(|p| pv_agg(self, &site.hidden, p, ids))?;
                    if got.iter().all(|a| a.exact) {
                        for agg in got {
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
                        }
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
