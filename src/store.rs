//! The store: the public face of one open heatstore file (or memory).
//!
//! Every public method of [`Store`] is declared here and delegates to the
//! layer that owns the operation (`core`, `write`, `deletion`, `import`,
//! `recover`), inside the guard that turns a panic raised in redb on a
//! damaged page into [`Error::Corrupt`] (`guard`).

use std::io::BufRead;
use std::path::Path;

use crate::collect::{IngestHandle, IngestOptions};
use crate::core::Core;
use crate::deletion::{DeletionTarget, MaintenanceReport, MaintenanceStatus};
use crate::error::{Error, Result};
use crate::guard::guarded;
use crate::import::{ImportProgress, ImportReport};
use crate::ingest::{IngestMode, Normalizer};
use crate::logs::{LogFormat, LogImportReport};
use crate::normalize::ReferrerSources;
use crate::query::StoreStats;
use crate::recover::RecoverReport;
use crate::schedule::{ScheduleOptions, Scheduler};
use crate::snapshot::Snapshot;
use std::sync::Arc;
use std::time::Duration;

use crate::storage::file::{
    builder, open_error, open_file_ro, open_file_rw, Boxed, Db, Location, Vfs,
    DEFAULT_PAGE_CACHE_BYTES,
};
use crate::storage::requests::DeletionRequest;
use crate::storage::sites::SiteSettings;
use crate::write::Writer;

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
    pub(crate) core: Arc<Core>,
}

impl Store {
    // ------------------------------------------------------------ opening

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

    /// The same as [`Store::open`], which no longer reads the whole file
    /// first (kept for code written when it did). For redb's check of every
    /// page at open, use [`crate::OpenOptions::verify`].
    pub fn open_unverified(path: impl AsRef<Path>) -> Result<Store> {
        crate::OpenOptions::new().verify(false).open(path)
    }

    /// A store in memory, for tests and notebooks.
    pub fn in_memory() -> Result<Store> {
        guarded("creating a store in memory", || {
            let db = builder(DEFAULT_PAGE_CACHE_BYTES)
                .create_with_backend(redb::backends::InMemoryBackend::new())?;
            Store::from_db(Db::Rw(db), Location::Memory, DEFAULT_PAGE_CACHE_BYTES)
        })
    }

    pub(crate) fn from_db(db: Db, location: Location, page_cache: usize) -> Result<Store> {
        Ok(Store {
            core: Arc::new(Core::init(db, location, page_cache)?),
        })
    }

    /// Recovers the store at `path` after damage: sets the file aside as
    /// `<name>.damaged-<ms since the epoch>`, copies every entry redb can
    /// read of it into a new store at `path`, and checks the result.
    ///
    /// Opening never does this on its own: a damaged file is an error
    /// until this is asked for. Fails with [`Error::InUse`] when another
    /// process has the file open, and leaves a file that opens and checks
    /// cleanly alone ([`Error::InvalidArgument`]).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("s.heat");
    /// drop(heatstore::Store::open(&path)?);
    /// // Zero the first bytes, as a failing disk might.
    /// let mut bytes = std::fs::read(&path)?;
    /// bytes[..9].fill(0);
    /// std::fs::write(&path, &bytes)?;
    /// assert!(matches!(heatstore::Store::open(&path), Err(heatstore::Error::Corrupt(_))));
    /// let report = heatstore::Store::recover(&path)?;
    /// assert!(!report.readable);
    /// assert!(report.set_aside.exists());
    /// heatstore::Store::open(&path)?; // a new, empty store
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recover(path: impl AsRef<Path>) -> Result<RecoverReport> {
        crate::recover::recover(path.as_ref())
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        matches!(*self.core.db(), Db::Ro(_))
    }

