//! Export: an NDJSON export imported into a fresh store answers every
//! report as the original (random workloads of the model tests), and what
//! an export holds.

mod common;

use common::model::{events_shaped, Shape, PAGES};
use heatstore::normalize::DeviceClass;
use heatstore::query::{DeviceBy, Filters, HeatmapOptions, Interval, ReferrerBy};
use heatstore::{EventKind, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const SITES: [&str; 2] = ["shop.example", "blog.example"];
const DAY: i64 = 86_400_000;
const BASE: i64 = 1_767_225_600_000; // 2026-01-01

/// Drops the keys that name a session by its store's hash (`session`):
/// each store hashes under its own secret key.
fn strip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("session");
            m.values_mut().for_each(strip);
        }
        Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

/// Every report over `f`, as JSON.
fn reports(store: &Store, site: &str, f: &Filters) -> Value {
    let snap = store.snapshot().unwrap();
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_owned(), v);
    };
    let j = |v: &dyn erased::Ser| v.json();
    put("pages", j(&snap.pages(site, f, None).unwrap()));
    for (name, i) in [("hour", Interval::Hour), ("day", Interval::Day)] {
        put(name, j(&snap.series(site, f, i).unwrap()));
    }
    for by in [
        ReferrerBy::Host,
        ReferrerBy::Domain,
        ReferrerBy::Channel,
        ReferrerBy::UtmSource,
        ReferrerBy::UtmMedium,
        ReferrerBy::UtmCampaign,
    ] {
        put(
            &format!("ref {by:?}"),
            j(&snap.referrers(site, f, by, None).unwrap()),
        );
    }
    for by in [
        DeviceBy::Class,
        DeviceBy::Browser,
        DeviceBy::Os,
        DeviceBy::Screen,
        DeviceBy::Lang,
        DeviceBy::Tz,
    ] {
        put(
            &format!("dev {by:?}"),
            j(&snap.devices(site, f, by, None).unwrap()),
        );
    }
    put("elements", j(&snap.elements(site, f, None).unwrap()));
    put("rage", j(&snap.rage_clicks(site, f, None).unwrap()));
    let list = snap.sessions(site, f, None).unwrap();
    put("sessions", j(&list));
    // Replays, as a sorted list (keys differ between the stores).
    let mut replays: Vec<Value> = list
        .rows
        .iter()
        .map(|s| j(&snap.session_events_by_key(site, &s.session).unwrap()))
        .collect();
    replays.sort_by_key(|v| v.to_string());
    put("replays", Value::Array(replays));
    if f.page.is_some() {
        for kind in [EventKind::Click, EventKind::Move] {
            let hf = Filters {
                kind: Some(kind),
                ..f.clone()
            };
            put(
                &format!("heatmap {kind}"),
                j(&snap.heatmap(site, &hf, HeatmapOptions::default()).unwrap()),
            );
        }
        put("scroll", j(&snap.scroll_reach(site, f, 10).unwrap()));
    }
    let c = snap.counts(site).unwrap();
    put("counts", json!([c.events, c.sessions]));
    let mut v = Value::Object(out);
    strip(&mut v);
    v
}

