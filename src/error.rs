//! Errors.
//!
//! Every fallible operation returns [`Error`]. Its variants say what went
//! wrong and, where there is something to do, what to do. Corrupt bytes on
//! disk are always [`Error::Corrupt`], naming the structure that is corrupt;
//! heatstore never panics on what it reads.

use std::fmt;

/// Bytes read from the store that do not decode: names what is corrupt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// The structure that failed to decode (`"segment column"`, ...).
    pub what: &'static str,
    /// What is wrong with it.
    pub detail: String,
}

impl Corrupt {
    pub(crate) fn new(what: &'static str, detail: impl Into<String>) -> Corrupt {
        Corrupt {
            what,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt {}: {} (restore the store from a backup, or re-import its events)",
            self.what, self.detail
        )
    }
}

impl std::error::Error for Corrupt {}

/// Any error heatstore returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The file exists but is not a heatstore store.
    NotAStore {
        /// Why it is not one.
        detail: String,
    },
    /// The store was written by a format version this build cannot read.
    UnsupportedVersion {
        /// The version found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The store's bytes are corrupt.
    Corrupt(Corrupt),
    /// An event was rejected.
    InvalidEvent(crate::EventError),
    /// An argument was out of range or malformed.
    InvalidArgument(String),
    /// A deletion purge window over the 180-day maximum, or similar policy.
    Policy(String),
    /// Another process has the store open (for writing, or for reading
    /// while this one wants to write), and it stayed so for as long as
    /// opening waited ([`crate::OpenOptions::wait`]).
    InUse {
        /// The store's file.
        path: std::path::PathBuf,
        /// The process holding it, where the platform tells.
        holder: Option<u32>,
    },
    /// A write on a store opened read-only.
    ReadOnly,
    /// The store was not closed cleanly (its process died) and must be
    /// repaired by a writable open before it can be opened read-only.
    NeedsRepair {
        /// The store's file.
        path: std::path::PathBuf,
    },
    /// A report would exceed one of its documented limits (such as
    /// [`crate::query::MAX_SERIES_BUCKETS`]).
    LimitExceeded {
        /// What is limited.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// What was asked.
        asked: u64,
        /// How to stay within it.
        hint: &'static str,
    },
    /// A store of an older format version opened read-only: it must be
    /// upgraded in place by a writable open first.
    NeedsUpgrade {
        /// The store's file (`None` outside the file system).
        path: Option<std::path::PathBuf>,
        /// Its format version.
        found: u32,
    },
    /// The site has never been seen by the store.
    UnknownSite {
        /// The name given.
        site: String,
    },
    /// The ingest handle's queue is full ([`crate::IngestHandle::try_submit`];
    /// [`crate::IngestHandle::submit`] waits instead).
    QueueFull {
        /// Events the queue holds at most ([`crate::IngestOptions::queue_events`]).
        capacity: usize,
    },
    /// The ingest handle was closed: it takes no more submissions.
    Closed,
    /// The group commit that held a submission failed: none of the
    /// group's events is stored (they may be submitted again).
    CommitFailed {
        /// Why the commit failed.
        reason: String,
    },
    /// A storage-engine error from redb.
    Storage(Box<redb::Error>),
    /// An I/O error outside the storage engine (reading an import file).
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAStore { detail } => write!(
                f,
                "not a heatstore store: {detail} (check the path; heatstore only opens files it created)"
            ),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "store format version {found} is not supported by this build (it reads version {supported}); use a matching heatstore release"
            ),
            Error::Corrupt(c) => c.fmt(f),
            Error::InvalidEvent(e) => write!(f, "invalid event: {e}"),
            Error::InvalidArgument(s) => write!(f, "invalid argument: {s}"),
            Error::Policy(s) => write!(f, "refused: {s}"),
            Error::InUse { path, holder } => {
                write!(f, "store in use: {} is open in another process", path.display())?;
                if let Some(pid) = holder {
                    write!(f, " (process {pid})")?;
                }
                write!(
                    f,
                    "; a store has one writer or many readers at a time (query a running \
                     server through its API, or wait for the other command to finish)"
                )
            }
            Error::ReadOnly => write!(
                f,
                "the store was opened read-only: open it writable to change it"
            ),
            Error::NeedsRepair { path } => write!(
                f,
                "{} was not closed cleanly (its process died) and cannot be opened read-only \
                 until a writable open repairs it (any heatstore write, or `heatstore recover`)",
                path.display()
            ),
            Error::LimitExceeded {
                what,
                limit,
                asked,
                hint,
            } => write!(f, "too many {what}: {asked} asked, at most {limit} ({hint})"),
            Error::NeedsUpgrade { path, found } => write!(
                f,
                "{} is of format version {found}, which this build upgrades in place when it \
                 opens it for writing (any heatstore write command); a read-only open cannot",
                path.as_ref()
                    .map_or("the store".to_owned(), |p| p.display().to_string())
            ),
            Error::UnknownSite { site } => write!(
                f,
                "unknown site {site:?}: the store holds no data or settings of it (check the name; \
                 `heatstore stats` lists the sites)"
            ),
            Error::QueueFull { capacity } => write!(
                f,
                "the ingest queue is full ({capacity} events waiting to be committed): \
                 retry later, use submit() to wait, or raise IngestOptions::queue_events"
            ),
            Error::Closed => write!(f, "the ingest handle is closed: it takes no more events"),
            Error::CommitFailed { reason } => write!(
                f,
                "the group commit holding these events failed, none of them is stored: {reason}"
            ),
            Error::Storage(e) => write!(f, "storage error: {e}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Corrupt(c) => Some(c),
            Error::InvalidEvent(e) => Some(e),
            Error::Storage(e) => Some(e.as_ref()),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Corrupt> for Error {
    fn from(c: Corrupt) -> Error {
        Error::Corrupt(c)
    }
}

impl From<crate::EventError> for Error {
    fn from(e: crate::EventError) -> Error {
        Error::InvalidEvent(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::Storage(Box::new(e.into()))
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);

/// `Result` with heatstore's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
