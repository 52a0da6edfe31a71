//! Segment columns on disk, in chunks.
//!
//! redb gives a value larger than a page its own power-of-two allocation,
//! which wastes a third of the space on average for column-sized values.
//! Columns are therefore stored as chunks of at most [`CHUNK`] bytes under
//! `(site, day, segment, column, chunk)`: they pack into leaf pages, and a
//! column is read back by one range scan.

use std::collections::BTreeMap;

use redb::{ReadableTable, Table};

use super::Corrupt;
use crate::error::Result;

/// Key of one chunk: (site, day, segment, column, chunk index).
pub(crate) type ColKey = (u32, i32, u32, u8, u16);

/// Largest chunk: a little under a 4 KiB page, so one fills a leaf.
pub(crate) const CHUNK: usize = 3_968;

/// Writes a column, replacing any previous one.
pub(crate) fn put(
    t: &mut Table<ColKey, &[u8]>,
    site: u32,
    day: i32,
    seg: u32,
    col: u8,
    bytes: &[u8],
) -> Result<()> {
    remove(t, site, day, seg, col)?;
    if bytes.is_empty() {
        t.insert((site, day, seg, col, 0), [].as_slice())?;
        return Ok(());
    }
    for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
        let i = u16::try_from(i)
            .map_err(|_| crate::Error::InvalidArgument("column too large".into()))?;
        t.insert((site, day, seg, col, i), chunk)?;
    }
    Ok(())
}

fn remove(t: &mut Table<ColKey, &[u8]>, site: u32, day: i32, seg: u32, col: u8) -> Result<()> {
    let keys: Vec<ColKey> = t
        .range((site, day, seg, col, 0)..=(site, day, seg, col, u16::MAX))?
        .map(|e| e.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    for k in keys {
        t.remove(k)?;
    }
    Ok(())
}

/// Removes every column of a segment.
pub(crate) fn remove_segment(
    t: &mut Table<ColKey, &[u8]>,
    site: u32,
    day: i32,
    seg: u32,
) -> Result<()> {
    let keys: Vec<ColKey> = t
        .range((site, day, seg, 0, 0)..=(site, day, seg, u8::MAX, u16::MAX))?
        .map(|e| e.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    for k in keys {
        t.remove(k)?;
    }
    Ok(())
}

fn append_chunk(out: &mut BTreeMap<u8, Vec<u8>>, key: ColKey, value: &[u8]) -> Result<(), Corrupt> {
    let (_, _, seg, col, chunk) = key;
    let buf = out.entry(col).or_default();
    // Chunk i starts at i * CHUNK: a gap or a short middle chunk is corruption.
    if buf.len() != usize::from(chunk) * CHUNK {
        return Err(Corrupt::new(
            "segment column",
            format!("segment {seg} column {col}: chunk {chunk} out of sequence"),
        ));
    }
    buf.extend_from_slice(value);
    Ok(())
}

/// Reads one column, `None` when the segment has none.
pub(crate) fn get(
    t: &impl ReadableTable<ColKey, &'static [u8]>,
    site: u32,
    day: i32,
    seg: u32,
    col: u8,
) -> Result<Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    for e in t.range((site, day, seg, col, 0)..=(site, day, seg, col, u16::MAX))? {
        let (k, v) = e?;
        append_chunk(&mut out, k.value(), v.value())?;
    }
    Ok(out.remove(&col))
}

/// Reads every column of a segment.
pub(crate) fn get_all(
    t: &impl ReadableTable<ColKey, &'static [u8]>,
    site: u32,
    day: i32,
    seg: u32,
) -> Result<BTreeMap<u8, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for e in t.range((site, day, seg, 0, 0)..=(site, day, seg, u8::MAX, u16::MAX))? {
        let (k, v) = e?;
        append_chunk(&mut out, k.value(), v.value())?;
    }
    Ok(out)
}
