//! Segment columns on disk, in chunks.
//!
//! redb gives a value larger than a page its own power-of-two allocation,
//! which wastes a third of the space on average for column-sized values;
//! and values of a few KiB of mixed sizes pack into leaf pages with gaps.
//! A segment's columns are therefore **packed**: concatenated into one
//! byte string, cut into chunks of exactly [`CHUNK`] bytes (the last one
//! shorter) under `(site, day, segment, PACKED, chunk)`. Only a segment's
//! last chunk can be partial, so its pages are full. Where each column lies
//! is the segment's [`Layout`] (in its `SegInfo`); a column is read back by
//! one range scan over the chunks it overlaps.
//!
//! Segments written before packing (an empty layout) keep one run of
//! chunks per column, `(site, day, segment, column, chunk)`, each column's
//! last chunk partial. They are read as they are, and packed when one of
//! their columns is rewritten.

use std::collections::BTreeMap;

use redb::{ReadableTable, Table};

use super::segment::col;
use super::Corrupt;
use crate::error::Result;

/// Key of one chunk: (site, day, segment, column or [`PACKED`], chunk index).
pub(crate) type ColKey = (u32, i32, u32, u8, u16);

/// Largest chunk: a little under a 4 KiB page, so one fills a leaf.
pub(crate) const CHUNK: usize = 3_968;

/// The column byte of a packed segment's chunks.
pub(crate) const PACKED: u8 = u8::MAX;

/// The segment id under which a partition's dictionaries are packed, one
/// per dimension in place of columns (segments get ids from 0 up).
pub(crate) const DICTS_SEGMENT: u32 = u32::MAX;

/// Where a packed segment's columns lie: `(column, length)` in the order
/// they are concatenated. Empty for a segment of the older layout.
pub(crate) type Layout = Vec<(u8, u32)>;

/// The bit of a layout's column byte that says the column's bytes end with
/// their CRC-32 (4 bytes, little-endian; format 5). The length includes
/// it. Column and dictionary ids are below it.
pub(crate) const SUMMED: u8 = 0x80;

/// A layout entry's column id, without [`SUMMED`].
pub(crate) fn id(c: u8) -> u8 {
    c & !SUMMED
}

/// The CRC-32 a summed column ends with.
fn sum(bytes: &[u8]) -> [u8; 4] {
    crc32fast::hash(bytes).to_le_bytes()
}

/// A column as read back: a summed one checked against its CRC-32 and
/// stripped of it.
fn checked(mut bytes: Vec<u8>, c: u8, seg: u32) -> Result<Vec<u8>, Corrupt> {
    if c & SUMMED == 0 {
        return Ok(bytes);
    }
    let Some(at) = bytes.len().checked_sub(4) else {
        return Err(corrupt(
            seg,
            format!("column {} is shorter than its checksum", id(c)),
        ));
    };
    let stored = bytes.split_off(at);
    if sum(&bytes)[..] != stored[..] {
        return Err(corrupt(
            seg,
            format!(
                "column {} does not match its checksum (the bytes changed after they were written)",
                id(c)
            ),
        ));
    }
    Ok(bytes)
}

/// Columns rewritten in place after sealing (a session's late attributes,
/// a re-filed visitor): packed last, so that rewriting them rewrites only
/// the chunks from theirs on.
const REWRITTEN: [u8; 3] = [col::SESSIONS, col::SESSION_ATTRS, col::BM_DEVICE];

/// The order columns are packed in: every other column by id, then
/// [`REWRITTEN`].
fn pack_order(c: u8) -> (bool, u8) {
    (REWRITTEN.contains(&c), c)
}

fn too_large() -> crate::Error {
    crate::Error::InvalidArgument("segment too large".into())
}

/// Writes chunks `first..` of a packed segment from `parts` in order.
fn write_chunks<'a>(
    t: &mut Table<ColKey, &[u8]>,
    (site, day, seg): (u32, i32, u32),
    first: u16,
    parts: impl IntoIterator<Item = &'a [u8]>,
) -> Result<()> {
    let mut buf = Vec::with_capacity(CHUNK);
    let mut next = first;
    let mut flush = |buf: &mut Vec<u8>, t: &mut Table<ColKey, &[u8]>| -> Result<()> {
        t.insert((site, day, seg, PACKED, next), buf.as_slice())?;
        next = next.checked_add(1).ok_or_else(too_large)?;
        buf.clear();
        Ok(())
    };
    for mut part in parts {
        while !part.is_empty() {
            let take = (CHUNK - buf.len()).min(part.len());
            let (head, rest) = part.split_at_checked(take).unwrap_or((part, &[]));
            buf.extend_from_slice(head);
            part = rest;
            if buf.len() == CHUNK {
                flush(&mut buf, t)?;
            }
        }
    }
    if !buf.is_empty() {
        flush(&mut buf, t)?;
    }
    Ok(())
}

