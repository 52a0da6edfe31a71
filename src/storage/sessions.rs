//! Sessions: the master row per session, and the per-day columnar blocks
//! that session reports read.
//!
//! A session's attributes are those of its first pageview (earliest `ts`,
//! then arrival). The master row (table `sessions`) is the truth; the block
//! of the day of the first pageview (table `session_blocks`) is derived from
//! it and rewritten whenever a session in it changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::codec::{decode_uints, encode_uints, put_varint, unzigzag, zigzag, Reader};
use super::dict::Dict;
use super::Corrupt;
use crate::error::Result;
use crate::normalize::{Channel, DeviceClass, SessionAttrs};
use crate::time::day_start;
use redb::ReadableTable;

/// The string attributes of a session block, in column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SField {
    EntryPage = 0,
    RefHost,
    RefDomain,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmTerm,
    UtmContent,
    Browser,
    BrowserMajor,
    Os,
    OsMajor,
    Screen,
    Lang,
    Tz,
}

pub(crate) const SFIELDS: usize = 15;

impl SessionAttrs {
    fn strings(&self) -> [Option<&str>; SFIELDS] {
        [
            Some(self.entry_page.as_str()),
            Some(self.referrer_host.as_str()),
            Some(self.referrer_domain.as_str()),
            self.utm_source.as_deref(),
            self.utm_medium.as_deref(),
            self.utm_campaign.as_deref(),
            self.utm_term.as_deref(),
            self.utm_content.as_deref(),
            Some(self.browser.as_str()),
            self.browser_major.as_deref(),
            Some(self.os.as_str()),
            self.os_major.as_deref(),
            self.screen.as_deref(),
            self.lang.as_deref(),
            self.tz.as_deref(),
        ]
    }
}

/// The first pageview of a session: what decides its attributes and day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct FirstPv {
    pub ts: i64,
    pub seq: u64,
}

/// The master row of a session (table `sessions`).
///
/// A session's visitor is the one named by its first event in
/// `(ts, arrival)` order that names one (`named`), whatever order its
/// events arrive in; a session none of whose events names a visitor stands
/// for itself (`visitor` is then the session's own hash). Every visitor its
/// events named is kept (`visitor` and `others`): a deletion request for any
/// of them deletes the whole session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionRow {
    /// The session's visitor (its own hash when no event named one).
    pub visitor: u64,
    /// The first pageview; its day's session block holds the attributes.
    pub first_pv: Option<FirstPv>,
    /// Days this session has events on, sorted.
    pub days: Vec<i32>,
    /// `(ts, arrival)` of the first event that named `visitor`; `None`
    /// when no event named one. (Absent in rows written before it existed:
    /// their visitor is taken as named before every event.)
    #[serde(default)]
    pub named: Option<FirstPv>,
    /// The other visitors its events named, sorted, without `visitor`.
    #[serde(default)]
    pub others: Vec<u64>,
}

/// The order key a legacy row's visitor is taken as named at.
const NAMED_FIRST: FirstPv = FirstPv {
    ts: i64::MIN,
    seq: 0,
};

/// First byte of a packed session row (format 4). MessagePack never writes
/// it, so a row of format 3 (a MessagePack array) is told apart by it.
const PACKED_ROW: u8 = 0xC1;
const HAS_FIRST_PV: u8 = 1;
const HAS_NAMED: u8 = 2;

impl SessionRow {
    /// The packed form (docs/format.md §5.3): the visitor, flags, the
    /// first pageview's `(ts, seq)`, `named` as a difference from it, the
    /// days as differences, the other visitors.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 8 * self.others.len());
        out.push(PACKED_ROW);
        out.extend_from_slice(&self.visitor.to_le_bytes());
        let flags = if self.first_pv.is_some() {
            HAS_FIRST_PV
        } else {
            0
        } | if self.named.is_some() { HAS_NAMED } else { 0 };
        out.push(flags);
        let base = self.first_pv.map_or(0, |f| f.ts);
        if let Some(f) = self.first_pv {
            put_varint(&mut out, zigzag(f.ts));
            put_varint(&mut out, f.seq);
        }
        if let Some(n) = self.named {
            put_varint(&mut out, zigzag(n.ts.wrapping_sub(base)));
            put_varint(&mut out, n.seq);
        }
        put_varint(&mut out, self.days.len() as u64);
        let mut prev = 0i64;
        for &d in &self.days {
            put_varint(&mut out, zigzag(i64::from(d) - prev));
            prev = i64::from(d);
        }
        put_varint(&mut out, self.others.len() as u64);
        for o in &self.others {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out
    }

