//! NDJSON import: streams a file of any size in bounded memory.
//!
//! A reader thread splits and decodes lines while the calling thread
//! normalizes and commits them, [`IMPORT_BATCH`] events per transaction. A
//! malformed line is reported with its number and reason and never aborts
//! the import; the valid lines around it are stored.

use std::io::BufRead;
use std::sync::mpsc::sync_channel;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::writer::Appended;
use crate::Store;

/// Events per commit during an import.
pub const IMPORT_BATCH: usize = 131_072;
/// Lines decoded per chunk handed from the reader thread.
const CHUNK_LINES: usize = 4_096;
/// Most rejected lines kept in a report (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 100_000;

/// One rejected line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportError {
    /// 1-based line number.
    pub line: u64,
    /// Why it was rejected, naming the field.
    pub reason: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Lines stored (or dropped by a privacy rule: see `dropped`).
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Accepted lines not stored because of a privacy rule (DNT, opt-out,
    /// sensitive selector).
    pub dropped: u64,
    /// The rejected lines (the first [`MAX_REPORTED_ERRORS`]).
    pub errors: Vec<ImportError>,
}

/// Progress, reported after each commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Lines read so far.
    pub lines: u64,
    /// Bytes read so far.
    pub bytes: u64,
    /// Events committed so far.
    pub committed: u64,
}

struct Chunk {
    bytes: u64,
    /// (1-based line number, decoded event or why not).
    events: Vec<(u64, std::result::Result<Event, crate::EventError>)>,
}

impl Store {
    /// Imports Event NDJSON v1 from `reader`. Blank lines are skipped.
    ///
    /// ```
    /// let store = heatstore::Store::in_memory()?;
    /// let ndjson = concat!(
    ///     r#"{"site":"a.com","ts":1,"type":"leave","session":"s","url":"/","duration_ms":5}"#, "\n",
    ///     "not json\n",
    /// );
    /// let report = store.import_ndjson(ndjson.as_bytes())?;
    /// assert_eq!((report.accepted, report.rejected), (1, 1));
    /// assert_eq!(report.errors[0].line, 2);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn import_ndjson<R: BufRead + Send>(&self, reader: R) -> Result<ImportReport> {
        self.import_ndjson_with_progress(reader, &mut |_| {})
    }

    /// [`Store::import_ndjson`], calling `progress` after every commit.
    pub fn import_ndjson_with_progress<R: BufRead + Send>(
        &self,
        reader: R,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let (tx, rx) = sync_channel::<std::io::Result<Chunk>>(4);
        std::thread::scope(|scope| {
            scope.spawn(move || read_chunks(reader, tx));
            let mut report = ImportReport::default();
            let mut p = ImportProgress::default();
            let mut writer = self.writer()?;
            let trace = std::env::var_os("HEATSTORE_TRACE").is_some();
            let (mut t_wait, mut t_append, mut t_commit) = (
                std::time::Duration::ZERO,
                std::time::Duration::ZERO,
                std::time::Duration::ZERO,
            );
            let mut t0 = std::time::Instant::now();
            for chunk in rx {
                t_wait += t0.elapsed();
                let t1 = std::time::Instant::now();
                let chunk = chunk.map_err(Error::Io)?;
                p.bytes += chunk.bytes;
                for (line, e) in chunk.events {
                    p.lines = line;
                    let outcome = e
                        .map_err(Error::InvalidEvent)
                        .and_then(|e| writer.append(&e));
                    match outcome {
                        Ok(Appended::Buffered) => report.accepted += 1,
                        Ok(Appended::Dropped(_)) => {
                            report.accepted += 1;
                            report.dropped += 1;
                        }
                        Err(Error::InvalidEvent(err)) => {
                            report.rejected += 1;
                            if report.errors.len() < MAX_REPORTED_ERRORS {
                                report.errors.push(ImportError {
                                    line,
                                    reason: err.to_string(),
                                });
                            }
                        }
                        Err(other) => return Err(other),
                    }
                    if writer.buffered() >= IMPORT_BATCH {
                        let tc = std::time::Instant::now();
                        p.committed += writer.commit()?.events;
                        t_commit += tc.elapsed();
                        progress(p);
                    }
                }
                t_append += t1.elapsed();
                t0 = std::time::Instant::now();
            }
            if trace {
                eprintln!(
                    "wait {t_wait:?} append+commit {t_append:?} of which commit {t_commit:?}"
                );
            }
            p.committed += writer.commit()?.events;
            // Seal what is left pending, so reports read only segments.
            writer.seal_all()?;
            progress(p);
            Ok(report)
        })
    }
}

/// Splits lines and decodes them, off the committing thread.
fn read_chunks<R: BufRead>(mut reader: R, tx: std::sync::mpsc::SyncSender<std::io::Result<Chunk>>) {
    let mut line_no = 0u64;
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut chunk = Chunk {
            bytes: 0,
            events: Vec::with_capacity(CHUNK_LINES),
        };
        let mut eof = false;
        while chunk.events.len() < CHUNK_LINES {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    chunk.bytes += n as u64;
                    line_no += 1;
                    let line = buf.trim_ascii();
                    if !line.is_empty() {
                        chunk.events.push((line_no, Event::from_json_line(line)));
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        if !chunk.events.is_empty() && tx.send(Ok(chunk)).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}
