//! What the heatstore notebooks show besides the store itself: pictures,
//! tables and charts as outputs of the [evcxr] Jupyter kernel, and UTC
//! times as text.
//!
//! evcxr shows a cell's last value through its `evcxr_display` method when
//! it has one: the method prints `EVCXR_BEGIN_CONTENT <mime type>`, the
//! content (base64 for binary types) and `EVCXR_END_CONTENT`. The kernel
//! gathers every block a cell prints into **one** output keyed by MIME
//! type, so a cell shows one picture (a second `image/png` in the same cell
//! replaces the first); each value here also prints a `text/plain` form,
//! which is what a terminal or a plain-text export shows.
//!
//! - [`Png`]: PNG bytes (a heatstore heatmap or scroll map), shown inline.
//! - [`Table`]: an HTML table (numbers right-aligned), with a plain-text
//!   form.
//! - [`Bars`] and [`Lines`]: bar and line charts as SVG.
//! - [`utc`], [`utc_day`], [`utc_secs`]: ms since the epoch as
//!   `2026-10-01 09:30` UTC; [`civil`]: a day number as a date.
//! - [`int`], [`pct`]: numbers for tables (`12,345`, `41.7%`).
//!
//! It has no dependencies, so it adds a second or two to a notebook's
//! first cell.
//!
//! [evcxr]: https://github.com/evcxr/evcxr

use std::fmt::Write as _;
use std::io::Write as _;

mod chart;
mod table;

pub use chart::{Bars, Lines};
pub use table::Table;

/// Prints `blocks` (MIME type, content) as one evcxr output.
fn show(blocks: &[(&str, &str)]) {
    let mut out = String::new();
    for (mime, content) in blocks {
        let _ = writeln!(
            out,
            "EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT"
        );
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // Nothing to do if stdout is gone: the kernel has stopped listening.
    let _ = lock.write_all(out.as_bytes());
    let _ = lock.flush();
}

/// Standard base64 (RFC 4648, `+/`, padded), as Jupyter wants binary
/// outputs.
///
/// ```
/// assert_eq!(nbkit::base64(b"heat"), "aGVhdA==");
/// assert_eq!(nbkit::base64(b""), "");
/// ```
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A PNG picture, shown inline; its caption is the plain-text form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Png {
    /// The PNG file's bytes.
    pub bytes: Vec<u8>,
    /// What the picture shows (the text a terminal prints instead).
    pub caption: String,
}

impl Png {
    /// A picture of `bytes` (a PNG file) described by `caption`.
    pub fn new(bytes: Vec<u8>, caption: impl Into<String>) -> Png {
        Png {
            bytes,
            caption: caption.into(),
        }
    }

    /// Shows the picture (evcxr calls this for a cell's last value).
    pub fn evcxr_display(&self) {
        let text = format!("[PNG, {} bytes: {}]", self.bytes.len(), self.caption);
        show(&[("image/png", &base64(&self.bytes)), ("text/plain", &text)]);
    }
}

/// An SVG picture (what [`Bars`] and [`Lines`] draw).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Svg {
    /// The SVG document.
    pub svg: String,
    /// What the picture shows.
    pub caption: String,
}

impl Svg {
    /// Shows the picture.
    pub fn evcxr_display(&self) {
        show(&[
            ("image/svg+xml", &self.svg),
            ("text/plain", &format!("[chart: {}]", self.caption)),
        ]);
    }
}

/// `n` with thousands separators: `1234567` → `1,234,567`.
///
/// ```
/// assert_eq!(nbkit::int(1_234_567), "1,234,567");
/// assert_eq!(nbkit::int(-999), "-999");
/// ```
pub fn int(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part / whole` as a percentage with one decimal (`41.7%`; `-` when
/// `whole` is 0).
///
/// ```
/// assert_eq!(nbkit::pct(5, 12), "41.7%");
/// assert_eq!(nbkit::pct(1, 0), "-");
/// ```
pub fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// The civil date `(year, month 1..=12, day 1..=31)` of a day number (days
/// since 1970-01-01), by Howard Hinnant's `civil_from_days`.
///
/// ```
/// assert_eq!(nbkit::civil(20_727), (2026, 10, 1));
/// ```
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// ms since the epoch as a UTC time to the minute, `2026-10-01 09:30`.
///
/// ```
/// assert_eq!(nbkit::utc(1_790_812_800_000 + 34_200_000), "2026-10-01 09:30");
/// ```
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60
    )
}

/// ms since the epoch as a UTC time to the second, `2026-10-01 09:30:05`.
///
/// ```
/// assert_eq!(nbkit::utc_secs(1_790_812_805_000), "2026-10-01 00:00:05");
/// ```
pub fn utc_secs(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(60);
    format!("{}:{s:02}", utc(ms))
}

/// ms since the epoch as its UTC day, `2026-10-01`.
///
/// ```
/// assert_eq!(nbkit::utc_day(1_790_812_800_000), "2026-10-01");
/// ```
pub fn utc_day(ms: i64) -> String {
    let (y, m, d) = civil(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Escapes `&`, `<`, `>` and `"` for HTML and SVG text.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(civil(19_782), (2024, 2, 29));
        assert_eq!(utc_day(1_790_812_800_000 - 1), "2026-09-30");
        assert_eq!(utc(-1), "1969-12-31 23:59");
    }

    #[test]
    fn numbers() {
        assert_eq!(int(0u8), "0");
        assert_eq!(int(999u16), "999");
        assert_eq!(int(1000u32), "1,000");
        assert_eq!(int(-1_000_000i64), "-1,000,000");
        assert_eq!(pct(1, 3), "33.3%");
    }
}
