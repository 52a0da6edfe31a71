//! The naive model of every report, written straight from the semantics in
//! docs/semantics.md, and the random event sets the model tests use.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use heatstore::normalize::{
    classify_referrer, parse_page, Channel, Device, DeviceClass, ReferrerSources,
};
use heatstore::query::{DeviceBy, Filters, HeatmapOptions, Interval, ReferrerBy};
use heatstore::{Event, EventKind, Store, StoredEvent};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SITES: [&str; 2] = ["shop.example", "blog.example"];
pub const PAGES: [&str; 4] = ["/", "/pricing", "/blog/a", "/checkout"];
pub const UAS: [Option<&str>; 6] = [
    Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
    Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"),
    Some("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"),
    Some("Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"),
    Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    None,
];
pub const REFERRERS: [Option<&str>; 6] = [
    None,
    Some("https://www.google.com/search?q=x"),
    Some("https://l.facebook.com/"),
    Some("https://shop.example/other"),
    Some("https://news.ycombinator.com/item?id=1"),
    Some("https://mail.google.com/"),
];
pub const SELECTORS: [&str; 3] = ["#buy", "nav > a", ".card button"];

/// Which events of a session carry its visitor id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VisitorOn {
    /// Every event (today's trackers that send it on every hit).
    All,
    /// Pageviews only (most trackers).
    Pageviews,
    /// Each event with this probability.
    Some(f64),
}

/// The shape of a random event set: where visitor ids ride, how many
/// sessions name a second visitor (a login switching ids), and how much
/// of the arrival order is shuffled (1.0: a random permutation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub visitor_on: VisitorOn,
    pub two_visitors: f64,
    pub late: f64,
    /// Pageviews without a viewport (server logs, no-JS pixels): half of
    /// them with no `vw`, `vh`, `dh` at all, half with no `dh` only.
    pub no_viewport: f64,
}

impl Shape {
    /// What the model tests used before: ids on every event, a quarter of
    /// the events swapped.
    pub const CLASSIC: Shape = Shape {
        visitor_on: VisitorOn::All,
        two_visitors: 0.0,
        late: 0.25,
        no_viewport: 0.0,
    };

    /// A shape drawn at random: classic, ids on pageviews only, ids on
    /// some events, second visitors, and late fractions up to 1.0.
    pub fn random(rng: &mut StdRng) -> Shape {
        Shape {
            visitor_on: match rng.random_range(0..4) {
                0 => VisitorOn::All,
                1 | 2 => VisitorOn::Pageviews,
                _ => VisitorOn::Some([0.1, 0.5][rng.random_range(0..2)]),
            },
            two_visitors: [0.0, 0.2][rng.random_range(0..2)],
            late: [0.0, 0.25, 0.6, 1.0][rng.random_range(0..4)],
            no_viewport: [0.0, 0.3][rng.random_range(0..2)],
        }
    }
}

/// Random events: a few sessions per site over three days, out of order.
pub fn events(seed: u64, n_sessions: usize) -> Vec<Event> {
    events_shaped(seed, n_sessions, Shape::CLASSIC)
}

