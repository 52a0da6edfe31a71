//! The event model: Event NDJSON v1 and its typed Rust form.
//!
//! [`Event`] (owned) and the borrowed view ingest reads; the rules an event
//! must follow are in `validate`, its NDJSON form in `json`.
//!
//! One JSON object per line. Unknown fields are ignored; a wrong type, a
//! missing required field or an out-of-range value rejects the line with an
//! [`EventError`] that names the field. Typed text is never accepted: a line
//! carrying `value` or `text` is rejected whatever its type.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod fast;
mod json;
mod validate;

pub(crate) use json::{with_json_line, with_json_str};
pub use validate::validate_site;

use std::borrow::Cow;
use std::fmt;

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
    /// An owned copy.
    pub(crate) fn to_event(self) -> Event {
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
