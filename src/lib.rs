//! # heatstore
//!
//! An embedded, single-file, columnar analytics store for website
//! interaction events: pageviews, clicks, mouse moves, scrolls, masked
//! keystrokes, page loads, sessions, devices and referrers.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod cache;
mod core;
mod deletion;
mod error;
pub mod event;
#[cfg(feature = "gen")]
pub mod gen;
mod guard;
mod import;
mod ingest;
pub mod normalize;
pub mod query;
mod read;
mod recover;
mod snapshot;
mod storage;
mod store;
mod time;
mod write;

pub use cache::DEFAULT_CACHE_BYTES;
pub use deletion::{DeletionTarget, MaintenanceReport};
pub use error::{Corrupt, Error, Result};
pub use event::{Event, EventError, EventKind};
pub use import::{ImportError, ImportProgress, ImportReport, IMPORT_BATCH};
pub use ingest::{Dropped, IngestMode};
pub use normalize::SessionAttrs;
pub use query::{SiteCounts, StoreStats, StoredEvent};
pub use recover::RecoverReport;
pub use snapshot::Snapshot;
pub use storage::file::Vfs;
pub use storage::meta::FORMAT_VERSION;
pub use storage::requests::{DeletionRequest, RequestStatus, StoredTarget};
pub use storage::sites::{SiteSettings, MAX_PURGE_WINDOW_DAYS};
pub use store::{OpenOptions, Store, DEFAULT_WAIT};
pub use time::{parse_rfc3339_ms, parse_time};
pub use write::{Appended, CommitSummary, Writer, COOKIELESS_SESSION_GAP_MS, SEAL_ROWS};