/// [`events`] of a given shape.
pub fn events_shaped(seed: u64, n_sessions: usize, shape: Shape) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let base = 1_767_225_600_000i64; // 2026-01-01T00:00Z
    let mut out = Vec::new();
    for s in 0..n_sessions {
        let site = SITES[rng.random_range(0..2)];
        let session = format!("s{s}");
        let visitor = (rng.random_range(0..3) > 0).then(|| format!("v{}", s / 2));
        // A session that switches to another visitor id part-way.
        let second = (visitor.is_some() && rng.random_bool(shape.two_visitors))
            .then(|| format!("w{}", s / 3));
        let mut t = base + rng.random_range(0..3 * 86_400_000i64);
        let session_start = out.len();
        let ua = UAS[rng.random_range(0..UAS.len())];
        let n_pv = rng.random_range(0..4);
        let push = |e: Event, out: &mut Vec<Event>| out.push(e);
        for _ in 0..n_pv.max(1) {
            let page = PAGES[rng.random_range(0..PAGES.len())];
            let pv = n_pv > 0;
            let (vw, vh, dh) = (
                rng.random_range(300..2000u32),
                rng.random_range(300..1000u32),
                rng.random_range(1000..6000u32),
            );
            if pv {
                let url = match rng.random_range(0..4) {
                    0 => format!(
                        "https://{site}{page}?utm_source=news&utm_medium=email&utm_campaign=spring"
                    ),
                    1 => format!("https://{site}{page}#top"),
                    _ => page.to_owned(),
                };
                let mut e = Event::new(site, t, EventKind::Pageview, &session, &url);
                e.visitor = visitor.clone();
                (e.vw, e.vh, e.dh) = (Some(vw), Some(vh), Some(dh));
                if shape.no_viewport > 0.0 && rng.random_bool(shape.no_viewport) {
                    e.dh = None;
                    if rng.random_bool(0.5) {
                        (e.vw, e.vh) = (None, None);
                    }
                }
                e.ua = ua.map(str::to_owned);
                e.referrer = REFERRERS[rng.random_range(0..REFERRERS.len())].map(str::to_owned);
                e.load_ms = (rng.random_range(0..3) > 0).then(|| rng.random_range(100..5000));
                e.lang = Some(["en-US", "de-DE", "fr"][rng.random_range(0..3)].to_owned());
                e.tz = Some("Europe/Berlin".to_owned());
                (e.screen_w, e.screen_h) = (Some(1920), Some(1080));
                push(e, &mut out);
            }
            for _ in 0..rng.random_range(0..12) {
                t += rng.random_range(0..900i64);
                let kind = [
                    EventKind::Click,
                    EventKind::Move,
                    EventKind::Scroll,
                    EventKind::Input,
                    EventKind::Leave,
                    EventKind::Custom,
                ][rng.random_range(0..6)];
                let mut e = Event::new(site, t, kind, &session, page);
                e.visitor = visitor.clone();
                let own_geometry = rng.random_range(0..3) == 0;
                if own_geometry {
                    (e.vw, e.vh, e.dh) = (Some(vw), Some(vh), Some(dh));
                }
                match kind {
                    EventKind::Click | EventKind::Move => {
                        e.x = Some(rng.random_range(0..2100));
                        e.y = Some(rng.random_range(0..6000));
                        if kind == EventKind::Click {
                            e.selector = (rng.random_range(0..4) > 0)
                                .then(|| SELECTORS[rng.random_range(0..3)].to_owned());
                            if rng.random_range(0..2) == 0 {
                                e.ex = Some(rng.random_range(0..=10_000));
                                e.ey = Some(rng.random_range(0..=10_000));
                            }
                            // Sometimes a rage burst.
                            if rng.random_range(0..5) == 0 {
                                for _ in 0..rng.random_range(2..5) {
                                    let mut r = e.clone();
                                    t += rng.random_range(0..400i64);
                                    r.ts = t;
                                    r.x = e.x.map(|x| x + rng.random_range(0..20));
                                    push(r, &mut out);
                                }
                            }
                        }
                    }
                    EventKind::Scroll => e.y = Some(rng.random_range(0..6000)),
                    EventKind::Input => {
                        e.len = Some(rng.random_range(0..30));
                        e.selector = Some("#email".into());
                    }
                    EventKind::Leave => e.duration_ms = Some(rng.random_range(0..100_000)),
                    _ => e.name = Some("signup".into()),
                }
                push(e, &mut out);
            }
            t += rng.random_range(0..4 * 3_600_000i64);
        }
        // Where the visitor id rides.
        let n = out.len() - session_start;
        for (k, e) in out[session_start..].iter_mut().enumerate() {
            let keep = match shape.visitor_on {
                VisitorOn::All => true,
                VisitorOn::Pageviews => e.kind == EventKind::Pageview,
                VisitorOn::Some(p) => rng.random_bool(p),
            };
            if !keep {
                e.visitor = None;
            } else if second.is_some() && k >= n / 2 {
                e.visitor = second.clone();
            }
        }
    }
    // Out-of-order arrival: a `late` share of the events swapped with
    // random others (1.0: about a random permutation).
    for _ in 0..out.len() {
        let i = rng.random_range(0..out.len());
        let j = rng.random_range(0..out.len());
        if rng.random_bool(shape.late) {
            out.swap(i, j);
        }
    }
    out
}

// ------------------------------------------------------------------ model

#[derive(Clone, Debug)]
pub struct ME {
    pub e: Event,
    pub arrival: usize,
    pub page: String,
}

pub struct SessionModel {
    pub site: String,
    pub id: String,
    /// Named by the session's first event in (ts, arrival) order that
    /// names one; the session id when none does.
    pub visitor: String,
    /// (ts, arrival) of that event.
    pub named_at: Option<(i64, usize)>,
    /// Every visitor its events name.
    pub named: BTreeSet<String>,
    pub first: Option<(i64, usize)>,
    pub attrs: Option<heatstore::SessionAttrs>,
}