/// Writes a new segment's columns, packed, and gives back their layout.
/// The segment must have no chunks yet.
pub(crate) fn put_segment(
    t: &mut Table<ColKey, &[u8]>,
    site: u32,
    day: i32,
    seg: u32,
    cols: &BTreeMap<u8, Vec<u8>>,
) -> Result<Layout> {
    let mut order: Vec<(&u8, &Vec<u8>)> = cols.iter().collect();
    order.sort_by_key(|(c, _)| pack_order(**c));
    let mut layout = Vec::with_capacity(order.len());
    let mut sums = Vec::with_capacity(order.len());
    for (c, bytes) in &order {
        if **c & SUMMED != 0 {
            return Err(crate::Error::InvalidArgument(format!(
                "column id {c} is out of range"
            )));
        }
        let len = bytes.len().checked_add(4).ok_or_else(too_large)?;
        layout.push((**c | SUMMED, u32::try_from(len).map_err(|_| too_large())?));
        sums.push(sum(bytes));
    }
    total_len(&layout).ok_or_else(too_large)?;
    write_chunks(
        t,
        (site, day, seg),
        0,
        order
            .iter()
            .zip(&sums)
            .flat_map(|((_, b), s)| [b.as_slice(), s.as_slice()]),
    )?;
    Ok(layout)
}

/// Rewrites some columns of a segment (adding those it lacks) and updates
/// its layout. A segment of the older layout is packed on the way. Only
/// the chunks from the first changed column on are written again.
pub(crate) fn replace(
    t: &mut Table<ColKey, &[u8]>,
    site: u32,
    day: i32,
    seg: u32,
    layout: &mut Layout,
    changes: &BTreeMap<u8, Vec<u8>>,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    if layout.is_empty() {
        let mut cols = get_all(t, site, day, seg, layout)?;
        for (c, bytes) in changes {
            cols.insert(*c, bytes.clone());
        }
        remove_segment(t, site, day, seg)?;
        *layout = put_segment(t, site, day, seg, &cols)?;
        return Ok(());
    }
    // The new columns, each with its checksum.
    let new: BTreeMap<u8, (&[u8], [u8; 4])> = changes
        .iter()
        .map(|(c, b)| (*c, (b.as_slice(), sum(b))))
        .collect();
    let summed_len = |bytes: &[u8]| {
        bytes
            .len()
            .checked_add(4)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(too_large)
    };
    let first = layout
        .iter()
        .position(|(c, _)| changes.contains_key(&id(*c)))
        .unwrap_or(layout.len());
    let (before, from_first) = layout.split_at_checked(first).unwrap_or((layout, &[]));
    let start: u64 = before.iter().map(|(_, n)| u64::from(*n)).sum();
    let chunk0 = start / CHUNK as u64;
    let base = chunk0 * CHUNK as u64;
    let total = total_len(layout).ok_or_else(|| corrupt(seg, "its layout overflows"))?;
    // The bytes from the first rewritten chunk to the end, as stored.
    let old = read_range(t, (site, day, seg), total, base, total - base)?;
    let mut at = (start - base) as usize;
    let mut parts: Vec<&[u8]> = vec![piece(&old, 0, at, seg)?];
    let mut new_layout: Layout = before.to_vec();
    for &(c, n) in from_first {
        let old_bytes = piece(&old, at, n as usize, seg)?;
        at += n as usize;
        match new.get(&id(c)) {
            Some((bytes, s)) => {
                parts.push(bytes);
                parts.push(s);
                new_layout.push((id(c) | SUMMED, summed_len(bytes)?));
            }
            // Kept as stored, with or without its checksum.
            None => {
                parts.push(old_bytes);
                new_layout.push((c, n));
            }
        }
    }
    for (c, (bytes, s)) in &new {
        if !layout.iter().any(|(k, _)| id(*k) == *c) {
            parts.push(bytes);
            parts.push(s);
            new_layout.push((*c | SUMMED, summed_len(bytes)?));
        }
    }
    total_len(&new_layout).ok_or_else(too_large)?;
    let chunk0 = u16::try_from(chunk0).map_err(|_| corrupt(seg, "too many chunks"))?;
    remove_keys(
        t,
        (site, day, seg, PACKED, chunk0)..=(site, day, seg, PACKED, u16::MAX),
    )?;
    write_chunks(t, (site, day, seg), chunk0, parts)?;
    *layout = new_layout;
    Ok(())
}

