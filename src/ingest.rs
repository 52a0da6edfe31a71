//! Ingest: a validated [`Event`] becomes a stored row and, for a pageview, a
//! candidate set of session attributes.
//!
//! Derived once here (per distinct string, through caches): the page path
//! and campaign, the referrer's host, domain and channel, the device. Fields
//! that do not apply to the event's kind are dropped. The privacy rules that
//! drop whole events (DNT, sensitive selectors) are applied here too; ids and
//! opt-outs are the writer's job, as they need the site's secret key.

use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, Mutex};

use crate::event::{EventError, EventKind, EventRef};
use crate::normalize::id_hash;
use crate::normalize::session::{attrs_from, raw_attrs};
use crate::normalize::SessionAttrs;
use crate::normalize::{parse_page, selector_matches, PageInfo, ReferrerSources, UaCache};
use crate::storage::row::Row;
use crate::storage::sites::{SiteRecord, SiteSettings};

/// Why an accepted event was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// `dnt: true` and the site honours Do-Not-Track.
    DoNotTrack,
    /// The event's selector matches one of the site's sensitive patterns.
    SensitiveSelector,
    /// The visitor opted out.
    OptedOut,
    /// A deletion request recorded before the event arrived covers it: it
    /// happened before the request and belongs to a deleted session or
    /// visitor, time range or site (see [`crate::Store::request_deletion`]).
    Deleted,
}

/// The outcome of normalizing one event.
pub(crate) struct Normalized {
    /// The row, with `session` and `visitor` still zero.
    pub row: Row,
    /// Attributes this event gives its session, if it is a pageview.
    /// (Boxed: most events are not pageviews, and this is moved often.)
    pub attrs: Option<Box<SessionAttrs>>,
}

/// What ingest derives from a raw hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IngestMode {
    /// Everything: page path and campaign, referrer host, domain and
    /// channel, device from the user agent, language subtag. The default.
    #[default]
    Normalize,
    /// Nothing that needs parsing: the URL is stored as the page, the
    /// referrer as given as its host and domain (channel `referral`, or
    /// `direct` without one), the user agent as given as the browser
    /// (device class `unknown`), the language tag as given; no campaign.
    /// Privacy rules still apply (a site's allowed hosts still parse the
    /// URL's host). For measuring what normalization costs, and for data
    /// normalized upstream.
    Raw,
}

/// Caches shared by every event a writer normalizes.
pub(crate) struct Normalizer {
    mode: IngestMode,
    /// Shared by a writer's normalizer and its import workers, so that each
    /// distinct user agent is parsed once per store, not once per thread.
    ua: Arc<Mutex<UaCache>>,
    pages: HashMap<String, Arc<Page>>,
    selectors: HashMap<String, Arc<str>>,
    sources: ReferrerSources,
}

/// A parsed page URL, with its path shared by every row of the page.
struct Page {
    info: PageInfo,
    path: Arc<str>,
}

/// Most distinct URLs (and, apart, selectors) cached before a cache starts
/// over.
const PAGE_CACHE: usize = 65_536;

impl Normalizer {
    pub(crate) fn new(sources: ReferrerSources, mode: IngestMode) -> Normalizer {
        Normalizer {
            mode,
            ua: Arc::new(Mutex::new(UaCache::new())),
            pages: HashMap::new(),
            selectors: HashMap::new(),
            sources,
        }
    }

    /// A normalizer with the same referrer table and mode, and empty caches.
    /// A normalizer with the same referrer table and mode, sharing this
    /// one's user-agent cache (its other caches start empty).
    pub(crate) fn fresh(&self) -> Normalizer {
        Normalizer {
            ua: Arc::clone(&self.ua),
            ..Normalizer::new(self.sources.clone(), self.mode)
        }
    }

    pub(crate) fn sources(&self) -> &ReferrerSources {
        &self.sources
    }

    pub(crate) fn mode(&self) -> IngestMode {
        self.mode
    }

    fn page(&mut self, url: &str) -> Arc<Page> {
        if let Some(p) = self.pages.get(url) {
            return Arc::clone(p);
        }
        if self.pages.len() >= PAGE_CACHE {
            self.pages.clear();
        }
        let info = match self.mode {
            IngestMode::Normalize => parse_page(url),
            IngestMode::Raw => PageInfo {
                path: url.to_owned(),
                // Kept for the allowed-hosts rule (the cache is shared by
                // every site, with or without allowed hosts).
                host: parse_page(url).host,
                ..PageInfo::default()
            },
        };
        let p = Arc::new(Page {
            path: info.path.as_str().into(),
            info,
        });
        self.pages.insert(url.to_owned(), Arc::clone(&p));
        p
    }

    fn selector(&mut self, s: &str) -> Arc<str> {
        if let Some(p) = self.selectors.get(s) {
            return Arc::clone(p);
        }
        if self.selectors.len() >= PAGE_CACHE {
            self.selectors.clear();
        }
        let p: Arc<str> = s.into();
        self.selectors.insert(s.to_owned(), Arc::clone(&p));
        p
    }

