//! The normalized event as it is stored: a [`Row`].
//!
//! Raw ids are gone (keyed hashes instead), the URL is a path, and fields
//! that do not apply to the event's kind are dropped. Pending batches are
//! packed with a string and session table each ([`encode_batch`]); those of
//! format 3 and older were MessagePack arrays of rows, still read.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::codec::{put_bytes, put_varint, unzigzag, zigzag, Reader};
use super::Corrupt;
use crate::EventKind;

/// One stored event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Row {
    pub ts: i64,
    pub kind: u8,
    pub session: u64,
    pub visitor: u64,
    /// Shared with ingest's page cache and other rows of the same page.
    pub page: Arc<str>,
    pub x: Option<u32>,
    pub y: Option<u32>,
    pub vw: Option<u32>,
    pub vh: Option<u32>,
    pub dh: Option<u32>,
    pub load_ms: Option<u32>,
    pub ex: Option<u16>,
    pub ey: Option<u16>,
    pub len: Option<u32>,
    pub duration_ms: Option<u32>,
    pub selector: Option<Arc<str>>,
    pub name: Option<String>,
}

impl Row {
    pub(crate) fn kind(&self) -> EventKind {
        EventKind::from_code(self.kind).unwrap_or_default()
    }
}

/// First byte of a pending batch in the packed layout (format 4): a byte
/// MessagePack never uses, so a batch written as a MessagePack array
/// (format 3 and older) cannot start with it.
const PACKED_BATCH: u8 = 0xc1;
/// Version byte after [`PACKED_BATCH`].
const PACKED_V1: u8 = 1;

/// The optional fields of a row, in the order of the presence bits.
const OPTIONAL_FIELDS: usize = 12;

/// Encodes a pending batch (docs/format.md §3.5): strings and (session,
/// visitor) pairs once per batch, then per row the `ts` delta, the kind,
/// indexes into those tables, a presence mask and the present values.
pub(crate) fn encode_batch(rows: &[Row]) -> Vec<u8> {
    let mut strings: Vec<&str> = Vec::new();
    let mut string_ids: foldhash::HashMap<&str, u64> = foldhash::HashMap::default();
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    let mut pair_ids: foldhash::HashMap<(u64, u64), u64> = foldhash::HashMap::default();
    let mut body = Vec::with_capacity(rows.len() * 12);
    let mut prev_ts = 0i64;
    for r in rows {
        let delta = r.ts.wrapping_sub(prev_ts);
        prev_ts = r.ts;
        put_varint(&mut body, zigzag(delta));
        body.push(r.kind);
        let pair = *pair_ids.entry((r.session, r.visitor)).or_insert_with(|| {
            pairs.push((r.session, r.visitor));
            pairs.len() as u64 - 1
        });
        put_varint(&mut body, pair);
        let page = string_id(&r.page, &mut strings, &mut string_ids);
        put_varint(&mut body, page);
        let numbers = [
            r.x,
            r.y,
            r.vw,
            r.vh,
            r.dh,
            r.load_ms,
            r.ex.map(u32::from),
            r.ey.map(u32::from),
            r.len,
            r.duration_ms,
        ];
        let mut present = 0u64;
        for (i, v) in numbers.iter().enumerate() {
            if v.is_some() {
                present |= 1 << i;
            }
        }
        if r.selector.is_some() {
            present |= 1 << 10;
        }
        if r.name.is_some() {
            present |= 1 << 11;
        }
        put_varint(&mut body, present);
        for v in numbers.into_iter().flatten() {
            put_varint(&mut body, u64::from(v));
        }
        if let Some(sel) = &r.selector {
            let id = string_id(sel, &mut strings, &mut string_ids);
            put_varint(&mut body, id);
        }
        if let Some(name) = &r.name {
            let id = string_id(name, &mut strings, &mut string_ids);
            put_varint(&mut body, id);
        }
    }
    let mut out = Vec::with_capacity(body.len() + pairs.len() * 16 + 64);
    out.push(PACKED_BATCH);
    out.push(PACKED_V1);
    put_varint(&mut out, rows.len() as u64);
    put_varint(&mut out, strings.len() as u64);
    for s in &strings {
        put_bytes(&mut out, s.as_bytes());
    }
    put_varint(&mut out, pairs.len() as u64);
    for (session, visitor) in &pairs {
        out.extend_from_slice(&session.to_le_bytes());
        out.extend_from_slice(&visitor.to_le_bytes());
    }
    out.extend_from_slice(&body);
    out
}

