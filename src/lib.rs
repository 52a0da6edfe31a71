//! # heatstore
//!
//! An embedded, single-file, columnar analytics store for website
//! interaction events — pageviews, clicks, mouse moves, scrolls, masked
//! keystrokes, page loads, sessions, devices and referrers — that answers
//! the reports a heatmap product sells (click, move and scroll heatmaps,
//! element heatmaps, rage clicks, referrer and device breakdowns, pages,
//! time series, session lists and replay) and keeps its privacy promises:
//! no cross-site aggregation, no raw identifiers, no typed text, no IP
//! addresses, and deletion on request erased from the file's bytes within
//! a deadline, with an audit record.
//!
//! What every report counts, the event format and the privacy guarantees
//! are specified in `docs/semantics.md`; the file format byte by byte in
//! `docs/format.md`; the layers of the code in `docs/architecture.md`.
//!
//! # The types
//!
//! - [`Store`]: one open store (a redb file, or memory). [`OpenOptions`]
//!   chooses read-only, creation, how long to wait for another process and
//!   whether to verify the file first.
//! - [`Writer`] ([`Store::writer`]): appends [`Event`]s (validated and
//!   normalized as they come) and commits them, one redb transaction per
//!   commit. [`Store::import_ndjson`] streams Event NDJSON v1 on all cores.
//! - [`Snapshot`] ([`Store::snapshot`]): a consistent read-only view, one
//!   redb read transaction. Every report is a method of it, taking the same
//!   [`query::Filters`]; results are the typed, `serde::Serialize` structs
//!   of [`query`].
//! - [`DeletionTarget`] ([`Store::request_deletion`], [`Store::opt_out`]),
//!   [`DeletionRequest`] (the audit record), [`Store::maintenance`] (the
//!   erasure).
//! - [`SiteSettings`]: per-site privacy rules, retention and purge window.
//! - [`Error`]: every fallible operation's error; corrupt bytes are always
//!   [`Error::Corrupt`], naming what is corrupt.
//!
//! # A worked example
//!
//! ```
//! use heatstore::query::{Filters, HeatmapOptions, Interval, ReferrerBy};
//! use heatstore::{DeletionTarget, Event, EventKind, Store};
//!
//! let mut store = Store::in_memory()?; // Store::open("site.heat") for a file
//! let t = 1_790_812_800_000; // 2026-10-01T00:00:00Z
//!
//! // A visitor lands from a search engine and clicks the buy button.
//! let mut w = store.writer()?;
//! let mut pv = Event::new("shop.example", t, EventKind::Pageview, "s1", "https://shop.example/pricing");
//! pv.visitor = Some("v1".into());
//! pv.referrer = Some("https://www.google.com/search?q=shoes".into());
//! (pv.vw, pv.vh, pv.dh) = (Some(1280), Some(720), Some(3000));
//! w.append(&pv)?;
//! let mut click = Event::new("shop.example", t + 4_000, EventKind::Click, "s1", "/pricing");
//! (click.x, click.y, click.selector) = (Some(640), Some(1200), Some("#buy".into()));
//! w.append(&click)?;
//! w.commit()?; // durable
//! drop(w);
//!
//! // Or a whole file of Event NDJSON v1 lines.
//! let line = r#"{"site":"shop.example","ts":1790812860000,"type":"pageview","session":"s2","url":"/","vw":390,"vh":700,"dh":2000}"#;
//! let report = store.import_ndjson(line.as_bytes())?;
//! assert_eq!(report.accepted, 1);
//!
//! // Reports, on a consistent snapshot.
//! let snap = store.snapshot()?;
//! let day = Filters::range(t, t + 86_400_000);
//! let heat = snap.heatmap("shop.example", &day.clone().page("/pricing"), HeatmapOptions::default())?;
//! assert_eq!((heat.total, heat.cells[0].col, heat.cells[0].row), (1, 32, 75));
//! let refs = snap.referrers("shop.example", &day, ReferrerBy::Channel, None)?;
//! let channels: Vec<(&str, u64)> = refs.rows.iter().map(|r| (r.key.as_str(), r.sessions)).collect();
//! assert_eq!(channels, [("direct", 1), ("search", 1)]);
//! let series = snap.series("shop.example", &day, Interval::Day)?;
//! assert_eq!((series.rows[0].pageviews, series.rows[0].visitors), (2, 2));
//! drop(snap);
//!
//! // A visitor asks to be forgotten: hidden at once, erased by maintenance.
//! store.request_deletion("shop.example", DeletionTarget::Visitor("v1".into()))?;
//! assert_eq!(store.snapshot()?.counts("shop.example")?.events, 1);
//! let erased = store.maintenance(t + 86_400_000)?;
//! assert_eq!(erased.rows_removed, 2);
//! # Ok::<(), heatstore::Error>(())
//! ```
//!
//! # Concurrency
//!
//! [`Store`] is `Send + Sync`: share it as `Arc<Store>` between any number
//! of threads or async tasks. What may run at once:
//!
//! | operation | runs concurrently with | waits for |
//! |---|---|---|
//! | snapshots and every report ([`Snapshot`]) | everything | nothing; a snapshot never sees a later commit, and keeps reading the file it began on while maintenance swaps in a new one |
//! | [`IngestHandle::submit`] | everything | room in the queue only ([`IngestOptions::queue_events`]) |
//! | a commit (the ingest committer's group, [`Writer::commit`], one batch of [`Store::import_ndjson`]) | snapshots, submissions, maintenance's long phases | the batch being built or committed, if any (one at a time) |
//! | [`Writer::append`] | everything | a batch being built (it normalizes under the same lock, briefly) |
//! | [`Store::request_deletion`], [`Store::opt_out`], [`Store::set_site_settings`] | everything | at most one batch being built and committed |
//! | [`Store::maintenance`], [`Store::compact`] | snapshots, ingest, commits, control operations | another maintenance run (one at a time) |
//! | sealing aside (the ingest handle's sealer thread, [`IngestOptions::seal_aside`]) | snapshots, submissions, commits, control operations | its own short transaction (it encodes outside it); it skips a turn while maintenance runs |
//!
//! Holding a [`Writer`] locks nothing: a writer keeps its appended events
//! to itself until it commits, so any number may exist, on any threads,
//! and no call deadlocks on one. Maintenance pauses commits only for its
//! own short transactions and the file rewrite's last catch-up round and
//! swap ([`MaintenanceReport::longest_pause_us`]: 12–14 ms on a store of
//! 1M events, 34–48 ms on one of 10M, on a 2-core machine, with 8
//! submitters sending meanwhile).
//!
//! **Order.** Commits apply in the order they are made; the events of one
//! [`IngestHandle`] in submission order (those of one thread in the order
//! it submitted them). A control operation takes effect between commits:
//! once [`Store::opt_out`] or [`Store::request_deletion`] has returned,
//! every event submitted (or appended) afterwards that it covers is
//! dropped at ingest. Events submitted before it may be stored; they are
//! then hidden at once and erased with the rest of the visitor's data.
//!
//! **Processes.** A file is open for writing by one process, or read-only
//! by any number ([`Store::open_read_only`]); never both. An open that
//! finds the file held waits up to [`OpenOptions::wait`] (default
//! [`DEFAULT_WAIT`]) and then fails with [`Error::InUse`] naming the
//! holder where the platform tells; it never hangs and never touches the
//! file. A second process (a report job, a CLI) should query through the
//! process that holds the store, e.g. over its HTTP API, rather than open
//! the file.
//!
//! # Durability
//!
//! Every commit is one redb transaction, synced to disk before it returns:
//! a crash loses at most the events appended since the last commit, and
//! never leaves half a commit. Through the ingest handle, a submission is
//! durable when its [`Ticket::wait`] returns (or the awaited ticket
//! resolves): a crash loses only
//! submissions not yet acknowledged, each whole or not at all. Maintenance is a sequence of idempotent
//! transactions ending with a rewrite of the file swapped in by an atomic
//! rename; a run killed at any point leaves a store that opens, and the
//! next run finishes the job. Opening never moves or replaces an existing
//! file; [`Store::recover`] is the explicit way to set a damaged one aside.
//! A panic raised inside redb on a damaged page is turned into
//! [`Error::Corrupt`] at every public entry point.
//!
//! # Memory
//!
//! - The **cache of decoded data** shared by a store's snapshots holds at
//!   most [`DEFAULT_CACHE_BYTES`] (1 GiB) by default
//!   ([`Store::set_cache_bytes`]; 0 turns it off). It holds decoded columns
//!   (keyed by their segment's version), per-day aggregates (keyed by the
//!   partition's version) and the day's pending rows built into memory (one
//!   view per partition), so it is never stale; a query process's memory
//!   is bounded by it.
//! - An **ingest handle** holds at most [`IngestOptions::queue_events`]
//!   queued events (262,144 by default; beyond them submissions wait or
//!   fail with [`Error::QueueFull`]), plus the group being built and the
//!   one being written, each at most [`IngestOptions::max_events`]
//!   (16,384).
//! - An **import** holds about two batches of [`IMPORT_BATCH`] events at a
//!   time (one being written while the next is buffered; about 500 MB at
//!   the default batch on typical events): [`Store::set_import_batch`]
//!   trades memory against commits.
//! - **Maintenance** writes a fresh copy of the whole file beside it before
//!   the swap: it needs free disk space for the store's live data.
//! - **redb's page cache** (pages read, and pages written but not yet
//!   flushed) takes at most [`DEFAULT_PAGE_CACHE_BYTES`] (64 MiB) per
//!   open database ([`OpenOptions::page_cache_bytes`]). A rewrite
//!   (maintenance, compaction, the end of an import) has a second database
//!   open with the same bound. redb's own default is 1 GiB, which a
//!   process reaches on any file larger than that.
//! - So an import's memory does not grow with the store: 100M events
//!   through a pipe (`heatstore gen | heatstore import -`) stay at
//!   0.36–0.53 GB while importing (the two batches, the page cache, the
//!   normalizer's caches) and peak at 0.55 GB in the final compaction,
//!   which has a second page cache; at 10M events the peak is 0.49–0.51
//!   GB. (With a 128 MiB page cache the 100M peak was 0.69 GB; with
//!   redb's default of 1 GiB, 2.14–2.19 GB.)
//!
//! # Privacy, and how it is enforced
//!
//! - Every key of per-site data starts with the site's id: no report, scan
//!   or range read can cross sites.
//! - Session and visitor ids are stored only as keyed SipHash hashes under a
//!   secret key per site; IP addresses only enter a cookieless visitor hash
//!   under a daily salt that is destroyed after the next day; a line with
//!   `value` or `text` (typed text) is rejected.
//! - A deletion request is hidden from every read from the commit that
//!   records it; [`Store::maintenance`] rewrites the affected partitions
//!   with fresh dictionaries, removes session rows and index entries, then
//!   rewrites the whole file (redb does not zero freed pages). The deadline
//!   is at most [`MAX_PURGE_WINDOW_DAYS`] after the request
//!   ([`Store::overdue_requests`] reports what is late); every request keeps
//!   an audit record without personal data. The tests check erasure by
//!   scanning the file's bytes.
//! - Events that happened before a deletion request but arrive after it are
//!   dropped at ingest ([`Dropped::Deleted`]).
//!
//! # Quirks
//!
//! - Ranges are half-open, `[from, to)`, in ms UTC; days are UTC days.
//! - Bots are left out of every report unless [`query::Filters::include_bots`]
//!   is set or the device filter asks for them.
//! - A heatmap and scroll reach need a page ([`query::Filters::page`]).
//! - A session's visitor is the one its first event in `(ts, arrival)` order
//!   names, so one late event can change the visitor counted for a whole
//!   session (it is re-filed everywhere).
//! - The events of a session stored before an event tied it to a deleted
//!   visitor are stored, then erased by a request derived from the
//!   visitor's, rather than dropped.
//! - A long-lived [`Snapshot`] keeps the pages it reads alive: the file
//!   grows while it is open. Drop snapshots you are done with.
//! - A store that was not closed cleanly cannot be opened read-only until a
//!   writable open repairs it ([`Error::NeedsRepair`]).
//! - Session keys and id hashes are 64-bit: in JSON they are numbers above
//!   2^53, which JavaScript rounds. Use the 16-hex-digit session keys of
//!   [`query::SessionSummary::session`].
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod cache;
mod collect;
mod core;
mod deletion;
mod error;
pub mod event;
mod export;
#[cfg(feature = "gen")]
pub mod gen;
mod guard;
mod import;
mod ingest;
pub mod logs;
pub mod normalize;
pub mod query;
mod read;
mod recover;
#[cfg(feature = "png")]
pub mod render;
pub mod report;
mod schedule;
#[cfg(feature = "server")]
pub mod server;
mod snapshot;
mod storage;
mod store;
mod time;
mod write;

