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

/// Why a line is not a page, or that it is one (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageVerdict {
    /// A pageview.
    Page,
    /// The request is `-` or not an HTTP request line.
    NoRequest,
    /// The method is not `GET`.
    Method,
    /// The status is not 2xx (other than 204, 206) nor 304.
    Status,
    /// The target is not a path.
    NotPath,
    /// The path ends in one of [`ASSET_EXTENSIONS`].
    Asset,
    /// The path is a machine endpoint (dot segment, [`API_SEGMENTS`],
    /// [`PROBE_PATHS`]).
    Probe,
}

/// Decides whether a line is a pageview, and if not why (rules in the
/// module docs, checked in that order).
///
/// ```
/// use heatstore::logs::{classify, parse_line, LogFormat, PageVerdict};
/// let l = parse_line(r#"::1 - - [01/Mar/2024:09:05:07 +0000] "GET /app.js HTTP/2.0" 200 51 "-" "curl/8.5""#, LogFormat::Combined).unwrap();
/// assert_eq!(classify(&l), PageVerdict::Asset);
/// ```
pub fn classify(line: &LogLine<'_>) -> PageVerdict {
    let Some(req) = &line.request else {
        return PageVerdict::NoRequest;
    };
    if req.method != "GET" {
        return PageVerdict::Method;
    }
    if !page_status(line.status) {
        return PageVerdict::Status;
    }
    if !req.target.starts_with('/') {
        return PageVerdict::NotPath;
    }
    let path = path_of(&req.target);
    if is_asset_path(path) {
        return PageVerdict::Asset;
    }
    if is_probe_path(path) {
        return PageVerdict::Probe;
    }
    PageVerdict::Page
}

/// Whether a line is a pageview: `classify(line) == PageVerdict::Page`.
///
/// ```
/// use heatstore::logs::{is_page, parse_line, LogFormat};
/// let head = r#"198.51.100.4 - - [01/Mar/2024:09:05:07 +0000] "HEAD / HTTP/1.1" 200 0 "-" "UptimeBot/1.0""#;
/// assert!(!is_page(&parse_line(head, LogFormat::Combined).unwrap()));
/// ```
pub fn is_page(line: &LogLine<'_>) -> bool {
    classify(line) == PageVerdict::Page
}

fn page_status(status: u16) -> bool {
    status == 304 || ((200..=299).contains(&status) && status != 204 && status != 206)
}

/// The path of a request target: up to its query or fragment.
fn path_of(target: &str) -> &str {
    match target.find(['?', '#']) {
        Some(i) => target.get(..i).unwrap_or(target),
        None => target,
    }
}

fn is_asset_path(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            ASSET_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(ext))
        }
        _ => false,
    }
}

fn is_probe_path(path: &str) -> bool {
    if path.split('/').any(|seg| seg.starts_with('.')) {
        return true;
    }
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if API_SEGMENTS.iter().any(|a| a.eq_ignore_ascii_case(first)) {
        return true;
    }
    let trimmed = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    PROBE_PATHS.iter().any(|p| p.eq_ignore_ascii_case(trimmed))
}

impl LogLine<'_> {
    /// The pageview this line records (whether it is a page is
    /// [`classify`]'s business: call it first).
    ///
    /// Fails, naming the field, when the line has no HTTP request, no
    /// client address (`%h` is `-`) or no User-Agent: a cookieless visitor
    /// id is derived from the address and the User-Agent, so the event
    /// would not validate.
    ///
    /// ```
    /// use heatstore::logs::{parse_line, LogField, LogFormat};
    /// let common = r#"192.0.2.1 - - [01/Mar/2024:09:05:07 +0000] "GET / HTTP/1.1" 200 512"#;
    /// let err = parse_line(common, LogFormat::Common).unwrap().to_event("example.com").unwrap_err();
    /// assert_eq!(err.field, LogField::UserAgent);
    /// ```
    pub fn to_event(&self, site: &str) -> Result<Event, LineError> {
        let Some(req) = &self.request else {
            return Err(LineError::new(
                LogField::Request,
                "is not an HTTP request line, so there is no page",
                "",
            ));
        };
        let Some(ip) = self.host else {
            return Err(LineError::new(
                LogField::Host,
                "is absent (`-`): a cookieless visitor id needs the client address",
                "",
            ));
        };
        let Some(ua) = &self.user_agent else {
            let why = if self.format == LogFormat::Common {
                "is absent: the Common Log Format has no User-Agent, and a cookieless visitor id \
                 needs one; import a combined log instead"
            } else {
                "is absent (`-`): a cookieless visitor id needs one"
            };
            return Err(LineError::new(LogField::UserAgent, why, ""));
        };
        Ok(Event {
            site: site.to_owned(),
            ts: self.ts,
            kind: EventKind::Pageview,
            url: req.target.clone().into_owned(),
            referrer: self.referrer.as_ref().map(|r| r.clone().into_owned()),
            ua: Some(ua.clone().into_owned()),
            ip: Some(ip.to_owned()),
            ..Event::default()
        })
    }
}

/// Parses one line (without its line ending) in `format`.
///
/// With [`LogFormat::Auto`] each concrete format is tried in
/// [`LogFormat::CONCRETE`] order and the first that parses wins; when none
/// does, the error is the one that got furthest into the line (on a tie,
/// combined's).
///
/// ```
/// use heatstore::logs::{parse_line, LogField, LogFormat};
/// let l = parse_line(
///     r#"www.example.com:443 2001:db8::7 - alice [01/Mar/2024:09:05:07 +0530] "GET / HTTP/1.1" 304 - "-" "Mozilla/5.0""#,
///     LogFormat::Auto,
/// ).unwrap();
/// assert_eq!((l.format, l.vhost, l.port), (LogFormat::VhostCombined, Some("www.example.com"), Some(443)));
/// assert_eq!((l.host, l.user, l.bytes, l.referrer), (Some("2001:db8::7"), Some("alice"), None, None));
///
/// let bad = r#"192.0.2.1 - - [31/Feb/2024:09:05:07 +0000] "GET / HTTP/1.1" 200 5 "-" "x""#;
/// let err = parse_line(bad, LogFormat::Combined).unwrap_err();
/// assert_eq!(err.field, LogField::Time);
/// ```
pub fn parse_line(line: &str, format: LogFormat) -> Result<LogLine<'_>, LineError> {
    match format {
        LogFormat::Auto => {
            let mut best: Option<(usize, LineError)> = None;
            for f in LogFormat::CONCRETE {
                match parse_as(line, f) {
                    Ok(l) => return Ok(l),
                    Err((pos, e)) => {
                        // On a tie, combined's error: the likeliest format.
                        let better = |p: usize| pos > p || (pos == p && f == LogFormat::Combined);
                        if best.as_ref().is_none_or(|(p, _)| better(*p)) {
                            best = Some((pos, e));
                        }
                    }
                }
            }
            Err(best.map(|(_, e)| e).unwrap_or_else(|| {
                LineError::new(LogField::Line, "matches no known log format", line)
            }))
        }
        f => parse_as(line, f).map_err(|(_, e)| e),
    }
}