pub struct Model {
    pub events: Vec<ME>,
    pub sessions: BTreeMap<(String, String), SessionModel>,
}

pub fn attrs_of(e: &Event) -> heatstore::SessionAttrs {
    let page = parse_page(&e.url);
    let device = Device::parse(e.ua.as_deref().unwrap_or(""));
    let campaign = !page.campaign.is_empty() || page.click_id;
    let r = classify_referrer(
        e.referrer.as_deref(),
        page.host.as_deref(),
        campaign,
        &ReferrerSources::builtin(),
    );
    heatstore::SessionAttrs {
        entry_page: page.path.clone(),
        referrer_host: r.host,
        referrer_domain: r.domain,
        channel: r.channel,
        utm_source: page.campaign.source.clone(),
        utm_medium: page.campaign.medium.clone(),
        utm_campaign: page.campaign.campaign.clone(),
        utm_term: page.campaign.term.clone(),
        utm_content: page.campaign.content.clone(),
        device: device.class,
        browser: device.browser,
        browser_major: device.browser_major,
        os: device.os,
        os_major: device.os_major,
        screen: heatstore::normalize::screen_size(e.screen_w, e.screen_h),
        lang: e
            .lang
            .as_deref()
            .and_then(heatstore::normalize::primary_language),
        tz: e.tz.clone(),
    }
}

impl Model {
    pub fn new(committed: &[Event]) -> Model {
        let mut m = Model {
            events: Vec::new(),
            sessions: BTreeMap::new(),
        };
        for (arrival, e) in committed.iter().enumerate() {
            let sid = e.session.clone().unwrap();
            let s = m
                .sessions
                .entry((e.site.clone(), sid.clone()))
                .or_insert_with(|| SessionModel {
                    site: e.site.clone(),
                    id: sid.clone(),
                    visitor: sid.clone(),
                    named_at: None,
                    named: BTreeSet::new(),
                    first: None,
                    attrs: None,
                });
            if let Some(v) = &e.visitor {
                s.named.insert(v.clone());
                if s.named_at.is_none_or(|n| (e.ts, arrival) < n) {
                    s.named_at = Some((e.ts, arrival));
                    s.visitor = v.clone();
                }
            }
            if e.kind == EventKind::Pageview && s.first.is_none_or(|f| (e.ts, arrival) < f) {
                s.first = Some((e.ts, arrival));
                s.attrs = Some(attrs_of(e));
            }
            m.events.push(ME {
                e: e.clone(),
                arrival,
                page: parse_page(&e.url).path,
            });
        }
        m
    }

    /// Whether a deletion of `visitors` and `sessions` (each with its
    /// site) deletes session `s`: a visitor's deletion covers every session
    /// any of whose events named it (and a session none of whose events
    /// names a visitor stands for itself).
    pub fn deleted(
        s: &SessionModel,
        visitors: &[(String, String)],
        sessions: &[(String, String)],
    ) -> bool {
        let hit = |list: &[(String, String)], id: &str| {
            list.iter().any(|(site, v)| *site == s.site && v == id)
        };
        hit(sessions, &s.id)
            || hit(visitors, &s.visitor)
            || s.named.iter().any(|v| hit(visitors, v))
    }

    /// About one session in `one_in`, each giving a visitor to delete: one
    /// its events name (first or second), or, for a session naming none,
    /// the session standing for its visitor. (site, visitor) pairs.
    pub fn pick_visitors(&self, rng: &mut StdRng, one_in: u32) -> Vec<(String, String)> {
        let mut visitors = Vec::new();
        for s in self.sessions.values() {
            if rng.random_range(0..one_in) == 0 {
                let named: Vec<&String> = s.named.iter().collect();
                let v = if named.is_empty() {
                    s.id.clone()
                } else {
                    named[rng.random_range(0..named.len())].clone()
                };
                visitors.push((s.site.clone(), v));
            }
        }
        visitors
    }

    pub fn session(&self, e: &ME) -> &SessionModel {
        &self.sessions[&(e.e.site.clone(), e.e.session.clone().unwrap())]
    }

