//! The HTTP layer (`heatstore::server`) on a real socket on 127.0.0.1: bad
//! input of every kind gets the right 4xx with a reason and stores nothing
//! of what it rejected, the server keeps serving, and every report of
//! `GET /api/<report>` answers exactly what `heatstore query <report>
//! --json` prints for the same options.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use heatstore::server::{router, serve, ServerConfig};
use heatstore::Store;
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-token";
const SITE: &str = "demo.test";
const ORIGIN: &str = "http://127.0.0.1:9";

/// A server on an ephemeral loopback port, stopped on drop.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(store: Arc<Store>, config: ServerConfig) -> Server {
        let app = router(store, config).expect("router");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                serve(listener, app, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Server {
            addr: rx.recv().expect("server address"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP/1.1 exchange (Connection: close): status, headers, body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: heatstore\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    // A server may answer (413) before reading the whole body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn collect(addr: SocketAddr, origin: Option<&str>, body: &str) -> Answer {
    let mut h = vec![
        ("Content-Type", "text/plain;charset=UTF-8"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
    ];
    if let Some(o) = origin {
        h.push(("Origin", o));
    }
    request(addr, "POST", "/collect", &h, body.as_bytes())
}

fn api(addr: SocketAddr, path: &str) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    request(addr, "GET", path, &[("Authorization", &auth)], b"")
}

fn config() -> ServerConfig {
    let mut c = ServerConfig::new(TOKEN);
    c.add_site_arg(&format!("{SITE}={ORIGIN}")).unwrap();
    c
}

fn event(ts: i64, kind: &str, session: &str, extra: Value) -> Value {
    let mut e = json!({"ts": ts, "type": kind, "session": session, "visitor": "v1", "url": "http://127.0.0.1:9/"});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn events_of(store: &Store) -> u64 {
    match store.snapshot().unwrap().counts(SITE) {
        Ok(c) => c.events,
        Err(heatstore::Error::UnknownSite { .. }) => 0,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bad_input_gets_a_reason_and_stores_nothing_of_it() {
    let store = Arc::new(Store::in_memory().unwrap());
    let mut cfg = config();
    cfg.max_body = 8192;
    cfg.max_events = 50;
    let server = Server::start(Arc::clone(&store), cfg);
    let a = server.addr;
    let t0 = 1_717_000_000_000_i64;
    let pv = event(
        t0,
        "pageview",
        "s1",
        json!({"vw": 1280, "vh": 800, "dh": 1600}),
    );

    // Oversized body: 413, whatever it holds.
    let big = json!({"site": SITE, "events": [pv.clone()], "pad": "x".repeat(9000)}).to_string();
    let r = collect(a, Some(ORIGIN), &big);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.error().contains("over the limit of 8192 bytes"),
        "{}",
        r.body
    );

    // Too many events in one batch.
    let many: Vec<Value> = (0..51)
        .map(|i| event(t0 + i, "leave", "s1", json!({"duration_ms": 1})))
        .collect();
    let r = collect(
        a,
        Some(ORIGIN),
        &json!({"site": SITE, "events": many}).to_string(),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.error().contains("at most 50"), "{}", r.body);

    // Not JSON; not an object; wrong types; missing fields.
    for (body, want) in [
        ("not json", "not a valid batch"),
        ("[1,2]", "not a valid batch"),
        (r#"{"site":5,"events":[]}"#, "expected a string"),
        (r#"{"site":"demo.test","events":{}}"#, "expected a sequence"),
        (r#"{"events":[]}"#, "missing field `site`"),
        (r#"{"site":"demo.test"}"#, "missing field `events`"),
        (r#"{"site":"a..b","events":[]}"#, "site:"),
    ] {
        let r = collect(a, Some(ORIGIN), body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.error().contains(want), "{body}: {}", r.body);
    }

    // An unknown site, a wrong origin: 403, and nothing stored.
    let r = collect(
        a,
        Some(ORIGIN),
        &json!({"site": "other.test", "events": [pv.clone()]}).to_string(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.error().contains("\"other.test\" is not served here"),
        "{}",
        r.body
    );
    let r = collect(
        a,
        Some("http://evil.test"),
        &json!({"site": SITE, "events": [pv.clone()]}).to_string(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.error().contains("not one of the origins"), "{}", r.body);
    assert!(
        !r.head.contains("access-control-allow-origin"),
        "no CORS for a wrong origin"
    );
    assert_eq!(events_of(&store), 0, "nothing stored from rejected batches");

    // A batch with bad events: 400 naming each, the good ones kept.
    let batch = json!({"site": SITE, "events": [
        pv,
        event(t0 + 1, "click", "s1", json!({"x": "ten", "y": 5, "vw": 1280})),
        event(t0 + 2, "input", "s1", json!({"len": 3, "value": "hunter2"})),
        7,
        event(t0 + 3, "click", "s1", json!({"x": 10, "y": 5, "vw": 1280, "selector": "#buy", "ex": 5000, "ey": 5000})),
        event(t0 + 4, "warp", "s1", json!({})),
    ]});
    let r = collect(a, Some(ORIGIN), &batch.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    let j = r.json();
    assert_eq!(j["accepted"], 2, "{}", r.body);
    let rejected: Vec<(u64, String)> = j["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["index"].as_u64().unwrap(),
                x["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (1, "x".into()),
            (2, "value".into()),
            (3, "event".into()),
            (5, "type".into())
        ],
        "{}",
        r.body
    );
    assert!(
        r.error().starts_with("4 of 6 events rejected"),
        "{}",
        r.body
    );
    assert!(r
        .head
        .contains(&format!("access-control-allow-origin: {ORIGIN}")));
    assert_eq!(events_of(&store), 2, "only the valid events are stored");
    let stored = store
        .snapshot()
        .unwrap()
        .session_events(SITE, "s1")
        .unwrap();
    assert!(
        stored.iter().all(|e| e.len.is_none()),
        "the typed value's event was not stored"
    );

    // The API: missing, malformed and wrong tokens; unknown report; bad options.
    let r = request(a, "GET", "/api/pages?site=demo.test", &[], b"");
    assert_eq!(r.status, 401);
    assert!(r.error().contains("missing token"), "{}", r.body);
    assert!(r.head.contains("www-authenticate: bearer"));
    let r = request(
        a,
        "GET",
        "/api/pages?site=demo.test",
        &[("Authorization", "Basic eDp5")],
        b"",
    );
    assert_eq!(r.status, 401);
    assert!(r.error().contains("must be `Bearer TOKEN`"), "{}", r.body);
    let r = request(
        a,
        "GET",
        "/api/pages?site=demo.test",
        &[("Authorization", "Bearer s3cret-tokeN")],
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.error(), "wrong token");
    let r = request(
        a,
        "POST",
        "/api/deletions",
        &[],
        br#"{"site":"demo.test","all":true}"#,
    );
    assert_eq!(r.status, 401, "deletions need the token too");
    for (path, status, want) in [
        ("/api/nope?site=demo.test", 404, "no report \"nope\""),
        ("/api/pages", 400, "site: required"),
        ("/api/heatmap?site=demo.test&page=/&cols=many", 400, "cols:"),
        (
            "/api/pages?site=demo.test&colour=red",
            400,
            "colour: unknown option",
        ),
        ("/api/pages?site=demo.test&from=yesterday", 400, "from:"),
        (
            "/api/devices?site=demo.test&by=shoe",
            400,
            "unknown grouping",
        ),
        ("/api/replay?site=demo.test", 400, "replay needs session"),
        ("/nothing/here", 404, "no such route"),
    ] {
        let r = api(a, path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.error().contains(want), "{path}: {}", r.body);
    }

    // Deletion bodies.
    let auth = format!("Bearer {TOKEN}");
    for (body, want) in [
        ("{", "not JSON"),
        (r#"{"site":"demo.test"}"#, "give one of"),
        (
            r#"{"site":"demo.test","visitor":"v","all":true}"#,
            "give only one",
        ),
        (r#"{"site":"demo.test","from":5}"#, "give both"),
        (r#"{"site":"demo.test","visitor":7}"#, "visitor: expected"),
    ] {
        let r = request(
            a,
            "POST",
            "/api/deletions",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.error().contains(want), "{body}: {}", r.body);
    }
    // Opt-out: wrong origin, unknown site, not JSON.
    let r = request(
        a,
        "POST",
        "/api/opt-out",
        &[("Origin", "http://evil.test")],
        br#"{"site":"demo.test","visitor":"v1"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = request(
        a,
        "POST",
        "/api/opt-out",
        &[],
        br#"{"site":"x.test","visitor":"v1"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = request(a, "POST", "/api/opt-out", &[], b"v1");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        store.deletion_requests().unwrap().is_empty(),
        "no request filed by bad calls"
    );

    // A body that never arrives in full: 408 after the server's 10 s.
    let mut slow = TcpStream::connect(a).unwrap();
    slow.write_all(b"POST /collect HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n{\"site\"")
        .unwrap();
    let mut raw = String::new();
    let _ = slow.read_to_string(&mut raw);
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(raw.contains("not received within 10 s"), "{raw}");

    // Still serving: a good batch, the tracker, the dashboard, a preflight.
    let ok = json!({"site": SITE, "events": [event(t0 + 10, "scroll", "s2", json!({"y": 100, "vw": 1280, "vh": 800, "dh": 1600}))]});
    let r = collect(a, Some(ORIGIN), &ok.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"accepted": 1, "dropped": 0, "rejected": []})
    );
    assert_eq!(events_of(&store), 3);
    let r = request(a, "GET", "/heatstore.js", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.head.contains("content-type: text/javascript"));
    let r = request(a, "GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("dashboard.js"));
    let r = request(
        a,
        "OPTIONS",
        "/api/heatmap",
        &[
            ("Origin", ORIGIN),
            ("Access-Control-Request-Headers", "authorization"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    assert!(r
        .head
        .contains("access-control-allow-headers: authorization"));
    let r = request(
        a,
        "OPTIONS",
        "/api/heatmap",
        &[("Origin", "http://evil.test")],
        b"",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn opt_out_deletions_and_cookieless_ids() {
    let store = Arc::new(Store::in_memory().unwrap());
    let mut cfg = config();
    cfg.proxy_header = Some("x-forwarded-for".into());
    let server = Server::start(Arc::clone(&store), cfg);
    let a = server.addr;
    let t0 = 1_717_000_000_000_i64;
    // Cookieless pageviews: the id comes from the proxy header's last
    // address and the UA; neither is stored.
    let cookieless = |ts: i64, ip: &str| {
        let body = json!({"site": SITE, "events": [{"ts": ts, "type": "pageview", "url": "http://127.0.0.1:9/", "vw": 1280, "vh": 800, "dh": 1600}]});
        request(
            a,
            "POST",
            "/collect",
            &[
                ("Origin", ORIGIN),
                ("User-Agent", "Mozilla/5.0 Firefox/120.0"),
                ("X-Forwarded-For", ip),
            ],
            body.to_string().as_bytes(),
        )
    };
    for (ts, ip) in [
        (t0, "10.0.0.1, 203.0.113.7"),
        (t0 + 1000, "203.0.113.7"),
        (t0 + 2000, "198.51.100.2"),
    ] {
        let r = cookieless(ts, ip);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = api(a, "/api/sessions?site=demo.test");
    assert_eq!(
        r.json()["total"],
        2,
        "one cookieless visitor per (last proxy address, UA): {}",
        r.body
    );

    // Opt-out through the tracker's route: a request is filed.
    let r = request(
        a,
        "POST",
        "/api/opt-out",
        &[
            ("Origin", ORIGIN),
            ("Content-Type", "text/plain;charset=UTF-8"),
        ],
        br#"{"site":"demo.test","visitor":"v9"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["filed"], true);
    // Later events of that visitor are dropped, and said so.
    let body = json!({"site": SITE, "events": [{"ts": t0 + 5000, "type": "pageview", "session": "s9", "visitor": "v9", "url": "/", "vw": 1280, "vh": 800, "dh": 1600}]});
    let r = collect(a, Some(ORIGIN), &body.to_string());
    assert_eq!(
        r.json(),
        json!({"accepted": 0, "dropped": 1, "rejected": []}),
        "{}",
        r.body
    );

    // Deletions through the API, and their audit records.
    let auth = format!("Bearer {TOKEN}");
    let r = request(
        a,
        "POST",
        "/api/deletions",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"site":"demo.test","from":"2024-05-29T00:00:00Z","to":1717100000000}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "pending");
    let r = api(a, "/api/deletions?site=demo.test");
    assert_eq!(r.json().as_array().unwrap().len(), 2, "{}", r.body);
    let r = api(a, "/api/deletions?site=other.test");
    assert_eq!(r.json(), json!([]));
    let r = api(a, "/api/sites/detail");
    assert_eq!(r.json(), json!([{"site": SITE, "origins": [ORIGIN]}]));
    let r = api(a, "/api/sites");
    assert_eq!(r.json(), json!([SITE]));
}

fn heatstore(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_heatstore"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run heatstore");
    assert!(
        out.status.success(),
        "heatstore {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_report_answers_what_query_json_prints() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    let db = dir.path().join("store.heatstore");
    heatstore(&[
        "gen",
        "--events",
        "6000",
        "--seed",
        "3",
        "--sites",
        SITE,
        "--out",
        s(&events),
    ]);
    heatstore(&["import", "--db", s(&db), s(&events)]);
    let dbs = s(&db);
    let pages: Value = serde_json::from_str(&heatstore(&[
        "query", "pages", "--db", dbs, "--site", SITE, "--json",
    ]))
    .unwrap();
    let page = pages["rows"][0]["page"].as_str().unwrap().to_owned();
    let sessions: Value = serde_json::from_str(&heatstore(&[
        "query", "sessions", "--db", dbs, "--site", SITE, "--limit", "3", "--json",
    ]))
    .unwrap();
    let key = sessions["rows"][0]["session"].as_str().unwrap().to_owned();
    let series: Value = serde_json::from_str(&heatstore(&[
        "query", "series", "--db", dbs, "--site", SITE, "--json",
    ]))
    .unwrap();
    let day = series["rows"][0]["ts"].as_i64().unwrap();
    let (from, to) = (day.to_string(), (day + 2 * 86_400_000).to_string());

    // (report, options) in the CLI's spelling; the query string uses the same names.
    let p = page.as_str();
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("heatmap", vec![("page", p)]),
        (
            "heatmap",
            vec![
                ("page", p),
                ("kind", "move"),
                ("cols", "32"),
                ("row-px", "8"),
                ("device", "desktop"),
            ],
        ),
        ("elements", vec![("limit", "10")]),
        ("elements", vec![("page", p), ("from", &from), ("to", &to)]),
        ("rage", vec![]),
        ("scroll", vec![("page", p), ("step", "25")]),
        ("referrers", vec![]),
        ("referrers", vec![("by", "channel"), ("include-bots", "")]),
        ("referrers", vec![("by", "domain"), ("browser", "Chrome")]),
        ("referrers", vec![("by", "utm_source")]),
        ("devices", vec![("by", "os"), ("channel", "search")]),
        ("devices", vec![("by", "screen"), ("limit", "5")]),
        ("devices", vec![("by", "lang"), ("referrer", "(direct)")]),
        ("devices", vec![("by", "tz")]),
        ("pages", vec![("os", "iOS")]),
        (
            "series",
            vec![("interval", "hour"), ("from", &from), ("to", &to)],
        ),
        ("series", vec![]),
        ("sessions", vec![("limit", "20"), ("kind", "click")]),
        ("replay", vec![("session", &key)]),
    ];
    let mut expected = Vec::new();
    for (report, opts) in &cases {
        let mut args = vec!["query", report, "--db", dbs, "--site", SITE, "--json"];
        for (k, v) in opts {
            let flag: &str = Box::leak(format!("--{k}").into_boxed_str());
            args.push(flag);
            if !v.is_empty() {
                args.push(v);
            }
        }
        expected.push(heatstore(&args));
    }
    // Now the server holds the file; the same questions over HTTP.
    let store = Arc::new(Store::open(&db).unwrap());
    let server = Server::start(Arc::clone(&store), config());
    for ((report, opts), want) in cases.iter().zip(&expected) {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("site", SITE);
        for (k, v) in opts {
            q.append_pair(k, if v.is_empty() { "true" } else { v });
        }
        let path = format!("/api/{report}?{}", q.finish());
        let r = api(server.addr, &path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(r.head.contains("content-type: application/json"));
        assert_eq!(&r.body, want, "{path}: the API and query --json differ");
        assert!(
            r.body.len() > 20,
            "{path}: an empty report proves little: {}",
            r.body
        );
    }
}

/// `heatstore serve` as a process: it says where it listens, stores a
/// batch, and on SIGTERM stops cleanly with the batch in the file.
#[cfg(unix)]
#[test]
fn serve_stores_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.heatstore");
    let mut child = Command::new(env!("CARGO_BIN_EXE_heatstore"))
        .args([
            "serve",
            "--db",
            s(&db),
            "--addr",
            "127.0.0.1:0",
            "--token",
            TOKEN,
        ])
        .args(["--site", &format!("{SITE}={ORIGIN}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start heatstore serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let t0 = 1_717_000_000_000_i64;
    let batch = json!({"site": SITE, "events": [
        event(t0, "pageview", "s1", json!({"vw": 1280, "vh": 800, "dh": 1600})),
        event(t0 + 5, "click", "s1", json!({"x": 10, "y": 20, "vw": 1280})),
    ]});
    let r = collect(addr, Some(ORIGIN), &batch.to_string());
    assert_eq!(
        r.json(),
        json!({"accepted": 2, "dropped": 0, "rejected": []})
    );
    let r = api(addr, "/api/sessions?site=demo.test");
    assert_eq!(r.json()["total"], 1, "{}", r.body);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "serve exits 0 on SIGTERM: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(&db).unwrap();
    assert_eq!(events_of(&store), 2, "the batch is in the file");
}
