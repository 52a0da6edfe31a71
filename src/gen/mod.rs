//! Deterministic synthetic workload generator.
//!
//! [`Generator`] yields realistic [`Event`]s for tests, benchmarks, examples
//! and `heatstore gen`: visitors who come back, sessions of 1–8 pageviews
//! with mouse moves, clicks on each page's elements, scrolls, masked form
//! input, custom events and leaves; Zipf page popularity; search, social,
//! email, referral and campaign traffic; desktop, mobile and tablet browsers
//! and a few crawlers; a daily traffic cycle; and events that arrive late.
//! [`write_ndjson`] writes the same stream as Event NDJSON v1.
//!
//! # Determinism
//! The same [`GenConfig`] always yields the same events, in the same order:
//! the generator uses its own xoshiro256++ and samplers (not `StdRng` or
//! `rand_distr`, whose streams may change between releases). A few samplers
//! use `f64::exp`/`ln`, so a different platform's libm could in principle
//! change a value; on one platform the stream is fixed. Changing the count
//! of events changes the whole stream (session start times are paced by it).
//!
//! # The workload
//! With the defaults (measured on 10 M events): 59% `move`, 21.5% `scroll`,
//! 7% `click`, 4% `pageview`, 4% `leave`, 3% `input`, 1.5% `custom`; about 66
//! events and 2.7 pageviews per session; ~44% desktop, ~46% mobile, ~7%
//! tablet and ~3% crawler sessions; 30% of human sessions by a returning
//! visitor. Pages are drawn Zipf(s = 1) by rank, `/` first; each kind of
//! page (home, pricing, product, blog post, docs, sign-up, checkout, ...)
//! has a fixed layout of elements, so clicks cluster on selectors such as
//! `#hero-cta` or `.plan:nth-child(2) .btn` with `ex`/`ey` inside the box.
//! Entry referrers: about 33% direct, 34% search, 10% social, 4% email,
//! 10% other sites, 7% tagged campaigns (`utm_*`, `gclid`), 2% own host.
//!
//! # Other shapes of traffic
//! Options that are off by default bend the workload into shapes that
//! stress a store differently:
//! - [`GenConfig::url_tail`]: a share of pageviews on long, nearly all
//!   distinct URLs (dated blog posts, products three levels deep, filtered
//!   listings, searches, versioned docs; `utm_*`, `gclid`, `ref`, `sid`
//!   parameters), so 10 M events carry hundreds of thousands of URLs;
//! - [`GenConfig::motion`]: denser pointer and scroll sampling, so that
//!   `move` and `scroll` events dominate;
//! - [`GenConfig::bursts`]: short windows in which one site gets
//!   [`BURST_RATE`] times its sessions;
//! - [`numbered_sites`] and [`GenConfig::site_skew`]: many sites, and how
//!   unevenly they share the traffic.
//!
//! Left at their defaults they draw nothing from the random streams, so
//! the output stays what it was before they existed.
//!
//! # Arrival order
//! Events come out in *arrival* order, the order a collector would receive
//! them: sessions overlap, so their events interleave roughly by `ts`; about
//! [`GenConfig::late_fraction`] of them arrive late, in runs (a tracker batch
//! sent late), by seconds to hours and a few by more than a day. With
//! [`GenConfig::arrival_jitter_ms`] every event also arrives at a random
//! time within that window after its `ts`, so a session's clicks often
//! arrive before its pageview; with [`GenConfig::visitor_ids`] the visitor
//! id rides on pageviews only, or on a fraction of events, as real trackers
//! send it.
//!
//! # Memory usage
//! Sessions are simulated one at a time in start-time order; their events
//! wait in a queue keyed by arrival time until no later session can arrive
//! before them. The queue holds the concurrent sessions' events plus the
//! late ones in flight, and never more than [`MAX_IN_FLIGHT`] events: past
//! that the earliest is emitted even if a later session could still precede
//! it.
//! Returning visitors are drawn from a bounded pool per site. The page
//! catalogue costs about 100 bytes per page per site; long-tail pages are
//! made per pageview and live only as long as their events.

mod device;
mod layout;
mod queue;
mod rng;
mod session;
mod site;
mod tail;
mod traffic;

