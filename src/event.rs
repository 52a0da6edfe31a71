//! The event model: Event NDJSON v1 and its typed Rust form.
//!
//! One JSON object per line. Unknown fields are ignored; a wrong type, a
//! missing required field or an out-of-range value rejects the line with an
//! [`EventError`] that names the field. Typed text is never accepted: a line
//! carrying `value` or `text` is rejected whatever its type.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize};

/// Longest accepted `site`, in bytes (a DNS name).
pub const MAX_SITE_LEN: usize = 253;
/// Longest accepted `session` or `visitor` id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted `url` or `referrer`, in bytes.
pub const MAX_URL_LEN: usize = 4096;
/// Longest accepted `ua`, in bytes.
pub const MAX_UA_LEN: usize = 1024;
/// Longest accepted `selector`, in bytes.
pub const MAX_SELECTOR_LEN: usize = 1024;
/// Longest accepted custom event `name`, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Longest accepted `lang` or `tz`, in bytes.
pub const MAX_SHORT_LEN: usize = 64;
/// Largest accepted coordinate or size in pixels (1,000,000 px).
pub const MAX_PX: u32 = 1_000_000;
/// Largest accepted `ts`: 9999-12-31T23:59:59.999Z.
pub const MAX_TS: i64 = 253_402_300_799_999;
/// Largest in-element position (`ex`, `ey`), in 1/10000 of the element.
pub const MAX_ELEMENT_POS: u16 = 10_000;

/// What kind of interaction an event records (`type` in NDJSON).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A page was loaded.
    #[default]
    Pageview = 0,
    /// A click at document coordinates `x`, `y`.
    Click = 1,
    /// A mouse position sample.
    Move = 2,
    /// A scroll position (`y` is scrollTop).
    Scroll = 3,
    /// Keystrokes into a field: only their count is kept.
    Input = 4,
    /// The visitor left the page.
    Leave = 5,
    /// An application-defined event with a `name`.
    Custom = 6,
}

impl EventKind {
    /// Every kind, in code order.
    pub const ALL: [EventKind; 7] = [
        EventKind::Pageview,
        EventKind::Click,
        EventKind::Move,
        EventKind::Scroll,
        EventKind::Input,
        EventKind::Leave,
        EventKind::Custom,
    ];

    /// The NDJSON name of the kind.
    ///
    /// ```
    /// assert_eq!(heatstore::EventKind::Click.as_str(), "click");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Pageview => "pageview",
            EventKind::Click => "click",
            EventKind::Move => "move",
            EventKind::Scroll => "scroll",
            EventKind::Input => "input",
            EventKind::Leave => "leave",
            EventKind::Custom => "custom",
        }
    }

    /// The one-byte code stored on disk.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind of an on-disk code, `None` for an unknown one.
    pub fn from_code(code: u8) -> Option<EventKind> {
        EventKind::ALL.get(usize::from(code)).copied()
    }

    /// Parses an NDJSON `type` name.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One interaction, as in Event NDJSON v1.
///
/// Optional fields that do not apply to the event's kind are ignored at
/// ingest. Build one with [`Event::new`] and set the fields you have:
///
/// ```
/// use heatstore::{Event, EventKind};
/// let mut e = Event::new("example.com", 1_700_000_000_000, EventKind::Click, "s1", "/pricing");
/// e.x = Some(120);
/// e.y = Some(640);
/// e.validate().unwrap();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Tenant: the client's website, 1..=253 bytes.
    pub site: String,
    /// When it happened, ms since the Unix epoch (UTC).
    pub ts: i64,
    /// Interaction kind.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Random session id (first-party cookie), 1..=128 bytes. May be absent
    /// only on cookieless events that carry `ip` and `ua`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Random visitor id; absent, the session stands for the visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
    /// The page: an absolute URL or a path.
    pub url: String,
    /// HTTP referrer (pageview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// User-Agent header (pageview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ua: Option<String>,
    /// Browser language, a BCP 47 tag (pageview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Browser IANA time zone (pageview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Screen width in px (pageview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_w: Option<u32>,
    /// Screen height in px (pageview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_h: Option<u32>,
    /// Viewport width in px: required on pageview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vw: Option<u32>,
    /// Viewport height in px: required on pageview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vh: Option<u32>,
    /// Document height in px: required on pageview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dh: Option<u32>,
    /// Page load time in ms (pageview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<u32>,
    /// Document x (pageX): required on click and move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<u32>,
    /// Document y (pageY) on click and move; scrollTop on scroll. Required on
    /// those three kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<u32>,
    /// CSS selector of the target element (click, input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Position inside the target element, 0..=10000 of its width (click).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ex: Option<u16>,
    /// Position inside the target element, 0..=10000 of its height (click).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ey: Option<u16>,
    /// Number of characters typed: required on input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u32>,
    /// Time spent on the page in ms: required on leave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
    /// Custom event name: required on custom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Client IP: never stored, only used to derive a cookieless visitor id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Do-Not-Track.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnt: Option<bool>,
}

