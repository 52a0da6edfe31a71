//! Session reports: referrers, devices, entry pages, the session list.

use foldhash::{HashSet, HashSetExt};
use std::sync::Arc;

use serde::Serialize;

use super::agg::{aggregates_answer, cohort_passes, cohorts, cover, entry_hidden, Answers, Cover};
use super::scan::scan;
use super::Filters;
use crate::cache::numbering::DenseIds;
use crate::error::{Error, Result};
use crate::normalize::{Channel, DeviceClass};
use crate::read::{SiteRef, View};
use crate::storage::sessions::{SField, SessionBlock};
use crate::time::day_span;

/// One session of the session list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// The session's key: its keyed hash in hex. Replay takes it.
    pub session: String,
    /// Time of its first pageview.
    pub first_ts: i64,
    /// Entry page.
    pub entry_page: String,
    /// Referrer host.
    pub referrer: String,
    /// Channel.
    pub channel: Channel,
    /// Device class.
    pub device: DeviceClass,
    /// Browser family.
    pub browser: String,
    /// OS family.
    pub os: String,
}

/// Sessions matching the filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SessionList {
    /// By first pageview, earliest first.
    pub rows: Vec<SessionSummary>,
    /// Sessions matching, before the limit.
    pub total: u64,
}

/// A session that passed the filters.
pub(crate) struct Matched {
    pub first_ts: i64,
}

pub(crate) fn session_filter_ok(f: &Filters, b: &SessionBlock, i: usize) -> bool {
    let first = b.first_ts.get(i).copied().unwrap_or_default();
    if !f.in_range(first) {
        return false;
    }
    let device = b
        .device
        .get(i)
        .copied()
        .and_then(DeviceClass::from_code)
        .unwrap_or_default();
    match f.device {
        Some(d) if d != device => return false,
        None if !f.include_bots && device == DeviceClass::Bot => return false,
        _ => {}
    }
    let eq = |want: &Option<String>, field: SField| {
        want.as_deref()
            .is_none_or(|w| b.string(field, i) == Some(w))
    };
    if !eq(&f.browser, SField::Browser)
        || !eq(&f.os, SField::Os)
        || !eq(&f.referrer, SField::RefHost)
    {
        return false;
    }
    f.channel
        .is_none_or(|c| b.channel.get(i).copied() == Some(c.code()))
}

impl View {
    /// Sessions with at least one event in the range passing the event
    /// filters, or `None` when there are no event filters.
    pub(crate) fn event_filtered_sessions(
        &self,
        site: &SiteRef,
        f: &Filters,
    ) -> Result<Option<HashSet<u64>>> {
        if !f.has_event_filters() {
            return Ok(None);
        }
        let mut set = HashSet::new();
        let selector = f.selector.clone();
        scan(self, site, f, None, &mut |ctx| {
            let rows: Vec<u32> = ctx.rows.iter().collect();
            let sel = match &selector {
                Some(_) => Some(
                    ctx.opt(crate::storage::segment::col::SELECTOR)?
                        .values_of(rows.iter().copied()),
                ),
                None => None,
            };
            let want = match &selector {
                Some(s) => match ctx
                    .part
                    .dicts
                    .dict(crate::storage::dict::Dim::Selector)
                    .and_then(|d| d.id(s))
                {
                    Some(id) => Some(u64::from(id)),
                    None => return Ok(()),
                },
                None => None,
            };
            for (i, &r) in rows.iter().enumerate() {
                if let (Some(sel), Some(w)) = (&sel, want) {
                    if sel[i] != Some(w) {
                        continue;
                    }
                }
                set.insert(ctx.session_of(r)?.0);
            }
            Ok(())
        })?;
        Ok(Some(set))
    }

    /// Calls `visit` with every session passing the filters.
    pub(crate) fn for_sessions(
        &self,
        site: &SiteRef,
        f: &Filters,
        visit: &mut dyn FnMut(&SessionBlock, usize),
    ) -> Result<()> {
        self.for_blocks(site, f, &mut |b, matched| {
            for &i in matched {
                visit(b, i);
            }
        })
    }

    /// Calls `visit` with each day's block and the positions of its
    /// sessions passing the filters.
    pub(crate) fn for_blocks(
        &self,
        site: &SiteRef,
        f: &Filters,
        visit: &mut dyn FnMut(&Arc<SessionBlock>, &[usize]),
    ) -> Result<()> {
        let events = self.event_filtered_sessions(site, f)?;
        let (lo, hi) = day_span(f.from, f.to);
        if lo > hi {
            return Ok(());
        }
        let mut matched = Vec::new();
        for (_, b, _) in self.blocks_in(site.id, lo, hi)? {
            matched.clear();
            for i in 0..b.len() {
                if !session_filter_ok(f, &b, i) {
                    continue;
                }
                if !site.hidden.is_empty() {
                    let (hash, visitor) = (
                        b.hashes.get(i).copied().unwrap_or_default(),
                        b.visitors.get(i).copied().unwrap_or_default(),
                    );
                    if site.hidden.session_hidden(hash, visitor)
                        || site
                            .hidden
                            .ts_hidden(b.first_ts.get(i).copied().unwrap_or_default())
                    {
                        continue;
                    }
                }
                if let Some(set) = &events {
                    if !b.hashes.get(i).is_some_and(|h| set.contains(h)) {
                        continue;
                    }
                }
                matched.push(i);
            }
            visit(&b, &matched);
        }
        Ok(())
    }

