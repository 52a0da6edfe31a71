//! Sealed segments: immutable columnar blocks of up to 65,536 rows of one
//! (site, day) partition.
//!
//! Rows are sorted by (session hash, ts, arrival) so a session's rows are one
//! run: the session index is a list of runs, time deltas inside a session are
//! small, and page and hour bitmaps are mostly run containers. Every column
//! is stored under its own key, so a report reads only the columns it needs.
//! Row ids are `u32` below 65,536: one roaring container per bitmap.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::HashMap;

use roaring::RoaringBitmap;

use super::codec::{
    decode_uints, encode_uints, get_bitmap, put_bitmap, put_varint, Reader, UintCol,
};
use super::dict::{Dict, Dim};
use super::row::Row;
use super::{day_start, Corrupt, HOUR_MS};
use crate::normalize::DeviceClass;
use crate::normalize::SessionAttrs;
use crate::EventKind;

/// Most rows in one segment.
pub(crate) const SEGMENT_ROWS: usize = 65_536;

/// Column ids (the last element of a `segment_columns` key).
pub(crate) mod col {
    pub(crate) const SESSIONS: u8 = 0;
    pub(crate) const TS: u8 = 1;
    pub(crate) const PAGE: u8 = 2;
    pub(crate) const X: u8 = 3;
    pub(crate) const Y: u8 = 4;
    pub(crate) const VW: u8 = 5;
    pub(crate) const VH: u8 = 6;
    pub(crate) const DH: u8 = 7;
    pub(crate) const LOAD_MS: u8 = 8;
    pub(crate) const EX: u8 = 9;
    pub(crate) const EY: u8 = 10;
    pub(crate) const LEN: u8 = 11;
    pub(crate) const DURATION_MS: u8 = 12;
    pub(crate) const SELECTOR: u8 = 13;
    pub(crate) const NAME: u8 = 14;
    pub(crate) const SESSION_ATTRS: u8 = 20;
    pub(crate) const BM_KIND: u8 = 32;
    pub(crate) const BM_PAGE: u8 = 33;
    pub(crate) const BM_HOUR: u8 = 34;
    pub(crate) const BM_DEVICE: u8 = 35;
}

/// A column's name, for diagnostics.
pub(crate) fn column_name(id: u8) -> &'static str {
    match id {
        col::SESSIONS => "sessions",
        col::TS => "ts",
        col::PAGE => "page",
        col::X => "x",
        col::Y => "y",
        col::VW => "vw",
        col::VH => "vh",
        col::DH => "dh",
        col::LOAD_MS => "load_ms",
        col::EX => "ex",
        col::EY => "ey",
        col::LEN => "len",
        col::DURATION_MS => "duration_ms",
        col::SELECTOR => "selector",
        col::NAME => "name",
        col::SESSION_ATTRS => "session attributes",
        col::BM_KIND => "index kind",
        col::BM_PAGE => "index page",
        col::BM_HOUR => "index hour",
        col::BM_DEVICE => "index device",
        _ => "unknown",
    }
}

const fn kinds(ks: &[EventKind]) -> u8 {
    let mut m = 0u8;
    let mut rest = ks;
    while let [k, tail @ ..] = rest {
        m |= 1 << (*k as u8);
        rest = tail;
    }
    m
}

use EventKind::{Click, Custom, Input, Leave, Move, Pageview, Scroll};

/// An optional per-row field: its column, the kinds it applies to, and how
/// to read it from a row.
struct Field {
    col: u8,
    kinds: u8,
    get: fn(&Row) -> Option<u64>,
}

const NUMERIC: [Field; 10] = [
    Field {
        col: col::X,
        kinds: kinds(&[Click, Move]),
        get: |r| r.x.map(u64::from),
    },
    Field {
        col: col::Y,
        kinds: kinds(&[Click, Move, Scroll]),
        get: |r| r.y.map(u64::from),
    },
    Field {
        col: col::VW,
        kinds: kinds(&[Pageview, Click, Move, Scroll]),
        get: |r| r.vw.map(u64::from),
    },
    Field {
        col: col::VH,
        kinds: kinds(&[Pageview, Click, Move, Scroll]),
        get: |r| r.vh.map(u64::from),
    },
    Field {
        col: col::DH,
        kinds: kinds(&[Pageview, Click, Move, Scroll]),
        get: |r| r.dh.map(u64::from),
    },
    Field {
        col: col::LOAD_MS,
        kinds: kinds(&[Pageview]),
        get: |r| r.load_ms.map(u64::from),
    },
    Field {
        col: col::EX,
        kinds: kinds(&[Click]),
        get: |r| r.ex.map(u64::from),
    },
    Field {
        col: col::EY,
        kinds: kinds(&[Click]),
        get: |r| r.ey.map(u64::from),
    },
    Field {
        col: col::LEN,
        kinds: kinds(&[Input]),
        get: |r| r.len.map(u64::from),
    },
    Field {
        col: col::DURATION_MS,
        kinds: kinds(&[Leave]),
        get: |r| r.duration_ms.map(u64::from),
    },
];

