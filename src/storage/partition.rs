//! Partition metadata: the segments of a (site, day) partition, its count
//! of pending rows, and the version readers key their caches by (table
//! `partitions`).

use serde::{Deserialize, Serialize};

use super::segment::SEGMENT_ROWS;
use super::Corrupt;

/// Metadata of one sealed segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegInfo {
    pub id: u32,
    pub rows: u32,
    pub min_ts: i64,
    pub max_ts: i64,
    /// A fresh random value whenever the segment's columns are written
    /// (when it is built, and when columns are rewritten in place): what
    /// readers key their caches of its decoded columns by, so that a
    /// commit that writes other segments of the partition keeps them.
    /// 0 in stores written before it existed (readers then key by the
    /// partition's `sealed`).
    #[serde(default)]
    pub version: u64,
    /// Where the segment's columns lie in its packed chunks (see
    /// `columns`): `(column, length)` in packed order. Empty for a segment
    /// written before packing, whose columns have a chunk run each.
    #[serde(default)]
    pub layout: crate::storage::columns::Layout,
}

/// Metadata of one (site, day) partition (table `partitions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartMeta {
    pub segments: Vec<SegInfo>,
    pub next_segment: u32,
    pub pending_rows: u64,
    /// A fresh random value at every write of the partition: what readers
    /// key their caches of its decoded columns by.
    pub version: u64,
    /// A fresh random value at every write of the partition's segments or
    /// dictionaries (not at a write of pending rows alone): what tells the
    /// purge that the segments it rebuilt aside are still the ones stored.
    /// 0 in stores written before it existed.
    #[serde(default)]
    pub sealed: u64,
    /// A fresh random value at every write of the partition but one that
    /// only appends pending batches: readers that built the pending rows
    /// of an earlier version with the same epoch may keep what they built
    /// and add the new batches. 0 in stores written before it existed.
    #[serde(default)]
    pub pending_epoch: u64,
    /// Where the partition's dictionaries lie, packed like a segment's
    /// columns under segment id [`DICTS_SEGMENT`](crate::storage::columns::DICTS_SEGMENT):
    /// `(dimension, length)`. Empty when the partition has none, or keeps
    /// them in table `dictionaries` (format 3).
    #[serde(default)]
    pub dict_layout: crate::storage::columns::Layout,
}

impl PartMeta {
    /// Encodes the metadata as a new version of the partition.
    pub(crate) fn encode_new_version(&mut self) -> Vec<u8> {
        self.sealed = rand::random();
        self.encode_pending_change()
    }

    /// Encodes the metadata as a new version of the partition whose
    /// segments and dictionaries did not change (its pending rows did, or
    /// what they take from their sessions).
    pub(crate) fn encode_pending_change(&mut self) -> Vec<u8> {
        self.pending_epoch = rand::random();
        self.encode_pending_append()
    }

    /// Encodes the metadata as a new version of the partition that only
    /// gained pending batches: nothing earlier readers built changed.
    pub(crate) fn encode_pending_append(&mut self) -> Vec<u8> {
        self.version = rand::random();
        rmp_serde::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<PartMeta, Corrupt> {
        let meta: PartMeta = rmp_serde::from_slice(bytes)
            .map_err(|e| Corrupt::new("partition metadata", e.to_string()))?;
        if meta
            .segments
            .iter()
            .any(|s| s.rows as usize > SEGMENT_ROWS || s.min_ts > s.max_ts)
        {
            return Err(Corrupt::new(
                "partition metadata",
                "a segment claims more than 65,536 rows or a negative time span",
            ));
        }
        Ok(meta)
    }

    pub(crate) fn rows(&self) -> u64 {
        self.segments.iter().map(|s| u64::from(s.rows)).sum::<u64>() + self.pending_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metadata written by format 2 (four fields, no `sealed`) still reads.
    #[test]
    fn reads_metadata_without_sealed() {
        let old = rmp_serde::to_vec(&(Vec::<SegInfo>::new(), 3u32, 7u64, 9u64)).unwrap();
        let m = PartMeta::decode(&old).unwrap();
        assert_eq!(
            (m.next_segment, m.pending_rows, m.version, m.sealed),
            (3, 7, 9, 0)
        );
        let mut m2 = m.clone();
        let pending = m2.encode_pending_change();
        assert_eq!(PartMeta::decode(&pending).unwrap().sealed, 0);
        m2.encode_new_version();
        assert_ne!(m2.sealed, 0);
    }

    /// Only a pure append keeps the pending epoch; every other write of a
    /// partition changes it (readers' incremental pending views rely on it).
    #[test]
    fn only_appends_keep_the_pending_epoch() {
        let mut m = PartMeta::default();
        let b = m.encode_pending_change();
        let (v0, e0) = (m.version, m.pending_epoch);
        assert_eq!(PartMeta::decode(&b).unwrap().pending_epoch, e0);
        m.encode_pending_append();
        assert_eq!(m.pending_epoch, e0);
        assert_ne!(m.version, v0);
        m.encode_pending_change();
        assert_ne!(m.pending_epoch, e0);
        let e1 = m.pending_epoch;
        m.encode_new_version();
        assert_ne!(m.pending_epoch, e1);
    }
}
