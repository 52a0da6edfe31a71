//! Session reports: referrers, devices, entry pages, the session list.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::cmp::Reverse;
use std::sync::Arc;

use serde::Serialize;

use super::agg::{
    block_agg_usable, cohort_passes, cohorts, cover, entry_passes, field_code, groups, Cohorts,
    Cover, GroupEntry, Visitors,
};
use super::scan::{day_span, scan};
use super::{top, DeviceBy, Filters, ReferrerBy};
use crate::cache::numbering::DenseIds;
use crate::error::{Error, Result};
use crate::normalize::{Channel, DeviceClass};
use crate::read::{SiteRef, Snapshot, StoredEvent};
use crate::storage::sessions::{SField, SessionBlock};

/// One group of a breakdown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BreakdownRow {
    /// The group (`google.com`, `mobile`, `(none)`).
    pub key: String,
    /// Sessions in the group.
    pub sessions: u64,
    /// Distinct visitors of those sessions.
    pub visitors: u64,
}

/// Sessions grouped by one attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// Groups by sessions, descending, then key.
    pub rows: Vec<BreakdownRow>,
    /// Sessions in all.
    pub sessions: u64,
    /// Distinct visitors in all.
    pub visitors: u64,
}

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

/// What a breakdown groups sessions by.
#[derive(Clone, Copy)]
enum Group {
    /// A string attribute; the name for sessions without one.
    Field(SField, &'static str),
    Channel,
    Device,
}

impl Group {
    /// A code per grouping, for the cache.
    fn code(self) -> u8 {
        match self {
            Group::Field(f, _) => field_code(f),
            Group::Channel => 100,
            Group::Device => 101,
        }
    }

    /// The block-local id of session `i`'s group.
    fn id(self, b: &SessionBlock, i: usize) -> u32 {
        match self {
            Group::Field(f, _) => b
                .strings
                .get(f as usize)
                .and_then(|c| c.get(i))
                .copied()
                .unwrap_or(0),
            Group::Channel => u32::from(b.channel.get(i).copied().unwrap_or(0)),
            Group::Device => u32::from(b.device.get(i).copied().unwrap_or(0)),
        }
    }