    pub(crate) fn matching_sessions(&self, site: &SiteRef, f: &Filters) -> Result<Vec<Matched>> {
        let mut v = Vec::new();
        self.for_sessions(site, f, &mut |b, i| {
            v.push(Matched {
                first_ts: b.first_ts.get(i).copied().unwrap_or_default(),
            })
        })?;
        Ok(v)
    }

    /// Sessions per bucket of a series (by their first pageview).
    pub(crate) fn series_sessions(
        &self,
        site: &SiteRef,
        f: &Filters,
        ids: &DenseIds,
        bucket: &dyn Fn(i64) -> i64,
        acc: &mut std::collections::BTreeMap<i64, super::series::Bucket<'_>>,
    ) -> Result<()> {
        if !aggregates_answer(site, f, Answers::default()) {
            for s in self.matching_sessions(site, f)? {
                acc.entry(bucket(s.first_ts)).or_default().sessions += 1;
            }
            return Ok(());
        }
        let (lo, hi) = day_span(f.from, f.to);
        if lo > hi {
            return Ok(());
        }
        for (day, b, key) in self.blocks_in(site.id, lo, hi)? {
            let c = cohorts(self, ids, &site.hidden, (site.id, day), key, &b)?;
            let hours = match cover(f, day) {
                Cover::Day => Some([true; 24]),
                Cover::Hours(h) => Some(h),
                Cover::Partial => None,
            };
            match hours {
                Some(hours) if c.exact => {
                    let start = crate::storage::day_start(day);
                    for (h, &on) in hours.iter().enumerate() {
                        if !on {
                            continue;
                        }
                        let n: u64 = c
                            .list
                            .iter()
                            .filter(|co| cohort_passes(f, co.device, co.channel))
                            .map(|co| co.hours.get(h).copied().unwrap_or(0))
                            .sum();
                        if n > 0 {
                            let t = start + h as i64 * crate::storage::HOUR_MS;
                            acc.entry(bucket(t)).or_default().sessions += n;
                        }
                    }
                }
                _ => {
                    for i in 0..b.len() {
                        if session_filter_ok(f, &b, i)
                            && (site.hidden.is_empty() || !entry_hidden(&site.hidden, &b, i))
                        {
                            let t = b.first_ts.get(i).copied().unwrap_or_default();
                            acc.entry(bucket(t)).or_default().sessions += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The sessions matching the filters, e.g. those that clicked one
    /// element (`filters.selector`): from a heatmap to its recordings.
    pub(crate) fn sessions(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<SessionList> {
        filters.check()?;
        let mut out = SessionList::default();
        let Some(site) = self.site(site)? else {
            return Ok(out);
        };
        let order = |a: &SessionSummary, b: &SessionSummary| {
            (a.first_ts, &a.session).cmp(&(b.first_ts, &b.session))
        };
        // At most `limit` rows are kept (trimmed as they come), or up to
        // MAX_LIST_ROWS without a limit.
        let keep = limit.unwrap_or(super::MAX_LIST_ROWS);
        let mut total = 0u64;
        self.for_sessions(&site, filters, &mut |b, i| {
            total += 1;
            if out.rows.len() >= keep.saturating_mul(2).max(1024) {
                out.rows.sort_by(order);
                out.rows.truncate(keep);
            }
            let s = |f: SField| b.string(f, i).unwrap_or_default().to_owned();
            out.rows.push(SessionSummary {
                session: format!("{:016x}", b.hashes.get(i).copied().unwrap_or_default()),
                first_ts: b.first_ts.get(i).copied().unwrap_or_default(),
                entry_page: s(SField::EntryPage),
                referrer: s(SField::RefHost),
                channel: b
                    .channel
                    .get(i)
                    .copied()
                    .and_then(Channel::from_code)
                    .unwrap_or_default(),
                device: b
                    .device
                    .get(i)
                    .copied()
                    .and_then(DeviceClass::from_code)
                    .unwrap_or_default(),
                browser: s(SField::Browser),
                os: s(SField::Os),
            });
        })?;
        out.total = total;
        if limit.is_none() && total > super::MAX_LIST_ROWS as u64 {
            return Err(Error::LimitExceeded {
                what: "sessions in a list",
                limit: super::MAX_LIST_ROWS as u64,
                asked: total,
                hint: "give a limit: the first sessions by time are listed",
            });
        }
        out.rows.sort_by(order);
        out.rows.truncate(keep);
        Ok(out)
    }
}