use std::io::{self, BufWriter, Write};
use std::iter::FusedIterator;
use std::sync::Arc;

use crate::event::{Event, EventKind};
use device::{Devices, Form, Visitor};
use layout::Template;
use queue::ArrivalQueue;
use rng::Rng;
use session::{late_start_chance, Pending, Sim, Tuning};
use site::Site;
use traffic::Timeline;

/// Most events the generator holds back at once (see "Memory usage").
pub const MAX_IN_FLIGHT: usize = 1 << 20;

/// Returning visitors kept per site to draw from.
const VISITOR_POOL: usize = 4_096;
/// Share of (human) sessions made by a visitor seen before.
const RETURNING: f64 = 0.3;
/// Stream of the burst plan: apart from the session stream (0) and the
/// sites' catalogues (1 + site index).
const BURST_STREAM: u64 = u64::MAX;

/// How many times its usual rate of sessions a site gets during one of
/// the [`GenConfig::bursts`].
pub const BURST_RATE: f64 = 20.0;
/// Most motion density [`GenConfig::motion`] takes.
pub const MAX_MOTION: f64 = 20.0;
/// Largest exponent [`GenConfig::site_skew`] takes.
pub const MAX_SITE_SKEW: f64 = 10.0;

/// `n` site names `site-001.example`, `site-002.example`, ... (wider
/// numbers past 999), for [`GenConfig::sites`]: many sites whose traffic
/// falls off by rank as [`GenConfig::site_skew`] says.
///
/// ```
/// use heatstore::gen::numbered_sites;
/// assert_eq!(numbered_sites(2), ["site-001.example", "site-002.example"]);
/// assert_eq!(numbered_sites(1_000)[999], "site-1000.example");
/// assert!(numbered_sites(0).is_empty());
/// ```
pub fn numbered_sites(n: u32) -> Vec<String> {
    let width = n.to_string().len().max(3);
    (1..=n)
        .map(|i| format!("site-{i:0width$}.example"))
        .collect()
}

/// What to generate. Every field has a documented default.
///
/// ```
/// use heatstore::gen::GenConfig;
/// let cfg = GenConfig {
///     seed: 42,
///     events: 1_000,
///     sites: vec!["a.example".into(), "b.example".into()],
///     cookieless_fraction: 0.1,
///     ..GenConfig::default()
/// };
/// assert_eq!(cfg.days, 30);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Seed of every random choice. Default `1`.
    pub seed: u64,
    /// Exactly how many events to yield. Default `100_000`.
    pub events: u64,
    /// Sites (the `site` field) the sessions are spread over; the first gets
    /// the most traffic (weights `1 / rank^site_skew`). Each site gets its
    /// own pages. Default `["shop.example.com"]`; an empty list means the
    /// default. Names are used as given, so they must be valid `site`s;
    /// [`numbered_sites`] makes many.
    pub sites: Vec<String>,
    /// Exponent of the sites' traffic weights `1 / rank^site_skew`: `0`
    /// shares it evenly, `1` is classic Zipf, `3` leaves the third site
    /// under 4% of the first's. Clamped to `0..=`[`MAX_SITE_SKEW`]; NaN
    /// counts as the default. Default `1.3`.
    pub site_skew: f64,
    /// Start of the window over which sessions start, ms since the Unix
    /// epoch. Default `1_790_812_800_000` (2026-10-01T00:00:00Z).
    pub start_ms: i64,
    /// Length of the window in days; `0` counts as 1. The last sessions may
    /// end a little after it and late events arrive after it. Default `30`.
    pub days: u32,
    /// Pages per site, popularity Zipf(s = 1) with `/` the most popular;
    /// `0` counts as 1. Default `200`.
    pub pages: u32,
    /// Approximate share of events that arrive late (out of `ts` order),
    /// clamped to 0..=1. Default `0.02`.
    pub late_fraction: f64,
    /// Share of visitors (so, on average, of sessions) without cookies:
    /// their events carry `ip` (a documentation address) and `ua` but no
    /// `session` or `visitor`. Clamped to 0..=1. Default `0.0`.
    pub cookieless_fraction: f64,
    /// Share of human visitors (so, on average, of sessions) whose events
    /// carry `dnt: true`. Clamped to 0..=1. Default `0.0`.
    pub dnt_fraction: f64,
    /// Which events carry the `visitor` id. Default
    /// [`VisitorIds::Every`].
    pub visitor_ids: VisitorIds,
    /// When above 0, every event arrives at a random time up to this many
    /// ms after its `ts`, so that events within that window arrive in any
    /// order (a session's clicks before its pageview, say), on top of the
    /// late runs. Default `0`.
    pub arrival_jitter_ms: u32,
    /// Share of pageviews, clamped to 0..=1, that go to the long tail
    /// instead of the site's `pages`: deep, made-up URLs, nearly all
    /// distinct, such as `/blog/2024/07/best-heatmap-tools-1234`,
    /// `/products/shoes/running/p-81723-red?variant=2` or
    /// `/search?q=red+shoes&page=2&sort=newest`, often with tracking
    /// parameters (`utm_*`, `gclid`, `fbclid`, `ref`, `sid`, `_ga`). Their
    /// clicks, moves and scrolls follow the layout of their kind of page.
    /// Default `0.0`.
    pub url_tail: f64,
    /// Density of pointer and scroll sampling: a pageview's `move` and
    /// `scroll` events are about this many times as many, closer together
    /// in time and space, along the same paths (a tracker that throttles
    /// less). `5.0` makes them about 95% of the events; `0` leaves only
    /// the scrolls that bring a clicked element into view. Clamped to
    /// `0..=`[`MAX_MOTION`]; NaN counts as the default. Default `1.0`.
    pub motion: f64,
    /// Number of bursts: windows of 1–3 whole hours, placed at random in
    /// the window, in which one site (drawn at random, each site alike)
    /// gets [`BURST_RATE`] times its usual rate of sessions — a campaign
    /// or a viral post. The other sites' traffic is unchanged, so a burst
    /// adds traffic; with a fixed `events`, the rest of the window gets a
    /// little less. Default `0`.
    pub bursts: u32,
}

