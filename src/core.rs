//! What every operation of a store works on: the open database, where it
//! lives, the writer's state and the cache of decoded data. `Store` and
//! `Snapshot` are the public faces of it; the layers below (write, read,
//! query, deletion, import) take a `&Core`.

use std::sync::{Mutex, MutexGuard};

use foldhash::{HashMap, HashMapExt};

use crate::cache::Cache;
use crate::error::Result;
use crate::ingest::{IngestMode, Normalizer};
use crate::normalize::ReferrerSources;
use crate::storage::file::{Db, Location};
use crate::storage::sites::SiteRecord;
use crate::storage::tombstones::Covered;

/// A partition is sealed when this many of its rows are pending.
pub const SEAL_ROWS: u64 = 16_384;

/// Events per commit during an import.
pub const IMPORT_BATCH: usize = 524_288;

/// An open store's state.
pub(crate) struct Core {
    pub db: Db,
    pub location: Location,
    pub state: Mutex<WriterState>,
    pub cache: std::sync::Arc<Cache>,
}

/// What the single writer keeps between commits: per-site state and caches.
pub(crate) struct WriterState {
    pub sites: HashMap<String, SiteState>,
    pub normalizer: Normalizer,
    pub next_seq: Option<u64>,
    pub seal_rows: u64,
    pub import_batch: usize,
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

impl Core {
    pub(crate) fn init(db: Db, location: Location) -> Result<Core> {
        match &db {
            Db::Rw(d) => {
                if !crate::storage::meta::is_current(d)? {
                    crate::storage::meta::initialize(d)?;
                }
            }
            Db::Ro(d) => crate::storage::meta::check_read_only(d, location.path())?,
        }
        Ok(Core {
            db,
            location,
            state: Mutex::new(WriterState {
                sites: HashMap::new(),
                normalizer: Normalizer::new(ReferrerSources::builtin(), IngestMode::default()),
                next_seq: None,
                seal_rows: SEAL_ROWS,
                import_batch: IMPORT_BATCH,
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
}

impl Core {
    /// The path of the store's file, `None` outside the file system.
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self.location.path()
    }

    /// A consistent view of everything committed so far.
    pub(crate) fn view(&self) -> Result<crate::read::View> {
        crate::read::View::new(self.db.begin_read()?, std::sync::Arc::clone(&self.cache))
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
        let mut state = self.lock();
        let txn = self.db.rw()?.begin_write()?;
        crate::storage::sites::put_settings(&txn, site, settings)?;
        txn.commit()?;
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
