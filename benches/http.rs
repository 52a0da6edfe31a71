//! `POST /collect` under load on loopback: many keep-alive connections
//! posting the tracker's batches of 20 events, while a dashboard client
//! queries the API; sustained events/s, p50/p99 of each request (answered
//! once its events are durable), and a count check that every accepted
//! event is stored exactly once.
//!
//! ```text
//! cargo bench --bench http --features server
//! HEATSTORE_BENCH_SECONDS=20 HEATSTORE_BENCH_CONNECTIONS=128 cargo bench --bench http --features server
//! ```
//!
//! `HEATSTORE_BENCH_WORKERS` sets the server's tokio worker threads
//! (default 2), `HEATSTORE_BENCH_BATCH` the events per batch (20),
//! `HEATSTORE_BENCH_SHAPE=mixed` sends 40 sites' traffic instead of one
//! site's (long-tail URLs, ids on pageviews only, cookieless visitors,
//! events up to two minutes out of order: see `Shape`).
//! `HEATSTORE_BENCH_SEAL_ASIDE=0` seals full partitions inside the group
//! commit that fills them instead of aside (`IngestOptions::seal_aside`).
//! `HEATSTORE_BENCH_API_PAUSE_MS` the dashboard client's pause between two
//! reports (default 50 ms: about 12 reports a second, far more than a person
//! at a dashboard; each report under live ingest re-reads the day's
//! uncommitted-to-segments rows, so this load costs the collector CPU).
//!
//! The server (`heatstore::server` on tokio, 2 worker threads) and the
//! clients share the machine's cores, as a server and the load generator
//! on one host do.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use heatstore::gen::{GenConfig, Generator};
use heatstore::server::{router, serve, ServerConfig};
use heatstore::Store;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SITE: &str = "bench.test";
const TOKEN: &str = "bench-token";
const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The traffic the clients send (`HEATSTORE_BENCH_SHAPE`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One site, the generator's defaults.
    Default,
    /// 40 sites of Zipf traffic (each its own origin), 30% of pageviews on
    /// long-tail URLs with query strings, the visitor id on pageviews
    /// only, a fifth of visitors cookieless, twice the pointer sampling,
    /// every event arriving up to two minutes late in any order.
    Mixed,
}

impl Shape {
    fn from_env() -> Shape {
        match std::env::var("HEATSTORE_BENCH_SHAPE").as_deref() {
            Ok("mixed") => Shape::Mixed,
            Ok("default") | Err(_) => Shape::Default,
            Ok(other) => panic!("HEATSTORE_BENCH_SHAPE={other:?}: use default or mixed"),
        }
    }

    fn sites(self) -> Vec<String> {
        match self {
            Shape::Default => vec![SITE.to_owned()],
            Shape::Mixed => heatstore::gen::numbered_sites(40),
        }
    }
}

fn origin(site: &str) -> String {
    format!("https://{site}")
}

