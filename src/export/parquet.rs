//! The Parquet export (feature `parquet`): a Hive-partitioned dataset of
//! events (`events/site=…/date=…/part-NNNNN.parquet`) with their session's
//! attributes on every row, and of sessions
//! (`sessions/site=…/date=…/part-NNNNN.parquet`, by the day of their first
//! pageview). Columns in `docs/export.md`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{hex, ExportProgress, ExportReport, Exported, EXPORT_PROGRESS_EVERY};
use crate::error::{Error, Result};
use crate::normalize::SessionAttrs;
use crate::query::Filters;
use crate::read::View;
use crate::time::day_of;

/// Most rows in one Parquet file; more start the next part.
pub const PARQUET_ROWS_PER_FILE: u64 = 1 << 22;

/// Rows in one row group (and one Arrow batch in memory).
const BATCH_ROWS: usize = 65_536;

const EVENT_INTS: [&str; 14] = [
    "ts",
    "seq",
    "x",
    "y",
    "vw",
    "vh",
    "dh",
    "load_ms",
    "ex",
    "ey",
    "len",
    "duration_ms",
    "session_start",
    "screen_w",
];
const EVENT_STRS: [&str; 4] = ["type", "page", "selector", "name"];
const SESSION_STRS: [&str; 17] = [
    "session",
    "visitor",
    "entry_page",
    "referrer_host",
    "referrer_domain",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "device",
    "browser",
    "os",
    "screen",
    "lang",
    "tz",
];

fn schema(ints: &[&str], strs: &[&str]) -> SchemaRef {
    let mut fields: Vec<Field> = Vec::new();
    for n in ints {
        fields.push(Field::new(*n, DataType::Int64, !matches!(*n, "ts" | "seq")));
    }
    for n in strs {
        let required = matches!(*n, "type" | "page" | "session" | "visitor");
        fields.push(Field::new(*n, DataType::Utf8, !required));
    }
    Arc::new(Schema::new(fields))
}

fn pq(e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::Io(*io),
                Err(other) => Error::Io(std::io::Error::other(other)),
            }
        }
        other => Error::Io(std::io::Error::other(other.to_string())),
    }
}

fn arrow(e: arrow_schema::ArrowError) -> Error {
    Error::Io(std::io::Error::other(e.to_string()))
}

/// The string columns of a session's attributes, in `SESSION_STRS` order
/// after `session` and `visitor`.
fn attr_strings(a: Option<&SessionAttrs>) -> [Option<String>; 15] {
    let Some(a) = a else {
        return Default::default();
    };
    let ser = |v: &dyn JsonName| v.text();
    [
        Some(a.entry_page.clone()),
        Some(a.referrer_host.clone()),
        Some(a.referrer_domain.clone()),
        ser(&a.channel),
        a.utm_source.clone(),
        a.utm_medium.clone(),
        a.utm_campaign.clone(),
        a.utm_term.clone(),
        a.utm_content.clone(),
        ser(&a.device),
        Some(a.browser.clone()),
        Some(a.os.clone()),
        a.screen.clone(),
        a.lang.clone(),
        a.tz.clone(),
    ]
}

/// A serde enum as its JSON name (`"search"`, `"mobile"`).
trait JsonName {
    fn text(&self) -> Option<String>;
}
impl<T: serde::Serialize> JsonName for T {
    fn text(&self) -> Option<String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// Columns being filled for one file.
struct Columns {
    ints: Vec<Int64Builder>,
    strs: Vec<StringBuilder>,
    rows: usize,
}

impl Columns {
    fn new(n_ints: usize, n_strs: usize) -> Columns {
        Columns {
            ints: (0..n_ints).map(|_| Int64Builder::new()).collect(),
            strs: (0..n_strs).map(|_| StringBuilder::new()).collect(),
            rows: 0,
        }
    }

    fn batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> = Vec::new();
        for b in &mut self.ints {
            cols.push(Arc::new(b.finish()));
        }
        for b in &mut self.strs {
            cols.push(Arc::new(b.finish()));
        }
        self.rows = 0;
        RecordBatch::try_new(Arc::clone(schema), cols).map_err(arrow)
    }
}

/// One dataset (`events` or `sessions`): the file being written, rolled
/// over by date and size.
struct Dataset {
    root: PathBuf,
    schema: SchemaRef,
    cols: Columns,
    open: Option<(i32, u32, u64, ArrowWriter<File>)>,
    files: u64,
    bytes: u64,
}

