//! NDJSON import through the library: line numbers stay right across the
//! reader's blocks and the worker threads, bad lines (bad JSON, invalid
//! UTF-8, wrong types, typed text, over-long strings...) are rejected one by
//! one, and every valid line around them is stored in input order.

use heatstore::{Event, EventKind, Store};

const SITE: &str = "a.example";
const BASE: i64 = 1_767_225_600_000; // 2026-01-01

fn scroll(session: usize, i: usize) -> Event {
    let mut e = Event::new(
        SITE,
        BASE + i as i64,
        EventKind::Scroll,
        &format!("s{session}"),
        &format!("/page/{}", i % 7),
    );
    e.y = Some(i as u32);
    e
}

#[test]
fn bad_lines_are_rejected_by_number_across_blocks_and_the_rest_stored() {
    // About 6 MB: several blocks of 1 MiB, dealt to every worker.
    let n = 40_000;
    let bad: Vec<(usize, &[u8], &str)> = vec![
        (3, b"{not json", "json"),
        (10_007, b"{\"site\":\"a.example\",\"ts\":1,\"type\":\"scroll\",\"session\":\"s\",\"url\":\"/\",\"y\":-5}", "y"),
        (17_011, b"{\"site\":\"a.example\",\"ts\":1,\"type\":\"input\",\"session\":\"s\",\"url\":\"/\",\"len\":3,\"value\":\"pw\"}", "value"),
        (23_003, b"{\"site\":\"a.example\",\"ts\":1,\"type\":\"hover\",\"session\":\"s\",\"url\":\"/\"}", "type"),
        (29_989, b"{\"site\":\"a.example\",\"ts\":1,\"type\":\"scroll\",\"session\":\"\xff\xfe\",\"url\":\"/\",\"y\":1}", "json"),
        (35_000, b"{\"ts\":1,\"type\":\"scroll\",\"session\":\"s\",\"url\":\"/\",\"y\":1}", "site"),
    ];
    let mut input = Vec::new();
    let mut good = Vec::new();
    let mut line = 0;
    let mut i = 0;
    while line < n {
        line += 1;
        if let Some((_, bytes, _)) = bad.iter().find(|(l, _, _)| *l == line) {
            input.extend_from_slice(bytes);
            input.push(b'\n');
            continue;
        }
        match line % 1000 {
            // Blank lines and CRLF endings are fine.
            500 => input.extend_from_slice(b"   \n"),
            501 => {
                let e = scroll(i % 50, i);
                input.extend_from_slice(e.to_json_line().as_bytes());
                input.extend_from_slice(b"\r\n");
                good.push(e);
                i += 1;
            }
            _ => {
                let e = scroll(i % 50, i);
                input.extend_from_slice(e.to_json_line().as_bytes());
                input.push(b'\n');
                good.push(e);
                i += 1;
            }
        }
    }
    // The last line has no newline.
    input.pop();

    let store = Store::in_memory().unwrap();
    let report = store.import_ndjson(input.as_slice()).unwrap();
    assert_eq!(report.rejected as usize, bad.len());
    assert_eq!(report.accepted as usize, good.len());
    let got: Vec<(u64, String)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.reason.clone()))
        .collect();
    for ((want_line, _, field), (line, reason)) in bad.iter().zip(&got) {
        assert_eq!(*line, *want_line as u64, "{reason}");
        assert!(
            field == &"json" || reason.contains(&format!("`{field}`")),
            "line {line}: {reason} does not name {field}"
        );
    }

    // Every valid line is stored, each session's events in input order.
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.counts(SITE).unwrap().events as usize, good.len());
    for s in [0, 17, 49] {
        let session = format!("s{s}");
        let want: Vec<u32> = good
            .iter()
            .filter(|e| e.session.as_deref() == Some(session.as_str()))
            .map(|e| e.y.unwrap())
            .collect();
        let got: Vec<u32> = snap
            .session_events(SITE, &session)
            .unwrap()
            .iter()
            .map(|e| e.y.unwrap())
            .collect();
        assert_eq!(got, want, "session {session}");
    }
}

