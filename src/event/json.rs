//! Event NDJSON v1 decoding: one line to a borrowed [`EventRef`] without
//! copying its strings, with errors that name the field.

use std::borrow::Cow;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;

use super::*;
use crate::time::parse_rfc3339_ms;

/// Decodes and validates one line of Event NDJSON v1 and hands `f` a view
/// of it that borrows the line's strings: nothing is copied.
pub(crate) fn with_json_line<T>(
    line: &[u8],
    f: impl FnOnce(&EventRef<'_>) -> T,
) -> Result<T, EventError> {
    if let Ok(text) = std::str::from_utf8(line) {
        return with_json_str(text, f);
    }
    let raw: RawEvent<'_> = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        Err(e) => return Err(diagnose(line, e)),
    };
    Ok(f(&raw.view()?))
}

/// [`with_json_line`] for a line already known to be UTF-8 (an import
/// checks whole blocks at once), so string fields are not checked again.
///
/// A plain line (the usual case) goes through [`super::fast`]; anything
/// that path declines, through serde, which words the errors.
pub(crate) fn with_json_str<T>(
    line: &str,
    f: impl FnOnce(&EventRef<'_>) -> T,
) -> Result<T, EventError> {
    if let Some(event) = super::fast::decode(line) {
        event.validate()?;
        return Ok(f(&event));
    }
    decode_with_serde(line, f)
}

/// [`with_json_str`] through serde alone.
pub(super) fn decode_with_serde<T>(
    line: &str,
    f: impl FnOnce(&EventRef<'_>) -> T,
) -> Result<T, EventError> {
    let raw: RawEvent<'_> = match serde_json::from_str(line) {
        Ok(raw) => raw,
        Err(e) => return Err(diagnose(line.as_bytes(), e)),
    };
    Ok(f(&raw.view()?))
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

    #[test]
    fn pageviews_need_no_viewport() {
        for line in [
            r#"{"site":"a.com","ts":1,"type":"pageview","session":"s","url":"/"}"#,
            r#"{"site":"a.com","ts":1,"type":"pageview","session":"s","url":"/","vw":1280,"vh":720}"#,
            r#"{"site":"a.com","ts":1,"type":"pageview","url":"/","ip":"1.2.3.4","ua":"x"}"#,
        ] {
            let e = Event::from_json_line(line.as_bytes()).unwrap();
            assert_eq!(e.dh, None);
        }
        // What is given is still checked.
        let zero = r#"{"site":"a.com","ts":1,"type":"pageview","session":"s","url":"/","dh":0}"#;
        assert_eq!(err(zero).field, "dh");
    }
}
