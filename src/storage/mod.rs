//! Storage internals: the redb schema, column codecs, segments,
//! dictionaries, session blocks and the pending log.

pub(crate) mod codec;
pub(crate) mod columns;
pub(crate) mod dict;
pub(crate) mod row;
pub(crate) mod schema;
pub(crate) mod segment;
pub(crate) mod sessions;

pub(crate) use crate::error::Corrupt;

/// Milliseconds in a UTC day: partitions are whole UTC days.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// Milliseconds in an hour: the time-bucket index's granularity.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The partition (UTC day number since the epoch) of a timestamp.
pub(crate) fn day_of(ts: i64) -> i32 {
    // ts is validated to 0..=MAX_TS, so the day fits an i32.
    ts.div_euclid(DAY_MS) as i32
}

/// First ms of a day.
pub(crate) fn day_start(day: i32) -> i64 {
    i64::from(day) * DAY_MS
}
