//! The page rule: which lines are pageviews, and the event of one.

use super::*;

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

pub(super) fn page_status(status: u16) -> bool {
    status == 304 || ((200..=299).contains(&status) && status != 204 && status != 206)
}

/// The path of a request target: up to its query or fragment.
pub(super) fn path_of(target: &str) -> &str {
    match target.find(['?', '#']) {
        Some(i) => target.get(..i).unwrap_or(target),
        None => target,
    }
}

pub(super) fn is_asset_path(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            ASSET_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(ext))
        }
        _ => false,
    }
}

pub(super) fn is_probe_path(path: &str) -> bool {
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
