//! The `heatstore` binary's data in and out: access-log import, export,
//! pictures.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

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

/// Runs a command that must fail; returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = heatstore(args);
    assert!(!out.status.success(), "heatstore {args:?} succeeded");
    String::from_utf8(out.stderr).expect("utf-8 output")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0";

#[test]
fn import_combined_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let db = dir.path().join("store.heat");
    std::fs::write(
        &log,
        format!(
            "203.0.113.9 - - [01/Oct/2026:09:00:00 +0200] \"GET /pricing HTTP/1.1\" 200 5120 \"https://duckduckgo.com/\" \"{UA}\"\n\
             203.0.113.9 - - [01/Oct/2026:09:00:01 +0200] \"GET /logo.png HTTP/1.1\" 200 900 \"-\" \"{UA}\"\n\
             garbage\n"
        ),
    )
    .unwrap();
    let out = json(&ok(&[
        "import",
        "--format",
        "combined",
        "--site",
        "shop.example",
        "--db",
        s(&db),
        "--json",
        s(&log),
    ]));
    assert_eq!(out["accepted"], 1, "{out}");
    assert_eq!(out["not_pages"], 1, "{out}");
    assert_eq!(out["rejected"], 1, "{out}");
    assert_eq!(out["errors"][0]["line"], 3, "{out}");
    let text = ok(&[
        "import",
        "--format",
        "combined",
        "--site",
        "shop.example",
        "--db",
        s(&db),
        s(&log),
    ]);
    assert!(text.contains("line 3: "), "{text}");
    assert!(text.contains("1 lines are no page"), "{text}");
    let err = fails(&["import", "--format", "combined", "--db", s(&db), s(&log)]);
    assert!(err.contains("--site"), "{err}");
    let err = fails(&["import", "--site", "x.example", "--db", s(&db), s(&log)]);
    assert!(err.contains("--site is for access logs"), "{err}");
}

#[test]
fn export_and_import_back() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    let db = dir.path().join("a.heat");
    let copy = dir.path().join("b.heat");
    let out = dir.path().join("export.ndjson");
    ok(&[
        "gen",
        "--events",
        "3000",
        "--seed",
        "3",
        "--sites",
        "a.example",
        "--out",
        s(&events),
    ]);
    ok(&["import", "--db", s(&db), s(&events)]);
    let o = heatstore(&[
        "export",
        "--db",
        s(&db),
        "--site",
        "a.example",
        "--out",
        s(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json(&String::from_utf8(o.stdout).unwrap());
    assert_eq!(r["events"], 3000, "{r}");
    let note = String::from_utf8(o.stderr).unwrap();
    assert!(
        note.contains("deletion requests recorded after this export"),
        "{note}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3000);
    let r = json(&ok(&[
        "import",
        "--format",
        "export",
        "--db",
        s(&copy),
        "--json",
        s(&out),
    ]));
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64()),
        (Some(3000), Some(0))
    );
    let q = |db: &Path| {
        json(&ok(&[
            "query",
            "referrers",
            "--db",
            s(db),
            "--site",
            "a.example",
            "--json",
        ]))
    };
    let (mut a, mut b) = (q(&db), q(&copy));
    a.as_object_mut().unwrap().remove("elapsed_ms");
    b.as_object_mut().unwrap().remove("elapsed_ms");
    assert_eq!(a, b);
    let err = fails(&[
        "export",
        "--db",
        s(&db),
        "--site",
        "none.example",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("none.example"), "{err}");
}

#[test]
fn query_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    let db = dir.path().join("p.heat");
    let mut lines = String::new();
    let pv = |sess: &str, ts: i64| {
        format!(
            "{{\"site\":\"p.example\",\"ts\":{ts},\"type\":\"pageview\",\"session\":\"{sess}\",\
             \"url\":\"/\",\"vw\":1280,\"vh\":800,\"dh\":4000}}\n"
        )
    };
    let t0 = 1_790_000_000_000i64;
    for i in 0..4 {
        let sess = format!("s{i}");
        lines += &pv(&sess, t0 + i * 10_000);
        lines += &format!(
            "{{\"site\":\"p.example\",\"ts\":{},\"type\":\"click\",\"session\":\"{sess}\",\
             \"url\":\"/\",\"x\":640,\"y\":300}}\n\
             {{\"site\":\"p.example\",\"ts\":{},\"type\":\"scroll\",\"session\":\"{sess}\",\
             \"url\":\"/\",\"y\":{},\"vw\":1280,\"vh\":800,\"dh\":4000}}\n",
            t0 + i * 10_000 + 1000,
            t0 + i * 10_000 + 2000,
            800 * i
        );
    }
    std::fs::write(&events, lines).unwrap();
    ok(&["import", "--db", s(&db), s(&events)]);
    let base = [
        "query",
        "--db",
        s(&db),
        "--site",
        "p.example",
        "--page",
        "/",
    ];
    let with = |report: &str, more: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![base[0].into(), report.into()];
        a.extend(base[1..].iter().map(|x| x.to_string()));
        a.extend(more.iter().map(|x| x.to_string()));
        a
    };
    let run = |a: Vec<String>| heatstore(&a.iter().map(String::as_str).collect::<Vec<_>>());

    // A heatmap picture of the given width, and the report still printed.
    let heat = dir.path().join("heat.png");
    let o = run(with(
        "heatmap",
        &["--png", s(&heat), "--width", "320", "--json"],
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&String::from_utf8(o.stdout).unwrap())["total"], 4);
    assert!(String::from_utf8_lossy(&o.stderr).contains("heat.png"));
    let bytes = std::fs::read(&heat).unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(&bytes[..]))
        .read_info()
        .unwrap()
        .info()
        .clone();
    assert_eq!(info.width, 320);

    // Over a screenshot (itself one of our pictures: any PNG will do).
    let over = dir.path().join("over.png");
    let o = run(with(
        "heatmap",
        &["--png", s(&over), "--background", s(&heat)],
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&over).unwrap().starts_with(b"\x89PNG"));

    // A scroll map.
    let scroll = dir.path().join("scroll.png");
    let o = run(with("scroll", &["--png", s(&scroll)]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&scroll).unwrap().starts_with(b"\x89PNG"));

    // Clear errors: a background that is not a PNG, or missing; a path
    // that cannot be written; a report without a picture; a width out of
    // range; --width without --png.
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"GIF89a not really").unwrap();
    let fails_with = |a: Vec<String>, needle: &str| {
        let o = run(a);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    let out = dir.path().join("x.png");
    fails_with(
        with("heatmap", &["--png", s(&out), "--background", s(&bad)]),
        "cannot use the background screenshot",
    );
    fails_with(
        with(
            "heatmap",
            &[
                "--png",
                s(&out),
                "--background",
                s(&dir.path().join("none.png")),
            ],
        ),
        "cannot read the background",
    );
    fails_with(
        with(
            "heatmap",
            &["--png", s(&dir.path().join("no/such/dir/x.png"))],
        ),
        "cannot write the picture",
    );
    fails_with(
        with("heatmap", &["--png", s(dir.path())]),
        "cannot write the picture",
    );
    fails_with(
        with("pages", &["--png", s(&out)]),
        "--png draws the heatmap and scroll reports only",
    );
    fails_with(
        with("heatmap", &["--png", s(&out), "--width", "0"]),
        "invalid argument",
    );
    fails_with(with("heatmap", &["--width", "300"]), "--png");
    assert!(!out.exists());
}
