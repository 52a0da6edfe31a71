//! What every operation of a store works on: the open database, where it
//! lives, the writer's state and the cache of decoded data. `Store` and
//! `Snapshot` are the public faces of it; the layers below (write, read,
//! query, deletion, import) take a `&Core`.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};

use redb::WriteTransaction;

use foldhash::{HashMap, HashMapExt};

use crate::cache::Cache;
use crate::error::Result;
use crate::ingest::{IngestMode, Normalizer};
use crate::normalize::ReferrerSources;
use crate::storage::file::{Db, Location};
use crate::storage::journal::{Journal, Touched};
use crate::storage::sites::SiteRecord;
use crate::storage::tombstones::Covered;

/// A partition is sealed when this many of its rows are pending: one full
/// segment, so that a stream of small commits packs each row once.
pub const SEAL_ROWS: u64 = 65_536;

/// Most rows one commit seals (pending and new together; at least one
/// partition is sealed when any is due): a partition due beyond it keeps
/// its rows pending until a later commit. One import batch, so that what
/// sealing decodes stays within what an import holds anyway.
pub(crate) const SEAL_BUDGET_ROWS: u64 = IMPORT_BATCH as u64;

/// An import seals a partition once this many of its rows are pending
/// (or [`SEAL_ROWS`] if the store's threshold is lower). An import's
/// batches are large, so a partition seldom re-packs a partial segment,
/// and sealing early overlaps it with parsing the next batch: left to the
/// final `seal_all`, the partitions of a many-site import are sealed one
/// after another with nothing to overlap (4.4 against 6.5 s of a 16 s
/// import of 5M events over 200 sites).
pub(crate) const IMPORT_SEAL_ROWS: u64 = 16_384;

/// Events per commit during an import.
pub const IMPORT_BATCH: usize = 524_288;

/// An open store's state.
///
/// Locks, always taken in this order (never an earlier one while holding a
/// later one): `maintenance` (one maintenance run at a time), `state`
/// (the writer's state: held while one batch is built and committed, or
/// while a control operation commits), `commit` (held for the length of
/// one write transaction, and by the file rewrite while it swaps files).
pub(crate) struct Core {
    /// The database: replaced whole by the file rewrite. Readers take a
    /// clone of the `Arc` and keep reading the old file if it is swapped
    /// under them.
    db: RwLock<Arc<Db>>,
    pub location: Location,
    /// The most bytes redb's page cache takes per open database: this
    /// one's, and a rewrite's fresh one.
    pub page_cache: usize,
    pub state: Mutex<WriterState>,
    commit: Mutex<()>,
    /// What write transactions touched, while a rewrite catches up.
    pub journal: Journal,
    pub maintenance: Mutex<()>,
    /// A seal aside holds `maintenance` (not a maintenance run).
    pub sealing_aside: std::sync::atomic::AtomicBool,
    pub cache: Arc<Cache>,
    /// Batches built and being written on another thread (the ingest
    /// handle's and an import's), which hold the `state` lock no longer.
    pub writes: Arc<Gate>,
    /// Write transactions begun committing, and done (committed or
    /// failed): equal when none is committing. A view taken between two
    /// equal readings sees exactly the first `done` commits, so what is
    /// derived from the whole store's state (what pending requests hide)
    /// may be cached under that count.
    begun: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicU64,
    /// Sessions whose first pageview or visitor commits changed while a
    /// partition was being sealed aside (see [`SealLog`]).
    seal_log: Mutex<SealLog>,
}

/// The sessions (site, session) whose first pageview or visitor changed,
/// recorded by each write transaction after it committed (with the commit
/// lock held) while a seal aside is under way: what its segments, encoded
/// from an older snapshot, may have taken stale (`Core::seal_aside`).
/// Nothing is recorded while no seal aside runs.
#[derive(Debug, Default)]
struct SealLog {
    /// Seals aside under way.
    active: usize,
    /// The position of `entries[0]` since the log was first used.
    base: u64,
    entries: Vec<(u32, u64)>,
}

