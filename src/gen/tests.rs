//! Tests of the generator as a whole: determinism, counts, validity, the
//! mix of kinds, sessions, referrers, late arrivals and bounded memory.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::*;

fn gen(cfg: GenConfig) -> Vec<Event> {
    Generator::new(cfg).collect()
}

fn cfg(events: u64) -> GenConfig {
    GenConfig {
        events,
        ..GenConfig::default()
    }
}

fn share(events: &[Event], kind: EventKind) -> f64 {
    events.iter().filter(|e| e.kind == kind).count() as f64 / events.len() as f64
}

/// Events grouped by session id (cookie sessions only), in output order.
fn sessions(events: &[Event]) -> BTreeMap<&str, Vec<&Event>> {
    let mut m: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        if let Some(s) = &e.session {
            m.entry(s.as_str()).or_default().push(e);
        }
    }
    m
}

#[test]
fn same_seed_same_events_other_seed_other_events() {
    let a = gen(cfg(20_000));
    assert_eq!(a, gen(cfg(20_000)));
    let b = gen(GenConfig {
        seed: 2,
        ..cfg(20_000)
    });
    assert_eq!(b.len(), 20_000);
    assert_ne!(a[..100], b[..100]);
}

#[test]
fn yields_exactly_the_requested_count() {
    for n in [0, 1, 2, 7, 99, 1_234, 30_001] {
        let g = Generator::new(cfg(n));
        assert_eq!(g.size_hint(), (n as usize, Some(n as usize)));
        assert_eq!(g.count() as u64, n, "events = {n}");
    }
    let mut g = Generator::new(cfg(3));
    assert_eq!(g.by_ref().count(), 3);
    assert!(g.next().is_none() && g.next().is_none());
}

#[test]
fn every_event_validates_and_roundtrips() {
    let events = gen(GenConfig {
        sites: vec!["a.example".into(), "b.example.org".into()],
        cookieless_fraction: 0.2,
        dnt_fraction: 0.1,
        ..cfg(60_000)
    });
    for (i, e) in events.iter().enumerate() {
        e.validate()
            .unwrap_or_else(|err| panic!("event {i} {e:?}: {err}"));
        if i % 53 == 0 {
            let line = e.to_json_line();
            assert_eq!(&Event::from_json_line(line.as_bytes()).unwrap(), e);
        }
    }
}

#[test]
fn kinds_mix_like_real_traffic() {
    let events = gen(cfg(100_000));
    let moves = share(&events, EventKind::Move);
    assert!((0.5..0.7).contains(&moves), "moves {moves}");
    for kind in EventKind::ALL {
        assert!(share(&events, kind) > 0.001, "{kind} missing");
    }
    for e in &events {
        match e.kind {
            EventKind::Input => {
                assert!(e.len.is_some() && e.selector.is_some());
                let line = e.to_json_line();
                assert!(!line.contains("\"value\"") && !line.contains("\"text\""));
            }
            EventKind::Click => {
                assert!(e.ex.is_some_and(|v| v <= 10_000) && e.ey.is_some_and(|v| v <= 10_000));
                assert!(e.selector.is_some());
            }
            EventKind::Pageview => {
                let dh = e.dh.unwrap();
                assert!((1_500..=12_000).contains(&dh), "{dh}");
                assert!(e.vw <= e.screen_w && e.vh <= e.screen_h, "{e:?}");
                assert!((200..=8_000).contains(&e.load_ms.unwrap()));
                assert!(e.ua.is_some() && e.lang.is_some() && e.tz.is_some());
            }
            _ => {}
        }
    }
}

