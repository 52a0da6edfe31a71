//! The scan engine: partitions in the time range → per-segment row bitmaps
//! from filter algebra → lazily decoded columns of the surviving rows.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::Filters;
use crate::error::Result;
use crate::normalize::DeviceClass;
use crate::read::{PartitionView, SegmentView, SiteRef, View};
use crate::storage::dict::Dim;
use crate::storage::segment::{self, col, OptColumn, SessionRuns};
use crate::storage::tombstones::Hidden;
use crate::storage::{day_start, Corrupt, DAY_MS, HOUR_MS};
use crate::time::day_span;
use crate::EventKind;

/// An optional column decoded for O(1) access: one slot per row,
/// `u32::MAX` where the row has no value.
pub(crate) struct Dense(Vec<u32>);

impl Dense {
    /// Value of one row.
    pub(crate) fn get(&self, row: u32) -> Option<u64> {
        self.get_u32(row).map(u64::from)
    }

    /// Value of one row, as stored.
    pub(crate) fn get_u32(&self, row: u32) -> Option<u32> {
        match self.0.get(row as usize) {
            Some(&v) if v != u32::MAX => Some(v),
            _ => None,
        }
    }

    /// The value of each row in `rows`.
    pub(crate) fn values_of(&self, rows: impl Iterator<Item = u32>) -> Vec<Option<u64>> {
        rows.map(|r| self.get(r)).collect()
    }
}

/// Derived item id of each row's device class code ([`super::agg::row_devices`]):
/// above every column id (`storage::segment::col`, all below 64).
pub(crate) const ROW_DEVICES: u8 = 0xC0;

/// One segment being read: its surviving rows and its decoded columns,
/// fetched from the store's cache (decoded on first use).
pub(crate) struct SegCtx<'a> {
    pub snap: &'a View,
    pub part: &'a PartitionView,
    pub seg: &'a SegmentView,
    pub rows: RoaringBitmap,
    runs: OnceCell<Arc<SessionRuns>>,
    ts: OnceCell<Arc<Vec<i64>>>,
    pages: OnceCell<Arc<Vec<u32>>>,
    kinds: OnceCell<Arc<Vec<(u32, RoaringBitmap)>>>,
}

type Bitmaps = Vec<(u32, RoaringBitmap)>;

fn bitmaps_size(b: &Bitmaps) -> usize {
    b.iter()
        .map(|(_, bm)| bm.serialized_size() + 48)
        .sum::<usize>()
        + 32
}

impl<'a> SegCtx<'a> {
    pub(crate) fn new(snap: &'a View, part: &'a PartitionView, seg: &'a SegmentView) -> SegCtx<'a> {
        SegCtx {
            snap,
            part,
            seg,
            rows: RoaringBitmap::new(),
            runs: OnceCell::new(),
            ts: OnceCell::new(),
            pages: OnceCell::new(),
            kinds: OnceCell::new(),
        }
    }

    fn key(&self, col: u8) -> crate::cache::Key {
        crate::cache::Key::Column {
            part: crate::cache::PartKey {
                site: self.part.site,
                day: self.part.day,
                version: self.seg.cache_version,
            },
            seg: self.seg.slot,
            col,
        }
    }

    /// A decoded column of the segment (`item`: its column id), or
    /// something derived from its columns (one of the `ROW_*` constants
    /// here, which no column id takes), from the cache or built.
    pub(crate) fn cached<T: std::any::Any + Send + Sync>(
        &self,
        item: u8,
        build: impl FnOnce() -> Result<(T, usize)>,
    ) -> Result<Arc<T>> {
        self.snap.cache.get_or_try(self.key(item), build)
    }

    fn column(&self, id: u8) -> Result<Option<Cow<'a, [u8]>>> {
        self.snap.column(self.part, self.seg, id)
    }

