//! The file rewrite that ends every purge: every table copied into a fresh
//! file, swapped in atomically, because redb does not zero freed pages.

use crate::core::Core;
use crate::error::Result;
use crate::storage::file::{Db, Location};
use redb::{Database, ReadableDatabase};
use std::path::Path;

impl Core {
    /// Rewrites every table into a fresh file and swaps it in atomically:
    /// the new file holds only live pages, so nothing erased survives in
    /// its bytes.
    ///
    /// The fresh file is built as `<name>.rewrite` beside the store and
    /// renamed over it while this process still holds it open: its lock
    /// covers the file at the store's path from the rename on, so no other
    /// process can open the store in between. Only maintenance touches the
    /// `.rewrite` file (a stale one, left by a run that died, is removed
    /// here, under the store's lock).
    pub(crate) fn rewrite_file(&mut self) -> Result<()> {
        // `&mut self`: no writer can exist while the file is swapped.
        let fresh = match &self.location {
            Location::File(path) => {
                let tmp = rewrite_path(path);
                match std::fs::remove_file(&tmp) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
                let fresh = Database::create(&tmp)?;
                copy_all(self.db.rw()?, &fresh)?;
                std::fs::rename(&tmp, path)?;
                crate::storage::file::sync_dir(path.parent().unwrap_or(Path::new(".")));
                fresh
            }
            Location::Memory => {
                let fresh = Database::builder()
                    .create_with_backend(redb::backends::InMemoryBackend::new())?;
                copy_all(self.db.rw()?, &fresh)?;
                fresh
            }
            Location::Vfs(vfs, name) => {
                let tmp = format!("{name}.rewrite");
                vfs.remove(&tmp)?;
                let backend = crate::storage::file::Boxed(vfs.open(&tmp, true)?);
                let fresh = Database::builder().create_with_backend(backend)?;
                copy_all(self.db.rw()?, &fresh)?;
                vfs.rename(&tmp, name)?;
                fresh
            }
        };
        self.db = Db::Rw(fresh);
        Ok(())
    }
}

/// The temporary file a rewrite builds before the rename.
pub(crate) fn rewrite_path(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".rewrite");
    path.with_file_name(name)
}

/// Copies every heatstore table into a fresh database.
fn copy_all(from: &Database, to: &Database) -> Result<()> {
    let r = from.begin_read()?;
    let w = to.begin_write()?;
    crate::storage::schema::copy_tables(&r, &w, false)?;
    w.commit()?;
    Ok(())
}