/// Batch bodies as the tracker sends them: 20 events of one site without
/// `site`, `ua` and `ip` (the server adds them), today's timestamps; each
/// with the origin of its site's pages.
fn bodies(shape: Shape, batches: usize, per: usize) -> Vec<(String, String)> {
    let now = now_ms();
    let mut cfg = GenConfig {
        events: (batches * per) as u64,
        days: 1,
        start_ms: now - 86_400_000,
        sites: shape.sites(),
        ..GenConfig::default()
    };
    if shape == Shape::Mixed {
        cfg.url_tail = 0.3;
        cfg.visitor_ids = heatstore::gen::VisitorIds::Pageviews;
        cfg.cookieless_fraction = 0.2;
        cfg.motion = 2.0;
        cfg.arrival_jitter_ms = 120_000;
    }
    // Per site, its events in arrival order, cut into batches.
    let mut per_site: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for e in Generator::new(cfg) {
        let mut v: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        let o = v.as_object_mut().unwrap();
        for k in ["site", "ua", "ip"] {
            o.remove(k);
        }
        per_site
            .entry(e.site.clone())
            .or_default()
            .push(v.to_string());
    }
    let mut out: Vec<(usize, String, String)> = Vec::new();
    for (site, events) in &per_site {
        let n = events.len().div_ceil(per.max(1)).max(1);
        for (i, c) in events.chunks(per.max(1)).enumerate() {
            let body = format!("{{\"site\":\"{site}\",\"events\":[{}]}}", c.join(","));
            // Interleaved: each site's batches in its order, spread over
            // the whole run by how far into its traffic they are.
            out.push((i * 1_000_000 / n, origin(site), body));
        }
    }
    out.sort_by_key(|(at, ..)| *at);
    out.into_iter().map(|(_, o, b)| (o, b)).collect()
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    s: BufReader<TcpStream>,
    line: String,
    body: Vec<u8>,
    req: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            s: BufReader::new(s),
            line: String::new(),
            body: Vec::new(),
            req: Vec::new(),
        })
    }

    /// Sends one request; returns the status (the body is in `self.body`).
    async fn call(&mut self, head: &str, body: &[u8]) -> std::io::Result<u16> {
        self.req.clear();
        self.req.extend_from_slice(head.as_bytes());
        self.req
            .extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.req.extend_from_slice(body);
        self.s.get_mut().write_all(&self.req).await?;
        self.line.clear();
        self.s.read_line(&mut self.line).await?;
        let status = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {:?}", self.line)))?;
        let mut len = 0usize;
        loop {
            self.line.clear();
            self.s.read_line(&mut self.line).await?;
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        self.body.resize(len, 0);
        self.s.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Default)]
struct Tally {
    requests: u64,
    accepted: u64,
    dropped: u64,
    rejected: u64,
    busy: u64,
    other: u64,
    latencies: Vec<Duration>,
}

/// One connection posting batches until `stop`.
async fn client(
    c: usize,
    addr: SocketAddr,
    stop: &AtomicBool,
    all: &[(String, String)],
    head: &str,
) -> Tally {
    let mut t = Tally::default();
    let mut conn = Conn::open(addr).await.expect("connect");
    let mut i = c * 64;
    while !stop.load(Ordering::Relaxed) {
        let (origin, body) = &all[i % all.len()];
        i += 1;
        let head = format!("{head}Origin: {origin}\r\n");
        let at = Instant::now();
        let status = match conn.call(&head, body.as_bytes()).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("connection {c}: {e}");
                t.other += 1;
                conn = Conn::open(addr).await.expect("reconnect");
                continue;
            }
        };
        t.latencies.push(at.elapsed());
        t.requests += 1;
        match status {
            200 | 400 => {
                let v: serde_json::Value = serde_json::from_slice(&conn.body).unwrap_or_default();
                t.accepted += v["accepted"].as_u64().unwrap_or(0);
                t.dropped += v["dropped"].as_u64().unwrap_or(0);
                t.rejected += v["rejected"].as_array().map_or(0, |a| a.len() as u64);
            }
            503 => t.busy += 1,
            _ => t.other += 1,
        }
    }
    t
}

/// The dashboard meanwhile: a round of reports, again and again.
async fn dashboard(
    addr: SocketAddr,
    site: &str,
    stop: &AtomicBool,
    pause: Duration,
) -> (Vec<Duration>, u64) {
    let mut conn = Conn::open(addr).await.expect("connect");
    let mut lat = Vec::new();
    let mut failed = 0u64;
    let reports = [
        "heatmap?page=/",
        "pages?",
        "series?interval=hour",
        "devices?by=browser",
        "referrers?by=channel",
        "elements?limit=20",
    ];
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let head = format!(
            "GET /api/{}&site={site} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n",
            reports[i % reports.len()]
        );
        i += 1;
        let at = Instant::now();
        match conn.call(&head, b"").await {
            Ok(200) => lat.push(at.elapsed()),
            _ => failed += 1,
        }
        tokio::time::sleep(pause).await;
    }
    (lat, failed)
}

