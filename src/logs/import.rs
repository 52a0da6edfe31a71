//! An access log into a store: the pageviews of [`read_log`], committed in
//! batches ([`crate::Store::import_access_log`]).

use std::io::BufRead;

use serde::Serialize;

use super::{read_log, LogError, LogFormat, DETECT_LINES};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::event::validate_site;
use crate::import::{ImportError, ImportProgress, MAX_REPORTED_ERRORS};
use crate::write::{Appended, Writer};

/// What an access-log import did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogImportReport {
    /// The format the lines were read in (what `auto` detected).
    pub format: LogFormat,
    /// Non-blank lines read.
    pub lines: u64,
    /// Pageviews stored (or dropped by a privacy rule: see `dropped`).
    pub accepted: u64,
    /// Accepted pageviews not stored because of a privacy rule (DNT,
    /// opt-out, a deletion request).
    pub dropped: u64,
    /// Lines that parsed and are no page (assets, non-`GET`, errors,
    /// machine endpoints: see the page rule in [`crate::logs`]).
    pub not_pages: u64,
    /// Lines that cannot be imported: malformed, or a page without a
    /// User-Agent or client address.
    pub rejected: u64,
    /// The rejected lines (the first 100,000), each with its 1-based line
    /// number and a reason naming the field.
    pub errors: Vec<ImportError>,
}

impl Serialize for LogFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl LogImportReport {
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(ImportError { line, reason });
        }
    }
}

impl Core {
    /// [`crate::Store::import_access_log_with_progress`].
    pub(crate) fn import_access_log<R: BufRead>(
        &self,
        reader: R,
        format: LogFormat,
        site: &str,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<LogImportReport> {
        validate_site(site).map_err(Error::InvalidEvent)?;
        let batch = self.lock().import_batch;
        let mut items = read_log(reader, format, site);
        let first = items.next();
        let detected = items.format();
        if format == LogFormat::Auto {
            match (&first, detected) {
                (Some((_, Err(e @ LogError::Line { .. }))), LogFormat::Auto) => {
                    return Err(Error::InvalidArgument(format!(
                        "not an access log in the combined, vhost_combined or common format: \
                         none of its first {DETECT_LINES} lines parses as one ({e})"
                    )));
                }
                (_, LogFormat::Common) => {
                    return Err(Error::InvalidArgument(
                        "this log is in the Common Log Format, which has no User-Agent: no \
                         cookieless visitor id can be derived. Have the server log the \
                         combined format (Apache `combined`, Nginx's default)"
                            .into(),
                    ));
                }
                _ => {}
            }
        }
        let mut report = LogImportReport {
            format: detected,
            lines: 0,
            accepted: 0,
            dropped: 0,
            not_pages: 0,
            rejected: 0,
            errors: Vec::new(),
        };
        let mut w = self.writer()?;
        let mut committed = 0u64;
        let mut commit = |w: &mut Writer<'_>, report: &mut LogImportReport| {
            let s = w.commit()?;
            report.dropped += s.dropped;
            committed += s.events;
            progress(ImportProgress {
                lines: report.lines,
                bytes: 0,
                committed,
            });
            Ok::<bool, Error>(committed > 0)
        };
        let mut any = false;
        for (line, item) in first.into_iter().chain(items) {
            report.lines += 1;
            match item {
                Ok(Some(event)) => {
                    let before = w.buffered();
                    match w.append(&event) {
                        Ok(Appended::Buffered) => report.accepted += 1,
                        Ok(Appended::Dropped(_)) => {
                            report.accepted += 1;
                            // Kept for the commit, which counts it, or
                            // dropped now.
                            if w.buffered() == before {
                                report.dropped += 1;
                            }
                        }
                        Err(Error::InvalidEvent(e)) => report.reject(line, e.to_string()),
                        Err(e) => return Err(e),
                    }
                }
                Ok(None) => report.not_pages += 1,
                Err(LogError::Line { line, error }) => report.reject(line, error.to_string()),
                Err(LogError::Io { line, error }) => {
                    // What was read before stays imported.
                    commit(&mut w, &mut report)?;
                    return Err(Error::Io(std::io::Error::new(
                        error.kind(),
                        format!("reading line {line} of the log: {error}"),
                    )));
                }
            }
            if w.buffered() >= batch {
                any = commit(&mut w, &mut report)?;
            }
        }
        if w.buffered() > 0 || !any {
            commit(&mut w, &mut report)?;
        }
        Ok(report)
    }
}
