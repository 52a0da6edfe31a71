//! Stores written by older formats are migrated at open and then behave
//! exactly like a store built by this version from the same events: after
//! more events (late first pageviews and visitors named late patch their
//! old segments), after a deletion and maintenance, and after reopening.
//!
//! - `tests/fixtures/format3.redb` was written by heatstore at `cb52beb`
//!   (`FORMAT_VERSION` 3: one chunk run per column, dictionaries in their
//!   own table);
//! - `tests/fixtures/format4.redb` by heatstore at `fc61036`
//!   (`FORMAT_VERSION` 4: packed columns without checksums).
//!
//! Each is `heatstore import` of the first 3,000 events of [`events`],
//! each partition sealed.
#![cfg(feature = "gen")]

use std::io::Write;

use heatstore::gen::{write_ndjson, GenConfig, VisitorIds};
use heatstore::report::{Report, ReportRequest};
use heatstore::{DeletionTarget, Store};

const FIXTURE_EVENTS: usize = 3_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// The workload the fixture holds the first half of: two sites, three
/// days, many late events, cookieless visitors, visitor ids on half the
/// events.
fn events() -> Vec<String> {
    let cfg = GenConfig {
        seed: 11,
        events: 6_000,
        sites: vec!["a.example".into(), "b.example".into()],
        days: 3,
        late_fraction: 0.2,
        cookieless_fraction: 0.1,
        visitor_ids: VisitorIds::Fraction(0.5),
        ..GenConfig::default()
    };
    let mut out = Vec::new();
    write_ndjson(cfg, &mut out).expect("generate");
    String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn import(store: &Store, lines: &[String]) {
    let mut buf = Vec::new();
    for l in lines {
        writeln!(buf, "{l}").expect("buffer");
    }
    let r = store.import_ndjson(buf.as_slice()).expect("import");
    assert_eq!(r.rejected, 0, "{r:?}");
}

/// Every report over both sites, as JSON.
fn reports(store: &Store) -> Vec<(String, String)> {
    let snap = store.snapshot().expect("snapshot");
    let mut out = Vec::new();
    for site in ["a.example", "b.example"] {
        let cases: Vec<(Report, Vec<(&str, &str)>)> = vec![
            (Report::Pages, vec![]),
            (Report::Series, vec![("interval", "hour")]),
            (Report::Heatmap, vec![("page", "/")]),
            (Report::Heatmap, vec![("page", "/"), ("kind", "move")]),
            (Report::Elements, vec![]),
            (Report::Rage, vec![]),
            (Report::Scroll, vec![("page", "/")]),
            (Report::Referrers, vec![("by", "host")]),
            (Report::Referrers, vec![("by", "channel")]),
            (Report::Devices, vec![("by", "browser")]),
            (Report::Devices, vec![("by", "class")]),
            (Report::Pages, vec![("device", "mobile")]),
            // Filters that read the segments' session attributes through
            // the partition dictionaries.
            (Report::Pages, vec![("browser", "Chrome")]),
            (Report::Heatmap, vec![("page", "/"), ("os", "Windows")]),
            (
                Report::Pages,
                vec![("referrer", "never-seen-before.example")],
            ),
            (
                Report::Series,
                vec![("referrer", "never-seen-before.example")],
            ),
        ];
        for (report, extra) in cases {
            let mut pairs = vec![("site", site)];
            pairs.extend(extra);
            let name = format!("{report:?} {pairs:?}");
            let req = ReportRequest::from_pairs(report, pairs).expect("request");
            let json = req.run(&snap).expect(&name).to_json();
            out.push((name, json));
        }
    }
    let stats = store.stats().expect("stats");
    out.push((
        "stats".into(),
        format!(
            "{} events, {} hidden, {} sessions",
            stats.events, stats.hidden_events, stats.sessions
        ),
    ));
    out
}

fn assert_same(old: &Store, new: &Store, when: &str) {
    let (a, b) = (reports(old), reports(new));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x, y, "{when}: {name}");
    }
    old.snapshot().expect("snapshot").check().expect(when);
}

#[test]
fn a_format_3_store_answers_like_a_new_one_through_writes_deletion_and_reopen() {
    answers_like_a_new_one("tests/fixtures/format3.redb", 3);
}

#[test]
fn a_format_4_store_answers_like_a_new_one_through_writes_deletion_and_reopen() {
    answers_like_a_new_one("tests/fixtures/format4.redb", 4);
}

