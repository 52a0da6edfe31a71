//! One session, simulated pageview by pageview into compact pending events
//! with times relative to the session's start.

use std::cmp::Ordering;
use std::sync::Arc;

use super::device::{Form, Visitor};
use super::layout::{Act, PageKind, Rect, Template};
use super::rng::Rng;
use super::tail::tail_page;
use super::traffic;
use super::World;
use crate::event::EventKind;

/// What every event of a session shares.
#[derive(Debug)]
pub(crate) struct SessionCtx {
    pub(crate) site: u32,
    /// Absent on cookieless sessions.
    pub(crate) session: Option<String>,
    /// Absent on cookieless sessions and crawlers.
    pub(crate) visitor: Option<String>,
    pub(crate) who: Arc<Visitor>,
    /// This tracker sends `vw`, `vh`, `dh` on clicks, moves and scrolls too.
    pub(crate) viewport_on_events: bool,
}

/// What every event of one pageview shares.
#[derive(Debug)]
pub(crate) struct PageCtx {
    pub(crate) session: Arc<SessionCtx>,
    pub(crate) url: String,
    pub(crate) referrer: Option<String>,
    pub(crate) vw: u32,
    pub(crate) vh: u32,
    pub(crate) dh: u32,
    pub(crate) load_ms: u32,
}

/// An event waiting in the arrival queue: small, with its strings shared
/// through `page` until it is turned into an [`crate::Event`].
#[derive(Debug)]
pub(crate) struct Pending {
    /// When the collector receives it.
    pub(crate) arrival: i64,
    /// Generation order: breaks arrival ties, so output is deterministic.
    pub(crate) seq: u64,
    pub(crate) ts: i64,
    /// Arrives late (out of its session's order).
    pub(crate) late: bool,
    pub(crate) page: Arc<PageCtx>,
    pub(crate) kind: EventKind,
    /// `x` (click, move), `len` (input), `duration_ms` (leave).
    pub(crate) a: u32,
    /// `y` (click, move, scroll).
    pub(crate) b: u32,
    pub(crate) ex: u16,
    pub(crate) ey: u16,
    /// `selector` (click, input) or `name` (custom); empty when none.
    pub(crate) text: &'static str,
}

// `BinaryHeap` is a max-heap: the earliest (arrival, seq) must be greatest.
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.arrival, other.seq).cmp(&(self.arrival, self.seq))
    }
}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.arrival, self.seq) == (other.arrival, other.seq)
    }
}
impl Eq for Pending {}

/// Pageviews per human session, 1..=8: many bounces, a long tail.
const PAGEVIEWS: [u32; 8] = [40, 20, 13, 9, 7, 5, 3, 3];
/// Names of custom events that are not tied to an element.
const LOOSE_CUSTOM: &[&str] = &["chat_open", "exit_intent", "consent_accept"];
/// Mean length of a run of late events (a tracker batch sent late).
const LATE_RUN: f64 = 5.0;

/// How sessions behave beyond the catalogue: fixed for a generator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tuning {
    /// Chance that an on-time event starts a late run.
    pub(crate) late_start: f64,
    /// Every event arrives up to this many ms after its time, at random
    /// (0: events arrive in order but for the late runs).
    pub(crate) jitter_ms: i64,
    /// Chance that a pageview goes to a made-up long-tail page.
    pub(crate) url_tail: f64,
    /// Pointer and scroll sampling density, 1 as by default.
    pub(crate) motion: f64,
}

/// The simulation of one session.
pub(crate) struct Sim<'a> {
    world: &'a World,
    rng: &'a mut Rng,
    out: &'a mut Vec<Pending>,
    tuning: Tuning,
    /// Network and batching delay of this session's on-time events.
    latency: i64,
    late_left: u32,
    late_delay: i64,
    /// Current time, ms after the session start.
    t: i64,
}