/// Why an event was rejected: the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    /// The offending field (`"json"` when the line is not a JSON object).
    pub field: Cow<'static, str>,
    /// What is wrong, with the value where it helps.
    pub reason: String,
}

impl EventError {
    pub(crate) fn new(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        EventError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == "json" {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "field `{}`: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for EventError {}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    if s.is_empty() {
        return Err(EventError::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(EventError::new(
            field,
            format!("is {} bytes, longer than the limit of {max}", s.len()),
        ));
    }
    Ok(())
}

fn check_opt_len(field: &'static str, s: Option<&str>, max: usize) -> Result<(), EventError> {
    match s {
        Some(s) => check_len(field, s, max),
        None => Ok(()),
    }
}

fn check_px(field: &'static str, v: Option<u32>) -> Result<(), EventError> {
    match v {
        Some(v) if v > MAX_PX => Err(EventError::new(
            field,
            format!("{v} is out of range 0..={MAX_PX}"),
        )),
        _ => Ok(()),
    }
}

fn require<T>(field: &'static str, kind: EventKind, v: &Option<T>) -> Result<(), EventError> {
    if v.is_none() {
        return Err(EventError::new(
            field,
            format!("is required on `{kind}` events"),
        ));
    }
    Ok(())
}

impl Event {
    /// A new event with the required common fields and nothing else.
    pub fn new(site: &str, ts: i64, kind: EventKind, session: &str, url: &str) -> Event {
        Event {
            site: site.to_owned(),
            ts,
            kind,
            session: Some(session.to_owned()),
            url: url.to_owned(),
            ..Event::default()
        }
    }

    /// Checks every rule of Event NDJSON v1 that the types do not.
    pub fn validate(&self) -> Result<(), EventError> {
        self.view().validate()
    }

    /// The event as a borrowed view, the form ingest reads.
    pub(crate) fn view(&self) -> EventRef<'_> {
        EventRef {
            site: &self.site,
            ts: self.ts,
            kind: self.kind,
            session: self.session.as_deref(),
            visitor: self.visitor.as_deref(),
            url: &self.url,
            referrer: self.referrer.as_deref(),
            ua: self.ua.as_deref(),
            lang: self.lang.as_deref(),
            tz: self.tz.as_deref(),
            screen_w: self.screen_w,
            screen_h: self.screen_h,
            vw: self.vw,
            vh: self.vh,
            dh: self.dh,
            load_ms: self.load_ms,
            x: self.x,
            y: self.y,
            selector: self.selector.as_deref(),
            ex: self.ex,
            ey: self.ey,
            len: self.len,
            duration_ms: self.duration_ms,
            name: self.name.as_deref(),
            ip: self.ip.as_deref(),
            dnt: self.dnt,
        }
    }

    /// Decodes and validates one line of Event NDJSON v1.
    ///
    /// ```
    /// let e = heatstore::Event::from_json_line(
    ///     br#"{"site":"a.com","ts":"2024-05-01T10:00:00Z","type":"scroll","session":"s","url":"/x","y":300}"#,
    /// ).unwrap();
    /// assert_eq!(e.ts, 1_714_557_600_000);
    /// let err = heatstore::Event::from_json_line(br#"{"site":"a.com","ts":1,"type":"input","session":"s","url":"/","len":3,"value":"hunter2"}"#).unwrap_err();
    /// assert_eq!(err.field, "value");
    /// ```
    pub fn from_json_line(line: &[u8]) -> Result<Event, EventError> {
        with_json_line(line, |e| e.to_event())
    }

    /// Encodes the event as one line of Event NDJSON v1 (no newline).
    pub fn to_json_line(&self) -> String {
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Decodes and validates one line of Event NDJSON v1 and hands `f` a view
/// of it that borrows the line's strings: nothing is copied.
pub(crate) fn with_json_line<T>(
    line: &[u8],
    f: impl FnOnce(&EventRef<'_>) -> T,
) -> Result<T, EventError> {
    let raw: RawEvent<'_> = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        Err(e) => return Err(diagnose(line, e)),
    };
    Ok(f(&raw.view()?))
}

/// [`with_json_line`] for a line already known to be UTF-8 (an import
/// checks whole blocks at once), so string fields are not checked again.
pub(crate) fn with_json_str<T>(
    line: &str,
    f: impl FnOnce(&EventRef<'_>) -> T,
) -> Result<T, EventError> {
    let raw: RawEvent<'_> = match serde_json::from_str(line) {
        Ok(raw) => raw,
        Err(e) => return Err(diagnose(line.as_bytes(), e)),
    };
    Ok(f(&raw.view()?))
}

/// A borrowed [`Event`]: what ingest normalizes, so that a decoded NDJSON
/// line is stored without copying its strings. The fields mean what
/// [`Event`]'s do.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EventRef<'a> {
    pub site: &'a str,
    pub ts: i64,
    pub kind: EventKind,
    pub session: Option<&'a str>,
    pub visitor: Option<&'a str>,
    pub url: &'a str,
    pub referrer: Option<&'a str>,
    pub ua: Option<&'a str>,
    pub lang: Option<&'a str>,
    pub tz: Option<&'a str>,
    pub screen_w: Option<u32>,
    pub screen_h: Option<u32>,
    pub vw: Option<u32>,
    pub vh: Option<u32>,
    pub dh: Option<u32>,
    pub load_ms: Option<u32>,
    pub x: Option<u32>,
    pub y: Option<u32>,
    pub selector: Option<&'a str>,
    pub ex: Option<u16>,
    pub ey: Option<u16>,
    pub len: Option<u32>,
    pub duration_ms: Option<u32>,
    pub name: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub dnt: Option<bool>,
}

impl EventRef<'_> {
    /// Checks every rule of Event NDJSON v1 that the types do not.
    pub fn validate(&self) -> Result<(), EventError> {
        validate_site(self.site)?;
        if !(0..=MAX_TS).contains(&self.ts) {
            return Err(EventError::new(
                "ts",
                format!("{} is out of range 0..={MAX_TS}", self.ts),
            ));
        }
        check_opt_len("session", self.session, MAX_ID_LEN)?;
        check_opt_len("visitor", self.visitor, MAX_ID_LEN)?;
        if self.session.is_none() && !(self.ip.is_some() && self.ua.is_some()) {
            return Err(EventError::new(
                "session",
                "is required (it may be absent only on cookieless events with `ip` and `ua`)",
            ));
        }
        check_len("url", self.url, MAX_URL_LEN)?;
        check_opt_len("referrer", self.referrer, MAX_URL_LEN)?;
        check_opt_len("ua", self.ua, MAX_UA_LEN)?;
        check_opt_len("lang", self.lang, MAX_SHORT_LEN)?;
        check_opt_len("tz", self.tz, MAX_SHORT_LEN)?;
        check_opt_len("selector", self.selector, MAX_SELECTOR_LEN)?;
        check_opt_len("name", self.name, MAX_NAME_LEN)?;
        check_opt_len("ip", self.ip, MAX_SHORT_LEN)?;
        for (field, v) in [
            ("screen_w", self.screen_w),
            ("screen_h", self.screen_h),
            ("vw", self.vw),
            ("vh", self.vh),
            ("dh", self.dh),
            ("x", self.x),
            ("y", self.y),
        ] {
            check_px(field, v)?;
        }
        for (field, v) in [("ex", self.ex), ("ey", self.ey)] {
            if let Some(v) = v {
                if v > MAX_ELEMENT_POS {
                    return Err(EventError::new(
                        field,
                        format!("{v} is out of range 0..={MAX_ELEMENT_POS}"),
                    ));
                }
            }
        }
        for (field, v) in [("vw", self.vw), ("dh", self.dh)] {
            if v == Some(0) {
                return Err(EventError::new(field, "must be greater than 0"));
            }
        }
        let kind = self.kind;
        match kind {
            EventKind::Pageview => {
                require("vw", kind, &self.vw)?;
                require("vh", kind, &self.vh)?;
                require("dh", kind, &self.dh)?;
            }
            EventKind::Click | EventKind::Move => {
                require("x", kind, &self.x)?;
                require("y", kind, &self.y)?;
            }
            EventKind::Scroll => require("y", kind, &self.y)?,
            EventKind::Input => require("len", kind, &self.len)?,
            EventKind::Leave => require("duration_ms", kind, &self.duration_ms)?,
            EventKind::Custom => {
                require("name", kind, &self.name)?;
            }
        }
        Ok(())
    }

    /// An owned copy.
    pub fn to_event(self) -> Event {
        let own = |s: Option<&str>| s.map(str::to_owned);
        Event {
            site: self.site.to_owned(),
            ts: self.ts,
            kind: self.kind,
            session: own(self.session),
            visitor: own(self.visitor),
            url: self.url.to_owned(),
            referrer: own(self.referrer),
            ua: own(self.ua),
            lang: own(self.lang),
            tz: own(self.tz),
            screen_w: self.screen_w,
            screen_h: self.screen_h,
            vw: self.vw,
            vh: self.vh,
            dh: self.dh,
            load_ms: self.load_ms,
            x: self.x,
            y: self.y,
            selector: own(self.selector),
            ex: self.ex,
            ey: self.ey,
            len: self.len,
            duration_ms: self.duration_ms,
            name: own(self.name),
            ip: own(self.ip),
            dnt: self.dnt,
        }
    }
}

/// Checks a site name. A site is named like the host it runs on:
/// 1..=253 bytes of ASCII letters, digits, `-`, `_` and `.`, optionally
/// followed by `:` and a port number; it starts and ends with a letter or
/// digit and has no two dots in a row. No slashes, spaces, control
/// characters or other bytes: an internationalized name is given in its
/// `xn--` form.
///
/// ```
/// use heatstore::event::validate_site;
/// assert!(validate_site("shop.example.com").is_ok());
/// assert!(validate_site("localhost:8080").is_ok());
/// assert!(validate_site("../../etc").is_err());
/// assert!(validate_site("a/b").is_err());
/// assert!(validate_site("a\0b").is_err());
/// ```
pub fn validate_site(site: &str) -> Result<(), EventError> {
    check_len("site", site, MAX_SITE_LEN)?;
    let (host, port) = match site.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (site, None),
    };
    let bad = |why: &str| {
        let shown: String = site.chars().take(64).collect();
        Err(EventError::new(
            "site",
            format!("{shown:?} is not a host-like site name: {why}"),
        ))
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return bad("the part after `:` must be a port number");
        }
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return bad(&format!(
            "{c:?} is not allowed (letters, digits, `-`, `_` and `.` only)"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(host.chars().next()) || !edge_ok(host.chars().last()) {
        return bad("it must start and end with a letter or digit");
    }
    if host.contains("..") {
        return bad("two dots in a row");
    }
    Ok(())
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

/// Parses a time given as ms since the epoch or as RFC 3339.
pub fn parse_time(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| parse_rfc3339_ms(s))
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    site: Text<'a>,
    ts: RawTs<'a>,
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(default, borrow)]
    session: Option<Text<'a>>,
    #[serde(default, borrow)]
    visitor: Option<Text<'a>>,
    #[serde(borrow)]
    url: Text<'a>,
    #[serde(default, borrow)]
    referrer: Option<Text<'a>>,
    #[serde(default, borrow)]
    ua: Option<Text<'a>>,
    #[serde(default, borrow)]
    lang: Option<Text<'a>>,
    #[serde(default, borrow)]
    tz: Option<Text<'a>>,
    #[serde(default)]
    screen_w: Option<u32>,
    #[serde(default)]
    screen_h: Option<u32>,
    #[serde(default)]
    vw: Option<u32>,
    #[serde(default)]
    vh: Option<u32>,
    #[serde(default)]
    dh: Option<u32>,
    #[serde(default)]
    load_ms: Option<u32>,
    #[serde(default)]
    x: Option<u32>,
    #[serde(default)]
    y: Option<u32>,
    #[serde(default, borrow)]
    selector: Option<Text<'a>>,
    #[serde(default)]
    ex: Option<u16>,
    #[serde(default)]
    ey: Option<u16>,
    #[serde(default)]
    len: Option<u32>,
    #[serde(default)]
    duration_ms: Option<u32>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    ip: Option<Text<'a>>,
    #[serde(default)]
    dnt: Option<bool>,
    #[serde(default)]
    value: Option<IgnoredAny>,
    #[serde(default)]
    text: Option<IgnoredAny>,
}

/// A string field of a line: borrowed from the line unless it has escapes.
///
/// `Option<Cow<str>>` would not do: serde borrows only a bare `Cow<str>`,
/// and through an `Option` it allocates every string.
struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

enum RawTs<'a> {
    Ms(i64),
    Text(Cow<'a, str>),
    Bad(String),
}

impl<'de: 'a, 'a> Deserialize<'de> for RawTs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TsVisitor;
        impl<'de> Visitor<'de> for TsVisitor {
            type Value = RawTs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer of ms since the epoch or an RFC 3339 string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawTs::Ms(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or_else(|_| RawTs::Bad(v.to_string()), RawTs::Ms))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawTs::Bad(v.to_string()))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawTs::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawTs::Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_any(TsVisitor)
    }
}