    /// The path of the store's file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.core.path()
    }

    // ---------------------------------------------------- reading, writing

    /// The writer. Only one exists at a time: this blocks while another
    /// thread holds one. [`Error::ReadOnly`] on a read-only store.
    pub fn writer(&self) -> Result<Writer<'_>> {
        self.core.writer()
    }

    /// An ingest handle with the default [`IngestOptions`]: a background
    /// committer that stores the events any number of threads submit, in
    /// group commits. The handle shares the store's file: it stays open
    /// until the store and every clone of the handle are dropped (or the
    /// handle is closed).
    ///
    /// ```
    /// use heatstore::{Event, EventKind, Store};
    /// let store = Store::in_memory()?;
    /// let ingest = store.ingest()?;
    /// let mut leave = Event::new("a.com", 1, EventKind::Leave, "s", "/");
    /// leave.duration_ms = Some(5_000);
    /// let mut bad = leave.clone();
    /// bad.site = "not a site".into();
    /// let receipt = ingest.submit_durable(vec![leave, bad])?;
    /// assert_eq!(receipt.stored, 1);
    /// assert_eq!(receipt.rejected[0].0, 1);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn ingest(&self) -> Result<IngestHandle> {
        self.ingest_with(IngestOptions::default())
    }

    /// [`Store::ingest`] with chosen options.
    pub fn ingest_with(&self, options: IngestOptions) -> Result<IngestHandle> {
        IngestHandle::start(Arc::clone(&self.core), options)
    }

    /// A consistent read-only view of everything committed so far.
    pub fn snapshot(&self) -> Result<Snapshot> {
        guarded("taking a snapshot", || {
            Ok(Snapshot {
                view: self.core.view()?,
            })
        })
    }

    /// Counts and sizes of the whole store.
    pub fn stats(&self) -> Result<StoreStats> {
        guarded("counting the store", || self.core.stats())
    }

    /// Imports Event NDJSON v1 from `reader`. Blank lines are skipped.
    ///
    /// Lines are decoded and normalized on worker threads (one per core),
    /// and buffered, in input order, on the calling thread; each full batch
    /// is committed on a thread of its own while the next is buffered.
    ///
    /// Commits rewrite parts of the file (copy on write), so a large import
    /// leaves free pages in it: [`Store::compact`] gives them back (about
    /// 18 → 11 bytes per event on the generator's default workload; the
    /// CLI's `import` does it).
    ///
    /// ```
    /// let store = heatstore::Store::in_memory()?;
    /// let ndjson = concat!(
    ///     r#"{"site":"a.com","ts":1,"type":"leave","session":"s","url":"/","duration_ms":5}"#, "\n",
    ///     "not json\n",
    /// );
    /// let report = store.import_ndjson(ndjson.as_bytes())?;
    /// assert_eq!((report.accepted, report.rejected), (1, 1));
    /// assert_eq!(report.errors[0].line, 2);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn import_ndjson<R: BufRead + Send>(&self, reader: R) -> Result<ImportReport> {
        self.import_ndjson_with_progress(reader, &mut |_| {})
    }

    /// [`Store::import_ndjson`], calling `progress` after every commit.
    pub fn import_ndjson_with_progress<R: BufRead + Send>(
        &self,
        reader: R,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        guarded("importing", || {
            self.core.import_ndjson_with_progress(reader, progress)
        })
    }

    /// Imports a web server's access log (Combined Log Format and its
    /// variants, see [`crate::logs`]) as the pageviews of `site`: one per
    /// request for a page (the page rule of [`crate::logs`]), with the
    /// referrer and User-Agent of the line and a cookieless visitor id
    /// derived from the client address and User-Agent under the day's salt
    /// (the address is never stored). Log times are read with their UTC
    /// offset. Lines that cannot be imported are counted and listed with
    /// their line numbers; they never abort the import.
    ///
    /// With [`LogFormat::Auto`] the format is detected from the first
    /// lines; a file none of whose first lines is a log line, and a log in
    /// the Common format (no User-Agent), are refused with
    /// [`Error::InvalidArgument`] before anything is stored. Events are
    /// committed [`Store::set_import_batch`] at a time, in the order of
    /// the file: an I/O error keeps what was read before it.
    ///
    /// ```
    /// use heatstore::logs::LogFormat;
    /// let store = heatstore::Store::in_memory()?;
    /// let log = concat!(
    ///     r#"203.0.113.9 - - [01/Oct/2026:09:00:00 +0200] "GET /pricing HTTP/1.1" 200 5120 "https://www.google.com/" "Mozilla/5.0 (X11; Linux x86_64)""#, "\n",
    ///     r#"203.0.113.9 - - [01/Oct/2026:09:00:01 +0200] "GET /app.css HTTP/1.1" 200 900 "-" "Mozilla/5.0 (X11; Linux x86_64)""#, "\n",
    ///     "not a log line\n",
    /// );
    /// let r = store.import_access_log(log.as_bytes(), LogFormat::Auto, "shop.example")?;
    /// assert_eq!((r.accepted, r.not_pages, r.rejected), (1, 1, 1));
    /// assert_eq!(r.errors[0].line, 3);
    /// let snap = store.snapshot()?;
    /// assert_eq!(snap.counts("shop.example")?.events, 1);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn import_access_log<R: BufRead>(
        &self,
        reader: R,
        format: LogFormat,
        site: &str,
    ) -> Result<LogImportReport> {
        self.import_access_log_with_progress(reader, format, site, &mut |_| {})
    }

    /// [`Store::import_access_log`], calling `progress` after every commit
    /// (its `bytes` is 0: count them on the reader).
    pub fn import_access_log_with_progress<R: BufRead>(
        &self,
        reader: R,
        format: LogFormat,
        site: &str,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<LogImportReport> {
        guarded("importing an access log", || {
            self.core.import_access_log(reader, format, site, progress)
        })
    }

    /// Imports an NDJSON export ([`Snapshot::export_ndjson`]): each line
    /// as its event, and on pageviews the session attributes the export
    /// carries (`derived`) instead of deriving them again, so that the
    /// store answers every report as the exported one (for a whole-site
    /// export; a time range cuts the sessions that cross its bounds).
    /// Malformed lines are listed with their numbers, as by
    /// [`Store::import_ndjson`].
    pub fn import_export<R: BufRead>(&self, reader: R) -> Result<ImportReport> {
        self.import_export_with_progress(reader, &mut |_| {})
    }

    /// [`Store::import_export`], calling `progress` after every commit.
    pub fn import_export_with_progress<R: BufRead>(
        &self,
        reader: R,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        guarded("importing an export", || {
            self.core.import_export(reader, progress)
        })
    }

    /// Compacts the file: rewrites it into a fresh one holding only live
    /// pages (no stale copy of any freed page stays in it) and swaps it in,
    /// while the store keeps serving: commits pause only for the rewrite's
    /// last catch-up round (see [`Store::maintenance`]).
    pub fn compact(&self) -> Result<bool> {
        guarded("compacting the store", || self.core.compact())
    }

    // ---------------------------------------------------------- settings

    /// Sets how many pending rows of a partition make a commit seal it
    /// (default [`crate::SEAL_ROWS`]). Lower values keep reads over pending
    /// rows cheaper at the cost of more segment rewrites.
    pub fn set_seal_rows(&self, rows: u64) {
        self.core.lock().seal_rows = rows.max(1);
    }

    /// Sets how many events an import commits at a time (default
    /// [`crate::IMPORT_BATCH`]). An import holds about two batches of rows
    /// in memory: one being written while the next is buffered.
    pub fn set_import_batch(&self, events: usize) {
        self.core.lock().import_batch = events.max(1);
    }

    /// Sets the budget of the cache of decoded columns shared by snapshots
    /// (default 1 GiB; 0 turns it off).
    pub fn set_cache_bytes(&self, bytes: usize) {
        self.core.cache.set_budget(bytes);
    }

    /// Replaces the User-Agent-independent referrer table, e.g. with one
    /// extended by a Snowplow referer list.
    pub fn set_referrer_sources(&self, sources: ReferrerSources) {
        let mut state = self.core.lock();
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
        let mut state = self.core.lock();
        if state.normalizer.mode() != mode {
            state.normalizer = Normalizer::new(state.normalizer.sources().clone(), mode);
        }
    }

    /// The settings of a site (defaults for a site not seen yet).
    pub fn site_settings(&self, site: &str) -> Result<SiteSettings> {
        guarded("reading site settings", || self.core.site_settings(site))
    }

    /// Sets a site's settings, creating the site if needed.
    pub fn set_site_settings(&self, site: &str, settings: SiteSettings) -> Result<()> {
        guarded("writing site settings", || {
            self.core.set_site_settings(site, settings)
        })
    }

    // ------------------------------------------------- deletion, erasure

    /// Records a deletion request, hides its data from every read at once,
    /// and returns the request id. The deadline is now + the site's purge
    /// window. A site the store has never seen (no event, no settings) is
    /// [`Error::UnknownSite`].
    ///
    /// ```
    /// use heatstore::{DeletionTarget, SiteSettings, Store};
    /// let store = Store::in_memory()?;
    /// store.set_site_settings("example.com", SiteSettings::default())?;
    /// let id = store.request_deletion("example.com", DeletionTarget::Visitor("v-123".into()))?;
    /// assert_eq!(store.deletion_requests()?[0].id, id);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn request_deletion(&self, site: &str, target: DeletionTarget) -> Result<u64> {
        self.request_deletion_at(site, target, crate::time::now_ms())
    }

    /// [`Store::request_deletion`] as if asked at `now` (ms since the epoch).
    pub fn request_deletion_at(&self, site: &str, target: DeletionTarget, now: i64) -> Result<u64> {
        guarded("recording a deletion request", || {
            self.core.request_deletion_at(site, target, now)
        })
    }

    /// Opts a visitor out: their future events are dropped at ingest and a
    /// deletion request is filed for their past ones. Returns its id.
    pub fn opt_out(&self, site: &str, visitor: &str) -> Result<u64> {
        guarded("recording an opt-out", || self.core.opt_out(site, visitor))
    }

    /// Starts the maintenance scheduler: a background thread that runs
    /// [`Store::maintenance`] whenever it is due (before the earliest
    /// deletion deadline, daily batches of requests, daily retention; see
    /// [`ScheduleOptions`]), so erasure happens without an operator. It
    /// runs until [`Scheduler::stop`] or until it is dropped, and keeps the
    /// store's file open meanwhile.
    pub fn start_maintenance(&self, options: ScheduleOptions) -> Result<Scheduler> {
        Scheduler::start(Arc::clone(&self.core), options)
    }

    /// Where erasure stands at `now` (ms since the epoch): the last
    /// maintenance run (kept in the file), pending and overdue requests,
    /// and when the default schedule ([`ScheduleOptions::default`]) would
    /// run next.
    ///
    /// ```
    /// use heatstore::{DeletionTarget, SiteSettings, Store};
    /// let store = Store::in_memory()?;
    /// store.set_site_settings("a.com", SiteSettings::default())?;
    /// store.request_deletion_at("a.com", DeletionTarget::Visitor("v".into()), 1_000)?;
    /// let s = store.maintenance_status(2_000)?;
    /// assert_eq!((s.pending, s.last_run), (1, None));
    /// assert_eq!(s.next_due, Some(1_000 + 86_400_000)); // a day after the request
    /// store.maintenance(2_000)?;
    /// let s = store.maintenance_status(3_000)?;
    /// assert_eq!((s.pending, s.next_due), (0, None));
    /// assert_eq!(s.last_run.unwrap().erased, 1);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn maintenance_status(&self, now: i64) -> Result<MaintenanceStatus> {
        self.maintenance_status_with(now, &ScheduleOptions::default())
    }

    /// [`Store::maintenance_status`] for a schedule of `options`.
    pub fn maintenance_status_with(
        &self,
        now: i64,
        options: &ScheduleOptions,
    ) -> Result<MaintenanceStatus> {
        crate::schedule::status_of(&self.core, now, options)
    }

    /// Every deletion request with its status and deadline, oldest first.
    pub fn deletion_requests(&self) -> Result<Vec<DeletionRequest>> {
        guarded("reading deletion requests", || {
            self.core.deletion_requests()
        })
    }

    /// Requests past their deadline at `now` and not erased yet.
    pub fn overdue_requests(&self, now: i64) -> Result<Vec<DeletionRequest>> {
        guarded("reading deletion requests", || {
            self.core.overdue_requests(now)
        })
    }

    /// Carries out every pending deletion request and the sites' retention
    /// at `now`, then rewrites the file so no freed page keeps erased bytes.
    /// Idempotent; safe to kill at any point (the next run finishes).
    ///
    /// Runs while the store keeps serving: snapshots taken before, during
    /// and after stay consistent, writers and the ingest handle keep
    /// committing, and commits wait only for maintenance's own short
    /// transactions and the rewrite's final pause
    /// ([`MaintenanceReport::longest_pause_us`]). One run at a time: a
    /// second call waits for the first to end.
    pub fn maintenance(&self, now: i64) -> Result<MaintenanceReport> {
        guarded("running maintenance", || self.core.maintenance(now))
    }
}

