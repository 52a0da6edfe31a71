//! Server access logs: the NCSA Combined Log Format and its variants, read
//! as pageviews.
//!
//! `heatstore import --format combined` reads the logs that Apache, Nginx
//! and most other web servers write, without a tracker on the page. This
//! module parses one line ([`parse_line`]), decides whether it records a
//! pageview ([`classify`], [`is_page`]), maps it to an [`Event`]
//! ([`LogLine::to_event`]) and streams a whole file ([`read_log`]).
//!
//! # Formats
//!
//! | [`LogFormat`] | Apache `LogFormat` | also |
//! |---|---|---|
//! | `combined` | `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"` | Nginx's default `combined` |
//! | `vhost_combined` | `%v:%p %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"` | |
//! | `common` | `%h %l %u %t "%r" %>s %b` | the same fields from any server |
//! | `auto` | the one of the three above that most of the file's first [`DETECT_LINES`] non-blank lines parse as | |
//!
//! - Fields are separated by spaces or tabs (runs of them are one
//!   separator). The unquoted fields (`%v:%p`, `%h`, `%l`, `%u`, `%>s`,
//!   `%b`) hold no spaces: a user name with a space in it does not parse.
//! - `-` in any field means absent.
//! - A combined line may carry more fields after the User-Agent (Nginx
//!   configs often append `$request_time` or `$upstream_response_time`):
//!   they are ignored. A common line must end after `%b`; a line with a
//!   referrer and User-Agent is combined.
//! - Quoted fields take Apache's escapes (`\"`, `\\`, `\n`, `\t`, `\r`,
//!   `\xhh`) and Nginx's (`\xhh` for `"`, `\`, control and non-ASCII
//!   bytes). Escaped bytes that do not form UTF-8 become U+FFFD. A `"`
//!   that is not followed by a separator or the end of the line is taken
//!   as part of the field (servers that do not escape quotes in the
//!   User-Agent).
//! - The time `[10/Oct/2000:13:55:36 -0700]` is local time with its UTC
//!   offset; [`LogLine::ts`] is ms since the Unix epoch, UTC.
//! - The request `"%r"` that is not an HTTP request line (`"-"`, the bytes
//!   of a TLS handshake sent to the HTTP port, an empty line) does not
//!   make the line malformed: [`LogLine::request`] is `None` and the line
//!   is not a page.
//! - Formats are told apart by their shape: a `vhost_combined` line has
//!   four fields before the time, `combined` and `common` three; `common`
//!   ends after the size. So a line parses as at most one of them, and
//!   `auto` cannot mistake one for another.
//!
//! # The page rule
//!
//! [`classify`] makes one pageview of each request that a browser made to
//! show a page:
//!
//! 1. an HTTP request line, method `GET` (case-sensitive, as in HTTP).
//!    `HEAD` is not a page: browsers never send it to show one; link
//!    checkers, uptime monitors and crawlers do;
//! 2. a status in 200..=299 other than 204 (No Content: beacons, nothing
//!    shown) and 206 (Partial Content: ranges of media and downloads), or
//!    304 (Not Modified: the browser showed its cached copy, a real view);
//! 3. the target is a path (`/...`), not a proxy URL (`http://other/`),
//!    `*` or `host:port`;
//! 4. the path does not end in a static asset's extension
//!    ([`ASSET_EXTENSIONS`], compared ignoring ASCII case);
//! 5. the path is no machine endpoint: no segment starts with a dot
//!    (`/.env`, `/.git/config`, `/.well-known/...`), its first segment is
//!    not one of [`API_SEGMENTS`] (`/api/...`, `/wp-json/...`), and it is
//!    none of [`PROBE_PATHS`] (`/healthz`, `/metrics`, ...), both compared
//!    ignoring ASCII case and a trailing `/`.
//!
//! Bots are not filtered here: the store classifies User-Agents and leaves
//! bots out of reports.
//!
//! # Events
//!
//! A page line becomes a `pageview` with `url` = the request target (path
//! and query: the store keeps the path and the `utm_*` parameters),
//! `referrer`, `ua` and `ip` (from `%h`, never stored: the store derives a
//! daily-salted cookieless visitor id from site, IP and User-Agent), no
//! `session` nor `visitor` (so that the cookieless id is used), and no
//! viewport.
//!
//! A cookieless id needs a User-Agent. **A page line without one is an
//! error** naming the field `user_agent`: every page line of a `common`
//! log, and combined lines whose User-Agent is `-`. This keeps the count of
//! what could not be imported visible, rather than filing such views under
//! one made-up visitor per IP.
//!
//! # Quirks
//!
//! - Behind a reverse proxy or CDN, `%h` is the proxy's address unless the
//!   server logs the client's (Apache `mod_remoteip`, Nginx `real_ip`):
//!   visitors with the same User-Agent then merge into one.
//! - Log times have whole seconds, so `ts` is a multiple of 1000.
//! - A time before 1970 parses (negative `ts`) and is rejected when the
//!   event is validated, as any out-of-range `ts` is.
//! - `%h` longer than the store's 64-byte `ip` limit (a long reverse-DNS
//!   name) is likewise rejected at validation, naming `ip`.
//!
//! # Examples
//!
//! ```
//! use heatstore::logs::{parse_line, is_page, LogFormat};
//!
//! let line = r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /pricing?utm_source=news HTTP/1.1" 200 2326 "https://www.google.com/" "Mozilla/5.0 (X11; Linux x86_64)""#;
//! let l = parse_line(line, LogFormat::Auto).unwrap();
//! assert_eq!(l.format, LogFormat::Combined);
//! assert_eq!(l.ts, 971_211_336_000);
//! assert!(is_page(&l));
//! let e = l.to_event("example.com").unwrap();
//! assert_eq!(e.url, "/pricing?utm_source=news");
//! assert_eq!(e.ip.as_deref(), Some("203.0.113.9"));
//! assert_eq!(e.session, None);
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};
use std::str::FromStr;