    /// Decodes a row in either layout: packed, or format 3's MessagePack.
    pub(crate) fn decode(bytes: &[u8]) -> Result<SessionRow, Corrupt> {
        if bytes.first() != Some(&PACKED_ROW) {
            return rmp_serde::from_slice(bytes)
                .map_err(|e| Corrupt::new("session row", e.to_string()));
        }
        let mut r = Reader::new(bytes, "session row");
        r.u8()?;
        let visitor = r.u64_le()?;
        let flags = r.u8()?;
        if flags & !(HAS_FIRST_PV | HAS_NAMED) != 0 {
            return Err(r.corrupt("unknown flags"));
        }
        let first_pv = if flags & HAS_FIRST_PV != 0 {
            Some(FirstPv {
                ts: unzigzag(r.varint()?),
                seq: r.varint()?,
            })
        } else {
            None
        };
        let base = first_pv.map_or(0, |f| f.ts);
        let named = if flags & HAS_NAMED != 0 {
            Some(FirstPv {
                ts: base.wrapping_add(unzigzag(r.varint()?)),
                seq: r.varint()?,
            })
        } else {
            None
        };
        let n = r.count(1)?;
        let mut days = Vec::with_capacity(n);
        let mut prev = 0i64;
        for _ in 0..n {
            let d = prev
                .checked_add(unzigzag(r.varint()?))
                .and_then(|d| i32::try_from(d).ok())
                .ok_or_else(|| r.corrupt("day out of range"))?;
            days.push(d);
            prev = i64::from(d);
        }
        let n = r.count(8)?;
        let mut others = Vec::with_capacity(n);
        for _ in 0..n {
            others.push(r.u64_le()?);
        }
        if !r.is_empty() {
            return Err(r.corrupt("bytes after the row"));
        }
        Ok(SessionRow {
            visitor,
            first_pv,
            days,
            named,
            others,
        })
    }

    /// A new row for session `hash`, no event seen yet.
    pub(crate) fn new(hash: u64) -> SessionRow {
        SessionRow {
            visitor: hash,
            ..SessionRow::default()
        }
    }

    /// `(ts, arrival)` of the event that named the visitor, `None` when no
    /// event did (rows of the first format version: a visitor other than
    /// the session counts as named first).
    pub(crate) fn named_at(&self, hash: u64) -> Option<FirstPv> {
        self.named.or((self.visitor != hash).then_some(NAMED_FIRST))
    }

    /// Takes in an event of the session at `at` that names `visitor`.
    /// Returns whether the session's visitor changed.
    pub(crate) fn name(&mut self, hash: u64, at: FirstPv, visitor: u64) -> bool {
        let before = self.visitor;
        match self.named_at(hash) {
            Some(old) if old <= at => {
                if visitor != self.visitor {
                    self.add_other(visitor);
                }
            }
            old => {
                if old.is_some() && self.visitor != visitor {
                    let prev = self.visitor;
                    self.add_other(prev);
                }
                self.others.retain(|&v| v != visitor);
                self.visitor = visitor;
                self.named = Some(at);
            }
        }
        self.visitor != before
    }

    fn add_other(&mut self, v: u64) {
        if let Err(i) = self.others.binary_search(&v) {
            self.others.insert(i, v);
        }
    }

    /// Every visitor the session is filed under in the visitor index: the
    /// visitors its events named, or the session itself when none did.
    pub(crate) fn index_visitors(&self, hash: u64) -> Vec<u64> {
        let mut v = Vec::with_capacity(1 + self.others.len());
        v.push(self.visitor);
        if self.named_at(hash).is_some() {
            v.extend_from_slice(&self.others);
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    pub(crate) fn add_day(&mut self, day: i32) -> bool {
        match self.days.binary_search(&day) {
            Ok(_) => false,
            Err(i) => {
                self.days.insert(i, day);
                true
            }
        }
    }
}

/// One session of a block, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlockEntry {
    pub hash: u64,
    pub visitor: u64,
    pub first_ts: i64,
    pub attrs: SessionAttrs,
}

/// The columnar block of one day's sessions (by first pageview), sorted by
/// session hash. Strings are ids into the block's own dictionary, plus one;
/// 0 is "absent".
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionBlock {
    pub hashes: Vec<u64>,
    pub visitors: Vec<u64>,
    pub first_ts: Vec<i64>,
    pub device: Vec<u8>,
    pub channel: Vec<u8>,
    pub strings: Vec<Vec<u32>>,
    pub dict: Dict,
}

impl SessionBlock {
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// The string of field `f` of session `i`.
    pub(crate) fn string(&self, f: SField, i: usize) -> Option<&str> {
        let id = *self.strings.get(f as usize)?.get(i)?;
        if id == 0 {
            return None;
        }
        self.dict.get(u64::from(id - 1))
    }