    /// The name of a group id of block `b`.
    fn name(self, b: &SessionBlock, id: u32) -> String {
        match self {
            Group::Field(_, none) => match id {
                0 => none.to_owned(),
                id => b.dict.get(u64::from(id - 1)).unwrap_or(none).to_owned(),
            },
            Group::Channel => Channel::from_code(id as u8)
                .unwrap_or_default()
                .as_str()
                .to_owned(),
            Group::Device => DeviceClass::from_code(id as u8)
                .unwrap_or_default()
                .as_str()
                .to_owned(),
        }
    }
}

const NONE: &str = "(none)";
const UNKNOWN: &str = "(unknown)";

fn session_filter_ok(f: &Filters, b: &SessionBlock, i: usize) -> bool {
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

impl Snapshot {
    /// Sessions with at least one event in the range passing the event
    /// filters, or `None` when there are no event filters.
    fn event_filtered_sessions(&self, site: &SiteRef, f: &Filters) -> Result<Option<HashSet<u64>>> {
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
    fn for_sessions(
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
    fn for_blocks(
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
        for e in self.t.blocks.range((site.id, lo)..=(site.id, hi))? {
            let (k, v) = e?;
            let day = k.value().1;
            let (b, _) = self.session_block_cached(site.id, day, v.value())?;
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

    fn breakdown(
        &self,
        site: &str,
        f: &Filters,
        limit: Option<usize>,
        group: Group,
    ) -> Result<Breakdown> {
        self.breakdown_with(site, f, limit, group, true)
    }

    /// A breakdown; distinct visitors are counted only when `visitors`.
    fn breakdown_with(
        &self,
        site: &str,
        f: &Filters,
        limit: Option<usize>,
        group: Group,
        visitors: bool,
    ) -> Result<Breakdown> {
        f.check()?;
        let mut out = Breakdown::default();
        let Some(site) = self.site(site)? else {
            return Ok(out);
        };
        // Whole days come from the blocks' aggregates when the filters
        // allow; the other days (range edges) are read session by session.
        let use_agg = block_agg_usable(&site, f);
        let ids = self.cache.dense_ids(site.id);
        let mut groups_of: Vec<Arc<Vec<GroupEntry>>> = Vec::new();
        let mut cohorts_of: Vec<Arc<Cohorts>> = Vec::new();
        let mut edge_blocks: Vec<(Arc<SessionBlock>, Vec<usize>)> = Vec::new();
        if use_agg {
            let (lo, hi) = day_span(f.from, f.to);
            if lo <= hi {
                for e in self.t.blocks.range((site.id, lo)..=(site.id, hi))? {
                    let (k, v) = e?;
                    let day = k.value().1;
                    let bytes = v.value();
                    let (b, key) = self.session_block_cached(site.id, day, bytes)?;
                    let c = cohorts(self, &ids, site.id, day, key, &b)?;
                    if c.exact && matches!(cover(f, day), Cover::Day) {
                        let g = groups(
                            self,
                            &ids,
                            (site.id, day),
                            (key, group.code()),
                            &b,
                            &|b, i| group.id(b, i),
                            &|b, id| group.name(b, id),
                        )?;
                        groups_of.push(g);
                        cohorts_of.push(c);
                    } else {
                        let matched = (0..b.len())
                            .filter(|&i| session_filter_ok(f, &b, i))
                            .collect();
                        edge_blocks.push((b, matched));
                    }
                }
            }
        } else {
            self.for_blocks(&site, f, &mut |b, matched| {
                edge_blocks.push((Arc::clone(b), matched.to_vec()));
            })?;
        }
        // key's number → (sessions, visitors of read sessions, (aggregate, entry))
        type Acc = (u64, Vec<u64>, Vec<(usize, usize)>);
        let mut acc: HashMap<u32, Acc> = HashMap::new();
        let mut all_raw: Vec<u64> = Vec::new();
        for (gi, g) in groups_of.iter().enumerate() {
            for (ei, e) in g.iter().enumerate() {
                if !entry_passes(f, e) {
                    continue;
                }
                let a = acc.entry(e.id).or_default();
                a.0 += e.sessions;
                a.2.push((gi, ei));
            }
        }
        // Per block: group by the block's own ids, then name each group once.
        let mut local: HashMap<u32, (u64, Vec<u64>)> = HashMap::new();
        for (b, matched) in &edge_blocks {
            local.clear();
            for &i in matched {
                let visitor = b.visitors.get(i).copied().unwrap_or_default();
                let a = local.entry(group.id(b, i)).or_default();
                a.0 += 1;
                a.1.push(visitor);
                all_raw.push(visitor);
            }
            for (id, (n, vs)) in local.drain() {
                let a = acc.entry(ids.name_id(&group.name(b, id))).or_default();
                a.0 += n;
                a.1.extend(vs);
            }
        }
        let mut rows: Vec<(BreakdownRow, Acc)> = acc
            .into_iter()
            .map(|(id, a)| {
                (
                    BreakdownRow {
                        key: ids.name(id).to_string(),
                        sessions: a.0,
                        visitors: 0,
                    },
                    a,
                )
            })
            .collect();
        out.sessions = rows.iter().map(|r| r.0.sessions).sum();
        top(&mut rows, limit, |r| {
            (Reverse(r.0.sessions), r.0.key.clone())
        });
        if visitors {
            for (row, a) in &mut rows {
                let mut v = Visitors {
                    raw: std::mem::take(&mut a.1),
                    ..Visitors::default()
                };
                for &(gi, ei) in &a.2 {
                    if let Some(e) = groups_of.get(gi).and_then(|g| g.get(ei)) {
                        v.lists.push(&e.visitors);
                    }
                }
                row.visitors = v.len(&ids);
            }
            let mut all = Visitors {
                raw: all_raw,
                ..Visitors::default()
            };
            for c in &cohorts_of {
                all.lists.extend(c.visitors(f));
            }
            out.visitors = all.len(&ids);
        }
        out.rows = rows.into_iter().map(|(r, _)| r).collect();
        Ok(out)
    }

    /// Sessions per bucket of a series (by their first pageview).
    pub(crate) fn series_sessions(
        &self,
        site: &SiteRef,
        f: &Filters,
        ids: &DenseIds,
        bucket: &dyn Fn(i64) -> i64,
        acc: &mut std::collections::BTreeMap<i64, super::events::Bucket<'_>>,
    ) -> Result<()> {
        if !block_agg_usable(site, f) {
            for s in self.matching_sessions(site, f)? {
                acc.entry(bucket(s.first_ts)).or_default().sessions += 1;
            }
            return Ok(());
        }
        let (lo, hi) = day_span(f.from, f.to);
        if lo > hi {
            return Ok(());
        }
        for e in self.t.blocks.range((site.id, lo)..=(site.id, hi))? {
            let (k, v) = e?;
            let day = k.value().1;
            let bytes = v.value();
            let (b, key) = self.session_block_cached(site.id, day, bytes)?;
            let c = cohorts(self, ids, site.id, day, key, &b)?;
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
                        if session_filter_ok(f, &b, i) {
                            let t = b.first_ts.get(i).copied().unwrap_or_default();
                            acc.entry(bucket(t)).or_default().sessions += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Sessions per referrer host, domain, channel or campaign field.
    pub fn referrers(
        &self,
        site: &str,
        filters: &Filters,
        by: ReferrerBy,
        limit: Option<usize>,
    ) -> Result<Breakdown> {
        crate::guard::guarded("reading a report (referrers)", || {
            let group = match by {
                ReferrerBy::Host => Group::Field(SField::RefHost, NONE),
                ReferrerBy::Domain => Group::Field(SField::RefDomain, NONE),
                ReferrerBy::Channel => Group::Channel,
                ReferrerBy::UtmSource => Group::Field(SField::UtmSource, NONE),
                ReferrerBy::UtmMedium => Group::Field(SField::UtmMedium, NONE),
                ReferrerBy::UtmCampaign => Group::Field(SField::UtmCampaign, NONE),
            };
            self.breakdown(site, filters, limit, group)
        })
    }

    /// Sessions per device class, browser, OS, screen, language or zone.
    pub fn devices(
        &self,
        site: &str,
        filters: &Filters,
        by: DeviceBy,
        limit: Option<usize>,
    ) -> Result<Breakdown> {
        crate::guard::guarded("reading a report (devices)", || {
            let group = match by {
                DeviceBy::Class => Group::Device,
                DeviceBy::Browser => Group::Field(SField::Browser, UNKNOWN),
                DeviceBy::Os => Group::Field(SField::Os, UNKNOWN),
                DeviceBy::Screen => Group::Field(SField::Screen, UNKNOWN),
                DeviceBy::Lang => Group::Field(SField::Lang, UNKNOWN),
                DeviceBy::Tz => Group::Field(SField::Tz, UNKNOWN),
            };
            self.breakdown(site, filters, limit, group)
        })
    }

    /// Sessions per entry page (pages report).
    pub(crate) fn entry_counts(&self, site: &str, f: &Filters) -> Result<HashMap<String, u64>> {
        let b = self.breakdown_with(site, f, None, Group::Field(SField::EntryPage, "/"), false)?;
        Ok(b.rows
            .into_iter()
            .filter(|r| f.page.as_deref().is_none_or(|p| p == r.key))
            .map(|r| (r.key, r.sessions))
            .collect())
    }

    /// The sessions matching the filters, e.g. those that clicked one
    /// element (`filters.selector`): from a heatmap to its recordings.
    pub fn sessions(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<SessionList> {
        crate::guard::guarded("reading a report (sessions)", || {
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
        })
    }

    /// Replay by a session key from [`SessionSummary::session`].
    pub fn session_events_by_key(&self, site: &str, key: &str) -> Result<Vec<StoredEvent>> {
        crate::guard::guarded("reading a report (session events by key)", || {
            let hash = u64::from_str_radix(key, 16).map_err(|_| {
                Error::InvalidArgument(format!("session key {key:?} is not 16 hex digits"))
            })?;
            let Some(site) = self.site(site)? else {
                return Ok(Vec::new());
            };
            self.session_events_by_hash(&site, hash)
        })
    }
}