/// Which events of a session carry its visitor id (sessions of crawlers
/// and cookieless visitors carry none).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum VisitorIds {
    /// Every event (the default).
    #[default]
    Every,
    /// Pageviews only, as most trackers send it.
    Pageviews,
    /// Each event with this probability (clamped to 0..=1).
    Fraction(f64),
}

impl std::str::FromStr for VisitorIds {
    type Err = String;

    /// `every`, `pageviews`, or a fraction such as `0.3`.
    fn from_str(s: &str) -> Result<VisitorIds, String> {
        match s {
            "every" => Ok(VisitorIds::Every),
            "pageviews" => Ok(VisitorIds::Pageviews),
            _ => match s.parse::<f64>() {
                Ok(f) if (0.0..=1.0).contains(&f) => Ok(VisitorIds::Fraction(f)),
                _ => Err(format!(
                    "{s:?} is not `every`, `pageviews` or a fraction in 0..=1"
                )),
            },
        }
    }
}

impl Default for GenConfig {
    fn default() -> GenConfig {
        GenConfig {
            seed: 1,
            events: 100_000,
            sites: vec!["shop.example.com".to_owned()],
            site_skew: 1.3,
            start_ms: 1_790_812_800_000,
            days: 30,
            pages: 200,
            late_fraction: 0.02,
            cookieless_fraction: 0.0,
            dnt_fraction: 0.0,
            visitor_ids: VisitorIds::Every,
            arrival_jitter_ms: 0,
            url_tail: 0.0,
            motion: 1.0,
            bursts: 0,
        }
    }
}

/// The plan of [`GenConfig::bursts`], drawn from a stream of its own: per
/// hour of the window, the sites bursting in it, each once (where two
/// bursts of a site overlap they are one). Empty when `n` is 0.
fn plan_bursts(seed: u64, n: u32, sites: usize, hours: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return Vec::new();
    }
    let mut rng = Rng::new(seed, BURST_STREAM);
    let mut by_hour = vec![Vec::new(); hours];
    for _ in 0..n {
        let site = rng.index(sites);
        let len = rng.range_u32(1, 3) as usize;
        let first = rng.index(hours.saturating_sub(len) + 1);
        let end = (first + len).min(hours);
        for in_hour in &mut by_hour[first..end] {
            if !in_hour.contains(&site) {
                in_hour.push(site);
            }
        }
    }
    by_hour
}

