//! NDJSON import: streams a file of any size in bounded memory.
//!
//! A reader thread cuts the input into blocks of whole lines, worker threads
//! decode and normalize them, and the calling thread buffers them in input
//! order, [`IMPORT_BATCH`] events per transaction. A full batch is written
//! on its own thread while the next one is buffered (one at a time). A
//! malformed line is reported with its number and reason and never aborts
//! the import; the valid lines around it are stored.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use foldhash::{HashMap, HashMapExt};
use serde::Serialize;

use crate::core::Core;
use crate::error::{Error, Result};
use crate::event::{with_json_line, with_json_str, EventError, EventRef};
use crate::ingest::{prepare, Prepared};
use crate::ingest::{Dropped, Normalizer};
use crate::storage::sites::{SiteRecord, SiteSettings};
use crate::write::{settled_before, write_batch, Appended, Batch, Builder, CommitPlan, Written};

pub use crate::core::IMPORT_BATCH;

/// Most rejected lines kept in a report (all are counted).
pub(crate) const MAX_REPORTED_ERRORS: usize = 100_000;

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
    /// The rejected lines (the first 100,000).
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

/// Bytes of whole lines handed from the reader thread to a worker.
const BLOCK_BYTES: usize = 1 << 20;

/// Whole lines of the input.
struct Block {
    /// 1-based number of the block's first line.
    first_line: u64,
    bytes: Vec<u8>,
}

/// What a worker made of one line.
enum Item {
    /// Normalized and ready to buffer, for the chunk's site of this index.
    Ready { site: u32, prepared: Prepared },
    /// Accepted, and dropped by a privacy rule.
    Dropped(Dropped),
    /// Rejected.
    Rejected(EventError),
}

/// A block's lines, decoded and normalized.
struct Chunk {
    bytes: u64,
    /// The sites its lines name: items refer to them by index, so that
    /// no reference count is touched per line.
    sites: Vec<(Arc<str>, Arc<SiteRecord>)>,
    /// (1-based line number, outcome), blank lines left out.
    items: Vec<(u64, Item)>,
}

/// The record of every site an import meets: known sites as the store has
/// them, and new ones as the first worker to meet them makes them.
type SiteBook = Mutex<HashMap<String, Arc<SiteRecord>>>;

impl Core {
    /// [`Store::import_ndjson`], calling `progress` after every commit.
    pub(crate) fn import_ndjson_with_progress<R: BufRead + Send>(
        &self,
        reader: R,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        self.db().rw()?;
        let (records, normalizer, import_batch) = {
            let mut b = Builder::new(self);
            (b.site_records()?, b.new_normalizer(), b.import_batch())
        };
        let book: SiteBook = Mutex::new(
            records
                .into_iter()
                .map(|(name, r)| (name, Arc::new(r)))
                .collect(),
        );
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
        // The batch being written: its id (read after a failure, to forget
        // its state in flight).
        let writing: std::cell::Cell<Option<u64>> = std::cell::Cell::new(None);
        let done = std::thread::scope(|scope| {
            let mut blocks_tx = Vec::with_capacity(workers);
            let mut chunks_rx = Vec::with_capacity(workers);
            // Workers hand their blocks' buffers back to the reader.
            let (spent_tx, spent_rx) = channel::<Vec<u8>>();
            for _ in 0..workers {
                let (btx, brx) = sync_channel::<std::io::Result<Block>>(2);
                let (ctx, crx) = sync_channel::<std::io::Result<Chunk>>(2);
                let normalizer = normalizer.fresh();
                let book = &book;
                let spent = spent_tx.clone();
                scope.spawn(move || work(brx, ctx, spent, normalizer, book));
                blocks_tx.push(btx);
                chunks_rx.push(crx);
            }
            drop(spent_tx);
            scope.spawn(move || read_blocks(reader, blocks_tx, spent_rx));
            // A full batch is written on its own thread while the next one
            // is built; at most one is being written at a time.
            let (batches_tx, batches_rx) =
                sync_channel::<(Batch, CommitPlan, crate::core::Passage)>(0);
            let (written_tx, written_rx) = sync_channel::<Result<Written>>(1);
            let store = self;
            scope.spawn(move || {
                for (batch, plan, passage) in batches_rx {
                    let written = write_batch(store, batch, plan);
                    drop(passage);
                    if written_tx.send(written).is_err() {
                        return;
                    }
                }
            });
            let mut report = ImportReport::default();
            let mut p = ImportProgress::default();
            // The writer's state is held while a batch is built and given
            // up between batches, so that control operations, writers and
            // the ingest committer wait at most one batch.
            let mut builder: Option<Builder<'_>> = None;
            // Partitions this import left pending, until it settles them.
            let mut unsealed: BTreeSet<(i32, u32)> = BTreeSet::new();
            // Blocks went to the workers in turn: taking their chunks in
            // the same turn keeps the input's order. The first worker with
            // nothing more to give marks the end.
            'chunks: for turn in 0.. {
                let Some(Ok(chunk)) = chunks_rx.get(turn % workers).map(|rx| rx.recv()) else {
                    break 'chunks;
                };
                let Chunk {
                    bytes,
                    sites,
                    items,
                } = chunk.map_err(Error::Io)?;
                p.bytes += bytes;
                for (line, item) in items {
                    p.lines = line;
                    let b = builder.get_or_insert_with(|| Builder::new(self).for_import());
                    let outcome = match item {
                        Item::Ready { site, prepared } => match sites.get(site as usize) {
                            Some((name, record)) => b.append_prepared(name, Some(record), prepared),
                            None => Err(Error::InvalidArgument("import lost a site".into())),
                        },
                        Item::Dropped(d) => Ok(Appended::Dropped(d)),
                        Item::Rejected(e) => Err(Error::InvalidEvent(e)),
                    };
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
                    if b.len() >= import_batch {
                        if let Some(id) = writing.take() {
                            let written = written_rx.recv().map_err(|_| committer_gone())?;
                            p.committed += b.finish(id, written)?.events;
                            progress(p);
                        }
                        if let Some((id, batch, mut plan, passage)) = b.take_for_commit() {
                            builder = None;
                            plan.settled = settle(&mut unsealed, &batch);
                            writing.set(Some(id));
                            batches_tx
                                .send((batch, plan, passage))
                                .map_err(|_| committer_gone())?;
                        }
                    }
                }
            }
            drop(batches_tx);
            let mut b = builder.unwrap_or_else(|| Builder::new(self).for_import());
            if let Some(id) = writing.take() {
                let written = written_rx.recv().map_err(|_| committer_gone())?;
                p.committed += b.finish(id, written)?.events;
            }
            p.committed += b.commit()?.events;
            // Seal what is left pending, so reports read only segments.
            self.seal_all()?;
            progress(p);
            Ok(report)
        });
        if let Some(id) = writing.take() {
            // The import failed with a batch in flight (written or not by
            // now): batches built later must not see its state.
            self.lock().in_flight.retain(|f| f.id != id);
        }
        done
    }
}