/// The format most of `lines` parse as (ties go to the earlier of
/// [`LogFormat::CONCRETE`]), `None` when none parses.
///
/// ```
/// use heatstore::logs::{detect_format, LogFormat};
/// let lines = [
///     "garbage",
///     r#"192.0.2.1 - - [01/Mar/2024:09:05:07 +0000] "GET / HTTP/1.1" 200 512"#,
/// ];
/// assert_eq!(detect_format(lines), Some(LogFormat::Common));
/// ```
pub fn detect_format<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<LogFormat> {
    let mut votes = [0usize; 3];
    for line in lines {
        for (vote, f) in votes.iter_mut().zip(LogFormat::CONCRETE) {
            if parse_as(line, f).is_ok() {
                *vote += 1;
                break;
            }
        }
    }
    let mut best: Option<(usize, LogFormat)> = None;
    for (&n, f) in votes.iter().zip(LogFormat::CONCRETE) {
        if n > 0 && best.is_none_or(|(b, _)| n > b) {
            best = Some((n, f));
        }
    }
    best.map(|(_, f)| f)
}

/// An error and the byte offset it was found at (to pick, under `Auto`,
/// the format that got furthest).
type Failed = (usize, LineError);

/// A cursor over a line. Every split is at an ASCII byte, so on a char
/// boundary; `get` keeps it panic-free all the same.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    /// Where the field being read starts: errors are placed there.
    mark: usize,
}

fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn fail(&self, field: LogField, reason: impl Into<String>, value: &str) -> Failed {
        (self.mark, LineError::new(field, reason, value))
    }

    fn skip_seps(&mut self) {
        while self.peek().is_some_and(is_sep) {
            self.pos += 1;
        }
    }

    /// Separators before the next field, which must be there.
    fn sep(&mut self, next: LogField) -> Result<(), Failed> {
        self.mark = self.pos;
        if !self.peek().is_some_and(is_sep) {
            return Err(if self.rest().is_empty() {
                self.fail(next, "is missing: the line ends before it", "")
            } else {
                self.fail(
                    next,
                    "is not separated from the field before by a space",
                    self.rest(),
                )
            });
        }
        self.skip_seps();
        self.mark = self.pos;
        if self.rest().is_empty() {
            return Err(self.fail(next, "is missing: the line ends before it", ""));
        }
        Ok(())
    }

    /// An unquoted field: up to the next separator.
    fn token(&mut self) -> &'a str {
        self.mark = self.pos;
        let rest = self.rest();
        let len = rest.bytes().position(is_sep).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or("")
    }

    /// A quoted field, unescaped.
    fn quoted(&mut self, field: LogField) -> Result<Cow<'a, str>, Failed> {
        self.mark = self.pos;
        if self.peek() != Some(b'"') {
            return Err(self.fail(field, "expected a quoted field (\"...\")", self.rest()));
        }
        let start = self.pos + 1;
        let bytes = self.s.as_bytes();
        let mut i = start;
        let mut escaped = false;
        loop {
            match bytes.get(i) {
                None => {
                    return Err(self.fail(
                        field,
                        "has no closing quote",
                        self.s.get(start..).unwrap_or(""),
                    ))
                }
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                Some(b'"') if bytes.get(i + 1).is_none_or(|&b| is_sep(b)) => break,
                Some(_) => i += 1,
            }
        }
        let raw = self.s.get(start..i).unwrap_or("");
        self.pos = i + 1;
        Ok(if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        })
    }

    /// `[dd/Mon/yyyy:HH:MM:SS +hhmm]` in ms since the epoch, UTC.
    fn time(&mut self) -> Result<i64, Failed> {
        self.mark = self.pos;
        let rest = self.rest();
        let Some(body) = rest.strip_prefix('[') else {
            return Err(self.fail(
                LogField::Time,
                "expected `[` opening a time like [10/Oct/2000:13:55:36 -0700]",
                rest,
            ));
        };
        let Some(end) = body.find(']') else {
            return Err(self.fail(LogField::Time, "has no closing `]`", rest));
        };
        let text = body.get(..end).unwrap_or("");
        let ts = parse_clf_time(text).map_err(|why| self.fail(LogField::Time, why, text))?;
        self.pos += end + 2;
        Ok(ts)
    }
}

