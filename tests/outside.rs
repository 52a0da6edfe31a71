//! Faults from outside the process, as a hostile user or a careless
//! operator makes them, through the `heatstore` binary: processes racing
//! to create or read one store, damaged headers, a reader during
//! maintenance, closed and full standard output, runaway ranges, read-only
//! media, odd input files and site names.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use heatstore::gen::{write_ndjson, GenConfig};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_heatstore"))
}

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run heatstore")
}

fn spawn(args: &[&str]) -> Child {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn heatstore")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Writes `n` generated events of `site` to `path`.
fn events(path: &Path, n: u64, seed: u64, site: &str) {
    let cfg = GenConfig {
        seed,
        events: n,
        sites: vec![site.to_owned()],
        days: 2,
        ..GenConfig::default()
    };
    write_ndjson(cfg, std::fs::File::create(path).unwrap()).unwrap();
}

fn stats(db: &Path) -> Value {
    let o = run(&["stats", "--db", s(db), "--json"]);
    assert!(o.status.success(), "stats: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap()
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.contains("interrupted") || n.contains(".creating.") || n.ends_with(".rewrite")
        })
        .collect()
}

/// Point 1: Two processes creating one new store both keep their events; a read
/// command racing an import neither empties nor hides it.
#[test]
fn processes_racing_to_create_a_store_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    events(&a, 3_000, 1, "a.example");
    events(&b, 3_000, 2, "b.example");
    for trial in 0..6 {
        let db = dir.path().join(format!("new-{trial}.db"));
        let first = spawn(&["import", s(&a), "--db", s(&db)]);
        let second = spawn(&["import", s(&b), "--db", s(&db)]);
        // A reader at the wrong moment.
        let reader = spawn(&["stats", "--db", s(&db)]);
        for child in [first, second] {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "trial {trial}: import: {}", stderr(&o));
        }
        let r = reader.wait_with_output().unwrap();
        // The reader either read the store or found no store yet, and said
        // so; it never reported an empty store that was being written.
        let text = stdout(&r) + &stderr(&r);
        assert!(
            r.status.success() || text.contains("does not exist") || text.contains("in use"),
            "trial {trial}: {text}"
        );
        assert_eq!(stats(&db)["events"], 6_000, "trial {trial}");
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }
}

/// Point 2: A small store whose first bytes are damaged, an empty file and a
/// file of zeros are errors for every command, and never set aside or
/// replaced.
#[test]
fn damaged_empty_and_zero_files_are_errors_not_new_stores() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.ndjson");
    events(&input, 500, 3, "a.example");
    let db = dir.path().join("small.db");
    assert!(run(&["import", s(&input), "--db", s(&db)]).status.success());
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() < 1 << 20);
    bytes[..9].fill(0);
    std::fs::write(&db, &bytes).unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let zeros = dir.path().join("zeros.db");
    std::fs::write(&zeros, vec![0u8; 65_536]).unwrap();
    for (file, want) in [(&db, "header"), (&empty, "empty"), (&zeros, "header")] {
        let before = std::fs::read(file).unwrap();
        for cmd in [
            vec!["stats"],
            vec!["check"],
            vec!["requests"],
            vec!["query", "pages", "--site", "a.example"],
        ] {
            let mut args = cmd.clone();
            args.extend(["--db", s(file)]);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stdout(&o));
            assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        }
        assert_eq!(
            std::fs::read(file).unwrap(),
            before,
            "{} changed",
            file.display()
        );
    }
    assert!(leftovers(dir.path()).is_empty());
    // `recover` is the explicit way out; it keeps the damaged file.
    let o = run(&["recover", "--db", s(&db)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("damaged"), "{}", stdout(&o));
    assert_eq!(stats(&db)["events"], 0);
}