const PRESENT_NONE: u8 = 0;
const PRESENT_BY_KIND: u8 = 1;
const PRESENT_BITMAP: u8 = 2;

/// The dictionaries of one partition.
#[derive(Clone, Debug, Default)]
pub(crate) struct PartitionDicts {
    pub dicts: BTreeMap<u8, Dict>,
}

impl PartitionDicts {
    pub(crate) fn dict(&self, dim: Dim) -> Option<&Dict> {
        self.dicts.get(&(dim as u8))
    }

    pub(crate) fn intern(&mut self, dim: Dim, s: &str) -> u32 {
        self.dicts.entry(dim as u8).or_default().intern(s)
    }

    pub(crate) fn resolve(&self, dim: Dim, id: u64) -> Result<&str, Corrupt> {
        self.dict(dim)
            .ok_or_else(|| {
                Corrupt::new("dictionary", format!("dictionary {} is missing", dim as u8))
            })?
            .resolve(id)
    }
}

/// A segment encoded in memory: its columns, ready to be written.
#[derive(Clone, Debug, Default)]
pub(crate) struct EncodedSegment {
    pub rows: u32,
    pub min_ts: i64,
    pub max_ts: i64,
    pub columns: BTreeMap<u8, Vec<u8>>,
}

/// The session attributes a segment keeps per session, for filters.
pub(crate) fn session_attr_codes(
    attrs: Option<&SessionAttrs>,
    dicts: &mut PartitionDicts,
) -> [u64; 5] {
    match attrs {
        None => [u64::from(DeviceClass::Unknown.code()), 0, 0, 0, 0],
        Some(a) => [
            u64::from(a.device.code()),
            u64::from(dicts.intern(Dim::Browser, &a.browser)) + 1,
            u64::from(dicts.intern(Dim::Os, &a.os)) + 1,
            u64::from(a.channel.code()) + 1,
            u64::from(dicts.intern(Dim::RefHost, &a.referrer_host)) + 1,
        ],
    }
}

fn put_bitmaps(out: &mut Vec<u8>, sets: &BTreeMap<u32, RoaringBitmap>) {
    put_varint(out, sets.len() as u64);
    for (value, bm) in sets {
        put_varint(out, u64::from(*value));
        let mut bm = bm.clone();
        bm.optimize();
        put_bitmap(out, &bm);
    }
}

/// Encodes the session-attribute column from per-session codes.
pub(crate) fn encode_session_attrs(codes: &[[u64; 5]]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..5 {
        let v: Vec<u64> = codes
            .iter()
            .map(|c| c.get(i).copied().unwrap_or_default())
            .collect();
        encode_uints(&v, &mut out);
    }
    out
}

/// Encodes the device-class bitmaps from session runs and device codes.
pub(crate) fn encode_device_bitmaps(starts: &[u32], codes: &[[u64; 5]]) -> Vec<u8> {
    let mut sets: BTreeMap<u32, RoaringBitmap> = BTreeMap::new();
    for (i, c) in codes.iter().enumerate() {
        if let (Some(&a), Some(&b)) = (starts.get(i), starts.get(i + 1)) {
            sets.entry(c[0] as u32).or_default().insert_range(a..b);
        }
    }
    let mut out = Vec::new();
    put_bitmaps(&mut out, &sets);
    out
}

/// The bitmap of ascending row numbers.
fn sorted_bitmap(rows: Vec<u32>) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter(rows.iter().copied())
        .unwrap_or_else(|_| rows.into_iter().collect())
}

/// What a segment records of a session besides its rows: its attributes
/// (`None` before its first pageview) and its visitor (`None`: unknown, the
/// rows' own is kept), both from the session's row.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionInfo {
    pub attrs: Option<SessionAttrs>,
    pub visitor: Option<u64>,
}