impl RawEvent<'_> {
    /// The event, checked.
    fn view(&self) -> Result<EventRef<'_>, EventError> {
        fn opt<'b>(s: &'b Option<Text<'_>>) -> Option<&'b str> {
            s.as_deref()
        }
        if self.value.is_some() {
            return Err(EventError::new(
                "value",
                "typed text is never accepted; send only `len`",
            ));
        }
        if self.text.is_some() {
            return Err(EventError::new(
                "text",
                "typed text is never accepted; send only `len`",
            ));
        }
        let kind = EventKind::parse(&self.kind).ok_or_else(|| {
            EventError::new(
                "type",
                format!(
                    "unknown type {:?} (expected pageview, click, move, scroll, input, leave or custom)",
                    &*self.kind
                ),
            )
        })?;
        let ts = match &self.ts {
            RawTs::Ms(ms) => *ms,
            RawTs::Text(s) => parse_rfc3339_ms(s)
                .ok_or_else(|| EventError::new("ts", format!("{s:?} is not an RFC 3339 time")))?,
            RawTs::Bad(s) => {
                return Err(EventError::new(
                    "ts",
                    format!("{s} is not an integer of ms in range 0..={MAX_TS}"),
                ))
            }
        };
        let event = EventRef {
            site: &self.site,
            ts,
            kind,
            session: opt(&self.session),
            visitor: opt(&self.visitor),
            url: &self.url,
            referrer: opt(&self.referrer),
            ua: opt(&self.ua),
            lang: opt(&self.lang),
            tz: opt(&self.tz),
            screen_w: self.screen_w,
            screen_h: self.screen_h,
            vw: self.vw,
            vh: self.vh,
            dh: self.dh,
            load_ms: self.load_ms,
            x: self.x,
            y: self.y,
            selector: opt(&self.selector),
            ex: self.ex,
            ey: self.ey,
            len: self.len,
            duration_ms: self.duration_ms,
            name: opt(&self.name),
            ip: opt(&self.ip),
            dnt: self.dnt,
        };
        event.validate()?;
        Ok(event)
    }
}

