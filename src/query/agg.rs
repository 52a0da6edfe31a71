//! Mergeable intermediate aggregates, computed lazily per partition (or per
//! day's session block) and kept in the store's cache of decoded data.
//!
//! An aggregate is keyed like the data it is computed from (partition
//! version, or the session block's content hash), so it can never be stale.
//! It is computed with fixed filters (bots left out or kept apart) and a
//! report uses it only when its own filters select exactly what the
//! aggregate holds over a partition its range covers whole (or whole hours
//! of it); otherwise the report scans that partition. Pending deletion
//! requests keep the fast path: a partition (or session block) whose day
//! holds no hidden row uses its aggregate as it is; one whose day does
//! uses an aggregate computed without the hidden rows, cached under the
//! key of what is hidden ([`Hidden::key`]), so that only the days a
//! request touches are computed again when requests change. Distinct visitors are kept as roaring bitmaps of their numbers
//! in the site's in-memory numbering ([`DenseIds`]), so that a report over
//! many partitions counts a union of bitmaps rather than hashing every
//! visitor; aggregates are cached under the numbering's generation. Nothing
//! here is persistent.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use roaring::RoaringBitmap;

use super::scan::{filter_rows, hide, SegCtx};
use super::Filters;
use crate::cache::numbering::{bitmap_of, sorted_ids, DenseIds};
use crate::error::Result;
use crate::normalize::DeviceClass;
use crate::read::{PartitionView, SiteRef, View};
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::storage::sessions::{SField, SessionBlock};
use crate::storage::tombstones::Hidden;
use crate::storage::{day_start, DAY_MS, HOUR_MS};
use crate::EventKind;

/// Visitor bitmaps and numbers of aggregates and loose hashes, counted as
/// one union.
#[derive(Default)]
pub(crate) struct Visitors<'a> {
    /// Hashes from scanned rows, unsorted, with repeats.
    pub raw: Vec<u64>,
    /// Bitmaps from aggregates numbered in the report's [`DenseIds`].
    pub lists: Vec<&'a RoaringBitmap>,
    /// Numbers from aggregates' small cells, unsorted, with repeats.
    pub ids: Vec<u32>,
}

impl Visitors<'_> {
    pub(crate) fn len(self, ids: &DenseIds) -> u64 {
        ids.count(&self.lists, &self.ids, &self.raw)
    }
}

// ------------------------------------------------------ pageview aggregate

/// The pageviews of one partition by cohort (device class and channel of
/// their session, the session attributes whose filters the aggregate
/// answers): per hour of the day and per page.
pub(crate) struct PvAgg {
    /// Every row's time is on the partition's day (always, unless the
    /// stored data says otherwise; then the aggregate is not used).
    pub exact: bool,
    pub cohorts: Vec<PvCohort>,
    /// Every cohort but bots merged: what reports without a device or
    /// channel filter read (one array per page and day, not dozens).
    pub nonbot: PvCohort,
}

/// The cohorts of an aggregate that pass the filters: the merged
/// non-bot one when the filters leave only bots out, else each cohort
/// whose (device class, channel), as `split` gives them, passes.
pub(crate) fn select_cohorts<'a, C, T>(
    f: &'a Filters,
    nonbot: &'a T,
    cohorts: &'a [C],
    split: impl Fn(&'a C) -> (u8, u64, &'a T) + 'a,
) -> Box<dyn Iterator<Item = &'a T> + 'a> {
    if default_cohorts(f) {
        Box::new(std::iter::once(nonbot))
    } else {
        Box::new(cohorts.iter().filter_map(move |c| {
            let (device, channel, t) = split(c);
            rows_pass(f, device, channel).then_some(t)
        }))
    }
}

/// Whether the filters leave only bots out (no device or channel filter).
pub(crate) fn default_cohorts(f: &Filters) -> bool {
    f.device.is_none() && f.channel.is_none() && !f.include_bots
}

impl PvAgg {
    /// The cohorts that pass the filters.
    pub(super) fn select<'a>(
        &'a self,
        f: &'a Filters,
    ) -> Box<dyn Iterator<Item = &'a PvCohort> + 'a> {
        if default_cohorts(f) {
            Box::new(std::iter::once(&self.nonbot))
        } else {
            Box::new(self.cohorts.iter().filter(move |c| c.passes(f)))
        }
    }
}