    fn session_ok(&self, s: &SessionModel, f: &Filters) -> bool {
        let device = s.attrs.as_ref().map_or(DeviceClass::Unknown, |a| a.device);
        match f.device {
            Some(d) if d != device => return false,
            None if !f.include_bots && device == DeviceClass::Bot => return false,
            _ => {}
        }
        let a = s.attrs.as_ref();
        let needs =
            f.browser.is_some() || f.os.is_some() || f.referrer.is_some() || f.channel.is_some();
        if needs && a.is_none() {
            return false;
        }
        if let Some(a) = a {
            if f.browser.as_ref().is_some_and(|b| *b != a.browser)
                || f.os.as_ref().is_some_and(|o| *o != a.os)
                || f.referrer.as_ref().is_some_and(|r| *r != a.referrer_host)
                || f.channel.is_some_and(|c| c != a.channel)
            {
                return false;
            }
        }
        true
    }

    /// Event filter, without the selector.
    pub fn event_ok(&self, e: &ME, site: &str, f: &Filters) -> bool {
        e.e.site == site
            && f.from.is_none_or(|t| e.e.ts >= t)
            && f.to.is_none_or(|t| e.e.ts < t)
            && f.page.as_ref().is_none_or(|p| *p == e.page)
            && f.kind.is_none_or(|k| k == e.e.kind)
            && self.session_ok(self.session(e), f)
    }

    fn matching_sessions(&self, site: &str, f: &Filters) -> Vec<&SessionModel> {
        let event_filtered: Option<HashSet<String>> =
            (f.page.is_some() || f.kind.is_some() || f.selector.is_some()).then(|| {
                self.events
                    .iter()
                    .filter(|e| self.event_ok(e, site, f))
                    .filter(|e| {
                        f.selector.is_none()
                            || e.e.selector == f.selector
                                && matches!(e.e.kind, EventKind::Click | EventKind::Input)
                    })
                    .map(|e| e.e.session.clone().unwrap())
                    .collect()
            });
        self.sessions
            .values()
            .filter(|s| s.site == site)
            .filter(|s| {
                s.first.is_some_and(|(t, _)| {
                    f.from.is_none_or(|x| t >= x) && f.to.is_none_or(|x| t < x)
                })
            })
            .filter(|s| self.session_ok(s, f))
            .filter(|s| {
                event_filtered
                    .as_ref()
                    .is_none_or(|set| set.contains(&s.id))
            })
            .collect()
    }

    /// The session's pageview of `page` for an event at (ts, arrival).
    fn pageview_for(
        &self,
        site: &str,
        session: &str,
        page: &str,
        ts: i64,
        arrival: usize,
    ) -> Option<&ME> {
        let mut pvs: Vec<&ME> = self
            .events
            .iter()
            .filter(|e| {
                e.e.site == site
                    && e.e.session.as_deref() == Some(session)
                    && e.e.kind == EventKind::Pageview
                    && e.page == page
            })
            .collect();
        pvs.sort_by_key(|e| (e.e.ts, e.arrival));
        pvs.iter()
            .rev()
            .find(|p| (p.e.ts, p.arrival) <= (ts, arrival))
            .or(pvs.first())
            .copied()
    }
}