fn main() {
    let seconds = env_u64("HEATSTORE_BENCH_SECONDS", 10);
    let connections = env_u64("HEATSTORE_BENCH_CONNECTIONS", 64) as usize;
    let per = env_u64("HEATSTORE_BENCH_BATCH", 20) as usize;
    let workers = env_u64("HEATSTORE_BENCH_WORKERS", 2) as usize;
    let api_pause = Duration::from_millis(env_u64("HEATSTORE_BENCH_API_PAUSE_MS", 50));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("http-bench.heatstore");
    let store = Arc::new(Store::open(&path).expect("store"));
    if let Ok(r) = std::env::var("HEATSTORE_BENCH_SEAL_ROWS") {
        store.set_seal_rows(r.parse().expect("HEATSTORE_BENCH_SEAL_ROWS"));
    }
    let shape = Shape::from_env();
    let mut config = ServerConfig::new(TOKEN);
    config.ingest.seal_aside = env_u64("HEATSTORE_BENCH_SEAL_ASIDE", 1) != 0;
    for site in shape.sites() {
        config.add_site(&site, &origin(&site)).unwrap();
    }
    let app = router(Arc::clone(&store), config).expect("router");

    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            serve(l, app, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let addr: SocketAddr = rx.recv().unwrap();

    print!(
        "building {} batch bodies of {per} events ... ",
        connections * 64
    );
    std::io::stdout().flush().ok();
    let all = Arc::new(bodies(shape, connections * 64, per));
    println!("done");
    println!(
        "POST /collect on {addr}: {connections} connections, batches of {per}, {seconds} s, with a dashboard client querying the API"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let head = format!(
        "POST /collect HTTP/1.1\r\nHost: bench\r\nUser-Agent: {UA}\r\nContent-Type: text/plain;charset=UTF-8\r\n"
    );
    let started = Instant::now();
    // The load generator: every connection a task on one client thread
    // (as wrk runs many connections per thread), so that the clients take
    // as little of the two cores as they can.
    let clients = {
        let (stop, all) = (Arc::clone(&stop), Arc::clone(&all));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("client runtime");
            rt.block_on(async move {
                let tasks: Vec<_> = (0..connections)
                    .map(|c| {
                        let (stop, all, head) = (Arc::clone(&stop), Arc::clone(&all), head.clone());
                        tokio::spawn(async move { client(c, addr, &stop, &all, &head).await })
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.expect("client task"));
                }
                out
            })
        })
    };

    // The dashboard meanwhile: a round of reports, again and again.
    let dash = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("dashboard runtime");
            let site = shape.sites().swap_remove(0);
            rt.block_on(dashboard(addr, &site, &stop, api_pause))
        })
    };

    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let mut total = Tally::default();
    for t in clients.join().expect("clients") {
        total.requests += t.requests;
        total.accepted += t.accepted;
        total.dropped += t.dropped;
        total.rejected += t.rejected;
        total.busy += t.busy;
        total.other += t.other;
        total.latencies.extend(t.latencies);
    }
    let (mut api_lat, api_failed) = dash.join().expect("dashboard client");
    total.latencies.sort();
    api_lat.sort();
    let secs = elapsed.as_secs_f64();
    println!(
        "collect: {} requests, {:.0} requests/s, {:.0} events/s accepted ({} accepted, {} dropped by privacy rules, {} rejected, {} answered 503 queue full, {} failed)",
        total.requests,
        total.requests as f64 / secs,
        total.accepted as f64 / secs,
        total.accepted,
        total.dropped,
        total.rejected,
        total.busy,
        total.other
    );
    println!(
        "collect latency (until durable): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&total.latencies, 0.5)),
        ms(percentile(&total.latencies, 0.99)),
        ms(total.latencies.last().copied().unwrap_or_default())
    );
    println!(
        "api meanwhile: {} reports, p50 {:.2} ms, p99 {:.2} ms, {} failed",
        api_lat.len(),
        ms(percentile(&api_lat, 0.5)),
        ms(percentile(&api_lat, 0.99)),
        api_failed
    );
    let _ = stop_tx.send(());
    server.join().expect("server");
    let snap = store.snapshot().unwrap();
    let stored: u64 = shape
        .sites()
        .iter()
        .map(|site| snap.counts(site).map_or(0, |c| c.events))
        .sum();
    let check = if stored == total.accepted {
        "ok"
    } else {
        "MISMATCH"
    };
    println!(
        "count check: {stored} events in the store, {} accepted by the server: {check}",
        total.accepted
    );
    if stored != total.accepted {
        std::process::exit(1);
    }
}
