//! The store: one redb file holding every site's events.

use foldhash::{HashMap, HashMapExt};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use redb::{Database, ReadableDatabase, ReadableTable, TableHandle};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ingest::{IngestMode, Normalizer};
use crate::normalize::ReferrerSources;
use crate::read::Snapshot;
use crate::site::{SiteRecord, SiteSettings};
use crate::storage::schema::*;
use crate::writer::{SiteState, Writer};

/// The on-disk format version this build writes. It also opens files of
/// version 1, migrating them at open (`docs/format.md`, §7).
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build migrates.
const OLDEST_MIGRATED: u32 = 1;
const MAGIC: &[u8] = b"heatstore";
const REDB_MAGIC: &[u8] = b"redb";

/// A heatstore store: one file (or memory), one writer at a time, any
/// number of readers on consistent snapshots.
///
/// ```
/// use heatstore::{Event, EventKind, Store};
/// let store = Store::in_memory()?;
/// let mut w = store.writer()?;
/// let mut e = Event::new("example.com", 1_700_000_000_000, EventKind::Pageview, "s1", "/");
/// (e.vw, e.vh, e.dh) = (Some(1280), Some(720), Some(2000));
/// w.append(&e)?;
/// w.commit()?;
/// drop(w);
/// let snap = store.snapshot()?;
/// assert_eq!(snap.counts("example.com")?.events, 1);
/// # Ok::<(), heatstore::Error>(())
/// ```
pub struct Store {
    pub(crate) db: Database,
    path: Option<PathBuf>,
    pub(crate) state: Mutex<WriterState>,
    pub(crate) cache: std::sync::Arc<crate::cache::Cache>,
}

/// What the single writer keeps between commits: per-site state and caches.
pub(crate) struct WriterState {
    pub sites: HashMap<String, SiteState>,
    pub normalizer: Normalizer,
    pub next_seq: Option<u64>,
    pub seal_rows: u64,
    pub import_batch: usize,
}

/// Sizes and counts of a whole store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Events stored (sealed and pending).
    pub events: u64,
    /// Sessions.
    pub sessions: u64,
    /// Sites.
    pub sites: u64,
    /// (site, day) partitions.
    pub partitions: u64,
    /// Sealed segments.
    pub segments: u64,
    /// Events committed but not sealed into a segment yet.
    pub pending_events: u64,
    /// Size of the store's file (0 in memory).
    pub file_bytes: u64,
}

impl StoreStats {
    /// Bytes on disk per stored event.
    pub fn bytes_per_event(&self) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.file_bytes as f64 / self.events as f64
        }
    }
}

/// Largest file whose zeroed header marks an interrupted creation.
const ZEROS_LIMIT: u64 = 1 << 20;

/// redb creates a file by writing its header without the 9-byte magic
/// number, syncing, and only then writing the magic: a small file whose
/// magic is still zeros while its header already names redb's page size
/// (4096, little-endian, at offset 12) is a creation that was cut short and
/// never held a committed transaction.
/// A file of only zeros (sized, nothing written yet) counts too.
fn head_is_zeros(f: &mut File) -> Result<bool> {
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let all_zeros = buf.iter().all(|&b| b == 0);
    let pre_magic = buf.get(..9).is_some_and(|m| m.iter().all(|&b| b == 0))
        && buf.get(12..16) == Some(4096u32.to_le_bytes().as_slice());
    Ok(all_zeros || pre_magic)
}

fn check_file(path: &Path) -> Result<()> {
    let mut head = [0u8; 4];
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::Io(e)),
    };
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    if len <= ZEROS_LIMIT && head_is_zeros(&mut f)? {
        // A store whose creation was killed before redb wrote its magic
        // holds nothing: it is set aside (never deleted) and recreated.
        drop(f);
        let mut aside = path.as_os_str().to_owned();
        aside.push(".interrupted");
        std::fs::rename(path, aside)?;
        return Ok(());
    }
    let mut f = File::open(path)?;
    if len < head.len() as u64 || f.read_exact(&mut head).is_err() || head != REDB_MAGIC {
        return Err(Error::NotAStore {
            detail: format!("{} does not start with a redb header", path.display()),
        });
    }
    Ok(())
}

