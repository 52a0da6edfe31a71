//! Where a store's bytes live and how its file is opened, created, locked
//! and inspected.
//!
//! A store is a file, memory, or a file of a caller's virtual file system
//! ([`Vfs`], for tests that inject faults below redb). A file is locked by
//! redb for as long as it is open: one process may have it open for
//! writing, or any number of processes read-only, never both. Opening a
//! store another process holds waits up to [`OpenOptions::wait`] and then
//! fails with [`Error::InUse`], naming the holder where the platform tells.
//!
//! Nothing here ever moves, replaces or truncates a file that exists: a
//! new store is built in a temporary file and linked into place only if no
//! file has appeared there meanwhile; a file that is not a clean heatstore
//! store is an error ([`Error::NotAStore`], [`Error::Corrupt`]) and only the
//! explicit [`crate::Store::recover`] sets it aside.

use std::fmt;
use std::io::Read;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, StorageBackend};

use crate::error::{Error, Result};

/// How often a waiting open tries again.
const RETRY: Duration = Duration::from_millis(25);

/// The most memory redb's page cache (its read cache and write buffer
/// together) takes per open database, by default: 64 MiB. redb's own
/// default is 1 GiB, which a process reaches on any file larger than that,
/// and a rewrite has two databases open. heatstore's decoded-data cache
/// sits above it, and the operating system's page cache below.
pub const DEFAULT_PAGE_CACHE_BYTES: usize = 64 << 20;

/// redb's builder with the page cache bounded to `page_cache` bytes.
pub(crate) fn builder(page_cache: usize) -> redb::Builder {
    let mut b = Database::builder();
    b.set_cache_size(page_cache);
    b
}

/// The first bytes of every redb file (its 9-byte magic number).
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// A virtual file system a store can live in instead of the real one: what
/// tests use to fail the N-th write or sync, or to crash keeping only what
/// was synced. Names are flat (`"store"`, `"store.rewrite"`).
pub trait Vfs: fmt::Debug + Send + Sync + 'static {
    /// Opens the named file as a redb storage backend, creating it empty
    /// when `create` is set and it does not exist.
    fn open(&self, name: &str, create: bool) -> std::io::Result<Box<dyn StorageBackend>>;
    /// Whether the named file exists.
    fn exists(&self, name: &str) -> bool;
    /// Renames `from` over `to`, atomically and durably.
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()>;
    /// Removes the named file (no error when it does not exist).
    fn remove(&self, name: &str) -> std::io::Result<()>;
}

/// A boxed backend as a backend (redb takes backends by value).
#[derive(Debug)]
pub(crate) struct Boxed(pub Box<dyn StorageBackend>);

impl StorageBackend for Boxed {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.0.close()
    }
    fn try_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> std::result::Result<bool, redb::BackendError> {
        self.0.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> std::result::Result<bool, redb::BackendError> {
        self.0.try_lock_shared_range(start, end)
    }
    fn lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> std::result::Result<(), redb::BackendError> {
        self.0.lock_range(start, end)
    }
    fn lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> std::result::Result<(), redb::BackendError> {
        self.0.lock_shared_range(start, end)
    }
    fn unlock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> std::result::Result<(), redb::BackendError> {
        self.0.unlock_range(start, end)
    }
    fn query_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> std::result::Result<bool, redb::BackendError> {
        self.0.query_lock_range(start, end)
    }
}

/// Where a store lives.
#[derive(Clone, Debug)]
pub(crate) enum Location {
    File(PathBuf),
    Memory,
    Vfs(Arc<dyn Vfs>, String),
}

impl Location {
    /// The path of a file store.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            _ => None,
        }
    }
}

/// An open redb database, writable or read-only.
pub(crate) enum Db {
    Rw(Database),
    Ro(ReadOnlyDatabase),
}

impl Db {
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(match self {
            Db::Rw(db) => db.begin_read()?,
            Db::Ro(db) => db.begin_read()?,
        })
    }

    /// The writable database, or [`Error::ReadOnly`].
    pub(crate) fn rw(&self) -> Result<&Database> {
        match self {
            Db::Rw(db) => Ok(db),
            Db::Ro(_) => Err(Error::ReadOnly),
        }
    }
}

/// Opens (or creates) a file store for writing.
pub(crate) fn open_file_rw(
    path: &Path,
    create: bool,
    verify: bool,
    wait: Duration,
    page_cache: usize,
) -> Result<Database> {
    let deadline = Instant::now() + wait;
    loop {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !create {
                    return Err(no_store(path));
                }
                create_new(path)?;
                continue;
            }
            Err(e) => return Err(Error::Io(e)),
            Ok(m) if !m.is_file() => {
                return Err(Error::NotAStore {
                    detail: format!("{} is not a file", path.display()),
                })
            }
            Ok(_) => {}
        }
        let err = match builder(page_cache)
            .set_check_integrity_on_open(verify)
            .create(path)
        {
            Ok(db) => return Ok(db),
            Err(e) => e,
        };
        if Instant::now() < deadline && retryable(&err, path) {
            std::thread::sleep(RETRY);
            continue;
        }
        return Err(open_error(err, path));
    }
}

