//! The fast path of Event NDJSON v1 decoding: a line that is a flat
//! object of plain values is read straight into an [`EventRef`], without
//! serde's intermediate struct.
//!
//! It takes only what it is sure of: an object whose keys and strings have
//! no escapes, whose numbers are plain non-negative integers, with every
//! required field present and no known field twice. Anything else (an
//! escape, a nested value, a float, a duplicate, `value` or `text`, an
//! unknown `type`, a `ts` that does not parse, a number out of its field's
//! range, bad JSON) gives `None`, and the caller decodes the line with
//! serde, which decides whether it is valid and words the error. So on
//! every line this path accepts, it gives exactly the view serde gives
//! (checked against serde on a corpus of hostile lines: the tests below and
//! the `ndjson_line` fuzz target).
//!
//! The view is not validated here: the caller validates it as it does
//! serde's.

use super::{EventKind, EventRef};
use crate::time::parse_rfc3339_ms;

/// The bit of an unknown field: none (a shift by 32 overflows).
const UNTRACKED: u32 = 32;

/// The event of `line`, if it is of the plain form this path takes.
pub(super) fn decode(line: &str) -> Option<EventRef<'_>> {
    let mut p = Cursor { text: line, at: 0 };
    let mut e = EventRef::default();
    // One bit per known field, to refuse duplicates as serde does.
    let mut seen = 0u32;
    p.ws();
    p.eat(b'{')?;
    p.ws();
    loop {
        let key = p.string()?;
        p.ws();
        p.eat(b':')?;
        p.ws();
        let bit = match key {
            "site" => {
                e.site = p.string()?;
                0
            }
            "ts" => {
                e.ts = if p.peek()? == b'"' {
                    parse_rfc3339_ms(p.string()?)?
                } else {
                    i64::try_from(p.uint()?).ok()?
                };
                1
            }
            "type" => {
                e.kind = EventKind::parse(p.string()?)?;
                2
            }
            "session" => {
                e.session = p.opt_string()?;
                3
            }
            "visitor" => {
                e.visitor = p.opt_string()?;
                4
            }
            "url" => {
                e.url = p.string()?;
                5
            }
            "referrer" => {
                e.referrer = p.opt_string()?;
                6
            }
            "ua" => {
                e.ua = p.opt_string()?;
                7
            }
            "lang" => {
                e.lang = p.opt_string()?;
                8
            }
            "tz" => {
                e.tz = p.opt_string()?;
                9
            }
            "screen_w" => {
                e.screen_w = p.opt_u32()?;
                10
            }
            "screen_h" => {
                e.screen_h = p.opt_u32()?;
                11
            }
            "vw" => {
                e.vw = p.opt_u32()?;
                12
            }
            "vh" => {
                e.vh = p.opt_u32()?;
                13
            }
            "dh" => {
                e.dh = p.opt_u32()?;
                14
            }
            "load_ms" => {
                e.load_ms = p.opt_u32()?;
                15
            }
            "x" => {
                e.x = p.opt_u32()?;
                16
            }
            "y" => {
                e.y = p.opt_u32()?;
                17
            }
            "selector" => {
                e.selector = p.opt_string()?;
                18
            }
            "ex" => {
                e.ex = p.opt_u16()?;
                19
            }
            "ey" => {
                e.ey = p.opt_u16()?;
                20
            }
            "len" => {
                e.len = p.opt_u32()?;
                21
            }
            "duration_ms" => {
                e.duration_ms = p.opt_u32()?;
                22
            }
            "name" => {
                e.name = p.opt_string()?;
                23
            }
            "ip" => {
                e.ip = p.opt_string()?;
                24
            }
            "dnt" => {
                e.dnt = p.opt_bool()?;
                25
            }
            // Typed text: serde's path rejects it (or, for `null`, lets it
            // pass); either way it is not this path's to decide.
            "value" | "text" => return None,
            // Unknown fields are ignored, and may repeat.
            _ => {
                p.skip_scalar()?;
                UNTRACKED
            }
        };
        let mask = 1u32.checked_shl(bit).unwrap_or(0);
        if seen & mask != 0 {
            return None;
        }
        seen |= mask;
        if p.object_ends()? {
            break;
        }
    }
    p.ws();
    // site, ts, type and url are required.
    (p.at == line.len() && seen & 0b10_0111 == 0b10_0111).then_some(e)
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.bump()? == want).then_some(())
    }

    /// After a value: `,` and the whitespace before the next key (false),
    /// or the object's `}` (true).
    fn object_ends(&mut self) -> Option<bool> {
        self.ws();
        match self.bump()? {
            b',' => {
                self.ws();
                Some(false)
            }
            b'}' => Some(true),
            _ => None,
        }
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let len = plain_len(self.bytes().get(start..)?);
        let end = start + len;
        // Stopped on the closing quote, not on a `\` or a control byte.
        if self.bytes().get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        // The quote is ASCII, so both ends are char boundaries.
        self.text.get(start..end)
    }

    fn opt_string(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A non-negative integer without sign, fraction or exponent, as JSON
    /// writes it (no leading zero), that fits a `u64`.
    fn uint(&mut self) -> Option<u64> {
        let digits = self
            .bytes()
            .get(self.at..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let s = self.bytes().get(self.at..self.at + digits)?;
        if digits == 0 || (digits > 1 && s.first() == Some(&b'0')) {
            return None;
        }
        // A fraction or exponent: a float, not this path's.
        if let Some(b'.' | b'e' | b'E') = self.bytes().get(self.at + digits) {
            return None;
        }
        let mut n = 0u64;
        for &d in s {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.at += digits;
        Some(n)
    }

    fn opt_uint(&mut self, max: u64) -> Option<Option<u64>> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Some(None);
        }
        let n = self.uint()?;
        (n <= max).then_some(Some(n))
    }

    fn opt_u32(&mut self) -> Option<Option<u32>> {
        Some(
            self.opt_uint(u64::from(u32::MAX))?
                .and_then(|n| u32::try_from(n).ok()),
        )
    }

    fn opt_u16(&mut self) -> Option<Option<u16>> {
        Some(
            self.opt_uint(u64::from(u16::MAX))?
                .and_then(|n| u16::try_from(n).ok()),
        )
    }

    fn opt_bool(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.literal("true").map(|()| Some(true)),
            b'f' => self.literal("false").map(|()| Some(false)),
            b'n' => self.literal("null").map(|()| None),
            _ => None,
        }
    }

    /// The value of an unknown field, if it is a plain scalar: a string
    /// without escapes, a JSON number, `true`, `false` or `null`.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Any JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int = self.digits();
        if int == 0 || (int > 1 && self.bytes().get(self.at - int) == Some(&b'0')) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let n = self
            .bytes()
            .get(self.at..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += n;
        n
    }
}