/// Merges cohorts into one.
fn merge(cohorts: &[&PvCohort]) -> PvCohort {
    let mut hours: Vec<(u64, RoaringBitmap)> = vec![(0, RoaringBitmap::new()); 24];
    let mut visitors = RoaringBitmap::new();
    let mut pages: HashMap<u32, PageAgg> = HashMap::new();
    for c in cohorts {
        for (slot, (n, v)) in hours.iter_mut().zip(&c.hours) {
            slot.0 += n;
            slot.1 |= v;
        }
        visitors |= &c.visitors;
        for p in &c.pages {
            let a = pages.entry(p.id).or_insert_with(|| PageAgg {
                id: p.id,
                pageviews: 0,
                load_sum: 0,
                load_n: 0,
                visitors: RoaringBitmap::new(),
                hours: Vec::new(),
            });
            a.pageviews += p.pageviews;
            a.load_sum = a.load_sum.saturating_add(p.load_sum);
            a.load_n = a.load_n.saturating_add(p.load_n);
            a.visitors |= &p.visitors;
            a.hours.extend(p.hours.iter().cloned());
        }
    }
    let pages = pages
        .into_values()
        .map(|mut p| {
            p.hours = merge_hours(std::mem::take(&mut p.hours));
            p
        })
        .collect();
    PvCohort {
        device: NO_DEVICE,
        channel: u64::MAX,
        hours,
        visitors,
        pages,
    }
    .sorted()
}

/// The pageviews of one cohort of one partition.
pub(crate) struct PvCohort {
    /// Device class code of the rows (`NO_DEVICE`: in no device index).
    pub device: u8,
    /// Channel as the per-session attribute codes hold it (code + 1).
    pub channel: u64,
    /// Per hour of the day: pageviews and distinct visitors.
    pub hours: Vec<(u64, RoaringBitmap)>,
    /// Distinct visitors of the day.
    pub visitors: RoaringBitmap,
    /// Per page.
    pub pages: Vec<PageAgg>,
}

pub(crate) const NO_DEVICE: u8 = u8::MAX;

impl PvCohort {
    /// With its pages in number order, as [`PvCohort::page`] needs.
    fn sorted(mut self) -> PvCohort {
        self.pages.sort_unstable_by_key(|p| p.id);
        self
    }

    /// The page numbered `id`, if it has pageviews.
    pub(super) fn page(&self, id: u32) -> Option<&PageAgg> {
        let i = self.pages.binary_search_by_key(&id, |p| p.id).ok()?;
        self.pages.get(i)
    }

    /// Whether the rows pass the device, bot and channel filters, as the
    /// scan's bitmap algebra decides for each of them.
    pub(super) fn passes(&self, f: &Filters) -> bool {
        rows_pass(f, self.device, self.channel)
    }
}

/// Whether rows of a device class code (`NO_DEVICE`: in no device index)
/// and channel (as the per-session attribute codes hold it: code + 1) pass
/// the device, bot and channel filters, as the scan's bitmap algebra
/// decides for each of them.
pub(crate) fn rows_pass(f: &Filters, device: u8, channel: u64) -> bool {
    let device_ok = match f.device {
        Some(d) => device == d.code(),
        None => f.include_bots || device != DeviceClass::Bot.code(),
    };
    device_ok && f.channel.is_none_or(|c| u64::from(c.code()) + 1 == channel)
}

/// The device class code of each row of a segment (`NO_DEVICE` for rows
/// in no device index).
/// Cached with the segment's columns: reports over today re-read its
/// sealed segments after every commit, and walking the device bitmaps row
/// by row was a fifth of a report's time under live ingest.
pub(crate) fn row_devices(ctx: &SegCtx<'_>) -> Result<std::sync::Arc<Vec<u8>>> {
    ctx.cached(crate::query::scan::ROW_DEVICES, || {
        let mut device = vec![NO_DEVICE; ctx.seg.rows as usize];
        for (d, bm) in ctx.bitmaps(col::BM_DEVICE)?.iter() {
            let code = u8::try_from(*d).unwrap_or(NO_DEVICE - 1);
            for r in bm {
                if let Some(slot) = device.get_mut(r as usize) {
                    *slot = code;
                }
            }
        }
        let size = device.len() + 64;
        Ok((device, size))
    })
}

/// The pageviews of one page in one cohort of one partition.
pub(crate) struct PageAgg {
    /// The name's number in the report's [`DenseIds`].
    pub id: u32,
    pub pageviews: u64,
    pub load_sum: u64,
    pub load_n: u64,
    /// Distinct visitors.
    pub visitors: RoaringBitmap,
    /// The same per hour of the day (hours with pageviews only, in order),
    /// for days a range covers by whole hours.
    pub hours: Vec<PageHour>,
}