/// The fixed catalogue a generator draws from.
pub(crate) struct World {
    pub(crate) sites: Vec<Site>,
    /// Traffic weight of each site, and their running sum.
    site_w: Vec<f64>,
    site_cum: Vec<f64>,
    pub(crate) templates: Vec<Template>,
    devices: Devices,
}

/// Yields exactly [`GenConfig::events`] events in arrival order.
///
/// ```
/// use heatstore::gen::{GenConfig, Generator};
/// use heatstore::EventKind;
/// let cfg = GenConfig { events: 2_000, ..GenConfig::default() };
/// let events: Vec<_> = Generator::new(cfg.clone()).collect();
/// assert_eq!(events.len(), 2_000);
/// assert!(events.iter().all(|e| e.validate().is_ok()));
/// assert!(events.iter().any(|e| e.kind == EventKind::Click));
/// // Same config, same events.
/// assert_eq!(events, Generator::new(cfg).collect::<Vec<_>>());
/// ```
pub struct Generator {
    world: World,
    rng: Rng,
    timeline: Timeline,
    /// Per hour, the sites bursting in it; empty without bursts.
    bursting: Vec<Vec<usize>>,
    tuning: Tuning,
    cookieless: f64,
    dnt: f64,
    visitor_ids: VisitorIds,
    /// Salt of the per-event choice of [`VisitorIds::Fraction`].
    id_salt: u64,
    total: u64,
    /// Events simulated so far (staged, queued or emitted).
    simulated: u64,
    emitted: u64,
    /// Sessions simulated so far.
    sessions: u64,
    queue: ArrivalQueue,
    /// The next session, times relative to `staged_start`.
    staged: Vec<Pending>,
    /// Start of the staged session; `i64::MAX` when no session is left.
    staged_start: i64,
    /// Per site, visitors who may come back (a ring).
    pools: Vec<(Vec<Arc<Visitor>>, usize)>,
}

impl Generator {
    /// A generator for `cfg`. Builds the page catalogue of every site
    /// (`pages` pages each) up front; never panics.
    pub fn new(cfg: GenConfig) -> Generator {
        let names = if cfg.sites.is_empty() {
            GenConfig::default().sites
        } else {
            cfg.sites
        };
        let templates = layout::templates();
        let skew = if cfg.site_skew.is_nan() {
            GenConfig::default().site_skew
        } else {
            cfg.site_skew.clamp(0.0, MAX_SITE_SKEW)
        };
        let mut sites = Vec::with_capacity(names.len());
        let mut site_w = Vec::with_capacity(names.len());
        let mut site_cum = Vec::with_capacity(names.len());
        let mut total = 0.0;
        for (i, name) in names.iter().enumerate() {
            // Each site's catalogue has its own stream: adding a site or
            // changing the event count leaves the others' pages alone.
            let mut rng = Rng::new(cfg.seed, 1 + i as u64);
            sites.push(Site::new(name, cfg.pages, &templates, &mut rng));
            let w = 1.0 / (i as f64 + 1.0).powf(skew);
            total += w;
            site_w.push(w);
            site_cum.push(total);
        }
        let hours = Timeline::hours(cfg.days);
        let bursting = plan_bursts(cfg.seed, cfg.bursts, sites.len(), hours);
        let timeline = if bursting.is_empty() {
            Timeline::new(cfg.start_ms, cfg.days)
        } else {
            // A burst adds its site's extra sessions to the hour's traffic.
            Timeline::boosted(cfg.start_ms, cfg.days, |hour| {
                let w: f64 = bursting[hour].iter().map(|&s| site_w[s]).sum();
                (total + (BURST_RATE - 1.0) * w) / total
            })
        };
        let fraction = |f: f64| if f.is_nan() { 0.0 } else { f.clamp(0.0, 1.0) };
        let motion = if cfg.motion.is_nan() {
            1.0
        } else {
            cfg.motion.clamp(0.0, MAX_MOTION)
        };
        let mut g = Generator {
            pools: vec![(Vec::new(), 0); sites.len()],
            world: World {
                sites,
                site_w,
                site_cum,
                templates,
                devices: Devices::new(),
            },
            rng: Rng::new(cfg.seed, 0),
            timeline,
            bursting,
            tuning: Tuning {
                late_start: late_start_chance(fraction(cfg.late_fraction)),
                jitter_ms: i64::from(cfg.arrival_jitter_ms),
                url_tail: fraction(cfg.url_tail),
                motion,
            },
            cookieless: fraction(cfg.cookieless_fraction),
            dnt: fraction(cfg.dnt_fraction),
            visitor_ids: match cfg.visitor_ids {
                VisitorIds::Fraction(f) => VisitorIds::Fraction(fraction(f)),
                other => other,
            },
            id_salt: cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x1d5,
            total: cfg.events,
            simulated: 0,
            emitted: 0,
            sessions: 0,
            queue: ArrivalQueue::default(),
            staged: Vec::new(),
            staged_start: i64::MAX,
        };
        g.stage();
        g
    }