fn remove_keys(
    t: &mut Table<ColKey, &[u8]>,
    range: std::ops::RangeInclusive<ColKey>,
) -> Result<()> {
    let keys: Vec<ColKey> = t
        .range(range)?
        .map(|e| e.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    for k in keys {
        t.remove(k)?;
    }
    Ok(())
}

/// Removes every column of a segment, in either layout.
pub(crate) fn remove_segment(
    t: &mut Table<ColKey, &[u8]>,
    site: u32,
    day: i32,
    seg: u32,
) -> Result<()> {
    remove_keys(
        t,
        (site, day, seg, 0, 0)..=(site, day, seg, u8::MAX, u16::MAX),
    )
}

/// `len` bytes of `bytes` from `at`, or corruption (the layout and the
/// chunks disagree).
fn piece(bytes: &[u8], at: usize, len: usize, seg: u32) -> Result<&[u8], Corrupt> {
    at.checked_add(len)
        .and_then(|end| bytes.get(at..end))
        .ok_or_else(|| corrupt(seg, "a column lies past the end of its chunks"))
}

fn corrupt(seg: u32, what: impl std::fmt::Display) -> Corrupt {
    Corrupt::new("segment column", format!("segment {seg}: {what}"))
}

/// Length of a packed segment, `None` if it overflows.
fn total_len(layout: &[(u8, u32)]) -> Option<u64> {
    let total: u64 = layout.iter().map(|(_, n)| u64::from(*n)).sum();
    // Chunk indexes are u16.
    (total <= CHUNK as u64 * (u64::from(u16::MAX) + 1)).then_some(total)
}

/// Bytes `off .. off + len` of a packed segment of `total` bytes, checking
/// that each chunk read is where and as long as the layout says.
fn read_range(
    t: &impl ReadableTable<ColKey, &'static [u8]>,
    (site, day, seg): (u32, i32, u32),
    total: u64,
    off: u64,
    len: u64,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len as usize);
    if len == 0 {
        return Ok(out);
    }
    let end = off + len;
    let lo = off / CHUNK as u64;
    let hi = (end - 1) / CHUNK as u64;
    let (Ok(lo16), Ok(hi16)) = (u16::try_from(lo), u16::try_from(hi)) else {
        return Err(corrupt(seg, "its layout overflows").into());
    };
    let mut expect = lo;
    for e in t.range((site, day, seg, PACKED, lo16)..=(site, day, seg, PACKED, hi16))? {
        let (k, v) = e?;
        let (i, v) = (u64::from(k.value().4), v.value());
        let start = i * CHUNK as u64;
        let want = (total - start).min(CHUNK as u64);
        if i != expect || v.len() as u64 != want {
            return Err(corrupt(
                seg,
                format!(
                    "chunk {i} holds {} bytes where the layout needs chunk {expect} of {want}",
                    v.len()
                ),
            )
            .into());
        }
        let a = off.saturating_sub(start) as usize;
        let b = (end - start).min(want) as usize;
        out.extend_from_slice(piece(v, a, b.saturating_sub(a), seg)?);
        expect += 1;
    }
    if expect != hi + 1 {
        return Err(corrupt(seg, format!("chunk {expect} is missing")).into());
    }
    Ok(out)
}

/// Appends a chunk of the older layout to its column in `out`.
fn append_chunk(out: &mut BTreeMap<u8, Vec<u8>>, key: ColKey, value: &[u8]) -> Result<(), Corrupt> {
    let (_, _, seg, col, chunk) = key;
    let buf = out.entry(col).or_default();
    // Chunk i starts at i * CHUNK: a gap or a short middle chunk is corruption.
    if buf.len() != usize::from(chunk) * CHUNK {
        return Err(corrupt(
            seg,
            format!("column {col}: chunk {chunk} out of sequence"),
        ));
    }
    buf.extend_from_slice(value);
    Ok(())
}