/// The expected JSON shape of each known field, for error messages.
const FIELD_SHAPES: &[(&str, Shape)] = &[
    ("site", Shape::Str),
    ("ts", Shape::Ts),
    ("type", Shape::Str),
    ("session", Shape::Str),
    ("visitor", Shape::Str),
    ("url", Shape::Str),
    ("referrer", Shape::Str),
    ("ua", Shape::Str),
    ("lang", Shape::Str),
    ("tz", Shape::Str),
    ("screen_w", Shape::Uint(u32::MAX as u64)),
    ("screen_h", Shape::Uint(u32::MAX as u64)),
    ("vw", Shape::Uint(u32::MAX as u64)),
    ("vh", Shape::Uint(u32::MAX as u64)),
    ("dh", Shape::Uint(u32::MAX as u64)),
    ("load_ms", Shape::Uint(u32::MAX as u64)),
    ("x", Shape::Uint(u32::MAX as u64)),
    ("y", Shape::Uint(u32::MAX as u64)),
    ("selector", Shape::Str),
    ("ex", Shape::Uint(MAX_ELEMENT_POS as u64)),
    ("ey", Shape::Uint(MAX_ELEMENT_POS as u64)),
    ("len", Shape::Uint(u32::MAX as u64)),
    ("duration_ms", Shape::Uint(u32::MAX as u64)),
    ("name", Shape::Str),
    ("ip", Shape::Str),
    ("dnt", Shape::Bool),
];