/// The pageviews of one page in one hour of one cohort of one partition.
#[derive(Clone, Default)]
pub(crate) struct PageHour {
    pub hour: u8,
    pub pageviews: u64,
    pub load_sum: u64,
    pub load_n: u64,
    /// Sorted distinct visitor numbers (a few per cell: a plain array).
    pub visitors: Vec<u32>,
}

impl PageHour {
    fn add(&mut self, o: &PageHour) {
        self.pageviews += o.pageviews;
        self.load_sum = self.load_sum.saturating_add(o.load_sum);
        self.load_n = self.load_n.saturating_add(o.load_n);
        self.visitors.extend_from_slice(&o.visitors);
    }
}

impl PageAgg {
    /// The page's cells of the hours set in `hours`.
    pub(super) fn cells<'a>(&'a self, hours: &'a [bool; 24]) -> impl Iterator<Item = &'a PageHour> {
        self.hours
            .iter()
            .filter(|c| hours.get(usize::from(c.hour)).copied().unwrap_or(false))
    }
}

/// Cells of several cohorts merged per hour, in hour order.
fn merge_hours(mut cells: Vec<PageHour>) -> Vec<PageHour> {
    cells.sort_by_key(|c| c.hour);
    let mut out: Vec<PageHour> = Vec::new();
    for c in cells {
        match out.last_mut() {
            Some(last) if last.hour == c.hour => last.add(&c),
            _ => out.push(c),
        }
    }
    for c in &mut out {
        c.visitors.sort_unstable();
        c.visitors.dedup();
    }
    out
}

/// Which event filters an aggregate answers besides those every aggregate
/// answers (the range, by whole days or hours; device class; channel;
/// bots).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Answers {
    pub page: bool,
    pub kind: bool,
    pub selector: bool,
}

/// Whether aggregates answer these filters exactly, on the partitions
/// their range covers: the one rule every report that reads aggregates
/// goes by. None answers a browser, OS or referrer filter (session
/// attributes they do not split by), nor rows hidden by a deletion request
/// that is not erased yet, which the aggregates of the days those rows are
/// on leave out (see the module documentation).
pub(crate) fn aggregates_answer(_site: &SiteRef, f: &Filters, a: Answers) -> bool {
    f.browser.is_none()
        && f.os.is_none()
        && f.referrer.is_none()
        && (a.page || f.page.is_none())
        && (a.kind || f.kind.is_none())
        && (a.selector || f.selector.is_none())
}

/// How a time range covers one day.
#[derive(Clone, Copy)]
pub(crate) enum Cover {
    /// The whole day.
    Day,
    /// Whole hours (those set), the others not at all.
    Hours([bool; 24]),
    /// Part of an hour.
    Partial,
}

pub(crate) fn cover(f: &Filters, day: i32) -> Cover {
    let start = day_start(day);
    let from = f.from.unwrap_or(i64::MIN);
    let to = f.to.unwrap_or(i64::MAX);
    if from <= start && to >= start.saturating_add(DAY_MS) {
        return Cover::Day;
    }
    let mut hours = [false; 24];
    for (h, slot) in hours.iter_mut().enumerate() {
        let h0 = start + h as i64 * HOUR_MS;
        let h1 = h0 + HOUR_MS;
        if from <= h0 && h1 <= to {
            *slot = true;
        } else if h1 > from && h0 < to {
            return Cover::Partial;
        }
    }
    Cover::Hours(hours)
}

/// One cohort being summed (visitors by number).
#[derive(Default)]
struct CohortAcc {
    hours: Vec<(u64, Vec<u32>)>,
    visitors: Vec<u32>,
    // (page id, hour) → (pageviews, load sum, load n, visitors)
    pages: HashMap<(u32, u8), PageAcc>,
}

/// Pageviews, load sum, load count and visitor numbers being summed.
type PageAcc = (u64, u64, u64, Vec<u32>);

/// Estimated bytes of a page's aggregate in memory.
fn page_bytes(p: &PageAgg) -> usize {
    let cells: usize = p.hours.iter().map(|c| c.visitors.len() * 4 + 64).sum();
    bitmap_bytes(&p.visitors) + 64 + cells
}

/// Estimated bytes of a bitmap in memory.
fn bitmap_bytes(b: &RoaringBitmap) -> usize {
    b.serialized_size() + 32
}