impl Drop for Core {
    fn drop(&mut self) {
        // Dropping a redb database commits its allocator state: on a
        // damaged file that can panic (and after redb panicked once, its
        // locks are poisoned and it will), outside any guard. So the
        // database is dropped inside one, an empty in-memory database
        // (made once per process) taking its place.
        static EMPTY: std::sync::OnceLock<Option<Arc<Db>>> = std::sync::OnceLock::new();
        let empty = EMPTY.get_or_init(|| {
            redb::Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .ok()
                .map(|d| Arc::new(Db::Rw(d)))
        });
        let slot = self.db.get_mut().unwrap_or_else(PoisonError::into_inner);
        match empty {
            Some(empty) => {
                let damaged = std::mem::replace(slot, Arc::clone(empty));
                let _ = crate::guard::guarded("closing a damaged store", || {
                    drop(damaged);
                    Ok(())
                });
            }
            // No placeholder: keep the damaged database open until the
            // process ends rather than panic.
            None => std::mem::forget(Arc::clone(slot)),
        }
    }
}

/// Counts the batches in flight (built under the `state` lock, written
/// after it was released), so that a control operation can wait for them:
/// one that changes what ingest drops (a deletion request, an opt-out, a
/// site's settings, a purge's removed sessions) takes the `state` lock,
/// which stops new batches, then waits here until those built before it
/// are written. Otherwise a batch built before an opt-out and written
/// after it would store the visitor's events after the opt-out returned.
#[derive(Default)]
pub(crate) struct Gate {
    count: Mutex<usize>,
    clear: Condvar,
}

/// One batch in flight: the gate counts it until this is dropped (after
/// its transaction committed or failed).
pub(crate) struct Passage(Arc<Gate>);

impl Drop for Passage {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(PoisonError::into_inner);
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.0.clear.notify_all();
        }
    }
}

impl Gate {
    /// Counts one more batch in flight; call with the `state` lock held.
    pub(crate) fn enter(self: &Arc<Gate>) -> Passage {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Passage(Arc::clone(self))
    }