/// Builds a segment from rows given in arrival order. `info` gives each
/// session's current attributes and visitor.
///
/// The segment's order is (session, ts, arrival). The sort keys are sorted
/// apart from the rows, and one pass over the rows in that order gathers
/// every column: rows are neither moved nor read twice.
pub(crate) fn build(
    rows: &[Row],
    day: i32,
    dicts: &mut PartitionDicts,
    info: &dyn Fn(u64) -> SessionInfo,
) -> EncodedSegment {
    let mut keys: Vec<(u64, i64, u32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.session, r.ts, i as u32))
        .collect();
    keys.sort_unstable();
    let start = day_start(day);
    let n = rows.len();
    let mut seg = EncodedSegment {
        rows: n as u32,
        min_ts: rows.iter().map(|r| r.ts).min().unwrap_or(start),
        max_ts: rows.iter().map(|r| r.ts).max().unwrap_or(start),
        ..EncodedSegment::default()
    };

    // Sessions (sorted hashes, visitors, run starts) and time (each
    // session's first ts from the day's start, then deltas).
    let mut hashes = Vec::new();
    let mut visitors = Vec::new();
    let mut attrs: Vec<Option<SessionAttrs>> = Vec::new();
    let mut starts: Vec<u32> = Vec::new();
    let mut firsts = Vec::new();
    let mut deltas = Vec::with_capacity(n);
    // Page ids and the bitmap indexes: the keys are small dense numbers
    // (kind code, hour, page id), so each key's rows are listed in a
    // vector, then made into a bitmap at once.
    let mut pages = Vec::with_capacity(n);
    let mut kind_rows: Vec<Vec<u32>> = vec![Vec::new(); 8];
    let mut hour_rows: Vec<Vec<u32>> = vec![Vec::new(); 24];
    let mut page_rows: Vec<Vec<u32>> = Vec::new();
    // Rows of one page (or selector) share its string: the dictionary is
    // skipped when the pointer is the one just seen.
    let mut last_page: Option<(*const u8, u32)> = None;
    let mut last_selector: Option<(*const u8, u32)> = None;
    let mut numeric: Vec<Optional> = NUMERIC.iter().map(|_| Optional::default()).collect();
    let mut selectors = Optional::default();
    let mut names = Optional::default();
    let mut prev_ts = 0;
    for (i, &(session, ts, at)) in keys.iter().enumerate() {
        let Some(r) = rows.get(at as usize) else {
            continue;
        };
        let i = i as u32;
        if hashes.last() != Some(&session) {
            let SessionInfo { attrs: a, visitor } = info(session);
            hashes.push(session);
            visitors.push(visitor.unwrap_or(r.visitor));
            attrs.push(a);
            starts.push(i);
            firsts.push((ts - start).max(0) as u64);
        } else {
            deltas.push((ts - prev_ts) as u64);
        }
        prev_ts = ts;

        let p = match last_page {
            Some((ptr, id)) if std::ptr::eq(ptr, r.page.as_ptr()) => id,
            _ => {
                let id = dicts.intern(Dim::Page, &r.page);
                last_page = Some((r.page.as_ptr(), id));
                id
            }
        };
        pages.push(u64::from(p));
        if let Some(v) = kind_rows.get_mut(usize::from(r.kind)) {
            v.push(i);
        }
        let hour = ((ts - start) / HOUR_MS).clamp(0, 23) as usize;
        if let Some(v) = hour_rows.get_mut(hour) {
            v.push(i);
        }
        let p = p as usize;
        if page_rows.len() <= p {
            page_rows.resize(p + 1, Vec::new());
        }
        if let Some(v) = page_rows.get_mut(p) {
            v.push(i);
        }

        let kind = 1u8.checked_shl(u32::from(r.kind)).unwrap_or(0);
        for (f, col) in NUMERIC.iter().zip(&mut numeric) {
            col.add(i, f.kinds & kind != 0, (f.get)(r));
        }
        let selector = r.selector.as_deref().map(|s| match last_selector {
            Some((ptr, id)) if std::ptr::eq(ptr, s.as_ptr()) => u64::from(id),
            _ => {
                let id = dicts.intern(Dim::Selector, s);
                last_selector = Some((s.as_ptr(), id));
                u64::from(id)
            }
        });
        selectors.add(i, SELECTOR_KINDS & kind != 0, selector);
        let name = r
            .name
            .as_deref()
            .map(|s| u64::from(dicts.intern(Dim::Name, s)));
        names.add(i, NAME_KINDS & kind != 0, name);
    }
    starts.push(n as u32);

    let runs = SessionRuns {
        hashes,
        visitors,
        starts,
    };
    seg.columns.insert(col::SESSIONS, runs.encode());
    let SessionRuns { hashes, starts, .. } = runs;

    let mut out = Vec::new();
    encode_uints(&firsts, &mut out);
    encode_uints(&deltas, &mut out);
    seg.columns.insert(col::TS, out);

    let keyed = |v: Vec<Vec<u32>>| -> BTreeMap<u32, RoaringBitmap> {
        v.into_iter()
            .enumerate()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(k, rows)| (k as u32, sorted_bitmap(rows)))
            .collect()
    };
    let (kind_bm, page_bm, hour_bm) = (keyed(kind_rows), keyed(page_rows), keyed(hour_rows));
    let mut out = Vec::new();
    encode_uints(&pages, &mut out);
    seg.columns.insert(col::PAGE, out);
    for (id, sets) in [
        (col::BM_KIND, &kind_bm),
        (col::BM_PAGE, &page_bm),
        (col::BM_HOUR, &hour_bm),
    ] {
        let mut out = Vec::new();
        put_bitmaps(&mut out, sets);
        seg.columns.insert(id, out);
    }

    for (f, col) in NUMERIC.iter().zip(numeric) {
        col.encode(&mut seg, f.col, f.kinds);
    }
    selectors.encode(&mut seg, col::SELECTOR, SELECTOR_KINDS);
    names.encode(&mut seg, col::NAME, NAME_KINDS);

    // Per-session attributes for filters, and device-class bitmaps.
    debug_assert_eq!(hashes.len(), attrs.len());
    let codes: Vec<[u64; 5]> = attrs
        .iter()
        .map(|a| session_attr_codes(a.as_ref(), dicts))
        .collect();
    seg.columns
        .insert(col::SESSION_ATTRS, encode_session_attrs(&codes));
    seg.columns
        .insert(col::BM_DEVICE, encode_device_bitmaps(&starts, &codes));
    seg
}

