//! The raw event API: the stored events themselves, for analyses the
//! reports do not cover (time to first click, attention by scroll depth,
//! funnels, custom models).
//!
//! A scan runs as the reports do: the filters become bitmap algebra over
//! each segment's indexes, the rows pending deletion requests hide are
//! taken away, and only the columns asked for are decoded, for the
//! surviving rows only. Batches come one segment at a time, so memory
//! stays bounded by one segment whatever the range.

use std::collections::HashMap;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::scan::{filter_rows, hide, SegCtx};
use super::Filters;
use crate::error::{Error, Result};
use crate::normalize::{Channel, DeviceClass};
use crate::read::{PartitionView, SiteRef, View};
use crate::storage::dict::Dim;
use crate::storage::partition::PartMeta;
use crate::storage::segment::col;
use crate::storage::Corrupt;
use crate::time::day_span;
use crate::EventKind;

/// A column of the raw event API ([`crate::Snapshot::event_batches`]).
///
/// ```
/// use heatstore::query::Column;
/// assert_eq!(Column::parse("load_ms"), Some(Column::LoadMs));
/// assert_eq!(Column::LoadMs.name(), "load_ms");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// ms since the Unix epoch (`i64`).
    Ts,
    /// The event kind.
    Kind,
    /// Page path.
    Page,
    /// The session's stored keyed hash (`u64`; in hex, 16 digits, it is the
    /// key [`crate::Snapshot::session_events_by_key`] and the exports use).
    Session,
    /// The session's visitor hash (the session's own hash when no event
    /// named a visitor).
    Visitor,
    /// Document x (click, move).
    X,
    /// Document y (click, move) or scrollTop (scroll).
    Y,
    /// Viewport width.
    Vw,
    /// Viewport height.
    Vh,
    /// Document height.
    Dh,
    /// Page load time, ms (pageview).
    LoadMs,
    /// Target element's selector (click, input).
    Selector,
    /// In-element x, 1/10000 of the target's box (click).
    Ex,
    /// In-element y, 1/10000 (click).
    Ey,
    /// Characters typed (input; never the text).
    Len,
    /// Time on page, ms (leave).
    DurationMs,
    /// Custom event name.
    Name,
    /// The session's device class ([`DeviceClass::Unknown`] for a session
    /// with no pageview).
    Device,
    /// The session's browser family.
    Browser,
    /// The session's OS family.
    Os,
    /// The session's referrer host (`(direct)` when none).
    Referrer,
    /// The session's channel.
    Channel,
}

impl Column {
    /// Every column, in this order.
    pub const ALL: [Column; 22] = [
        Column::Ts,
        Column::Kind,
        Column::Page,
        Column::Session,
        Column::Visitor,
        Column::X,
        Column::Y,
        Column::Vw,
        Column::Vh,
        Column::Dh,
        Column::LoadMs,
        Column::Selector,
        Column::Ex,
        Column::Ey,
        Column::Len,
        Column::DurationMs,
        Column::Name,
        Column::Device,
        Column::Browser,
        Column::Os,
        Column::Referrer,
        Column::Channel,
    ];

    /// The column's name: the event field's (`ts`, `vw`, `load_ms`, ...),
    /// `kind` for the type, and `session`, `visitor`, `device`, `browser`,
    /// `os`, `referrer`, `channel` for the session's.
    pub fn name(self) -> &'static str {
        match self {
            Column::Ts => "ts",
            Column::Kind => "kind",
            Column::Page => "page",
            Column::Session => "session",
            Column::Visitor => "visitor",
            Column::X => "x",
            Column::Y => "y",
            Column::Vw => "vw",
            Column::Vh => "vh",
            Column::Dh => "dh",
            Column::LoadMs => "load_ms",
            Column::Selector => "selector",
            Column::Ex => "ex",
            Column::Ey => "ey",
            Column::Len => "len",
            Column::DurationMs => "duration_ms",
            Column::Name => "name",
            Column::Device => "device",
            Column::Browser => "browser",
            Column::Os => "os",
            Column::Referrer => "referrer",
            Column::Channel => "channel",
        }
    }

    /// The column of a name ([`Column::name`]; `type` for `kind` too).
    pub fn parse(name: &str) -> Option<Column> {
        if name == "type" {
            return Some(Column::Kind);
        }
        Column::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Parses a comma-separated list (`"ts,x,y,vw"`), naming the first
    /// unknown column in the error.
    pub fn parse_list(list: &str) -> Result<Vec<Column>> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                Column::parse(s).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "unknown column {s:?}: expected one of {}",
                        Column::ALL.map(Column::name).join(", ")
                    ))
                })
            })
            .collect()
    }
}

