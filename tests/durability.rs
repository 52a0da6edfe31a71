//! Committed events read back exactly, across reopens, sealed or pending,
//! appended or imported; uncommitted ones never do.

mod common;

use std::collections::BTreeMap;

use common::{expected, make_event};
use heatstore::{Event, Store, StoredEvent};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<(usize, usize, usize, i64, usize, u32, u32)>),
    Commit,
    DropWriter,
    Reopen,
    SealAll,
    /// Drop the writer, then import these events as NDJSON.
    Import(Vec<(usize, usize, usize, i64, usize, u32, u32)>),
}

fn op() -> impl Strategy<Value = Op> {
    let event = (
        0usize..2,
        0usize..6,
        0usize..7,
        0i64..3 * 86_400_000,
        0usize..5,
        any::<u32>(),
        any::<u32>(),
    );
    prop_oneof![
        4 => proptest::collection::vec(event.clone(), 1..40).prop_map(Op::Append),
        3 => Just(Op::Commit),
        1 => Just(Op::DropWriter),
        1 => Just(Op::Reopen),
        1 => Just(Op::SealAll),
        1 => proptest::collection::vec(event, 1..60).prop_map(Op::Import),
    ]
}

/// The model: committed events per (site, session), in arrival order.
type Model = BTreeMap<(String, String), Vec<(i64, usize, StoredEvent)>>;

fn check(store: &Store, model: &Model) {
    let snap = store.snapshot().unwrap();
    for ((site, session), events) in model {
        let mut want = events.clone();
        want.sort_by_key(|(ts, arrival, _)| (*ts, *arrival));
        let want: Vec<StoredEvent> = want.into_iter().map(|(_, _, e)| e).collect();
        let got = snap.session_events(site, session).unwrap();
        assert_eq!(got, want, "replay of {site}/{session}");
    }
    for site in ["a.example", "b.example"] {
        let n: usize = model
            .iter()
            .filter(|((s, _), _)| s == site)
            .map(|(_, v)| v.len())
            .sum();
        assert_eq!(
            snap.counts(site).unwrap().events,
            n as u64,
            "count of {site}"
        );
        let sessions = model.keys().filter(|(s, _)| s == site).count();
        assert_eq!(snap.counts(site).unwrap().sessions, sessions as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn committed_events_read_back_exactly(ops in proptest::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.heat");
        let mut store = Store::open(&path).unwrap();
        store.set_seal_rows(7);
        let mut model: Model = BTreeMap::new();
        let mut buffered: Vec<Event> = Vec::new();
        let mut arrival = 0usize;
        let base = 1_767_225_600_000i64; // 2026-01-01
        {
            let mut ops = ops.into_iter();
            'outer: loop {
                let mut w = store.writer().unwrap();
                for op in ops.by_ref() {
                    match op {
                        Op::Append(evs) => {
                            for (site, sess, kind, ts, page, a, b) in evs {
                                let e = make_event(site, sess, kind, base + ts, page, a, b);
                                w.append(&e).unwrap();
                                buffered.push(e);
                            }
                        }
                        Op::Commit => {
                            w.commit().unwrap();
                            for e in buffered.drain(..) {
                                let key = (e.site.clone(), e.session.clone().unwrap());
                                model.entry(key).or_default().push((e.ts, arrival, expected(&e)));
                                arrival += 1;
                            }
                        }
                        Op::SealAll => {
                            w.seal_all().unwrap();
                            for e in buffered.drain(..) {
                                let key = (e.site.clone(), e.session.clone().unwrap());
                                model.entry(key).or_default().push((e.ts, arrival, expected(&e)));
                                arrival += 1;
                            }
                        }
                        Op::DropWriter => {
                            buffered.clear();
                            drop(w);
                            check(&store, &model);
                            continue 'outer;
                        }
                        Op::Import(evs) => {
                            buffered.clear();
                            drop(w);
                            let events: Vec<Event> = evs
                                .into_iter()
                                .map(|(site, sess, kind, ts, page, a, b)| {
                                    make_event(site, sess, kind, base + ts, page, a, b)
                                })
                                .collect();
                            let ndjson: String =
                                events.iter().map(|e| e.to_json_line() + "\n").collect();
                            let report = store.import_ndjson(ndjson.as_bytes()).unwrap();
                            prop_assert_eq!(report.accepted as usize, events.len());
                            for e in events {
                                let key = (e.site.clone(), e.session.clone().unwrap());
                                model.entry(key).or_default().push((e.ts, arrival, expected(&e)));
                                arrival += 1;
                            }
                            check(&store, &model);
                            continue 'outer;
                        }
                        Op::Reopen => {
                            buffered.clear();
                            drop(w);
                            drop(store);
                            store = Store::open(&path).unwrap();
                            store.set_seal_rows(7);
                            check(&store, &model);
                            continue 'outer;
                        }
                    }
                }
                break;
            }
        }
        drop(store);
        let store = Store::open(&path).unwrap();
        check(&store, &model);
    }
}

#[test]
fn not_a_store_and_unknown_versions_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"hello, this is not a database").unwrap();
    let err = Store::open(&text).expect_err("a text file is not a store");
    assert!(matches!(err, heatstore::Error::NotAStore { .. }), "{err}");

    // A redb file of another program.
    let other = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&other).unwrap();
        let t = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("things");
            t.open_table(def).unwrap().insert(1, 2).unwrap();
        }
        t.commit().unwrap();
    }
    let err = Store::open(&other).expect_err("another redb file is not a store");
    assert!(matches!(err, heatstore::Error::NotAStore { .. }), "{err}");

    // A heatstore file from the future.
    let future = dir.path().join("future.heat");
    drop(Store::open(&future).unwrap());
    {
        let db = redb::Database::open(&future).unwrap();
        let t = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
            t.open_table(def)
                .unwrap()
                .insert("format_version", 99u32.to_le_bytes().as_slice())
                .unwrap();
        }
        t.commit().unwrap();
    }
    match Store::open(&future) {
        Err(heatstore::Error::UnsupportedVersion { found: 99, .. }) => {}
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a future version must not open"),
    }
}