    pub(crate) fn entry(&self, i: usize) -> Option<BlockEntry> {
        let s = |f: SField| self.string(f, i).map(str::to_owned);
        Some(BlockEntry {
            hash: *self.hashes.get(i)?,
            visitor: *self.visitors.get(i)?,
            first_ts: *self.first_ts.get(i)?,
            attrs: SessionAttrs {
                entry_page: s(SField::EntryPage).unwrap_or_default(),
                referrer_host: s(SField::RefHost).unwrap_or_default(),
                referrer_domain: s(SField::RefDomain).unwrap_or_default(),
                channel: Channel::from_code(*self.channel.get(i)?).unwrap_or_default(),
                utm_source: s(SField::UtmSource),
                utm_medium: s(SField::UtmMedium),
                utm_campaign: s(SField::UtmCampaign),
                utm_term: s(SField::UtmTerm),
                utm_content: s(SField::UtmContent),
                device: DeviceClass::from_code(*self.device.get(i)?).unwrap_or_default(),
                browser: s(SField::Browser).unwrap_or_default(),
                browser_major: s(SField::BrowserMajor),
                os: s(SField::Os).unwrap_or_default(),
                os_major: s(SField::OsMajor),
                screen: s(SField::Screen),
                lang: s(SField::Lang),
                tz: s(SField::Tz),
            },
        })
    }

    pub(crate) fn entries(&self) -> Vec<BlockEntry> {
        (0..self.len()).filter_map(|i| self.entry(i)).collect()
    }

    /// Builds a block from entries (any order; sorted here).
    pub(crate) fn build(mut entries: Vec<BlockEntry>) -> SessionBlock {
        entries.sort_by_key(|e| e.hash);
        let mut b = SessionBlock {
            strings: (0..SFIELDS)
                .map(|_| Vec::with_capacity(entries.len()))
                .collect(),
            ..SessionBlock::default()
        };
        for e in &entries {
            b.hashes.push(e.hash);
            b.visitors.push(e.visitor);
            b.first_ts.push(e.first_ts);
            b.device.push(e.attrs.device.code());
            b.channel.push(e.attrs.channel.code());
            for (col, s) in b.strings.iter_mut().zip(e.attrs.strings()) {
                col.push(s.map_or(0, |s| b.dict.intern(s) + 1));
            }
        }
        b
    }

    pub(crate) fn encode(&self, day_start: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.hashes.len() as u64);
        for h in &self.hashes {
            out.extend_from_slice(&h.to_le_bytes());
        }
        for v in &self.visitors {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let offs: Vec<u64> = self
            .first_ts
            .iter()
            .map(|&t| (t - day_start).max(0) as u64)
            .collect();
        encode_uints(&offs, &mut out);
        let small = |v: &[u8]| v.iter().map(|&b| u64::from(b)).collect::<Vec<_>>();
        encode_uints(&small(&self.device), &mut out);
        encode_uints(&small(&self.channel), &mut out);
        for col in &self.strings {
            let v: Vec<u64> = col.iter().map(|&i| u64::from(i)).collect();
            encode_uints(&v, &mut out);
        }
        out.extend_from_slice(&self.dict.encode());
        out
    }