fn answers_like_a_new_one(fixture: &str, version: u32) {
    let lines = events();
    let (first, rest) = lines.split_at(FIXTURE_EVENTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.redb");
    std::fs::copy(fixture, &path).expect("copy the fixture");

    {
        // The fixture is what its format wrote: format 3 per-column chunks
        // and dictionaries in their own table, format 4 packed chunks only.
        use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
        let db = redb::ReadOnlyDatabase::open(&path).expect("redb");
        let txn = db.begin_read().expect("read");
        let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
        let found = txn.open_table(meta).unwrap().get("format_version").unwrap();
        assert_eq!(found.unwrap().value(), version.to_le_bytes());
        let cols: TableDefinition<(u32, i32, u32, u8, u16), &[u8]> =
            TableDefinition::new("segment_columns");
        let cols = txn.open_table(cols).unwrap();
        let packed = version >= 4;
        assert!(cols
            .iter()
            .unwrap()
            .all(|e| (e.unwrap().0.value().3 == u8::MAX) == packed));
        if !packed {
            let dicts: TableDefinition<(u32, i32, u8), &[u8]> =
                TableDefinition::new("dictionaries");
            assert!(txn.open_table(dicts).unwrap().len().unwrap() > 0);
        }
    }
    let old = Store::open(&path).expect("open and migrate an old store");
    let new = Store::open(dir.path().join("new.redb")).expect("new store");
    import(&new, first);
    assert_same(&old, &new, "as migrated");
    // A report of the migrated store must see its old segments: the
    // fixture is not empty.
    assert_eq!(old.stats().expect("stats").events, FIXTURE_EVENTS as u64);

    import(&old, rest);
    import(&new, rest);
    assert_same(&old, &new, "after the second half");

    // A first pageview that arrives last, for a session of the fixture's
    // segments, from a referrer no partition has seen, on the day before
    // (so that sealing it does not write the old partition's dictionaries
    // too): the old segment's attributes and dictionaries are patched.
    let (site, session, ts) = first
        .iter()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((
                v.get("site")?.as_str()?.to_owned(),
                v.get("session")?.as_str()?.to_owned(),
                v.get("ts")?.as_i64()?,
            ))
        })
        .expect("an event with a session");
    let first_ts = first
        .iter()
        .filter(|l| l.contains(&format!("\"session\":\"{session}\"")))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("ts")?.as_i64())
        .min()
        .unwrap_or(ts);
    let late = format!(
        "{{\"site\":\"{site}\",\"ts\":{},\"type\":\"pageview\",\"session\":\"{session}\",\
         \"url\":\"/landing\",\"referrer\":\"https://never-seen-before.example/post\",\
         \"vw\":800,\"vh\":600,\"dh\":2000}}",
        first_ts - first_ts.rem_euclid(86_400_000) - 3_600_000
    );
    import(&old, std::slice::from_ref(&late));
    import(&new, std::slice::from_ref(&late));
    assert_same(&old, &new, "after a late first pageview");
    let hosts =
        ReportRequest::from_pairs(Report::Referrers, [("site", site.as_str()), ("by", "host")])
            .expect("request")
            .run(&old.snapshot().expect("snapshot"))
            .expect("referrers")
            .to_json();
    assert!(hosts.contains("never-seen-before.example"), "{hosts}");

    // Delete a visitor named by an event of the first half, and a day
    // range, then erase.
    let visitor = first
        .iter()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((
                v.get("site")?.as_str()?.to_owned(),
                v.get("visitor")?.as_str()?.to_owned(),
                v.get("ts")?.as_i64()?,
            ))
        })
        .expect("an event with a visitor");
    for s in [&old, &new] {
        s.request_deletion(&visitor.0, DeletionTarget::Visitor(visitor.1.clone()))
            .expect("request");
        s.request_deletion(
            "b.example",
            DeletionTarget::TimeRange {
                from: visitor.2,
                to: visitor.2 + 3_600_000,
            },
        )
        .expect("request");
    }
    assert_same(&old, &new, "with pending deletions");
    for s in [&old, &new] {
        let r = s.maintenance(now_ms()).expect("maintenance");
        assert_eq!(r.erased.len(), 2, "{r:?}");
    }
    assert_same(&old, &new, "after maintenance");

    drop(old);
    let old = Store::open(&path).expect("reopen");
    assert_same(&old, &new, "after reopening");
}