    /// Waits until no batch is in flight; call with the `state` lock held
    /// (so that none starts meanwhile). Never waits for anything that
    /// needs the `state` lock: writing a batch takes only `commit`.
    pub(crate) fn wait_clear(&self) {
        let mut n = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *n > 0 {
            n = self.clear.wait(n).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A read transaction and the database it reads (see [`Core::read`]).
pub(crate) struct Read {
    // Declared first: dropped before the database.
    txn: redb::ReadTransaction,
    _db: Arc<Db>,
}

impl std::ops::Deref for Read {
    type Target = redb::ReadTransaction;
    fn deref(&self) -> &redb::ReadTransaction {
        &self.txn
    }
}

impl Read {
    /// The transaction, and the database to keep alive while it is used.
    pub(crate) fn into_parts(self) -> (redb::ReadTransaction, Arc<Db>) {
        (self.txn, self._db)
    }
}

/// What the single writer keeps between commits: per-site state and caches.
pub(crate) struct WriterState {
    pub sites: HashMap<String, SiteState>,
    pub normalizer: Normalizer,
    pub next_seq: Option<u64>,
    pub seal_rows: u64,
    /// Most rows one commit seals ([`SEAL_BUDGET_ROWS`]).
    pub seal_budget: u64,
    pub import_batch: usize,
    /// Batches being written on other threads (an import's), oldest first.
    pub in_flight: Vec<InFlight>,
    /// Emptied row vectors of committed batches, for the next batches'
    /// partitions: their memory is reused rather than mapped afresh.
    pub spare: Vec<Vec<crate::storage::row::Row>>,
}

/// The state of a batch being written on another thread: what batches
/// built meanwhile must see of it, since the store does not have it yet.
#[derive(Default)]
pub(crate) struct InFlight {
    /// The batch's first sequence number: which batch this is.
    pub id: u64,
    pub salts: std::collections::BTreeMap<i32, crate::normalize::IdKey>,
    pub cookieless: HashMap<(u32, u64), (i64, u64)>,
}

/// Per-site state the writer keeps.
pub(crate) struct SiteState {
    pub id: u32,
    pub record: SiteRecord,
    /// What deletion requests and opt-outs cover of incoming events.
    pub covered: Covered,
    /// Created by this writer and not committed yet.
    pub is_new: bool,
}

impl WriterState {
    /// The sites made and not committed yet, for a transaction that may
    /// create sites (see [`crate::storage::sites::Reserved`]).
    pub(crate) fn reserved(&self) -> crate::storage::sites::Reserved {
        crate::storage::sites::Reserved {
            sites: self
                .sites
                .iter()
                .filter(|(_, s)| s.is_new)
                .map(|(name, s)| (name.clone(), (s.id, s.record.clone())))
                .collect(),
        }
    }

    /// Forgets what may describe a batch that failed to commit: the
    /// stored sites' cached state (reloaded when next needed). Sites made
    /// and not committed stay: events already prepared for them hash
    /// their ids with their keys. The next sequence number stays too: a
    /// batch built meanwhile holds the numbers after the failed one's, and
    /// numbers never go back (a gap is harmless).
    pub(crate) fn forget_after_failure(&mut self) {
        self.sites.retain(|_, s| s.is_new);
    }
}

impl Core {
    pub(crate) fn init(db: Db, location: Location, page_cache: usize) -> Result<Core> {
        match &db {
            Db::Rw(d) => {
                if !crate::storage::meta::is_current(d)? {
                    crate::storage::meta::initialize(d)?;
                }
            }
            Db::Ro(d) => crate::storage::meta::check_read_only(d, location.path())?,
        }
        Ok(Core {
            db: RwLock::new(Arc::new(db)),
            location,
            page_cache,
            commit: Mutex::new(()),
            journal: Journal::default(),
            maintenance: Mutex::new(()),
            sealing_aside: Default::default(),
            state: Mutex::new(WriterState {
                sites: HashMap::new(),
                normalizer: Normalizer::new(ReferrerSources::builtin(), IngestMode::default()),
                next_seq: None,
                seal_rows: SEAL_ROWS,
                seal_budget: SEAL_BUDGET_ROWS,
                import_batch: IMPORT_BATCH,
                in_flight: Vec::new(),
                spare: Vec::new(),
            }),
            cache: Arc::new(crate::cache::Cache::new(crate::cache::DEFAULT_CACHE_BYTES)),
            writes: Arc::default(),
            begun: Default::default(),
            done: Default::default(),
            seal_log: Mutex::default(),
        })
    }

    /// The writer's state, once every batch built before is written: for
    /// a control operation that changes what ingest drops (see [`Gate`]).
    pub(crate) fn lock_settled(&self) -> MutexGuard<'_, WriterState> {
        let state = self.lock();
        self.writes.wait_clear();
        state
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, WriterState> {
        // A writer that panicked left no half-committed state in redb; its
        // caches are reloaded from the file.
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                g.forget_after_failure();
                g
            }
        }
    }
}

impl Core {
    /// The database as it is now (the rewrite may replace it later).
    pub(crate) fn db(&self) -> Arc<Db> {
        Arc::clone(&self.db.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A read transaction on the database as it is now, which keeps that
    /// database open for as long as it lives (a rewrite may swap in a new
    /// one meanwhile: this one goes on reading the old).
    pub(crate) fn read(&self) -> Result<Read> {
        let db = self.db();
        let txn = db.begin_read()?;
        Ok(Read { txn, _db: db })
    }

    /// Runs `f` in one write transaction and commits it, holding the
    /// commit lock throughout; `f` records in its [`Touched`] the keys it
    /// writes in the journaled tables. Must not be called with the commit
    /// lock held, and `f` must not take the writer's state lock.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction, &mut Touched) -> Result<T>,
    ) -> Result<T> {
        self.write_held(f).map(|(out, _)| out)
    }

    /// [`Core::write`], also returning how long the commit lock was held
    /// (how long other commits were kept waiting).
    pub(crate) fn write_held<T>(
        &self,
        f: impl FnOnce(&WriteTransaction, &mut Touched) -> Result<T>,
    ) -> Result<(T, std::time::Duration)> {
        let _commit = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
        let t0 = std::time::Instant::now();
        let db = self.db();
        let txn = db.rw()?.begin_write()?;
        let mut touched = Touched::new(self.journal.active());
        let out = f(&txn, &mut touched)?;
        use std::sync::atomic::Ordering::SeqCst;
        self.begun.fetch_add(1, SeqCst);
        let t1 = std::time::Instant::now();
        let committed = txn.commit();
        if std::env::var_os("HEATSTORE_TRACE").is_some() {
            eprintln!("transaction: body {:?} commit {:?}", t1 - t0, t1.elapsed());
        }
        self.done.fetch_add(1, SeqCst);
        committed?;
        let reattributed = std::mem::take(&mut touched.reattributed);
        if !reattributed.is_empty() {
            let mut log = self.seal_log.lock().unwrap_or_else(PoisonError::into_inner);
            if log.active > 0 {
                log.entries.extend(reattributed);
            }
        }
        self.journal.record(touched);
        Ok((out, t0.elapsed()))
    }

    /// Starts recording the sessions that commits re-attribute, for a
    /// seal aside about to take its snapshot: returns the position to
    /// read them from ([`Core::reattributed_since`]). Every commit that
    /// finished before this call is in a snapshot taken after it; every
    /// later one is recorded. End with [`Core::seal_log_end`].
    pub(crate) fn seal_log_begin(&self) -> u64 {
        let mut log = self.seal_log.lock().unwrap_or_else(PoisonError::into_inner);
        log.active += 1;
        log.base + log.entries.len() as u64
    }

    /// The sessions re-attributed by commits since `pos` (call inside a
    /// write transaction: the commit lock is held, so the list is whole).
    pub(crate) fn reattributed_since(&self, pos: u64) -> Vec<(u32, u64)> {
        let log = self.seal_log.lock().unwrap_or_else(PoisonError::into_inner);
        let from = pos.saturating_sub(log.base) as usize;
        log.entries
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// Ends what [`Core::seal_log_begin`] started; the last one to end
    /// forgets the entries.
    pub(crate) fn seal_log_end(&self) {
        let mut log = self.seal_log.lock().unwrap_or_else(PoisonError::into_inner);
        log.active = log.active.saturating_sub(1);
        if log.active == 0 {
            log.base += log.entries.len() as u64;
            log.entries.clear();
        }
    }

    /// Holds the commit lock: no write transaction runs until the guard
    /// is dropped (the rewrite's last round and its swap).
    pub(crate) fn pause_commits(&self) -> MutexGuard<'_, ()> {
        self.commit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the database (with the commit lock held: see
    /// [`Core::pause_commits`]).
    pub(crate) fn swap_db(&self, _paused: &MutexGuard<'_, ()>, db: Db) {
        use std::sync::atomic::Ordering::SeqCst;
        self.begun.fetch_add(1, SeqCst);
        *self.db.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(db);
        self.done.fetch_add(1, SeqCst);
    }

    /// The path of the store's file, `None` outside the file system.
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self.location.path()
    }

    /// A consistent view of everything committed so far.
    pub(crate) fn view(&self) -> Result<crate::read::View> {
        use std::sync::atomic::Ordering::SeqCst;
        let done = self.done.load(SeqCst);
        let (txn, db) = self.read()?.into_parts();
        let quiet = self.begun.load(SeqCst) == done;
        let mut view = crate::read::View::new(txn, db, Arc::clone(&self.cache))?;
        view.generation = quiet.then_some(done);
        Ok(view)
    }

    /// The settings of a site (defaults for a site not seen yet).
    pub(crate) fn site_settings(&self, site: &str) -> Result<crate::SiteSettings> {
        Ok(self
            .view()?
            .site_record(site)?
            .map(|(_, r)| r.settings)
            .unwrap_or_default())
    }

    /// Sets a site's settings, creating the site if needed.
    pub(crate) fn set_site_settings(
        &self,
        site: &str,
        settings: crate::SiteSettings,
    ) -> Result<()> {
        settings.validate()?;
        crate::event::validate_site(site)
            .map_err(|e| crate::Error::InvalidArgument(format!("site {site:?}: {e}")))?;
        let mut state = self.lock_settled();
        let reserved = state.reserved();
        self.write(|txn, _| crate::storage::sites::put_settings(txn, site, settings, &reserved))?;
        state.sites.remove(site);
        Ok(())
    }

    /// Counts and sizes of the whole store.
    pub(crate) fn stats(&self) -> Result<crate::query::StoreStats> {
        let mut s = self.view()?.stats()?;
        if let Some(p) = self.path() {
            s.file_bytes = std::fs::metadata(p)?.len();
        }
        Ok(s)
    }
}