const SELECTOR_KINDS: u8 = kinds(&[Click, Input]);
const NAME_KINDS: u8 = kinds(&[Custom]);

/// An optional column being gathered: the rows where it is present, its
/// values there, and whether it is present exactly on the rows of the
/// kinds it applies to.
struct Optional {
    present: Vec<u32>,
    values: Vec<u64>,
    by_kind: bool,
}

impl Default for Optional {
    fn default() -> Self {
        Optional {
            present: Vec::new(),
            values: Vec::new(),
            by_kind: true,
        }
    }
}

impl Optional {
    /// Row `i`, of a kind the column applies to or not, has `value`.
    fn add(&mut self, i: u32, applies: bool, value: Option<u64>) {
        match value {
            Some(v) => {
                self.present.push(i);
                self.values.push(v);
                self.by_kind &= applies;
            }
            None => self.by_kind &= !applies,
        }
    }

    /// Writes the column, if any row has a value: presence (implied by the
    /// kinds `mask` when the column is present exactly there, else a
    /// bitmap), then the values.
    fn encode(self, seg: &mut EncodedSegment, col_id: u8, mask: u8) {
        if self.values.is_empty() {
            return;
        }
        let mut out = Vec::new();
        if self.by_kind {
            out.push(PRESENT_BY_KIND);
            out.push(mask);
        } else {
            out.push(PRESENT_BITMAP);
            let mut present = sorted_bitmap(self.present);
            present.optimize();
            put_bitmap(&mut out, &present);
        }
        encode_uints(&self.values, &mut out);
        seg.columns.insert(col_id, out);
    }
}

// ---------------------------------------------------------------- reading

/// The session runs of a segment.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionRuns {
    pub hashes: Vec<u64>,
    pub visitors: Vec<u64>,
    /// Row where each session starts, and the row count last.
    pub starts: Vec<u32>,
}

impl SessionRuns {
    pub(crate) fn decode(bytes: &[u8], rows: u32) -> Result<SessionRuns, Corrupt> {
        let mut r = Reader::new(bytes, "segment session column");
        let n = r.count(16)?;
        let mut s = SessionRuns::default();
        for _ in 0..n {
            s.hashes.push(r.u64_le()?);
        }
        for _ in 0..n {
            s.visitors.push(r.u64_le()?);
        }
        let mut lens = Vec::with_capacity(n);
        decode_uints(&mut r, &mut lens)?;
        if lens.len() != n {
            return Err(r.corrupt("run count differs from the session count"));
        }
        let mut at = 0u64;
        for l in lens {
            s.starts.push(at as u32);
            at += l;
            if at > u64::from(rows) {
                return Err(r.corrupt("runs longer than the segment"));
            }
        }
        if at != u64::from(rows) {
            return Err(r.corrupt("runs do not cover the segment"));
        }
        s.starts.push(rows);
        if s.hashes.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
            return Err(r.corrupt("session hashes not sorted"));
        }
        Ok(s)
    }

    /// Encodes the session column (the inverse of [`SessionRuns::decode`]).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.hashes.len() * 17 + 8);
        put_varint(&mut out, self.hashes.len() as u64);
        for h in &self.hashes {
            out.extend_from_slice(&h.to_le_bytes());
        }
        for v in &self.visitors {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let lens: Vec<u64> = self
            .starts
            .windows(2)
            .map(|w| match w {
                [a, b] => u64::from(b.saturating_sub(*a)),
                _ => 0,
            })
            .collect();
        encode_uints(&lens, &mut out);
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Rows of session `i`.
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<u32> {
        let a = self.starts.get(i).copied().unwrap_or(0);
        let b = self.starts.get(i + 1).copied().unwrap_or(a);
        a..b
    }

    /// The session index of a row.
    pub(crate) fn session_of(&self, row: u32) -> usize {
        self.starts.partition_point(|&s| s <= row).saturating_sub(1)
    }
}

