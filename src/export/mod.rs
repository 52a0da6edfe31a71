//! Export: the stored events of one site as Event NDJSON v1 (and, with the
//! `parquet` feature, as a Hive-partitioned Parquet dataset), streamed from
//! one snapshot in bounded memory; and the import of an NDJSON export
//! (`restore`) that keeps what ingest derived, so that the copy answers
//! every report as the original does. The formats are in `docs/export.md`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::io::Write;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::normalize::SessionAttrs;
use crate::query::scan::scan;
use crate::query::{Filters, StoredEvent};
use crate::read::{SiteRef, View};
use crate::storage::sessions::SessionBlock;
use crate::time::day_of;
use crate::EventKind;

#[cfg(feature = "parquet")]
mod parquet;
mod restore;

#[cfg(feature = "parquet")]
pub use parquet::PARQUET_ROWS_PER_FILE;

/// Events written between two progress calls.
pub const EXPORT_PROGRESS_EVERY: u64 = 65_536;

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Events written.
    pub events: u64,
    /// Sessions written (the Parquet `sessions` dataset; for NDJSON, the
    /// sessions whose pageviews carry their attributes).
    pub sessions: u64,
    /// Files written (1 for NDJSON).
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Progress of an export, reported every [`EXPORT_PROGRESS_EVERY`] events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportProgress {
    /// Events written so far.
    pub events: u64,
    /// Events the export will write at most (the site's stored events;
    /// fewer with a time range).
    pub total: u64,
}

/// One event as the export sees it.
pub(crate) struct Exported<'a> {
    pub event: &'a StoredEvent,
    /// The session's stored keyed hash.
    pub session: u64,
    /// The session's visitor hash, `None` when no event named one (the
    /// session stands for its visitor).
    pub visitor: Option<u64>,
    /// The attributes of the event's session (pageviews only).
    pub attrs: Option<&'a SessionAttrs>,
    /// The session's first pageview time (with the attributes).
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub session_start: Option<i64>,
}

/// A day's session block and its positions by session hash.
type IndexedBlock = (Arc<SessionBlock>, HashMap<u64, usize>);

/// Sessions of the blocks read so far, by hash (a few days at a time).
struct Blocks {
    by_day: HashMap<i32, Arc<IndexedBlock>>,
}

/// Most session blocks (days) kept decoded at once.
const BLOCKS_KEPT: usize = 8;

impl Blocks {
    fn get(&mut self, view: &View, site: u32, day: i32) -> Result<Option<Arc<IndexedBlock>>> {
        if let Some(b) = self.by_day.get(&day) {
            return Ok(Some(Arc::clone(b)));
        }
        let Some((b, _)) = view.session_block_cached(site, day)? else {
            return Ok(None);
        };
        let mut index = HashMap::with_capacity(b.len());
        for (i, h) in b.hashes.iter().enumerate() {
            index.insert(*h, i);
        }
        if self.by_day.len() >= BLOCKS_KEPT {
            self.by_day.clear();
        }
        let e = Arc::new((b, index));
        self.by_day.insert(day, Arc::clone(&e));
        Ok(Some(e))
    }
}