    pub(crate) fn decode(bytes: &[u8], day_start: i64) -> Result<SessionBlock, Corrupt> {
        let mut r = Reader::new(bytes, "session block");
        let n = r.count(16)?;
        let mut b = SessionBlock::default();
        for _ in 0..n {
            b.hashes.push(r.u64_le()?);
        }
        for _ in 0..n {
            b.visitors.push(r.u64_le()?);
        }
        let col = |r: &mut Reader<'_>| -> Result<Vec<u64>, Corrupt> {
            let mut v = Vec::with_capacity(n);
            decode_uints(r, &mut v)?;
            if v.len() != n {
                return Err(r.corrupt("column length differs from the session count"));
            }
            Ok(v)
        };
        b.first_ts = col(&mut r)?
            .into_iter()
            .map(|o| day_start.saturating_add(o.min(i64::MAX as u64) as i64))
            .collect();
        let device = col(&mut r)?;
        let channel = col(&mut r)?;
        if device
            .iter()
            .any(|&d| d > 255 || DeviceClass::from_code(d as u8).is_none())
            || channel
                .iter()
                .any(|&c| c > 255 || Channel::from_code(c as u8).is_none())
        {
            return Err(r.corrupt("unknown device class or channel code"));
        }
        b.device = device.into_iter().map(|d| d as u8).collect();
        b.channel = channel.into_iter().map(|c| c as u8).collect();
        let mut strings = Vec::with_capacity(SFIELDS);
        for _ in 0..SFIELDS {
            strings.push(col(&mut r)?);
        }
        b.dict = Dict::decode(r.rest())?;
        let limit = b.dict.len() as u64;
        for s in strings {
            if s.iter().any(|&i| i > limit) {
                return Err(Corrupt::new(
                    "session block",
                    "string id past the dictionary",
                ));
            }
            b.strings.push(s.into_iter().map(|i| i as u32).collect());
        }
        if b.hashes.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
            return Err(Corrupt::new("session block", "session hashes not sorted"));
        }
        Ok(b)
    }
}

/// Tails of a day that make a commit fold them into its block, or, while
/// the block is more than [`FOLD_RATIO`] times their size, merge them
/// into one tail: a day's block is decoded and written again once its
/// tails hold a fair share of it, not every [`TAIL_MAX`] commits, so a
/// commit costs what it changes however many sessions the day holds.
pub(crate) const TAIL_MAX: usize = 48;

/// See [`TAIL_MAX`].
pub(crate) const FOLD_RATIO: usize = 4;

/// One commit's changes to a day's session block (table
/// `session_block_tails`): entries put (new sessions, or new versions of
/// the block's) and hashes removed. Encoded as a varint count of removed
/// hashes, the hashes (u64 LE, ascending), then the entries as a
/// [`SessionBlock`]. Removals apply before puts.
#[derive(Clone, Debug, Default)]
pub(crate) struct BlockTail {
    pub entries: SessionBlock,
    pub removed: Vec<u64>,
}

impl BlockTail {
    /// Changes it holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len() + self.removed.len()
    }

    pub(crate) fn encode(&self, day_start: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.removed.len() as u64);
        for h in &self.removed {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out.extend_from_slice(&self.entries.encode(day_start));
        out
    }

    pub(crate) fn decode(bytes: &[u8], day_start: i64) -> Result<BlockTail, Corrupt> {
        let mut r = Reader::new(bytes, "session block tail");
        let n = r.count(8)?;
        let mut removed = Vec::with_capacity(n);
        for _ in 0..n {
            removed.push(r.u64_le()?);
        }
        if removed.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
            return Err(Corrupt::new(
                "session block tail",
                "removed hashes not sorted",
            ));
        }
        Ok(BlockTail {
            entries: SessionBlock::decode(r.rest(), day_start)?,
            removed,
        })
    }

    /// Applies the changes to entries by hash.
    pub(crate) fn apply_to(&self, entries: &mut BTreeMap<u64, BlockEntry>) {
        for h in &self.removed {
            entries.remove(h);
        }
        for e in self.entries.entries() {
            entries.insert(e.hash, e);
        }
    }
}

/// A block's entries by hash.
fn entries_of(block: Option<&SessionBlock>) -> BTreeMap<u64, BlockEntry> {
    block
        .map(|b| b.entries().into_iter().map(|e| (e.hash, e)).collect())
        .unwrap_or_default()
}

/// The session block of `key` as readers see it (the block with its tails
/// applied in order); `None` when the day has neither.
pub(crate) fn load_block(
    blocks: &impl ReadableTable<(u32, i32), &'static [u8]>,
    tails: &impl ReadableTable<(u32, i32, u64), &'static [u8]>,
    key: (u32, i32),
) -> crate::Result<Option<SessionBlock>> {
    let start = day_start(key.1);
    let main = match blocks.get(key)? {
        Some(g) => Some(SessionBlock::decode(g.value(), start)?),
        None => None,
    };
    let mut range = tails
        .range((key.0, key.1, 0)..=(key.0, key.1, u64::MAX))?
        .peekable();
    if range.peek().is_none() {
        return Ok(main);
    }
    let mut entries = entries_of(main.as_ref());
    for e in range {
        BlockTail::decode(e?.1.value(), start)?.apply_to(&mut entries);
    }
    Ok(Some(SessionBlock::build(entries.into_values().collect())))
}