/// The pageview aggregate of a partition, computed on first use, its
/// visitors numbered in `ids`, without the rows `hidden` hides.
pub(crate) fn pv_agg(
    snap: &View,
    hidden: &Hidden,
    part: &PartitionView,
    ids: &DenseIds,
) -> Result<Arc<PvAgg>> {
    let hidden_key = hidden.key_on(part.day);
    snap.cache.get_or_try(
        crate::cache::Key::PvAgg {
            part: part.key(),
            generation: ids.generation,
            hidden: hidden_key,
        },
        || {
            let start = day_start(part.day);
            let mut exact = true;
            let mut acc: HashMap<(u8, u64), CohortAcc> = HashMap::new();
            let base = Filters {
                include_bots: true,
                ..Filters::default()
            };
            for seg in &part.segments {
                let ctx = SegCtx::new(snap, part, seg);
                let mut rows = filter_rows(&ctx, &base, Some(&[EventKind::Pageview]))?;
                if hidden_key != 0 && !rows.is_empty() {
                    rows = hide(&ctx, hidden, rows)?;
                }
                if rows.is_empty() {
                    continue;
                }
                let runs = ctx.runs()?;
                // Each session's visitor numbered once, not each row's.
                let visitor = ids.number_each(&runs.visitors);
                let codes = ctx.session_attrs()?;
                let ts = ctx.ts()?;
                let page_ids = ctx.page_ids()?;
                let loads = ctx.opt(col::LOAD_MS)?;
                let device = row_devices(&ctx)?;
                let mut si = 0usize;
                for r in &rows {
                    while runs.starts.get(si + 1).is_some_and(|&s| s <= r) {
                        si += 1;
                    }
                    let v = visitor.get(si).copied().unwrap_or_default();
                    let channel = codes.get(si).map_or(0, |c| c[3]);
                    let d = device.get(r as usize).copied().unwrap_or(NO_DEVICE);
                    let off = ts.get(r as usize).copied().unwrap_or_default() - start;
                    if !(0..DAY_MS).contains(&off) {
                        exact = false;
                        continue;
                    }
                    let c = acc.entry((d, channel)).or_insert_with(|| CohortAcc {
                        hours: vec![(0, Vec::new()); 24],
                        ..CohortAcc::default()
                    });
                    let h = (off / HOUR_MS) as u8;
                    if let Some(hour) = c.hours.get_mut(usize::from(h)) {
                        hour.0 += 1;
                        hour.1.push(v);
                    }
                    c.visitors.push(v);
                    let p = page_ids.get(r as usize).copied().unwrap_or(u32::MAX);
                    let a = c.pages.entry((p, h)).or_default();
                    a.0 += 1;
                    if let Some(l) = loads.get(r) {
                        a.1 = a.1.saturating_add(l);
                        a.2 += 1;
                    }
                    a.3.push(v);
                }
            }
            let mut size = 256;
            let mut cohorts = Vec::with_capacity(acc.len());
            for ((device, channel), c) in acc {
                let hours: Vec<(u64, RoaringBitmap)> = c
                    .hours
                    .into_iter()
                    .map(|(n, v)| {
                        let v = bitmap_of(v);
                        size += bitmap_bytes(&v);
                        (n, v)
                    })
                    .collect();
                let visitors = bitmap_of(c.visitors);
                size += bitmap_bytes(&visitors) + 96;
                // Per page: its hours' cells, then the whole day.
                let mut by_page: HashMap<u32, Vec<(PageHour, Vec<u32>)>> = HashMap::new();
                for ((id, hour), (pageviews, load_sum, load_n, v)) in c.pages {
                    let cell = PageHour {
                        hour,
                        pageviews,
                        load_sum,
                        load_n,
                        visitors: Vec::new(),
                    };
                    by_page.entry(id).or_default().push((cell, v));
                }
                let mut pages = Vec::with_capacity(by_page.len());
                for (id, mut cells) in by_page {
                    cells.sort_by_key(|c| c.0.hour);
                    let name = part.dicts.resolve(Dim::Page, u64::from(id))?;
                    let all: Vec<u32> = cells.iter().flat_map(|c| c.1.iter().copied()).collect();
                    let mut day = PageHour::default();
                    let mut hours = Vec::with_capacity(cells.len());
                    for (mut cell, v) in cells {
                        cell.visitors = sorted_ids(v);
                        day.add(&cell);
                        hours.push(cell);
                    }
                    let page = PageAgg {
                        id: ids.name_id(name),
                        pageviews: day.pageviews,
                        load_sum: day.load_sum,
                        load_n: day.load_n,
                        visitors: bitmap_of(all),
                        hours,
                    };
                    size += page_bytes(&page);
                    pages.push(page);
                }

                cohorts.push(
                    PvCohort {
                        device,
                        channel,
                        hours,
                        visitors,
                        pages,
                    }
                    .sorted(),
                );
            }
            let nonbot = merge(
                &cohorts
                    .iter()
                    .filter(|c| c.device != DeviceClass::Bot.code())
                    .collect::<Vec<_>>(),
            );
            size += bitmap_bytes(&nonbot.visitors) * 2
                + nonbot.pages.iter().map(page_bytes).sum::<usize>();
            Ok((
                PvAgg {
                    exact,
                    cohorts,
                    nonbot,
                },
                size,
            ))
        },
    )
}