    fn need(&self, id: u8) -> Result<Cow<'a, [u8]>> {
        self.snap.need_column(self.part, self.seg, id)
    }

    pub(crate) fn runs(&self) -> Result<&SessionRuns> {
        if let Some(r) = self.runs.get() {
            return Ok(r);
        }
        let r = self.cached(col::SESSIONS, || {
            let r = SessionRuns::decode(&self.need(col::SESSIONS)?, self.seg.rows)?;
            let size = r.hashes.len() * 20 + 64;
            Ok((r, size))
        })?;
        Ok(self.runs.get_or_init(|| r))
    }

    pub(crate) fn ts(&self) -> Result<&[i64]> {
        if let Some(t) = self.ts.get() {
            return Ok(t);
        }
        let t = self.cached(col::TS, || {
            let t = segment::decode_ts(&self.need(col::TS)?, self.runs()?, self.part.day)?;
            let size = t.len() * 8 + 32;
            Ok((t, size))
        })?;
        Ok(self.ts.get_or_init(|| t))
    }

    pub(crate) fn page_ids(&self) -> Result<&[u32]> {
        if let Some(p) = self.pages.get() {
            return Ok(p);
        }
        let p = self.cached(col::PAGE, || {
            let bytes = self.need(col::PAGE)?;
            let mut v = Vec::new();
            crate::storage::codec::decode_uints(
                &mut crate::storage::codec::Reader::new(&bytes, "segment page column"),
                &mut v,
            )?;
            if v.len() != self.seg.rows as usize {
                return Err(Corrupt::new(
                    "segment page column",
                    "length differs from the row count",
                )
                .into());
            }
            let v: Vec<u32> = v
                .into_iter()
                .map(|p| {
                    u32::try_from(p)
                        .map_err(|_| Corrupt::new("segment page column", "page id out of range"))
                })
                .collect::<Result<_, _>>()?;
            let size = v.len() * 4 + 32;
            Ok((v, size))
        })?;
        Ok(self.pages.get_or_init(|| p))
    }

    /// A bitmap set of the segment (`col::BM_*`), decoded once.
    pub(crate) fn bitmaps(&self, id: u8) -> Result<Arc<Bitmaps>> {
        self.cached(id, || {
            let b = segment::decode_bitmaps(&self.need(id)?)?;
            let size = bitmaps_size(&b);
            Ok((b, size))
        })
    }

    /// The rows of one value of a bitmap set (empty when absent).
    pub(crate) fn bitmap_of(&self, id: u8, value: u32) -> Result<RoaringBitmap> {
        let b = self.bitmaps(id)?;
        Ok(b.iter()
            .find(|(v, _)| *v == value)
            .map(|(_, bm)| bm.clone())
            .unwrap_or_default())
    }

    fn kinds(&self) -> Result<&[(u32, RoaringBitmap)]> {
        if let Some(k) = self.kinds.get() {
            return Ok(k);
        }
        let k = self.bitmaps(col::BM_KIND)?;
        Ok(self.kinds.get_or_init(|| k))
    }

    /// Rows of one kind.
    pub(crate) fn kind_rows(&self, kind: EventKind) -> Result<RoaringBitmap> {
        Ok(self
            .kinds()?
            .iter()
            .find(|(k, _)| *k == u32::from(kind.code()))
            .map(|(_, b)| b.clone())
            .unwrap_or_default())
    }

    /// The rows of one kind on one page (a page id of the partition).
    pub(crate) fn kind_page_rows(&self, kind: EventKind, page: u32) -> Result<RoaringBitmap> {
        let mut rows = self.kind_rows(kind)?;
        if !rows.is_empty() {
            rows &= self.bitmap_of(col::BM_PAGE, page)?;
        }
        Ok(rows)
    }

    /// An optional column parsed for random access (`None`: the segment
    /// has no such column).
    fn opt_column(&self, id: u8) -> Result<Option<OptColumn>> {
        let Some(bytes) = self.column(id)? else {
            return Ok(None);
        };
        let kinds = self.kinds()?;
        let kind_rows = |mask: u8| -> Vec<RoaringBitmap> {
            kinds
                .iter()
                .filter(|(k, _)| *k < 8 && mask & (1 << *k) != 0)
                .map(|(_, b)| b.clone())
                .collect()
        };
        Ok(Some(OptColumn::decode(&bytes, &kind_rows)?))
    }

    fn kind_mask_rows(&self, mask: u8) -> Result<RoaringBitmap> {
        let mut bm = RoaringBitmap::new();
        for (k, b) in self.kinds()? {
            if *k < 8 && mask & (1 << *k) != 0 {
                bm |= b;
            }
        }
        Ok(bm)
    }

    /// An optional column, decoded to one slot per row.
    pub(crate) fn opt(&self, id: u8) -> Result<Arc<Dense>> {
        self.cached(id, || {
            let mut dense = vec![u32::MAX; self.seg.rows as usize];
            if let Some(c) = self.opt_column(id)? {
                c.fill_dense(&mut dense)?;
            }
            let size = dense.len() * 4 + 32;
            Ok((Dense(dense), size))
        })
    }

    /// The values of an optional column at `rows` (ascending): from the
    /// decoded column when the cache holds it, else straight from the
    /// column's bytes when the rows are few (only their values are
    /// unpacked, nothing is cached), else through [`SegCtx::opt`].
    pub(crate) fn opt_at(&self, id: u8, rows: &[u32]) -> Result<Vec<Option<u32>>> {
        let dense = match self.snap.cache.get::<Dense>(self.key(id)) {
            Some(d) => d,
            None if rows.len().saturating_mul(64) < self.seg.rows as usize => {
                let Some(c) = self.opt_column(id)? else {
                    return Ok(vec![None; rows.len()]);
                };
                return c
                    .values_at(rows)
                    .into_iter()
                    .map(|v| {
                        v.map(|v| {
                            u32::try_from(v)
                                .ok()
                                .filter(|&v| v != u32::MAX)
                                .ok_or_else(|| {
                                    Corrupt::new("segment optional column", "value out of range")
                                        .into()
                                })
                        })
                        .transpose()
                    })
                    .collect();
            }
            None => self.opt(id)?,
        };
        Ok(rows.iter().map(|&r| dense.get_u32(r)).collect())
    }

    /// A string of a dictionary-coded optional value.
    pub(crate) fn string(&self, dim: Dim, id: u64) -> Result<&str> {
        Ok(self.part.dicts.resolve(dim, id)?)
    }

    /// Session hash and visitor hash of a row.
    pub(crate) fn session_of(&self, row: u32) -> Result<(u64, u64)> {
        let runs = self.runs()?;
        let i = runs.session_of(row);
        Ok((
            runs.hashes.get(i).copied().unwrap_or_default(),
            runs.visitors.get(i).copied().unwrap_or_default(),
        ))
    }

    /// Per-session attribute codes, decoded once.
    pub(crate) fn session_attrs(&self) -> Result<Arc<Vec<[u64; 5]>>> {
        self.cached(col::SESSION_ATTRS, || {
            let n = self.runs()?.len();
            let codes = segment::decode_session_attrs(&self.need(col::SESSION_ATTRS)?, n)?;
            let size = codes.len() * 40 + 32;
            Ok((codes, size))
        })
    }
}