#[test]
fn sessions_are_consistent() {
    let events = gen(cfg(100_000));
    let by_session = sessions(&events);
    assert!(by_session.len() > 500, "{}", by_session.len());
    let mut visitors: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, evs) in &by_session {
        assert!((16..=22).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        let uas: BTreeSet<_> = evs.iter().filter_map(|e| e.ua.as_deref()).collect();
        assert_eq!(uas.len(), 1, "session {id}");
        let vis: BTreeSet<_> = evs.iter().map(|e| e.visitor.as_deref()).collect();
        assert_eq!(vis.len(), 1, "session {id}");
        let sites: BTreeSet<_> = evs.iter().map(|e| e.site.as_str()).collect();
        assert_eq!(sites.len(), 1);
        let pvs = evs.iter().filter(|e| e.kind == EventKind::Pageview).count();
        assert!((1..=8).contains(&pvs), "{pvs}");
        if let Some(v) = vis.into_iter().next().flatten() {
            visitors.entry(v).or_default().insert(id);
        }
    }
    let returning = visitors.values().filter(|s| s.len() > 1).count();
    assert!(
        returning * 10 > visitors.len(),
        "{returning} of {}",
        visitors.len()
    );
    // Leaves carry the time since their pageview.
    for evs in by_session.values() {
        let mut sorted = evs.clone();
        sorted.sort_by_key(|e| e.ts);
        let mut since = None;
        for e in sorted {
            match e.kind {
                EventKind::Pageview => since = Some(e.ts),
                EventKind::Leave => {
                    let pv = since.expect("leave after a pageview");
                    assert_eq!(e.ts - pv, i64::from(e.duration_ms.unwrap()));
                }
                _ => {}
            }
        }
    }
}

#[test]
fn late_arrivals_exist_and_on_time_is_ordered() {
    let events = gen(cfg(50_000));
    let mut max_ts = i64::MIN;
    let mut late = 0;
    for e in &events {
        if e.ts < max_ts.saturating_sub(60_000) {
            late += 1;
        }
        max_ts = max_ts.max(e.ts);
    }
    assert!(late > 50 && late < 3_000, "{late}");
    let mut over_a_day = 0;
    let mut max_ts = i64::MIN;
    for e in &events {
        over_a_day += usize::from(e.ts < max_ts.saturating_sub(86_400_000));
        max_ts = max_ts.max(e.ts);
    }
    assert!(over_a_day > 0);

    // Without late events each session's events come in `ts` order.
    let on_time = gen(GenConfig {
        late_fraction: 0.0,
        ..cfg(50_000)
    });
    for evs in sessions(&on_time).values() {
        assert!(evs.windows(2).all(|w| w[0].ts <= w[1].ts));
    }
}

#[test]
fn visitor_ids_ride_where_asked() {
    let every = gen(cfg(20_000));
    let with_id = |events: &[Event]| events.iter().filter(|e| e.visitor.is_some()).count();
    let pv = gen(GenConfig {
        visitor_ids: VisitorIds::Pageviews,
        ..cfg(20_000)
    });
    // The same stream but for the ids.
    assert!(every
        .iter()
        .zip(&pv)
        .all(|(a, b)| a.ts == b.ts && a.kind == b.kind));
    assert!(pv
        .iter()
        .all(|e| e.visitor.is_none() || e.kind == EventKind::Pageview));
    assert!(pv.iter().any(|e| e.visitor.is_some()));
    let some = gen(GenConfig {
        visitor_ids: VisitorIds::Fraction(0.3),
        ..cfg(20_000)
    });
    let share = with_id(&some) as f64 / with_id(&every) as f64;
    assert!((share - 0.3).abs() < 0.03, "{share}");
    assert_eq!("pageviews".parse(), Ok(VisitorIds::Pageviews));
    assert_eq!("0.5".parse(), Ok(VisitorIds::Fraction(0.5)));
    assert!("1.5".parse::<VisitorIds>().is_err());
}

#[test]
fn jitter_shuffles_arrival_within_its_window() {
    let window = 120_000;
    let events = gen(GenConfig {
        late_fraction: 0.0,
        arrival_jitter_ms: window,
        ..cfg(50_000)
    });
    // Out of order, but never by more than the window.
    let mut max_ts = i64::MIN;
    let mut out_of_order = 0;
    for e in &events {
        assert!(
            e.ts >= max_ts.saturating_sub(i64::from(window) + 400),
            "beyond the window"
        );
        out_of_order += usize::from(e.ts < max_ts);
        max_ts = max_ts.max(e.ts);
    }
    assert!(out_of_order > events.len() / 4, "{out_of_order}");
    // Some sessions' first event to arrive is not their first pageview.
    let before_pv = sessions(&events)
        .values()
        .filter(|evs| evs[0].kind != EventKind::Pageview)
        .count();
    assert!(before_pv > 10, "{before_pv}");
}