fn open_error(e: redb::DatabaseError, path: &Path) -> Error {
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

impl Store {
    /// Opens the store at `path`, creating it when the file does not exist.
    ///
    /// Fails with [`Error::NotAStore`] when the file is something else, and
    /// [`Error::UnsupportedVersion`] when a newer heatstore wrote it.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path.as_ref(), true)
    }

    /// [`Store::open`] without verifying the file's page checksums first.
    ///
    /// Opening then costs no read of the whole file, but bytes altered
    /// since heatstore wrote them (disk corruption, a truncated copy) are
    /// trusted, and redb may panic on them instead of returning
    /// [`Error::Corrupt`]. Use it only for files this process wrote itself.
    pub fn open_unverified(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path.as_ref(), false)
    }

    fn open_with(path: &Path, verify: bool) -> Result<Store> {
        check_file(path)?;
        // A maintenance rewrite that died before its rename left this.
        let _ = std::fs::remove_file(crate::deletion::rewrite_path(path));
        let db = Database::builder()
            .set_check_integrity_on_open(verify)
            .create(path)
            .map_err(|e| open_error(e, path))?;
        Store::init(db, Some(path.to_owned()))
    }

    /// A store in memory, for tests and notebooks.
    pub fn in_memory() -> Result<Store> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Store::init(db, None)
    }

    fn init(db: Database, path: Option<PathBuf>) -> Result<Store> {
        if !Store::is_current(&db)? {
            Store::initialize(&db)?;
        }
        Ok(Store {
            db,
            path,
            state: Mutex::new(WriterState {
                sites: HashMap::new(),
                normalizer: Normalizer::new(ReferrerSources::builtin(), IngestMode::default()),
                next_seq: None,
                seal_rows: crate::writer::SEAL_ROWS,
                import_batch: crate::IMPORT_BATCH,
            }),
            cache: std::sync::Arc::new(crate::cache::Cache::new(crate::cache::DEFAULT_CACHE_BYTES)),
        })
    }

    /// Whether the file is a heatstore store of this version with every
    /// table: then opening it writes nothing.
    fn is_current(db: &Database) -> Result<bool> {
        let txn = db.begin_read()?;
        let tables = txn.list_tables()?.count();
        let Ok(meta) = txn.open_table(META) else {
            return Ok(false);
        };
        let magic = meta.get("magic")?.map(|g| g.value().to_vec());
        let version = meta.get("format_version")?.map(|g| g.value().to_vec());
        Ok(magic.as_deref() == Some(MAGIC)
            && version.as_deref() == Some(FORMAT_VERSION.to_le_bytes().as_slice())
            && tables >= TABLES)
    }

    /// Checks the header and creates what is missing, in one transaction.
    fn initialize(db: &Database) -> Result<()> {
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

    pub(crate) fn lock(&self) -> MutexGuard<'_, WriterState> {
        // A writer that panicked left no half-committed state in redb; its
        // caches are reloaded from the file.
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                g.sites.clear();
                g.next_seq = None;
                g
            }
        }
    }

    /// The writer. Only one exists at a time: this blocks while another
    /// thread holds one.
    pub fn writer(&self) -> Result<Writer<'_>> {
        Ok(Writer::new(self, self.lock()))
    }

    /// A consistent read-only view of everything committed so far.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::new(self.db.begin_read()?, std::sync::Arc::clone(&self.cache))
    }

    /// Sets how many pending rows of a partition make a commit seal it
    /// (default [`crate::SEAL_ROWS`]). Lower values keep reads over pending
    /// rows cheaper at the cost of more segment rewrites.
    pub fn set_seal_rows(&self, rows: u64) {
        self.lock().seal_rows = rows.max(1);
    }

    /// Sets how many events an import commits at a time (default
    /// [`crate::IMPORT_BATCH`]). An import holds about two batches of rows
    /// in memory: one being written while the next is buffered.
    pub fn set_import_batch(&self, events: usize) {
        self.lock().import_batch = events.max(1);
    }

    /// Sets the budget of the cache of decoded columns shared by snapshots
    /// (default 1 GiB; 0 turns it off).
    pub fn set_cache_bytes(&self, bytes: usize) {
        self.cache.set_budget(bytes);
    }

    /// The path of the store's file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Replaces the User-Agent-independent referrer table, e.g. with one
    /// extended by a Snowplow referer list.
    pub fn set_referrer_sources(&self, sources: ReferrerSources) {
        let mut state = self.lock();
        state.normalizer = Normalizer::new(sources, state.normalizer.mode());
    }

    /// Sets what ingest derives from raw hits from now on (default
    /// [`IngestMode::Normalize`]); the setting belongs to this open `Store`
    /// and is not stored in the file.
    ///
    /// ```
    /// use heatstore::{Event, EventKind, IngestMode, Store};
    /// let store = Store::in_memory()?;
    /// store.set_ingest_mode(IngestMode::Raw);
    /// let mut w = store.writer()?;
    /// let mut e = Event::new("a.com", 0, EventKind::Pageview, "s", "https://a.com/x?utm_source=y");
    /// (e.vw, e.vh, e.dh) = (Some(800), Some(600), Some(2000));
    /// w.append(&e)?;
    /// w.commit()?;
    /// drop(w);
    /// let pages = store.snapshot()?.pages("a.com", &Default::default(), None)?;
    /// assert_eq!(pages.rows[0].page, "https://a.com/x?utm_source=y");
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn set_ingest_mode(&self, mode: IngestMode) {
        let mut state = self.lock();
        if state.normalizer.mode() != mode {
            state.normalizer = Normalizer::new(state.normalizer.sources().clone(), mode);
        }
    }

    /// The settings of a site (defaults for a site not seen yet).
    pub fn site_settings(&self, site: &str) -> Result<SiteSettings> {
        let snap = self.snapshot()?;
        Ok(snap
            .site_record(site)?
            .map(|(_, r)| r.settings)
            .unwrap_or_default())
    }

    /// Sets a site's settings, creating the site if needed.
    pub fn set_site_settings(&self, site: &str, settings: SiteSettings) -> Result<()> {
        settings.validate()?;
        crate::event::validate_site(site)
            .map_err(|e| Error::InvalidArgument(format!("site {site:?}: {e}")))?;
        let mut state = self.lock();
        let txn = self.db.begin_write()?;
        {
            let mut sites = txn.open_table(SITES)?;
            let mut conf = txn.open_table(SITE_CONFIG)?;
            let found = sites.get(site)?.map(|g| g.value());
            let id = match found {
                Some(id) => id,
                None => {
                    let id = next_site_id(&sites)?;
                    sites.insert(site, id)?;
                    id
                }
            };
            let mut record = match conf.get(id)?.map(|g| g.value().to_vec()) {
                Some(b) => SiteRecord::decode(&b)?,
                None => SiteRecord::new(SiteSettings::default()),
            };
            record.settings = settings;
            conf.insert(id, record.encode().as_slice())?;
        }
        txn.commit()?;
        state.sites.remove(site);
        Ok(())
    }

    /// Counts and sizes of the whole store.
    pub fn stats(&self) -> Result<StoreStats> {
        let mut s = self.snapshot()?.stats()?;
        if let Some(p) = &self.path {
            s.file_bytes = std::fs::metadata(p)?.len();
        }
        Ok(s)
    }

    /// Compacts the file: returns freed pages to the file system and leaves
    /// no stale copy of them in it.
    pub fn compact(&mut self) -> Result<bool> {
        Ok(self.db.compact()?)
    }
}

