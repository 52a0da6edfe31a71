//! Recovery of a damaged store: the one explicit way a store's file is
//! ever set aside.
//!
//! [`Store::recover`] renames the file to `<name>.damaged-<ms>` (it is never
//! deleted), salvages every entry redb can still read from it into a fresh
//! store at the original path, and reports what it copied, what it could
//! not read, and whether the salvaged store passes [`crate::Snapshot::check`].

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase};
use serde::Serialize;

use crate::core::Core;
use crate::error::{Error, Result};
use crate::storage::file::{head_state, Head};
use crate::storage::file::{open_file_rw, Db, Location};

/// What [`crate::Store::recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecoverReport {
    /// Where the damaged file now is.
    pub set_aside: PathBuf,
    /// Whether redb could open the damaged file at all.
    pub readable: bool,
    /// Entries copied into the fresh store.
    pub entries_copied: u64,
    /// Tables that could not be read whole: (table, the error).
    pub tables_damaged: Vec<(String, String)>,
    /// `None` when the salvaged store passes [`crate::Snapshot::check`],
    /// else what check found (the salvaged data is kept either way: export
    /// what reports still answer, or re-import the events).
    pub check_error: Option<String>,
}

/// Recovers the store at `path` (see [`crate::Store::recover`]).
pub(crate) fn recover(path: &Path) -> Result<RecoverReport> {
    if !path.is_file() {
        return Err(Error::NotAStore {
            detail: format!("there is no file at {} to recover", path.display()),
        });
    }
    // A store that opens and checks cleanly needs no recovery; one that
    // another process holds must not be touched.
    match open(path, false, true) {
        Ok(core) => {
            if core.view().and_then(|s| s.check()).is_ok() {
                return Err(Error::InvalidArgument(format!(
                    "{} opens and passes check: it needs no recovery",
                    path.display()
                )));
            }
        }
        Err(e @ Error::InUse { .. }) => return Err(e),
        Err(_) => {}
    }
    if let Ok(Head::Other) = head_state(path) {
        return Err(Error::NotAStore {
            detail: format!(
                "{} is not a redb file: recovery only salvages heatstore stores",
                path.display()
            ),
        });
    }
    let now = crate::time::now_ms();
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".damaged-{now}"));
    let aside = path.with_file_name(name);
    std::fs::rename(path, &aside)?;
    crate::storage::file::sync_dir(path.parent().unwrap_or(Path::new(".")));
    let mut report = RecoverReport {
        set_aside: aside.clone(),
        ..RecoverReport::default()
    };
    // The copy is opened (and repaired by redb if it was not closed
    // cleanly) without its integrity check: the point is to read what
    // still reads.
    let salvaged = crate::guard::guarded("the damaged file", || {
        let damaged = Database::builder()
            .set_check_integrity_on_open(false)
            .open(&aside)
            .map_err(|e| crate::storage::file::open_error(e, &aside))?;
        let store = open(path, true, false)?;
        let r = damaged.begin_read()?;
        let copied = store.write(|w, _| crate::storage::schema::copy_tables(&r, w, true))?;
        Ok((store, copied))
    });
    let store = match salvaged {
        Ok((store, copied)) => {
            report.readable = true;
            report.entries_copied = copied.entries;
            report.tables_damaged = copied.lost;
            store
        }
        Err(e) => {
            report.tables_damaged.push(("(file)".into(), e.to_string()));
            open(path, true, false)?
        }
    };
    report.check_error = store
        .view()
        .and_then(|s| s.check())
        .err()
        .map(|e| e.to_string());
    Ok(report)
}

/// Opens the store at `path` writable, without waiting for another process.
fn open(path: &Path, create: bool, verify: bool) -> Result<Core> {
    let cache = crate::storage::file::DEFAULT_PAGE_CACHE_BYTES;
    let db = open_file_rw(path, create, verify, std::time::Duration::ZERO, cache)?;
    Core::init(Db::Rw(db), Location::File(path.to_owned()), cache)
}