use crate::{Event, EventKind};

mod import;
mod page;
mod parse;
mod reader;
#[cfg(test)]
mod tests;

pub use import::LogImportReport;
pub use page::{classify, is_page, PageVerdict};
use parse::shown;
pub use parse::{detect_format, parse_line};
pub use reader::{read_log, LogReader};

/// Lines that `auto` looks at to pick a file's format: the first this many
/// non-blank lines.
pub const DETECT_LINES: usize = 16;

/// Longest line read, in bytes; a longer one is an error and is skipped
/// without being held in memory. Apache's default `LimitRequestLine` is
/// 8190 bytes, so real lines are far shorter.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Most characters of an offending value shown in an error.
pub const MAX_SHOWN_CHARS: usize = 80;

/// Extensions (lower-case, without the dot) of paths that are never pages.
pub const ASSET_EXTENSIONS: &[&str] = &[
    // Styles, scripts and their source maps.
    "css", "js", "mjs", "map", "wasm", //
    // Images.
    "avif", "bmp", "gif", "ico", "jpeg", "jpg", "png", "svg", "webp", //
    // Fonts.
    "eot", "otf", "ttf", "woff", "woff2", //
    // Data, feeds, robots.txt and sitemaps.
    "csv", "json", "rss", "txt", "xml", //
    // Documents and downloads.
    "7z", "apk", "dmg", "exe", "gz", "pdf", "rar", "tar", "tgz", "zip", //
    // Audio and video.
    "flac", "m4a", "mov", "mp3", "mp4", "ogg", "wav", "webm",
];

/// First path segments of machine endpoints (`/api/...`), never pages.
pub const API_SEGMENTS: &[&str] = &["api", "wp-json", "graphql"];

/// Whole paths of health checks and monitoring endpoints, never pages.
pub const PROBE_PATHS: &[&str] = &[
    "/health",
    "/healthz",
    "/livez",
    "/readyz",
    "/ping",
    "/metrics",
    "/server-status",
    "/nginx_status",
];

/// The shape of the lines of a log file.
///
/// ```
/// use heatstore::logs::LogFormat;
/// assert_eq!("vhost_combined".parse::<LogFormat>(), Ok(LogFormat::VhostCombined));
/// let err = "json".parse::<LogFormat>().unwrap_err();
/// assert!(err.to_string().contains("combined|vhost_combined|common|auto"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// NCSA Combined (Apache `combined`, Nginx's default).
    Combined,
    /// Apache `vhost_combined`: `%v:%p` before the combined fields.
    VhostCombined,
    /// NCSA Common: no referrer, no User-Agent.
    Common,
    /// Whichever of the three the lines are (see the module docs).
    Auto,
}

impl LogFormat {
    /// The concrete formats, in the order `auto` prefers them on a tie.
    pub const CONCRETE: [LogFormat; 3] = [
        LogFormat::VhostCombined,
        LogFormat::Combined,
        LogFormat::Common,
    ];