/// Length of the run of bytes at the start of `s` that a JSON string takes
/// as they are: up to the first `"`, `\` or control byte (below 0x20).
/// Eight bytes at a time.
fn plain_len(s: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let v = u64::from_le_bytes(b);
        // A byte of zero after xor: a quote or a backslash. A byte below
        // 0x20: a control byte. The lowest flagged byte is exact (a borrow
        // only runs upward), and the lowest is the first in memory.
        let quote = v ^ (ONES * u64::from(b'"'));
        let slash = v ^ (ONES * u64::from(b'\\'));
        let hits = (quote.wrapping_sub(ONES) & !quote
            | slash.wrapping_sub(ONES) & !slash
            | v.wrapping_sub(ONES * 0x20) & !v)
            & HIGH;
        if hits != 0 {
            return at + (hits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .take_while(|&&b| b != b'"' && b != b'\\' && b >= 0x20)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What serde's path makes of `line`: the event, or the error.
    fn by_serde(line: &str) -> Result<crate::Event, String> {
        super::super::json::decode_with_serde(line, |e| e.to_event()).map_err(|e| e.to_string())
    }

    /// The fast path either declines or agrees with serde exactly, and the
    /// public decoder always answers as serde does.
    fn agrees(line: &str) {
        let serde = by_serde(line);
        if let Some(fast) = decode(line) {
            let fast = fast.validate().map(|()| fast.to_event());
            assert_eq!(
                fast.map_err(|e| e.to_string()),
                serde,
                "fast path on {line:?}"
            );
        }
        let public = crate::Event::from_json_line(line.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(public, serde, "decoder on {line:?}");
    }

    #[test]
    fn plain_len_stops_at_the_first_special_byte() {
        for len in 0..40 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut s = vec![b'a'; len];
                s.extend_from_slice(&[special, b'"', b'b']);
                assert_eq!(plain_len(&s), len, "{len} then {special:#x}");
            }
            let s = "é".repeat(len);
            assert_eq!(plain_len(s.as_bytes()), s.len());
            let mut s = vec![0x20u8, 0x7f, 0x80, 0xff, b'!', b'#', b']', 0x5b, 0x21];
            s.truncate(len.min(9));
            assert_eq!(plain_len(&s), s.len());
        }
    }

    #[test]
    fn the_generators_lines_are_taken_by_the_fast_path() {
        let cfg = crate::gen::GenConfig {
            events: 3_000,
            sites: vec!["a.example".into(), "b.example".into()],
            url_tail: 0.5,
            ..crate::gen::GenConfig::default()
        };
        let mut n = 0;
        for e in crate::gen::Generator::new(cfg) {
            let line = e.to_json_line();
            assert!(decode(&line).is_some(), "{line}");
            agrees(&line);
            n += 1;
        }
        assert_eq!(n, 3_000);
    }

    #[test]
    fn hand_made_edge_cases_agree_with_serde() {
        let base = r#""site":"a.com","ts":1,"session":"s","url":"/""#;
        let mut lines = vec![
            format!(r#"{{{base},"type":"click","x":1,"y":2}}"#),
            format!(r#" {{ {base} , "type" : "click" , "x" : 1 , "y" : 2 }} "#),
            format!("{{{base},\t\"type\":\"click\",\r\n\"x\":1,\"y\":2}}"),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"x":3}}"#),
            format!(r#"{{{base},"type":"click","x":01,"y":2}}"#),
            format!(r#"{{{base},"type":"click","x":1.0,"y":2}}"#),
            format!(r#"{{{base},"type":"click","x":1e0,"y":2}}"#),
            format!(r#"{{{base},"type":"click","x":-1,"y":2}}"#),
            format!(r#"{{{base},"type":"click","x":4294967296,"y":2}}"#),
            format!(r#"{{{base},"type":"click","x":4294967295,"y":2}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"ex":65536}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"ex":10001}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"ex":10000,"ey":0}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"extra":-0.5e+3}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"extra":-01}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"extra":1.}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"extra":[1]}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"extra":"a\"b"}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"extra":nul}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"extra":true,"extra":false}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2}}}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2}} x"#),
            format!(r#"{{{base},"type":"click","x":1 "y":2}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"value":null}}"#),
            format!(r#"{{{base},"type":"click","x":1,"y":2,"text":"pw"}}"#),
            format!(r#"{{{base},"type":"jump"}}"#),
            format!(r#"{{{base},"type":null}}"#),
            format!(r#"{{{base},"type":"click","x":null,"y":2}}"#),
            format!(r#"{{{base},"type":"pageview","dnt":true}}"#),
            format!(r#"{{{base},"type":"pageview","dnt":tru}}"#),
            format!(r#"{{{base},"type":"pageview","dnt":1}}"#),
            format!(r#"{{{base},"type":"pageview","referrer":null,"lang":"de\u0041"}}"#),
            format!("{{{base},\"type\":\"pageview\",\"lang\":\"d\u{1}e\"}}"),
            format!(r#"{{{base},"type":"pageview","ua":"Ünïcødé ✓"}}"#),
            r#"{"site":"a.com","ts":"2026-01-01T00:00:00Z","type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"site":"a.com","ts":"2026-01-01","type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"site":"a.com","ts":9223372036854775808,"type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"site":"a.com","ts":99999999999999999999,"type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"site":"a.com","ts":0,"type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"ts":1,"type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"site":"a.com","site":"a.com","ts":1,"type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"sit\u0065":"a.com","ts":1,"type":"leave","session":"s","url":"/","duration_ms":4}"#.into(),
            r#"{"site":"a.com","ts":1,"type":"pageview","url":"/","ip":"1.2.3.4","ua":"x"}"#.into(),
            "{}".into(),
            "{".into(),
            "[]".into(),
            r#"["a.com",1,"click"]"#.into(),
            "null".into(),
            String::new(),
        ];
        let long = "s".repeat(129);
        lines.push(format!(
            r#"{{"site":"a.com","ts":1,"type":"leave","session":"{long}","url":"/","duration_ms":4}}"#
        ));
        for line in &lines {
            agrees(line);
        }
    }

    /// Lines of the fields in any order, with some values of the wrong
    /// kind, some whitespace, and some bytes cut, doubled or replaced.
    fn hostile_line() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            Just("\"a.com\"".to_owned()),
            Just("\"/p?q=1\"".to_owned()),
            Just("\"click\"".to_owned()),
            Just("\"pageview\"".to_owned()),
            Just("\"2026-03-01T10:00:00.5+01:00\"".to_owned()),
            Just("\"a\\\"b\"".to_owned()),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("0".to_owned()),
            Just("007".to_owned()),
            Just("-3".to_owned()),
            Just("2.5".to_owned()),
            Just("1e3".to_owned()),
            Just("{}".to_owned()),
            (0u64..u64::MAX).prop_map(|n| n.to_string()),
            (0u64..70_000).prop_map(|n| n.to_string()),
            "[a-z/#:. ]{0,12}".prop_map(|s| format!("\"{s}\"")),
        ];
        let key = prop_oneof![
            Just("site"),
            Just("ts"),
            Just("type"),
            Just("session"),
            Just("visitor"),
            Just("url"),
            Just("ua"),
            Just("x"),
            Just("y"),
            Just("ex"),
            Just("vw"),
            Just("dh"),
            Just("dnt"),
            Just("len"),
            Just("value"),
            Just("other"),
        ];
        let required = Just(vec![
            ("site".to_owned(), "\"a.com\"".to_owned()),
            ("ts".to_owned(), "1700000000000".to_owned()),
            ("type".to_owned(), "\"click\"".to_owned()),
            ("url".to_owned(), "\"/\"".to_owned()),
            ("session".to_owned(), "\"s\"".to_owned()),
        ]);
        (
            required,
            prop::collection::vec((key.prop_map(str::to_owned), value), 0..8),
            prop::collection::vec(0usize..5, 0..3),
            prop::bool::ANY,
            prop::collection::vec((0usize..400, any::<u8>(), 0u8..3), 0..3),
        )
            .prop_map(|(mut fields, extra, drop, spaced, edits)| {
                for d in drop {
                    if d < fields.len() {
                        fields.remove(d);
                    }
                }
                fields.extend(extra);
                let sep = if spaced { " , " } else { "," };
                let body: Vec<String> =
                    fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                let mut bytes = format!("{{{}}}", body.join(sep)).into_bytes();
                for (at, b, how) in edits {
                    if bytes.is_empty() {
                        break;
                    }
                    let at = at % bytes.len();
                    match how {
                        0 => bytes[at] = b,
                        1 => {
                            bytes.remove(at);
                        }
                        _ => bytes.insert(at, b),
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]
        #[test]
        fn hostile_lines_agree_with_serde(line in hostile_line()) {
            agrees(&line);
        }
    }

    /// The fuzz target's corpus, where there is one: lines that found the
    /// decoder's corners.
    #[test]
    fn the_fuzz_corpus_agrees_with_serde() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ndjson_line");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            if let Ok(text) = std::str::from_utf8(&bytes) {
                agrees(text.trim_ascii());
            }
        }
    }
}