/// Chance per on-time event of starting a late run, so that about
/// `fraction` of all events are late: `f = p·m / (p·m + 1 − p)`.
pub(crate) fn late_start_chance(fraction: f64) -> f64 {
    let f = fraction.clamp(0.0, 1.0);
    if f >= 1.0 {
        return 1.0;
    }
    f / (LATE_RUN * (1.0 - f) + f)
}

/// Per-pageview state: where the page is scrolled and the pointer is.
struct View<'t> {
    page: Arc<PageCtx>,
    tpl: &'t Template,
    vw: u32,
    vh: u32,
    dh: u32,
    /// scrollTop.
    sy: u32,
    /// Pointer in viewport coordinates.
    cx: f64,
    cy: f64,
    touch: bool,
    next_field: usize,
}

impl View<'_> {
    fn max_scroll(&self) -> u32 {
        self.dh.saturating_sub(self.vh)
    }
}

impl<'a> Sim<'a> {
    pub(crate) fn new(
        world: &'a World,
        rng: &'a mut Rng,
        out: &'a mut Vec<Pending>,
        tuning: Tuning,
    ) -> Sim<'a> {
        let latency = rng.range_i64(20, 400);
        Sim {
            world,
            rng,
            out,
            tuning,
            latency,
            late_left: 0,
            late_delay: 0,
            t: 0,
        }
    }

    /// Advances the clock by a log-uniform gap within 50 ms..5 s.
    fn gap(&mut self, lo: f64, hi: f64) {
        self.t += self.rng.log_uniform(lo.max(50.0), hi.min(5_000.0)) as i64;
    }

    fn late_delay(&mut self) -> i64 {
        const MIN: f64 = 60_000.0;
        const HOUR: f64 = 3_600_000.0;
        let ms = match self.rng.below(100) {
            0..=69 => self.rng.log_uniform(2_000.0, 10.0 * MIN),
            70..=94 => self.rng.log_uniform(10.0 * MIN, 6.0 * HOUR),
            _ => self.rng.log_uniform(25.0 * HOUR, 72.0 * HOUR),
        };
        ms as i64
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        page: &Arc<PageCtx>,
        kind: EventKind,
        a: u32,
        b: u32,
        ex: u16,
        ey: u16,
        text: &'static str,
    ) {
        let mut arrival = self.t + self.latency;
        let late_start = self.tuning.late_start;
        if self.late_left == 0 && late_start > 0.0 && self.rng.chance(late_start) {
            self.late_left = self.rng.range_u32(1, 2 * LATE_RUN as u32 - 1);
            self.late_delay = self.late_delay();
        }
        let mut late = self.late_left > 0;
        if late {
            self.late_left -= 1;
            arrival += self.late_delay;
        }
        if self.tuning.jitter_ms > 0 {
            // Out of order within the window: through the late heap.
            arrival += self.rng.range_i64(0, self.tuning.jitter_ms);
            late = true;
        }
        self.out.push(Pending {
            arrival,
            seq: 0,
            ts: self.t,
            late,
            page: Arc::clone(page),
            kind,
            a,
            b,
            ex,
            ey,
            text,
        });
    }

    /// `n` pointer or scroll samples at the tracker's density
    /// ([`Tuning::motion`] times as many, rounded at random).
    fn dense(&mut self, n: u32) -> u32 {
        let m = self.tuning.motion;
        if m == 1.0 {
            return n;
        }
        let x = f64::from(n) * m;
        let whole = x.floor();
        whole as u32 + u32::from(self.rng.chance(x - whole))
    }

    /// The gap between two pointer or scroll samples: log-uniform within
    /// `lo..hi`, divided by the density (at least 8 ms, a 120 Hz frame).
    fn sample_gap(&mut self, lo: f64, hi: f64) {
        let m = self.tuning.motion;
        if m == 1.0 {
            self.gap(lo, hi);
        } else {
            let (lo, hi) = ((lo / m).clamp(8.0, 5_000.0), (hi / m).clamp(8.0, 5_000.0));
            self.t += self.rng.log_uniform(lo, hi) as i64;
        }
    }

    /// A scroll step of `delta` px at the tracker's density: as many px
    /// over all samples.
    fn dense_delta(&self, delta: u32) -> u32 {
        let m = self.tuning.motion;
        if m == 1.0 {
            return delta;
        }
        ((f64::from(delta) / m) as u32).clamp(1, 1_000_000)
    }

    fn emit_move(&mut self, v: &View<'_>) {
        let x = v.cx.clamp(0.0, f64::from(v.vw - 1)) as u32;
        let y = (f64::from(v.sy) + v.cy.clamp(0.0, f64::from(v.vh - 1))) as u32;
        self.emit(&v.page, EventKind::Move, x, y.min(v.dh - 1), 0, 0, "");
    }

    /// Simulates one whole session of `who` on site `site`.
    pub(crate) fn session(&mut self, site: u32, who: Arc<Visitor>) {
        let world = self.world;
        let s = &world.sites[site as usize];
        let bot = who.form == Form::Bot;
        let ctx = Arc::new(SessionCtx {
            site,
            session: (!who.cookieless).then(|| self.rng.base62_id(16, 22)),
            visitor: (!who.cookieless && !bot).then(|| who.id.clone()),
            viewport_on_events: self.rng.chance(0.3),
            who: Arc::clone(&who),
        });
        let (vw, vh) = who.viewport(self.rng);
        let pageviews = if bot {
            self.rng.range_u32(1, 8)
        } else {
            self.rng.pick_weighted(&PAGEVIEWS) as u32 + 1
        };
        let mut page = s.zipf_page(self.rng);
        let self_path = &s.pages[s.zipf_page(self.rng) as usize].path;
        let entry = if bot {
            traffic::Entry {
                referrer: None,
                query: None,
            }
        } else {
            traffic::entry(self.rng, who.google, &s.name, self_path)
        };
        let absolute = bot || self.rng.chance(0.75);
        let mut referrer = entry.referrer;
        let mut query = entry.query;
        for i in 0..pageviews {
            let p = &s.pages[page as usize];
            // A long-tail page instead of the catalogue's; a tagged landing
            // URL keeps its tags and gets no more.
            let url_tail = self.tuning.url_tail;
            let tail = (url_tail > 0.0 && self.rng.chance(url_tail))
                .then(|| tail_page(self.rng, &world.templates, query.is_some()));
            let (path, kind, page_dh) = match &tail {
                Some(t) => (t.path.as_str(), t.kind, t.dh),
                None => (p.path.as_str(), p.kind, p.dh),
            };
            let tail_query = tail.as_ref().map(|t| t.query.as_str());
            let tpl = &world.templates[kind as usize];
            let (url, as_referrer) =
                self.url(&s.name, path, kind, query.take(), tail_query, absolute);
            let scale = match who.form {
                Form::Mobile => 1.7,
                Form::Tablet => 1.25,
                _ if vw < 900 => 1.3,
                _ => 1.0,
            };
            let dh = ((f64::from(page_dh) * scale) as u32)
                .clamp(1500, 12_000)
                .max(vh + 200);
            let median = match who.form {
                Form::Desktop => 900.0,
                Form::Tablet => 1_200.0,
                Form::Mobile => 1_500.0,
                Form::Bot => 600.0,
            };
            let load_ms = self.rng.log_normal(median, 0.55).clamp(200.0, 8_000.0) as u32;
            let pv = Arc::new(PageCtx {
                session: Arc::clone(&ctx),
                url,
                referrer: referrer.take(),
                vw,
                vh,
                dh,
                load_ms,
            });
            let start = self.t;
            self.emit(&pv, EventKind::Pageview, 0, 0, 0, 0, "");
            let last = i + 1 == pageviews;
            let next = if bot {
                self.t += self.rng.range_i64(200, 3_000);
                None
            } else {
                let mut view = View {
                    page: Arc::clone(&pv),
                    tpl,
                    vw,
                    vh,
                    dh,
                    sy: 0,
                    cx: f64::from(vw) * (0.3 + 0.4 * self.rng.f64()),
                    cy: f64::from(vh) * (0.2 + 0.6 * self.rng.f64()),
                    touch: who.form.is_touch(),
                    next_field: 0,
                };
                self.gap(300.0, 4_000.0);
                self.interact(&mut view, kind, last)
            };
            self.gap(100.0, 3_000.0);
            let duration = (self.t - start) as u32;
            self.emit(&pv, EventKind::Leave, duration, 0, 0, 0, "");
            if last {
                break;
            }
            // Browsers send the full same-origin referrer after a link
            // click (privacy tools strip a few); a typed URL, a bookmark or
            // the back button often sends none.
            let keep = if next.is_some() { 0.97 } else { 0.7 };
            referrer = self.rng.chance(keep).then_some(as_referrer);
            page = match next {
                Some(kind) => s.page_of_kind(kind, self.rng),
                None => s.zipf_page(self.rng),
            };
            self.t += if bot {
                self.rng.range_i64(1_000, 30_000)
            } else {
                self.rng.range_i64(80, 1_500)
            };
        }
    }

    /// The pageview's `url` as the tracker sends it, and its full absolute
    /// form (no fragment) as the next page's referrer. A long-tail page
    /// brings its own query string, `tail_query`, instead of the kind's.
    fn url(
        &mut self,
        site: &str,
        path: &str,
        kind: PageKind,
        campaign: Option<String>,
        tail_query: Option<&str>,
        absolute: bool,
    ) -> (String, String) {
        let rng = &mut *self.rng;
        let mut query = campaign.unwrap_or_default();
        let mut add = |q: &str| {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(q);
        };
        let mut fragment = "";
        match (tail_query, kind) {
            (Some(q), _) if !q.is_empty() => add(q),
            (Some(_), _) => {}
            (None, PageKind::Search) => {
                add(["q=heatmap", "q=pricing", "q=red+shoes", "q=api+key"][rng.index(4)])
            }
            (None, PageKind::Category) if rng.chance(0.2) => add("page=2&sort=price_asc"),
            (None, PageKind::Product) if rng.chance(0.1) => {
                add(["variant=2", "ref=homepage"][rng.index(2)])
            }
            _ => {}
        }
        match kind {
            PageKind::BlogPost if rng.chance(0.08) => fragment = "#comments",
            PageKind::Docs if rng.chance(0.15) => fragment = "#usage",
            PageKind::Product if rng.chance(0.05) => fragment = "#reviews",
            PageKind::Pricing if rng.chance(0.05) => fragment = "#faq",
            _ => {}
        }
        let mut full = String::with_capacity(8 + site.len() + path.len() + query.len() + 1);
        full.push_str("https://");
        full.push_str(site);
        let origin_len = full.len();
        full.push_str(path);
        if !query.is_empty() {
            full.push('?');
            full.push_str(&query);
        }
        let mut url = if absolute {
            full.clone()
        } else {
            full[origin_len..].to_owned()
        };
        url.push_str(fragment);
        (url, full)
    }

    /// The visitor's interactions on one page, ending with a click on a link
    /// (whose target kind is returned) unless this is the last page.
    fn interact(&mut self, v: &mut View<'_>, kind: PageKind, last: bool) -> Option<PageKind> {
        let form_page = matches!(
            kind,
            PageKind::Signup | PageKind::Login | PageKind::Checkout | PageKind::Contact
        );
        let intents = self.rng.log_normal(3.0, 0.9).clamp(0.0, 60.0) as u32;
        let input_w = match (v.tpl.fields.is_empty(), form_page) {
            (true, _) => 0,
            (false, true) => 40,
            (false, false) => 8,
        };
        // wander, click, scroll, input, loose custom
        let weights = if v.touch {
            [30, 26, 36, input_w, 1]
        } else {
            [44, 22, 24, input_w, 1]
        };
        for _ in 0..intents {
            match self.rng.pick_weighted(&weights) {
                0 => self.wander(v),
                1 => {
                    let i = self.rng.pick_cumulative(&v.tpl.clickable_cum);
                    if let Some(&e) = v.tpl.clickable.get(i) {
                        self.click(v, e);
                    }
                }
                2 => self.read_scroll(v),
                3 => self.fill(v),
                _ => {
                    self.gap(200.0, 5_000.0);
                    let name = LOOSE_CUSTOM[self.rng.index(LOOSE_CUSTOM.len())];
                    self.emit(&v.page, EventKind::Custom, 0, 0, 0, 0, name);
                }
            }
        }
        if last || v.tpl.links.is_empty() || !self.rng.chance(0.6) {
            return None;
        }
        let i = self.rng.pick_cumulative(&v.tpl.links_cum);
        let e = *v.tpl.links.get(i)?;
        self.click(v, e);
        match v.tpl.elements[e].act {
            Act::Go(kind) => Some(kind),
            _ => None,
        }
    }

    /// The pointer drifts around the viewport (a mouse, or touch drags).
    fn wander(&mut self, v: &mut View<'_>) {
        let (steps, lo, hi) = if v.touch {
            (self.rng.range_u32(2, 8), 50.0, 300.0)
        } else {
            (self.rng.range_u32(4, 16), 50.0, 250.0)
        };
        let steps = self.dense(steps);
        let tx = f64::from(v.vw) * (0.1 + 0.8 * self.rng.f64());
        let ty = f64::from(v.vh) * (0.1 + 0.8 * self.rng.f64());
        self.gap(150.0, 5_000.0);
        self.move_to(v, tx, ty, steps, lo, hi);
    }

    fn move_to(&mut self, v: &mut View<'_>, tx: f64, ty: f64, steps: u32, lo: f64, hi: f64) {
        for i in 0..steps {
            let left = f64::from(steps - i);
            let jitter = 4.0 + 12.0 * self.rng.f64();
            v.cx += (tx - v.cx) / left + jitter * self.rng.normal() * 0.5;
            v.cy += (ty - v.cy) / left + jitter * self.rng.normal() * 0.5;
            if i > 0 {
                self.sample_gap(lo, hi);
            }
            self.emit_move(v);
        }
        v.cx = v.cx.clamp(0.0, f64::from(v.vw - 1));
        v.cy = v.cy.clamp(0.0, f64::from(v.vh - 1));
    }

    /// Reading: a few scrolls, mostly down.
    fn read_scroll(&mut self, v: &mut View<'_>) {
        self.gap(300.0, 5_000.0);
        let steps = self.rng.range_u32(1, 5);
        let steps = self.dense(steps);
        for i in 0..steps {
            let max = v.max_scroll();
            let delta = if v.touch {
                self.rng.range_u32(200, 1_400)
            } else if self.rng.chance(0.5) {
                100 * self.rng.range_u32(1, 4)
            } else {
                self.rng.range_u32(40, 400)
            };
            let delta = self.dense_delta(delta);
            let up = v.sy > 0 && self.rng.chance(0.12);
            let to = if up {
                v.sy.saturating_sub(delta)
            } else {
                (v.sy + delta).min(max)
            };
            if to == v.sy {
                break;
            }
            if i > 0 {
                self.sample_gap(50.0, 400.0);
            }
            if v.touch && to == max && self.rng.chance(0.1) {
                // Rubber-band overscroll at the bottom (iOS), then back.
                let over = max + self.rng.range_u32(10, 80);
                self.emit(&v.page, EventKind::Scroll, 0, over, 0, 0, "");
                self.gap(50.0, 200.0);
            }
            v.sy = to;
            self.emit(&v.page, EventKind::Scroll, 0, to, 0, 0, "");
        }
    }

    /// Scrolls until `r` is in view.
    fn reveal(&mut self, v: &mut View<'_>, r: Rect) {
        if r.y >= v.sy && r.y + r.h <= v.sy + v.vh {
            return;
        }
        let target = (r.y + r.h / 2).saturating_sub(v.vh / 2).min(v.max_scroll());
        let steps = self.rng.range_u32(1, 4);
        let steps = self.dense(steps).max(1);
        let from = i64::from(v.sy);
        for i in 1..=steps {
            self.sample_gap(50.0, 300.0);
            let y = from + (i64::from(target) - from) * i64::from(i) / i64::from(steps);
            v.sy = y as u32;
            self.emit(&v.page, EventKind::Scroll, 0, v.sy, 0, 0, "");
        }
    }

    /// Moves to element `e`, clicks inside its box (sometimes in a rage),
    /// and fires its custom event.
    fn click(&mut self, v: &mut View<'_>, e: usize) {
        let el = v.tpl.elements[e];
        let r = el.rect(v.vw, v.dh);
        self.gap(200.0, 5_000.0);
        self.reveal(v, r);
        let fx = (0.5 + 0.2 * self.rng.normal()).clamp(0.0, 1.0);
        let fy = (0.5 + 0.2 * self.rng.normal()).clamp(0.0, 1.0);
        let px = f64::from(r.x) + fx * f64::from(r.w - 1);
        let py = f64::from(r.y) + fy * f64::from(r.h - 1);
        let (tx, ty) = (px, py - f64::from(v.sy));
        let steps = if v.touch {
            u32::from(self.rng.chance(0.2))
        } else {
            self.rng.range_u32(2, 8)
        };
        let steps = self.dense(steps);
        if steps > 0 {
            self.gap(100.0, 800.0);
            self.move_to(v, tx, ty, steps, 50.0, 250.0);
        }
        v.cx = tx;
        v.cy = ty;
        self.gap(80.0, 1_500.0);
        let (x, y) = (px as u32, py as u32);
        let pos = |rx: u32, ry: u32| {
            let ex = u64::from(rx - r.x) * 10_000 / u64::from(r.w.max(2) - 1);
            let ey = u64::from(ry - r.y) * 10_000 / u64::from(r.h.max(2) - 1);
            (ex.min(10_000) as u16, ey.min(10_000) as u16)
        };
        let (ex, ey) = pos(x, y);
        self.emit(&v.page, EventKind::Click, x, y, ex, ey, el.selector);
        let rage = if el.act == Act::Nothing { 0.05 } else { 0.01 };
        if self.rng.chance(rage) {
            for _ in 0..self.rng.range_u32(2, 5) {
                self.gap(50.0, 250.0);
                let jx = (i64::from(x) + self.rng.range_i64(-3, 3))
                    .clamp(i64::from(r.x), i64::from(r.x + r.w - 1))
                    as u32;
                let jy = (i64::from(y) + self.rng.range_i64(-3, 3))
                    .clamp(i64::from(r.y), i64::from(r.y + r.h - 1))
                    as u32;
                let (ex, ey) = pos(jx, jy);
                self.emit(&v.page, EventKind::Click, jx, jy, ex, ey, el.selector);
            }
        }
        if let Act::Custom(name) = el.act {
            if self.rng.chance(0.85) {
                self.gap(50.0, 300.0);
                self.emit(&v.page, EventKind::Custom, 0, 0, 0, 0, name);
            }
        }
    }

    /// Focuses the next form field and types into it: only the length.
    fn fill(&mut self, v: &mut View<'_>) {
        let Some(&e) = v.tpl.fields.get(v.next_field % v.tpl.fields.len().max(1)) else {
            return;
        };
        v.next_field += 1;
        self.click(v, e);
        let Act::Field(lo, hi) = v.tpl.elements[e].act else {
            return;
        };
        let len = self.rng.range_u32(u32::from(lo), u32::from(hi));
        let parts = self.rng.range_u32(1, len.clamp(1, 4));
        let selector = v.tpl.elements[e].selector;
        for j in 1..=parts {
            self.gap(300.0, 3_000.0);
            self.emit(
                &v.page,
                EventKind::Input,
                len * j / parts,
                0,
                0,
                0,
                selector,
            );
        }
    }
}