// ------------------------------------------------------------ options

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
    page_cache: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Writable, created when missing, waiting up to [`DEFAULT_WAIT`] for
    /// another process, nothing read up front (opening costs the same
    /// whatever the file's size).
    pub fn new() -> OpenOptions {
        OpenOptions {
            read_only: false,
            create: true,
            wait: DEFAULT_WAIT,
            verify: false,
            page_cache: DEFAULT_PAGE_CACHE_BYTES,
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
    /// integrity check), which reads the whole file: about a second per GB.
    /// Without it (the default), what a read needs is checked when it is
    /// read: every segment column and dictionary carries its CRC-32, and
    /// every decoder checks its bytes, so damage is [`Error::Corrupt`]
    /// then, never a panic or a silently altered column
    /// (`docs/format.md` §6). [`crate::Snapshot::check`] (`heatstore
    /// check`) verifies everything. Default: `false`.
    pub fn verify(&mut self, verify: bool) -> &mut OpenOptions {
        self.verify = verify;
        self
    }

    /// The most memory redb's page cache (pages read, and pages written
    /// but not yet flushed) takes for this store. A rewrite (maintenance,
    /// compaction, the end of an import) has a second database open with
    /// the same bound. Larger values keep more of a large file's pages in
    /// the process; below them the operating system's page cache still
    /// holds the file. Default: [`DEFAULT_PAGE_CACHE_BYTES`] (64 MiB).
    pub fn page_cache_bytes(&mut self, bytes: usize) -> &mut OpenOptions {
        self.page_cache = bytes;
        self
    }

    /// Opens the store at `path`.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<crate::Store> {
        crate::guard::guarded("opening the store", || {
            let path = path.as_ref();
            let db = if self.read_only {
                Db::Ro(open_file_ro(path, self.wait, self.page_cache)?)
            } else {
                Db::Rw(open_file_rw(
                    path,
                    self.create,
                    self.verify,
                    self.wait,
                    self.page_cache,
                )?)
            };
            Store::from_db(db, Location::File(path.to_owned()), self.page_cache)
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
                    builder(self.page_cache)
                        .open_read_only_with_backend(backend)
                        .map_err(|e| open_error(e, Path::new(name)))?,
                )
            } else {
                Db::Rw(
                    builder(self.page_cache)
                        .set_check_integrity_on_open(self.verify)
                        .create_with_backend(backend)
                        .map_err(|e| open_error(e, Path::new(name)))?,
                )
            };
            Store::from_db(db, Location::Vfs(vfs, name.to_owned()), self.page_cache)
        })
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path())
            .field("read_only", &self.is_read_only())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::gen::{GenConfig, Generator};
    use crate::query::{Filters, Interval, ReferrerBy};
    use crate::Store;

    /// Reports over whole days (so from aggregates), as comparable values.
    fn reports(store: &Store, site: &str, f: &Filters) -> Vec<String> {
        let snap = store.snapshot().unwrap();
        vec![
            format!("{:?}", snap.pages(site, f, None).unwrap()),
            format!("{:?}", snap.series(site, f, Interval::Day).unwrap()),
            format!("{:?}", snap.series(site, f, Interval::Hour).unwrap()),
            format!(
                "{:?}",
                snap.referrers(site, f, ReferrerBy::Host, None).unwrap()
            ),
        ]
    }

    /// Appends the generator's events through a writer, committed and
    /// every partition sealed.
    fn append_sealed(store: &Store, cfg: &GenConfig) {
        let mut w = store.writer().unwrap();
        for e in Generator::new(cfg.clone()) {
            w.append(&e).unwrap();
        }
        w.commit().unwrap();
        w.seal_all().unwrap();
    }

    #[test]
    fn reports_stay_exact_across_a_new_numbering() {
        let cfg = GenConfig {
            events: 20_000,
            days: 6,
            ..GenConfig::default()
        };
        let day = 86_400_000;
        let store = Store::in_memory().unwrap();
        append_sealed(&store, &cfg);
        let site = &cfg.sites[0];
        let all = Filters::range(cfg.start_ms, cfg.start_ms + 6 * day);
        let before = reports(&store, site, &all);
        assert!(before[0].contains("visitors: "));
        store.core.cache.visitors.restart();
        // One day evicted and numbered afresh: its numbers now collide with
        // the old generation's, which the other days' cached aggregates
        // hold; a report must not unite the two.
        let two = i32::try_from((cfg.start_ms + 2 * day).div_euclid(day)).unwrap();
        store.core.cache.evict_day(two);
        let one = Filters::range(cfg.start_ms + 2 * day, cfg.start_ms + 3 * day);
        reports(&store, site, &one);
        assert_eq!(reports(&store, site, &all), before);
    }

    /// A store whose page cache holds almost nothing (64 KiB) answers as
    /// one with the default cache, through sealing, compaction, a purge
    /// and reopening; the bound reaches the rewrite's fresh database.
    #[test]
    fn a_tiny_page_cache_changes_no_answer() {
        let cfg = GenConfig {
            events: 20_000,
            days: 4,
            ..GenConfig::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.heat");
        let tiny = crate::OpenOptions::new()
            .page_cache_bytes(64 << 10)
            .open(&path)
            .unwrap();
        assert_eq!(tiny.core.page_cache, 64 << 10);
        let wide = Store::in_memory().unwrap();
        let site = cfg.sites[0].clone();
        let visitor = Generator::new(cfg.clone()).find_map(|e| e.visitor).unwrap();
        for store in [&tiny, &wide] {
            append_sealed(store, &cfg);
            store.compact().unwrap();
            store
                .request_deletion(&site, DeletionTarget::Visitor(visitor.clone()))
                .unwrap();
            store.maintenance(now_ms()).unwrap();
        }
        let all = Filters::range(cfg.start_ms, cfg.start_ms + 4 * 86_400_000);
        let expected = reports(&wide, &site, &all);
        assert_eq!(reports(&tiny, &site, &all), expected);
        assert_eq!(tiny.core.page_cache, 64 << 10);
        drop(tiny);
        let reopened = crate::OpenOptions::new()
            .page_cache_bytes(64 << 10)
            .open(&path)
            .unwrap();
        assert_eq!(reports(&reopened, &site, &all), expected);
        reopened.snapshot().unwrap().check().unwrap();
    }

    use crate::storage::schema::{for_each_table, table_names, TableVisitor, TABLE_COUNT};
    use crate::time::now_ms;
    use crate::{DeletionTarget, Event, EventKind};

    /// Entries per table, by name.
    fn entries(db: &crate::storage::file::Db) -> std::collections::BTreeMap<String, u64> {
        struct Count<'t>(
            &'t redb::ReadTransaction,
            std::collections::BTreeMap<String, u64>,
        );
        impl TableVisitor for Count<'_> {
            fn visit<K, V>(
                &mut self,
                def: redb::TableDefinition<'static, K, V>,
            ) -> crate::Result<()>
            where
                K: redb::Key + 'static,
                V: redb::Value + 'static,
                for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
                for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
            {
                use redb::{ReadableTableMetadata, TableHandle};
                let n = self.0.open_table(def)?.len()?;
                self.1.insert(def.name().to_owned(), n);
                Ok(())
            }
        }
        let txn = db.begin_read().unwrap();
        let mut c = Count(&txn, Default::default());
        for_each_table(&mut c).unwrap();
        c.1
    }

    /// The store's session count (read from the table's length when
    /// nothing is hidden) equals the sites' counts, with and without a
    /// pending request.
    #[test]
    fn store_sessions_are_the_sum_of_the_sites() {
        let store = Store::in_memory().unwrap();
        let mut w = store.writer().unwrap();
        let now = now_ms();
        for (i, site) in ["a.example", "b.example", "a.example"].iter().enumerate() {
            for s in 0..(3 + i) {
                let mut e = Event::new(
                    site,
                    now - 1000,
                    EventKind::Pageview,
                    &format!("s{i}-{s}"),
                    "/",
                );
                (e.vw, e.vh, e.dh) = (Some(800), Some(600), Some(2000));
                w.append(&e).unwrap();
            }
        }
        w.commit().unwrap();
        drop(w);
        let sum = |st: &Store| {
            let snap = st.snapshot().unwrap();
            ["a.example", "b.example"]
                .iter()
                .map(|s| snap.counts(s).unwrap().sessions)
                .sum::<u64>()
        };
        assert_eq!(store.stats().unwrap().sessions, 12);
        assert_eq!(sum(&store), 12);
        store
            .request_deletion("a.example", DeletionTarget::Session("s0-1".into()))
            .unwrap();
        assert_eq!(store.stats().unwrap().sessions, 11);
        assert_eq!(sum(&store), 11);
    }

    /// `compact` returns what many small commits left free to the file
    /// system. (That the rewrite's fresh file is compacted too is measured,
    /// not tested here: 1M events, 17.8 → 10.5 bytes/event.)
    #[test]
    fn compact_shrinks_a_file_of_many_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.heat");
        let store = Store::open(&path).unwrap();
        store.set_seal_rows(500);
        let now = now_ms();
        for c in 0..200 {
            let mut w = store.writer().unwrap();
            for i in 0..50 {
                let mut e = Event::new(
                    "c.example",
                    now - 86_400_000 + c * 1000 + i,
                    EventKind::Click,
                    &format!("s{c}"),
                    &format!("/page/{}", i % 7),
                );
                (e.x, e.y, e.vw) = (Some(i as u32), Some(c as u32), Some(1280));
                w.append(&e).unwrap();
            }
            w.commit().unwrap();
        }
        store.writer().unwrap().seal_all().unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        store.compact().unwrap();
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after * 10 < before * 8, "{before} -> {after} bytes");
        assert_eq!(
            store
                .snapshot()
                .unwrap()
                .counts("c.example")
                .unwrap()
                .events,
            10_000
        );
    }

    /// A commit that makes many partitions due seals them only up to its
    /// budget (the first one always); the others stay pending, are sealed
    /// by the next commits that touch them, and no row is lost or doubled.
    #[test]
    fn a_commit_seals_within_its_budget() {
        let store = Store::in_memory().unwrap();
        store.set_seal_rows(100);
        store.core.lock().seal_budget = 250;
        let day0 = now_ms() - 10 * 86_400_000;
        // Partition `d` of commit `c`: 120 clicks (one commit makes every
        // one of the 4 partitions due).
        let commit = |c: i64| {
            let mut w = store.writer().unwrap();
            for d in 0..4 {
                for i in 0..120 {
                    let ts = day0 + d * 86_400_000 + c * 1000 + i;
                    let mut e =
                        Event::new("b.example", ts, EventKind::Click, &format!("s{d}"), "/");
                    (e.x, e.y, e.vw) = (Some(i as u32), Some(d as u32), Some(1280));
                    w.append(&e).unwrap();
                }
            }
            w.commit().unwrap();
        };
        let stats = |store: &Store| store.snapshot().unwrap().stats().unwrap();
        commit(0);
        // 120 + 120 ≤ 250: two partitions sealed, two left pending.
        let s = stats(&store);
        assert_eq!((s.events, s.pending_events, s.segments), (480, 240, 2));
        commit(1);
        // The two pending ones (240 rows each now) first: the first of
        // them alone is over the budget, and is sealed as the first.
        let s = stats(&store);
        assert_eq!(s.events, 960);
        assert!(s.pending_events < 720, "{s:?}");
        store.writer().unwrap().seal_all().unwrap();
        let s = stats(&store);
        assert_eq!((s.events, s.pending_events), (960, 0));
        for d in 0..4 {
            let from = day0 + d * 86_400_000;
            let q = crate::query::Filters {
                from: Some(from),
                to: Some(from + 86_400_000),
                page: Some("/".into()),
                ..crate::query::Filters::default()
            };
            let h = store
                .snapshot()
                .unwrap()
                .heatmap("b.example", &q, crate::query::HeatmapOptions::default())
                .unwrap();
            assert_eq!(h.total + h.skipped, 240, "day {d}");
        }
    }

    /// The file rewrite carries every table and every entry: a table
    /// missing from the one list would fail here, not vanish at the next
    /// maintenance.
    #[test]
    fn the_rewrite_carries_every_table() {
        let store = Store::in_memory().unwrap();
        let mut w = store.writer().unwrap();
        let now = now_ms();
        for (i, session) in ["a", "b", "c"].iter().enumerate() {
            let mut e = Event::new(
                "t.example",
                now - 1000 + i as i64,
                EventKind::Pageview,
                session,
                "/",
            );
            e.visitor = Some(format!("v-{session}"));
            (e.vw, e.vh, e.dh) = (Some(800), Some(600), Some(2000));
            w.append(&e).unwrap();
        }
        // A cookieless visitor (salts, cookieless sessions).
        let mut e = Event::new("t.example", now, EventKind::Pageview, "x", "/");
        e.session = None;
        e.ip = Some("192.0.2.1".into());
        e.ua = Some("Mozilla/5.0".into());
        (e.vw, e.vh, e.dh) = (Some(800), Some(600), Some(2000));
        w.append(&e).unwrap();
        w.commit().unwrap();
        w.seal_all().unwrap();
        drop(w);
        store
            .request_deletion("t.example", DeletionTarget::Session("b".into()))
            .unwrap();
        store.maintenance(now).unwrap(); // deleted_sessions
        let mut w = store.writer().unwrap();
        let mut e = Event::new("t.example", now, EventKind::Click, "a", "/");
        (e.x, e.y) = (Some(1), Some(2));
        w.append(&e).unwrap();
        w.commit().unwrap(); // pending rows
        drop(w);
        store.opt_out("t.example", "v-c").unwrap(); // opt_outs, a pending request
        let mut w = store.writer().unwrap();
        let mut e = Event::new("t.example", now, EventKind::Pageview, "d", "/");
        (e.vw, e.vh, e.dh) = (Some(800), Some(600), Some(2000));
        w.append(&e).unwrap();
        w.commit().unwrap(); // a session block tail
        drop(w);
        {
            // A partition's dictionary as format 3 kept it (this version
            // packs them into segment_columns).
            let db = store.core.db();
            let txn = db.rw().unwrap().begin_write().unwrap();
            txn.open_table(crate::storage::schema::DICTIONARIES)
                .unwrap()
                .insert((0u32, 1i32, 0u8), [0u8].as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let before = entries(&store.core.db());
        assert_eq!(before.len(), TABLE_COUNT);
        assert_eq!(before.keys().cloned().collect::<Vec<_>>(), {
            let mut n = table_names();
            n.sort();
            n
        });
        for (table, n) in &before {
            assert!(*n > 0, "the test fills every table: {table} is empty");
        }
        store.core.compact().unwrap();
        assert_eq!(entries(&store.core.db()), before);
        let listed: usize = store
            .core
            .db()
            .begin_read()
            .unwrap()
            .list_tables()
            .unwrap()
            .count();
        assert_eq!(listed, TABLE_COUNT);
    }
}