const REQUIRED: &[&str] = &["site", "ts", "type", "url"];

#[derive(Clone, Copy)]
enum Shape {
    Str,
    Ts,
    Bool,
    Uint(u64),
}

fn shown(v: &serde_json::Value) -> String {
    let mut s = v.to_string();
    if s.len() > 60 {
        let mut cut = 57;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// The slow path for a line the fast decoder refused: find which field is
/// wrong so the error can name it.
fn diagnose(line: &[u8], fast: serde_json::Error) -> EventError {
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return EventError::new("json", format!("not valid JSON: {e}")),
    };
    let serde_json::Value::Object(map) = value else {
        return EventError::new("json", "not a JSON object");
    };
    for field in ["value", "text"] {
        if map.contains_key(field) {
            return EventError::new(field, "typed text is never accepted; send only `len`");
        }
    }
    for field in REQUIRED {
        if !map.contains_key(*field) {
            return EventError::new(*field, "is missing");
        }
    }
    for (field, shape) in FIELD_SHAPES {
        let Some(v) = map.get(*field) else { continue };
        let ok = match (shape, v) {
            (_, serde_json::Value::Null) => !REQUIRED.contains(field),
            (Shape::Str, v) => v.is_string(),
            (Shape::Bool, v) => v.is_boolean(),
            (Shape::Ts, v) => v.is_string() || v.is_i64() || v.is_u64(),
            (Shape::Uint(max), v) => v.as_u64().is_some_and(|n| n <= *max),
        };
        if !ok {
            let expected = match shape {
                Shape::Str => "a string".to_owned(),
                Shape::Bool => "true or false".to_owned(),
                Shape::Ts => "an integer of ms or an RFC 3339 string".to_owned(),
                Shape::Uint(max) => format!("an integer in 0..={max}"),
            };
            return EventError::new(*field, format!("expected {expected}, got {}", shown(v)));
        }
    }
    EventError::new("json", format!("cannot decode: {fast}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> EventError {
        Event::from_json_line(line.as_bytes()).unwrap_err()
    }

    #[test]
    fn escaped_strings_decode_in_every_string_field() {
        // Borrowed when plain, owned when escaped: both paths of `Text`.
        let line = r#"{"site":"a\u002ecom","ts":1,"type":"click","session":"s\"1","visitor":"v\/1","url":"/x\u00e9","referrer":"https:\/\/r.com\/","ua":"UA\t2","lang":"de","tz":null,"x":1,"y":2,"selector":"a[title=\"b\"]"}"#;
        let e = Event::from_json_line(line.as_bytes()).unwrap();
        assert_eq!(e.site, "a.com");
        assert_eq!(e.session.as_deref(), Some("s\"1"));
        assert_eq!(e.visitor.as_deref(), Some("v/1"));
        assert_eq!(e.url, "/x\u{e9}");
        assert_eq!(e.referrer.as_deref(), Some("https://r.com/"));
        assert_eq!(e.ua.as_deref(), Some("UA\t2"));
        assert_eq!(e.lang.as_deref(), Some("de"));
        assert_eq!(e.tz, None);
        assert_eq!(e.selector.as_deref(), Some("a[title=\"b\"]"));
        let e = err(r#"{"site":"a.com","ts":1,"type":"click","session":7,"url":"/"}"#);
        assert_eq!(e.field, "session");
    }

    #[test]
    fn decodes_every_field_and_roundtrips() {
        let line = r#"{"site":"a.com","ts":1700000000000,"type":"pageview","session":"s1","visitor":"v1","url":"https://a.com/x?utm_source=n","referrer":"https://www.google.com/","ua":"Mozilla/5.0","lang":"de-DE","tz":"Europe/Berlin","screen_w":1920,"screen_h":1080,"vw":1280,"vh":720,"dh":3000,"load_ms":812,"dnt":false,"extra":{"ignored":[1,2]}}"#;
        let e = Event::from_json_line(line.as_bytes()).unwrap();
        assert_eq!(e.kind, EventKind::Pageview);
        assert_eq!(e.lang.as_deref(), Some("de-DE"));
        assert_eq!(e.dh, Some(3000));
        let back = Event::from_json_line(e.to_json_line().as_bytes()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn rejections_name_the_field() {
        let base = r#""site":"a.com","ts":1,"session":"s","url":"/""#;
        assert_eq!(err("{not json").field, "json");
        assert_eq!(err("[1,2]").field, "json");
        assert_eq!(err(&format!(r#"{{{base},"type":"jump"}}"#)).field, "type");
        assert_eq!(
            err(&format!(r#"{{{base},"type":"click","x":-5,"y":3}}"#)).field,
            "x"
        );
        assert_eq!(
            err(&format!(r#"{{{base},"type":"click","x":"5","y":3}}"#)).field,
            "x"
        );
        assert_eq!(
            err(&format!(r#"{{{base},"type":"click","y":3}}"#)).field,
            "x"
        );
        assert_eq!(
            err(&format!(r#"{{{base},"type":"input","len":3,"text":"pw"}}"#)).field,
            "text"
        );
        assert_eq!(
            err(&format!(
                r#"{{{base},"type":"click","x":1,"y":1,"ex":10001}}"#
            ))
            .field,
            "ex"
        );
        assert_eq!(
            err(r#"{"ts":1,"type":"leave","session":"s","url":"/","duration_ms":4}"#).field,
            "site"
        );
        let long = "s".repeat(129);
        let e = err(&format!(
            r#"{{"site":"a.com","ts":1,"type":"leave","session":"{long}","url":"/","duration_ms":4}}"#
        ));
        assert_eq!(e.field, "session");
        assert!(e.reason.contains("129"), "{e}");
        assert_eq!(
            err(&format!(
                r#"{{{base},"type":"pageview","vw":0,"vh":1,"dh":1}}"#
            ))
            .field,
            "vw"
        );
        assert_eq!(err(r#"{"site":"a.com","ts":"yesterday","type":"leave","session":"s","url":"/","duration_ms":4}"#).field, "ts");
        assert_eq!(
            err(
                r#"{"site":"a.com","ts":-1,"type":"leave","session":"s","url":"/","duration_ms":4}"#
            )
            .field,
            "ts"
        );
    }

    #[test]
    fn cookieless_needs_ip_and_ua() {
        let ok = r#"{"site":"a.com","ts":1,"type":"pageview","url":"/","ip":"1.2.3.4","ua":"x","vw":1,"vh":1,"dh":1}"#;
        assert!(Event::from_json_line(ok.as_bytes()).is_ok());
        let bad = r#"{"site":"a.com","ts":1,"type":"pageview","url":"/","vw":1,"vh":1,"dh":1}"#;
        assert_eq!(err(bad).field, "session");
    }
}