/// Reads one column of a segment with this layout, `None` when the segment
/// has none.
pub(crate) fn get(
    t: &impl ReadableTable<ColKey, &'static [u8]>,
    site: u32,
    day: i32,
    seg: u32,
    layout: &[(u8, u32)],
    col: u8,
) -> Result<Option<Vec<u8>>> {
    if layout.is_empty() {
        let mut out = BTreeMap::new();
        for e in t.range((site, day, seg, col, 0)..=(site, day, seg, col, u16::MAX))? {
            let (k, v) = e?;
            append_chunk(&mut out, k.value(), v.value())?;
        }
        return Ok(out.remove(&col));
    }
    let total = total_len(layout).ok_or_else(|| corrupt(seg, "its layout overflows"))?;
    let mut off = 0u64;
    for &(c, n) in layout {
        if id(c) == col {
            let bytes = read_range(t, (site, day, seg), total, off, u64::from(n))?;
            return Ok(Some(checked(bytes, c, seg)?));
        }
        off += u64::from(n);
    }
    Ok(None)
}

/// Reads every column of a segment with this layout.
pub(crate) fn get_all(
    t: &impl ReadableTable<ColKey, &'static [u8]>,
    site: u32,
    day: i32,
    seg: u32,
    layout: &[(u8, u32)],
) -> Result<BTreeMap<u8, Vec<u8>>> {
    let mut out = BTreeMap::new();
    if layout.is_empty() {
        for e in t.range((site, day, seg, 0, 0)..=(site, day, seg, PACKED - 1, u16::MAX))? {
            let (k, v) = e?;
            append_chunk(&mut out, k.value(), v.value())?;
        }
        return Ok(out);
    }
    let total = total_len(layout).ok_or_else(|| corrupt(seg, "its layout overflows"))?;
    let all = read_range(t, (site, day, seg), total, 0, total)?;
    let mut at = 0usize;
    for &(c, n) in layout {
        let bytes = checked(piece(&all, at, n as usize, seg)?.to_vec(), c, seg)?;
        at += n as usize;
        if out.insert(id(c), bytes).is_some() {
            return Err(corrupt(seg, format!("column {} is laid out twice", id(c))).into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::schema::SEGMENT_COLUMNS;

    fn db() -> redb::Database {
        redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("in-memory database")
    }

    /// Columns of awkward lengths: empty, one byte, exactly a chunk, just
    /// over, several chunks; each byte says which column it is from.
    fn columns(lens: &[(u8, usize)]) -> BTreeMap<u8, Vec<u8>> {
        lens.iter()
            .map(|&(c, n)| (c, (0..n).map(|i| c ^ (i as u8)).collect()))
            .collect()
    }

    fn chunks(t: &Table<ColKey, &[u8]>) -> Vec<(ColKey, usize)> {
        t.iter()
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.value(), v.value().len())
            })
            .collect()
    }

    #[test]
    fn a_packed_segment_reads_back_column_by_column_and_whole() {
        let db = db();
        let txn = db.begin_write().unwrap();
        let mut t = txn.open_table(SEGMENT_COLUMNS).unwrap();
        let cols = columns(&[
            (col::SESSIONS, 5_000),
            (col::TS, 1),
            (col::PAGE, 0),
            (col::X, CHUNK),
            (col::Y, CHUNK + 1),
            (col::SESSION_ATTRS, 17),
            (col::BM_KIND, 3 * CHUNK - 5),
            (col::BM_DEVICE, 300),
        ]);
        let layout = put_segment(&mut t, 1, 20_000, 7, &cols).unwrap();
        // Rewritten columns come last.
        let order: Vec<u8> = layout.iter().map(|(c, _)| id(*c)).collect();
        assert_eq!(&order[order.len() - 3..], &REWRITTEN);
        // Each column ends with its checksum.
        assert!(layout.iter().all(|(c, _)| c & SUMMED != 0));
        // Every chunk is full but the last.
        let total: usize = cols.values().map(|b| b.len() + 4).sum();
        let stored = chunks(&t);
        assert_eq!(stored.len(), total.div_ceil(CHUNK));
        for (i, (k, n)) in stored.iter().enumerate() {
            assert_eq!(*k, (1, 20_000, 7, PACKED, i as u16));
            let want = if i + 1 == stored.len() {
                total - i * CHUNK
            } else {
                CHUNK
            };
            assert_eq!(*n, want);
        }
        for (c, bytes) in &cols {
            assert_eq!(
                get(&t, 1, 20_000, 7, &layout, *c).unwrap().as_ref(),
                Some(bytes)
            );
        }
        assert_eq!(get(&t, 1, 20_000, 7, &layout, col::NAME).unwrap(), None);
        assert_eq!(get_all(&t, 1, 20_000, 7, &layout).unwrap(), cols);
    }

    #[test]
    fn replacing_columns_rewrites_them_and_keeps_the_others() {
        let db = db();
        let txn = db.begin_write().unwrap();
        let mut t = txn.open_table(SEGMENT_COLUMNS).unwrap();
        let mut cols = columns(&[
            (col::TS, 2 * CHUNK + 9),
            (col::X, 100),
            (col::SESSIONS, 4_000),
            (col::SESSION_ATTRS, 50),
            (col::BM_DEVICE, 10),
        ]);
        let mut layout = put_segment(&mut t, 2, 3, 0, &cols).unwrap();
        // A neighbouring segment must be left alone.
        let other = columns(&[(col::TS, 10_000)]);
        let other_layout = put_segment(&mut t, 2, 3, 1, &other).unwrap();
        for (c, n) in [
            (col::SESSION_ATTRS, 9_000usize),
            (col::SESSIONS, 3),
            (col::BM_DEVICE, 0),
            (col::X, CHUNK * 2),
            (col::NAME, 77),
        ] {
            let bytes: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(3) ^ c).collect();
            let changes = BTreeMap::from([(c, bytes.clone())]);
            replace(&mut t, 2, 3, 0, &mut layout, &changes).unwrap();
            cols.insert(c, bytes);
            assert_eq!(
                get_all(&t, 2, 3, 0, &layout).unwrap(),
                cols,
                "after column {c}"
            );
            let total: usize = cols.values().map(|b| b.len() + 4).sum();
            let own = chunks(&t).into_iter().filter(|(k, _)| k.2 == 0).count();
            assert_eq!(
                own,
                total.div_ceil(CHUNK),
                "no stale chunk after column {c}"
            );
        }
        assert_eq!(get_all(&t, 2, 3, 1, &other_layout).unwrap(), other);
    }

    /// A flipped byte anywhere in a column, its checksum included, is
    /// corruption when that column is read, and only then.
    #[test]
    fn a_changed_byte_fails_its_columns_checksum() {
        let db = db();
        let txn = db.begin_write().unwrap();
        let mut t = txn.open_table(SEGMENT_COLUMNS).unwrap();
        let cols = columns(&[(col::TS, CHUNK + 100), (col::X, 50), (col::Y, 7)]);
        let layout = put_segment(&mut t, 1, 2, 3, &cols).unwrap();
        let total: usize = cols.values().map(|b| b.len() + 4).sum();
        for at in [0, 5, CHUNK - 1, CHUNK, CHUNK + 103, total - 1] {
            let (i, off) = (at / CHUNK, at % CHUNK);
            let key = (1, 2, 3, PACKED, i as u16);
            let good = t.get(key).unwrap().unwrap().value().to_vec();
            let mut bad = good.clone();
            bad[off] ^= 0x20;
            t.insert(key, bad.as_slice()).unwrap();
            // The column the byte lies in (its 4-byte sum counts as its).
            let mut start = 0;
            let hit = layout
                .iter()
                .find(|(_, n)| {
                    start += *n as usize;
                    at < start
                })
                .map(|(c, _)| id(*c))
                .unwrap();
            for c in cols.keys() {
                let got = get(&t, 1, 2, 3, &layout, *c);
                if *c == hit {
                    let err = got.unwrap_err().to_string();
                    assert!(err.contains("checksum"), "{err}");
                } else {
                    assert_eq!(got.unwrap().as_ref(), cols.get(c));
                }
            }
            assert!(get_all(&t, 1, 2, 3, &layout).is_err());
            t.insert(key, good.as_slice()).unwrap();
        }
        assert_eq!(get_all(&t, 1, 2, 3, &layout).unwrap(), cols);
    }

    /// Format 4's packed columns have no checksum: they read as they are,
    /// and a rewrite sums only what it writes.
    #[test]
    fn packed_columns_without_a_checksum_still_read() {
        let db = db();
        let txn = db.begin_write().unwrap();
        let mut t = txn.open_table(SEGMENT_COLUMNS).unwrap();
        let mut cols = columns(&[(col::TS, 10), (col::SESSIONS, CHUNK), (col::BM_DEVICE, 3)]);
        let order = [col::TS, col::SESSIONS, col::BM_DEVICE];
        let mut packed = Vec::new();
        let mut layout = Layout::new();
        for c in order {
            packed.extend_from_slice(&cols[&c]);
            layout.push((c, cols[&c].len() as u32));
        }
        write_chunks(&mut t, (4, 5, 6), 0, [packed.as_slice()]).unwrap();
        assert_eq!(get_all(&t, 4, 5, 6, &layout).unwrap(), cols);
        let changes = BTreeMap::from([(col::BM_DEVICE, vec![1, 2, 3, 4, 5])]);
        replace(&mut t, 4, 5, 6, &mut layout, &changes).unwrap();
        cols.insert(col::BM_DEVICE, vec![1, 2, 3, 4, 5]);
        assert_eq!(
            layout,
            vec![
                (col::TS, 10),
                (col::SESSIONS, CHUNK as u32),
                (col::BM_DEVICE | SUMMED, 9)
            ]
        );
        assert_eq!(get_all(&t, 4, 5, 6, &layout).unwrap(), cols);
    }

    #[test]
    fn a_segment_of_the_older_layout_is_read_and_packed_when_rewritten() {
        let db = db();
        let txn = db.begin_write().unwrap();
        let mut t = txn.open_table(SEGMENT_COLUMNS).unwrap();
        let mut cols = columns(&[(col::TS, CHUNK + 10), (col::SESSIONS, 20), (col::X, 0)]);
        for (c, bytes) in &cols {
            if bytes.is_empty() {
                t.insert((5, 6, 2, *c, 0), [].as_slice()).unwrap();
            }
            for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
                t.insert((5, 6, 2, *c, i as u16), chunk).unwrap();
            }
        }
        let mut layout = Layout::new();
        assert_eq!(get_all(&t, 5, 6, 2, &layout).unwrap(), cols);
        assert_eq!(
            get(&t, 5, 6, 2, &layout, col::TS).unwrap().as_ref(),
            cols.get(&col::TS)
        );
        let changes = BTreeMap::from([(col::SESSIONS, vec![9; 33])]);
        replace(&mut t, 5, 6, 2, &mut layout, &changes).unwrap();
        cols.insert(col::SESSIONS, vec![9; 33]);
        assert!(!layout.is_empty());
        assert!(chunks(&t).iter().all(|(k, _)| k.3 == PACKED));
        assert_eq!(get_all(&t, 5, 6, 2, &layout).unwrap(), cols);
    }

    #[test]
    fn a_short_or_missing_chunk_is_corruption() {
        let db = db();
        let txn = db.begin_write().unwrap();
        let mut t = txn.open_table(SEGMENT_COLUMNS).unwrap();
        let cols = columns(&[(col::TS, 3 * CHUNK), (col::X, 10)]);
        let layout = put_segment(&mut t, 1, 1, 1, &cols).unwrap();
        t.insert((1, 1, 1, PACKED, 1), [0u8; 100].as_slice())
            .unwrap();
        let err = get(&t, 1, 1, 1, &layout, col::TS).unwrap_err();
        assert!(matches!(err, crate::Error::Corrupt(_)), "{err:?}");
        // Column X lies in chunk 3 only: still readable.
        assert_eq!(
            get(&t, 1, 1, 1, &layout, col::X).unwrap().as_ref(),
            cols.get(&col::X)
        );
        t.remove((1, 1, 1, PACKED, 3)).unwrap();
        let err = get(&t, 1, 1, 1, &layout, col::X).unwrap_err();
        assert!(matches!(err, crate::Error::Corrupt(_)), "{err:?}");
        // A layout longer than the chunks stored.
        let mut long = layout.clone();
        long.push((col::Y, 5));
        assert!(matches!(
            get_all(&t, 1, 1, 1, &long),
            Err(crate::Error::Corrupt(_))
        ));
    }
}