    /// Events still to come.
    pub fn remaining(&self) -> u64 {
        self.total - self.emitted
    }

    /// The site of the next session, drawn by weight; during a burst its
    /// site weighs [`BURST_RATE`] times as much.
    fn pick_site(&mut self) -> usize {
        if self.bursting.is_empty() {
            return self.rng.pick_cumulative(&self.world.site_cum);
        }
        // The session starts at about this fraction of the traffic.
        let u = self.simulated as f64 / self.total as f64;
        let hour = self.timeline.hour_of(self.timeline.at(u));
        let active = &self.bursting[hour];
        if active.is_empty() {
            return self.rng.pick_cumulative(&self.world.site_cum);
        }
        let w = &self.world.site_w;
        let extra: f64 = active.iter().map(|&s| (BURST_RATE - 1.0) * w[s]).sum();
        let total = self.world.site_cum.last().copied().unwrap_or(1.0);
        // The usual mix plus the bursting sites' extra sessions.
        let mut r = self.rng.f64() * (total + extra);
        if r < total {
            return self.rng.pick_cumulative(&self.world.site_cum);
        }
        r -= total;
        for &s in active {
            r -= (BURST_RATE - 1.0) * w[s];
            if r < 0.0 {
                return s;
            }
        }
        active.last().copied().unwrap_or(0)
    }

    /// A new visitor, or (sometimes) one who came to `site` before.
    fn visitor(&mut self, site: usize) -> Arc<Visitor> {
        let (pool, next) = &mut self.pools[site];
        if !pool.is_empty() && self.rng.chance(RETURNING) {
            return Arc::clone(&pool[self.rng.index(pool.len())]);
        }
        let v = Arc::new(Visitor::new(
            &self.world.devices,
            &mut self.rng,
            self.dnt,
            self.cookieless,
        ));
        // Crawlers keep no cookies: they never come back as themselves.
        if v.form != Form::Bot {
            if pool.len() < VISITOR_POOL {
                pool.push(Arc::clone(&v));
            } else {
                pool[*next] = Arc::clone(&v);
                *next = (*next + 1) % VISITOR_POOL;
            }
        }
        v
    }

    /// Simulates the next session into `staged` and places its start so
    /// that starts are in order and the window fills evenly: a session
    /// covering events `P..P+n` of `total` starts at fraction
    /// `(P + U·n) / total` of the traffic curve.
    fn stage(&mut self) {
        self.staged.clear();
        let remaining = self.total - self.simulated;
        if remaining == 0 {
            self.staged_start = i64::MAX;
            return;
        }
        let site = self.pick_site();
        let who = self.visitor(site);
        Sim::new(&self.world, &mut self.rng, &mut self.staged, self.tuning)
            .session(site as u32, who);
        if (self.staged.len() as u64) > remaining {
            self.staged.truncate(remaining as usize);
        }
        let n = self.staged.len() as u64;
        let u = (self.simulated as f64 + self.rng.f64() * n as f64) / self.total as f64;
        self.staged_start = self.timeline.at(u);
        self.simulated += n;
        self.sessions += 1;
    }

