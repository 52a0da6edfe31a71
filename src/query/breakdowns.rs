//! Referrer and device breakdowns: sessions and visitors per group.

use super::agg::{
    aggregates_answer, cohorts, cover, entry_hidden, entry_passes, field_code, groups, Answers,
    Cohorts, Cover, GroupEntry, Visitors,
};
use super::sessions::session_filter_ok;
use super::{top, DeviceBy, Filters, ReferrerBy};
use crate::error::Result;
use crate::normalize::{Channel, DeviceClass};
use crate::read::View;
use crate::storage::sessions::{SField, SessionBlock};
use crate::time::day_span;
use foldhash::{HashMap, HashMapExt};
use serde::Serialize;
use std::cmp::Reverse;
use std::sync::Arc;

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

/// What a breakdown groups sessions by.
#[derive(Clone, Copy)]
pub(crate) enum Group {
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

impl View {
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
    pub(crate) fn breakdown_with(
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
        let use_agg = aggregates_answer(&site, f, Answers::default());
        let ids = self.cache.dense_ids(site.id);
        let mut groups_of: Vec<Arc<Vec<GroupEntry>>> = Vec::new();
        let mut cohorts_of: Vec<Arc<Cohorts>> = Vec::new();
        let mut edge_blocks: Vec<(Arc<SessionBlock>, Vec<usize>)> = Vec::new();
        if use_agg {
            let (lo, hi) = day_span(f.from, f.to);
            {
                for (day, b, key) in self.blocks_in(site.id, lo, hi)? {
                    let c = cohorts(self, &ids, &site.hidden, (site.id, day), key, &b)?;
                    if c.exact && matches!(cover(f, day), Cover::Day) {
                        let g = groups(
                            self,
                            &ids,
                            &site.hidden,
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
                            .filter(|&i| {
                                session_filter_ok(f, &b, i)
                                    && (site.hidden.is_empty()
                                        || !entry_hidden(&site.hidden, &b, i))
                            })
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

    /// Sessions per referrer host, domain, channel or campaign field.
    pub(crate) fn referrers(
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
    pub(crate) fn devices(
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
        let b = self.breakdown_with(site, f, None, Group::Field(SField::EntryPage, "/"), false)?;
        Ok(b.rows
            .into_iter()
            .filter(|r| f.page.as_deref().is_none_or(|p| p == r.key))
            .map(|r| (r.key, r.sessions))
            .collect())
    }
}
