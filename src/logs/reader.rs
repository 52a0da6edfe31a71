//! Streaming a whole file: format detection, line numbers, errors.

use super::parse::is_sep;
use super::*;

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
pub(super) enum RawLine {
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
pub(super) fn trim_line(mut b: &[u8], first: bool) -> &[u8] {
    if first {
        b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    }
    b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

pub(super) fn is_blank(b: &[u8]) -> bool {
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