    /// Turns a pending event into an [`Event`], cloning the shared strings.
    fn materialize(&self, p: Pending) -> Event {
        let pv = &*p.page;
        let s = &*pv.session;
        let who = &*s.who;
        let ua = &self.world.devices.uas[who.ua as usize].ua;
        let carries_id = match self.visitor_ids {
            VisitorIds::Every => true,
            VisitorIds::Pageviews => p.kind == EventKind::Pageview,
            VisitorIds::Fraction(f) => {
                // A fixed choice per event: a mix of its generation order.
                let mut z = p.seq ^ self.id_salt;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                let u = ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64;
                u < f
            }
        };
        let mut e = Event {
            site: self.world.sites[s.site as usize].name.clone(),
            ts: p.ts,
            kind: p.kind,
            session: s.session.clone(),
            visitor: s.visitor.clone().filter(|_| carries_id),
            url: pv.url.clone(),
            dnt: who.dnt.then_some(true),
            ..Event::default()
        };
        if who.cookieless {
            e.ip = Some(who.ip.clone());
            e.ua = Some(ua.clone());
        }
        let viewport = |e: &mut Event| {
            if s.viewport_on_events {
                e.vw = Some(pv.vw);
                e.vh = Some(pv.vh);
                e.dh = Some(pv.dh);
            }
        };
        match p.kind {
            EventKind::Pageview => {
                e.referrer = pv.referrer.clone();
                e.ua = Some(ua.clone());
                e.lang = Some(who.lang.to_owned());
                e.tz = Some(who.tz.to_owned());
                e.screen_w = Some(who.screen.0);
                e.screen_h = Some(who.screen.1);
                e.vw = Some(pv.vw);
                e.vh = Some(pv.vh);
                e.dh = Some(pv.dh);
                e.load_ms = Some(pv.load_ms);
            }
            EventKind::Click => {
                e.x = Some(p.a);
                e.y = Some(p.b);
                e.selector = Some(p.text.to_owned());
                e.ex = Some(p.ex);
                e.ey = Some(p.ey);
                viewport(&mut e);
            }
            EventKind::Move => {
                e.x = Some(p.a);
                e.y = Some(p.b);
                viewport(&mut e);
            }
            EventKind::Scroll => {
                e.y = Some(p.b);
                viewport(&mut e);
            }
            EventKind::Input => {
                e.len = Some(p.a);
                e.selector = Some(p.text.to_owned());
            }
            EventKind::Leave => e.duration_ms = Some(p.a),
            EventKind::Custom => e.name = Some(p.text.to_owned()),
        }
        e
    }
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            // Every event of a later session has `ts` (so arrival) at or
            // after `staged_start`: what arrives by then can go out now.
            if let Some(first) = self.queue.first_arrival() {
                if first <= self.staged_start || self.queue.len() >= MAX_IN_FLIGHT {
                    let p = self.queue.pop()?;
                    self.emitted += 1;
                    return Some(self.materialize(p));
                }
            }
            if self.staged_start == i64::MAX {
                return None;
            }
            self.queue.push_session(&mut self.staged, self.staged_start);
            self.stage();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match usize::try_from(self.remaining()) {
            Ok(n) => (n, Some(n)),
            Err(_) => (usize::MAX, None),
        }
    }
}

impl FusedIterator for Generator {}

/// Writes the workload of `cfg` as Event NDJSON v1: one
/// [`Event::to_json_line`] per line, each ending in `\n`, in arrival order.
/// Buffers internally, so `w` need not be buffered. Returns the bytes
/// written.
///
/// ```
/// use heatstore::gen::{write_ndjson, GenConfig};
/// let mut out = Vec::new();
/// let cfg = GenConfig { events: 100, ..GenConfig::default() };
/// let bytes = write_ndjson(cfg, &mut out)?;
/// assert_eq!(bytes, out.len() as u64);
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.lines().count(), 100);
/// for line in text.lines() {
///     heatstore::Event::from_json_line(line.as_bytes()).unwrap();
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_ndjson(cfg: GenConfig, w: impl Write) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 16, w);
    let mut bytes = 0u64;
    for e in Generator::new(cfg) {
        let line = e.to_json_line();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        bytes += line.len() as u64 + 1;
    }
    out.flush()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