/// A day's session block and its tails, decoded but not merged: point
/// lookups see what [`load_block`] would give without building the whole
/// merged block (which costs the day's every session; a commit that needs
/// a few sessions' attributes must not pay that).
#[derive(Debug, Default)]
pub(crate) struct BlockView {
    main: Option<SessionBlock>,
    /// In commit order: later tails override earlier ones.
    tails: Vec<BlockTail>,
}

impl BlockView {
    pub(crate) fn load(
        blocks: &impl ReadableTable<(u32, i32), &'static [u8]>,
        tails: &impl ReadableTable<(u32, i32, u64), &'static [u8]>,
        key: (u32, i32),
    ) -> crate::Result<BlockView> {
        let start = day_start(key.1);
        let main = match blocks.get(key)? {
            Some(g) => Some(SessionBlock::decode(g.value(), start)?),
            None => None,
        };
        let mut view = BlockView {
            main,
            tails: Vec::new(),
        };
        for e in tails.range((key.0, key.1, 0)..=(key.0, key.1, u64::MAX))? {
            view.tails.push(BlockTail::decode(e?.1.value(), start)?);
        }
        Ok(view)
    }

    /// The entry of session `hash` as the merged block holds it.
    pub(crate) fn entry(&self, hash: u64) -> Option<BlockEntry> {
        for t in self.tails.iter().rev() {
            if let Ok(i) = t.entries.hashes.binary_search(&hash) {
                return t.entries.entry(i);
            }
            if t.removed.binary_search(&hash).is_ok() {
                return None;
            }
        }
        let b = self.main.as_ref()?;
        b.hashes.binary_search(&hash).ok().and_then(|i| b.entry(i))
    }
}

/// The days of `site` in `[lo, hi]` that have a session block or a tail.
pub(crate) fn block_days(
    blocks: &impl ReadableTable<(u32, i32), &'static [u8]>,
    tails: &impl ReadableTable<(u32, i32, u64), &'static [u8]>,
    site: u32,
    lo: i32,
    hi: i32,
) -> crate::Result<Vec<i32>> {
    let mut days = std::collections::BTreeSet::new();
    for e in blocks.range((site, lo)..=(site, hi))? {
        days.insert(e?.0.value().1);
    }
    for e in tails.range((site, lo, 0)..=(site, hi, u64::MAX))? {
        days.insert(e?.0.value().1);
    }
    Ok(days.into_iter().collect())
}

/// The tables a session block lives in, opened for writing.
pub(crate) struct BlockTables<'t> {
    pub blocks: redb::Table<'t, (u32, i32), &'static [u8]>,
    pub tails: redb::Table<'t, (u32, i32, u64), &'static [u8]>,
    pub versions: redb::Table<'t, (u32, i32), u64>,
}

