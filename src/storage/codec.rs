//! Integer and byte codecs for columns.
//!
//! Every integer column is encoded with whichever of these is smallest for
//! its values (the tantivy way: estimate each, keep the winner):
//!
//! | id | codec     | layout after the id byte                                    |
//! |----|-----------|-------------------------------------------------------------|
//! | 0  | constant  | `n` varint, value varint                                    |
//! | 1  | bitpacked | `n` varint, `min` varint, width u8, ⌈n·width/64⌉ u64 LE words |
//! | 2  | patched   | as bitpacked, then `k` varint and `k` × (index delta varint, value−min varint) for the values too wide for `width` |
//! | 3  | runs      | `n` varint, `r` varint, `r` × (value varint, run length varint) |
//!
//! Decoding treats its input as untrusted: every length is checked and a
//! malformed column is a [`Corrupt`] error, never a panic.

use super::Corrupt;

/// A cursor over bytes read from disk.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            what,
        }
    }

    pub(crate) fn corrupt(&self, detail: &str) -> Corrupt {
        Corrupt::new(self.what, format!("{detail} at byte {}", self.pos))
    }

    /// Whether everything was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        self.pos = self.bytes.len();
        rest
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Corrupt> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.corrupt("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.corrupt("length past the end"))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| self.corrupt("length past the end"))?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, Corrupt> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    /// A varint that is a count of items each at least `min_bytes` long in
    /// what remains: refuses counts the input cannot hold, so a corrupt
    /// length never makes a huge allocation.
    pub(crate) fn count(&mut self, min_bytes: usize) -> Result<usize, Corrupt> {
        let n = self.varint()?;
        let left = self.bytes.len().saturating_sub(self.pos);
        match usize::try_from(n) {
            Ok(n) if min_bytes == 0 || n <= left / min_bytes => Ok(n),
            _ => Err(self.corrupt("count larger than the data")),
        }
    }

    pub(crate) fn bytes_prefixed(&mut self) -> Result<&'a [u8], Corrupt> {
        let n = self.count(1)?;
        self.take(n)
    }

    pub(crate) fn str_prefixed(&mut self) -> Result<&'a str, Corrupt> {
        let b = self.bytes_prefixed()?;
        std::str::from_utf8(b).map_err(|_| self.corrupt("string is not UTF-8"))
    }
}

/// Appends an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A signed number as an unsigned one of about its magnitude (0, -1, 1,
/// -2, ... → 0, 1, 2, 3, ...), for a varint.
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros() as usize).div_ceil(7)
}