impl SegCtx<'_> {
    /// The events of the rows `range` (one session's run), in row order,
    /// for replay. Shared columns (sessions, time, page, kinds) come from
    /// the cache; the optional columns are read by random access rather
    /// than decoded whole, so a replay does not fill the cache with dense
    /// columns of segments no other report reads.
    pub(crate) fn events_of(
        &self,
        range: std::ops::Range<u32>,
    ) -> Result<Vec<(u32, crate::query::StoredEvent)>> {
        use crate::query::StoredEvent;
        let ts = self.ts()?;
        let pages = self.page_ids()?;
        let kinds = self.kinds()?;
        // Each optional column's values of the range's rows.
        let opt = |id: u8| -> Result<Vec<Option<u64>>> {
            match self.opt_column(id)? {
                Some(c) => Ok(c.get_range(range.clone())),
                None => Ok(vec![None; range.len()]),
            }
        };
        let at = |c: &[Option<u64>], r: u32| -> Option<u64> {
            c.get((r - range.start) as usize).copied().flatten()
        };
        let u32_of = |c: &[Option<u64>], r: u32| -> Result<Option<u32>> {
            match at(c, r) {
                Some(v) => Ok(Some(u32::try_from(v).map_err(|_| {
                    Corrupt::new("segment optional column", "value out of range")
                })?)),
                None => Ok(None),
            }
        };
        let pos_of = |c: &[Option<u64>], r: u32| -> Result<Option<u16>> {
            match at(c, r) {
                Some(v) => Ok(Some(
                    u16::try_from(v)
                        .ok()
                        .filter(|&v| v <= crate::event::MAX_ELEMENT_POS)
                        .ok_or_else(|| Corrupt::new("segment", "in-element position over 10000"))?,
                )),
                None => Ok(None),
            }
        };
        let [x, y, vw, vh, dh, load_ms, ex, ey, len, duration_ms, selector, name] = [
            col::X,
            col::Y,
            col::VW,
            col::VH,
            col::DH,
            col::LOAD_MS,
            col::EX,
            col::EY,
            col::LEN,
            col::DURATION_MS,
            col::SELECTOR,
            col::NAME,
        ]
        .map(opt);
        let (x, y, vw, vh, dh, load_ms) = (x?, y?, vw?, vh?, dh?, load_ms?);
        let (ex, ey, len, duration_ms, selector, name) =
            (ex?, ey?, len?, duration_ms?, selector?, name?);
        let string = |c: &[Option<u64>], dim: Dim, r: u32| -> Result<Option<String>> {
            match at(c, r) {
                Some(id) => Ok(Some(self.part.dicts.resolve(dim, id)?.to_owned())),
                None => Ok(None),
            }
        };
        let mut out = Vec::with_capacity(range.len());
        for r in range.clone() {
            let kind = kinds
                .iter()
                .find(|(_, b)| b.contains(r))
                .and_then(|(k, _)| u8::try_from(*k).ok())
                .and_then(EventKind::from_code)
                .ok_or_else(|| Corrupt::new("segment", "kind bitmaps do not cover the rows"))?;
            let page = pages
                .get(r as usize)
                .ok_or_else(|| Corrupt::new("segment page column", "row past the column"))?;
            out.push((
                r,
                StoredEvent {
                    ts: ts.get(r as usize).copied().ok_or_else(|| {
                        Corrupt::new("segment time column", "row past the column")
                    })?,
                    kind,
                    page: self
                        .part
                        .dicts
                        .resolve(Dim::Page, u64::from(*page))?
                        .to_owned(),
                    x: u32_of(&x, r)?,
                    y: u32_of(&y, r)?,
                    vw: u32_of(&vw, r)?,
                    vh: u32_of(&vh, r)?,
                    dh: u32_of(&dh, r)?,
                    load_ms: u32_of(&load_ms, r)?,
                    selector: string(&selector, Dim::Selector, r)?,
                    ex: pos_of(&ex, r)?,
                    ey: pos_of(&ey, r)?,
                    len: u32_of(&len, r)?,
                    duration_ms: u32_of(&duration_ms, r)?,
                    name: string(&name, Dim::Name, r)?,
                },
            ));
        }
        Ok(out)
    }
}

