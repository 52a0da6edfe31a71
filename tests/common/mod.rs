//! Helpers shared by the integration tests: a naive in-memory model written
//! straight from the semantics in docs/semantics.md.
#![allow(dead_code)]

pub mod faulty;
pub mod model;

use heatstore::{Event, EventKind, StoredEvent};

/// The page of a URL: path only, `/` when empty.
pub fn page_of(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find(['/', '?', '#']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => url,
    };
    let path = rest.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

/// What replay must return for an event: only the fields its kind has.
pub fn expected(e: &Event) -> StoredEvent {
    use EventKind::*;
    let k = e.kind;
    let on = |ks: &[EventKind]| ks.contains(&k);
    let geo = on(&[Pageview, Click, Move, Scroll]);
    StoredEvent {
        ts: e.ts,
        kind: k,
        page: page_of(&e.url),
        x: e.x.filter(|_| on(&[Click, Move])),
        y: e.y.filter(|_| on(&[Click, Move, Scroll])),
        vw: e.vw.filter(|_| geo),
        vh: e.vh.filter(|_| geo),
        dh: e.dh.filter(|_| geo),
        load_ms: e.load_ms.filter(|_| k == Pageview),
        selector: e.selector.clone().filter(|_| on(&[Click, Input])),
        ex: e.ex.filter(|_| k == Click),
        ey: e.ey.filter(|_| k == Click),
        len: e.len.filter(|_| k == Input),
        duration_ms: e.duration_ms.filter(|_| k == Leave),
        name: e.name.clone().filter(|_| k == Custom),
    }
}

/// A small random-ish event from integers (for proptest strategies).
pub fn make_event(
    site: usize,
    session: usize,
    kind: usize,
    ts: i64,
    page: usize,
    a: u32,
    b: u32,
) -> Event {
    let kind = EventKind::ALL[kind % 7];
    let sites = ["a.example", "b.example"];
    let urls = [
        "/",
        "/pricing?utm_source=news",
        "https://a.example/blog/post#top",
        "/checkout",
        "https://b.example",
    ];
    let mut e = Event::new(
        sites[site % 2],
        ts,
        kind,
        &format!("sess-{session}"),
        urls[page % urls.len()],
    );
    e.visitor = (session % 3 != 0).then(|| format!("vis-{}", session / 2));
    // Optional fields everywhere, so normalization has something to drop.
    e.vw = Some(800 + a % 1200);
    e.vh = Some(600 + b % 400);
    e.dh = Some(2000 + a % 5000);
    e.selector = (a % 2 == 0).then(|| format!("#el{}", b % 4));
    match kind {
        EventKind::Pageview => {
            e.load_ms = Some(a % 5000);
            e.referrer = (b % 3 == 0).then(|| "https://www.google.com/search".to_owned());
            e.ua = Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36".to_owned());
            e.lang = Some("de-DE".into());
        }
        EventKind::Click => {
            e.x = Some(a % 2000);
            e.y = Some(b % 8000);
            e.ex = Some((a % 10_001) as u16);
            e.ey = Some((b % 10_001) as u16);
        }
        EventKind::Move => {
            e.x = Some(a % 2000);
            e.y = Some(b % 8000);
        }
        EventKind::Scroll => e.y = Some(b % 8000),
        EventKind::Input => e.len = Some(a % 40),
        EventKind::Leave => e.duration_ms = Some(a),
        EventKind::Custom => e.name = Some(format!("evt{}", b % 3)),
    }
    e
}