fn bits(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

const CONSTANT: u8 = 0;
const BITPACKED: u8 = 1;
const PATCHED: u8 = 2;
const RUNS: u8 = 3;

fn pack(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, width: u8, n: usize) {
    if width == 0 {
        return;
    }
    let words = (n * usize::from(width)).div_ceil(64);
    let mut buf = vec![0u64; words];
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    for (i, v) in values.enumerate() {
        let bit = i * usize::from(width);
        let (w, off) = (bit / 64, bit % 64);
        let v = v & mask;
        if let Some(slot) = buf.get_mut(w) {
            *slot |= v << off;
        }
        if off + usize::from(width) > 64 {
            if let Some(slot) = buf.get_mut(w + 1) {
                *slot |= v >> (64 - off);
            }
        }
    }
    for w in buf {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

fn unpack(
    r: &mut Reader<'_>,
    n: usize,
    width: u8,
    min: u64,
    out: &mut Vec<u64>,
) -> Result<(), Corrupt> {
    if width > 64 {
        return Err(r.corrupt("bit width over 64"));
    }
    if width == 0 {
        out.extend(std::iter::repeat_n(min, n));
        return Ok(());
    }
    let words = n
        .checked_mul(usize::from(width))
        .map(|b| b.div_ceil(64))
        .ok_or_else(|| r.corrupt("column too long"))?;
    let raw = r.take(
        words
            .checked_mul(8)
            .ok_or_else(|| r.corrupt("column too long"))?,
    )?;
    let word = |i: usize| -> u64 {
        raw.get(i * 8..i * 8 + 8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_le_bytes(a)
            })
            .unwrap_or(0)
    };
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    out.reserve(n);
    for i in 0..n {
        let bit = i * usize::from(width);
        let (w, off) = (bit / 64, bit % 64);
        let mut v = word(w) >> off;
        if off + usize::from(width) > 64 {
            v |= word(w + 1) << (64 - off);
        }
        out.push((v & mask).wrapping_add(min));
    }
    Ok(())
}

/// Encodes integers with the smallest of the codecs.
pub(crate) fn encode_uints(values: &[u64], out: &mut Vec<u8>) {
    let n = values.len();
    let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
        out.push(CONSTANT);
        put_varint(out, 0);
        put_varint(out, 0);
        return;
    };
    if min == max {
        out.push(CONSTANT);
        put_varint(out, n as u64);
        put_varint(out, min);
        return;
    }
    let full = bits(max - min);
    let head = 1 + varint_len(n as u64) + varint_len(min) + 1;
    let packed_size = |w: u8| (n * usize::from(w)).div_ceil(64) * 8;
    // Bitpacked at full width.
    let mut best = (head + packed_size(full), BITPACKED, full);
    // Patched: try narrower widths, values that do not fit become exceptions.
    let mut hist = [0usize; 65];
    for &v in values {
        if let Some(h) = hist.get_mut(usize::from(bits(v - min))) {
            *h += 1;
        }
    }
    let mut wider = 0usize;
    for w in (1..full).rev() {
        wider += hist.get(usize::from(w) + 1).copied().unwrap_or(0);
        // Each exception costs about an index delta and a value varint.
        let exc = wider * (2 + varint_len(1u64 << full.min(63)));
        let size = head + packed_size(w) + varint_len(wider as u64) + exc;
        if size < best.0 {
            best = (size, PATCHED, w);
        }
    }
    // Runs.
    let mut runs = 1usize;
    let mut runs_size = 0usize;
    let mut prev = values.first().copied().unwrap_or_default();
    let mut len = 0u64;
    for &v in values {
        if v == prev {
            len += 1;
        } else {
            runs_size += varint_len(prev) + varint_len(len);
            runs += 1;
            prev = v;
            len = 1;
        }
    }
    runs_size += varint_len(prev) + varint_len(len);
    let runs_total = 1 + varint_len(n as u64) + varint_len(runs as u64) + runs_size;
    if runs_total < best.0 {
        out.push(RUNS);
        put_varint(out, n as u64);
        put_varint(out, runs as u64);
        let mut prev = values.first().copied().unwrap_or_default();
        let mut len = 0u64;
        for &v in values {
            if v == prev {
                len += 1;
            } else {
                put_varint(out, prev);
                put_varint(out, len);
                prev = v;
                len = 1;
            }
        }
        put_varint(out, prev);
        put_varint(out, len);
        return;
    }
    let (_, codec, width) = best;
    out.push(codec);
    put_varint(out, n as u64);
    put_varint(out, min);
    out.push(width);
    let limit = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    pack(out, values.iter().map(|&v| (v - min).min(limit)), width, n);
    if codec == PATCHED {
        let exceptions: Vec<(usize, u64)> = values
            .iter()
            .enumerate()
            .filter(|(_, &v)| v - min > limit)
            .map(|(i, &v)| (i, v - min))
            .collect();
        put_varint(out, exceptions.len() as u64);
        let mut last = 0usize;
        for (i, v) in exceptions {
            put_varint(out, (i - last) as u64);
            put_varint(out, v);
            last = i;
        }
    }
}

/// Decodes a column written by [`encode_uints`], appending to `out`.
pub(crate) fn decode_uints(r: &mut Reader<'_>, out: &mut Vec<u64>) -> Result<(), Corrupt> {
    let codec = r.u8()?;
    match codec {
        CONSTANT => {
            let n = r.varint()?;
            let v = r.varint()?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_COLUMN_LEN)
                .ok_or_else(|| r.corrupt("constant column too long"))?;
            out.extend(std::iter::repeat_n(v, n));
        }
        BITPACKED | PATCHED => {
            let n = r.varint()?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_COLUMN_LEN)
                .ok_or_else(|| r.corrupt("column too long"))?;
            let min = r.varint()?;
            let width = r.u8()?;
            let start = out.len();
            unpack(r, n, width, min, out)?;
            if codec == PATCHED {
                let k = r.count(2)?;
                let mut idx = 0usize;
                for _ in 0..k {
                    let d = usize::try_from(r.varint()?).map_err(|_| r.corrupt("bad index"))?;
                    idx = idx.checked_add(d).ok_or_else(|| r.corrupt("bad index"))?;
                    let v = r.varint()?;
                    let slot = out
                        .get_mut(start + idx)
                        .filter(|_| idx < n)
                        .ok_or_else(|| r.corrupt("exception index out of range"))?;
                    *slot = v.wrapping_add(min);
                }
            }
        }
        RUNS => {
            let n = r.varint()?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_COLUMN_LEN)
                .ok_or_else(|| r.corrupt("column too long"))?;
            let runs = r.count(2)?;
            let start = out.len();
            for _ in 0..runs {
                let v = r.varint()?;
                let len = usize::try_from(r.varint()?).map_err(|_| r.corrupt("bad run"))?;
                if len > n - (out.len() - start) {
                    return Err(r.corrupt("runs longer than the column"));
                }
                out.extend(std::iter::repeat_n(v, len));
            }
            if out.len() - start != n {
                return Err(r.corrupt("runs shorter than the column"));
            }
        }
        other => return Err(r.corrupt(&format!("unknown codec id {other}"))),
    }
    Ok(())
}

