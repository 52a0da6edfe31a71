//! Access logs imported as pageviews (`Store::import_access_log`): the
//! Combined Log Format as Apache and Nginx write it, `vhost_combined`,
//! malformed lines, and what is refused.

use heatstore::logs::LogFormat;
use heatstore::query::{DeviceBy, Filters, Interval, ReferrerBy};
use heatstore::{Error, Store};

const SITE: &str = "shop.example";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1";

/// 2024-03-12T05:25:24Z: `06:25:24 +0100` in the log.
const T0: i64 = 1_710_221_124_000;

/// An Apache `combined` log with Nginx-style lines (trailing
/// `$request_time`), assets, a POST, a 404, a probe, a bot and two
/// malformed lines.
fn combined_log() -> String {
    [
        format!(r#"203.0.113.195 - - [12/Mar/2024:06:25:24 +0100] "GET /blog/heatmaps/ HTTP/1.1" 200 18342 "https://www.google.com/" "{CHROME}""#),
        format!(r#"203.0.113.195 - - [12/Mar/2024:06:25:25 +0100] "GET /static/app.css HTTP/1.1" 200 912 "https://shop.example/blog/heatmaps/" "{CHROME}""#),
        format!(r#"203.0.113.195 - - [12/Mar/2024:05:26:00 +0000] "GET /pricing?utm_source=news HTTP/1.1" 200 9120 "https://shop.example/blog/heatmaps/" "{CHROME}" 0.012 0.010"#),
        String::new(),
        format!(r#"198.51.100.23 - - [12/Mar/2024:10:57:00 +0530] "GET /pricing HTTP/2.0" 304 0 "https://l.facebook.com/" "{IPHONE}""#),
        format!(r#"198.51.100.23 - - [12/Mar/2024:05:27:30 +0000] "POST /cart HTTP/2.0" 302 0 "-" "{IPHONE}""#),
        "this is not a log line".to_owned(),
        format!(r#"198.51.100.23 - - [12/Mar/2024:05:28:00 +0000] "GET /missing HTTP/2.0" 404 153 "-" "{IPHONE}""#),
        r#"192.0.2.7 - - [12/Mar/2024:05:29:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29""#.to_owned(),
        r#"66.249.66.1 - - [12/Mar/2024:05:30:00 +0000] "GET / HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)""#.to_owned(),
        format!(r#"198.51.100.23 - - [32/Mar/2024:05:31:00 +0000] "GET / HTTP/1.1" 200 5120 "-" "{IPHONE}""#),
        r#"198.51.100.99 - - [12/Mar/2024:05:32:00 +0000] "GET /docs HTTP/1.1" 200 5120 "-" "-""#.to_owned(),
    ]
    .join("\n")
        + "\n"
}

#[test]
fn combined_log_becomes_cookieless_pageviews() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.heat");
    let store = Store::open(&path).unwrap();
    let log = combined_log();
    let r = store
        .import_access_log(log.as_bytes(), LogFormat::Auto, SITE)
        .unwrap();
    assert_eq!(r.format, LogFormat::Combined);
    assert_eq!(r.lines, 11, "the blank line is not counted");
    // Pages: the blog post, /pricing twice (200 and 304), the bot's /.
    assert_eq!(r.accepted, 4, "{r:?}");
    // app.css, POST, 404, /healthz.
    assert_eq!(r.not_pages, 4);
    assert_eq!(r.rejected, 3);
    let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [7, 11, 12]);
    assert!(r.errors[1].reason.contains("time"), "{:?}", r.errors[1]);
    assert!(
        r.errors[2].reason.contains("user_agent"),
        "{:?}",
        r.errors[2]
    );

    let snap = store.snapshot().unwrap();
    let all = Filters::default();
    // Bots are left out of reports: three pageviews of two visitors, the
    // Chrome one with two (its IP and UA give one cookieless visitor).
    let pages = snap.pages(SITE, &all, None).unwrap();
    assert_eq!((pages.pageviews, pages.visitors), (3, 2));
    let pricing = pages.rows.iter().find(|p| p.page == "/pricing").unwrap();
    assert_eq!((pricing.pageviews, pricing.visitors), (2, 2));
    // Time zone offsets: every time is 05:25..05:27 UTC.
    let series = snap.series(SITE, &all, Interval::Hour).unwrap();
    let hours: Vec<(i64, u64)> = series
        .rows
        .iter()
        .filter(|r| r.pageviews > 0)
        .map(|r| (r.ts, r.pageviews))
        .collect();
    assert_eq!(hours, [(T0 - T0 % 3_600_000, 3)]);
    let refs = snap
        .referrers(SITE, &all, ReferrerBy::Channel, None)
        .unwrap();
    let mut channels: Vec<(String, u64)> = refs
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.sessions))
        .collect();
    channels.sort();
    assert_eq!(
        channels,
        [("search".to_owned(), 1), ("social".to_owned(), 1)]
    );
    let browsers = snap.devices(SITE, &all, DeviceBy::Browser, None).unwrap();
    let mut names: Vec<&str> = browsers.rows.iter().map(|r| r.key.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Chrome", "Mobile Safari"]);
    // Pageviews without a viewport count, and heatmaps have nothing.
    let heat = snap
        .heatmap(SITE, &all.clone().page("/pricing"), Default::default())
        .unwrap();
    assert_eq!(heat.total, 0);
    let with_bots = Filters {
        include_bots: true,
        ..Filters::default()
    };
    assert_eq!(snap.pages(SITE, &with_bots, None).unwrap().pageviews, 4);
    drop(snap);
    drop(store);
    // The IP is never stored.
    let bytes = std::fs::read(&path).unwrap();
    for ip in ["203.0.113.195", "198.51.100.23", "66.249.66.1"] {
        assert!(
            !bytes.windows(ip.len()).any(|w| w == ip.as_bytes()),
            "{ip} is in the file"
        );
    }
}

#[test]
fn vhost_combined_is_detected() {
    let log = format!(
        "shop.example:443 2001:db8:85a3::8a2e:370:7334 - - [12/Mar/2024:10:55:24 +0530] \"GET /cart HTTP/1.1\" 200 5123 \"https://shop.example/products/42\" \"{IPHONE}\"\n\
         shop.example:443 2001:db8:85a3::8a2e:370:7334 - - [12/Mar/2024:10:55:30 +0530] \"GET /checkout HTTP/1.1\" 200 7001 \"https://shop.example/cart\" \"{IPHONE}\"\n\
         shop.example:443 - - [12/Mar/2024:10:56:00 +0530] \"GET /x HTTP/1.1\" 200 1\n"
    );
    let store = Store::in_memory().unwrap();
    let r = store
        .import_access_log(log.as_bytes(), LogFormat::Auto, SITE)
        .unwrap();
    assert_eq!(r.format, LogFormat::VhostCombined);
    assert_eq!((r.accepted, r.rejected), (2, 1), "{r:?}");
    assert_eq!(r.errors[0].line, 3);
    let snap = store.snapshot().unwrap();
    let s = snap
        .series(SITE, &Filters::default(), Interval::Day)
        .unwrap();
    // One cookieless visitor, one session (30 s apart).
    assert_eq!(
        (s.rows[0].pageviews, s.rows[0].sessions, s.rows[0].visitors),
        (2, 1, 1)
    );
    // 10:55:24 +0530 is 05:25:24 UTC.
    let first = snap.sessions(SITE, &Filters::default(), None).unwrap();
    assert_eq!(first.rows[0].first_ts, T0);
}

#[test]
fn other_files_are_refused_before_anything_is_stored() {
    let store = Store::in_memory().unwrap();
    let common =
        "192.0.2.44 - frank [05/Jan/2024:23:10:02 -0500] \"GET /docs/install HTTP/1.0\" 200 7311\n";
    let err = store
        .import_access_log(common.as_bytes(), LogFormat::Auto, SITE)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert!(err.to_string().contains("Common Log Format"), "{err}");
    let ndjson = r#"{"site":"a.com","ts":1,"type":"pageview","session":"s","url":"/"}"#;
    let err = store
        .import_access_log(ndjson.as_bytes(), LogFormat::Auto, SITE)
        .unwrap_err();
    assert!(err.to_string().contains("not an access log"), "{err}");
    let err = store
        .import_access_log(common.as_bytes(), LogFormat::Auto, "bad site")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidEvent(_)), "{err}");
    // Asked for by name, a common log imports nothing and says why per line.
    let r = store
        .import_access_log(common.as_bytes(), LogFormat::Common, SITE)
        .unwrap();
    assert_eq!((r.accepted, r.rejected), (0, 1));
    assert!(r.errors[0].reason.contains("user_agent"));
    assert_eq!(store.stats().unwrap().events, 0);
}

/// A read that fails part-way keeps the batches before it and names the
/// line.
#[test]
fn a_failed_read_keeps_what_was_read() {
    struct Failing<'a>(&'a [u8]);
    impl std::io::Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk went away"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let log = combined_log();
    let store = Store::in_memory().unwrap();
    let err = store
        .import_access_log(
            std::io::BufReader::new(Failing(log.as_bytes())),
            LogFormat::Combined,
            SITE,
        )
        .unwrap_err();
    assert!(err.to_string().contains("disk went away"), "{err}");
    assert!(err.to_string().contains("line 13"), "{err}");
    assert_eq!(store.stats().unwrap().events, 4);
}