#[test]
fn late_fraction_is_honoured() {
    for f in [0.0, 0.02, 0.2] {
        let mut g = Generator::new(GenConfig {
            late_fraction: f,
            ..cfg(0)
        });
        let (mut out, mut late, mut n) = (Vec::new(), 0, 0);
        for _ in 0..3_000 {
            let who = g.visitor(0);
            Sim::new(&g.world, &mut g.rng, &mut out, g.tuning).session(0, who);
            n += out.len();
            late += out.iter().filter(|p| p.late).count();
            out.clear();
        }
        let share = late as f64 / n as f64;
        assert!((share - f).abs() <= f * 0.2 + 1e-9, "{f}: {share}");
    }
}

#[test]
fn cookieless_and_dnt_shares() {
    let events = gen(GenConfig {
        cookieless_fraction: 1.0,
        ..cfg(5_000)
    });
    for e in &events {
        assert!(e.session.is_none() && e.visitor.is_none());
        let ip = e.ip.as_deref().unwrap();
        assert!(
            ip.starts_with("203.0.113.")
                || ip.starts_with("198.51.100.")
                || ip.starts_with("192.0.2.")
                || ip.starts_with("2001:db8:"),
            "{ip}"
        );
        assert!(e.ua.is_some());
    }
    let events = gen(GenConfig {
        cookieless_fraction: 0.3,
        dnt_fraction: 0.5,
        ..cfg(100_000)
    });
    let pvs: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == EventKind::Pageview)
        .collect();
    let cookieless = pvs.iter().filter(|e| e.session.is_none()).count() as f64 / pvs.len() as f64;
    let dnt = pvs.iter().filter(|e| e.dnt == Some(true)).count() as f64 / pvs.len() as f64;
    assert!((0.15..0.45).contains(&cookieless), "{cookieless}");
    assert!((0.35..0.65).contains(&dnt), "{dnt}");
    assert!(gen(cfg(20_000))
        .iter()
        .all(|e| e.dnt.is_none() && e.ip.is_none()));
}

#[test]
fn sites_share_traffic_first_most() {
    let names = ["a.example", "b.example", "c.example"];
    let events = gen(GenConfig {
        sites: names.iter().map(|s| s.to_string()).collect(),
        ..cfg(60_000)
    });
    let count = |s: &str| events.iter().filter(|e| e.site == s).count();
    let (a, b, c) = (count(names[0]), count(names[1]), count(names[2]));
    assert!(a > b && a > c && b > 0 && c > 0, "{a} {b} {c}");
    assert_eq!(a + b + c, events.len());
}

#[test]
fn sessions_fill_the_window_with_a_daily_cycle() {
    let c = cfg(100_000);
    let (start, end) = (c.start_ms, c.start_ms + i64::from(c.days) * 86_400_000);
    let events = gen(c);
    let mut by_hour = [0u32; 24];
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for e in events.iter().filter(|e| e.kind == EventKind::Pageview) {
        first = first.min(e.ts);
        last = last.max(e.ts);
        by_hour[(e.ts / 3_600_000 % 24) as usize] += 1;
    }
    assert!(first >= start && first < start + 86_400_000, "{first}");
    assert!(last > end - 86_400_000 && last < end + 86_400_000, "{last}");
    assert!(by_hour[14] > by_hour[4], "{by_hour:?}");
}

#[test]
fn pages_clicks_and_scrolls_are_geometric() {
    let events = gen(cfg(100_000));
    let mut view: BTreeMap<(&str, &str), (u32, u32, u32)> = BTreeMap::new();
    let mut paths = BTreeSet::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Pageview) {
        let s = e.session.as_deref().unwrap();
        view.insert(
            (s, e.url.as_str()),
            (e.vw.unwrap(), e.vh.unwrap(), e.dh.unwrap()),
        );
        let path = e.url.trim_start_matches("https://shop.example.com");
        paths.insert(path.split(['?', '#']).next().unwrap().to_owned());
    }
    assert!(paths.len() > 100, "{}", paths.len());
    for p in ["/", "/pricing", "/signup"] {
        assert!(paths.contains(p), "{p}");
    }
    assert!(paths.iter().any(|p| p.starts_with("/blog/")));
    assert!(paths.iter().any(|p| p.starts_with("/product/")));
    let (mut scrolls, mut within) = (0, 0);
    for e in &events {
        let Some(&(vw, vh, dh)) = view.get(&(e.session.as_deref().unwrap(), e.url.as_str())) else {
            continue;
        };
        match e.kind {
            EventKind::Click | EventKind::Move => {
                assert!(e.x.unwrap() < vw && e.y.unwrap() < dh, "{e:?} {vw} {dh}");
            }
            EventKind::Scroll => {
                scrolls += 1;
                within += usize::from(e.y.unwrap() + vh <= dh);
            }
            _ => {}
        }
    }
    assert!(
        scrolls > 1_000 && within * 100 >= scrolls * 97,
        "{within} of {scrolls}"
    );
    // Clicks concentrate on few selectors; rage clicks happen.
    let mut sel: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Click) {
        *sel.entry(e.selector.as_deref().unwrap()).or_default() += 1;
    }
    assert!(sel.contains_key("#hero-cta") && sel.contains_key("nav > a.pricing"));
    let clicks: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == EventKind::Click)
        .collect();
    let rage = clicks.windows(3).filter(|w| {
        w.iter()
            .all(|e| e.session == w[0].session && e.selector == w[0].selector)
            && w[2].ts - w[0].ts <= 1_000
            && w.iter()
                .all(|e| e.x.unwrap().abs_diff(w[0].x.unwrap()) <= 10)
    });
    assert!(rage.count() > 0);
}

