//! Storage internals: the redb schema, column codecs, segments,
//! dictionaries, session blocks and the pending log.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub(crate) mod codec;
pub(crate) mod columns;
pub(crate) mod dict;
pub(crate) mod file;
pub(crate) mod hiding;
pub(crate) mod journal;
pub(crate) mod meta;
pub(crate) mod partition;
pub(crate) mod requests;
pub(crate) mod row;
pub(crate) mod schema;
pub(crate) mod seal;
pub(crate) mod segment;
pub(crate) mod sessions;
pub(crate) mod sites;
pub(crate) mod tombstones;

pub(crate) use crate::error::Corrupt;

pub(crate) use crate::time::{day_of, day_start, DAY_MS, HOUR_MS};