pub fn breakdown_model(rows: Vec<(String, String)>) -> Vec<(String, u64, u64)> {
    let mut acc: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    for (k, v) in rows {
        let a = acc.entry(k).or_default();
        a.0 += 1;
        a.1.insert(v);
    }
    let mut v: Vec<(String, u64, u64)> = acc
        .into_iter()
        .map(|(k, (s, v))| (k, s, v.len() as u64))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

pub fn check_all(store: &Store, m: &Model, f: &Filters, opts: HeatmapOptions) {
    let snap = store.snapshot().unwrap();
    for site in SITES {
        let ctx = format!("site {site}, filters {f:?}");
        // Heatmap (click and move) and scroll reach need a page.
        if let Some(page) = &f.page {
            for kind in [EventKind::Click, EventKind::Move] {
                if f.kind.is_some_and(|k| k != kind) {
                    continue;
                }
                let hf = Filters {
                    kind: Some(kind),
                    ..f.clone()
                };
                let got = snap.heatmap(site, &hf, opts).unwrap();
                let mut cells: BTreeMap<(u32, u32), u64> = BTreeMap::new();
                let mut skipped = 0;
                for e in m.events.iter().filter(|e| m.event_ok(e, site, &hf)) {
                    let vw = e.e.vw.or_else(|| {
                        m.pageview_for(
                            site,
                            e.e.session.as_deref().unwrap(),
                            page,
                            e.e.ts,
                            e.arrival,
                        )
                        .and_then(|p| p.e.vw)
                    });
                    let Some(vw) = vw else {
                        skipped += 1;
                        continue;
                    };
                    let (x, y) = (u64::from(e.e.x.unwrap()), u64::from(e.e.y.unwrap()));
                    let c = (x * u64::from(opts.cols) / u64::from(vw)).min(u64::from(opts.cols) - 1)
                        as u32;
                    *cells
                        .entry(((y / u64::from(opts.row_px)) as u32, c))
                        .or_default() += 1;
                }
                let want: Vec<(u32, u32, u64)> =
                    cells.iter().map(|(&(r, c), &n)| (c, r, n)).collect();
                let got_cells: Vec<(u32, u32, u64)> =
                    got.cells.iter().map(|c| (c.col, c.row, c.count)).collect();
                assert_eq!(got_cells, want, "heatmap {kind}: {ctx}");
                assert_eq!(
                    got.total,
                    cells.values().sum::<u64>(),
                    "heatmap total: {ctx}"
                );
                assert_eq!(got.skipped, skipped, "heatmap skipped: {ctx}");
            }
            // Scroll reach.
            if f.kind.is_none() {
                let got = snap.scroll_reach(site, f, 10).unwrap();
                let depth = |y: u64, vh: u64, dh: u64| ((y + vh) * 100 / dh).min(100) as u32;
                let mut deepest: HashMap<String, u32> = HashMap::new();
                let mut fold: HashMap<String, (i64, usize, u32)> = HashMap::new();
                for e in m.events.iter().filter(|e| m.event_ok(e, site, f)) {
                    let sid = e.e.session.clone().unwrap();
                    match e.e.kind {
                        EventKind::Scroll => {
                            let (vh, dh) = match (e.e.vh, e.e.dh) {
                                (Some(vh), Some(dh)) => (vh, dh),
                                _ => match m.pageview_for(site, &sid, page, e.e.ts, e.arrival) {
                                    Some(p) => match (p.e.vh, p.e.dh) {
                                        (Some(vh), Some(dh)) => (vh, dh),
                                        // No document height: left out.
                                        _ => continue,
                                    },
                                    None => continue,
                                },
                            };
                            let d = depth(u64::from(e.e.y.unwrap()), u64::from(vh), u64::from(dh));
                            let x = deepest.entry(sid).or_default();
                            *x = (*x).max(d);
                        }
                        EventKind::Pageview => {
                            let (Some(vh), Some(dh)) = (e.e.vh, e.e.dh) else {
                                continue;
                            };
                            let d = depth(0, u64::from(vh), u64::from(dh));
                            let x = fold.entry(sid).or_insert((e.e.ts, e.arrival, d));
                            if (e.e.ts, e.arrival) < (x.0, x.1) {
                                *x = (e.e.ts, e.arrival, d);
                            }
                        }
                        _ => {}
                    }
                }
                let mut reach: HashMap<String, u32> =
                    fold.into_iter().map(|(s, x)| (s, x.2)).collect();
                reach.extend(deepest);
                assert_eq!(got.sessions, reach.len() as u64, "scroll sessions: {ctx}");
                for step in &got.steps {
                    let n = reach.values().filter(|&&r| r >= step.depth).count() as u64;
                    assert_eq!(step.sessions, n, "scroll depth {}: {ctx}", step.depth);
                }
            }
        }
        // Elements.
        let ef = Filters {
            kind: Some(EventKind::Click),
            ..f.clone()
        };
        if f.kind.is_none_or(|k| k == EventKind::Click) {
            let got = snap.elements(site, &ef, None).unwrap();
            let mut acc: BTreeMap<String, (u64, u64, u64, u64, u64)> = BTreeMap::new();
            for e in m.events.iter().filter(|e| m.event_ok(e, site, &ef)) {
                let Some(s) = &e.e.selector else { continue };
                if f.selector.as_ref().is_some_and(|w| w != s) {
                    continue;
                }
                let a = acc.entry(s.clone()).or_default();
                a.0 += 1;
                if let Some(x) = e.e.ex {
                    a.1 += u64::from(x);
                    a.2 += 1;
                }
                if let Some(y) = e.e.ey {
                    a.3 += u64::from(y);
                    a.4 += 1;
                }
            }
            let mut want: Vec<(String, u64, Option<f64>, Option<f64>)> = acc
                .into_iter()
                .map(|(s, a)| {
                    (
                        s,
                        a.0,
                        (a.2 > 0).then(|| a.1 as f64 / a.2 as f64),
                        (a.4 > 0).then(|| a.3 as f64 / a.4 as f64),
                    )
                })
                .collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(String, u64, Option<f64>, Option<f64>)> = got
                .rows
                .into_iter()
                .map(|r| (r.selector, r.clicks, r.mean_ex, r.mean_ey))
                .collect();
            assert_eq!(got, want, "elements: {ctx}");

            // Rage clicks.
            let got = snap.rage_clicks(site, &ef, None).unwrap();
            let mut groups: BTreeMap<(String, String), Vec<&ME>> = BTreeMap::new();
            for e in m.events.iter().filter(|e| m.event_ok(e, site, &ef)) {
                groups
                    .entry((e.e.session.clone().unwrap(), e.page.clone()))
                    .or_default()
                    .push(e);
            }
            let (mut bursts, mut sessions, mut per) =
                (0u64, BTreeSet::new(), BTreeMap::<String, (u64, u64)>::new());
            for ((sid, _), mut list) in groups {
                list.sort_by_key(|e| (e.e.ts, e.arrival));
                let mut i = 0;
                while i < list.len() {
                    let a = list[i];
                    let mut j = i + 1;
                    while j < list.len()
                        && list[j].e.ts - a.e.ts <= 1000
                        && list[j].e.x.unwrap().abs_diff(a.e.x.unwrap()) <= 24
                        && list[j].e.y.unwrap().abs_diff(a.e.y.unwrap()) <= 24
                    {
                        j += 1;
                    }
                    if j - i >= 3 {
                        bursts += 1;
                        sessions.insert(sid.clone());
                        let p = per
                            .entry(a.e.selector.clone().unwrap_or_else(|| "(none)".into()))
                            .or_default();
                        p.0 += 1;
                        p.1 += (j - i) as u64;
                        i = j;
                    } else {
                        i += 1;
                    }
                }
            }
            assert_eq!(got.bursts, bursts, "rage bursts: {ctx}");
            assert_eq!(got.sessions, sessions.len() as u64, "rage sessions: {ctx}");
            let mut want: Vec<(String, u64, u64)> =
                per.into_iter().map(|(s, (b, c))| (s, b, c)).collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(String, u64, u64)> = got
                .rows
                .into_iter()
                .map(|r| (r.selector, r.bursts, r.clicks))
                .collect();
            assert_eq!(got, want, "rage rows: {ctx}");
        }
        // Referrers and devices, every grouping.
        let sessions = m.matching_sessions(site, f);
        let key_of = |s: &SessionModel,
                      by: &dyn Fn(&heatstore::SessionAttrs) -> Option<String>,
                      none: &str| {
            by(s.attrs.as_ref().unwrap()).unwrap_or_else(|| none.to_owned())
        };
        type ByFn = Box<dyn Fn(&heatstore::SessionAttrs) -> Option<String>>;
        let refs: Vec<(ReferrerBy, ByFn)> = vec![
            (
                ReferrerBy::Host,
                Box::new(|a| Some(a.referrer_host.clone())),
            ),
            (
                ReferrerBy::Domain,
                Box::new(|a| Some(a.referrer_domain.clone())),
            ),
            (
                ReferrerBy::Channel,
                Box::new(|a| Some(a.channel.as_str().to_owned())),
            ),
            (ReferrerBy::UtmSource, Box::new(|a| a.utm_source.clone())),
            (ReferrerBy::UtmMedium, Box::new(|a| a.utm_medium.clone())),
            (
                ReferrerBy::UtmCampaign,
                Box::new(|a| a.utm_campaign.clone()),
            ),
        ];
        for (by, f_by) in &refs {
            let got = snap.referrers(site, f, *by, None).unwrap();
            let want = breakdown_model(
                sessions
                    .iter()
                    .map(|s| (key_of(s, f_by.as_ref(), "(none)"), s.visitor.clone()))
                    .collect(),
            );
            let got_rows: Vec<(String, u64, u64)> = got
                .rows
                .into_iter()
                .map(|r| (r.key, r.sessions, r.visitors))
                .collect();
            assert_eq!(got_rows, want, "referrers by {by:?}: {ctx}");
        }
        let devs: Vec<(DeviceBy, ByFn)> = vec![
            (
                DeviceBy::Class,
                Box::new(|a| Some(a.device.as_str().to_owned())),
            ),
            (DeviceBy::Browser, Box::new(|a| Some(a.browser.clone()))),
            (DeviceBy::Os, Box::new(|a| Some(a.os.clone()))),
            (DeviceBy::Screen, Box::new(|a| a.screen.clone())),
            (DeviceBy::Lang, Box::new(|a| a.lang.clone())),
            (DeviceBy::Tz, Box::new(|a| a.tz.clone())),
        ];
        for (by, f_by) in &devs {
            let got = snap.devices(site, f, *by, None).unwrap();
            let want = breakdown_model(
                sessions
                    .iter()
                    .map(|s| (key_of(s, f_by.as_ref(), "(unknown)"), s.visitor.clone()))
                    .collect(),
            );
            let got_rows: Vec<(String, u64, u64)> = got
                .rows
                .into_iter()
                .map(|r| (r.key, r.sessions, r.visitors))
                .collect();
            assert_eq!(got_rows, want, "devices by {by:?}: {ctx}");
        }
        // Pages.
        let got = snap.pages(site, f, None).unwrap();
        let pf = Filters {
            kind: None,
            ..f.clone()
        };
        let mut acc: BTreeMap<String, (u64, BTreeSet<String>, u64, u64, u64)> = BTreeMap::new();
        if f.kind.is_none_or(|k| k == EventKind::Pageview) {
            for e in m
                .events
                .iter()
                .filter(|e| e.e.kind == EventKind::Pageview && m.event_ok(e, site, &pf))
            {
                let a = acc.entry(e.page.clone()).or_default();
                a.0 += 1;
                a.1.insert(m.session(e).visitor.clone());
                if let Some(l) = e.e.load_ms {
                    a.2 += u64::from(l);
                    a.3 += 1;
                }
            }
        }
        for s in &sessions {
            let p = s.attrs.as_ref().unwrap().entry_page.clone();
            if f.page.as_ref().is_none_or(|w| *w == p) {
                acc.entry(p).or_default().4 += 1;
            }
        }
        let mut want: Vec<(String, u64, u64, u64, Option<f64>)> = acc
            .into_iter()
            .map(|(p, a)| {
                (
                    p,
                    a.0,
                    a.1.len() as u64,
                    a.4,
                    (a.3 > 0).then(|| a.2 as f64 / a.3 as f64),
                )
            })
            .collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let got_rows: Vec<(String, u64, u64, u64, Option<f64>)> = got
            .rows
            .into_iter()
            .map(|r| (r.page, r.pageviews, r.visitors, r.entries, r.mean_load_ms))
            .collect();
        assert_eq!(got_rows, want, "pages: {ctx}");
        // Series.
        for interval in [Interval::Hour, Interval::Day] {
            let ms = if interval == Interval::Hour {
                3_600_000
            } else {
                86_400_000
            };
            let b = |t: i64| t.div_euclid(ms) * ms;
            let got = snap.series(site, f, interval).unwrap();
            let mut acc: BTreeMap<i64, (u64, u64, BTreeSet<String>)> = BTreeMap::new();
            if f.kind.is_none_or(|k| k == EventKind::Pageview) {
                for e in m
                    .events
                    .iter()
                    .filter(|e| e.e.kind == EventKind::Pageview && m.event_ok(e, site, &pf))
                {
                    let a = acc.entry(b(e.e.ts)).or_default();
                    a.0 += 1;
                    a.2.insert(m.session(e).visitor.clone());
                }
            }
            for s in &sessions {
                acc.entry(b(s.first.unwrap().0)).or_default().1 += 1;
            }
            let lo = f.from.map(b).or_else(|| acc.keys().next().copied());
            let hi =
                f.to.map(|t| b(t - 1))
                    .or_else(|| acc.keys().last().copied());
            let mut want = Vec::new();
            if let (Some(lo), Some(hi)) = (lo, hi) {
                let mut t = lo;
                while t <= hi {
                    let a = acc.remove(&t).unwrap_or_default();
                    want.push((t, a.0, a.1, a.2.len() as u64));
                    t += ms;
                }
            }
            let got_rows: Vec<(i64, u64, u64, u64)> = got
                .rows
                .into_iter()
                .map(|r| (r.ts, r.pageviews, r.sessions, r.visitors))
                .collect();
            assert_eq!(got_rows, want, "series {interval:?}: {ctx}");
        }
        // Sessions list, and replay through its keys.
        let got = snap.sessions(site, f, None).unwrap();
        let mut want: Vec<(i64, String, String)> = sessions
            .iter()
            .map(|s| {
                let a = s.attrs.as_ref().unwrap();
                (s.first.unwrap().0, a.entry_page.clone(), a.browser.clone())
            })
            .collect();
        want.sort();
        let mut got_rows: Vec<(i64, String, String)> = got
            .rows
            .iter()
            .map(|r| (r.first_ts, r.entry_page.clone(), r.browser.clone()))
            .collect();
        got_rows.sort();
        assert_eq!(got_rows, want, "sessions: {ctx}");
        let replays: HashSet<Vec<StoredEvent>> = sessions
            .iter()
            .map(|s| replay_model(m, site, &s.id))
            .collect();
        for r in got.rows.iter().take(5) {
            let events = snap.session_events_by_key(site, &r.session).unwrap();
            assert!(
                replays.contains(&events),
                "replay by key {}: {ctx}",
                r.session
            );
        }
    }
}

/// The model after deletions: the events left, and sessions whose first
/// pageview fell in a deleted range keep no attributes.
pub fn model_after(
    all: &[Event],
    visitors: &[(String, String)],
    sessions: &[(String, String)],
    ranges: &[(i64, i64)],
) -> Model {
    let ranges: Vec<(Option<&str>, i64, i64)> = ranges.iter().map(|&(f, t)| (None, f, t)).collect();
    model_after_on_sites(all, visitors, sessions, &ranges)
}

/// [`model_after`] with time ranges each deleted on one site (`Some`) or
/// on every site (`None`).
pub fn model_after_on_sites(
    all: &[Event],
    visitors: &[(String, String)],
    sessions: &[(String, String)],
    ranges: &[(Option<&str>, i64, i64)],
) -> Model {
    let full = Model::new(all);
    let gone_session = |e: &Event| {
        let sid = e.session.clone().unwrap();
        let s = &full.sessions[&(e.site.clone(), sid)];
        Model::deleted(s, visitors, sessions)
    };
    let in_range = |site: &str, t: i64| {
        ranges
            .iter()
            .any(|&(s, f, to)| s.is_none_or(|s| s == site) && t >= f && t < to)
    };
    let left: Vec<Event> = all
        .iter()
        .filter(|e| !gone_session(e) && !in_range(&e.site, e.ts))
        .cloned()
        .collect();
    let mut m = Model::new(&left);
    for (key, s) in m.sessions.iter_mut() {
        if let Some(orig) = full.sessions.get(key) {
            if orig.first.is_some_and(|(t, _)| in_range(&key.0, t)) {
                s.first = None;
                s.attrs = None;
            }
        }
    }
    m
}

/// Random filters of every kind the reports take.
pub fn random_filters(rng: &mut StdRng) -> Filters {
    let base = 1_767_225_600_000i64;
    let mut f = Filters::default();
    if rng.random_range(0..3) > 0 {
        let a = base + rng.random_range(-86_400_000..3 * 86_400_000i64);
        let b = a + rng.random_range(0..3 * 86_400_000i64);
        // Ranges on whole hours and days too: reports answer those from
        // per-partition aggregates, the others by scanning.
        let unit = [1, 3_600_000, 86_400_000][rng.random_range(0..3)];
        f.from = Some(a.div_euclid(unit) * unit);
        f.to = Some(b.div_euclid(unit) * unit);
    }
    if rng.random_range(0..2) == 0 {
        f.page = Some(PAGES[rng.random_range(0..PAGES.len())].to_owned());
    }
    match rng.random_range(0..8) {
        0 => f.kind = Some(EventKind::Click),
        1 => f.kind = Some(EventKind::Pageview),
        2 => f.kind = Some(EventKind::Scroll),
        _ => {}
    }
    match rng.random_range(0..10) {
        0 => f.device = Some(DeviceClass::Mobile),
        1 => f.device = Some(DeviceClass::Bot),
        2 => f.browser = Some("Chrome".into()),
        3 => f.os = Some("iOS".into()),
        4 => f.referrer = Some("google.com".into()),
        5 => f.channel = Some(Channel::Direct),
        6 => f.channel = Some(Channel::Social),
        7 => f.selector = Some("#buy".into()),
        _ => {}
    }
    f.include_bots = rng.random_range(0..4) == 0;
    f
}

pub fn replay_model(m: &Model, site: &str, session: &str) -> Vec<StoredEvent> {
    let mut v: Vec<&ME> = m
        .events
        .iter()
        .filter(|e| e.e.site == site && e.e.session.as_deref() == Some(session))
        .collect();
    v.sort_by_key(|e| (e.e.ts, e.arrival));
    v.into_iter().map(|e| super::expected(&e.e)).collect()
}
