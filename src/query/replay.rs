//! Replay: every event of one session, in `(ts, arrival)` order.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::normalize::id_hash;
use crate::read::{SiteRef, View};
use crate::storage::partition::PartMeta;
use crate::storage::row::Row;
use crate::EventKind;

/// One stored event, as replay returns it. Ids are not returned: the store
/// holds only their keyed hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct StoredEvent {
    /// ms since the Unix epoch.
    pub ts: i64,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Page path.
    pub page: String,
    /// Document x (click, move).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<u32>,
    /// Document y (click, move) or scrollTop (scroll).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<u32>,
    /// Viewport width.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vw: Option<u32>,
    /// Viewport height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vh: Option<u32>,
    /// Document height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dh: Option<u32>,
    /// Page load time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<u32>,
    /// Target element's selector (click, input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// In-element x, 1/10000 (click).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ex: Option<u16>,
    /// In-element y, 1/10000 (click).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ey: Option<u16>,
    /// Characters typed (input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u32>,
    /// Time on page (leave).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
    /// Custom event name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl From<Row> for StoredEvent {
    fn from(r: Row) -> StoredEvent {
        StoredEvent {
            ts: r.ts,
            kind: r.kind(),
            page: r.page.to_string(),
            x: r.x,
            y: r.y,
            vw: r.vw,
            vh: r.vh,
            dh: r.dh,
            load_ms: r.load_ms,
            selector: r.selector.as_deref().map(str::to_owned),
            ex: r.ex,
            ey: r.ey,
            len: r.len,
            duration_ms: r.duration_ms,
            name: r.name,
        }
    }
}

impl View {
    /// Every event of one session, in `(ts, arrival)` order (replay).
    pub(crate) fn session_events(&self, site: &str, session: &str) -> Result<Vec<StoredEvent>> {
        let Some(s) = self.site(site)? else {
            return Ok(Vec::new());
        };
        let hash = id_hash(&s.record.key, session);
        self.session_events_by_hash(&s, hash)
    }

    pub(crate) fn session_events_by_hash(
        &self,
        s: &SiteRef,
        hash: u64,
    ) -> Result<Vec<StoredEvent>> {
        let site = s.id;
        let Some(row) = self.session_row(site, hash)? else {
            return Ok(Vec::new());
        };
        if s.hidden.session_hidden(hash, row.visitor) {
            return Ok(Vec::new());
        }
        let mut out: Vec<(i64, usize, StoredEvent)> = Vec::new();
        let mut order = 0usize;
        for day in row.days {
            let Some(meta) = self
                .t
                .partitions
                .get((site, day))?
                .map(|g| g.value().to_vec())
            else {
                continue;
            };
            let meta = PartMeta::decode(&meta)?;
            let view = self.partition_view(site, day, &meta)?;
            for seg in &view.segments {
                // Only the session's run of each segment is decoded.
                let ctx = crate::query::scan::SegCtx::new(self, &view, seg);
                let runs = ctx.runs()?;
                let Ok(i) = runs.hashes.binary_search(&hash) else {
                    continue;
                };
                let range = runs.range(i);
                for (_, e) in ctx.events_of(range)? {
                    if s.hidden.ts_hidden(e.ts) {
                        continue;
                    }
                    out.push((e.ts, order, e));
                    order += 1;
                }
            }
        }
        out.sort_by_key(|(ts, o, _)| (*ts, *o));
        Ok(out.into_iter().map(|(_, _, e)| e).collect())
    }

    /// Replay by a session key from [`SessionSummary::session`].
    pub(crate) fn session_events_by_key(&self, site: &str, key: &str) -> Result<Vec<StoredEvent>> {
        let hash = u64::from_str_radix(key, 16).map_err(|_| {
            Error::InvalidArgument(format!("session key {key:?} is not 16 hex digits"))
        })?;
        let Some(site) = self.site(site)? else {
            return Ok(Vec::new());
        };
        self.session_events_by_hash(&site, hash)
    }
}