/// The id of `s` in a batch's string table, adding it if new.
fn string_id<'a>(
    s: &'a str,
    strings: &mut Vec<&'a str>,
    ids: &mut foldhash::HashMap<&'a str, u64>,
) -> u64 {
    *ids.entry(s).or_insert_with(|| {
        strings.push(s);
        strings.len() as u64 - 1
    })
}

/// Decodes a pending batch read from disk, in either layout.
pub(crate) fn decode_batch(bytes: &[u8]) -> Result<Vec<Row>, Corrupt> {
    if bytes.first() == Some(&PACKED_BATCH) {
        return decode_packed(bytes);
    }
    let rows: Vec<Row> =
        rmp_serde::from_slice(bytes).map_err(|e| Corrupt::new("pending batch", e.to_string()))?;
    if rows.iter().any(|r| EventKind::from_code(r.kind).is_none()) {
        return Err(Corrupt::new("pending batch", "unknown event kind code"));
    }
    Ok(rows)
}

fn decode_packed(bytes: &[u8]) -> Result<Vec<Row>, Corrupt> {
    let mut r = Reader::new(bytes, "pending batch");
    r.u8()?;
    if r.u8()? != PACKED_V1 {
        return Err(r.corrupt("unknown pending batch version"));
    }
    // A row takes at least 5 bytes: ts, kind, pair, page, presence.
    let n = r.count(5)?;
    let n_strings = r.count(1)?;
    let mut strings: Vec<Arc<str>> = Vec::with_capacity(n_strings);
    for _ in 0..n_strings {
        strings.push(Arc::from(r.str_prefixed()?));
    }
    let n_pairs = r.count(16)?;
    let mut pairs = Vec::with_capacity(n_pairs);
    for _ in 0..n_pairs {
        pairs.push((r.u64_le()?, r.u64_le()?));
    }
    let string = |r: &mut Reader<'_>| -> Result<Arc<str>, Corrupt> {
        let i = r.varint()?;
        usize::try_from(i)
            .ok()
            .and_then(|i| strings.get(i))
            .cloned()
            .ok_or_else(|| r.corrupt("string index past the table"))
    };
    let mut rows = Vec::with_capacity(n);
    let mut ts = 0i64;
    for _ in 0..n {
        // Deltas wrap as the encoder's do: every i64 is a valid ts here.
        ts = ts.wrapping_add(unzigzag(r.varint()?));
        let kind = r.u8()?;
        if EventKind::from_code(kind).is_none() {
            return Err(r.corrupt("unknown event kind code"));
        }
        let pair = r.varint()?;
        let (session, visitor) = usize::try_from(pair)
            .ok()
            .and_then(|i| pairs.get(i))
            .copied()
            .ok_or_else(|| r.corrupt("session index past the table"))?;
        let page = string(&mut r)?;
        let present = r.varint()?;
        if present >> OPTIONAL_FIELDS != 0 {
            return Err(r.corrupt("unknown field in the presence mask"));
        }
        let mut numbers = [None; 10];
        for (i, slot) in numbers.iter_mut().enumerate() {
            if present & (1 << i) != 0 {
                let v = r.varint()?;
                let max = if i == 6 || i == 7 {
                    u64::from(u16::MAX)
                } else {
                    u64::from(u32::MAX)
                };
                if v > max {
                    return Err(r.corrupt("value out of range"));
                }
                *slot = Some(v as u32);
            }
        }
        let selector = if present & (1 << 10) != 0 {
            Some(string(&mut r)?)
        } else {
            None
        };
        let name = if present & (1 << 11) != 0 {
            Some(string(&mut r)?.to_string())
        } else {
            None
        };
        let [x, y, vw, vh, dh, load_ms, ex, ey, len, duration_ms] = numbers;
        rows.push(Row {
            ts,
            kind,
            session,
            visitor,
            page,
            x,
            y,
            vw,
            vh,
            dh,
            load_ms,
            ex: ex.map(|v| v as u16),
            ey: ey.map(|v| v as u16),
            len,
            duration_ms,
            selector,
            name,
        });
    }
    if !r.rest().is_empty() {
        return Err(Corrupt::new("pending batch", "bytes after the last row"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        let page: Arc<str> = Arc::from("/pricing");
        let mut out = Vec::new();
        for i in 0..50u32 {
            out.push(Row {
                ts: 1_790_000_000_000 + i64::from(i % 7) * 1_000 - i64::from(i),
                kind: (i % 7) as u8,
                session: u64::from(i % 5).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                visitor: if i % 3 == 0 {
                    0
                } else {
                    u64::MAX - u64::from(i % 2)
                },
                page: if i % 4 == 0 {
                    Arc::from(format!("/p/{i}"))
                } else {
                    page.clone()
                },
                x: (i % 2 == 0).then_some(i * 7),
                y: (i % 3 == 0).then_some(u32::MAX),
                vw: Some(1280),
                vh: (i % 5 == 0).then_some(720),
                dh: None,
                load_ms: (i == 3).then_some(0),
                ex: (i % 2 == 1).then_some(u16::MAX),
                ey: (i % 2 == 1).then_some(i as u16),
                len: (i == 7).then_some(12),
                duration_ms: (i == 8).then_some(60_000),
                selector: (i % 6 == 0).then(|| Arc::from("#buy > a:nth-child(2)")),
                name: (i == 9).then(|| "signup ✓".to_owned()),
            });
        }
        out.push(Row {
            ts: i64::MIN + 1,
            ..out[0].clone()
        });
        out.push(Row {
            ts: i64::MAX,
            ..out[1].clone()
        });
        out
    }

    #[test]
    fn a_packed_batch_round_trips() {
        let rows = rows();
        let bytes = encode_batch(&rows);
        assert_eq!(bytes.first(), Some(&PACKED_BATCH));
        assert_eq!(decode_batch(&bytes).unwrap(), rows);
        assert_eq!(decode_batch(&encode_batch(&[])).unwrap(), Vec::<Row>::new());
        // Smaller than MessagePack, which repeats every string and hash.
        assert!(bytes.len() * 2 < rmp_serde::to_vec(&rows).unwrap().len());
    }

    #[test]
    fn the_example_of_docs_format_md_is_what_is_written() {
        let a = 0x1111_1111_1111_1111u64;
        let row = Row {
            ts: 1_704_103_200_000,
            kind: 0,
            session: a,
            visitor: a,
            page: Arc::from("/"),
            vw: Some(1280),
            vh: Some(720),
            dh: Some(2000),
            ..Row::default()
        };
        let mut want = vec![0xc1, 0x01, 0x01, 0x01, 0x01, 0x2f, 0x01];
        want.extend([0x11; 16]);
        want.extend([0x80, 0x94, 0xba, 0xc7, 0x98, 0x63, 0x00, 0x00, 0x00, 0x1c]);
        want.extend([0x80, 0x0a, 0xd0, 0x05, 0xd0, 0x0f]);
        assert_eq!(encode_batch(std::slice::from_ref(&row)), want);
    }

    #[test]
    fn a_messagepack_batch_of_format_3_still_decodes() {
        let rows = rows();
        let old = rmp_serde::to_vec(&rows).unwrap();
        assert_eq!(decode_batch(&old).unwrap(), rows);
    }

    #[test]
    fn every_truncation_and_many_corruptions_are_errors_not_panics() {
        let bytes = encode_batch(&rows());
        for n in 0..bytes.len() {
            assert!(decode_batch(&bytes[..n]).is_err(), "truncated to {n}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode_batch(&extra).is_err());
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                // Any outcome but a panic; a decoded batch must re-encode.
                if let Ok(rows) = decode_batch(&b) {
                    assert_eq!(decode_batch(&encode_batch(&rows)).unwrap(), rows);
                }
            }
        }
    }
}