    /// Normalizes a validated event. `Ok(Err(_))` is an event dropped by a
    /// privacy rule; `Err` rejects it.
    pub(crate) fn normalize(
        &mut self,
        e: &EventRef<'_>,
        settings: &SiteSettings,
    ) -> Result<Result<Normalized, Dropped>, EventError> {
        if settings.honour_dnt && e.dnt == Some(true) {
            return Ok(Err(Dropped::DoNotTrack));
        }
        let page = self.page(e.url);
        if !settings.allowed_hosts.is_empty() {
            if let Some(host) = &page.info.host {
                let allowed = settings
                    .allowed_hosts
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(host));
                if !allowed {
                    return Err(EventError::new(
                        "url",
                        format!("host {host:?} is not one of the site's allowed hosts"),
                    ));
                }
            }
        }
        let kind = e.kind;
        let selector = match (e.selector, kind) {
            (Some(s), EventKind::Click | EventKind::Input) => Some(s),
            _ => None,
        };
        if let Some(s) = selector {
            if settings
                .sensitive_selectors
                .iter()
                .any(|p| selector_matches(p, s))
            {
                return Ok(Err(Dropped::SensitiveSelector));
            }
        }
        let on = |ks: &[EventKind]| ks.contains(&kind);
        use EventKind::*;
        let geometry = on(&[Pageview, Click, Move, Scroll]);
        let row = Row {
            ts: e.ts,
            kind: kind.code(),
            session: 0,
            visitor: 0,
            page: Arc::clone(&page.path),
            x: e.x.filter(|_| on(&[Click, Move])),
            y: e.y.filter(|_| on(&[Click, Move, Scroll])),
            vw: e.vw.filter(|_| geometry),
            vh: e.vh.filter(|_| geometry),
            dh: e.dh.filter(|_| geometry),
            load_ms: e.load_ms.filter(|_| kind == Pageview),
            ex: e.ex.filter(|_| kind == Click),
            ey: e.ey.filter(|_| kind == Click),
            len: e.len.filter(|_| kind == Input),
            duration_ms: e.duration_ms.filter(|_| kind == Leave),
            selector: selector.map(|s| self.selector(s)),
            name: e.name.filter(|_| kind == Custom).map(str::to_owned),
        };
        let attrs = (kind == Pageview).then(|| Box::new(self.session_attrs(e, &page.info)));
        Ok(Ok(Normalized { row, attrs }))
    }

    fn session_attrs(&mut self, e: &EventRef<'_>, page: &PageInfo) -> SessionAttrs {
        if self.mode == IngestMode::Raw {
            return raw_attrs(e, page);
        }
        let device = match e.ua {
            Some(ua) => {
                // A panic while parsing leaves a usable cache: take it back.
                let mut cache = self.ua.lock().unwrap_or_else(|p| p.into_inner());
                (*cache.get(ua)).clone()
            }
            None => crate::normalize::Device::parse(""),
        };
        attrs_from(e, page, device, &self.sources)
    }
}

/// An event normalized for its site and ready to buffer: the part of
/// ingest that needs only the site's settings and key, so that an import
/// runs it off the committing thread.
pub(crate) struct Prepared {
    /// The row, with its session and visitor hashes unless cookieless.
    pub row: Row,
    /// The attributes a pageview gives its session (boxed: most events
    /// are not pageviews, and prepared events are moved between threads).
    pub attrs: Option<Box<SessionAttrs>>,
    /// Whether the event names its visitor (`row.visitor` is then that
    /// visitor's hash; otherwise the session's).
    pub names_visitor: bool,
    /// (ip, ua) of a cookieless event: its ids depend on the day's salt and
    /// the visitor's last activity, which only the writer knows.
    pub cookieless: Option<Box<(String, String)>>,
}

/// Normalizes a validated event for the site whose record is `record`.
/// `Ok(Err(_))` is an event dropped by a privacy rule; `Err` rejects it.
pub(crate) fn prepare(
    e: &EventRef<'_>,
    record: &SiteRecord,
    normalizer: &mut Normalizer,
) -> std::result::Result<std::result::Result<Prepared, Dropped>, EventError> {
    let normalized = match normalizer.normalize(e, &record.settings)? {
        Ok(n) => n,
        Err(dropped) => return Ok(Err(dropped)),
    };
    let mut row = normalized.row;
    let mut cookieless = None;
    let mut names_visitor = true;
    match e.session {
        Some(s) => {
            row.session = id_hash(&record.key, s);
            row.visitor = e.visitor.map_or(row.session, |v| id_hash(&record.key, v));
            names_visitor = e.visitor.is_some();
        }
        None => {
            let (Some(ip), Some(ua)) = (e.ip, e.ua) else {
                return Err(EventError::new("session", "is required"));
            };
            cookieless = Some(Box::new((ip.to_owned(), ua.to_owned())));
        }
    }
    Ok(Ok(Prepared {
        row,
        attrs: normalized.attrs,
        names_visitor,
        cookieless,
    }))
}