#[test]
fn referrers_and_campaigns_vary() {
    let events = gen(cfg(100_000));
    let pvs: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == EventKind::Pageview)
        .collect();
    let has = |needle: &str| {
        pvs.iter()
            .any(|e| e.referrer.as_deref().is_some_and(|r| r.contains(needle)))
    };
    for host in [
        "www.google.com",
        "www.bing.com",
        "duckduckgo.com",
        "facebook.com",
        "t.co",
        "mail.google.com",
        "https://shop.example.com/",
    ] {
        assert!(has(host), "{host}");
    }
    assert!(pvs.iter().any(|e| e.referrer.is_none()));
    assert!(pvs.iter().any(|e| e.url.contains("utm_source=")));
    assert!(pvs.iter().any(|e| e.url.contains("gclid=")));
    assert!(pvs.iter().any(|e| e.url.contains('#')));
    assert!(pvs.iter().any(|e| e.url.starts_with('/')));
    let uas: BTreeSet<&str> = pvs.iter().filter_map(|e| e.ua.as_deref()).collect();
    for needle in [
        "Windows NT",
        "iPhone",
        "iPad",
        "Android",
        "SamsungBrowser",
        "Edg/",
        "Firefox/",
        "Googlebot",
        "bingbot",
    ] {
        assert!(uas.iter().any(|u| u.contains(needle)), "{needle}");
    }
    let customs: BTreeSet<&str> = events.iter().filter_map(|e| e.name.as_deref()).collect();
    assert!(
        customs.contains("signup") && customs.contains("add_to_cart"),
        "{customs:?}"
    );
}

#[test]
fn memory_stays_bounded() {
    let mut g = Generator::new(GenConfig {
        days: 1,
        ..cfg(300_000)
    });
    let mut max = 0;
    while g.next().is_some() {
        max = max.max(g.queue.len());
    }
    // A day of 300k events: concurrent sessions plus late runs in flight.
    assert!(max < 40_000, "{max}");
}

#[test]
fn write_ndjson_writes_what_the_generator_yields() {
    let mut out = Vec::new();
    let bytes = write_ndjson(cfg(3_000), &mut out).unwrap();
    assert_eq!(bytes, out.len() as u64);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let events = gen(cfg(3_000));
    assert_eq!(lines.len(), events.len());
    for (line, e) in lines.iter().zip(&events) {
        assert_eq!(*line, e.to_json_line());
    }
}

/// Distinct `url`s of the pageviews.
fn distinct_urls(events: &[Event]) -> BTreeSet<&str> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Pageview)
        .map(|e| e.url.as_str())
        .collect()
}

/// Moves and scrolls per pageview.
fn motion_per_pageview(events: &[Event]) -> f64 {
    let motion = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Move | EventKind::Scroll))
        .count();
    let pvs = events
        .iter()
        .filter(|e| e.kind == EventKind::Pageview)
        .count();
    motion as f64 / pvs as f64
}

