//! # heatstore
//!
//! An embedded, single-file, columnar analytics store for website
//! interaction events: pageviews, clicks, mouse moves, scrolls, masked
//! keystrokes, page loads, sessions, devices and referrers.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cache;
mod covered;
mod deletion;
mod error;
pub mod event;
pub mod gen;
mod guard;
mod import;
mod ingest;
pub mod normalize;
mod open;
pub mod query;
mod read;
mod recover;
mod seal;
mod site;
mod storage;
mod store;
mod writer;

pub use cache::DEFAULT_CACHE_BYTES;
pub use deletion::{
    DeletionRequest, DeletionTarget, MaintenanceReport, RequestStatus, StoredTarget,
};
pub use error::{Corrupt, Error, Result};
pub use event::{parse_rfc3339_ms, parse_time, Event, EventError, EventKind};
pub use import::{ImportError, ImportProgress, ImportReport, IMPORT_BATCH};
pub use ingest::{session_attrs_of, Dropped, IngestMode};
pub use open::{OpenOptions, Vfs, DEFAULT_WAIT};
pub use read::{SiteCounts, Snapshot, StoredEvent};
pub use recover::RecoverReport;
pub use site::{SiteSettings, MAX_PURGE_WINDOW_DAYS};
pub use storage::sessions::SessionAttrs;
pub use store::{Store, StoreStats, FORMAT_VERSION};
pub use writer::{Appended, CommitSummary, Writer, COOKIELESS_SESSION_GAP_MS, SEAL_ROWS};
