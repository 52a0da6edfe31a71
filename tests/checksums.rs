//! Format 5's column checksums, end to end: a byte changed on disk inside a
//! sealed segment's column is `Error::Corrupt` when a report reads that
//! column, through the default open (which reads nothing up front), and
//! the report's answer is never silently altered.
#![cfg(feature = "gen")]

use heatstore::gen::{GenConfig, Generator};
use heatstore::query::{Filters, HeatmapOptions};
use heatstore::{Error, Store};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

const COLUMNS: TableDefinition<(u32, i32, u32, u8, u16), &[u8]> =
    TableDefinition::new("segment_columns");

#[test]
fn a_changed_column_byte_is_an_error_when_read() {
    let cfg = GenConfig {
        events: 30_000,
        days: 1,
        ..GenConfig::default()
    };
    let site = cfg.sites[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.heat");
    {
        let store = Store::open(&path).unwrap();
        let mut w = store.writer().unwrap();
        for e in Generator::new(cfg.clone()) {
            w.append(&e).unwrap();
        }
        w.commit().unwrap();
        w.seal_all().unwrap();
        drop(w);
        store.compact().unwrap();
    }
    let all = Filters::range(cfg.start_ms - 86_400_000, cfg.start_ms + 2 * 86_400_000);
    let answers = |store: &Store| -> heatstore::Result<Vec<String>> {
        let snap = store.snapshot()?;
        let events = snap
            .events(&site, &all)?
            .collect::<heatstore::Result<Vec<_>>>()?;
        assert!(events.len() > 1_000);
        let pages = snap.pages(&site, &all, None)?;
        let top = pages
            .rows
            .first()
            .map(|r| r.page.clone())
            .unwrap_or_default();
        let on_top = all.clone().page(&top);
        Ok(vec![
            format!("{pages:?}"),
            format!(
                "{:?}",
                snap.heatmap(&site, &on_top, HeatmapOptions::default())?
            ),
            format!("{events:?}"),
        ])
    };
    let good = answers(&Store::open(&path).unwrap()).unwrap();
    // Full chunks of segments (not of dictionaries), found in the file
    // by their bytes.
    let chunks: Vec<Vec<u8>> = {
        let db = redb::ReadOnlyDatabase::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(COLUMNS).unwrap();
        t.iter()
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|(k, v)| k.value().2 != u32::MAX && v.value().len() == 3_968)
            .map(|(_, v)| v.value().to_vec())
            .take(8)
            .collect()
    };
    assert!(chunks.len() >= 4, "the store has full chunks");
    let bytes = std::fs::read(&path).unwrap();
    let mut errors = 0;
    for chunk in &chunks {
        let Some(at) = bytes
            .windows(chunk.len())
            .position(|w| w == chunk.as_slice())
        else {
            continue;
        };
        let mut bad = bytes.clone();
        bad[at + 1_000] ^= 0x04;
        std::fs::write(&path, &bad).unwrap();
        let store = Store::open(&path).expect("the default open reads no column");
        match answers(&store) {
            // Every column is read above: an answer can only be right.
            Ok(a) => assert!(a == good, "a changed byte altered an answer silently"),
            Err(Error::Corrupt(c)) => {
                assert!(c.to_string().contains("checksum"), "{c}");
                errors += 1;
            }
            Err(other) => panic!("not a corruption error: {other}"),
        }
        let checked = store.snapshot().and_then(|s| s.check());
        assert!(
            matches!(checked, Err(Error::Corrupt(_))),
            "check must find it: {checked:?}"
        );
        drop(store);
        std::fs::write(&path, &bytes).unwrap();
    }
    assert!(errors > 0, "no changed byte was reported");
    assert_eq!(answers(&Store::open(&path).unwrap()).unwrap(), good);
}