pub(crate) fn next_site_id(sites: &impl ReadableTable<&'static str, u32>) -> Result<u32> {
    let mut max = 0u32;
    for entry in sites.iter()? {
        max = max.max(entry?.1.value());
    }
    max.checked_add(1)
        .ok_or_else(|| Error::InvalidArgument("too many sites".into()))
}

/// How many tables a current store has (META and those below).
const TABLES: usize = 16;

/// Fills the visitor index from the session rows.
fn index_visitors(txn: &redb::WriteTransaction) -> Result<()> {
    let sessions = txn.open_table(SESSIONS)?;
    let mut index = txn.open_table(VISITOR_SESSIONS)?;
    for e in sessions.iter()? {
        let (k, v) = e?;
        let (site, hash) = k.value();
        let row = crate::storage::sessions::SessionRow::decode(v.value())?;
        for visitor in row.index_visitors(hash) {
            index.insert((site, visitor, hash), ())?;
        }
    }
    Ok(())
}

fn create_tables(txn: &redb::WriteTransaction) -> Result<()> {
    txn.open_table(SITES)?;
    txn.open_table(SITE_CONFIG)?;
    txn.open_table(PARTITIONS)?;
    txn.open_table(SEGMENT_COLUMNS)?;
    txn.open_table(DICTIONARIES)?;
    txn.open_table(PENDING)?;
    txn.open_table(SESSIONS)?;
    txn.open_table(VISITOR_SESSIONS)?;
    txn.open_table(SESSION_BLOCKS)?;
    txn.open_table(SESSION_BLOCK_VERSIONS)?;
    txn.open_table(SALTS)?;
    txn.open_table(COOKIELESS)?;
    txn.open_table(OPT_OUTS)?;
    txn.open_table(DELETIONS)?;
    txn.open_table(DELETED_SESSIONS)?;
    Ok(())
}