/// An integer column parsed for random access: `get(i)` without decoding
/// the whole column (bit-packed values are found by their bit offset).
#[derive(Clone, Debug)]
pub(crate) enum UintCol {
    Const {
        n: usize,
        v: u64,
    },
    Packed {
        n: usize,
        min: u64,
        width: u8,
        words: Vec<u64>,
        exceptions: Vec<(usize, u64)>,
    },
    Runs {
        ends: Vec<usize>,
        values: Vec<u64>,
    },
}

impl Default for UintCol {
    fn default() -> Self {
        UintCol::Const { n: 0, v: 0 }
    }
}

impl UintCol {
    /// Parses a column written by [`encode_uints`], checking it whole.
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<UintCol, Corrupt> {
        let codec = r.u8()?;
        let len = |r: &mut Reader<'_>| -> Result<usize, Corrupt> {
            usize::try_from(r.varint()?)
                .ok()
                .filter(|&n| n <= MAX_COLUMN_LEN)
                .ok_or_else(|| r.corrupt("column too long"))
        };
        match codec {
            CONSTANT => {
                let n = len(r)?;
                Ok(UintCol::Const { n, v: r.varint()? })
            }
            BITPACKED | PATCHED => {
                let n = len(r)?;
                let min = r.varint()?;
                let width = r.u8()?;
                if width > 64 {
                    return Err(r.corrupt("bit width over 64"));
                }
                let nwords = (n * usize::from(width)).div_ceil(64);
                let raw = r.take(nwords * 8)?;
                let words = raw
                    .chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c);
                        u64::from_le_bytes(a)
                    })
                    .collect();
                let mut exceptions = Vec::new();
                if codec == PATCHED {
                    let k = r.count(2)?;
                    let mut idx = 0usize;
                    for _ in 0..k {
                        let d = usize::try_from(r.varint()?).map_err(|_| r.corrupt("bad index"))?;
                        idx = idx
                            .checked_add(d)
                            .filter(|&i| i < n)
                            .ok_or_else(|| r.corrupt("exception index out of range"))?;
                        exceptions.push((idx, r.varint()?.wrapping_add(min)));
                    }
                }
                Ok(UintCol::Packed {
                    n,
                    min,
                    width,
                    words,
                    exceptions,
                })
            }
            RUNS => {
                let n = len(r)?;
                let runs = r.count(2)?;
                let (mut ends, mut values) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
                let mut at = 0usize;
                for _ in 0..runs {
                    let v = r.varint()?;
                    let l = usize::try_from(r.varint()?).map_err(|_| r.corrupt("bad run"))?;
                    if l > n - at {
                        return Err(r.corrupt("runs longer than the column"));
                    }
                    at += l;
                    ends.push(at);
                    values.push(v);
                }
                if at != n {
                    return Err(r.corrupt("runs shorter than the column"));
                }
                Ok(UintCol::Runs { ends, values })
            }
            other => Err(r.corrupt(&format!("unknown codec id {other}"))),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            UintCol::Const { n, .. } | UintCol::Packed { n, .. } => *n,
            UintCol::Runs { ends, .. } => ends.last().copied().unwrap_or(0),
        }
    }

    /// Value `i`, `None` past the end.
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        match self {
            UintCol::Const { n, v } => (i < *n).then_some(*v),
            UintCol::Packed {
                n,
                min,
                width,
                words,
                exceptions,
            } => {
                if i >= *n {
                    return None;
                }
                if !exceptions.is_empty() {
                    if let Ok(k) = exceptions.binary_search_by_key(&i, |e| e.0) {
                        return exceptions.get(k).map(|e| e.1);
                    }
                }
                if *width == 0 {
                    return Some(*min);
                }
                let w = usize::from(*width);
                let bit = i * w;
                let (at, off) = (bit / 64, bit % 64);
                let mut v = words.get(at).copied().unwrap_or(0) >> off;
                if off + w > 64 {
                    v |= words.get(at + 1).copied().unwrap_or(0) << (64 - off);
                }
                let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
                Some((v & mask).wrapping_add(*min))
            }
            UintCol::Runs { ends, values } => {
                let k = ends.partition_point(|&e| e <= i);
                values.get(k).copied()
            }
        }
    }
}

