//! The privacy rules of ingest, through the public API: Do-Not-Track,
//! sensitive selectors, allowed hosts, cookieless ids (rotating by day,
//! sessions cut after 30 minutes, the IP never stored, salts of past days
//! never kept), for both `Writer::append` and `import_ndjson`.

use heatstore::query::{Filters, Interval};
use heatstore::{Appended, Dropped, Event, EventKind, SiteSettings, Store};
use redb::ReadableDatabase;

const SITE: &str = "shop.example";
const DAY: i64 = 86_400_000;
const MIN: i64 = 60_000;
const BASE: i64 = 1_767_225_600_000; // 2026-01-01T00:00Z
const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                  (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

fn pageview(session: &str, ts: i64, url: &str) -> Event {
    let mut e = Event::new(SITE, ts, EventKind::Pageview, session, url);
    (e.vw, e.vh, e.dh) = (Some(1280), Some(720), Some(3000));
    e.ua = Some(UA.into());
    e
}

fn click(session: &str, ts: i64, selector: &str) -> Event {
    let mut e = Event::new(SITE, ts, EventKind::Click, session, "/");
    (e.x, e.y) = (Some(10), Some(20));
    e.selector = Some(selector.into());
    e
}

/// A cookieless pageview: no session or visitor, only ip and ua.
fn cookieless(ip: &str, ts: i64) -> Event {
    let mut e = pageview("unused", ts, "/");
    e.session = None;
    e.ip = Some(ip.into());
    e
}

fn ndjson(events: &[Event]) -> String {
    events.iter().map(|e| e.to_json_line() + "\n").collect()
}

/// An in-memory store whose site has these settings.
fn store_with(settings: SiteSettings) -> Store {
    let store = Store::in_memory().unwrap();
    store.set_site_settings(SITE, settings).unwrap();
    store
}

#[test]
fn do_not_track_drops_events_when_the_site_honours_it() {
    let store = Store::in_memory().unwrap();
    let mut tracked = pageview("a", BASE, "/");
    tracked.dnt = Some(false);
    let mut dnt = pageview("b", BASE, "/");
    dnt.dnt = Some(true);
    {
        let mut w = store.writer().unwrap();
        assert_eq!(w.append(&tracked).unwrap(), Appended::Buffered);
        assert_eq!(
            w.append(&dnt).unwrap(),
            Appended::Dropped(Dropped::DoNotTrack)
        );
        w.commit().unwrap();
    }
    let report = store
        .import_ndjson(ndjson(&[dnt.clone()]).as_bytes())
        .unwrap();
    assert_eq!((report.accepted, report.dropped), (1, 1));
    assert_eq!(store.snapshot().unwrap().counts(SITE).unwrap().events, 1);

    // A site that does not honour DNT stores the event.
    store
        .set_site_settings(
            SITE,
            SiteSettings {
                honour_dnt: false,
                ..SiteSettings::default()
            },
        )
        .unwrap();
    let report = store.import_ndjson(ndjson(&[dnt]).as_bytes()).unwrap();
    assert_eq!((report.accepted, report.dropped), (1, 0));
    assert_eq!(store.snapshot().unwrap().counts(SITE).unwrap().events, 2);
}

#[test]
fn sensitive_selectors_drop_matching_clicks_and_inputs() {
    let store = store_with(SiteSettings {
        sensitive_selectors: vec!["#card-*".into()],
        ..SiteSettings::default()
    });
    let mut input = Event::new(SITE, BASE + 2, EventKind::Input, "s", "/pay");
    input.selector = Some("form > #card-number".into());
    input.len = Some(16);
    let events = [
        click("s", BASE, "#buy"),
        click("s", BASE + 1, "form #card-cvc"),
        input,
    ];
    let report = store.import_ndjson(ndjson(&events).as_bytes()).unwrap();
    assert_eq!((report.accepted, report.dropped), (3, 2));
    let snap = store.snapshot().unwrap();
    let stored = snap.session_events(SITE, "s").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].selector.as_deref(), Some("#buy"));
}