/// The events of one segment that passed the filters, column by column:
/// each column asked for holds one value per row (`None` where the event
/// has no such field); the others are `None`. Strings are shared
/// (`Arc<str>`): one allocation per distinct value of the batch.
///
/// ```
/// # let store = heatstore::Store::in_memory()?;
/// # store.import_ndjson(concat!(
/// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","url":"/pricing","vw":390,"vh":700,"dh":3000}"##, "\n",
/// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy"}"##, "\n",
/// # ).as_bytes())?;
/// use heatstore::query::{Column, Filters};
/// use heatstore::EventKind;
/// let snap = store.snapshot()?;
/// let f = Filters { kind: Some(EventKind::Click), ..Filters::default() };
/// let mut ys = Vec::new();
/// for batch in snap.event_batches("shop.example", &f, &[Column::Ts, Column::Y])? {
///     let batch = batch?;
///     ys.extend(batch.y.unwrap().into_iter().flatten());
///     assert!(batch.x.is_none(), "not asked for");
/// }
/// assert_eq!(ys, [1200]);
/// # Ok::<(), heatstore::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventBatch {
    /// Rows in the batch.
    pub rows: usize,
    /// The columns asked for, in the order asked (once each): the order
    /// of an Arrow batch's fields.
    pub columns: Vec<Column>,
    /// The UTC day (days since the epoch) of the partition the rows are from.
    pub day: i32,
    /// [`Column::Ts`].
    pub ts: Option<Vec<i64>>,
    /// [`Column::Kind`].
    pub kind: Option<Vec<EventKind>>,
    /// [`Column::Page`].
    pub page: Option<Vec<Arc<str>>>,
    /// [`Column::Session`].
    pub session: Option<Vec<u64>>,
    /// [`Column::Visitor`].
    pub visitor: Option<Vec<u64>>,
    /// [`Column::X`].
    pub x: Option<Vec<Option<u32>>>,
    /// [`Column::Y`].
    pub y: Option<Vec<Option<u32>>>,
    /// [`Column::Vw`].
    pub vw: Option<Vec<Option<u32>>>,
    /// [`Column::Vh`].
    pub vh: Option<Vec<Option<u32>>>,
    /// [`Column::Dh`].
    pub dh: Option<Vec<Option<u32>>>,
    /// [`Column::LoadMs`].
    pub load_ms: Option<Vec<Option<u32>>>,
    /// [`Column::Selector`].
    pub selector: Option<Vec<Option<Arc<str>>>>,
    /// [`Column::Ex`].
    pub ex: Option<Vec<Option<u16>>>,
    /// [`Column::Ey`].
    pub ey: Option<Vec<Option<u16>>>,
    /// [`Column::Len`].
    pub len: Option<Vec<Option<u32>>>,
    /// [`Column::DurationMs`].
    pub duration_ms: Option<Vec<Option<u32>>>,
    /// [`Column::Name`].
    pub name: Option<Vec<Option<Arc<str>>>>,
    /// [`Column::Device`].
    pub device: Option<Vec<DeviceClass>>,
    /// [`Column::Browser`].
    pub browser: Option<Vec<Option<Arc<str>>>>,
    /// [`Column::Os`].
    pub os: Option<Vec<Option<Arc<str>>>>,
    /// [`Column::Referrer`].
    pub referrer: Option<Vec<Option<Arc<str>>>>,
    /// [`Column::Channel`].
    pub channel: Option<Vec<Option<Channel>>>,
}