/// Runs `visit` on every segment of the site's partitions in the filter's
/// range, with `rows` set to the rows that pass every filter. `kinds`
/// restricts to those kinds (on top of the filter's kind).
pub(crate) fn scan(
    snap: &View,
    site: &SiteRef,
    f: &Filters,
    kinds: Option<&[EventKind]>,
    visit: &mut dyn FnMut(&SegCtx<'_>) -> Result<()>,
) -> Result<()> {
    let (lo, hi) = day_span(f.from, f.to);
    for (day, meta) in snap.partitions(site.id, lo, hi)? {
        let part = snap.partition_view(site.id, day, &meta)?;
        scan_partition(snap, site, &part, f, kinds, visit)?;
    }
    Ok(())
}

/// [`scan`] over one partition.
pub(crate) fn scan_partition(
    snap: &View,
    site: &SiteRef,
    part: &PartitionView,
    f: &Filters,
    kinds: Option<&[EventKind]>,
    visit: &mut dyn FnMut(&SegCtx<'_>) -> Result<()>,
) -> Result<()> {
    for seg in &part.segments {
        let mut ctx = SegCtx::new(snap, part, seg);
        ctx.rows = filter_rows(&ctx, f, kinds)?;
        if !site.hidden.is_empty() && !ctx.rows.is_empty() {
            let rows = std::mem::take(&mut ctx.rows);
            ctx.rows = hide(&ctx, &site.hidden, rows)?;
        }
        if !ctx.rows.is_empty() {
            visit(&ctx)?;
        }
    }
    Ok(())
}

/// Takes away the rows pending deletion requests hide.
pub(crate) fn hide(
    ctx: &SegCtx<'_>,
    hidden: &Hidden,
    mut rows: RoaringBitmap,
) -> Result<RoaringBitmap> {
    if hidden.all {
        return Ok(RoaringBitmap::new());
    }
    if !hidden.sessions.is_empty() || !hidden.visitors.is_empty() {
        let runs = ctx.runs()?;
        for (i, (&h, &v)) in runs.hashes.iter().zip(&runs.visitors).enumerate() {
            if hidden.session_hidden(h, v) {
                rows.remove_range(runs.range(i));
            }
        }
    }
    for &(from, to) in &hidden.ranges {
        if ctx.seg.max_ts < from || ctx.seg.min_ts >= to {
            continue;
        }
        let ts = ctx.ts()?;
        let doomed: Vec<u32> = rows
            .iter()
            .filter(|&r| ts.get(r as usize).is_some_and(|&t| t >= from && t < to))
            .collect();
        for r in doomed {
            rows.remove(r);
        }
    }
    Ok(rows)
}

/// The bitmap algebra of the filters over one segment.
pub(crate) fn filter_rows(
    ctx: &SegCtx<'_>,
    f: &Filters,
    kinds: Option<&[EventKind]>,
) -> Result<RoaringBitmap> {
    let n = ctx.seg.rows;
    let mut rows = RoaringBitmap::new();
    rows.insert_range(0..n);
    // Event kind.
    let mut mask: u8 = kinds.map_or(0x7f, |ks| ks.iter().fold(0, |m, k| m | 1 << k.code()));
    if let Some(k) = f.kind {
        mask &= 1 << k.code();
    }
    if mask != 0x7f {
        rows &= ctx.kind_mask_rows(mask)?;
    }
    if rows.is_empty() {
        return Ok(rows);
    }
    // Page.
    if let Some(page) = &f.page {
        let id = ctx.part.dicts.dict(Dim::Page).and_then(|d| d.id(page));
        match id {
            Some(id) => rows &= ctx.bitmap_of(col::BM_PAGE, id)?,
            None => return Ok(RoaringBitmap::new()),
        }
    }
    // Device class (and bots left out unless asked for).
    // The device bitmaps decoded once (cached), not read per query.
    match f.device {
        Some(d) => rows &= ctx.bitmap_of(col::BM_DEVICE, u32::from(d.code()))?,
        None if !f.include_bots => {
            let devices = ctx.bitmaps(col::BM_DEVICE)?;
            if let Some((_, bots)) = devices
                .iter()
                .find(|(v, _)| *v == u32::from(DeviceClass::Bot.code()))
            {
                rows -= bots;
            }
        }
        None => {}
    }
    if rows.is_empty() {
        return Ok(rows);
    }
    // Session attributes through the per-session codes.
    if f.browser.is_some() || f.os.is_some() || f.referrer.is_some() || f.channel.is_some() {
        let want = |dim: Dim, s: &Option<String>| -> Option<Option<u64>> {
            s.as_ref().map(|s| {
                ctx.part
                    .dicts
                    .dict(dim)
                    .and_then(|d| d.id(s))
                    .map(|i| u64::from(i) + 1)
            })
        };
        let browser = want(Dim::Browser, &f.browser);
        let os = want(Dim::Os, &f.os);
        let refhost = want(Dim::RefHost, &f.referrer);
        if [browser, os, refhost]
            .iter()
            .any(|w| matches!(w, Some(None)))
        {
            return Ok(RoaringBitmap::new());
        }
        let runs = ctx.runs()?;
        let codes = ctx.session_attrs()?;
        let mut keep = RoaringBitmap::new();
        for (i, c) in codes.iter().enumerate() {
            let ok = browser.is_none_or(|b| b == Some(c[1]))
                && os.is_none_or(|o| o == Some(c[2]))
                && f.channel.is_none_or(|ch| u64::from(ch.code()) + 1 == c[3])
                && refhost.is_none_or(|h| h == Some(c[4]));
            if ok {
                keep.insert_range(runs.range(i));
            }
        }
        rows &= keep;
    }
    // Time: whole hours by the hour index, edges by the time column.
    if rows.is_empty() || (f.from.is_none() && f.to.is_none()) {
        return Ok(rows);
    }
    let from = f.from.unwrap_or(i64::MIN);
    let to = f.to.unwrap_or(i64::MAX);
    if ctx.seg.min_ts >= from && ctx.seg.max_ts < to {
        return Ok(rows);
    }
    let start = day_start(ctx.part.day);
    let hours = ctx.bitmaps(col::BM_HOUR)?;
    let mut keep = RoaringBitmap::new();
    let mut edge = RoaringBitmap::new();
    for (h, bm) in hours.iter() {
        let h = *h;
        let h0 = start + i64::from(h) * HOUR_MS;
        let h1 = (h0 + HOUR_MS).min(start + DAY_MS);
        if h0 >= from && h1 <= to {
            keep |= bm;
        } else if h1 > from && h0 < to {
            edge |= bm;
        }
    }
    edge &= &rows;
    if !edge.is_empty() {
        let ts = ctx.ts()?;
        for r in &edge {
            if ts.get(r as usize).is_some_and(|&t| t >= from && t < to) {
                keep.insert(r);
            }
        }
    }
    rows &= keep;
    Ok(rows)
}