/// Decodes the time column into one ts per row.
pub(crate) fn decode_ts(bytes: &[u8], runs: &SessionRuns, day: i32) -> Result<Vec<i64>, Corrupt> {
    let mut r = Reader::new(bytes, "segment time column");
    let mut firsts = Vec::new();
    decode_uints(&mut r, &mut firsts)?;
    let mut deltas = Vec::new();
    decode_uints(&mut r, &mut deltas)?;
    let rows = runs.starts.last().copied().unwrap_or(0) as usize;
    if firsts.len() != runs.len() || deltas.len() + runs.len() != rows {
        return Err(r.corrupt("time column length differs from the row count"));
    }
    let start = day_start(day);
    let mut out = Vec::with_capacity(rows);
    let mut d = deltas.into_iter();
    for (i, first) in firsts.into_iter().enumerate() {
        let mut t = start.saturating_add(first.min(i64::MAX as u64) as i64);
        out.push(t);
        for _ in 1..runs.range(i).len() {
            t = t.saturating_add(d.next().unwrap_or(0).min(i64::MAX as u64) as i64);
            out.push(t);
        }
    }
    Ok(out)
}

/// A decoded set of bitmaps of one dimension: value → rows.
pub(crate) fn decode_bitmaps(bytes: &[u8]) -> Result<Vec<(u32, RoaringBitmap)>, Corrupt> {
    let mut r = Reader::new(bytes, "segment bitmap index");
    let n = r.count(2)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = u32::try_from(r.varint()?).map_err(|_| r.corrupt("value too large"))?;
        out.push((v, get_bitmap(&mut r)?));
    }
    Ok(out)
}

/// Which rows of a segment an optional column has a value for.
#[derive(Clone, Debug)]
enum Presence {
    /// Exactly the rows of these (disjoint) kind bitmaps.
    Kinds(Vec<RoaringBitmap>),
    /// The rows of a bitmap.
    Bitmap(RoaringBitmap),
}

/// An optional column read for random access: which rows have a value, and
/// the values of those rows in row order.
#[derive(Clone, Debug)]
pub(crate) struct OptColumn {
    presence: Presence,
    values: UintCol,
}

impl Default for OptColumn {
    fn default() -> Self {
        OptColumn {
            presence: Presence::Bitmap(RoaringBitmap::new()),
            values: UintCol::default(),
        }
    }
}

impl OptColumn {
    /// Parses an optional column; `kind_rows` gives the rows of each kind in
    /// a kind mask.
    pub(crate) fn decode(
        bytes: &[u8],
        kind_rows: &dyn Fn(u8) -> Vec<RoaringBitmap>,
    ) -> Result<OptColumn, Corrupt> {
        let mut r = Reader::new(bytes, "segment optional column");
        let presence = match r.u8()? {
            PRESENT_NONE => Presence::Bitmap(RoaringBitmap::new()),
            PRESENT_BY_KIND => Presence::Kinds(kind_rows(r.u8()?)),
            PRESENT_BITMAP => Presence::Bitmap(get_bitmap(&mut r)?),
            other => return Err(r.corrupt(&format!("unknown presence mode {other}"))),
        };
        let values = UintCol::parse(&mut r)?;
        let c = OptColumn { presence, values };
        if c.values.len() as u64 != c.present_count() {
            return Err(r.corrupt("value count differs from the present rows"));
        }
        Ok(c)
    }

    fn present_count(&self) -> u64 {
        match &self.presence {
            Presence::Kinds(ks) => ks.iter().map(RoaringBitmap::len).sum(),
            Presence::Bitmap(b) => b.len(),
        }
    }