/// One stored event with its session's attributes, as
/// [`crate::Snapshot::events`] returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RawEvent {
    /// ms since the Unix epoch.
    pub ts: i64,
    /// Kind.
    pub kind: EventKind,
    /// Page path.
    pub page: String,
    /// The session's keyed hash ([`Column::Session`]).
    pub session: u64,
    /// The session's visitor hash ([`Column::Visitor`]).
    pub visitor: u64,
    /// [`Column::X`].
    pub x: Option<u32>,
    /// [`Column::Y`].
    pub y: Option<u32>,
    /// [`Column::Vw`].
    pub vw: Option<u32>,
    /// [`Column::Vh`].
    pub vh: Option<u32>,
    /// [`Column::Dh`].
    pub dh: Option<u32>,
    /// [`Column::LoadMs`].
    pub load_ms: Option<u32>,
    /// [`Column::Selector`].
    pub selector: Option<String>,
    /// [`Column::Ex`].
    pub ex: Option<u16>,
    /// [`Column::Ey`].
    pub ey: Option<u16>,
    /// [`Column::Len`].
    pub len: Option<u32>,
    /// [`Column::DurationMs`].
    pub duration_ms: Option<u32>,
    /// [`Column::Name`].
    pub name: Option<String>,
    /// The session's device class.
    pub device: DeviceClass,
    /// The session's browser family (`None`: the session has no pageview).
    pub browser: Option<String>,
    /// The session's OS family.
    pub os: Option<String>,
    /// The session's referrer host.
    pub referrer: Option<String>,
    /// The session's channel.
    pub channel: Option<Channel>,
}

impl RawEvent {
    /// The session key in the form the exports and
    /// [`crate::Snapshot::session_events_by_key`] use (16 hex digits).
    pub fn session_key(&self) -> String {
        format!("{:016x}", self.session)
    }
}

/// Which columns a scan decodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Wanted(u32);

/// Each column once, in the order first asked.
fn dedup(columns: &[Column]) -> Vec<Column> {
    let mut out: Vec<Column> = Vec::with_capacity(columns.len());
    for c in columns {
        if !out.contains(c) {
            out.push(*c);
        }
    }
    out
}

impl Wanted {
    fn of(columns: &[Column]) -> Wanted {
        Wanted(columns.iter().fold(0, |m, c| m | 1 << (*c as u32)))
    }
    fn has(self, c: Column) -> bool {
        self.0 & (1 << (c as u32)) != 0
    }
}

/// The batches of a scan, one per segment with surviving rows, by day and
/// within a day in storage order (each session's rows together). Returned
/// by [`crate::Snapshot::event_batches`].
pub struct EventBatches<'s> {
    view: &'s View,
    site: Option<SiteRef>,
    filters: Filters,
    wanted: Wanted,
    columns: Vec<Column>,
    parts: std::vec::IntoIter<(i32, PartMeta)>,
    part: Option<PartitionView>,
    seg: usize,
    failed: bool,
}

impl<'s> EventBatches<'s> {
    pub(crate) fn new(
        view: &'s View,
        site: &str,
        filters: &Filters,
        columns: &[Column],
    ) -> Result<EventBatches<'s>> {
        let site = view.site(site)?;
        let parts = match &site {
            Some(s) => {
                let (lo, hi) = day_span(filters.from, filters.to);
                view.partitions(s.id, lo, hi)?
            }
            None => Vec::new(),
        };
        Ok(EventBatches {
            view,
            site,
            filters: filters.clone(),
            wanted: Wanted::of(columns),
            columns: dedup(columns),
            parts: parts.into_iter(),
            part: None,
            seg: 0,
            failed: false,
        })
    }

    fn step(&mut self) -> Result<Option<EventBatch>> {
        let Some(site) = &self.site else {
            return Ok(None);
        };
        loop {
            if let Some(part) = &self.part {
                while let Some(seg) = part.segments.get(self.seg) {
                    self.seg += 1;
                    let mut ctx = SegCtx::new(self.view, part, seg);
                    let mut rows = filter_rows(&ctx, &self.filters, None)?;
                    if !site.hidden.is_empty() && !rows.is_empty() {
                        rows = hide(&ctx, &site.hidden, rows)?;
                    }
                    if let Some(sel) = &self.filters.selector {
                        if !rows.is_empty() {
                            rows = selector_rows(&ctx, sel, rows)?;
                        }
                    }
                    if rows.is_empty() {
                        continue;
                    }
                    ctx.rows = rows;
                    let mut b = gather(&ctx, self.wanted)?;
                    b.columns.clone_from(&self.columns);
                    return Ok(Some(b));
                }
                self.part = None;
            }
            let Some((day, meta)) = self.parts.next() else {
                return Ok(None);
            };
            self.part = Some(self.view.partition_view(site.id, day, &meta)?);
            self.seg = 0;
        }
    }
}

impl EventBatches<'_> {
    /// The columns each batch holds, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
}