    /// The name `FromStr` accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Combined => "combined",
            LogFormat::VhostCombined => "vhost_combined",
            LogFormat::Common => "common",
            LogFormat::Auto => "auto",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A log format name that is none of the known ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown log format {:?}: expected one of combined|vhost_combined|common|auto",
            shown(&self.0)
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for LogFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<LogFormat, UnknownFormat> {
        match s {
            "combined" => Ok(LogFormat::Combined),
            "vhost_combined" => Ok(LogFormat::VhostCombined),
            "common" => Ok(LogFormat::Common),
            "auto" => Ok(LogFormat::Auto),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

/// A field of a log line, as named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogField {
    /// The line as a whole (not UTF-8, too long, text after the last field).
    Line,
    /// `%v:%p`, the virtual host and port.
    Vhost,
    /// `%h`, the client address.
    Host,
    /// `%l`, the identd name.
    Ident,
    /// `%u`, the authenticated user.
    User,
    /// `%t`, the time.
    Time,
    /// `"%r"`, the request line.
    Request,
    /// `%>s`, the status.
    Status,
    /// `%b`, the response size.
    Bytes,
    /// `"%{Referer}i"`.
    Referrer,
    /// `"%{User-agent}i"`.
    UserAgent,
}

impl LogField {
    /// The field's name in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            LogField::Line => "line",
            LogField::Vhost => "vhost",
            LogField::Host => "host",
            LogField::Ident => "ident",
            LogField::User => "user",
            LogField::Time => "time",
            LogField::Request => "request",
            LogField::Status => "status",
            LogField::Bytes => "bytes",
            LogField::Referrer => "referrer",
            LogField::UserAgent => "user_agent",
        }
    }
}

impl fmt::Display for LogField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one line: the field, why, and the offending text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The field at fault.
    pub field: LogField,
    /// What is wrong, and what was expected.
    pub reason: String,
    /// The offending text, cut to [`MAX_SHOWN_CHARS`] characters with
    /// control characters escaped (safe to print); empty when the field
    /// is missing.
    pub value: String,
}

impl LineError {
    fn new(field: LogField, reason: impl Into<String>, value: &str) -> LineError {
        LineError {
            field,
            reason: reason.into(),
            value: shown(value),
        }
    }

    /// This error, found on 1-based line `line`.
    pub fn at(self, line: u64) -> LogError {
        LogError::Line { line, error: self }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.reason)?;
        if !self.value.is_empty() {
            write!(f, " (got \"{}\")", self.value)?;
        }
        Ok(())
    }
}

impl std::error::Error for LineError {}

/// An error of [`read_log`]: a line that cannot be imported, or a failed read.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogError {
    /// Line `line` (1-based) does not parse, or is a page that cannot
    /// become an event.
    Line {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        error: LineError,
    },
    /// Reading line `line` failed; the reader stops.
    Io {
        /// 1-based number of the line being read.
        line: u64,
        /// The I/O error.
        error: io::Error,
    },
}

impl LogError {
    /// The 1-based line number.
    pub fn line(&self) -> u64 {
        match self {
            LogError::Line { line, .. } | LogError::Io { line, .. } => *line,
        }
    }

    /// The field at fault, `None` for an I/O error.
    pub fn field(&self) -> Option<LogField> {
        match self {
            LogError::Line { error, .. } => Some(error.field),
            LogError::Io { .. } => None,
        }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Line { line, error } => write!(f, "line {line}: {error}"),
            LogError::Io { line, error } => write!(f, "line {line}: cannot read the log: {error}"),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Line { error, .. } => Some(error),
            LogError::Io { error, .. } => Some(error),
        }
    }
}

/// An HTTP request line, `METHOD target [protocol]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, as sent (`GET`, `POST`, ...).
    pub method: Cow<'a, str>,
    /// The request target: a path and query, or a URL, `*`, `host:port`.
    pub target: Cow<'a, str>,
    /// The protocol (`HTTP/1.1`), absent on HTTP/0.9-style lines.
    pub protocol: Option<Cow<'a, str>>,
}

/// One parsed line. Strings borrow from the line unless an escape had to
/// be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// The concrete format the line parsed as (never `Auto`).
    pub format: LogFormat,
    /// `%v` of `vhost_combined`.
    pub vhost: Option<&'a str>,
    /// `%p` of `vhost_combined`.
    pub port: Option<u16>,
    /// `%h`: the client address (IPv4, IPv6 or, with `HostnameLookups`, a
    /// name). `None` for `-`.
    pub host: Option<&'a str>,
    /// `%l`, `None` for `-`.
    pub ident: Option<&'a str>,
    /// `%u`, `None` for `-`.
    pub user: Option<&'a str>,
    /// `%t` in ms since the Unix epoch, UTC.
    pub ts: i64,
    /// `"%r"`, `None` when it is `-` or not an HTTP request line.
    pub request: Option<Request<'a>>,
    /// `%>s`.
    pub status: u16,
    /// `%b`, `None` for `-` (no body).
    pub bytes: Option<u64>,
    /// The Referer header, `None` for `-`, empty, or in `common`.
    pub referrer: Option<Cow<'a, str>>,
    /// The User-Agent header, `None` for `-`, empty, or in `common`.
    pub user_agent: Option<Cow<'a, str>>,
}
