//! The store: one redb file holding every site's events.

use foldhash::{HashMap, HashMapExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use redb::{Database, ReadableDatabase, ReadableTable, TableHandle};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ingest::{IngestMode, Normalizer};
use crate::normalize::ReferrerSources;
use crate::read::Snapshot;
use crate::storage::file::{Db, Location};
use crate::storage::schema::*;
use crate::storage::sites::next_site_id;
use crate::storage::sites::{SiteRecord, SiteSettings};
use crate::writer::{SiteState, Writer};

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
    pub(crate) db: Db,
    pub(crate) location: Location,
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
    /// Events stored (sealed and pending) and visible: not hidden by a
    /// deletion request that is not erased yet.
    pub events: u64,
    /// Events still stored but hidden by deletion requests not erased yet;
    /// `heatstore check` verifies `events + hidden_events`.
    pub hidden_events: u64,
    /// Deletion requests not erased yet (hidden, waiting for maintenance).
    pub pending_requests: u64,
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

impl Store {
    /// Opens the store at `path` for writing, creating it when the file
    /// does not exist. Waits up to [`crate::DEFAULT_WAIT`] for a store
    /// another process has open, then fails with [`Error::InUse`].
    ///
    /// Fails with [`Error::NotAStore`] when the file is something else,
    /// [`Error::Corrupt`] when it is damaged, and
    /// [`Error::UnsupportedVersion`] when a newer heatstore wrote it. An
    /// existing file is never moved, replaced or truncated
    /// ([`Store::recover`] is the explicit way to set a damaged one aside).
    /// For other choices (read-only, no creation, waiting) see
    /// [`crate::OpenOptions`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        crate::OpenOptions::new().open(path)
    }

    /// Opens an existing store read-only: nothing is written to its file,
    /// which may be on read-only media. Any number of processes may read a
    /// store at once, but not while one has it open for writing.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("s.heat");
    /// drop(heatstore::Store::open(&path)?);
    /// let store = heatstore::Store::open_read_only(&path)?;
    /// assert_eq!(store.stats()?.events, 0);
    /// assert!(matches!(store.writer(), Err(heatstore::Error::ReadOnly)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        crate::OpenOptions::new().read_only(true).open(path)
    }

    /// [`Store::open`] without verifying the file's page checksums first.
    ///
    /// Opening then costs no read of the whole file; pages altered since
    /// heatstore wrote them (disk corruption, a truncated copy) are found
    /// when they are read.
    pub fn open_unverified(path: impl AsRef<Path>) -> Result<Store> {
        crate::OpenOptions::new().verify(false).open(path)
    }

    /// A store in memory, for tests and notebooks.
    pub fn in_memory() -> Result<Store> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Store::init(Db::Rw(db), Location::Memory)
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        matches!(self.db, Db::Ro(_))
    }

    pub(crate) fn init(db: Db, location: Location) -> Result<Store> {
        match &db {
            Db::Rw(d) => {
                if !crate::storage::meta::is_current(d)? {
                    crate::storage::meta::initialize(d)?;
                }
            }
            Db::Ro(d) => crate::storage::meta::check_read_only(d, &location)?,
        }
        Ok(Store {
            db,
            location,
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
        self.db.rw()?;
        Ok(Writer::new(self, self.lock()))
    }

    /// A consistent read-only view of everything committed so far.
    pub fn snapshot(&self) -> Result<Snapshot> {
        crate::guard::guarded("using the store (snapshot)", || {
            Snapshot::new(self.db.begin_read()?, std::sync::Arc::clone(&self.cache))
        })
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
        self.location.path()
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
        crate::guard::guarded("using the store (site settings)", || {
            let snap = self.snapshot()?;
            Ok(snap
                .site_record(site)?
                .map(|(_, r)| r.settings)
                .unwrap_or_default())
        })
    }

    /// Sets a site's settings, creating the site if needed.
    pub fn set_site_settings(&self, site: &str, settings: SiteSettings) -> Result<()> {
        crate::guard::guarded("using the store (set site settings)", || {
            settings.validate()?;
            crate::event::validate_site(site)
                .map_err(|e| Error::InvalidArgument(format!("site {site:?}: {e}")))?;
            let mut state = self.lock();
            let txn = self.db.rw()?.begin_write()?;
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
        })
    }

    /// Counts and sizes of the whole store.
    pub fn stats(&self) -> Result<StoreStats> {
        crate::guard::guarded("using the store (stats)", || {
            let mut s = self.snapshot()?.stats()?;
            if let Some(p) = self.path() {
                s.file_bytes = std::fs::metadata(p)?.len();
            }
            Ok(s)
        })
    }

    /// Compacts the file: returns freed pages to the file system and leaves
    /// no stale copy of them in it.
    pub fn compact(&mut self) -> Result<bool> {
        crate::guard::guarded("using the store (compact)", || {
            Ok(self.db.rw_mut()?.compact()?)
        })
    }
}