/// An import writes each full batch on its own thread while it buffers the
/// next. Small batches make many of them overlap: the store must come out
/// as one big batch leaves it, cookieless visitors included (their salt and
/// last activity live in the batch being written until it is committed),
/// and a site first met in the middle of the import too.
#[test]
fn batches_written_while_the_next_is_buffered_store_what_one_batch_does() {
    // Today, so that cookieless salts are kept in the store.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = now - now.rem_euclid(86_400_000) + 60_000;
    let mut input = Vec::new();
    for i in 0..6_000usize {
        let site = if i < 2_500 {
            SITE
        } else {
            ["a.example", "b.example"][i % 2]
        };
        let ts = start + i as i64 * 1_000;
        let mut e = if i % 7 == 0 {
            // Five cookieless visitors, each active every 35 s.
            let mut e = Event::new(site, ts, EventKind::Pageview, "x", "/c");
            e.session = None;
            e.ip = Some(format!("10.0.0.{}", i % 5));
            e.ua = Some(format!("Mozilla/5.0 (test {})", i % 5));
            e
        } else {
            let mut e = scroll(i % 60, i);
            e.site = site.to_owned();
            e.ts = ts;
            e
        };
        (e.vw, e.vh, e.dh) = (Some(1280), Some(720), Some(2000));
        input.extend_from_slice(e.to_json_line().as_bytes());
        input.push(b'\n');
    }

    let one = Store::in_memory().unwrap();
    let many = Store::in_memory().unwrap();
    many.set_import_batch(97);
    for store in [&one, &many] {
        let report = store.import_ndjson(input.as_slice()).unwrap();
        assert_eq!(
            (report.accepted, report.rejected),
            (6_000, 0),
            "{:?}",
            report.errors.first()
        );
    }
    let (a, b) = (one.snapshot().unwrap(), many.snapshot().unwrap());
    for site in ["a.example", "b.example"] {
        assert_eq!(a.counts(site).unwrap(), b.counts(site).unwrap(), "{site}");
        let filters = heatstore::query::Filters::default();
        let hour = heatstore::query::Interval::Hour;
        let (sa, sb) = (
            a.series(site, &filters, hour).unwrap(),
            b.series(site, &filters, hour).unwrap(),
        );
        assert_eq!(sa, sb, "{site}");
        assert!(sa.rows.iter().map(|r| r.visitors).sum::<u64>() > 0);
        for s in [0, 31, 59] {
            let ys = |snap: &heatstore::Snapshot| -> Vec<Option<u32>> {
                let events = snap.session_events(site, &format!("s{s}")).unwrap();
                events.iter().map(|e| e.y).collect()
            };
            assert_eq!(ys(&a), ys(&b), "{site} s{s}");
        }
    }
    // Five cookieless visitors, whatever the batches.
    let visitors = |snap: &heatstore::Snapshot| {
        let f = heatstore::query::Filters {
            page: Some("/c".into()),
            ..Default::default()
        };
        let pages = snap.pages(SITE, &f, None).unwrap();
        pages.rows.iter().map(|r| r.visitors).sum::<u64>()
    };
    assert_eq!(visitors(&a), 5);
    assert_eq!(visitors(&b), 5);
}

/// An import seals the partitions of days it has moved past while it
/// parses the next batch, below the seal threshold. Rows that arrive a day
/// or two late land in partitions already sealed that way; a site silent
/// for days comes back. Small batches (many settled partitions, many late
/// rows after them) must store what one batch does.
#[test]
fn days_an_import_moved_past_are_sealed_early_and_late_rows_still_land() {
    const DAY: i64 = 86_400_000;
    let sites = ["a.example", "b.example", "c.example"];
    let mut input = Vec::new();
    let n = 14_000usize;
    for i in 0..n {
        // Seven days in time order, ...
        let mut ts = BASE + (i as i64 * 7 * DAY) / n as i64;
        // ... one row in 29 arriving one or two days late.
        if i % 29 == 0 && ts > BASE + 2 * DAY {
            ts -= DAY * (1 + (i % 2) as i64);
        }
        let site = if i % 11 == 0 {
            // Silent from the second day to the sixth.
            let day = (ts - BASE) / DAY;
            if (1..6).contains(&day) {
                sites[0]
            } else {
                sites[2]
            }
        } else {
            sites[i % 2]
        };
        let mut e = if i % 5 == 0 {
            Event::new(
                site,
                ts,
                EventKind::Pageview,
                &format!("s{}", i % 300),
                "/p",
            )
        } else {
            let mut e = scroll(i % 300, i);
            e.site = site.to_owned();
            e.ts = ts;
            e
        };
        (e.vw, e.vh, e.dh) = (Some(1280), Some(720), Some(3000));
        input.extend_from_slice(e.to_json_line().as_bytes());
        input.push(b'\n');
    }
    let one = Store::in_memory().unwrap();
    let many = Store::in_memory().unwrap();
    many.set_import_batch(101);
    for store in [&one, &many] {
        let report = store.import_ndjson(input.as_slice()).unwrap();
        assert_eq!((report.accepted, report.rejected), (n as u64, 0));
        assert_eq!(store.stats().unwrap().pending_events, 0);
    }
    let (a, b) = (one.snapshot().unwrap(), many.snapshot().unwrap());
    let filters = heatstore::query::Filters::default();
    let mut total = 0;
    for site in sites {
        let (ca, cb) = (a.counts(site).unwrap(), b.counts(site).unwrap());
        let key = |c: &heatstore::query::SiteCounts| (c.events, c.sessions, c.partitions);
        assert_eq!(key(&ca), key(&cb), "{site}");
        // Sealed early: the late rows made partitions of two segments.
        if site != "c.example" {
            assert!(cb.segments > ca.segments, "{site}: {ca:?} {cb:?}");
        }
        let day = heatstore::query::Interval::Day;
        let series = a.series(site, &filters, day).unwrap();
        assert_eq!(series, b.series(site, &filters, day).unwrap(), "{site}");
        total += series.rows.iter().map(|r| r.pageviews).sum::<u64>();
        assert_eq!(
            a.pages(site, &filters, None).unwrap(),
            b.pages(site, &filters, None).unwrap(),
            "{site}"
        );
        for s in [0, 29, 150, 299] {
            let ys = |snap: &heatstore::Snapshot| -> Vec<(i64, Option<u32>)> {
                let events = snap.session_events(site, &format!("s{s}")).unwrap();
                events.iter().map(|e| (e.ts, e.y)).collect()
            };
            assert_eq!(ys(&a), ys(&b), "{site} s{s}");
        }
    }
    assert_eq!(total, (n / 5) as u64);
}
