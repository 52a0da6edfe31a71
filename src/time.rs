//! Time: UTC days and hours (partitions are whole UTC days), the clock,
//! and the time syntax of the API (ms since the epoch or RFC 3339).

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

/// The days `[lo, hi]` a time range `[from, to)` touches; `None` ends are
/// open. An empty range (`to` at or before the first day) gives
/// `lo > hi`. The one place this arithmetic is written: reports and the
/// purge both use it.
pub(crate) fn day_span(from: Option<i64>, to: Option<i64>) -> (i32, i32) {
    let lo = from.map_or(i32::MIN, |f| day_of(f.max(0)));
    let hi = to.map_or(i32::MAX, |t| if t <= 0 { i32::MIN } else { day_of(t - 1) });
    (lo, hi)
}

/// Now, in ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Parses an RFC 3339 timestamp into ms since the Unix epoch.
///
/// ```
/// assert_eq!(heatstore::parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
/// ```
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Parses a time given as ms since the epoch, as RFC 3339, or as a date
/// `YYYY-MM-DD` (its midnight, UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    s.parse::<i64>()
        .ok()
        .or_else(|| parse_rfc3339_ms(s))
        .or_else(|| parse_date_ms(s))
}

/// `YYYY-MM-DD` as the ms of its midnight, UTC.
fn parse_date_ms(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_parse_as_ms_rfc_3339_or_a_date() {
        assert_eq!(parse_time("86400000"), Some(86_400_000));
        assert_eq!(parse_time("1970-01-02T00:00:00Z"), Some(86_400_000));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("2026-12-03"), Some(1_796_256_000_000));
        for bad in [
            "1970-02-30",
            "1970-13-01",
            "70-01-02",
            "1970-1-02",
            "1970-01-02-",
            "1970-01-0x",
            "",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