fn date_of(day: i32) -> String {
    let t = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(i64::from(day));
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

impl Dataset {
    fn new(root: PathBuf, ints: &[&str], strs: &[&str]) -> Dataset {
        Dataset {
            root,
            schema: schema(ints, strs),
            cols: Columns::new(ints.len(), strs.len()),
            open: None,
            files: 0,
            bytes: 0,
        }
    }

    /// Makes `day`'s file the open one (closing the last when the day
    /// changes or it is full).
    fn file_for(&mut self, day: i32) -> Result<()> {
        let next_part = match &self.open {
            Some((d, part, rows, _)) if *d == day && *rows < PARQUET_ROWS_PER_FILE => return Ok(()),
            Some((d, part, _, _)) if *d == day => part + 1,
            _ => 0,
        };
        self.close()?;
        let dir = self.root.join(format!("date={}", date_of(day)));
        std::fs::create_dir_all(&dir).map_err(Error::Io)?;
        let path = dir.join(format!("part-{next_part:05}.parquet"));
        let file = File::create(&path).map_err(Error::Io)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(BATCH_ROWS))
            .build();
        let w = ArrowWriter::try_new(file, Arc::clone(&self.schema), Some(props)).map_err(pq)?;
        self.open = Some((day, next_part, 0, w));
        self.files += 1;
        Ok(())
    }

    fn row_added(&mut self) -> Result<()> {
        self.cols.rows += 1;
        if let Some(o) = &mut self.open {
            o.2 += 1;
        }
        if self.cols.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.cols.rows == 0 {
            return Ok(());
        }
        let batch = self.cols.batch(&self.schema)?;
        if let Some((_, _, _, w)) = &mut self.open {
            w.write(&batch).map_err(pq)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.flush()?;
        if let Some((_, _, _, w)) = self.open.take() {
            let file = w.into_inner().map_err(pq)?;
            self.bytes += file.metadata().map_err(Error::Io)?.len();
            file.sync_all().map_err(Error::Io)?;
        }
        Ok(())
    }
}

fn opt(v: Option<impl Into<i64>>) -> Option<i64> {
    v.map(Into::into)
}

impl View {
    /// [`crate::Snapshot::export_parquet`].
    pub(crate) fn export_parquet(
        &self,
        site: &str,
        from: Option<i64>,
        to: Option<i64>,
        dir: &Path,
        progress: &mut dyn FnMut(ExportProgress),
    ) -> Result<ExportReport> {
        let s = self.export_site(site)?;
        let total = self.export_total(site)?;
        let part = format!("site={site}");
        let mut events = Dataset::new(
            dir.join("events").join(&part),
            &EVENT_INTS,
            &[&EVENT_STRS[..], &SESSION_STRS[..]].concat(),
        );
        let mut report = ExportReport::default();
        self.export_events(&s, from, to, true, &mut |x: &Exported<'_>| {
            let e = x.event;
            events.file_for(day_of(e.ts))?;
            let c = &mut events.cols;
            let screen_w = x
                .attrs
                .and_then(|a| a.screen.as_deref())
                .and_then(|s| s.split('x').next())
                .and_then(|w| w.parse::<i64>().ok());
            let ints = [
                Some(e.ts),
                Some(report.events as i64),
                opt(e.x),
                opt(e.y),
                opt(e.vw),
                opt(e.vh),
                opt(e.dh),
                opt(e.load_ms),
                opt(e.ex),
                opt(e.ey),
                opt(e.len),
                opt(e.duration_ms),
                x.session_start,
                screen_w,
            ];
            for (b, v) in c.ints.iter_mut().zip(ints) {
                b.append_option(v);
            }
            let visitor = hex(x.visitor.unwrap_or(x.session));
            let strs = [
                Some(e.kind.as_str().to_owned()),
                Some(e.page.clone()),
                e.selector.clone(),
                e.name.clone(),
                Some(hex(x.session)),
                Some(visitor),
            ];
            let attrs = attr_strings(x.attrs);
            for (b, v) in c.strs.iter_mut().zip(strs.into_iter().chain(attrs)) {
                b.append_option(v);
            }
            events.row_added()?;
            report.events += 1;
            if report.events % EXPORT_PROGRESS_EVERY == 0 {
                progress(ExportProgress {
                    events: report.events,
                    total,
                });
            }
            Ok(())
        })?;
        events.close()?;
        // Sessions, by the day of their first pageview.
        let mut sessions = Dataset::new(
            dir.join("sessions").join(&part),
            &["first_ts"],
            &SESSION_STRS,
        );
        let f = Filters {
            from,
            to,
            include_bots: true,
            ..Filters::default()
        };
        let mut failed = None;
        self.for_sessions(&s, &f, &mut |b, i| {
            if failed.is_some() {
                return;
            }
            let Some(entry) = b.entry(i) else { return };
            let r = (|| {
                sessions.file_for(day_of(entry.first_ts))?;
                let c = &mut sessions.cols;
                if let Some(b) = c.ints.first_mut() {
                    b.append_value(entry.first_ts);
                }
                let visitor = hex(entry.visitor);
                let strs = [Some(hex(entry.hash)), Some(visitor)];
                let attrs = attr_strings(Some(&entry.attrs));
                for (b, v) in c.strs.iter_mut().zip(strs.into_iter().chain(attrs)) {
                    b.append_option(v);
                }
                sessions.row_added()
            })();
            match r {
                Ok(()) => report.sessions += 1,
                Err(e) => failed = Some(e),
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        sessions.close()?;
        report.files = events.files + sessions.files;
        report.bytes = events.bytes + sessions.bytes;
        progress(ExportProgress {
            events: report.events,
            total,
        });
        Ok(report)
    }
}