// ------------------------------------------------- session-block aggregates

/// The sessions of one day's block by (device class, channel), the only
/// session attributes with a filter the aggregates answer.
pub(crate) struct Cohorts {
    /// Every session's first pageview is on the block's day.
    pub exact: bool,
    pub list: Vec<Cohort>,
    /// Distinct visitors of every cohort but bots.
    pub nonbot_visitors: RoaringBitmap,
}

impl Cohorts {
    /// Visitor bitmaps of the sessions passing the filters.
    pub(super) fn visitors<'a>(&'a self, f: &Filters) -> Vec<&'a RoaringBitmap> {
        if default_cohorts(f) {
            return vec![&self.nonbot_visitors];
        }
        self.list
            .iter()
            .filter(|c| cohort_passes(f, c.device, c.channel))
            .map(|c| &c.visitors)
            .collect()
    }
}

pub(crate) struct Cohort {
    pub device: u8,
    pub channel: u8,
    /// Sessions per hour of the day (of their first pageview).
    pub hours: [u64; 24],
    /// Distinct visitors.
    pub visitors: RoaringBitmap,
}

/// One group of a breakdown within one cohort of one block.
pub(crate) struct GroupEntry {
    /// Every cohort but bots merged (device and channel then unused).
    pub merged: bool,
    pub device: u8,
    pub channel: u8,
    /// The name's number in the report's [`DenseIds`].
    pub id: u32,
    pub sessions: u64,
    /// Distinct visitors.
    pub visitors: RoaringBitmap,
}

/// Whether a group entry is the one to read under these filters.
pub(crate) fn entry_passes(f: &Filters, e: &GroupEntry) -> bool {
    if default_cohorts(f) {
        e.merged
    } else {
        !e.merged && cohort_passes(f, e.device, e.channel)
    }
}

/// Whether a cohort passes the device, bot and channel filters, as
/// `session_filter_ok` decides for each of its sessions.
pub(crate) fn cohort_passes(f: &Filters, device: u8, channel: u8) -> bool {
    let d = DeviceClass::from_code(device).unwrap_or_default();
    let device_ok = match f.device {
        Some(want) => want == d,
        None => f.include_bots || d != DeviceClass::Bot,
    };
    device_ok && f.channel.is_none_or(|c| c.code() == channel)
}

/// The content key of a stored session block.
pub(crate) fn block_key(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5e55).hash_one(bytes)
}

/// Whether entry `i` of a block is hidden (by its session, visitor or
/// first pageview's time).
pub(crate) fn entry_hidden(hidden: &Hidden, b: &SessionBlock, i: usize) -> bool {
    hidden.session_hidden(
        b.hashes.get(i).copied().unwrap_or_default(),
        b.visitors.get(i).copied().unwrap_or_default(),
    ) || hidden.ts_hidden(b.first_ts.get(i).copied().unwrap_or_default())
}

