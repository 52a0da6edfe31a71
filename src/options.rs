//! How to open a store: [`OpenOptions`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redb::Database;

use crate::error::{Error, Result};
use crate::storage::file::{open_error, open_file_ro, open_file_rw, Boxed, Db, Location, Vfs};

/// How long opening waits for a store another process holds, by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// How to open a store: read-only or writable, whether to create it, how
/// long to wait for another process, whether to verify the file first.
///
/// ```
/// use heatstore::OpenOptions;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("site.heat");
/// drop(OpenOptions::new().open(&path)?); // created
/// let reader = OpenOptions::new().read_only(true).open(&path)?;
/// assert!(reader.is_read_only());
/// // Readers share the file; a writer waits for them, then gives up.
/// let err = OpenOptions::new()
///     .wait(std::time::Duration::from_millis(50))
///     .open(&path)
///     .err()
///     .unwrap();
/// assert!(matches!(err, heatstore::Error::InUse { .. }), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read_only: bool,
    create: bool,
    wait: Duration,
    verify: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Writable, created when missing, waiting up to [`DEFAULT_WAIT`] for
    /// another process, the file verified at open.
    pub fn new() -> OpenOptions {
        OpenOptions {
            read_only: false,
            create: true,
            wait: DEFAULT_WAIT,
            verify: true,
        }
    }

    /// Opens the store read-only: nothing is ever written to the file, so
    /// it may be on read-only media or readable only. Any number of
    /// processes may read a store at once, but not while one writes. A
    /// store that was not closed cleanly (its process died) cannot be
    /// opened read-only: [`Error::NeedsRepair`]; a writable open repairs
    /// it. Default: `false`.
    pub fn read_only(&mut self, read_only: bool) -> &mut OpenOptions {
        self.read_only = read_only;
        self
    }

    /// Creates the store when the file does not exist (never when opening
    /// read-only). Default: `true`.
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// How long to wait for a store another process has open before
    /// failing with [`Error::InUse`]. Default: [`DEFAULT_WAIT`].
    pub fn wait(&mut self, wait: Duration) -> &mut OpenOptions {
        self.wait = wait;
        self
    }

    /// Whether a writable open first checks every page of the file (redb's
    /// integrity check), which reads the whole file. Without it, or when
    /// opening read-only, damaged pages are found when they are read and
    /// reported as [`Error::Corrupt`] then. Default: `true`.
    pub fn verify(&mut self, verify: bool) -> &mut OpenOptions {
        self.verify = verify;
        self
    }

    /// Opens the store at `path`.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<crate::Store> {
        crate::guard::guarded("opening the store", || {
            let path = path.as_ref();
            let db = if self.read_only {
                Db::Ro(open_file_ro(path, self.wait)?)
            } else {
                Db::Rw(open_file_rw(path, self.create, self.verify, self.wait)?)
            };
            crate::Store::from_db(db, Location::File(path.to_owned()))
        })
    }

    /// Opens the store in the file `name` of a virtual file system.
    pub fn open_vfs(&self, vfs: Arc<dyn Vfs>, name: &str) -> Result<crate::Store> {
        crate::guard::guarded("opening the store", || {
            let exists = vfs.exists(name);
            if !exists && (self.read_only || !self.create) {
                return Err(Error::NotAStore {
                    detail: format!("{name} does not exist"),
                });
            }
            let backend = Boxed(vfs.open(name, !self.read_only)?);
            let db = if self.read_only {
                Db::Ro(
                    Database::builder()
                        .open_read_only_with_backend(backend)
                        .map_err(|e| open_error(e, Path::new(name)))?,
                )
            } else {
                Db::Rw(
                    Database::builder()
                        .set_check_integrity_on_open(self.verify)
                        .create_with_backend(backend)
                        .map_err(|e| open_error(e, Path::new(name)))?,
                )
            };
            crate::Store::from_db(db, Location::Vfs(vfs, name.to_owned()))
        })
    }
}
