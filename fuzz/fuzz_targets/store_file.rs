//! A small valid store file with byte edits applied, opened twice:
//!
//! 1. with `Store::open`, which verifies the file's page checksums: opening
//!    and every read either work or return an error; any panic is a crash;
//! 2. with `Store::open_unverified`, which trusts the bytes, so that the
//!    edits reach heatstore's own decoders (segments, bitmaps,
//!    dictionaries, pending batches, session rows). redb documents that it
//!    may panic on such a file: a panic located in redb's source is counted
//!    (each new location printed once) and ignored; any other panic, one in
//!    heatstore, is a crash.
//!
//! The input is a list of 5-byte edits, `(offset: u32 LE, xor: u8)`, the
//! offset taken modulo the file's length; 4 bytes left over at the end
//! (input length ≡ 4 mod 5) are a `u32` LE length to truncate the file to,
//! modulo its length plus one. `tests/fuzz_corpus.rs` in the main crate
//! runs the same harness over the corpus; keep the two in step.
//!
//! `HEATSTORE_FUZZ_SKIP_REDB_PANICS=1` also ignores redb panics in pass 1.
#![no_main]

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
/// Set during pass 2, where redb may panic by its own documentation.
static UNVERIFIED: AtomicBool = AtomicBool::new(false);

fn skip_redb_panics() -> bool {
    std::env::var_os("HEATSTORE_FUZZ_SKIP_REDB_PANICS").is_some_and(|v| v != "0")
}

/// Wraps libfuzzer's aborting panic hook: a panic located in redb's source,
/// where one is tolerated, is counted (each new location printed once) and
/// left to unwind to our `catch_unwind`; any other panic aborts as before.
fn install_redb_panic_filter() {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let abort_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let tolerated = UNVERIFIED.load(Ordering::Relaxed) || skip_redb_panics();
        let in_redb = info.location().filter(|l| l.file().contains("/redb-"));
        let Some(at) = in_redb.filter(|_| tolerated) else {
            abort_hook(info);
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
    if let Ok(snap) = store.snapshot() {
        let _ = snap.check();
        let _ = snap.stats();
        if let Ok(sites) = snap.sites() {
            for site in sites {
                let _ = snap.counts(&site);
            }
        }
        for (site, session) in sessions {
            let _ = snap.session_events(site, session);
        }
    }
    let _ = store.stats();
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

        // Pass 1: verified open. (The hook aborts on any panic unless
        // HEATSTORE_FUZZ_SKIP_REDB_PANICS lets redb's through.)
        if std::fs::write(path, &bytes).is_err() {
            return;
        }
        let _ = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(store) = Store::open(path) {
                exercise(store, &base.sessions);
            }
        }));

        // Pass 2: unverified open of the same bytes (pass 1 may have
        // repaired the file).
        if std::fs::write(path, &bytes).is_err() {
            return;
        }
        UNVERIFIED.store(true, Ordering::Relaxed);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(store) = Store::open_unverified(path) {
                exercise(store, &base.sessions);
            }
        }));
        UNVERIFIED.store(false, Ordering::Relaxed);
        let _ = std::fs::remove_file(path);
    }
);
