//! Parsing one line: fields, escapes, the time, the request line.

use super::*;

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
pub(super) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    /// Where the field being read starts: errors are placed there.
    mark: usize,
}

pub(super) fn is_sep(b: u8) -> bool {
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
pub(super) fn unescape(raw: &str) -> String {
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

pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `dd/Mon/yyyy:HH:MM:SS +hhmm` in ms since the epoch, UTC.
pub(super) fn parse_clf_time(text: &str) -> Result<i64, String> {
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
pub(super) fn is_method(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits a request line; `None` when it is not `METHOD target [HTTP/x]`.
pub(super) fn split_request(req: Cow<'_, str>) -> Option<Request<'_>> {
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
pub(super) fn present<T: AsRef<str>>(v: T) -> Option<T> {
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

pub(super) fn parse_as(line: &str, format: LogFormat) -> Result<LogLine<'_>, Failed> {
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
pub(super) fn shown(s: &str) -> String {
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
