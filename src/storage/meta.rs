//! The store's header (table `meta`): heatstore's magic, the format
//! version, what opening checks, and the migrations from older versions.

use std::path::Path;

use redb::{Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableHandle};

use super::schema::*;
use super::sessions::SessionRow;
use super::Corrupt;
use crate::error::{Error, Result};

/// The on-disk format version this build writes. It also opens files of
/// versions 1 to 4, migrating them at open (`docs/format.md`, §7).
pub const FORMAT_VERSION: u32 = 5;
/// The oldest format version this build migrates.
pub(crate) const OLDEST_MIGRATED: u32 = 1;
pub(crate) const MAGIC: &[u8] = b"heatstore";

/// Whether the file is a heatstore store of this version with every
/// table: then opening it writes nothing.
pub(crate) fn is_current(db: &impl ReadableDatabase) -> Result<bool> {
    let txn = db.begin_read()?;
    let tables = txn.list_tables()?.count();
    let Ok(meta) = txn.open_table(META) else {
        return Ok(false);
    };
    let magic = meta.get("magic")?.map(|g| g.value().to_vec());
    let version = meta.get("format_version")?.map(|g| g.value().to_vec());
    Ok(magic.as_deref() == Some(MAGIC)
        && version.as_deref() == Some(FORMAT_VERSION.to_le_bytes().as_slice())
        && tables >= TABLE_COUNT)
}

/// Checks the header and creates what is missing, in one transaction.
pub(crate) fn initialize(db: &Database) -> Result<()> {
    let txn = db.begin_write()?;
    {
        let existing: Vec<String> = txn.list_tables()?.map(|t| t.name().to_owned()).collect();
        let mut meta = txn.open_table(META)?;
        let magic = meta.get("magic")?.map(|g| g.value().to_vec());
        match magic {
            Some(m) if m == MAGIC => {
                let v = meta
                    .get("format_version")?
                    .map(|g| g.value().to_vec())
                    .unwrap_or_default();
                let found = <[u8; 4]>::try_from(v.as_slice())
                    .map(u32::from_le_bytes)
                    .map_err(|_| {
                        crate::Corrupt::new("store header", "format version is not 4 bytes")
                    })?;
                if !(OLDEST_MIGRATED..=FORMAT_VERSION).contains(&found) {
                    return Err(Error::UnsupportedVersion {
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
                if found != FORMAT_VERSION {
                    // Version 1 → 2: session rows gain `named` and
                    // `others` (read with defaults: a version-1 row's
                    // visitor counts as named first), and the
                    // `deleted_sessions` table is created below.
                    // Version 2 → 3: partition metadata gains `sealed`
                    // (read as 0), and the `session_block_tails` table is
                    // created below.
                    // Version 3 → 4: segments gain a `layout` and are
                    // written packed (`columns`); a segment without one
                    // (read as empty) keeps its per-column chunks, read as
                    // they are and packed when a column is rewritten.
                    // Version 4 → 5: packed columns written from now on
                    // end with their CRC-32 (`columns::SUMMED`); those
                    // written before read as they are.
                    meta.insert("format_version", FORMAT_VERSION.to_le_bytes().as_slice())?;
                }
            }
            Some(_) => {
                return Err(Error::NotAStore {
                    detail: "its header names another program".into(),
                })
            }
            None if !existing.is_empty() => {
                return Err(Error::NotAStore {
                    detail: "a redb database of another program".into(),
                })
            }
            None => {
                meta.insert("magic", MAGIC)?;
                meta.insert("format_version", FORMAT_VERSION.to_le_bytes().as_slice())?;
            }
        }
    }
    let had_index = {
        let names: Vec<String> = txn.list_tables()?.map(|t| t.name().to_owned()).collect();
        names.iter().any(|n| n == VISITOR_SESSIONS.name())
    };
    create_tables(&txn)?;
    if !had_index {
        // A store written before the visitor index existed: build it.
        index_visitors(&txn)?;
    }
    txn.commit()?;
    Ok(())
}

/// A read-only store must be of this version with every table: it
/// cannot be migrated or completed without writing.
pub(crate) fn check_read_only(db: &ReadOnlyDatabase, path: Option<&Path>) -> Result<()> {
    if is_current(db)? {
        return Ok(());
    }
    let txn = db.begin_read()?;
    let name = || path.map_or("the store".to_owned(), |p| p.display().to_string());
    let Ok(meta) = txn.open_table(META) else {
        return Err(Error::NotAStore {
            detail: format!("{} holds no heatstore header", name()),
        });
    };
    if meta.get("magic")?.map(|g| g.value().to_vec()).as_deref() != Some(MAGIC) {
        return Err(Error::NotAStore {
            detail: format!("the header of {} names another program", name()),
        });
    }
    let found = meta
        .get("format_version")?
        .and_then(|g| <[u8; 4]>::try_from(g.value()).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| Corrupt::new("store header", "format version is not 4 bytes"))?;
    if !(OLDEST_MIGRATED..=FORMAT_VERSION).contains(&found) {
        return Err(Error::UnsupportedVersion {
            found,
            supported: FORMAT_VERSION,
        });
    }
    Err(Error::NeedsUpgrade {
        path: path.map(Path::to_path_buf),
        found,
    })
}

/// Fills the visitor index from the session rows.
fn index_visitors(txn: &redb::WriteTransaction) -> Result<()> {
    let sessions = txn.open_table(SESSIONS)?;
    let mut index = txn.open_table(VISITOR_SESSIONS)?;
    for e in sessions.iter()? {
        let (k, v) = e?;
        let (site, hash) = k.value();
        let row = SessionRow::decode(v.value())?;
        for visitor in row.index_visitors(hash) {
            index.insert((site, visitor, hash), ())?;
        }
    }
    Ok(())
}

/// What the last maintenance run did, kept in the header table (key
/// `last_maintenance`, MessagePack) so that a restarted server still shows
/// it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MaintenanceRun {
    /// When it started, ms since the epoch.
    pub started_at: i64,
    /// When it finished.
    pub finished_at: i64,
    /// The `now` it ran as (retention and deadlines are judged at it).
    pub as_of: i64,
    /// Requests it erased.
    pub erased: u64,
    /// Rows it removed.
    pub rows_removed: u64,
    /// Partitions retention dropped.
    pub partitions_expired: u64,
    /// The longest pause it imposed on commits, in µs.
    pub longest_pause_us: u64,
}

/// Records the last maintenance run (in `txn`).
pub(crate) fn put_last_run(txn: &redb::WriteTransaction, run: &MaintenanceRun) -> Result<()> {
    let bytes = rmp_serde::to_vec(run).unwrap_or_default();
    txn.open_table(META)?
        .insert("last_maintenance", bytes.as_slice())?;
    Ok(())
}

/// The last maintenance run recorded, if any.
pub(crate) fn last_run(txn: &redb::ReadTransaction) -> Result<Option<MaintenanceRun>> {
    let meta = txn.open_table(META)?;
    let Some(g) = meta.get("last_maintenance")? else {
        return Ok(None);
    };
    rmp_serde::from_slice(g.value())
        .map(Some)
        .map_err(|e| Corrupt::new("store header", format!("last maintenance run: {e}")).into())
}
