//! Importing an NDJSON export: each line as an event, with the session
//! attributes ingest derived for the original (`derived`) instead of what
//! the line's own fields would give, so that the copy answers every report
//! as the original does.

use std::io::BufRead;
use std::sync::Arc;

use super::ExportLine;
use crate::core::Core;
use crate::error::{Error, Result};
use crate::import::{ImportError, ImportProgress, ImportReport, MAX_REPORTED_ERRORS};
use crate::ingest::Prepared;
use crate::write::{Appended, Builder};
use crate::{Event, EventKind};

/// Longest line read, in bytes.
const MAX_LINE: usize = 1 << 20;

fn reject(report: &mut ImportReport, line: u64, reason: String) {
    report.rejected += 1;
    if report.errors.len() < MAX_REPORTED_ERRORS {
        report.errors.push(ImportError { line, reason });
    }
}

impl Core {
    /// [`crate::Store::import_export`].
    pub(crate) fn import_export<R: BufRead>(
        &self,
        mut reader: R,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let batch = self.lock().import_batch;
        let mut report = ImportReport::default();
        let mut items: Vec<(Arc<str>, Prepared)> = Vec::new();
        let mut buf = Vec::new();
        let (mut line_no, mut bytes, mut committed) = (0u64, 0u64, 0u64);
        let mut flush = |items: &mut Vec<(Arc<str>, Prepared)>,
                         report: &mut ImportReport,
                         lines: u64,
                         bytes: u64|
         -> Result<()> {
            let mut b = Builder::new(self).for_import();
            for (site, p) in items.drain(..) {
                if let Appended::Dropped(_) = b.append_prepared(&site, None, p)? {
                    report.dropped += 1;
                }
            }
            let s = b.commit()?;
            report.dropped += s.dropped;
            committed += s.events;
            progress(ImportProgress {
                lines,
                bytes,
                committed,
            });
            Ok(())
        };
        loop {
            buf.clear();
            let n = std::io::Read::take(&mut reader, MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| {
                    Error::Io(std::io::Error::new(
                        e.kind(),
                        format!("reading line {} of the export: {e}", line_no + 1),
                    ))
                })?;
            if n == 0 {
                break;
            }
            line_no += 1;
            bytes += n as u64;
            if buf.len() > MAX_LINE && !buf.ends_with(b"\n") {
                // Skip the rest of the over-long line.
                let mut rest = Vec::new();
                reader.read_until(b'\n', &mut rest).map_err(Error::Io)?;
                reject(
                    &mut report,
                    line_no,
                    format!("line is longer than {MAX_LINE} bytes"),
                );
                continue;
            }
            let text = buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let line: ExportLine<'_> = match serde_json::from_slice(text) {
                Ok(l) => l,
                Err(e) => {
                    reject(&mut report, line_no, format!("not an export line: {e}"));
                    continue;
                }
            };
            let mut e = Event::new(&line.site, line.ts, line.kind, &line.session, &line.url);
            e.visitor = line.visitor;
            (e.x, e.y, e.vw, e.vh, e.dh) = (line.x, line.y, line.vw, line.vh, line.dh);
            (e.load_ms, e.ex, e.ey) = (line.load_ms, line.ex, line.ey);
            (e.len, e.duration_ms) = (line.len, line.duration_ms);
            (e.selector, e.name) = (line.selector, line.name);
            (e.lang, e.tz) = (line.lang, line.tz);
            let view = e.view();
            if let Err(err) = view.validate() {
                reject(&mut report, line_no, err.to_string());
                continue;
            }
            let mut b = Builder::new(self);
            match b.prepare(&view) {
                Ok(Ok((site, mut p))) => {
                    if let (EventKind::Pageview, Some(d)) = (line.kind, line.derived) {
                        p.attrs = Some(Box::new(d));
                    }
                    report.accepted += 1;
                    items.push((site, p));
                }
                Ok(Err(_)) => {
                    report.accepted += 1;
                    report.dropped += 1;
                }
                Err(Error::InvalidEvent(err)) => reject(&mut report, line_no, err.to_string()),
                Err(err) => return Err(err),
            }
            drop(b);
            if items.len() >= batch {
                flush(&mut items, &mut report, line_no, bytes)?;
            }
        }
        if !items.is_empty() {
            flush(&mut items, &mut report, line_no, bytes)?;
        }
        Ok(report)
    }
}
