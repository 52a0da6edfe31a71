//! Session reports: referrers, devices, entry pages, the session list.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::cmp::Reverse;

use serde::Serialize;

use super::scan::{day_span, scan};
use super::{top, DeviceBy, Filters, ReferrerBy};
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
        visit: &mut dyn FnMut(&SessionBlock, &[usize]),
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
            let b = self.session_block_cached(site.id, day, v.value())?;
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
        f.check()?;
        let mut out = Breakdown::default();
        let Some(site) = self.site(site)? else {
            return Ok(out);
        };
        let mut acc: HashMap<String, (u64, HashSet<u64>)> = HashMap::new();
        let mut visitors = HashSet::new();
        // Per block: group by the block's own ids, then name each group once.
        let mut local: HashMap<u32, (u64, Vec<u64>)> = HashMap::new();
        self.for_blocks(&site, f, &mut |b, matched| {
            local.clear();
            for &i in matched {
                let visitor = b.visitors.get(i).copied().unwrap_or_default();
                let a = local.entry(group.id(b, i)).or_default();
                a.0 += 1;
                a.1.push(visitor);
                visitors.insert(visitor);
            }
            for (id, (n, vs)) in local.drain() {
                let a = acc.entry(group.name(b, id)).or_default();
                a.0 += n;
                a.1.extend(vs);
            }
        })?;
        out.rows = acc
            .into_iter()
            .map(|(key, (sessions, v))| BreakdownRow {
                key,
                sessions,
                visitors: v.len() as u64,
            })
            .collect();
        out.sessions = out.rows.iter().map(|r| r.sessions).sum();
        out.visitors = visitors.len() as u64;
        top(&mut out.rows, limit, |r| {
            (Reverse(r.sessions), r.key.clone())
        });
        Ok(out)
    }

    /// Sessions per referrer host, domain, channel or campaign field.
    pub fn referrers(
        &self,
        site: &str,
        filters: &Filters,
        by: ReferrerBy,
        limit: Option<usize>,
    ) -> Result<Breakdown> {
        let group = match by {
            ReferrerBy::Host => Group::Field(SField::RefHost, NONE),
            ReferrerBy::Domain => Group::Field(SField::RefDomain, NONE),
            ReferrerBy::Channel => Group::Channel,
            ReferrerBy::UtmSource => Group::Field(SField::UtmSource, NONE),
            ReferrerBy::UtmMedium => Group::Field(SField::UtmMedium, NONE),
            ReferrerBy::UtmCampaign => Group::Field(SField::UtmCampaign, NONE),
        };
        self.breakdown(site, filters, limit, group)
    }

    /// Sessions per device class, browser, OS, screen, language or zone.
    pub fn devices(
        &self,
        site: &str,
        filters: &Filters,
        by: DeviceBy,
        limit: Option<usize>,
    ) -> Result<Breakdown> {
        let group = match by {
            DeviceBy::Class => Group::Device,
            DeviceBy::Browser => Group::Field(SField::Browser, UNKNOWN),
            DeviceBy::Os => Group::Field(SField::Os, UNKNOWN),
            DeviceBy::Screen => Group::Field(SField::Screen, UNKNOWN),
            DeviceBy::Lang => Group::Field(SField::Lang, UNKNOWN),
            DeviceBy::Tz => Group::Field(SField::Tz, UNKNOWN),
        };
        self.breakdown(site, filters, limit, group)
    }

    /// Sessions per entry page (pages report).
    pub(crate) fn entry_counts(&self, site: &str, f: &Filters) -> Result<HashMap<String, u64>> {
        let b = self.breakdown(site, f, None, Group::Field(SField::EntryPage, "/"))?;
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
        filters.check()?;
        let mut out = SessionList::default();
        let Some(site) = self.site(site)? else {
            return Ok(out);
        };
        self.for_sessions(&site, filters, &mut |b, i| {
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
        out.total = out.rows.len() as u64;
        out.rows
            .sort_by(|a, b| (a.first_ts, &a.session).cmp(&(b.first_ts, &b.session)));
        if let Some(l) = limit {
            out.rows.truncate(l);
        }
        Ok(out)
    }

    /// Replay by a session key from [`SessionSummary::session`].
    pub fn session_events_by_key(&self, site: &str, key: &str) -> Result<Vec<StoredEvent>> {
        let hash = u64::from_str_radix(key, 16).map_err(|_| {
            Error::InvalidArgument(format!("session key {key:?} is not 16 hex digits"))
        })?;
        let Some(site) = self.site(site)? else {
            return Ok(Vec::new());
        };
        self.session_events_by_hash(&site, hash)
    }
}