impl Iterator for EventBatches<'_> {
    type Item = Result<EventBatch>;

    fn next(&mut self) -> Option<Result<EventBatch>> {
        if self.failed {
            return None;
        }
        let step = crate::guard::guarded("scanning events", || self.step());
        match step {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                // An error ends the scan: the next call would repeat it.
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The events of a scan one by one, every column filled. Returned by
/// [`crate::Snapshot::events`].
pub struct Events<'s> {
    batches: EventBatches<'s>,
    batch: std::vec::IntoIter<RawEvent>,
}

impl<'s> Events<'s> {
    pub(crate) fn new(batches: EventBatches<'s>) -> Events<'s> {
        Events {
            batches,
            batch: Vec::new().into_iter(),
        }
    }
}

impl Iterator for Events<'_> {
    type Item = Result<RawEvent>;

    fn next(&mut self) -> Option<Result<RawEvent>> {
        loop {
            if let Some(e) = self.batch.next() {
                return Some(Ok(e));
            }
            match self.batches.next()? {
                Ok(b) => self.batch = b.into_events().into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl EventBatch {
    /// The batch as rows; columns not asked for are left at their default
    /// (`0`, `None`, empty).
    pub fn into_events(self) -> Vec<RawEvent> {
        let n = self.rows;
        let mut out = vec![RawEvent::default(); n];
        fn fill<T, F: FnMut(&mut RawEvent, T)>(
            out: &mut [RawEvent],
            col: Option<Vec<T>>,
            mut f: F,
        ) {
            if let Some(col) = col {
                for (e, v) in out.iter_mut().zip(col) {
                    f(e, v);
                }
            }
        }
        let s = |v: Option<Arc<str>>| v.map(|s| s.to_string());
        fill(&mut out, self.ts, |e, v| e.ts = v);
        fill(&mut out, self.kind, |e, v| e.kind = v);
        fill(&mut out, self.page, |e, v| e.page = v.to_string());
        fill(&mut out, self.session, |e, v| e.session = v);
        fill(&mut out, self.visitor, |e, v| e.visitor = v);
        fill(&mut out, self.x, |e, v| e.x = v);
        fill(&mut out, self.y, |e, v| e.y = v);
        fill(&mut out, self.vw, |e, v| e.vw = v);
        fill(&mut out, self.vh, |e, v| e.vh = v);
        fill(&mut out, self.dh, |e, v| e.dh = v);
        fill(&mut out, self.load_ms, |e, v| e.load_ms = v);
        fill(&mut out, self.selector, |e, v| e.selector = s(v));
        fill(&mut out, self.ex, |e, v| e.ex = v);
        fill(&mut out, self.ey, |e, v| e.ey = v);
        fill(&mut out, self.len, |e, v| e.len = v);
        fill(&mut out, self.duration_ms, |e, v| e.duration_ms = v);
        fill(&mut out, self.name, |e, v| e.name = s(v));
        fill(&mut out, self.device, |e, v| e.device = v);
        fill(&mut out, self.browser, |e, v| e.browser = s(v));
        fill(&mut out, self.os, |e, v| e.os = s(v));
        fill(&mut out, self.referrer, |e, v| e.referrer = s(v));
        fill(&mut out, self.channel, |e, v| e.channel = v);
        out
    }
}

/// Clicks and inputs on one selector.
fn selector_rows(ctx: &SegCtx<'_>, selector: &str, rows: RoaringBitmap) -> Result<RoaringBitmap> {
    let Some(id) = ctx
        .part
        .dicts
        .dict(Dim::Selector)
        .and_then(|d| d.id(selector))
    else {
        return Ok(RoaringBitmap::new());
    };
    let mut kinds = ctx.kind_rows(EventKind::Click)?;
    kinds |= ctx.kind_rows(EventKind::Input)?;
    let candidates: Vec<u32> = (rows & kinds).iter().collect();
    let values = ctx.opt_at(col::SELECTOR, &candidates)?;
    Ok(candidates
        .into_iter()
        .zip(values)
        .filter(|(_, v)| *v == Some(id))
        .map(|(r, _)| r)
        .collect())
}

/// Strings of one dimension, resolved once per batch.
struct Interner<'a> {
    ctx: &'a SegCtx<'a>,
    dim: Dim,
    seen: HashMap<u64, Arc<str>, foldhash::fast::RandomState>,
    /// The last id asked for: runs of one value are common.
    last: Option<(u64, Arc<str>)>,
}

impl<'a> Interner<'a> {
    fn new(ctx: &'a SegCtx<'a>, dim: Dim) -> Interner<'a> {
        Interner {
            ctx,
            dim,
            seen: HashMap::default(),
            last: None,
        }
    }
    fn get(&mut self, id: u64) -> Result<Arc<str>> {
        if let Some((last, s)) = &self.last {
            if *last == id {
                return Ok(Arc::clone(s));
            }
        }
        let s = match self.seen.get(&id) {
            Some(s) => Arc::clone(s),
            None => {
                let s: Arc<str> = Arc::from(self.ctx.string(self.dim, id)?);
                self.seen.insert(id, Arc::clone(&s));
                s
            }
        };
        self.last = Some((id, Arc::clone(&s)));
        Ok(s)
    }
}

fn pos_of(v: Option<u32>) -> Result<Option<u16>> {
    v.map(|v| {
        u16::try_from(v)
            .ok()
            .filter(|&v| v <= crate::event::MAX_ELEMENT_POS)
            .ok_or_else(|| Corrupt::new("segment", "in-element position over 10000"))
    })
    .transpose()
    .map_err(Into::into)
}

/// Decodes the wanted columns of the segment's surviving rows.
fn gather(ctx: &SegCtx<'_>, w: Wanted) -> Result<EventBatch> {
    // The rows once, as a slice: every column walks them.
    let rows: Vec<u32> = ctx.rows.iter().collect();
    let rows = rows.as_slice();
    let n = rows.len();
    let mut b = EventBatch {
        rows: n,
        day: ctx.part.day,
        ..EventBatch::default()
    };
    if w.has(Column::Ts) {
        let ts = ctx.ts()?;
        let mut v = Vec::with_capacity(n);
        for &r in rows {
            v.push(
                *ts.get(r as usize)
                    .ok_or_else(|| Corrupt::new("segment time column", "row past the column"))?,
            );
        }
        b.ts = Some(v);
    }
    if w.has(Column::Kind) {
        let mut per_row = vec![u8::MAX; ctx.seg.rows as usize];
        for k in EventKind::ALL {
            let mut of_kind = ctx.kind_rows(k)?;
            of_kind &= &ctx.rows;
            for r in of_kind {
                if let Some(slot) = per_row.get_mut(r as usize) {
                    *slot = k.code();
                }
            }
        }
        let mut v = Vec::with_capacity(n);
        for &r in rows {
            let code = per_row.get(r as usize).copied().unwrap_or(u8::MAX);
            v.push(
                EventKind::from_code(code)
                    .ok_or_else(|| Corrupt::new("segment", "kind bitmaps do not cover the rows"))?,
            );
        }
        b.kind = Some(v);
    }
    if w.has(Column::Page) {
        let pages = ctx.page_ids()?;
        let mut names = Interner::new(ctx, Dim::Page);
        let mut v = Vec::with_capacity(n);
        for &r in rows {
            let id = pages
                .get(r as usize)
                .ok_or_else(|| Corrupt::new("segment page column", "row past the column"))?;
            v.push(names.get(u64::from(*id))?);
        }
        b.page = Some(v);
    }
    let per_session = [
        Column::Session,
        Column::Visitor,
        Column::Device,
        Column::Browser,
        Column::Os,
        Column::Referrer,
        Column::Channel,
    ];
    if per_session.iter().any(|c| w.has(*c)) {
        session_columns(ctx, rows, w, &mut b)?;
    }
    let nums: [(Column, u8); 8] = [
        (Column::X, col::X),
        (Column::Y, col::Y),
        (Column::Vw, col::VW),
        (Column::Vh, col::VH),
        (Column::Dh, col::DH),
        (Column::LoadMs, col::LOAD_MS),
        (Column::Len, col::LEN),
        (Column::DurationMs, col::DURATION_MS),
    ];
    for (c, id) in nums {
        if !w.has(c) {
            continue;
        }
        let v = ctx.opt_at(id, rows)?;
        match c {
            Column::X => b.x = Some(v),
            Column::Y => b.y = Some(v),
            Column::Vw => b.vw = Some(v),
            Column::Vh => b.vh = Some(v),
            Column::Dh => b.dh = Some(v),
            Column::LoadMs => b.load_ms = Some(v),
            Column::Len => b.len = Some(v),
            _ => b.duration_ms = Some(v),
        }
    }
    for (c, id) in [(Column::Ex, col::EX), (Column::Ey, col::EY)] {
        if !w.has(c) {
            continue;
        }
        let mut v = Vec::with_capacity(n);
        for x in ctx.opt_at(id, rows)? {
            v.push(pos_of(x)?);
        }
        if c == Column::Ex {
            b.ex = Some(v);
        } else {
            b.ey = Some(v);
        }
    }
    for (c, id, dim) in [
        (Column::Selector, col::SELECTOR, Dim::Selector),
        (Column::Name, col::NAME, Dim::Name),
    ] {
        if !w.has(c) {
            continue;
        }
        let mut names = Interner::new(ctx, dim);
        let mut v = Vec::with_capacity(n);
        for x in ctx.opt_at(id, rows)? {
            v.push(match x {
                Some(id) => Some(names.get(u64::from(id))?),
                None => None,
            });
        }
        if c == Column::Selector {
            b.selector = Some(v);
        } else {
            b.name = Some(v);
        }
    }
    Ok(b)
}

/// The columns that come from each row's session.
fn session_columns(ctx: &SegCtx<'_>, rows: &[u32], w: Wanted, b: &mut EventBatch) -> Result<()> {
    let runs = ctx.runs()?;
    let attrs = if [
        Column::Device,
        Column::Browser,
        Column::Os,
        Column::Referrer,
        Column::Channel,
    ]
    .iter()
    .any(|c| w.has(*c))
    {
        Some(ctx.session_attrs()?)
    } else {
        None
    };
    let n = b.rows;
    let mut session = w.has(Column::Session).then(|| Vec::with_capacity(n));
    let mut visitor = w.has(Column::Visitor).then(|| Vec::with_capacity(n));
    let mut device = w.has(Column::Device).then(|| Vec::with_capacity(n));
    let mut browser = w.has(Column::Browser).then(|| Vec::with_capacity(n));
    let mut os = w.has(Column::Os).then(|| Vec::with_capacity(n));
    let mut referrer = w.has(Column::Referrer).then(|| Vec::with_capacity(n));
    let mut channel = w.has(Column::Channel).then(|| Vec::with_capacity(n));
    let mut browsers = Interner::new(ctx, Dim::Browser);
    let mut oses = Interner::new(ctx, Dim::Os);
    let mut hosts = Interner::new(ctx, Dim::RefHost);
    let plus_one = |code: u64, names: &mut Interner<'_>| -> Result<Option<Arc<str>>> {
        match code {
            0 => Ok(None),
            c => names.get(c - 1).map(Some),
        }
    };
    let mut si = 0usize;
    for &r in rows {
        while runs.starts.get(si + 1).is_some_and(|&s| s <= r) {
            si += 1;
        }
        if let Some(v) = &mut session {
            v.push(runs.hashes.get(si).copied().unwrap_or_default());
        }
        if let Some(v) = &mut visitor {
            v.push(runs.visitors.get(si).copied().unwrap_or_default());
        }
        let Some(attrs) = &attrs else {
            continue;
        };
        let c = attrs
            .get(si)
            .ok_or_else(|| Corrupt::new("segment session attributes", "fewer than sessions"))?;
        if let Some(v) = &mut device {
            v.push(
                u8::try_from(c[0])
                    .ok()
                    .and_then(DeviceClass::from_code)
                    .ok_or_else(|| Corrupt::new("segment session attributes", "bad device"))?,
            );
        }
        if let Some(v) = &mut browser {
            v.push(plus_one(c[1], &mut browsers)?);
        }
        if let Some(v) = &mut os {
            v.push(plus_one(c[2], &mut oses)?);
        }
        if let Some(v) = &mut channel {
            v.push(match c[3] {
                0 => None,
                code => Some(
                    u8::try_from(code - 1)
                        .ok()
                        .and_then(Channel::from_code)
                        .ok_or_else(|| Corrupt::new("segment session attributes", "bad channel"))?,
                ),
            });
        }
        if let Some(v) = &mut referrer {
            v.push(plus_one(c[4], &mut hosts)?);
        }
    }
    b.session = session;
    b.visitor = visitor;
    b.device = device;
    b.browser = browser;
    b.os = os;
    b.referrer = referrer;
    b.channel = channel;
    Ok(())
}
