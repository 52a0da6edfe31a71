//! A small valid store file with byte edits applied, opened three ways:
//! with `OpenOptions::verify(true)` (which checks the file's page checksums
//! first), `Store::open` and `Store::open_read_only` (which trust the
//! pages until they are read, so that the edits reach redb's page parsing
//! and heatstore's own decoders: segments, bitmaps, dictionaries, pending
//! batches, session rows). Opening, every report and the write path must
//! each return `Ok` or `Err`: no panic may leave heatstore's API. redb may
//! panic on a damaged page it trusted; heatstore turns such a panic into
//! `Error::Corrupt` (its `src/guard.rs`, whose panic hook keeps quiet about
//! them), so the fuzzer's aborting hook only ever sees a panic that
//! escaped, or one raised in heatstore's own code: a crash either way.
//!
//! The input is a list of 5-byte edits, `(offset: u32 LE, xor: u8)`, the
//! offset taken modulo the file's length; 4 bytes left over at the end
//! (input length ≡ 4 mod 5) are a `u32` LE length to truncate the file to,
//! modulo its length plus one. `tests/fuzz_corpus.rs` in the main crate
//! runs the same harness over the corpus; keep the two in step.
//!
//! `HEATSTORE_FUZZ_SKIP_REDB_PANICS=1` also ignores panics raised in redb's
//! source outside heatstore's guard (there should be none).
#![no_main]

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use heatstore::gen::{GenConfig, Generator};
use heatstore::{Event, Store};
use libfuzzer_sys::fuzz_target;

/// The base store: its bytes and a few (site, session) pairs in it.
struct Base {
    bytes: Vec<u8>,
    sessions: Vec<(String, String)>,
}

fn events() -> Vec<Event> {
    let cfg = GenConfig {
        seed: 1,
        events: 300,
        sites: vec!["a.example".into(), "b.example".into()],
        days: 2,
        ..GenConfig::default()
    };
    Generator::new(cfg).collect()
}

/// 300 generated events: the first 200 sealed into segments, the rest
/// left pending, so both are read.
fn build_base() -> Base {
    let events = events();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("base.redb");
    {
        let store = Store::open(&path).expect("create the base store");
        let mut w = store.writer().expect("writer");
        for (i, e) in events.iter().enumerate() {
            w.append(e).expect("append");
            if i == 199 {
                w.seal_all().expect("seal");
            }
        }
        w.commit().expect("commit");
    }
    let bytes = std::fs::read(&path).expect("read the base store");
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

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(build_base)
}

/// The edited file: in memory when the system has `/dev/shm`. One name per
/// process, removed after each input, so nothing is left behind.
fn scratch_file() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("heatstore-fuzz-{}.redb", std::process::id()))
    })
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

static REDB_PANICS: AtomicU64 = AtomicU64::new(0);

fn skip_redb_panics() -> bool {
    std::env::var_os("HEATSTORE_FUZZ_SKIP_REDB_PANICS").is_some_and(|v| v != "0")
}

/// With `HEATSTORE_FUZZ_SKIP_REDB_PANICS`: wraps the hooks installed so far
/// (libFuzzer's aborting one, and heatstore's), so that a panic located in
/// redb's source is counted (each new location printed once) and left to
/// unwind to our `catch_unwind`; any other panic goes on as before.
fn install_redb_panic_filter() {
    if !skip_redb_panics() {
        return;
    }
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let Some(at) = info.location().filter(|l| l.file().contains("/redb-")) else {
            previous(info);
            return;
        };
        let n = REDB_PANICS.fetch_add(1, Ordering::Relaxed) + 1;
        let site = format!("{}:{}", at.file(), at.line());
        let new = SEEN.lock().map(|mut s| s.insert(site)).unwrap_or(false);
        if new {
            eprintln!("store_file: redb panic #{n} ignored, new location: {info}");
        }
    }));
}

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
    // The write path reads what it extends (partitions, sessions, dicts).
    let writer = store.writer();
    if let Ok(mut w) = writer {
        let mut e = Event::new(
            "a.example",
            1_790_900_000_000,
            heatstore::EventKind::Click,
            "fz",
            "/",
        );
        (e.x, e.y) = (Some(10), Some(20));
        if w.append(&e).is_ok() {
            let _ = w.commit();
        }
        let _ = w.seal_all();
    }
}

fuzz_target!(
    init: {
        base();
        install_redb_panic_filter();
    },
    |data: &[u8]| {
        let base = base();
        let bytes = edit(&base.bytes, data);
        let path = scratch_file();

        let opens: [fn(&Path) -> heatstore::Result<Store>; 3] = [
            |p| heatstore::OpenOptions::new().verify(true).open(p),
            |p| Store::open(p),
            |p| Store::open_read_only(p),
        ];
        for open in opens {
            if std::fs::write(path, &bytes).is_err() {
                return;
            }
            let _ = catch_unwind(AssertUnwindSafe(|| {
                if let Ok(store) = open(path) {
                    exercise(store, &base.sessions);
                }
            }));
        }
        let _ = std::fs::remove_file(path);
    }
);
