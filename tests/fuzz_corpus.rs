//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) through the same
//! checks as the fuzz targets in `fuzz/fuzz_targets/`, so that an ordinary
//! `cargo test` covers every input the fuzzers found worth keeping (and
//! every crash that was added to them) without libFuzzer. The harness code
//! is duplicated from the targets: keep the two in step.
//!
//! As in the `store_file` target, no panic may leave heatstore's API, after
//! any of its opens (a panic raised in redb on a damaged page becomes
//! `Error::Corrupt` inside heatstore); `HEATSTORE_FUZZ_SKIP_REDB_PANICS=1`
//! tolerates one raised in redb's source (see `fuzz/README.md`).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use heatstore::gen::{GenConfig, Generator};
use heatstore::{Event, EventKind, Store};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

thread_local! {
    /// Where this thread last panicked.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records each panic's location for [`replay`], then reports it as usual.
fn record_panic_locations() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| l.file().to_owned());
            PANIC_AT.with(|p| *p.borrow_mut() = at);
            report(info);
        }));
    });
}

fn skip_redb_panics() -> bool {
    std::env::var_os("HEATSTORE_FUZZ_SKIP_REDB_PANICS").is_some_and(|v| v != "0")
}

/// Runs `f`; `Err` with the source file where it panicked, if it did.
fn guarded(f: impl FnOnce()) -> Result<(), String> {
    record_panic_locations();
    PANIC_AT.with(|p| p.borrow_mut().take());
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_default())
}

fn in_redb(panic_at: &str) -> bool {
    panic_at.contains("/redb-")
}