    /// The value of every row of `rows`, in row order: one rank query per
    /// presence bitmap for the whole range, not one per row (a rank is
    /// linear in the runs of a run container, and kind bitmaps of a segment
    /// sorted by session have many).
    pub(crate) fn get_range(&self, rows: std::ops::Range<u32>) -> Vec<Option<u64>> {
        let present = |r: u32| match &self.presence {
            Presence::Kinds(ks) => ks.iter().any(|k| k.contains(r)),
            Presence::Bitmap(b) => b.contains(r),
        };
        // Values of the rows before the range.
        let mut next = match (rows.start.checked_sub(1), &self.presence) {
            (None, _) => 0,
            (Some(r), Presence::Kinds(ks)) => ks.iter().map(|k| k.rank(r)).sum::<u64>(),
            (Some(r), Presence::Bitmap(b)) => b.rank(r),
        };
        rows.map(|r| {
            if !present(r) {
                return None;
            }
            let v = usize::try_from(next).ok().and_then(|i| self.values.get(i));
            next += 1;
            v
        })
        .collect()
    }

    /// The rows that have a value.
    fn present(&self) -> std::borrow::Cow<'_, RoaringBitmap> {
        match &self.presence {
            Presence::Kinds(ks) => match ks.as_slice() {
                [one] => std::borrow::Cow::Borrowed(one),
                ks => {
                    std::borrow::Cow::Owned(ks.iter().fold(RoaringBitmap::new(), |acc, k| acc | k))
                }
            },
            Presence::Bitmap(b) => std::borrow::Cow::Borrowed(b),
        }
    }

    /// The value of each of `rows` (ascending), in one walk of the
    /// presence bitmap: only the values of those rows are unpacked.
    pub(crate) fn values_at(&self, rows: &[u32]) -> Vec<Option<u64>> {
        let present = self.present();
        let mut out = Vec::with_capacity(rows.len());
        let mut it = present.iter();
        // The next present row and its index among the present rows.
        let mut next = it.next();
        let mut index = 0usize;
        for &r in rows {
            while next.is_some_and(|p| p < r) {
                next = it.next();
                index += 1;
            }
            if next == Some(r) {
                out.push(self.values.get(index));
                next = it.next();
                index += 1;
            } else {
                out.push(None);
            }
        }
        out
    }

    /// Writes each present row's value into `dense` (one slot per row of
    /// the segment), range of consecutive present rows by range: rows of a
    /// session sit together, so the ranges are long.
    pub(crate) fn fill_dense(&self, dense: &mut [u32]) -> Result<(), Corrupt> {
        let present = self.present();
        let values = self.values.to_vec();
        let mut it = present.iter();
        let mut i = 0usize;
        while let Some(range) = it.next_range() {
            let (a, b) = (*range.start() as usize, *range.end() as usize);
            let n = b - a + 1;
            let slots = dense
                .get_mut(a..=b)
                .ok_or_else(|| Corrupt::new("segment optional column", "row past the segment"))?;
            let vals = values
                .get(i..i + n)
                .ok_or_else(|| Corrupt::new("segment optional column", "fewer values than rows"))?;
            for (slot, &v) in slots.iter_mut().zip(vals) {
                *slot = u32::try_from(v)
                    .ok()
                    .filter(|&v| v != u32::MAX)
                    .ok_or_else(|| Corrupt::new("segment optional column", "value out of range"))?;
            }
            i += n;
        }
        Ok(())
    }

    /// Every (row, value), in row order (the values unpacked in one pass).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let present = match &self.presence {
            Presence::Kinds(ks) => ks.iter().fold(RoaringBitmap::new(), |acc, k| acc | k),
            Presence::Bitmap(b) => b.clone(),
        };
        present.into_iter().zip(self.values.to_vec())
    }
}

/// Decodes the session-attribute column into per-session codes.
pub(crate) fn decode_session_attrs(
    bytes: &[u8],
    sessions: usize,
) -> Result<Vec<[u64; 5]>, Corrupt> {
    let mut r = Reader::new(bytes, "segment session attributes");
    let mut out = vec![[0u64; 5]; sessions];
    for i in 0..5 {
        let mut v = Vec::with_capacity(sessions);
        decode_uints(&mut r, &mut v)?;
        if v.len() != sessions {
            return Err(r.corrupt("length differs from the session count"));
        }
        for (slot, x) in out.iter_mut().zip(v) {
            if let Some(s) = slot.get_mut(i) {
                *s = x;
            }
        }
    }
    Ok(out)
}