/// The partitions a batch's commit should seal below the threshold: the
/// import's pending ones (`unsealed`, by day, updated with the batch's)
/// of days it has moved past ([`settled_before`]), as (site, day).
fn settle(unsealed: &mut BTreeSet<(i32, u32)>, batch: &Batch) -> BTreeSet<(u32, i32)> {
    unsealed.extend(batch.groups.keys().map(|&(site, day)| (day, site)));
    let Some(before) = settled_before(batch) else {
        return BTreeSet::new();
    };
    let later = unsealed.split_off(&(before, 0));
    std::mem::replace(unsealed, later)
        .into_iter()
        .map(|(day, site)| (site, day))
        .collect()
}

/// The committing thread ended without a word: it panicked.
fn committer_gone() -> Error {
    Error::InvalidArgument("the import's committing thread stopped".into())
}

/// Reads whole lines in blocks of about [`BLOCK_BYTES`] and deals them to
/// the workers in turn, reusing the buffers they hand back on `spent`.
///
/// A UTF-8 byte order mark at the start is skipped. Lines end with `\n`
/// (a `\r` before it is trimmed with the line's other whitespace); a
/// file whose first block has `\r` but no `\n` at all is taken to use
/// classic Mac line endings, `\r` alone, and read as such.
fn read_blocks<R: BufRead>(
    mut reader: R,
    workers: Vec<SyncSender<std::io::Result<Block>>>,
    spent: Receiver<Vec<u8>>,
) {
    let mut next_line = 1u64;
    // Decided on the first block: whether lines end with `\r` alone.
    let mut cr_only: Option<bool> = None;
    for turn in 0.. {
        let Some(tx) = workers.get(turn % workers.len().max(1)) else {
            return;
        };
        // A spent buffer keeps its length: growing it back to the block
        // size zeroes only what was never written.
        let mut bytes = spent.try_recv().unwrap_or_default();
        let mut filled = 0;
        let mut eof = false;
        // Fill to the block size straight from the reader (a read this
        // large bypasses a `BufReader`'s buffer), then on to a line's end.
        while filled < BLOCK_BYTES {
            if bytes.len() < BLOCK_BYTES {
                bytes.resize(BLOCK_BYTES, 0);
            }
            match reader.read(bytes.get_mut(filled..BLOCK_BYTES).unwrap_or_default()) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        bytes.truncate(filled);
        if turn == 0 && bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            bytes.drain(..3);
        }
        let cr = *cr_only.get_or_insert_with(|| {
            memchr::memchr(b'\n', &bytes).is_none() && memchr::memchr(b'\r', &bytes).is_some()
        });
        let end = if cr { b'\r' } else { b'\n' };
        if !eof && bytes.last() != Some(&end) {
            if let Err(e) = reader.read_until(end, &mut bytes) {
                let _ = tx.send(Err(e));
                return;
            }
            // A last line without a newline ends the input.
            eof = bytes.last() != Some(&end);
        }
        if cr {
            for b in bytes.iter_mut() {
                if *b == b'\r' {
                    *b = b'\n';
                }
            }
        }
        if bytes.is_empty() && eof {
            return;
        }
        let lines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
        let first_line = next_line;
        next_line += lines;
        if tx.send(Ok(Block { first_line, bytes })).is_err() || eof {
            return;
        }
    }
}