#[test]
fn url_tail_makes_deep_distinct_urls_with_layouts() {
    let plain = gen(cfg(30_000));
    let tail = gen(GenConfig {
        url_tail: 0.8,
        ..cfg(30_000)
    });
    let (a, b) = (distinct_urls(&plain).len(), distinct_urls(&tail).len());
    assert!(b > 3 * a, "{a} distinct URLs without the tail, {b} with it");
    // Nearly every long-tail pageview has a URL of its own.
    let pvs = tail
        .iter()
        .filter(|e| e.kind == EventKind::Pageview)
        .count();
    assert!(b * 4 > pvs * 3, "{b} distinct URLs of {pvs} pageviews");
    let has = |needle: &str| tail.iter().any(|e| e.url.contains(needle));
    for needle in [
        "/blog/20",
        "/products/",
        "/c/",
        "/search?q=",
        "/docs/v",
        "utm_campaign=",
        "gclid=",
        "sid=",
        "ref=",
    ] {
        assert!(has(needle), "{needle}");
    }
    assert!(!distinct_urls(&plain)
        .iter()
        .any(|u| u.contains("/products/")));
    // Clicks on long-tail product pages hit the product layout.
    let on_products: BTreeSet<&str> = tail
        .iter()
        .filter(|e| e.kind == EventKind::Click && e.url.contains("/products/"))
        .filter_map(|e| e.selector.as_deref())
        .collect();
    assert!(on_products.contains("#add-to-cart"), "{on_products:?}");
    for (i, e) in tail.iter().enumerate() {
        e.validate()
            .unwrap_or_else(|err| panic!("event {i} {e:?}: {err}"));
    }
}

#[test]
fn motion_multiplies_moves_and_scrolls() {
    let base = motion_per_pageview(&gen(cfg(30_000)));
    let heavy = gen(GenConfig {
        motion: 5.0,
        ..cfg(30_000)
    });
    let dense = motion_per_pageview(&heavy);
    assert!(dense >= 3.0 * base, "{base} → {dense} per pageview");
    let moving = share(&heavy, EventKind::Move) + share(&heavy, EventKind::Scroll);
    assert!(moving > 0.9, "{moving}");
    // Denser samples, closer in time: the median gap between a session's
    // consecutive moves shrinks.
    let median_gap = |events: &[Event]| {
        let mut gaps: Vec<i64> = sessions(events)
            .values()
            .flat_map(|evs| {
                let moves: Vec<i64> = evs
                    .iter()
                    .filter(|e| e.kind == EventKind::Move)
                    .map(|e| e.ts)
                    .collect();
                moves.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()
            })
            .collect();
        gaps.sort_unstable();
        gaps[gaps.len() / 2]
    };
    let light = GenConfig {
        late_fraction: 0.0,
        ..cfg(30_000)
    };
    let (g1, g5) = (
        median_gap(&gen(light.clone())),
        median_gap(&gen(GenConfig {
            motion: 5.0,
            ..light
        })),
    );
    assert!(g5 * 2 < g1, "median move gap {g1} ms → {g5} ms");
    let still = gen(GenConfig {
        motion: 0.0,
        ..cfg(10_000)
    });
    assert_eq!(share(&still, EventKind::Move), 0.0);
    // Out of range: clamped, NaN the default.
    let nan = gen(GenConfig {
        motion: f64::NAN,
        ..cfg(3_000)
    });
    assert_eq!(nan, gen(cfg(3_000)));
}

#[test]
fn bursts_concentrate_a_sites_sessions_in_a_few_hours() {
    let hour = 3_600_000;
    let c = GenConfig {
        sites: vec!["a.example".into(), "b.example".into(), "c.example".into()],
        days: 2,
        bursts: 1,
        ..cfg(100_000)
    };
    let g = Generator::new(c.clone());
    let hours: Vec<usize> = (0..g.bursting.len())
        .filter(|&h| !g.bursting[h].is_empty())
        .collect();
    assert!((1..=3).contains(&hours.len()), "{hours:?}");
    let site = g.bursting[hours[0]][0];
    let name = &c.sites[site];
    // Sessions of each site by the hour of their first event.
    let per_hour = |events: &[Event], name: &str| {
        let mut n = vec![0u32; 48];
        for evs in sessions(events).values() {
            let first = evs.iter().map(|e| e.ts).min().unwrap();
            if evs[0].site == name {
                let h = ((first - c.start_ms) / hour).clamp(0, 47) as usize;
                n[h] += 1;
            }
        }
        n
    };
    let events: Vec<Event> = g.collect();
    let n = per_hour(&events, name);
    let inside: u32 = hours.iter().map(|&h| n[h]).sum();
    let outside: u32 = n.iter().sum::<u32>() - inside;
    let rate_in = f64::from(inside) / hours.len() as f64;
    let rate_out = f64::from(outside) / (48 - hours.len()) as f64;
    assert!(
        rate_in > 8.0 * rate_out,
        "{name}: {rate_in} sessions/hour in the burst, {rate_out} outside"
    );
    // Without the burst that site has no such hours.
    let calm = gen(GenConfig {
        bursts: 0,
        ..c.clone()
    });
    let n = per_hour(&calm, name);
    let mean = f64::from(n.iter().sum::<u32>()) / 48.0;
    assert!(n.iter().all(|&k| f64::from(k) < 4.0 * mean), "{n:?}");
    // The bursting site is drawn, not always the first.
    let drawn: BTreeSet<usize> = (1..=20)
        .flat_map(|seed| plan_bursts(seed, 1, 5, 48).concat())
        .collect();
    assert!(drawn.len() >= 3, "{drawn:?}");
}

