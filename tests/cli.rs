//! The `heatstore` binary, run as a user would: gen → import → stats →
//! check, the JSON reports, exit codes and error messages.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use heatstore::Event;
use serde_json::Value;

fn heatstore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heatstore"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run heatstore")
}

/// Runs a command that must succeed; returns its stdout.
fn ok(args: &[&str]) -> String {
    let out = heatstore(args);
    assert!(
        out.status.success(),
        "heatstore {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn gen_import_stats_check() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    let db = dir.path().join("store.redb");
    ok(&[
        "gen",
        "--events",
        "2000",
        "--seed",
        "7",
        "--sites",
        "a.example,b.example",
        "--out",
        s(&events),
    ]);
    let text = std::fs::read_to_string(&events).unwrap();
    assert_eq!(text.lines().count(), 2000);
    assert!(text
        .lines()
        .all(|l| Event::from_json_line(l.as_bytes()).is_ok()));

    // The same options write the same bytes, to stdout as to a file.
    let again = ok(&[
        "gen",
        "--events",
        "2000",
        "--seed",
        "7",
        "--sites",
        "a.example,b.example",
    ]);
    assert_eq!(again, text);

    let report = json(&ok(&["import", s(&events), "--db", s(&db), "--json"]));
    assert_eq!(report["accepted"], 2000, "{report}");
    assert_eq!(report["rejected"], 0, "{report}");
    assert_eq!(report["errors"], Value::Array(vec![]), "{report}");

    let stats = json(&ok(&["stats", "--db", s(&db), "--json"]));
    assert_eq!(stats["events"], 2000, "{stats}");
    assert_eq!(stats["sites"], 2, "{stats}");
    assert!(stats["file_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["bytes_per_event"].as_f64().unwrap() > 0.0, "{stats}");

    let text = ok(&["stats", "--db", s(&db)]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("events") && l.ends_with(" 2000")),
        "{text}"
    );

    let check = heatstore(&["check", "--db", s(&db)]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("2000 events"));
}

#[test]
fn import_reports_bad_lines_and_keeps_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.ndjson");
    let db = dir.path().join("store.redb");
    let good = |i: usize| {
        format!(
            r#"{{"site":"a.example","ts":{},"type":"scroll","session":"s{}","url":"/p","y":{}}}"#,
            1_700_000_000_000u64 + i as u64,
            i % 3,
            i * 10
        )
    };
    let lines = [
        good(1),
        good(2),
        "{not json".to_owned(),                                                                          // line 3
        good(4),
        String::new(),                                                                                   // line 5: blank, skipped
        r#"{"site":"a.example","ts":1,"type":"click","session":"s","url":"/","y":3}"#.to_owned(),        // line 6: no x
        good(7),
        r#"{"site":"a.example","ts":1,"type":"input","session":"s","url":"/","len":2,"value":"pw"}"#.to_owned(), // line 8
        good(9),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();

    let report = json(&ok(&["import", s(&input), "--db", s(&db), "--json"]));
    assert_eq!(report["accepted"], 5, "{report}");
    assert_eq!(report["rejected"], 3, "{report}");
    let errors = report["errors"].as_array().unwrap();
    let numbers: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [3, 6, 8], "{report}");
    assert!(
        errors[1]["reason"].as_str().unwrap().contains("`x`"),
        "{report}"
    );
    assert!(
        errors[2]["reason"].as_str().unwrap().contains("`value`"),
        "{report}"
    );
    assert!(
        errors.iter().all(|e| e.get("file").is_none()),
        "one file: no `file` field"
    );

    let stats = json(&ok(&["stats", "--db", s(&db), "--json"]));
    assert_eq!(stats["events"], 5, "{stats}");
    // The good lines are the ones stored.
    let store = heatstore::Store::open(&db).unwrap();
    let replay = store
        .snapshot()
        .unwrap()
        .session_events("a.example", "s1")
        .unwrap();
    let ys: Vec<u32> = replay.iter().filter_map(|e| e.y).collect();
    assert_eq!(ys, [10, 40, 70]);
    drop(store);

    // Several files: totals, and each error names its file.
    let report = json(&ok(&[
        "import",
        s(&input),
        s(&input),
        "--db",
        s(&db),
        "--json",
    ]));
    assert_eq!(
        (report["accepted"].as_u64(), report["rejected"].as_u64()),
        (Some(10), Some(6))
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 6);
    assert!(errors.iter().all(|e| e["file"] == s(&input)), "{report}");

    // The text report names the lines too.
    let text = ok(&["import", s(&input), "--db", s(&db)]);
    assert!(
        text.contains("5 accepted") && text.contains("3 rejected"),
        "{text}"
    );
    assert!(text.contains("line 6: field `x`"), "{text}");
}

#[test]
fn import_reads_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let line =
        r#"{"site":"a.example","ts":1,"type":"leave","session":"s","url":"/","duration_ms":5}"#;
    let mut child = Command::new(env!("CARGO_BIN_EXE_heatstore"))
        .args(["import", "-", "--db", s(&db), "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{line}\n{line}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(json(&String::from_utf8_lossy(&out.stdout))["accepted"], 2);
}

#[test]
fn errors_exit_1_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.redb");
    for cmd in ["stats", "check"] {
        let out = heatstore(&[cmd, "--db", s(&missing)]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains("does not exist"),
            "{cmd}: {err}"
        );
        assert!(!missing.exists(), "{cmd} must not create the store");
    }

    // A file that is not a store: heatstore's own error, exit 1.
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, b"hello, world").unwrap();
    let out = heatstore(&["stats", "--db", s(&junk)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: not a heatstore store"));

    // An import file that cannot be opened stores nothing.
    let db = dir.path().join("store.redb");
    let out = heatstore(&["import", s(&dir.path().join("nope.ndjson")), "--db", s(&db)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.ndjson"));

    // A bad time names its flag; usage errors exit 2.
    let out = heatstore(&[
        "gen",
        "--events",
        "5",
        "--seed",
        "1",
        "--start",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--start"));
    assert_eq!(
        heatstore(&["import", "--db", s(&db)]).status.code(),
        Some(2)
    );
    assert_eq!(heatstore(&["frobnicate"]).status.code(), Some(2));

    // Times as RFC 3339, ms or a date (its midnight, UTC): the same window.
    let from = |start: &str| ok(&["gen", "--events", "20", "--seed", "1", "--start", start]);
    let a = from("2024-01-01T00:00:00Z");
    assert_eq!(a, from("1704067200000"));
    assert_eq!(a, from("2024-01-01"));
    let out = heatstore(&["gen", "--events", "20", "--start", "2024-02-30"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a date such as"));
}

#[test]
fn gen_shape_flags() {
    let args = [
        "gen",
        "--events",
        "3000",
        "--seed",
        "4",
        "--site-count",
        "12",
        "--site-skew",
        "1",
        "--url-tail",
        "0.8",
        "--motion",
        "3",
        "--bursts",
        "2",
        "--days",
        "3",
    ];
    let text = ok(&args);
    assert_eq!(text, ok(&args), "same flags, same bytes");
    let events: Vec<Event> = text
        .lines()
        .map(|l| Event::from_json_line(l.as_bytes()).unwrap())
        .collect();
    assert_eq!(events.len(), 3000);
    assert!(events.iter().all(|e| e.validate().is_ok()));
    let sites: std::collections::BTreeSet<&str> = events.iter().map(|e| e.site.as_str()).collect();
    assert!(
        sites.len() > 1 && sites.contains("site-001.example"),
        "{sites:?}"
    );
    assert!(sites
        .iter()
        .all(|s| s.starts_with("site-0") && s.ends_with(".example")));
    assert!(events
        .iter()
        .any(|e| e.url.contains("/products/") || e.url.contains("/blog/20")));

    // Out-of-range values name their flag; usage errors exit 2.
    for (flag, value) in [
        ("--url-tail", "1.5"),
        ("--motion", "21"),
        ("--motion", "-1"),
        ("--bursts", "20000"),
        ("--site-count", "0"),
        ("--site-skew", "11"),
    ] {
        let arg = format!("{flag}={value}");
        let out = heatstore(&["gen", "--events", "5", "--seed", "1", &arg]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
    let out = heatstore(&[
        "gen",
        "--events",
        "5",
        "--seed",
        "1",
        "--site-count",
        "3",
        "--sites",
        "a.example",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn gen_stops_quietly_on_a_closed_pipe() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_heatstore"))
        .args(["gen", "--events", "200000", "--seed", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Read;
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // Dropping stdout closes the pipe.
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
