//! The normalized event as it is stored: a [`Row`].
//!
//! Raw ids are gone (keyed hashes instead), the URL is a path, and fields
//! that do not apply to the event's kind are dropped. Pending batches are
//! MessagePack arrays of rows.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

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

/// Encodes a pending batch.
pub(crate) fn encode_batch(rows: &[Row]) -> Vec<u8> {
    // Serializing plain structs into a Vec cannot fail.
    rmp_serde::to_vec(rows).unwrap_or_default()
}

/// Decodes a pending batch read from disk.
pub(crate) fn decode_batch(bytes: &[u8]) -> Result<Vec<Row>, Corrupt> {
    let rows: Vec<Row> =
        rmp_serde::from_slice(bytes).map_err(|e| Corrupt::new("pending batch", e.to_string()))?;
    if rows.iter().any(|r| EventKind::from_code(r.kind).is_none()) {
        return Err(Corrupt::new("pending batch", "unknown event kind code"));
    }
    Ok(rows)
}