impl UintCol {
    /// Every value in order, unpacked in one sequential pass (what
    /// [`UintCol::get`] gives for each index, without its per-value search
    /// of the exceptions).
    pub(crate) fn to_vec(&self) -> Vec<u64> {
        match self {
            UintCol::Const { n, v } => vec![*v; *n],
            UintCol::Packed {
                n,
                min,
                width,
                words,
                exceptions,
            } => {
                let mut out = Vec::with_capacity(*n);
                let w = usize::from(*width);
                if w == 0 {
                    out.resize(*n, *min);
                } else {
                    let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
                    let mut bit = 0usize;
                    for _ in 0..*n {
                        let (at, off) = (bit / 64, bit % 64);
                        let mut v = words.get(at).copied().unwrap_or(0) >> off;
                        if off + w > 64 {
                            v |= words.get(at + 1).copied().unwrap_or(0) << (64 - off);
                        }
                        out.push((v & mask).wrapping_add(*min));
                        bit += w;
                    }
                }
                for &(i, v) in exceptions {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = v;
                    }
                }
                out
            }
            UintCol::Runs { ends, values } => {
                let mut out = Vec::new();
                let mut start = 0usize;
                for (&end, &v) in ends.iter().zip(values) {
                    out.extend(std::iter::repeat_n(v, end.saturating_sub(start)));
                    start = start.max(end);
                }
                out
            }
        }
    }
}

/// The most values one column may hold: a segment's row limit, with room for
/// the partition-wide session columns.
pub(crate) const MAX_COLUMN_LEN: usize = 1 << 24;

/// Appends a roaring bitmap, length-prefixed.
pub(crate) fn put_bitmap(out: &mut Vec<u8>, bm: &roaring::RoaringBitmap) {
    let mut buf = Vec::with_capacity(bm.serialized_size());
    // Writing into a Vec cannot fail.
    let _ = bm.serialize_into(&mut buf);
    put_bytes(out, &buf);
}

/// Reads a bitmap written by [`put_bitmap`], with roaring's checked decoder.
pub(crate) fn get_bitmap(r: &mut Reader<'_>) -> Result<roaring::RoaringBitmap, Corrupt> {
    let b = r.bytes_prefixed()?;
    roaring::RoaringBitmap::deserialize_from(b).map_err(|e| r.corrupt(&format!("bad bitmap: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn to_vec_equals_get() {
        let cases: Vec<Vec<u64>> = vec![
            vec![],
            vec![7; 100],
            (0..1000).collect(),
            (0..1000)
                .map(|i| if i % 97 == 0 { u64::MAX - i } else { i % 13 })
                .collect(),
            (0..500).map(|i| i / 50).collect(),
        ];
        for values in cases {
            let mut buf = Vec::new();
            encode_uints(&values, &mut buf);
            let col = UintCol::parse(&mut Reader::new(&buf, "test")).unwrap();
            let all: Vec<u64> = (0..values.len()).map(|i| col.get(i).unwrap()).collect();
            assert_eq!(col.to_vec(), all);
            assert_eq!(all, values);
        }
    }

    fn roundtrip(values: &[u64]) -> usize {
        let mut buf = Vec::new();
        encode_uints(values, &mut buf);
        let mut out = Vec::new();
        let mut r = Reader::new(&buf, "test");
        decode_uints(&mut r, &mut out).unwrap();
        assert!(r.is_empty());
        assert_eq!(out, values);
        buf.len()
    }

    #[test]
    fn picks_small_codecs() {
        assert!(roundtrip(&[7; 1000]) < 6);
        assert!(roundtrip(&[1, 1, 1, 2, 2, 2, 3, 3, 3].repeat(100)) < 2000);
        let mut v: Vec<u64> = (0..1000).map(|i| i % 16).collect();
        v[500] = 1 << 40;
        let size = roundtrip(&v);
        assert!(size < 560, "patched should keep 4 bits a value, got {size}");
        roundtrip(&[0, u64::MAX, 3]);
        roundtrip(&[]);
    }

    #[test]
    fn overflowing_run_length_is_corrupt() {
        let bytes = [
            3u8, 2, 2, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1,
        ];
        let mut out = Vec::new();
        assert!(decode_uints(&mut Reader::new(&bytes, "test"), &mut out).is_err());
    }

    proptest! {
        #[test]
        fn any_column_roundtrips(v in proptest::collection::vec(any::<u64>(), 0..300)) {
            roundtrip(&v);
        }

        #[test]
        fn random_access_equals_decoding(v in proptest::collection::vec(prop_oneof![0u64..50, any::<u64>()], 0..300)) {
            let mut buf = Vec::new();
            encode_uints(&v, &mut buf);
            let col = UintCol::parse(&mut Reader::new(&buf, "test")).unwrap();
            prop_assert_eq!(col.len(), v.len());
            for (i, x) in v.iter().enumerate() {
                prop_assert_eq!(col.get(i), Some(*x));
            }
            prop_assert_eq!(col.get(v.len()), None);
        }

        #[test]
        fn small_columns_roundtrip(v in proptest::collection::vec(0u64..40, 0..300)) {
            roundtrip(&v);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            let _ = decode_uints(&mut Reader::new(&bytes, "test"), &mut out);
        }
    }
}