impl<'t> BlockTables<'t> {
    pub(crate) fn open(txn: &'t redb::WriteTransaction) -> crate::Result<BlockTables<'t>> {
        Ok(BlockTables {
            blocks: txn.open_table(super::schema::SESSION_BLOCKS)?,
            tails: txn.open_table(super::schema::SESSION_BLOCK_TAILS)?,
            versions: txn.open_table(super::schema::SESSION_BLOCK_VERSIONS)?,
        })
    }

    /// The block of `key` as readers see it.
    pub(crate) fn load(&self, key: (u32, i32)) -> crate::Result<Option<SessionBlock>> {
        load_block(&self.blocks, &self.tails, key)
    }

    /// Writes a day's whole session block (`None`: removes it), without
    /// tails, with a fresh version, as every write of a block must
    /// (`SESSION_BLOCK_VERSIONS`).
    pub(crate) fn put(
        &mut self,
        key: (u32, i32),
        block: Option<&SessionBlock>,
    ) -> crate::Result<()> {
        self.tails
            .retain_in((key.0, key.1, 0)..=(key.0, key.1, u64::MAX), |_, _| false)?;
        match block.filter(|b| b.len() > 0) {
            Some(b) => {
                self.blocks
                    .insert(key, b.encode(day_start(key.1)).as_slice())?;
                self.versions.insert(key, rand::random::<u64>())?;
            }
            None => {
                self.blocks.remove(key)?;
                self.versions.remove(key)?;
            }
        }
        Ok(())
    }

    /// Keeps in the block of `key` only the entries `keep` says yes to,
    /// writing it whole (no tail keeps the bytes of an entry left out)
    /// if any was left out.
    pub(crate) fn retain(
        &mut self,
        key: (u32, i32),
        mut keep: impl FnMut(&BlockEntry) -> bool,
    ) -> crate::Result<()> {
        let Some(block) = self.load(key)? else {
            return Ok(());
        };
        let entries = block.entries();
        let before = entries.len();
        let kept: Vec<BlockEntry> = entries.into_iter().filter(|e| keep(e)).collect();
        if kept.len() != before {
            self.put(key, Some(&SessionBlock::build(kept)))?;
        }
        Ok(())
    }

    /// Adds one commit's tail to a day, after its others (tails apply in
    /// commit order), with a fresh version; folds the day's tails into
    /// its block once there are [`TAIL_MAX`] of them.
    pub(crate) fn add_tail(&mut self, key: (u32, i32), tail: &BlockTail) -> crate::Result<()> {
        if tail.len() == 0 {
            return Ok(());
        }
        let encoded = tail.encode(day_start(key.1));
        let (count, next, tail_bytes) = {
            let mut count = 1;
            let mut bytes = encoded.len();
            let mut last = None;
            for e in self
                .tails
                .range((key.0, key.1, 0)..=(key.0, key.1, u64::MAX))?
            {
                let (k, v) = e?;
                count += 1;
                bytes += v.value().len();
                last = Some(k.value().2);
            }
            (count, last.map_or(0, |l| l + 1), bytes)
        };
        self.tails
            .insert((key.0, key.1, next), encoded.as_slice())?;
        if count >= TAIL_MAX {
            let block_bytes = self.blocks.get(key)?.map_or(0, |g| g.value().len());
            if tail_bytes.saturating_mul(FOLD_RATIO) >= block_bytes {
                let whole = self.load(key)?;
                return self.put(key, whole.as_ref());
            }
            // A block much bigger than its tails is not decoded and
            // written again for them: they become one tail.
            self.merge_tails(key)?;
        }
        self.versions.insert(key, rand::random::<u64>())?;
        Ok(())
    }

    /// Replaces the tails of `key` by one that changes the block as they
    /// did in turn (what a later tail put or removed wins), after them.
    fn merge_tails(&mut self, key: (u32, i32)) -> crate::Result<()> {
        let start = day_start(key.1);
        let mut entries: BTreeMap<u64, BlockEntry> = BTreeMap::new();
        let mut removed: std::collections::BTreeSet<u64> = Default::default();
        let mut last = 0;
        for e in self
            .tails
            .range((key.0, key.1, 0)..=(key.0, key.1, u64::MAX))?
        {
            let (k, v) = e?;
            last = k.value().2;
            let t = BlockTail::decode(v.value(), start)?;
            t.apply_to(&mut entries);
            removed.extend(t.removed.iter().copied());
        }
        let merged = BlockTail {
            entries: SessionBlock::build(entries.into_values().collect()),
            removed: removed.into_iter().collect(),
        };
        self.tails
            .retain_in((key.0, key.1, 0)..=(key.0, key.1, u64::MAX), |_, _| false)?;
        self.tails
            .insert((key.0, key.1, last + 1), merged.encode(start).as_slice())?;
        Ok(())
    }

    /// Folds every tail into its block.
    pub(crate) fn fold_all(&mut self) -> crate::Result<()> {
        let mut days: Vec<(u32, i32)> = Vec::new();
        for e in self.tails.iter()? {
            let (site, day, _) = e?.0.value();
            if days.last() != Some(&(site, day)) {
                days.push((site, day));
            }
        }
        for key in days {
            let whole = self.load(key)?;
            self.put(key, whole.as_ref())?;
        }
        Ok(())
    }

    /// Removes every block, tail and version of `site` in `range` of days.
    pub(crate) fn remove_days(
        &mut self,
        site: u32,
        range: std::ops::Range<i32>,
    ) -> crate::Result<()> {
        let r = (site, range.start)..(site, range.end);
        self.blocks.retain_in(r.clone(), |_, _| false)?;
        self.tails
            .retain_in((site, range.start, 0)..(site, range.end, 0), |_, _| false)?;
        self.versions.retain_in(r, |_, _| false)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<SessionRow> {
        let pv = |ts, seq| Some(FirstPv { ts, seq });
        vec![
            SessionRow::default(),
            SessionRow {
                visitor: 0x9e37_79b9_7f4a_7c15,
                first_pv: pv(1_790_812_819_568, 1_234_567),
                days: vec![20_726, 20_727],
                named: pv(1_790_812_800_000, 1_234_000),
                others: vec![1, u64::MAX],
            },
            // A named event long after the first pageview, a legacy
            // row's sentinel, days before the epoch, no pageview yet.
            SessionRow {
                visitor: u64::MAX,
                first_pv: pv(0, 0),
                days: vec![i32::MIN, -1, 0, i32::MAX],
                named: pv(i64::MAX, u64::MAX),
                others: Vec::new(),
            },
            SessionRow {
                visitor: 7,
                first_pv: None,
                days: vec![3],
                named: Some(NAMED_FIRST),
                others: vec![5; 40],
            },
            SessionRow {
                visitor: 7,
                first_pv: pv(i64::MIN, 9),
                days: Vec::new(),
                named: None,
                others: Vec::new(),
            },
        ]
    }

    #[test]
    fn session_rows_round_trip_packed_and_read_format_3() {
        for row in rows() {
            let packed = row.encode();
            assert_eq!(packed.first(), Some(&PACKED_ROW));
            assert_eq!(SessionRow::decode(&packed).unwrap(), row);
            // Format 3 wrote MessagePack: still read.
            let legacy = rmp_serde::to_vec(&row).unwrap();
            assert_eq!(SessionRow::decode(&legacy).unwrap(), row);
            if row.first_pv.is_some_and(|f| f.ts > 1_000_000_000_000) {
                assert!(
                    packed.len() + 10 <= legacy.len(),
                    "{} packed against {} bytes",
                    packed.len(),
                    legacy.len()
                );
            }
        }
    }

    #[test]
    fn a_damaged_session_row_is_an_error_never_a_panic() {
        for row in rows() {
            let packed = row.encode();
            for cut in 1..packed.len() {
                assert!(SessionRow::decode(&packed[..cut]).is_err(), "cut at {cut}");
            }
            let mut longer = packed.clone();
            longer.push(0);
            assert!(SessionRow::decode(&longer).is_err());
            for at in 1..packed.len() {
                for bit in 0..8 {
                    let mut bad = packed.clone();
                    bad[at] ^= 1 << bit;
                    let _ = SessionRow::decode(&bad);
                }
            }
        }
        let mut huge = vec![PACKED_ROW];
        huge.extend_from_slice(&[0; 8]);
        huge.push(0);
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(SessionRow::decode(&huge).is_err());
    }

    #[test]
    fn a_tail_puts_replaces_and_removes_entries_of_its_block() {
        let main = SessionBlock::build(vec![
            entry(1, 10, "A"),
            entry(2, 20, "B"),
            entry(3, 30, "C"),
        ]);
        let tail = BlockTail {
            entries: SessionBlock::build(vec![entry(2, 21, "B2"), entry(4, 40, "D")]),
            removed: vec![3],
        };
        let start = 0;
        let tail = BlockTail::decode(&tail.encode(start), start).unwrap();
        let mut entries = entries_of(Some(&main));
        tail.apply_to(&mut entries);
        let got: Vec<(u64, i64, String)> = entries
            .into_values()
            .map(|e| (e.hash, e.first_ts, e.attrs.browser))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 10, "A".into()),
                (2, 21, "B2".into()),
                (4, 40, "D".into())
            ]
        );
        let mut none = entries_of(None);
        tail.apply_to(&mut none);
        assert_eq!(none.len(), 2);
        assert!(BlockTail::decode(&[1, 0], 0).is_err());
    }

    /// Commits' tails added to a big block (so that they are merged into
    /// one tail, not folded) and to a small one (folded), with puts,
    /// replacements and removals (a removal then a put of the same
    /// session too): the block readers see (whole, and by point lookups)
    /// always equals the model's, and a day never holds more than
    /// [`TAIL_MAX`] tails.
    #[test]
    fn tails_merged_or_folded_change_the_block_as_applied_in_turn() {
        use rand::{Rng, SeedableRng};
        use redb::ReadableDatabase;
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let day = 20_000;
        for big in [true, false] {
            let key = (if big { 1 } else { 2 }, day);
            let ts = super::super::day_start(day) + 5;
            let base: Vec<BlockEntry> = if big {
                (0..4000)
                    .map(|h| entry(h * 2 + 1_000_000, ts, "base"))
                    .collect()
            } else {
                (0..5)
                    .map(|h| entry(h * 2 + 1_000_000, ts, "base"))
                    .collect()
            };
            let mut model: BTreeMap<u64, BlockEntry> =
                base.iter().map(|e| (e.hash, e.clone())).collect();
            let txn = db.begin_write().unwrap();
            {
                let mut t = BlockTables::open(&txn).unwrap();
                t.put(key, Some(&SessionBlock::build(base))).unwrap();
            }
            txn.commit().unwrap();
            let mut merged_tails = false;
            for commit in 0..200u32 {
                let txn = db.begin_write().unwrap();
                {
                    let mut t = BlockTables::open(&txn).unwrap();
                    let mut puts = BTreeMap::new();
                    let mut removed = std::collections::BTreeSet::new();
                    for _ in 0..rng.random_range(1..6) {
                        // Mostly new sessions; some replaced or removed.
                        let h = if rng.random_bool(0.3) {
                            1_000_000 + 2 * rng.random_range(0..40u64)
                        } else {
                            rng.random_range(0..300u64)
                        };
                        if rng.random_bool(0.2) {
                            puts.remove(&h);
                            removed.insert(h);
                        } else {
                            puts.insert(h, entry(h, ts + i64::from(commit), &format!("c{commit}")));
                        }
                    }
                    for h in &removed {
                        model.remove(h);
                    }
                    for (h, e) in &puts {
                        model.insert(*h, e.clone());
                    }
                    let tail = BlockTail {
                        entries: SessionBlock::build(puts.into_values().collect()),
                        removed: removed.into_iter().collect(),
                    };
                    t.add_tail(key, &tail).unwrap();
                    let n = t
                        .tails
                        .range((key.0, key.1, 0)..=(key.0, key.1, u64::MAX))
                        .unwrap()
                        .count();
                    assert!(n <= TAIL_MAX, "{n} tails");
                    merged_tails |= n == 1 && commit % TAIL_MAX as u32 == TAIL_MAX as u32 - 2;
                }
                txn.commit().unwrap();
                let read = db.begin_read().unwrap();
                let blocks = read
                    .open_table(super::super::schema::SESSION_BLOCKS)
                    .unwrap();
                let tails = read
                    .open_table(super::super::schema::SESSION_BLOCK_TAILS)
                    .unwrap();
                let got = load_block(&blocks, &tails, key).unwrap().unwrap().entries();
                let want: Vec<BlockEntry> = model.values().cloned().collect();
                assert_eq!(got.len(), want.len(), "commit {commit}");
                assert!(
                    got.iter().zip(&want).all(|(g, w)| g == w),
                    "commit {commit}"
                );
                let view = BlockView::load(&blocks, &tails, key).unwrap();
                for h in (0..300).chain((0..40).map(|i| 1_000_000 + 2 * i)) {
                    assert_eq!(view.entry(h).as_ref(), model.get(&h), "commit {commit} {h}");
                }
            }
            // The big block's tails were merged, the small one's folded.
            assert_eq!(merged_tails, big);
        }
    }

    fn entry(hash: u64, ts: i64, browser: &str) -> BlockEntry {
        BlockEntry {
            hash,
            visitor: hash * 3,
            first_ts: ts,
            attrs: SessionAttrs {
                entry_page: "/".into(),
                referrer_host: "google.com".into(),
                browser: browser.into(),
                utm_source: (hash % 2 == 0).then(|| "news".to_owned()),
                device: DeviceClass::Mobile,
                channel: Channel::Search,
                ..SessionAttrs::default()
            },
        }
    }

    #[test]
    fn block_roundtrip() {
        let day = 19_000;
        let start = super::super::day_start(day);
        let entries = vec![
            entry(9, start + 5, "Chrome"),
            entry(2, start + 9, "Firefox"),
        ];
        let b = SessionBlock::build(entries.clone());
        let back = SessionBlock::decode(&b.encode(start), start).unwrap();
        let mut want = entries;
        want.sort_by_key(|e| e.hash);
        assert_eq!(back.entries(), want);
        let bytes = b.encode(start);
        for cut in 0..bytes.len() {
            assert!(SessionBlock::decode(&bytes[..cut], start).is_err());
        }
    }
}
