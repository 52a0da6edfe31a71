//! # heatstore
//!
//! An embedded, single-file, columnar analytics store for website
//! interaction events: pageviews, clicks, mouse moves, scrolls, masked
//! keystrokes, page loads, sessions, devices and referrers.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod event;
pub mod gen;
pub mod normalize;
mod storage;

pub use event::{parse_rfc3339_ms, parse_time, Event, EventError, EventKind};
pub use error::{Corrupt, Error, Result};