#[test]
fn site_skew_and_numbered_sites_spread_traffic() {
    let pageviews_by_site = |c: GenConfig| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for e in gen(c).into_iter().filter(|e| e.kind == EventKind::Pageview) {
            *m.entry(e.site).or_default() += 1;
        }
        m
    };
    let three = vec!["a.example".into(), "b.example".into(), "c.example".into()];
    let even = pageviews_by_site(GenConfig {
        sites: three.clone(),
        site_skew: 0.0,
        ..cfg(60_000)
    });
    let steep = pageviews_by_site(GenConfig {
        sites: three,
        site_skew: 3.0,
        ..cfg(60_000)
    });
    let (lo, hi) = (even.values().min().unwrap(), even.values().max().unwrap());
    assert!(hi * 2 < lo * 3, "{even:?}");
    assert!(steep["a.example"] > 10 * steep["c.example"], "{steep:?}");
    let many = pageviews_by_site(GenConfig {
        sites: numbered_sites(200),
        ..cfg(60_000)
    });
    assert!(many.len() > 100, "{}", many.len());
    assert!(many["site-001.example"] > 10 * many.get("site-100.example").unwrap_or(&1));
}

#[test]
fn every_option_at_once_validates_and_is_deterministic() {
    let c = GenConfig {
        seed: 11,
        sites: numbered_sites(12),
        site_skew: 1.0,
        days: 5,
        url_tail: 0.5,
        motion: 3.0,
        bursts: 4,
        arrival_jitter_ms: 120_000,
        visitor_ids: VisitorIds::Pageviews,
        cookieless_fraction: 0.1,
        ..cfg(40_000)
    };
    let events = gen(c.clone());
    assert_eq!(events.len(), 40_000);
    for (i, e) in events.iter().enumerate() {
        e.validate()
            .unwrap_or_else(|err| panic!("event {i} {e:?}: {err}"));
        if i % 97 == 0 {
            let line = e.to_json_line();
            assert_eq!(&Event::from_json_line(line.as_bytes()).unwrap(), e);
        }
    }
    assert_eq!(events, gen(c.clone()));
    let other = gen(GenConfig { seed: 12, ..c });
    assert_ne!(events[..100], other[..100]);
}

/// Throughput: `cargo test --release --lib gen::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let n = 10_000_000;
    let t = Instant::now();
    let mut kinds = [0u64; 7];
    let mut g = Generator::new(cfg(n));
    for e in g.by_ref() {
        kinds[e.kind as usize] += 1;
    }
    let sessions = g.sessions;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "generate: {n} events in {secs:.2} s = {:.0} events/s",
        n as f64 / secs
    );
    for k in EventKind::ALL {
        println!(
            "  {k:<8} {:>5.1}%",
            kinds[k as usize] as f64 * 100.0 / n as f64
        );
    }
    println!(
        "  ~{sessions} sessions, {:.1} events/session",
        n as f64 / sessions as f64
    );
    let t = Instant::now();
    let bytes = write_ndjson(cfg(n), io::sink()).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "write_ndjson: {n} events, {bytes} bytes in {secs:.2} s = {:.0} events/s, {:.0} MB/s",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

#[test]
fn generator_can_move_to_another_thread() {
    fn send<T: Send + 'static>(_: &T) {}
    send(&Generator::new(cfg(1)));
}