/// `serde::Serialize` behind a trait object, for the report table above.
mod erased {
    pub trait Ser {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}

fn filter_sets(rng: &mut StdRng) -> Vec<Filters> {
    let mut out = vec![
        Filters::default(),
        Filters::range(BASE + DAY, BASE + 2 * DAY),
        Filters {
            include_bots: true,
            ..Filters::default()
        },
        Filters {
            device: Some(DeviceClass::Mobile),
            ..Filters::default()
        },
    ];
    for p in PAGES {
        out.push(Filters::default().page(p));
    }
    let from = BASE + rng.random_range(0..3 * DAY);
    out.push(Filters::range(from, from + rng.random_range(1..DAY)).page("/pricing"));
    out
}

fn round_trip(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let shape = Shape::random(&mut rng);
    let events = events_shaped(seed, 90, shape);
    let original = Store::in_memory().unwrap();
    original.set_seal_rows([7, 50, 1 << 20][rng.random_range(0..3)]);
    for chunk in events.chunks(rng.random_range(5..80)) {
        let mut w = original.writer().unwrap();
        for e in chunk {
            w.append(e).unwrap();
        }
        w.commit().unwrap();
    }
    let mut ndjson = Vec::new();
    let snap = original.snapshot().unwrap();
    let mut exported = 0;
    for site in SITES {
        if let Ok(r) = snap.export_ndjson(site, None, None, &mut ndjson) {
            exported += r.events;
            assert_eq!(r.events, snap.counts(site).unwrap().events);
        }
    }
    drop(snap);
    let copy = Store::in_memory().unwrap();
    copy.set_seal_rows([7, 50, 1 << 20][rng.random_range(0..3)]);
    let r = copy.import_export(ndjson.as_slice()).unwrap();
    assert_eq!((r.accepted, r.rejected), (exported, 0), "{:?}", r.errors);
    let all = reports(&original, SITES[0], &Filters::default());
    assert!(
        all["pages"]["pageviews"].as_u64().unwrap() > 0,
        "seed {seed}: an empty workload"
    );
    for f in filter_sets(&mut rng) {
        for site in SITES {
            let (a, b) = (reports(&original, site, &f), reports(&copy, site, &f));
            if a != b {
                let a = a.as_object().unwrap();
                let b = b.as_object().unwrap();
                for (k, va) in a {
                    assert_eq!(Some(va), b.get(k), "seed {seed}, {site}, {f:?}: report {k}");
                }
            }
        }
    }
}

#[test]
fn ndjson_export_round_trips_every_report() {
    for seed in 0..6 {
        round_trip(seed);
    }
}

#[test]
fn export_lines_hold_hashes_not_ids() {
    let store = Store::in_memory().unwrap();
    let mut w = store.writer().unwrap();
    for e in events_shaped(3, 20, Shape::CLASSIC) {
        w.append(&e).unwrap();
    }
    w.commit().unwrap();
    let mut out = Vec::new();
    let snap = store.snapshot().unwrap();
    snap.export_ndjson("shop.example", None, None, &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut pageviews = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let session = v["session"].as_str().unwrap();
        assert_eq!(session.len(), 16, "{line}");
        assert!(u64::from_str_radix(session, 16).is_ok());
        assert!(!session.starts_with('s') || session.len() == 16);
        if v["type"] == "pageview" {
            pageviews += 1;
            assert!(v["derived"]["channel"].is_string(), "{line}");
            assert!(v["derived"]["device"].is_string(), "{line}");
        }
    }
    assert!(pageviews > 0);
    // Raw ids (`s3`, `v1`, ...) never appear.
    assert!(!text.contains(r#""session":"s"#));
    assert!(!text.contains(r#""visitor":"v"#));
    // Unknown site: an error naming it.
    let err = snap
        .export_ndjson("nope.example", None, None, &mut Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("nope.example"), "{err}");
}

/// A closed pipe or full disk is an error, not a panic.
#[test]
fn a_failing_output_is_an_error() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let store = Store::in_memory().unwrap();
    let mut w = store.writer().unwrap();
    for e in events_shaped(4, 10, Shape::CLASSIC) {
        w.append(&e).unwrap();
    }
    w.commit().unwrap();
    let snap = store.snapshot().unwrap();
    let site = snap.sites().unwrap()[0].clone();
    let err = snap
        .export_ndjson(&site, None, None, &mut Full)
        .unwrap_err();
    assert!(matches!(err, heatstore::Error::Io(_)), "{err}");
}

/// The Parquet dataset read back with the parquet crate: every event once,
/// in its site and date partition, with its session's attributes; the
/// sessions dataset has the store's sessions.
#[cfg(feature = "parquet")]
#[test]
fn parquet_export_reads_back() {
    use arrow_array::{Array, Int64Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::collections::BTreeMap;

    let store = Store::in_memory().unwrap();
    store.set_seal_rows(50);
    let mut w = store.writer().unwrap();
    for e in events_shaped(9, 80, Shape::CLASSIC) {
        w.append(&e).unwrap();
    }
    w.commit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snap = store.snapshot().unwrap();
    let site = "shop.example";
    let r = snap.export_parquet(site, None, None, dir.path()).unwrap();
    let counts = snap.counts(site).unwrap();
    assert_eq!(r.events, counts.events);
    let read = |sub: &str| {
        let root = dir.path().join(sub).join(format!("site={site}"));
        let mut batches = Vec::new();
        for d in std::fs::read_dir(&root).unwrap() {
            let d = d.unwrap().path();
            let date = d.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(date.starts_with("date=2026-01-0"), "{date}");
            for f in std::fs::read_dir(&d).unwrap() {
                let file = std::fs::File::open(f.unwrap().path()).unwrap();
                let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
                for b in reader {
                    batches.push((date.clone(), b.unwrap()));
                }
            }
        }
        batches
    };
    let events = read("events");
    let rows: usize = events.iter().map(|(_, b)| b.num_rows()).sum();
    assert_eq!(rows as u64, counts.events);
    // Pageviews per page, bots left out (device `bot`), equal the pages report.
    let mut pv: BTreeMap<String, u64> = BTreeMap::new();
    for (date, b) in &events {
        let col = |n: &str| b.column_by_name(n).unwrap().clone();
        let kind = col("type");
        let kind = kind.as_any().downcast_ref::<StringArray>().unwrap();
        let page = col("page");
        let page = page.as_any().downcast_ref::<StringArray>().unwrap();
        let device = col("device");
        let device = device.as_any().downcast_ref::<StringArray>().unwrap();
        let ts = col("ts");
        let ts = ts.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            let day = (ts.value(i) - BASE) / DAY + 1;
            assert_eq!(date, &format!("date=2026-01-0{day}"));
            if kind.value(i) == "pageview" && !device.is_null(i) && device.value(i) != "bot" {
                *pv.entry(page.value(i).to_owned()).or_default() += 1;
            }
        }
    }
    let pages = snap.pages(site, &Filters::default(), None).unwrap();
    let want: BTreeMap<String, u64> = pages
        .rows
        .iter()
        .map(|p| (p.page.clone(), p.pageviews))
        .collect();
    assert_eq!(pv, want);
    // Every stored field in its own column: the Parquet rows equal the
    // NDJSON export's lines field by field, and seq numbers them 0..n.
    const INTS: [&str; 10] = [
        "x",
        "y",
        "vw",
        "vh",
        "dh",
        "load_ms",
        "ex",
        "ey",
        "len",
        "duration_ms",
    ];
    let mut nd = Vec::new();
    snap.export_ndjson(site, None, None, &mut nd).unwrap();
    let mut want_rows: Vec<(i64, String, Vec<Option<i64>>)> = String::from_utf8(nd)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let ints = INTS.iter().map(|n| v[*n].as_i64()).collect();
            (
                v["ts"].as_i64().unwrap(),
                v["type"].as_str().unwrap().to_owned(),
                ints,
            )
        })
        .collect();
    let mut got_rows = Vec::new();
    let mut seqs = Vec::new();
    for (_, b) in &events {
        let int = |n: &str| {
            let c = b.column_by_name(n).unwrap_or_else(|| panic!("column {n}"));
            c.as_any().downcast_ref::<Int64Array>().unwrap().clone()
        };
        let kind = b.column_by_name("type").unwrap();
        let kind = kind.as_any().downcast_ref::<StringArray>().unwrap();
        let (ts, seq) = (int("ts"), int("seq"));
        let cols: Vec<Int64Array> = INTS.iter().map(|n| int(n)).collect();
        for i in 0..b.num_rows() {
            let ints = cols
                .iter()
                .map(|c| (!c.is_null(i)).then(|| c.value(i)))
                .collect();
            got_rows.push((ts.value(i), kind.value(i).to_owned(), ints));
            seqs.push(seq.value(i));
        }
    }
    want_rows.sort();
    got_rows.sort();
    assert_eq!(got_rows, want_rows);
    seqs.sort_unstable();
    assert!(seqs.iter().copied().eq(0..counts.events as i64));
    let sessions: usize = read("sessions").iter().map(|(_, b)| b.num_rows()).sum();
    let with_bots = Filters {
        include_bots: true,
        ..Filters::default()
    };
    assert_eq!(
        sessions as u64,
        snap.sessions(site, &with_bots, None).unwrap().total
    );
    assert_eq!(r.sessions, sessions as u64);
}