pub use cache::DEFAULT_CACHE_BYTES;
pub use collect::{IngestHandle, IngestOptions, IngestStats, Receipt, Ticket};
pub use deletion::{DeletionTarget, MaintenanceReport, MaintenanceStatus};
pub use error::{Corrupt, Error, Result};
pub use event::{Event, EventError, EventKind};
#[cfg(feature = "parquet")]
pub use export::PARQUET_ROWS_PER_FILE;
pub use export::{ExportProgress, ExportReport, EXPORT_PROGRESS_EVERY};
pub use import::{ImportError, ImportProgress, ImportReport, IMPORT_BATCH};
pub use ingest::{Dropped, IngestMode};
pub use normalize::SessionAttrs;
pub use query::{SiteCounts, StoreStats, StoredEvent};
pub use recover::RecoverReport;
pub use schedule::{ScheduleOptions, ScheduleStatus, Scheduler};
pub use snapshot::Snapshot;
pub use storage::file::{Vfs, DEFAULT_PAGE_CACHE_BYTES};
pub use storage::meta::MaintenanceRun;
pub use storage::meta::FORMAT_VERSION;
pub use storage::requests::{DeletionRequest, RequestStatus, StoredTarget};
pub use storage::sites::{SiteSettings, MAX_PURGE_WINDOW_DAYS};
pub use store::{OpenOptions, Store, DEFAULT_WAIT};
pub use time::{parse_rfc3339_ms, parse_time};
pub use write::{Appended, CommitSummary, Writer, COOKIELESS_SESSION_GAP_MS, SEAL_ROWS};