#[test]
fn allowed_hosts_reject_other_hosts_with_the_line_and_field() {
    let store = store_with(SiteSettings {
        allowed_hosts: vec!["shop.example".into()],
        ..SiteSettings::default()
    });
    let events = [
        pageview("s", BASE, "https://shop.example/a"),
        pageview("s", BASE + 1, "https://evil.example/b"),
        pageview("s", BASE + 2, "/relative"),
    ];
    let report = store.import_ndjson(ndjson(&events).as_bytes()).unwrap();
    assert_eq!((report.accepted, report.rejected), (2, 1));
    assert_eq!(report.errors[0].line, 2);
    assert!(
        report.errors[0].reason.contains("`url`")
            && report.errors[0].reason.contains("evil.example"),
        "{}",
        report.errors[0].reason
    );
}

#[test]
fn cookieless_ids_rotate_by_day_and_sessions_end_after_30_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.heat");
    let ip = "203.0.113.77";
    {
        let store = Store::open(&path).unwrap();
        // Day 1: two visits 10 minutes apart (one session), then one after
        // an hour of inactivity (a new session of the same visitor). A
        // second visitor (other IP). Day 2: the first IP and UA again.
        let day1 = [
            cookieless(ip, BASE + 9 * 60 * MIN),
            cookieless(ip, BASE + 9 * 60 * MIN + 10 * MIN),
            cookieless(ip, BASE + 11 * 60 * MIN),
            cookieless("198.51.100.1", BASE + 12 * 60 * MIN),
        ];
        let day2 = [cookieless(ip, BASE + DAY + 9 * 60 * MIN)];
        // Half through the writer, half through an import.
        {
            let mut w = store.writer().unwrap();
            for e in &day1 {
                assert_eq!(w.append(e).unwrap(), Appended::Buffered);
            }
            w.commit().unwrap();
        }
        let report = store.import_ndjson(ndjson(&day2).as_bytes()).unwrap();
        assert_eq!(report.accepted, 1);

        let snap = store.snapshot().unwrap();
        assert_eq!(snap.counts(SITE).unwrap().sessions, 4);
        let series = snap
            .series(SITE, &Filters::default(), Interval::Day)
            .unwrap();
        let per_day: Vec<(u64, u64, u64)> = series
            .rows
            .iter()
            .map(|r| (r.pageviews, r.sessions, r.visitors))
            .collect();
        assert_eq!(per_day, vec![(4, 3, 2), (1, 1, 1)]);
        // Across both days the first IP counts twice: its id changed with
        // the day, so the days cannot be linked.
        let pages = snap.pages(SITE, &Filters::default(), None).unwrap();
        assert_eq!(pages.rows[0].visitors, 3);
    }
    // The IP is in no byte of the file.
    let bytes = std::fs::read(&path).unwrap();
    for needle in [ip.as_bytes(), b"198.51.100.1"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "an IP address is in the file"
        );
    }
    // Salts of days before yesterday (by the clock) are never kept: these
    // events are from January 2026, long past.
    let db = redb::Database::create(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let salts = txn
        .open_table(redb::TableDefinition::<i32, &[u8]>::new("cookieless_salts"))
        .unwrap();
    assert_eq!(
        redb::ReadableTableMetadata::len(&salts).unwrap(),
        0,
        "a past day's salt was stored"
    );
}

#[test]
fn raw_mode_still_checks_allowed_hosts_after_another_site_saw_the_url() {
    let store = store_with(SiteSettings {
        allowed_hosts: vec!["shop.example".into()],
        ..SiteSettings::default()
    });
    store.set_ingest_mode(heatstore::IngestMode::Raw);
    let mut open = pageview("o", BASE, "https://evil.example/b");
    open.site = "open.example".into();
    let guarded = pageview("g", BASE + 1, "https://evil.example/b");
    let report = store
        .import_ndjson(ndjson(&[open, guarded]).as_bytes())
        .unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 1));
    assert_eq!(report.errors[0].line, 2);
}