/// Reads every row of a segment back, in stored order.
pub(crate) fn decode_rows(
    columns: &BTreeMap<u8, Vec<u8>>,
    rows: u32,
    day: i32,
    dicts: &PartitionDicts,
) -> Result<Vec<Row>, Corrupt> {
    let need = |id: u8| {
        columns
            .get(&id)
            .map(Vec::as_slice)
            .ok_or_else(|| Corrupt::new("segment", format!("column {id} is missing")))
    };
    let runs = SessionRuns::decode(need(col::SESSIONS)?, rows)?;
    let ts = decode_ts(need(col::TS)?, &runs, day)?;
    let mut out: Vec<Row> = (0..rows as usize).map(|_| Row::default()).collect();
    for (i, row) in out.iter_mut().enumerate() {
        row.ts = ts.get(i).copied().unwrap_or_default();
    }
    for (s, (&hash, &visitor)) in runs.hashes.iter().zip(&runs.visitors).enumerate() {
        for i in runs.range(s) {
            if let Some(row) = out.get_mut(i as usize) {
                row.session = hash;
                row.visitor = visitor;
            }
        }
    }
    let kinds_bm = decode_bitmaps(need(col::BM_KIND)?)?;
    let mut covered = RoaringBitmap::new();
    let mut total = 0u64;
    for (k, bm) in &kinds_bm {
        if EventKind::from_code(*k as u8).is_none() || *k > 255 {
            return Err(Corrupt::new("segment", format!("unknown kind code {k}")));
        }
        total += bm.len();
        covered |= bm;
        for i in bm {
            let row = out
                .get_mut(i as usize)
                .ok_or_else(|| Corrupt::new("segment", "kind bitmap past the rows"))?;
            row.kind = *k as u8;
        }
    }
    // Every row in exactly one kind: as many members as rows, all of them.
    if total != u64::from(rows)
        || covered.len() != u64::from(rows)
        || covered.max().is_some_and(|m| m >= rows)
    {
        return Err(Corrupt::new(
            "segment",
            "kind bitmaps do not cover the rows",
        ));
    }
    let kind_rows = |mask: u8| -> Vec<RoaringBitmap> {
        kinds_bm
            .iter()
            .filter(|(k, _)| *k < 8 && mask & (1u8 << *k) != 0)
            .map(|(_, b)| b.clone())
            .collect()
    };
    let mut pages = Vec::new();
    decode_uints(
        &mut Reader::new(need(col::PAGE)?, "segment page column"),
        &mut pages,
    )?;
    if pages.len() != rows as usize {
        return Err(Corrupt::new(
            "segment page column",
            "length differs from the row count",
        ));
    }
    // One shared string per page, not one per row.
    let mut shared: HashMap<u64, Arc<str>> = HashMap::default();
    for (row, p) in out.iter_mut().zip(pages) {
        row.page = match shared.get(&p) {
            Some(s) => Arc::clone(s),
            None => {
                let s: Arc<str> = dicts.resolve(Dim::Page, p)?.into();
                shared.insert(p, Arc::clone(&s));
                s
            }
        };
    }
    for f in &NUMERIC {
        let Some(bytes) = columns.get(&f.col) else {
            continue;
        };
        let c = OptColumn::decode(bytes, &kind_rows)?;
        for (i, v) in c.iter() {
            let row = out
                .get_mut(i as usize)
                .ok_or_else(|| Corrupt::new("segment", "optional column past the rows"))?;
            let v32 =
                u32::try_from(v).map_err(|_| Corrupt::new("segment", "value out of range"))?;
            match f.col {
                col::X => row.x = Some(v32),
                col::Y => row.y = Some(v32),
                col::VW => row.vw = Some(v32),
                col::VH => row.vh = Some(v32),
                col::DH => row.dh = Some(v32),
                col::LOAD_MS => row.load_ms = Some(v32),
                col::EX | col::EY => {
                    let v = u16::try_from(v32)
                        .ok()
                        .filter(|&v| v <= crate::event::MAX_ELEMENT_POS)
                        .ok_or_else(|| Corrupt::new("segment", "in-element position over 10000"))?;
                    if f.col == col::EX {
                        row.ex = Some(v);
                    } else {
                        row.ey = Some(v);
                    }
                }
                col::LEN => row.len = Some(v32),
                _ => row.duration_ms = Some(v32),
            }
        }
    }
    let mut shared_sel: HashMap<u64, Arc<str>> = HashMap::default();
    for (id, dim) in [(col::SELECTOR, Dim::Selector), (col::NAME, Dim::Name)] {
        let Some(bytes) = columns.get(&id) else {
            continue;
        };
        let c = OptColumn::decode(bytes, &kind_rows)?;
        for (i, v) in c.iter() {
            let s = dicts.resolve(dim, v)?;
            let s = match shared_sel.get(&v) {
                Some(a) if id == col::SELECTOR => Arc::clone(a),
                _ => {
                    let a: Arc<str> = s.into();
                    if id == col::SELECTOR {
                        shared_sel.insert(v, Arc::clone(&a));
                    }
                    a
                }
            };
            let row = out
                .get_mut(i as usize)
                .ok_or_else(|| Corrupt::new("segment", "optional column past the rows"))?;
            if id == col::SELECTOR {
                row.selector = Some(s);
            } else {
                row.name = Some(s.to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn opt_column_range_equals_row_by_row(
            kinds in proptest::collection::vec(0u8..4, 1..3000),
            by_kind in proptest::prelude::any::<bool>(),
            a in 0usize..3000,
            len in 0usize..400,
        ) {
            let n = kinds.len();
            // Kinds 0 and 2 have values (or a bitmap of the same rows).
            let of = |k: u8| -> RoaringBitmap {
                (0..n as u32).filter(|&r| kinds[r as usize] == k).collect()
            };
            let present: Vec<u32> = (0..n as u32).filter(|&r| kinds[r as usize] % 2 == 0).collect();
            let values: Vec<u64> = present.iter().map(|&r| u64::from(r) * 7 + 1).collect();
            let mut bytes = Vec::new();
            encode_uints(&values, &mut bytes);
            let presence = if by_kind {
                Presence::Kinds(vec![of(0), of(2)])
            } else {
                Presence::Bitmap(present.iter().copied().collect())
            };
            let c = OptColumn {
                presence,
                values: UintCol::parse(&mut Reader::new(&bytes, "test")).unwrap(),
            };
            let start = a.min(n) as u32;
            let end = (a + len).min(n) as u32;
            let want: Vec<Option<u64>> = (start..end)
                .map(|r| (kinds[r as usize] % 2 == 0).then(|| u64::from(r) * 7 + 1))
                .collect();
            proptest::prop_assert_eq!(c.get_range(start..end), want);
        }
    }

    pub(crate) fn sample_rows(n: usize, day: i32) -> Vec<Row> {
        let start = day_start(day);
        (0..n)
            .map(|i| {
                let kind = EventKind::ALL[i % 7];
                let mut r = Row {
                    ts: start + (i as i64 * 7919) % 86_400_000,
                    kind: kind.code(),
                    session: (i % 13) as u64 * 1_000_003,
                    visitor: (i % 13) as u64 % 5,
                    page: format!("/p{}", i % 4).into(),
                    ..Row::default()
                };
                match kind {
                    Pageview => {
                        r.vw = Some(1280);
                        r.vh = Some(700);
                        r.dh = Some(3000 + i as u32);
                        r.load_ms = (i % 2 == 0).then_some(500);
                    }
                    Click => {
                        r.x = Some(i as u32 % 1280);
                        r.y = Some(i as u32 * 3);
                        r.selector = Some(format!("#b{}", i % 3).into());
                        r.ex = Some(5000);
                        r.ey = Some(10);
                    }
                    Move => {
                        r.x = Some(1);
                        r.y = Some(2);
                    }
                    Scroll => r.y = Some(99),
                    Input => {
                        r.len = Some(4);
                        r.selector = Some("#email".into());
                    }
                    Leave => r.duration_ms = Some(1234),
                    Custom => r.name = Some("signup".into()),
                }
                r
            })
            .collect()
    }

    #[test]
    fn rows_roundtrip_in_session_order() {
        let day = 20_000;
        let arrived = sample_rows(500, day);
        let mut dicts = PartitionDicts::default();
        let seg = build(&arrived, day, &mut dicts, &|_| SessionInfo::default());
        let back = decode_rows(&seg.columns, seg.rows, day, &dicts).unwrap();
        // Stable: rows of a session with equal ts stay in arrival order.
        let mut want = arrived.clone();
        want.sort_by_key(|r| (r.session, r.ts));
        assert_eq!(back.len(), want.len());
        for (i, (b, w)) in back.iter().zip(&want).enumerate() {
            assert_eq!(b, w, "row {i}");
        }
    }

    #[test]
    fn truncated_columns_are_corrupt_not_panics() {
        let day = 20_000;
        let rows = sample_rows(300, day);
        let mut dicts = PartitionDicts::default();
        let seg = build(&rows, day, &mut dicts, &|_| SessionInfo::default());
        for id in seg.columns.keys().copied().collect::<Vec<_>>() {
            let full = seg.columns[&id].clone();
            for cut in [0, 1, full.len() / 2, full.len().saturating_sub(1)] {
                let mut cols = seg.columns.clone();
                cols.insert(id, full[..cut].to_vec());
                let _ = decode_rows(&cols, seg.rows, day, &dicts);
                let mut flipped = full.clone();
                if let Some(b) = flipped.get_mut(cut) {
                    *b ^= 0x5a;
                }
                cols.insert(id, flipped);
                let _ = decode_rows(&cols, seg.rows, day, &dicts);
            }
        }
    }
}