/// The sessions of the `day`'s block of `site`, by cohort, without those
/// `hidden` hides.
pub(crate) fn cohorts(
    snap: &View,
    ids: &DenseIds,
    hidden: &Hidden,
    (site, day): (u32, i32),
    key: u64,
    b: &SessionBlock,
) -> Result<Arc<Cohorts>> {
    let block = crate::cache::BlockKey {
        site,
        day,
        version: key,
    };
    let hidden_key = hidden.key_on(day);
    snap.cache.get_or_try(
        crate::cache::Key::Cohorts {
            block,
            generation: ids.generation,
            hidden: hidden_key,
        },
        || {
            let start = day_start(day);
            let mut exact = true;
            let mut map: HashMap<(u8, u8), ([u64; 24], Vec<u32>)> = HashMap::new();
            let visitor = ids.number_each(&b.visitors);
            for i in 0..b.len() {
                if hidden_key != 0 && entry_hidden(hidden, b, i) {
                    continue;
                }
                let device = b.device.get(i).copied().unwrap_or_default();
                let channel = b.channel.get(i).copied().unwrap_or_default();
                let off = b.first_ts.get(i).copied().unwrap_or_default() - start;
                if !(0..DAY_MS).contains(&off) {
                    exact = false;
                    continue;
                }
                let e = map.entry((device, channel)).or_default();
                if let Some(h) = e.0.get_mut((off / HOUR_MS) as usize) {
                    *h += 1;
                }
                e.1.push(visitor.get(i).copied().unwrap_or_default());
            }
            let mut size = 64;
            let nonbot: Vec<u32> = map
                .iter()
                .filter(|((d, _), _)| *d != DeviceClass::Bot.code())
                .flat_map(|(_, (_, v))| v.iter().copied())
                .collect();
            let nonbot_visitors = bitmap_of(nonbot);
            size += bitmap_bytes(&nonbot_visitors);
            let list = map
                .into_iter()
                .map(|((device, channel), (hours, v))| {
                    let visitors = bitmap_of(v);
                    size += bitmap_bytes(&visitors) + 224;
                    Cohort {
                        device,
                        channel,
                        hours,
                        visitors,
                    }
                })
                .collect();
            Ok((
                Cohorts {
                    exact,
                    list,
                    nonbot_visitors,
                },
                size,
            ))
        },
    )
}

/// The per-cohort groups of one block, the `day`'s of `site`. `key` is the
/// block's content key and a code telling groupings apart in the cache;
/// `id` and `name` are the grouping's.
#[allow(clippy::too_many_arguments)]
pub(crate) fn groups(
    snap: &View,
    ids: &DenseIds,
    hidden: &Hidden,
    (site, day): (u32, i32),
    key: (u64, u8),
    b: &SessionBlock,
    id: &dyn Fn(&SessionBlock, usize) -> u32,
    name: &dyn Fn(&SessionBlock, u32) -> String,
) -> Result<Arc<Vec<GroupEntry>>> {
    let block = crate::cache::BlockKey {
        site,
        day,
        version: key.0,
    };
    let hidden_key = hidden.key_on(day);
    snap.cache.get_or_try(
        crate::cache::Key::Groups {
            block,
            field: key.1,
            generation: ids.generation,
            hidden: hidden_key,
        },
        || {
            let start = day_start(day);
            let mut map: HashMap<(u8, u8, u32), (u64, Vec<u32>)> = HashMap::new();
            let visitor = ids.number_each(&b.visitors);
            for i in 0..b.len() {
                if hidden_key != 0 && entry_hidden(hidden, b, i) {
                    continue;
                }
                let off = b.first_ts.get(i).copied().unwrap_or_default() - start;
                if !(0..DAY_MS).contains(&off) {
                    // Not used: `cohorts` marks such a block inexact.
                    continue;
                }
                let device = b.device.get(i).copied().unwrap_or_default();
                let channel = b.channel.get(i).copied().unwrap_or_default();
                let e = map.entry((device, channel, id(b, i))).or_default();
                e.0 += 1;
                e.1.push(visitor.get(i).copied().unwrap_or_default());
            }
            let mut size = 64;
            let mut merged: HashMap<u32, (u64, Vec<u32>)> = HashMap::new();
            for ((device, _, gid), (n, v)) in &map {
                if *device != DeviceClass::Bot.code() {
                    let e = merged.entry(*gid).or_default();
                    e.0 += n;
                    e.1.extend_from_slice(v);
                }
            }
            let merged = merged.into_iter().map(|(gid, e)| ((true, 0, 0, gid), e));
            let list: Vec<GroupEntry> = map
                .into_iter()
                .map(|((device, channel, gid), e)| ((false, device, channel, gid), e))
                .chain(merged)
                .map(|((merged, device, channel, gid), (sessions, v))| {
                    let visitors = bitmap_of(v);
                    let name = name(b, gid);
                    size += bitmap_bytes(&visitors) + 48;
                    GroupEntry {
                        merged,
                        device,
                        channel,
                        id: ids.name_id(&name),
                        sessions,
                        visitors,
                    }
                })
                .collect();
            Ok((list, size))
        },
    )
}

/// The string field a grouping code stands for (for cache items).
pub(crate) fn field_code(f: SField) -> u8 {
    f as u8
}