/// Decodes and normalizes the lines of each block it is given.
fn work(
    blocks: Receiver<std::io::Result<Block>>,
    chunks: SyncSender<std::io::Result<Chunk>>,
    spent: Sender<Vec<u8>>,
    mut normalizer: Normalizer,
    book: &SiteBook,
) {
    let mut sites: HashMap<String, (Arc<str>, Arc<SiteRecord>)> = HashMap::new();
    for block in blocks {
        let block = match block {
            Ok(b) => b,
            Err(e) => {
                let _ = chunks.send(Err(e));
                return;
            }
        };
        let mut chunk = Chunk {
            bytes: block.bytes.len() as u64,
            sites: Vec::new(),
            items: Vec::with_capacity(block.bytes.len() / 128),
        };
        let chunk_sites = &mut chunk.sites;
        let mut chunk_index: HashMap<Arc<str>, usize> = HashMap::new();
        let mut last: Option<usize> = None;
        let bytes = block.bytes.as_slice();
        // A block that is valid UTF-8 as a whole (the usual case) is
        // checked once here rather than string by string by the parser.
        let text = std::str::from_utf8(bytes).ok();
        let mut handle = |e: &EventRef<'_>| {
            // Most lines name the site of the line before.
            let at = match last {
                Some(i) if chunk_sites.get(i).is_some_and(|(n, _)| **n == *e.site) => i,
                _ => {
                    let i = match chunk_index.get(e.site) {
                        Some(&i) => i,
                        None => {
                            let found = site_record(&mut sites, book, e.site);
                            chunk_index.insert(Arc::clone(&found.0), chunk_sites.len());
                            chunk_sites.push(found);
                            chunk_sites.len() - 1
                        }
                    };
                    last = Some(i);
                    i
                }
            };
            let Some((_, record)) = chunk_sites.get(at) else {
                return Item::Rejected(EventError::new("site", "lost by the import"));
            };
            match prepare(e, record, &mut normalizer) {
                Ok(Ok(prepared)) => Item::Ready {
                    site: at as u32,
                    prepared,
                },
                Ok(Err(d)) => Item::Dropped(d),
                Err(err) => Item::Rejected(err),
            }
        };
        let mut line_no = block.first_line;
        let mut at = 0;
        while at < bytes.len() {
            let end = memchr::memchr(b'\n', bytes.get(at..).unwrap_or_default())
                .map_or(bytes.len(), |i| at + i);
            let range = at..end;
            at = end + 1;
            let decoded = match text.and_then(|t| t.get(range.clone())) {
                Some(line) => {
                    let line = line.trim_ascii();
                    (!line.is_empty()).then(|| with_json_str(line, &mut handle))
                }
                None => {
                    let line = bytes.get(range).unwrap_or_default().trim_ascii();
                    (!line.is_empty()).then(|| with_json_line(line, &mut handle))
                }
            };
            if let Some(item) = decoded {
                chunk
                    .items
                    .push((line_no, item.unwrap_or_else(Item::Rejected)));
            }
            line_no += 1;
        }
        // The reader may have finished: then the buffer is just freed.
        let _ = spent.send(block.bytes);
        if chunks.send(Ok(chunk)).is_err() {
            return;
        }
    }
}

/// The record of `site`: from the worker's own map, else from the import's
/// book, else a new one put in the book for every worker to use.
fn site_record(
    local: &mut HashMap<String, (Arc<str>, Arc<SiteRecord>)>,
    book: &SiteBook,
    site: &str,
) -> (Arc<str>, Arc<SiteRecord>) {
    if let Some((name, r)) = local.get(site) {
        return (Arc::clone(name), Arc::clone(r));
    }
    let record = {
        let mut book = book.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            book.entry(site.to_owned())
                .or_insert_with(|| Arc::new(SiteRecord::new(SiteSettings::default()))),
        )
    };
    let name: Arc<str> = site.into();
    local.insert(site.to_owned(), (Arc::clone(&name), Arc::clone(&record)));
    (name, record)
}