impl View {
    /// Calls `visit` with every visible event of `site` in `[from, to)`
    /// (bots too), partition by partition, segment by segment; a session's
    /// events in `(ts, arrival)` order. Pageviews carry their session's
    /// attributes; with `all_attrs` every event does.
    pub(crate) fn export_events(
        &self,
        site: &SiteRef,
        from: Option<i64>,
        to: Option<i64>,
        all_attrs: bool,
        visit: &mut dyn FnMut(&Exported<'_>) -> Result<()>,
    ) -> Result<()> {
        let f = Filters {
            from,
            to,
            include_bots: true,
            ..Filters::default()
        };
        let mut blocks = Blocks {
            by_day: HashMap::new(),
        };
        scan(self, site, &f, None, &mut |ctx| {
            let runs = ctx.runs()?;
            for (i, (&hash, &visitor)) in runs.hashes.iter().zip(&runs.visitors).enumerate() {
                let range = runs.range(i);
                if ctx.rows.range_cardinality(range.clone()) == 0 {
                    continue;
                }
                let events = ctx.events_of(range)?;
                // The session's attributes, for its pageviews.
                let mut entry = None;
                if all_attrs || events.iter().any(|(_, e)| e.kind == EventKind::Pageview) {
                    if let Some(first) = self.session_row(site.id, hash)?.and_then(|r| r.first_pv) {
                        if let Some(b) = blocks.get(self, site.id, day_of(first.ts))? {
                            if let Some(&at) = b.1.get(&hash) {
                                entry = b.0.entry(at);
                            }
                        }
                    }
                }
                let visitor = (visitor != hash).then_some(visitor);
                for (r, e) in &events {
                    if !ctx.rows.contains(*r) {
                        continue;
                    }
                    let pv = all_attrs || e.kind == EventKind::Pageview;
                    visit(&Exported {
                        event: e,
                        session: hash,
                        visitor,
                        attrs: entry.as_ref().filter(|_| pv).map(|b| &b.attrs),
                        session_start: entry.as_ref().filter(|_| pv).map(|b| b.first_ts),
                    })?;
                }
            }
            Ok(())
        })
    }

    /// The site, or [`Error::UnknownSite`].
    fn export_site(&self, site: &str) -> Result<SiteRef> {
        self.site(site)?.ok_or_else(|| Error::UnknownSite {
            site: site.to_owned(),
        })
    }

    /// Stored events of the site (an upper bound for progress).
    fn export_total(&self, site: &str) -> Result<u64> {
        Ok(self.counts(site)?.events)
    }

    /// [`crate::Snapshot::export_ndjson`].
    pub(crate) fn export_ndjson(
        &self,
        site: &str,
        from: Option<i64>,
        to: Option<i64>,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(ExportProgress),
    ) -> Result<ExportReport> {
        let s = self.export_site(site)?;
        let total = self.export_total(site)?;
        let mut report = ExportReport {
            files: 1,
            ..ExportReport::default()
        };
        let mut line = Vec::with_capacity(512);
        let mut seen_sessions = foldhash::HashSet::default();
        self.export_events(&s, from, to, false, &mut |x| {
            line.clear();
            ExportLine::of(site, x).write(&mut line)?;
            line.push(b'\n');
            out.write_all(&line).map_err(Error::Io)?;
            report.events += 1;
            report.bytes += line.len() as u64;
            if x.attrs.is_some() && seen_sessions.insert(x.session) {
                report.sessions += 1;
            }
            if report.events % EXPORT_PROGRESS_EVERY == 0 {
                progress(ExportProgress {
                    events: report.events,
                    total,
                });
            }
            Ok(())
        })?;
        out.flush().map_err(Error::Io)?;
        progress(ExportProgress {
            events: report.events,
            total,
        });
        Ok(report)
    }
}

/// A 64-bit hash as the 16 hex digits the export writes.
pub(crate) fn hex(h: u64) -> String {
    format!("{h:016x}")
}

/// One line of an NDJSON export: Event NDJSON v1, with `session` and
/// `visitor` the stored hashes in hex, `url` the stored page, and on
/// pageviews `derived`, what ingest derived for the session.
#[derive(Serialize, Deserialize)]
pub(crate) struct ExportLine<'a> {
    #[serde(borrow)]
    pub site: std::borrow::Cow<'a, str>,
    pub ts: i64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub session: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
    #[serde(borrow)]
    pub url: std::borrow::Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vw: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vh: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dh: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ex: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ey: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Screen, language and time zone are given as Event fields too, so
    /// that a plain NDJSON import keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<SessionAttrs>,
}

impl<'a> ExportLine<'a> {
    fn of(site: &'a str, x: &Exported<'_>) -> ExportLine<'a> {
        let e = x.event;
        ExportLine {
            site: site.into(),
            ts: e.ts,
            kind: e.kind,
            session: hex(x.session),
            visitor: x.visitor.map(hex),
            url: e.page.clone().into(),
            x: e.x,
            y: e.y,
            vw: e.vw,
            vh: e.vh,
            dh: e.dh,
            load_ms: e.load_ms,
            selector: e.selector.clone(),
            ex: e.ex,
            ey: e.ey,
            len: e.len,
            duration_ms: e.duration_ms,
            name: e.name.clone(),
            lang: x.attrs.and_then(|a| a.lang.clone()),
            tz: x.attrs.and_then(|a| a.tz.clone()),
            derived: x.attrs.cloned(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<()> {
        serde_json::to_writer(out, self)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode an exported event: {e}")))
    }
}