/// Decodes Apache's and Nginx's escapes; bytes that are not UTF-8 become
/// U+FFFD.
fn unescape(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'"') => out.push(b'"'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let hex = b.get(i + 2..i + 4).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16).ok()
                });
                if let Some(v) = hex {
                    out.push(v);
                    i += 4;
                    continue;
                }
                out.extend_from_slice(b"\\x");
            }
            Some(&other) => {
                out.push(b'\\');
                out.push(other);
            }
            None => {
                out.push(b'\\');
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `dd/Mon/yyyy:HH:MM:SS +hhmm` in ms since the epoch, UTC.
fn parse_clf_time(text: &str) -> Result<i64, String> {
    const SHAPE: &str = "expected dd/Mon/yyyy:HH:MM:SS +hhmm, like 10/Oct/2000:13:55:36 -0700";
    let b = text.as_bytes();
    if b.len() != 26 {
        return Err(SHAPE.to_owned());
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let lit = |at: usize, c: u8| b.get(at) == Some(&c);
    let seps = [
        (2, b'/'),
        (6, b'/'),
        (11, b':'),
        (14, b':'),
        (17, b':'),
        (20, b' '),
    ];
    if !seps.iter().all(|&(at, c)| lit(at, c)) {
        return Err(SHAPE.to_owned());
    }
    let (Some(day), Some(year), Some(hh), Some(mm), Some(ss), Some(oh), Some(om)) = (
        num(0, 2),
        num(7, 4),
        num(12, 2),
        num(15, 2),
        num(18, 2),
        num(22, 2),
        num(24, 2),
    ) else {
        return Err(SHAPE.to_owned());
    };
    let sign: i32 = match b.get(21) {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(format!("{SHAPE}: the UTC offset needs a sign")),
    };
    let mon_text = text.get(3..6).unwrap_or("");
    let Some(mon_idx) = MONTHS.iter().position(|m| *m == mon_text) else {
        return Err(format!(
            "month {mon_text:?} is not one of Jan, Feb, ..., Dec"
        ));
    };
    let month = time::Month::try_from(mon_idx as u8 + 1).map_err(|e| e.to_string())?;
    let date = time::Date::from_calendar_date(year as i32, month, day as u8)
        .map_err(|_| format!("{day:02}/{mon_text}/{year} is not a calendar date"))?;
    let tod = time::Time::from_hms(hh as u8, mm as u8, ss as u8)
        .map_err(|_| format!("{hh:02}:{mm:02}:{ss:02} is not a time of day"))?;
    if oh > 23 || om > 59 {
        return Err(format!("UTC offset {oh:02}{om:02} is out of range"));
    }
    let offset = time::UtcOffset::from_hms((sign * oh as i32) as i8, (sign * om as i32) as i8, 0)
        .map_err(|_| format!("UTC offset {oh:02}{om:02} is out of range"))?;
    let t = time::PrimitiveDateTime::new(date, tod).assume_offset(offset);
    Ok(t.unix_timestamp() * 1000)
}

/// An HTTP method: a token of visible ASCII letters, digits and `-_`,
/// at most 32 bytes (real methods are short upper-case words).
fn is_method(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits a request line; `None` when it is not `METHOD target [HTTP/x]`.
fn split_request(req: Cow<'_, str>) -> Option<Request<'_>> {
    fn parts(s: &str) -> Option<(&str, &str, Option<&str>)> {
        if s.bytes().any(|b| b.is_ascii_control()) {
            return None;
        }
        let (method, rest) = s.split_once(' ')?;
        if !is_method(method) {
            return None;
        }
        let rest = rest.trim_matches(' ');
        let (target, protocol) = match rest.rsplit_once(' ') {
            Some((t, p)) if p.starts_with("HTTP/") => (t.trim_end_matches(' '), Some(p)),
            Some(_) => return None,
            None => (rest, None),
        };
        if target.is_empty() || target.contains(' ') {
            return None;
        }
        Some((method, target, protocol))
    }
    match req {
        Cow::Borrowed(s) => {
            let (m, t, p) = parts(s)?;
            Some(Request {
                method: Cow::Borrowed(m),
                target: Cow::Borrowed(t),
                protocol: p.map(Cow::Borrowed),
            })
        }
        Cow::Owned(s) => {
            let (m, t, p) = parts(&s)?;
            Some(Request {
                method: Cow::Owned(m.to_owned()),
                target: Cow::Owned(t.to_owned()),
                protocol: p.map(|p| Cow::Owned(p.to_owned())),
            })
        }
    }
}

/// `-` and the empty string are absent.
fn present<T: AsRef<str>>(v: T) -> Option<T> {
    let s = v.as_ref();
    (!s.is_empty() && s != "-").then_some(v)
}

impl<'a> Cursor<'a> {
    /// An unquoted field without control characters.
    fn field_token(&mut self, field: LogField) -> Result<&'a str, Failed> {
        let tok = self.token();
        self.check_token(field, tok)
    }

    fn check_token(&self, field: LogField, tok: &'a str) -> Result<&'a str, Failed> {
        if tok.bytes().any(|b| b.is_ascii_control()) {
            return Err(self.fail(field, "contains control characters", tok));
        }
        Ok(tok)
    }

    /// `%h` or `%v`: an IP address or host name, printable ASCII.
    fn host_token(&self, field: LogField, tok: &'a str) -> Result<&'a str, Failed> {
        if !tok.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(self.fail(
                field,
                "expected an IP address or host name (printable ASCII)",
                tok,
            ));
        }
        Ok(tok)
    }
}

fn parse_as(line: &str, format: LogFormat) -> Result<LogLine<'_>, Failed> {
    let mut cur = Cursor {
        s: line,
        pos: 0,
        mark: 0,
    };
    cur.skip_seps();
    if cur.rest().is_empty() {
        return Err(cur.fail(LogField::Line, "is empty", ""));
    }
    let mut vhost = None;
    let mut port = None;
    if format == LogFormat::VhostCombined {
        let tok = cur.token();
        let Some((h, p)) = tok.rsplit_once(':') else {
            return Err(cur.fail(
                LogField::Vhost,
                "expected host:port (the %v:%p of vhost_combined)",
                tok,
            ));
        };
        let Ok(p) = p.parse::<u16>() else {
            return Err(cur.fail(
                LogField::Vhost,
                "expected host:port with a port in 0..=65535",
                tok,
            ));
        };
        let h = h
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(h);
        vhost = present(cur.host_token(LogField::Vhost, h)?);
        port = Some(p);
        cur.sep(LogField::Host)?;
    }
    let tok = cur.token();
    let host = present(cur.host_token(LogField::Host, tok)?);
    cur.sep(LogField::Ident)?;
    let ident = present(cur.field_token(LogField::Ident)?);
    cur.sep(LogField::User)?;
    let user = present(cur.field_token(LogField::User)?);
    cur.sep(LogField::Time)?;
    let ts = cur.time()?;
    cur.sep(LogField::Request)?;
    let request = cur.quoted(LogField::Request)?;
    let request = if request == "-" {
        None
    } else {
        split_request(request)
    };
    cur.sep(LogField::Status)?;
    let tok = cur.token();
    let status = match tok.parse::<u16>() {
        Ok(s) if tok.len() == 3 && (100..=599).contains(&s) => s,
        _ => {
            return Err(cur.fail(
                LogField::Status,
                "expected a three-digit HTTP status in 100..=599",
                tok,
            ))
        }
    };
    cur.sep(LogField::Bytes)?;
    let tok = cur.token();
    let bytes = if tok == "-" {
        None
    } else if tok.bytes().all(|b| b.is_ascii_digit()) {
        match tok.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return Err(cur.fail(LogField::Bytes, "is too large", tok)),
        }
    } else {
        return Err(cur.fail(LogField::Bytes, "expected a byte count or `-`", tok));
    };
    let (mut referrer, mut user_agent) = (None, None);
    if format == LogFormat::Common {
        cur.skip_seps();
        if !cur.rest().is_empty() {
            return Err(cur.fail(
                LogField::Line,
                "has text after the size, where the Common Log Format ends \
                 (a referrer and User-Agent make it a combined log)",
                cur.rest(),
            ));
        }
    } else {
        cur.sep(LogField::Referrer)?;
        referrer = present(cur.quoted(LogField::Referrer)?);
        cur.sep(LogField::UserAgent)?;
        user_agent = present(cur.quoted(LogField::UserAgent)?);
        // Anything after the User-Agent is extra fields, ignored.
    }
    Ok(LogLine {
        format,
        vhost,
        port,
        host,
        ident,
        user,
        ts,
        request,
        status,
        bytes,
        referrer,
        user_agent,
    })
}

/// `s` cut to [`MAX_SHOWN_CHARS`] characters (with `...` when cut) and
/// control characters escaped, safe to print.
fn shown(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == MAX_SHOWN_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() || c == '"' || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Streams the pageviews of a log: see [`read_log`].
pub struct LogReader<R> {
    reader: R,
    format: LogFormat,
    site: String,
    /// Lines read so far.
    line_no: u64,
    /// Lines read ahead by `auto`, not yet handed out.
    pending: VecDeque<(u64, RawLine)>,
    /// Whether `auto` has looked ahead yet.
    detected: bool,
    /// No more reads: end of input or an I/O error.
    done: bool,
    buf: Vec<u8>,
}

/// A line as read, before it is decoded.
enum RawLine {
    /// The line, without its ending.
    Bytes(Vec<u8>),
    /// A line of this many bytes, over [`MAX_LINE_BYTES`].
    TooLong(usize),
    /// Reading failed here (read ahead by `auto`).
    Failed(LogError),
}

/// Streams a log file line by line: `(line_no, result)` per non-blank
/// line, with `Ok(Some(event))` for a page, `Ok(None)` for a line that
/// parsed and is not a page, `Err` for a line that cannot be imported (it
/// names the line and the field) or a failed read (the last item).
///
/// - Line numbers are 1-based and count every line, blank ones too.
/// - Blank lines (only spaces and tabs) are skipped; `\n` and `\r\n`
///   endings are both accepted; a UTF-8 byte order mark at the start of
///   the input is skipped.
/// - A line that is not UTF-8 or longer than [`MAX_LINE_BYTES`] is an
///   error (field `line`); memory stays bounded by that limit.
/// - With [`LogFormat::Auto`] the first [`DETECT_LINES`] non-blank lines
///   are read ahead and the format most of them parse as is used for the
///   whole file ([`detect_format`]); when none of them parses, every line
///   is tried in every format. [`LogReader::format`] tells the choice.
///
/// ```
/// use heatstore::logs::{read_log, LogFormat};
/// let log = "\u{feff}192.0.2.1 - - [01/Mar/2024:09:05:07 +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0\"\r\n\
///            \r\n\
///            192.0.2.1 - - [01/Mar/2024:09:05:08 +0000] \"GET /a.css HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0\"\r\n\
///            oops\n";
/// let items: Vec<_> = read_log(log.as_bytes(), LogFormat::Auto, "example.com").collect();
/// assert_eq!(items.len(), 3);
/// assert_eq!(items[0].1.as_ref().unwrap().as_ref().unwrap().url, "/a");
/// assert!(items[1].1.as_ref().unwrap().is_none()); // an asset
/// assert_eq!(items[2].0, 4);
/// assert_eq!(items[2].1.as_ref().unwrap_err().line(), 4);
/// ```
pub fn read_log<R: BufRead>(reader: R, format: LogFormat, site: &str) -> LogReader<R> {
    LogReader {
        reader,
        format,
        site: site.to_owned(),
        line_no: 0,
        pending: VecDeque::new(),
        detected: format != LogFormat::Auto,
        done: false,
        buf: Vec::new(),
    }
}

/// The bytes of a line without its ending; the BOM off the first line.
fn trim_line(mut b: &[u8], first: bool) -> &[u8] {
    if first {
        b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    }
    b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|&c| is_sep(c))
}

impl<R: BufRead> LogReader<R> {
    /// The format lines are parsed in: the one asked for, or what `auto`
    /// detected (`Auto` before the first line is read, and when nothing
    /// in the first lines parsed).
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Reads the next non-blank line: its number and bytes (without the
    /// ending). `Ok(None)` at the end of the input.
    fn read_raw(&mut self) -> Result<Option<(u64, RawLine)>, LogError> {
        loop {
            if self.done {
                return Ok(None);
            }
            self.buf.clear();
            let line = self.line_no + 1;
            let mut len = 0usize;
            let mut saw_any = false;
            loop {
                let chunk = match self.reader.fill_buf() {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        self.done = true;
                        return Err(LogError::Io { line, error });
                    }
                };
                if chunk.is_empty() {
                    self.done = true;
                    break;
                }
                saw_any = true;
                let (take, end) = match memchr::memchr(b'\n', chunk) {
                    Some(i) => (i + 1, true),
                    None => (chunk.len(), false),
                };
                let part = chunk.get(..take).unwrap_or(chunk);
                len = len.saturating_add(take);
                if len <= MAX_LINE_BYTES + 2 {
                    self.buf.extend_from_slice(part);
                }
                self.reader.consume(take);
                if end {
                    break;
                }
            }
            if !saw_any {
                return Ok(None);
            }
            self.line_no = line;
            if len > MAX_LINE_BYTES + 2 {
                return Ok(Some((line, RawLine::TooLong(len))));
            }
            let bytes = trim_line(&self.buf, line == 1);
            if bytes.len() > MAX_LINE_BYTES {
                return Ok(Some((line, RawLine::TooLong(bytes.len()))));
            }
            if is_blank(bytes) {
                continue;
            }
            return Ok(Some((line, RawLine::Bytes(bytes.to_vec()))));
        }
    }

    /// Reads ahead the first lines and picks the format.
    fn detect(&mut self) {
        self.detected = true;
        while self.pending.len() < DETECT_LINES {
            match self.read_raw() {
                Ok(Some(l)) => self.pending.push_back(l),
                Ok(None) => break,
                Err(e) => {
                    // Handed out after the lines read before it.
                    let line = e.line();
                    self.pending.push_back((line, RawLine::Failed(e)));
                    break;
                }
            }
        }
        let texts = self.pending.iter().filter_map(|(_, raw)| match raw {
            RawLine::Bytes(b) => std::str::from_utf8(b).ok(),
            RawLine::TooLong(_) | RawLine::Failed(_) => None,
        });
        if let Some(f) = detect_format(texts) {
            self.format = f;
        }
    }

    fn item(&self, line: u64, raw: RawLine) -> (u64, Result<Option<Event>, LogError>) {
        let bytes = match raw {
            RawLine::Failed(e) => return (line, Err(e)),
            RawLine::TooLong(len) => {
                let e = LineError::new(
                    LogField::Line,
                    format!("is {len} bytes, longer than the limit of {MAX_LINE_BYTES}"),
                    "",
                );
                return (line, Err(e.at(line)));
            }
            RawLine::Bytes(b) => b,
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.valid_up_to();
                let err = LineError::new(
                    LogField::Line,
                    format!("is not valid UTF-8 (bad byte at column {})", at + 1),
                    &String::from_utf8_lossy(&bytes),
                );
                return (line, Err(err.at(line)));
            }
        };
        let result = parse_line(text, self.format).and_then(|l| {
            if is_page(&l) {
                l.to_event(&self.site).map(Some)
            } else {
                Ok(None)
            }
        });
        (line, result.map_err(|e| e.at(line)))
    }
}

impl<R: BufRead> Iterator for LogReader<R> {
    type Item = (u64, Result<Option<Event>, LogError>);

    fn next(&mut self) -> Option<Self::Item> {
        if !self.detected {
            self.detect();
        }
        let (line, raw) = match self.pending.pop_front() {
            Some(p) => p,
            None => match self.read_raw() {
                Ok(Some(p)) => p,
                Ok(None) => return None,
                Err(e) => return Some((e.line(), Err(e))),
            },
        };
        Some(self.item(line, raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const APACHE: &str = r#"203.0.113.195 - - [12/Mar/2024:06:25:24 +0100] "GET /blog/heatmaps-explained/ HTTP/1.1" 200 18342 "https://www.google.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36""#;
    const NGINX: &str = r#"198.51.100.23 - - [12/Mar/2024:06:25:24 +0000] "GET /pricing?plan=pro&utm_source=newsletter HTTP/2.0" 200 9120 "https://news.ycombinator.com/item?id=1" "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1""#;
    const NGINX_TIMED: &str = r#"198.51.100.23 - - [12/Mar/2024:06:25:24 +0000] "GET /pricing HTTP/1.1" 200 9120 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0" 0.012 0.010 "-""#;
    const VHOST: &str = r#"shop.example.com:443 2001:db8:85a3::8a2e:370:7334 - - [12/Mar/2024:11:55:24 +0530] "GET /cart HTTP/1.1" 200 5123 "https://shop.example.com/products/42" "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15""#;
    const COMMON: &str =
        r#"192.0.2.44 - frank [05/Jan/2024:23:10:02 -0500] "GET /docs/install HTTP/1.0" 200 7311"#;

    fn parse(line: &str) -> LogLine<'_> {
        match parse_line(line, LogFormat::Auto) {
            Ok(l) => l,
            Err(e) => panic!("{line}: {e}"),
        }
    }

    fn target<'a>(l: &'a LogLine<'_>) -> &'a str {
        l.request.as_ref().map(|r| r.target.as_ref()).unwrap_or("")
    }

    #[test]
    fn apache_combined() {
        let l = parse(APACHE);
        assert_eq!(l.format, LogFormat::Combined);
        assert_eq!(l.host, Some("203.0.113.195"));
        assert_eq!((l.ident, l.user, l.vhost, l.port), (None, None, None, None));
        assert_eq!(l.ts, 1_710_221_124_000);
        let r = l.request.as_ref().unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/blog/heatmaps-explained/");
        assert_eq!(r.protocol.as_deref(), Some("HTTP/1.1"));
        assert_eq!((l.status, l.bytes), (200, Some(18342)));
        assert_eq!(l.referrer.as_deref(), Some("https://www.google.com/"));
        assert!(l.user_agent.as_deref().unwrap().contains("Chrome/122"));
        // Nothing is copied when nothing is escaped.
        assert!(matches!(l.user_agent, Some(Cow::Borrowed(_))));
        assert!(is_page(&l));
    }

    #[test]
    fn nginx_default_and_extra_fields() {
        let l = parse(NGINX);
        assert_eq!(l.format, LogFormat::Combined);
        assert_eq!(target(&l), "/pricing?plan=pro&utm_source=newsletter");
        assert_eq!(l.ts, 1_710_224_724_000);
        let e = l.to_event("example.com").unwrap();
        assert_eq!(e.kind, EventKind::Pageview);
        assert_eq!(e.url, "/pricing?plan=pro&utm_source=newsletter");
        assert_eq!(
            e.referrer.as_deref(),
            Some("https://news.ycombinator.com/item?id=1")
        );
        assert_eq!(e.ip.as_deref(), Some("198.51.100.23"));
        assert_eq!((e.session, e.visitor), (None, None));
        assert_eq!((e.vw, e.vh, e.dh), (None, None, None));

        let l = parse(NGINX_TIMED);
        assert_eq!(l.format, LogFormat::Combined);
        assert_eq!(l.referrer, None);
        assert!(l.user_agent.as_deref().unwrap().ends_with("Firefox/123.0"));
        // Tabs and runs of spaces separate fields too.
        let tabbed = NGINX.replacen(' ', "\t", 1).replacen(" - ", "  -  ", 1);
        assert_eq!(parse(&tabbed).host, Some("198.51.100.23"));
    }

    #[test]
    fn vhost_combined_with_ipv6() {
        let l = parse(VHOST);
        assert_eq!(l.format, LogFormat::VhostCombined);
        assert_eq!((l.vhost, l.port), (Some("shop.example.com"), Some(443)));
        assert_eq!(l.host, Some("2001:db8:85a3::8a2e:370:7334"));
        assert_eq!(l.ts, 1_710_224_724_000);
        assert_eq!(target(&l), "/cart");
        let e = l.to_event("shop.example.com").unwrap();
        assert_eq!(e.ip.as_deref(), Some("2001:db8:85a3::8a2e:370:7334"));
        // An IPv6 virtual host in brackets.
        let text = VHOST.replacen("shop.example.com:443", "[2001:db8::1]:8080", 1);
        let l = parse(&text);
        assert_eq!((l.vhost, l.port), (Some("2001:db8::1"), Some(8080)));
        // An IPv6 client in a plain combined line is not taken for a vhost.
        let text = APACHE.replacen("203.0.113.195", "::ffff:203.0.113.195", 1);
        let l = parse(&text);
        assert_eq!(l.format, LogFormat::Combined);
        assert_eq!(l.host, Some("::ffff:203.0.113.195"));
    }

    #[test]
    fn common_parses_and_has_no_user_agent() {
        let l = parse(COMMON);
        assert_eq!(l.format, LogFormat::Common);
        assert_eq!(l.user, Some("frank"));
        assert_eq!(l.ts, 1_704_514_202_000);
        assert_eq!((l.referrer.clone(), l.user_agent.clone()), (None, None));
        assert!(is_page(&l));
        let e = l.to_event("example.com").unwrap_err();
        assert_eq!(e.field, LogField::UserAgent);
        assert!(e.reason.contains("Common Log Format"), "{e}");
        // A combined line is not common, and the reverse.
        assert_eq!(
            parse_line(APACHE, LogFormat::Common).unwrap_err().field,
            LogField::Line
        );
        assert_eq!(
            parse_line(COMMON, LogFormat::Combined).unwrap_err().field,
            LogField::Referrer
        );
        // Trailing spaces are fine.
        assert!(parse_line(&format!("{COMMON}  "), LogFormat::Common).is_ok());
    }

    #[test]
    fn formats_are_exclusive() {
        for (line, want) in [
            (APACHE, LogFormat::Combined),
            (NGINX, LogFormat::Combined),
            (NGINX_TIMED, LogFormat::Combined),
            (VHOST, LogFormat::VhostCombined),
            (COMMON, LogFormat::Common),
        ] {
            let ok: Vec<LogFormat> = LogFormat::CONCRETE
                .into_iter()
                .filter(|&f| parse_line(line, f).is_ok())
                .collect();
            assert_eq!(ok, vec![want], "{line}");
        }
    }

    #[test]
    fn format_names() {
        for f in LogFormat::CONCRETE.into_iter().chain([LogFormat::Auto]) {
            assert_eq!(f.as_str().parse::<LogFormat>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        for bad in ["", "Combined", "clf", "ncsa", "json\u{7}"] {
            let e = bad.parse::<LogFormat>().unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("expected one of combined|vhost_combined|common|auto"));
            assert!(!msg.contains('\u{7}'));
        }
    }

    #[test]
    fn time_zones_to_exact_ms() {
        for (t, ms) in [
            ("12/Mar/2024:11:55:24 +0530", 1_710_224_724_000),
            ("12/Mar/2024:06:25:24 +0100", 1_710_221_124_000),
            ("10/Oct/2000:13:55:36 -0700", 971_211_336_000),
            ("12/Mar/2024:06:25:24 +0000", 1_710_224_724_000),
            ("31/Dec/1999:23:59:59 -1200", 946_727_999_000),
            ("01/Jan/2000:00:00:00 +1400", 946_634_400_000),
            ("29/Feb/2024:12:00:00 +0000", 1_709_208_000_000),
            ("01/Jan/1970:00:00:00 +0000", 0),
        ] {
            assert_eq!(parse_clf_time(t), Ok(ms), "{t}");
            let line = COMMON.replacen("05/Jan/2024:23:10:02 -0500", t, 1);
            assert_eq!(parse(&line).ts, ms, "{line}");
        }
    }

    #[test]
    fn escaped_quotes_and_bytes() {
        let line = r#"192.0.2.7 - - [12/Mar/2024:06:25:24 +0000] "GET /search?q=\"heat\" HTTP/1.1" 200 10 "https://example.com/?q=a\\b" "Mozilla/5.0 \"Quoted\" Agent""#;
        let l = parse(line);
        assert_eq!(target(&l), r#"/search?q="heat""#);
        assert_eq!(l.referrer.as_deref(), Some(r"https://example.com/?q=a\b"));
        assert_eq!(
            l.user_agent.as_deref(),
            Some(r#"Mozilla/5.0 "Quoted" Agent"#)
        );
        // Nginx escapes quotes and non-ASCII bytes as \xXX.
        let line = r#"192.0.2.7 - - [12/Mar/2024:06:25:24 +0000] "GET / HTTP/1.1" 200 10 "-" "Bot \x22caf\xC3\xA9\x22 \xFF""#;
        assert_eq!(
            parse(line).user_agent.as_deref(),
            Some("Bot \"caf\u{e9}\" \u{fffd}")
        );
        // An unescaped quote inside a field is kept.
        let line = r#"192.0.2.7 - - [12/Mar/2024:06:25:24 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla/5.0 (compatible; "Odd"Bot)""#;
        assert_eq!(
            parse(line).user_agent.as_deref(),
            Some(r#"Mozilla/5.0 (compatible; "Odd"Bot)"#)
        );
        assert_eq!(unescape(r"a\qb\x4"), r"a\qb\x4");
        assert_eq!(unescape("a\\"), "a\\");
        assert_eq!(unescape(r"\n\t\r\\"), "\n\t\r\\");
    }

    #[test]
    fn odd_requests_parse_as_non_pages() {
        let base = |req: &str, status: &str| {
            format!(r#"192.0.2.9 - - [12/Mar/2024:06:25:24 +0000] "{req}" {status} 157 "-" "-""#)
        };
        for req in [
            "-",
            "",
            r"\x16\x03\x01\x00\xF7\x01\x00\x00\xF3\x03\x03",
            "GET",
            "GET  ",
            "get / HTTP/1.1",
            "GET / FTP/1.0",
            "GET /a b c HTTP/1.1",
            "\\x00",
            "<html>",
        ] {
            let line = base(req, "400");
            let l = parse(&line);
            assert!(
                l.request.is_none() || classify(&l) != PageVerdict::Page,
                "{line}"
            );
            assert_eq!(l.status, 400);
        }
        assert_eq!(classify(&parse(&base("-", "400"))), PageVerdict::NoRequest);
        assert_eq!(
            classify(&parse(&base(r"\x16\x03\x01", "400"))),
            PageVerdict::NoRequest
        );
        // HTTP/0.9 style: no protocol.
        let text = base("GET /old", "200");
        let l = parse(&text);
        assert_eq!(target(&l), "/old");
        assert_eq!(l.request.as_ref().unwrap().protocol, None);
        assert_eq!(classify(&l), PageVerdict::Page);
    }

    #[test]
    fn malformed_lines_name_their_field() {
        let ok = APACHE;
        let cases: Vec<(String, LogField)> = vec![
            (String::new(), LogField::Line),
            ("203.0.113.195".into(), LogField::Ident),
            ("203.0.113.195 - -".into(), LogField::Time),
            (
                ok.replacen("[12/Mar/2024:06:25:24 +0100]", "12/Mar/2024:06:25:24", 1),
                LogField::Time,
            ),
            (ok.replacen("Mar", "Mrz", 1), LogField::Time),
            (ok.replacen("12/Mar", "32/Mar", 1), LogField::Time),
            (ok.replacen("12/Mar/2024", "29/Feb/2023", 1), LogField::Time),
            (ok.replacen("06:25:24", "25:25:24", 1), LogField::Time),
            (ok.replacen("06:25:24", "06:60:24", 1), LogField::Time),
            (ok.replacen("+0100", "0100", 1), LogField::Time),
            (ok.replacen("+0100", "+0160", 1), LogField::Time),
            (ok.replacen("+0100", "+2500", 1), LogField::Time),
            (ok.replacen("+0100]", "+0100", 1), LogField::Time),
            (ok.replacen(":06:25:24", ":6:25:24", 1), LogField::Time),
            (ok.replacen("06:25:24 ", "06:25:24.123 ", 1), LogField::Time),
            (ok.replacen("\"GET", "GET", 1), LogField::Request),
            (
                ok.split(" 200 ")
                    .next()
                    .unwrap()
                    .trim_end_matches('"')
                    .into(),
                LogField::Request,
            ),
            (ok.replacen(" 200 ", " OK ", 1), LogField::Status),
            (ok.replacen(" 200 ", " 2000 ", 1), LogField::Status),
            (ok.replacen(" 200 ", " 099 ", 1), LogField::Status),
            (ok.replacen(" 200 ", " 600 ", 1), LogField::Status),
            (ok.replacen(" 200 ", " -1 ", 1), LogField::Status),
            (ok.replacen(" 18342 ", " 18k ", 1), LogField::Bytes),
            (
                ok.replacen(" 18342 ", " 99999999999999999999999 ", 1),
                LogField::Bytes,
            ),
            (ok.replacen(" 18342 ", " -5 ", 1), LogField::Bytes),
            (
                ok.split(" \"https").next().unwrap().into(),
                LogField::Referrer,
            ),
            (
                ok.replacen("\"https://www.google.com/\"", "https://www.google.com/", 1),
                LogField::Referrer,
            ),
            (
                ok.split(" \"Mozilla").next().unwrap().into(),
                LogField::UserAgent,
            ),
            (ok.trim_end_matches('"').into(), LogField::UserAgent),
            (
                ok.replacen("203.0.113.195", "203.0.\u{1}113", 1),
                LogField::Host,
            ),
        ];
        for (line, field) in cases {
            let e = parse_line(&line, LogFormat::Combined).unwrap_err();
            assert_eq!(e.field, field, "{line}: {e}");
            assert!(!e.reason.is_empty());
            // Auto names the same field (the furthest error), or the line
            // is a common one (combined without referrer and User-Agent).
            match parse_line(&line, LogFormat::Auto) {
                Ok(l) => assert_eq!(l.format, LogFormat::Common, "{line}"),
                Err(a) => assert_eq!(a.field, field, "auto {line}: {a}"),
            }
            assert!(
                e.to_string().starts_with(&format!("field `{field}`")),
                "{e}"
            );
        }
        // vhost errors.
        for bad in ["shop.example.com", "shop.example.com:http", "shop:70000"] {
            let line = VHOST.replacen("shop.example.com:443", bad, 1);
            let e = parse_line(&line, LogFormat::VhostCombined).unwrap_err();
            assert_eq!(e.field, LogField::Vhost, "{line}: {e}");
        }
    }

    #[test]
    fn error_values_are_cut_and_escaped() {
        let long = "x".repeat(500);
        let line = APACHE.replacen(" 200 ", &format!(" {long} "), 1);
        let e = parse_line(&line, LogFormat::Combined).unwrap_err();
        assert_eq!(e.field, LogField::Status);
        assert_eq!(e.value.chars().count(), MAX_SHOWN_CHARS + 3);
        assert!(e.value.ends_with("..."));
        let e = parse_line(
            &APACHE.replacen(" 200 ", " 2\u{1b}[31m ", 1),
            LogFormat::Combined,
        )
        .unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
        assert!(e.to_string().contains("\\u{1b}"), "{e}");
        let le = e.clone().at(7);
        assert_eq!((le.line(), le.field()), (7, Some(LogField::Status)));
        assert!(le.to_string().starts_with("line 7: field `status`"), "{le}");
    }

    #[test]
    fn page_rule_table() {
        let line = |method: &str, target: &str, status: u16| {
            format!(
                r#"192.0.2.1 - - [12/Mar/2024:06:25:24 +0000] "{method} {target} HTTP/1.1" {status} 100 "-" "Mozilla/5.0""#
            )
        };
        use PageVerdict::*;
        let table: &[(&str, &str, u16, PageVerdict)] = &[
            ("GET", "/", 200, Page),
            ("GET", "/pricing", 200, Page),
            ("GET", "/blog/post-1/", 200, Page),
            ("GET", "/index.html", 200, Page),
            ("GET", "/wp-login.php", 200, Page),
            ("GET", "/search?q=a.css", 200, Page),
            ("GET", "/v1.2/release", 200, Page),
            ("GET", "/.", 200, Probe),
            ("GET", "/docs#intro", 200, Page),
            ("GET", "/a", 203, Page),
            ("GET", "/a", 304, Page),
            ("GET", "/a", 204, Status),
            ("GET", "/a", 206, Status),
            ("GET", "/a", 301, Status),
            ("GET", "/a", 302, Status),
            ("GET", "/a", 404, Status),
            ("GET", "/a", 500, Status),
            ("HEAD", "/", 200, Method),
            ("POST", "/checkout", 200, Method),
            ("OPTIONS", "*", 200, Method),
            ("CONNECT", "example.com:443", 200, Method),
            ("GET", "http://other.example/", 200, NotPath),
            ("GET", "*", 200, NotPath),
            ("GET", "/app.css", 200, Asset),
            ("GET", "/static/app.min.js?v=3", 200, Asset),
            ("GET", "/img/Logo.PNG", 200, Asset),
            ("GET", "/favicon.ico", 200, Asset),
            ("GET", "/fonts/a.woff2", 200, Asset),
            ("GET", "/app.js.map", 200, Asset),
            ("GET", "/robots.txt", 200, Asset),
            ("GET", "/sitemap.xml", 200, Asset),
            ("GET", "/files/report.pdf", 200, Asset),
            ("GET", "/feed.json", 304, Asset),
            ("GET", "/.env", 200, Probe),
            ("GET", "/.git/config", 200, Probe),
            ("GET", "/.well-known/security.txt", 200, Asset),
            ("GET", "/.well-known/change-password", 200, Probe),
            ("GET", "/api/v1/users", 200, Probe),
            ("GET", "/API", 200, Probe),
            ("GET", "/wp-json/wp/v2/posts", 200, Probe),
            ("GET", "/healthz", 200, Probe),
            ("GET", "/health/", 200, Probe),
            ("GET", "/metrics?x=1", 200, Probe),
            ("GET", "/server-status", 200, Probe),
            ("GET", "/apis", 200, Page),
            ("GET", "/blog/api", 200, Page),
            ("GET", "/health-insurance", 200, Page),
        ];
        for &(method, target, status, want) in table {
            let text = line(method, target, status);
            let l = parse(&text);
            assert_eq!(classify(&l), want, "{method} {target} {status}");
            assert_eq!(is_page(&l), want == Page);
        }
        assert!(page_status(299) && !page_status(199) && !page_status(305));
    }

    #[test]
    fn events_need_address_and_user_agent() {
        let text = APACHE.replacen("203.0.113.195", "-", 1);
        let l = parse(&text);
        assert_eq!(l.host, None);
        assert_eq!(l.to_event("a.com").unwrap_err().field, LogField::Host);
        let text = APACHE.replacen(APACHE.rsplit(" \"").next().unwrap(), "-\"", 1);
        let l = parse(&text);
        assert_eq!(l.user_agent, None);
        let e = l.to_event("a.com").unwrap_err();
        assert_eq!(e.field, LogField::UserAgent);
        assert!(!e.reason.contains("Common"));
        let text = APACHE.replacen("GET /blog/heatmaps-explained/ HTTP/1.1", "-", 1);
        let l = parse(&text);
        assert_eq!(l.to_event("a.com").unwrap_err().field, LogField::Request);
        // A complete event validates once pageviews may lack a viewport;
        // here the viewport is the only thing validation asks for.
        let mut e = parse(APACHE).to_event("a.com").unwrap();
        (e.vw, e.vh, e.dh) = (Some(1), Some(1), Some(1));
        e.validate().unwrap();
    }

    #[test]
    fn detection_votes() {
        assert_eq!(
            detect_format([APACHE, NGINX, COMMON]),
            Some(LogFormat::Combined)
        );
        assert_eq!(
            detect_format([COMMON, COMMON, APACHE]),
            Some(LogFormat::Common)
        );
        assert_eq!(
            detect_format([VHOST, APACHE]),
            Some(LogFormat::VhostCombined)
        );
        assert_eq!(detect_format(["", "x y z"]), None);
        assert_eq!(detect_format([]), None);
    }

    fn collect(input: &[u8], format: LogFormat) -> Vec<(u64, Result<Option<Event>, LogError>)> {
        read_log(input, format, "example.com").collect()
    }

    #[test]
    fn reader_over_a_mixed_file() {
        let mut file = Vec::new();
        file.extend_from_slice(b"\xEF\xBB\xBF");
        for l in [
            APACHE,                                                       // 1 page
            "",                                                           // 2 blank
            &APACHE.replacen("/blog/heatmaps-explained/", "/app.css", 1), // 3 asset
            "   \t",                                                      // 4 blank
            "not a log line",                                             // 5 error
            NGINX,                                                        // 6 page
            NGINX_TIMED,                                                  // 7 page
            &APACHE.replacen(" 200 ", " 404 ", 1),                        // 8 not a page
        ] {
            file.extend_from_slice(l.as_bytes());
            file.extend_from_slice(b"\r\n");
        }
        file.extend_from_slice(b"198.51.100.1 - - [12/Mar/2024:06:25:24 +0000] \"GET /caf\xE9 HTTP/1.1\" 200 1 \"-\" \"x\"\r\n"); // 9 not UTF-8
        file.extend_from_slice(NGINX.as_bytes()); // 10 page, no final newline
        let items = collect(&file, LogFormat::Auto);
        let lines: Vec<u64> = items.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [1, 3, 5, 6, 7, 8, 9, 10]);
        let pages: Vec<&str> = items
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok()?.as_ref().map(|e| e.url.as_str()))
            .collect();
        assert_eq!(
            pages,
            [
                "/blog/heatmaps-explained/",
                "/pricing?plan=pro&utm_source=newsletter",
                "/pricing",
                "/pricing?plan=pro&utm_source=newsletter"
            ]
        );
        let first = items[0].1.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(first.ip.as_deref(), Some("203.0.113.195"));
        assert_eq!(first.site, "example.com");
        assert!(!first.ua.as_deref().unwrap().ends_with('\r'));
        let errs: Vec<(u64, Option<LogField>)> = items
            .iter()
            .filter_map(|(_, r)| r.as_ref().err().map(|e| (e.line(), e.field())))
            .collect();
        assert_eq!(errs, [(5, Some(LogField::Time)), (9, Some(LogField::Line))]);
        let e9 = items[6].1.as_ref().unwrap_err().to_string();
        assert!(e9.contains("line 9") && e9.contains("UTF-8"), "{e9}");

        let mut r = read_log(&file[..], LogFormat::Auto, "example.com");
        assert_eq!(r.format(), LogFormat::Auto);
        assert!(r.next().is_some());
        assert_eq!(r.format(), LogFormat::Combined);
    }

    #[test]
    fn reader_explicit_format_and_fallback() {
        // An explicit format is used as given.
        let items = collect(
            format!("{APACHE}\n{COMMON}\n").as_bytes(),
            LogFormat::Common,
        );
        assert_eq!(
            items[0].1.as_ref().unwrap_err().field(),
            Some(LogField::Line)
        );
        assert_eq!(
            items[1].1.as_ref().unwrap_err().field(),
            Some(LogField::UserAgent)
        );
        // Nothing in the first lines parses: each later line is tried in
        // every format.
        let mut text = "junk\n".repeat(DETECT_LINES);
        text.push_str(VHOST);
        text.push('\n');
        text.push_str(COMMON);
        let mut r = read_log(text.as_bytes(), LogFormat::Auto, "s");
        let items: Vec<_> = r.by_ref().collect();
        assert_eq!(r.format(), LogFormat::Auto);
        assert_eq!(items.len(), DETECT_LINES + 2);
        let vhost = items[DETECT_LINES].1.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(vhost.url, "/cart");
        assert_eq!(
            items[DETECT_LINES + 1].1.as_ref().unwrap_err().field(),
            Some(LogField::UserAgent)
        );
        // Empty input, only blank lines, a lone BOM.
        assert!(collect(b"", LogFormat::Auto).is_empty());
        assert!(collect(b"\n\r\n \n", LogFormat::Auto).is_empty());
        assert!(collect(b"\xEF\xBB\xBF", LogFormat::Combined).is_empty());
        // A BOM after the first line is not skipped.
        let items = collect(
            format!("\n\u{feff}{APACHE}").as_bytes(),
            LogFormat::Combined,
        );
        assert_eq!(items[0].0, 2);
        assert!(items[0].1.is_err());
    }

    #[test]
    fn reader_bounds_long_lines() {
        let mut text = "a".repeat(MAX_LINE_BYTES + 10);
        text.push('\n');
        text.push_str(APACHE);
        // A tiny buffer makes the reader stitch lines from many reads.
        let items = collect_buf(text.as_bytes(), 7);
        assert_eq!(items.len(), 2);
        let e = items[0].1.as_ref().unwrap_err();
        assert_eq!((e.line(), e.field()), (1, Some(LogField::Line)));
        assert!(e.to_string().contains("longer than the limit"), "{e}");
        assert!(items[1].1.as_ref().unwrap().is_some());
        // Exactly at the limit, with CRLF: read, and simply not a log line.
        let mut text = "b".repeat(MAX_LINE_BYTES);
        text.push_str("\r\n");
        let items = collect_buf(text.as_bytes(), 4096);
        assert!(!items[0]
            .1
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("longer"));
    }

    fn collect_buf(input: &[u8], cap: usize) -> Vec<(u64, Result<Option<Event>, LogError>)> {
        read_log(
            std::io::BufReader::with_capacity(cap, input),
            LogFormat::Auto,
            "s",
        )
        .collect()
    }

    /// A reader that fails after some bytes.
    struct Failing<'a>(&'a [u8]);

    impl std::io::Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reader_reports_io_errors_then_stops() {
        for format in [LogFormat::Auto, LogFormat::Combined] {
            let text = format!("{APACHE}\n{NGINX}\n");
            let r = read_log(
                std::io::BufReader::new(Failing(text.as_bytes())),
                format,
                "s",
            );
            let items: Vec<_> = r.collect();
            assert_eq!(items.len(), 3, "{format}");
            let e = items[2].1.as_ref().unwrap_err();
            assert!(matches!(e, LogError::Io { line: 3, .. }), "{e}");
            assert_eq!(e.field(), None);
            assert!(e.to_string().contains("disk on fire"));
        }
    }

    fn sample_line() -> impl Strategy<Value = String> {
        prop::sample::select(vec![APACHE, NGINX, NGINX_TIMED, VHOST, COMMON]).prop_map(String::from)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            for format in [LogFormat::Auto, LogFormat::Combined, LogFormat::Common, LogFormat::VhostCombined] {
                for (n, item) in read_log(&bytes[..], format, "s") {
                    prop_assert!(n >= 1);
                    if let Err(e) = item {
                        prop_assert_eq!(e.line(), n);
                        let _ = e.to_string();
                    }
                }
            }
        }

        #[test]
        fn mutated_lines_never_panic(
            line in sample_line(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        ) {
            let mut b = line.into_bytes();
            for (at, byte, op) in edits {
                let i = at.index(b.len() + 1);
                match op {
                    0 => b.insert(i, byte),
                    1 if i < b.len() => { b.remove(i); }
                    _ if i < b.len() => b[i] = byte,
                    _ => {}
                }
            }
            let text = String::from_utf8_lossy(&b);
            for format in LogFormat::CONCRETE.into_iter().chain([LogFormat::Auto]) {
                if let Ok(l) = parse_line(&text, format) {
                    prop_assert!(l.format != LogFormat::Auto);
                    let _ = classify(&l);
                    let _ = l.to_event("s");
                }
            }
            let _ = read_log(&b[..], LogFormat::Auto, "s").count();
        }

        #[test]
        fn any_valid_time_roundtrips(
            secs in 0i64..253_402_300_799,
            off_min in -(23 * 60 + 59)..=(23i32 * 60 + 59),
        ) {
            let off = time::UtcOffset::from_whole_seconds(off_min * 60).unwrap();
            let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap().to_offset(off);
            let text = format!(
                "{:02}/{}/{:04}:{:02}:{:02}:{:02} {}{:02}{:02}",
                t.day(),
                MONTHS[usize::from(u8::from(t.month())) - 1],
                t.year(),
                t.hour(),
                t.minute(),
                t.second(),
                if off_min < 0 { '-' } else { '+' },
                off_min.abs() / 60,
                off_min.abs() % 60,
            );
            prop_assume!((0..=9999).contains(&t.year()));
            prop_assert_eq!(parse_clf_time(&text), Ok(secs * 1000), "{}", text);
        }
    }
}