/// Runs `check` on every file of a corpus; fails naming every input it
/// found wrong, with why.
fn replay(target: &str, mut check: impl FnMut(&[u8]) -> Result<(), String>) {
    let mut failed = Vec::new();
    let files = corpus(target);
    for path in &files {
        let data = std::fs::read(path).unwrap();
        if let Err(why) = check(&data) {
            failed.push(format!("{}: {why}", path.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs failed: {failed:#?}",
        failed.len(),
        files.len()
    );
}

// ---- ndjson_line (fuzz/fuzz_targets/ndjson_line.rs) ----

fn ndjson_line(data: &[u8]) {
    let Ok(event) = Event::from_json_line(data) else {
        return;
    };
    let line = event.to_json_line();
    match Event::from_json_line(line.as_bytes()) {
        Ok(again) => assert_eq!(again, event, "round trip of {line}"),
        Err(e) => panic!("{line} does not decode again: {e}"),
    }
}

#[test]
fn ndjson_line_corpus() {
    replay("ndjson_line", |data| {
        guarded(|| ndjson_line(data)).map_err(|at| format!("panicked in {at}"))
    });
    // The seeds cover every event type, accepted.
    let accepted: Vec<EventKind> = corpus("ndjson_line")
        .iter()
        .filter_map(|p| Event::from_json_line(&std::fs::read(p).unwrap()).ok())
        .map(|e| e.kind)
        .collect();
    for kind in EventKind::ALL {
        assert!(
            accepted.contains(&kind),
            "no valid `{kind}` line in the corpus"
        );
    }
}

// ---- store_file (fuzz/fuzz_targets/store_file.rs) ----

struct Base {
    bytes: Vec<u8>,
    sessions: Vec<(String, String)>,
}

fn build_base() -> Base {
    let cfg = GenConfig {
        seed: 1,
        events: 300,
        sites: vec!["a.example".into(), "b.example".into()],
        days: 2,
        ..GenConfig::default()
    };
    let events: Vec<Event> = Generator::new(cfg).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("base.redb");
    {
        let store = Store::open(&path).unwrap();
        let mut w = store.writer().unwrap();
        for (i, e) in events.iter().enumerate() {
            w.append(e).unwrap();
            if i == 199 {
                w.seal_all().unwrap();
            }
        }
        w.commit().unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let mut sessions: Vec<(String, String)> = Vec::new();
    for e in &events {
        let key = (e.site.clone(), e.session.clone().unwrap_or_default());
        if !sessions.contains(&key) {
            sessions.push(key);
        }
    }
    sessions.truncate(4);
    Base { bytes, sessions }
}

fn edit(base: &[u8], data: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    let mut records = data.chunks_exact(5);
    for r in &mut records {
        let offset = u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as usize;
        if !bytes.is_empty() {
            let i = offset % bytes.len();
            bytes[i] ^= r[4];
        }
    }
    if let [a, b, c, d] = *records.remainder() {
        let len = u32::from_le_bytes([a, b, c, d]) as usize;
        bytes.truncate(len % (bytes.len() + 1));
    }
    bytes
}

/// Everything must return `Ok` or `Err`: the reads every command makes,
/// the reports, and (on a writable store) the write path.
fn exercise(store: Store, sessions: &[(String, String)]) {
    use heatstore::query::{DeviceBy, Filters, HeatmapOptions, Interval, ReferrerBy};
    if let Ok(snap) = store.snapshot() {
        let _ = snap.check();
        let _ = snap.stats();
        if let Ok(sites) = snap.sites() {
            for site in sites {
                let _ = snap.counts(&site);
                let all = Filters::default();
                let _ = snap.pages(&site, &all, Some(5));
                let _ = snap.series(&site, &all, Interval::Hour);
                let _ = snap.referrers(&site, &all, ReferrerBy::Channel, None);
                let _ = snap.devices(&site, &all, DeviceBy::Browser, None);
                let _ = snap.sessions(&site, &all, Some(3));
                let page = all.clone().page("/");
                let _ = snap.heatmap(&site, &page, HeatmapOptions::default());
                let _ = snap.scroll_reach(&site, &page, 10);
                let _ = snap.elements(&site, &all, None);
                let _ = snap.rage_clicks(&site, &all, None);
            }
        }
        for (site, session) in sessions {
            let _ = snap.session_events(site, session);
        }
    }
    let _ = store.stats();
    let _ = store.deletion_requests();
    if let Ok(mut w) = store.writer() {
        let mut e = Event::new("a.example", 1_790_900_000_000, EventKind::Click, "fz", "/");
        (e.x, e.y) = (Some(10), Some(20));
        if w.append(&e).is_ok() {
            let _ = w.commit();
        }
        let _ = w.seal_all();
    }
}

/// One way of opening a store.
type Opener = fn(&Path) -> heatstore::Result<Store>;

#[test]
fn store_file_corpus() {
    let base = build_base();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");

    // The unedited base is a sound store holding all 300 events.
    std::fs::write(&path, &base.bytes).unwrap();
    {
        let store = Store::open(&path).unwrap();
        let snap = store.snapshot().unwrap();
        assert_eq!(snap.check().unwrap(), 300);
        assert!(
            snap.stats().unwrap().segments > 0,
            "the base has sealed segments"
        );
        assert!(
            snap.stats().unwrap().pending_events > 0,
            "the base has pending rows"
        );
    }

    replay("store_file", |data| {
        let bytes = edit(&base.bytes, data);
        // Three opens of the same bytes: verified (redb's integrity check
        // first), the default (unverified), and read-only (both trust the
        // pages until they are read). No panic may leave heatstore's API in any of
        // them: a panic raised in redb on a damaged page is turned into
        // `Error::Corrupt` there (`src/guard.rs`).
        let opens: [(&str, Opener); 3] = [
            ("OpenOptions::verify(true)", |p| {
                heatstore::OpenOptions::new().verify(true).open(p)
            }),
            ("Store::open", |p| Store::open(p)),
            ("Store::open_read_only", |p| Store::open_read_only(p)),
        ];
        for (name, open) in opens {
            std::fs::write(&path, &bytes).unwrap();
            let outcome = guarded(|| {
                if let Ok(store) = open(&path) {
                    exercise(store, &base.sessions);
                }
            });
            if let Err(at) = outcome {
                if !(skip_redb_panics() && in_redb(&at)) {
                    return Err(format!("{name}: a panic escaped, raised in {at}"));
                }
            }
        }
        Ok(())
    });
}

#[test]
fn store_file_edits_decode_as_documented() {
    let base = [0u8; 10];
    // (offset 3, xor 0xff), (offset 13 = 3 mod 10, xor 0x0f), truncate to 7.
    let data = [3, 0, 0, 0, 0xff, 13, 0, 0, 0, 0x0f, 7, 0, 0, 0];
    assert_eq!(edit(&base, &data), [0, 0, 0, 0xf0, 0, 0, 0]);
    assert_eq!(edit(&base, &[1, 2, 3]), base, "a short tail is ignored");
}