/// Opens a file store read-only.
pub(crate) fn open_file_ro(
    path: &Path,
    wait: Duration,
    page_cache: usize,
) -> Result<ReadOnlyDatabase> {
    let deadline = Instant::now() + wait;
    loop {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_store(path)),
            Err(e) => return Err(Error::Io(e)),
            Ok(m) if !m.is_file() => {
                return Err(Error::NotAStore {
                    detail: format!("{} is not a file", path.display()),
                })
            }
            Ok(m) if m.len() == 0 => {
                return Err(Error::NotAStore {
                    detail: format!(
                        "{} is empty: no store was ever written to it",
                        path.display()
                    ),
                })
            }
            Ok(_) => {}
        }
        let err = match builder(page_cache).open_read_only(path) {
            Ok(db) => return Ok(db),
            Err(e) => e,
        };
        if matches!(err, redb::DatabaseError::RepairAborted) {
            return Err(Error::NeedsRepair {
                path: path.to_owned(),
            });
        }
        if Instant::now() < deadline && retryable(&err, path) {
            std::thread::sleep(RETRY);
            continue;
        }
        return Err(open_error(err, path));
    }
}

/// Whether a failed open may succeed later: the store is held by another
/// process, or its header is being written by a process creating it in
/// place (it was an empty file) and holding it meanwhile.
fn retryable(err: &redb::DatabaseError, path: &Path) -> bool {
    match err {
        redb::DatabaseError::DatabaseAlreadyOpen => true,
        redb::DatabaseError::Storage(_) => {
            matches!(head_state(path), Ok(Head::Zeros | Head::PreMagic))
                && lock_holder(path).is_some()
        }
        _ => false,
    }
}

fn no_store(path: &Path) -> Error {
    Error::NotAStore {
        detail: format!(
            "there is no file at {} (a writable open creates one)",
            path.display()
        ),
    }
}

/// What the first bytes of a file say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// Empty.
    Empty,
    /// redb's magic number.
    Redb,
    /// Only zeros.
    Zeros,
    /// Zeros where redb's magic number should be, then other bytes: a
    /// creation cut short before redb wrote its magic number (redb writes
    /// the rest of its header first), or a damaged header.
    PreMagic,
    /// Something else.
    Other,
}

pub(crate) fn head_state(path: &Path) -> std::io::Result<Head> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while n < buf.len() {
        match f.read(buf.get_mut(n..).unwrap_or_default())? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok(if buf.is_empty() {
        Head::Empty
    } else if buf.starts_with(&REDB_MAGIC) {
        Head::Redb
    } else if buf.iter().all(|&b| b == 0) {
        Head::Zeros
    } else if buf.get(..9).is_some_and(|m| m.iter().all(|&b| b == 0)) {
        Head::PreMagic
    } else {
        Head::Other
    })
}

/// A failed open as heatstore's error, naming what is wrong with the file.
pub(crate) fn open_error(e: redb::DatabaseError, path: &Path) -> Error {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => {
            return Error::InUse {
                path: path.to_owned(),
                holder: lock_holder(path),
            }
        }
        redb::DatabaseError::RepairAborted => {
            return Error::NeedsRepair {
                path: path.to_owned(),
            }
        }
        _ => {}
    }
    // redb reports a foreign or damaged header as corruption or as an
    // I/O error ("magic number mismatch"): the file's first bytes tell
    // which it is.
    match head_state(path) {
        Ok(Head::Zeros | Head::PreMagic) => {
            return Error::Corrupt(crate::Corrupt::new(
                "store header",
                format!(
                    "{} starts with zeros where redb's header should be: the header is \
                     damaged, or the file's creation was cut short; `heatstore recover` sets \
                     it aside and salvages what can be read",
                    path.display()
                ),
            ))
        }
        Ok(Head::Other) => {
            return Error::NotAStore {
                detail: format!("{} does not start with a redb header", path.display()),
            }
        }
        _ => {}
    }
    match e {
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
            Error::Corrupt(crate::Corrupt::new("store file", detail))
        }
        redb::DatabaseError::UpgradeRequired(v) => Error::NotAStore {
            detail: format!(
                "{} is a redb file of an old format ({v}) that heatstore never wrote",
                path.display()
            ),
        },
        other => other.into(),
    }
}

/// Creates a new store at `path` without ever touching a file that
/// appears there meanwhile: the store is built and committed in a
/// temporary file beside it, then hard-linked into place, which fails if
/// `path` exists (another process created it first: fine, it is opened).
fn create_new(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale_creations(&dir, &name);
    let tmp = dir.join(format!(
        ".{name}.creating.{}.{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let built = (|| -> Result<()> {
        let db = Database::builder()
            .create(&tmp)
            .map_err(|e| open_error(e, &tmp))?;
        crate::storage::meta::initialize(&db)?;
        drop(db);
        std::fs::File::open(&tmp)?.sync_all()?;
        Ok(())
    })();
    let linked = built.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // File systems without hard links: a rename, guarded by a last
        // look (a race with another creator is then possible, and
        // documented).
        Err(_) if !path.exists() => Ok(std::fs::rename(&tmp, path)?),
        Err(_) => Ok(()),
    });
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(&dir);
    Ok(())
}

/// Removes temporary files of creations whose process is gone.
fn remove_stale_creations(dir: &Path, name: &str) {
    let prefix = format!(".{name}.creating.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('.').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !process_alive(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true; // cannot tell: keep the file
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Makes a rename or link in `dir` durable (best effort).
pub(crate) fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The process holding a lock on the file, where the platform tells
/// (Linux: `/proc/locks`).
fn lock_holder(path: &Path) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        let ino = m.ino();
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        for line in locks.lines() {
            // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(pid), Some(id)) = (fields.get(4), fields.get(5)) else {
                continue;
            };
            if id.rsplit(':').next().and_then(|i| i.parse::<u64>().ok()) == Some(ino) {
                if let Ok(pid) = pid.parse::<u32>() {
                    if pid != std::process::id() {
                        return Some(pid);
                    }
                }
            }
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}