/// Point 3: Read commands looping while maintenance runs never break it: the
/// requests end erased and the deleted bytes leave the file.
#[test]
fn readers_do_not_break_a_running_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.ndjson");
    events(&input, 40_000, 4, "a.example");
    let db = dir.path().join("m.db");
    assert!(run(&["import", s(&input), "--db", s(&db)]).status.success());
    let text = std::fs::read_to_string(&input).unwrap();
    let victim = text
        .lines()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            v["visitor"].as_str().map(str::to_owned)
        })
        .unwrap();
    let o = run(&[
        "delete",
        "--db",
        s(&db),
        "--site",
        "a.example",
        "--visitor",
        &victim,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut maintain = spawn(&["maintain", "--db", s(&db), "--wait", "60"]);
    let mut reads = 0;
    while maintain.try_wait().unwrap().is_none() {
        let o = run(&["stats", "--db", s(&db), "--wait", "0"]);
        let err = stderr(&o);
        assert!(
            o.status.success() || err.contains("store in use"),
            "a reader failed otherwise: {err}"
        );
        reads += 1;
    }
    let o = maintain.wait_with_output().unwrap();
    assert!(o.status.success(), "maintenance failed: {}", stderr(&o));
    assert!(reads > 0);
    let o = run(&["requests", "--db", s(&db), "--json"]);
    let requests: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(requests[0]["status"], "erased", "{requests}");
    assert!(leftovers(dir.path()).is_empty());
}

/// Point 4: A closed pipe ends a command quietly with success; a full disk is a
/// clear error, for every command that prints.
#[test]
fn closed_and_full_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.ndjson");
    events(&input, 3_000, 5, "a.example");
    let db = dir.path().join("o.db");
    assert!(run(&["import", s(&input), "--db", s(&db)]).status.success());
    let d = s(&db);
    let queries: Vec<Vec<&str>> = ["sessions", "pages", "series", "elements", "referrers"]
        .iter()
        .flat_map(|r| {
            [
                vec!["query", r, "--db", d, "--site", "a.example"],
                vec!["query", r, "--db", d, "--site", "a.example", "--json"],
            ]
        })
        .collect();
    for args in &queries {
        // `| head -c 1`: a reader that goes away after one byte.
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut one = [0u8; 1];
        std::io::Read::read_exact(&mut out, &mut one).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).is_empty(), "{args:?}: {}", stderr(&o));
    }
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let more: Vec<Vec<&str>> = vec![
        vec!["stats", "--db", d],
        vec!["check", "--db", d],
        vec!["requests", "--db", d],
        vec!["import", s(&input), "--db", d],
        vec!["normalize", s(&input)],
    ];
    for args in queries.iter().chain(&more) {
        let o = bin()
            .args(args)
            .stdin(Stdio::null())
            .stdout(full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error: cannot write the output") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// Point 5: An hourly series over the whole representable range is a clear
/// error, not an allocation of gigabytes.
#[test]
fn a_runaway_series_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.ndjson");
    events(&input, 500, 6, "a.example");
    let db = dir.path().join("r.db");
    assert!(run(&["import", s(&input), "--db", s(&db)]).status.success());
    let o = run(&[
        "query",
        "series",
        "--db",
        s(&db),
        "--site",
        "a.example",
        "--from",
        "0",
        "--to",
        "253402300799999",
        "--interval",
        "hour",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("too many series buckets"),
        "{}",
        stderr(&o)
    );
}

/// Point 6: Read commands open read-only: the file's bytes never change, and
/// they work on a read-only file system (a read-only bind mount; skipped,
/// saying so, where mounting is not permitted).
#[test]
fn read_commands_work_on_read_only_media() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.ndjson");
    events(&input, 2_000, 7, "a.example");
    let store_dir = dir.path().join("data");
    std::fs::create_dir(&store_dir).unwrap();
    let db = store_dir.join("ro.db");
    assert!(run(&["import", s(&input), "--db", s(&db)]).status.success());
    let before = std::fs::read(&db).unwrap();
    let reads = |db: &Path| {
        let d = s(db).to_owned();
        for args in [
            vec!["stats", "--db", &d],
            vec!["check", "--db", &d],
            vec!["requests", "--db", &d],
            vec!["query", "pages", "--db", &d, "--site", "a.example"],
            vec!["query", "sessions", "--db", &d, "--site", "a.example"],
        ] {
            let o = run(&args);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        }
    };
    reads(&db);
    assert_eq!(std::fs::read(&db).unwrap(), before, "a read command wrote");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["--bind", s(&store_dir), s(&mnt)])
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("mount")
            .args(["-o", "remount,bind,ro", s(&mnt)])
            .status()
            .is_ok_and(|s| s.success());
    if !mounted {
        let _ = Command::new("umount").arg(&mnt).status();
        eprintln!("read-only mount not permitted here: checked the bytes only");
        return;
    }
    let ro_db = mnt.join("ro.db");
    assert!(
        std::fs::write(mnt.join("probe"), b"x").is_err(),
        "mount is writable"
    );
    reads(&ro_db);
    // A write command says why it cannot work.
    let o = run(&["delete", "--db", s(&ro_db), "--site", "a.example", "--all"]);
    assert_eq!(o.status.code(), Some(1));
    let _ = Command::new("umount").arg(&mnt).status();
}

/// Point 7: A byte order mark, CR-only line endings, hostile site names, a
/// deletion on an unknown site, and `check` agreeing with `stats` while a
/// deletion is pending.
#[test]
fn odd_inputs_names_and_pending_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("odd.db");
    let line = |site: &str, ts: u64| {
        format!(
            r#"{{"site":"{site}","ts":{ts},"type":"leave","session":"s{ts}","url":"/","duration_ms":5}}"#
        )
    };
    let bom = dir.path().join("bom.ndjson");
    std::fs::write(
        &bom,
        format!(
            "\u{feff}{}\n{}\n",
            line("a.example", 1),
            line("a.example", 2)
        ),
    )
    .unwrap();
    let cr = dir.path().join("cr.ndjson");
    std::fs::write(
        &cr,
        format!(
            "{}\r{}\r{}\r",
            line("a.example", 3),
            line("a.example", 4),
            line("a.example", 5)
        ),
    )
    .unwrap();
    for (file, n) in [(&bom, 2), (&cr, 3)] {
        let o = run(&["import", s(file), "--db", s(&db), "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(
            (r["accepted"].clone(), r["rejected"].clone()),
            (n.into(), 0.into()),
            "{r}"
        );
    }
    let hostile = dir.path().join("hostile.ndjson");
    let names = ["../../etc", "a/b", "a\\u0000b", "a b", ".a", "a..b", "a:x"];
    let text: String = names.iter().map(|n| line(n, 9) + "\n").collect();
    std::fs::write(&hostile, text).unwrap();
    let o = run(&["import", s(&hostile), "--db", s(&db), "--json"]);
    let r: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(r["rejected"], names.len(), "{r}");
    for e in r["errors"].as_array().unwrap() {
        assert!(e["reason"].as_str().unwrap().contains("site"), "{e}");
    }
    let o = run(&["delete", "--db", s(&db), "--site", "nope.example", "--all"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown site"), "{}", stderr(&o));
    let o = run(&[
        "delete",
        "--db",
        s(&db),
        "--site",
        "a.example",
        "--session",
        "s1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let st = stats(&db);
    assert_eq!(
        (st["events"].clone(), st["hidden_events"].clone()),
        (4.into(), 1.into()),
        "{st}"
    );
    assert_eq!(st["pending_requests"], 1);
    let o = run(&["check", "--db", s(&db)]);
    let out = stdout(&o);
    assert!(
        out.contains("ok: 5 events verified") && out.contains("4 visible, 1 hidden"),
        "{out}"
    );
}
