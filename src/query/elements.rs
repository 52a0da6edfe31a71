//! The element heatmap: clicks per selector, with the mean in-element position.

use super::scan::scan;
use super::viewport::*;
use super::{top, Filters};
use crate::error::Result;
use crate::read::View;
use crate::storage::dict::Dim;
use crate::storage::segment::col;
use crate::EventKind;
use foldhash::{HashMap, HashMapExt};
use serde::Serialize;
use std::cmp::Reverse;

/// Clicks on one element.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Element {
    /// CSS selector.
    pub selector: String,
    /// Clicks.
    pub clicks: u64,
    /// Mean in-element x (0..=10000) over the clicks that gave one.
    pub mean_ex: Option<f64>,
    /// Mean in-element y (0..=10000) over the clicks that gave one.
    pub mean_ey: Option<f64>,
}

/// The element heatmap: clicks per selector.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Elements {
    /// Elements by clicks, descending.
    pub rows: Vec<Element>,
    /// Clicks with a selector.
    pub total: u64,
}

impl View {
    /// Clicks per element (selector), with the mean in-element position.
    pub(crate) fn elements(
        &self,
        site: &str,
        filters: &Filters,
        limit: Option<usize>,
    ) -> Result<Elements> {
        filters.check()?;
        let mut out = Elements::default();
        let Some(site) = site_or_empty(self, site)? else {
            return Ok(out);
        };
        let f = Filters {
            kind: Some(EventKind::Click),
            ..filters.clone()
        };
        // selector → (clicks, ex sum, ex n, ey sum, ey n)
        let mut acc: HashMap<String, (u64, u64, u64, u64, u64)> = HashMap::new();
        scan(self, &site, &f, None, &mut |ctx| {
            let sel = ctx.opt(col::SELECTOR)?;
            let ex = ctx.opt(col::EX)?;
            let ey = ctx.opt(col::EY)?;
            // Partition selector id → (clicks, ex sum, ex n, ey sum, ey n).
            let mut local: HashMap<u64, (u64, u64, u64, u64, u64)> = HashMap::new();
            for r in &ctx.rows {
                let Some(s) = sel.get(r) else { continue };
                let a = local.entry(s).or_default();
                a.0 += 1;
                if let Some(x) = ex.get(r) {
                    a.1 = a.1.saturating_add(x);
                    a.2 += 1;
                }
                if let Some(y) = ey.get(r) {
                    a.3 = a.3.saturating_add(y);
                    a.4 += 1;
                }
            }
            for (id, a) in local {
                let name = ctx.string(Dim::Selector, id)?;
                if filters.selector.as_deref().is_some_and(|s| s != name) {
                    continue;
                }
                let t = match acc.get_mut(name) {
                    Some(t) => t,
                    None => acc.entry(name.to_owned()).or_default(),
                };
                t.0 += a.0;
                t.1 = t.1.saturating_add(a.1);
                t.2 = t.2.saturating_add(a.2);
                t.3 = t.3.saturating_add(a.3);
                t.4 += a.4;
            }
            Ok(())
        })?;
        let mean = |sum: u64, n: u64| (n > 0).then(|| sum as f64 / n as f64);
        out.rows = acc
            .into_iter()
            .map(|(selector, a)| Element {
                selector,
                clicks: a.0,
                mean_ex: mean(a.1, a.2),
                mean_ey: mean(a.3, a.4),
            })
            .collect();
        out.total = out.rows.iter().map(|r| r.clicks).sum();
        top(&mut out.rows, limit, |r| {
            (Reverse(r.clicks), r.selector.clone())
        });
        Ok(out)
    }
}
