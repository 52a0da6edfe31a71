use super::page::*;
use super::parse::*;
use super::*;
use proptest::prelude::*;

const APACHE: &str = r#"203.0.113.195 - - [12/Mar/2024:06:25:24 +0100] "GET /blog/heatmaps-explained/ HTTP/1.1" 200 18342 "https://www.google.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36""#;
const NGINX: &str = r#"198.51.100.23 - - [12/Mar/2024:06:25:24 +0000] "GET /pricing?plan=pro&utm_source=newsletter HTTP/2.0" 200 9120 "https://news.ycombinator.com/item?id=1" "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1""#;
const NGINX_TIMED: &str = r#"198.51.100.23 - - [12/Mar/2024:06:25:24 +0000] "GET /pricing HTTP/1.1" 200 9120 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0" 0.012 0.010 "-""#;
const VHOST: &str = r#"shop.example.com:443 2001:db8:85a3::8a2e:370:7334 - - [12/Mar/2024:11:55:24 +0530] "GET /cart HTTP/1.1" 200 5123 "https://shop.example.com/products/42" "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15""#;
const COMMON: &str =
    r#"192.0.2.44 - frank [05/Jan/2024:23:10:02 -0500] "GET /docs/install HTTP/1.0" 200 7311"#;

fn parse(line: &str) -> LogLine<'_> {
    match parse_line(line, LogFormat::Auto) {
        Ok(l) => l,
        Err(e) => panic!("{line}: {e}"),
    }
}

fn target<'a>(l: &'a LogLine<'_>) -> &'a str {
    l.request.as_ref().map(|r| r.target.as_ref()).unwrap_or("")
}

#[test]
fn apache_combined() {
    let l = parse(APACHE);
    assert_eq!(l.format, LogFormat::Combined);
    assert_eq!(l.host, Some("203.0.113.195"));
    assert_eq!((l.ident, l.user, l.vhost, l.port), (None, None, None, None));
    assert_eq!(l.ts, 1_710_221_124_000);
    let r = l.request.as_ref().unwrap();
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/blog/heatmaps-explained/");
    assert_eq!(r.protocol.as_deref(), Some("HTTP/1.1"));
    assert_eq!((l.status, l.bytes), (200, Some(18342)));
    assert_eq!(l.referrer.as_deref(), Some("https://www.google.com/"));
    assert!(l.user_agent.as_deref().unwrap().contains("Chrome/122"));
    // Nothing is copied when nothing is escaped.
    assert!(matches!(l.user_agent, Some(Cow::Borrowed(_))));
    assert!(is_page(&l));
}

#[test]
fn nginx_default_and_extra_fields() {
    let l = parse(NGINX);
    assert_eq!(l.format, LogFormat::Combined);
    assert_eq!(target(&l), "/pricing?plan=pro&utm_source=newsletter");
    assert_eq!(l.ts, 1_710_224_724_000);
    let e = l.to_event("example.com").unwrap();
    assert_eq!(e.kind, EventKind::Pageview);
    assert_eq!(e.url, "/pricing?plan=pro&utm_source=newsletter");
    assert_eq!(
        e.referrer.as_deref(),
        Some("https://news.ycombinator.com/item?id=1")
    );
    assert_eq!(e.ip.as_deref(), Some("198.51.100.23"));
    assert_eq!((e.session, e.visitor), (None, None));
    assert_eq!((e.vw, e.vh, e.dh), (None, None, None));

    let l = parse(NGINX_TIMED);
    assert_eq!(l.format, LogFormat::Combined);
    assert_eq!(l.referrer, None);
    assert!(l.user_agent.as_deref().unwrap().ends_with("Firefox/123.0"));
    // Tabs and runs of spaces separate fields too.
    let tabbed = NGINX.replacen(' ', "\t", 1).replacen(" - ", "  -  ", 1);
    assert_eq!(parse(&tabbed).host, Some("198.51.100.23"));
}

#[test]
fn vhost_combined_with_ipv6() {
    let l = parse(VHOST);
    assert_eq!(l.format, LogFormat::VhostCombined);
    assert_eq!((l.vhost, l.port), (Some("shop.example.com"), Some(443)));
    assert_eq!(l.host, Some("2001:db8:85a3::8a2e:370:7334"));
    assert_eq!(l.ts, 1_710_224_724_000);
    assert_eq!(target(&l), "/cart");
    let e = l.to_event("shop.example.com").unwrap();
    assert_eq!(e.ip.as_deref(), Some("2001:db8:85a3::8a2e:370:7334"));
    // An IPv6 virtual host in brackets.
    let text = VHOST.replacen("shop.example.com:443", "[2001:db8::1]:8080", 1);
    let l = parse(&text);
    assert_eq!((l.vhost, l.port), (Some("2001:db8::1"), Some(8080)));
    // An IPv6 client in a plain combined line is not taken for a vhost.
    let text = APACHE.replacen("203.0.113.195", "::ffff:203.0.113.195", 1);
    let l = parse(&text);
    assert_eq!(l.format, LogFormat::Combined);
    assert_eq!(l.host, Some("::ffff:203.0.113.195"));
}

#[test]
fn common_parses_and_has_no_user_agent() {
    let l = parse(COMMON);
    assert_eq!(l.format, LogFormat::Common);
    assert_eq!(l.user, Some("frank"));
    assert_eq!(l.ts, 1_704_514_202_000);
    assert_eq!((l.referrer.clone(), l.user_agent.clone()), (None, None));
    assert!(is_page(&l));
    let e = l.to_event("example.com").unwrap_err();
    assert_eq!(e.field, LogField::UserAgent);
    assert!(e.reason.contains("Common Log Format"), "{e}");
    // A combined line is not common, and the reverse.
    assert_eq!(
        parse_line(APACHE, LogFormat::Common).unwrap_err().field,
        LogField::Line
    );
    assert_eq!(
        parse_line(COMMON, LogFormat::Combined).unwrap_err().field,
        LogField::Referrer
    );
    // Trailing spaces are fine.
    assert!(parse_line(&format!("{COMMON}  "), LogFormat::Common).is_ok());
}

#[test]
fn formats_are_exclusive() {
    for (line, want) in [
        (APACHE, LogFormat::Combined),
        (NGINX, LogFormat::Combined),
        (NGINX_TIMED, LogFormat::Combined),
        (VHOST, LogFormat::VhostCombined),
        (COMMON, LogFormat::Common),
    ] {
        let ok: Vec<LogFormat> = LogFormat::CONCRETE
            .into_iter()
            .filter(|&f| parse_line(line, f).is_ok())
            .collect();
        assert_eq!(ok, vec![want], "{line}");
    }
}

#[test]
fn format_names() {
    for f in LogFormat::CONCRETE.into_iter().chain([LogFormat::Auto]) {
        assert_eq!(f.as_str().parse::<LogFormat>(), Ok(f));
        assert_eq!(f.to_string(), f.as_str());
    }
    for bad in ["", "Combined", "clf", "ncsa", "json\u{7}"] {
        let e = bad.parse::<LogFormat>().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("expected one of combined|vhost_combined|common|auto"));
        assert!(!msg.contains('\u{7}'));
    }
}

#[test]
fn time_zones_to_exact_ms() {
    for (t, ms) in [
        ("12/Mar/2024:11:55:24 +0530", 1_710_224_724_000),
        ("12/Mar/2024:06:25:24 +0100", 1_710_221_124_000),
        ("10/Oct/2000:13:55:36 -0700", 971_211_336_000),
        ("12/Mar/2024:06:25:24 +0000", 1_710_224_724_000),
        ("31/Dec/1999:23:59:59 -1200", 946_727_999_000),
        ("01/Jan/2000:00:00:00 +1400", 946_634_400_000),
        ("29/Feb/2024:12:00:00 +0000", 1_709_208_000_000),
        ("01/Jan/1970:00:00:00 +0000", 0),
    ] {
        assert_eq!(parse_clf_time(t), Ok(ms), "{t}");
        let line = COMMON.replacen("05/Jan/2024:23:10:02 -0500", t, 1);
        assert_eq!(parse(&line).ts, ms, "{line}");
    }
}

#[test]
fn escaped_quotes_and_bytes() {
    let line = r#"192.0.2.7 - - [12/Mar/2024:06:25:24 +0000] "GET /search?q=\"heat\" HTTP/1.1" 200 10 "https://example.com/?q=a\\b" "Mozilla/5.0 \"Quoted\" Agent""#;
    let l = parse(line);
    assert_eq!(target(&l), r#"/search?q="heat""#);
    assert_eq!(l.referrer.as_deref(), Some(r"https://example.com/?q=a\b"));
    assert_eq!(
        l.user_agent.as_deref(),
        Some(r#"Mozilla/5.0 "Quoted" Agent"#)
    );
    // Nginx escapes quotes and non-ASCII bytes as \xXX.
    let line = r#"192.0.2.7 - - [12/Mar/2024:06:25:24 +0000] "GET / HTTP/1.1" 200 10 "-" "Bot \x22caf\xC3\xA9\x22 \xFF""#;
    assert_eq!(
        parse(line).user_agent.as_deref(),
        Some("Bot \"caf\u{e9}\" \u{fffd}")
    );
    // An unescaped quote inside a field is kept.
    let line = r#"192.0.2.7 - - [12/Mar/2024:06:25:24 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla/5.0 (compatible; "Odd"Bot)""#;
    assert_eq!(
        parse(line).user_agent.as_deref(),
        Some(r#"Mozilla/5.0 (compatible; "Odd"Bot)"#)
    );
    assert_eq!(unescape(r"a\qb\x4"), r"a\qb\x4");
    assert_eq!(unescape("a\\"), "a\\");
    assert_eq!(unescape(r"\n\t\r\\"), "\n\t\r\\");
}

#[test]
fn odd_requests_parse_as_non_pages() {
    let base = |req: &str, status: &str| {
        format!(r#"192.0.2.9 - - [12/Mar/2024:06:25:24 +0000] "{req}" {status} 157 "-" "-""#)
    };
    for req in [
        "-",
        "",
        r"\x16\x03\x01\x00\xF7\x01\x00\x00\xF3\x03\x03",
        "GET",
        "GET  ",
        "get / HTTP/1.1",
        "GET / FTP/1.0",
        "GET /a b c HTTP/1.1",
        "\\x00",
        "<html>",
    ] {
        let line = base(req, "400");
        let l = parse(&line);
        assert!(
            l.request.is_none() || classify(&l) != PageVerdict::Page,
            "{line}"
        );
        assert_eq!(l.status, 400);
    }
    assert_eq!(classify(&parse(&base("-", "400"))), PageVerdict::NoRequest);
    assert_eq!(
        classify(&parse(&base(r"\x16\x03\x01", "400"))),
        PageVerdict::NoRequest
    );
    // HTTP/0.9 style: no protocol.
    let text = base("GET /old", "200");
    let l = parse(&text);
    assert_eq!(target(&l), "/old");
    assert_eq!(l.request.as_ref().unwrap().protocol, None);
    assert_eq!(classify(&l), PageVerdict::Page);
}

#[test]
fn malformed_lines_name_their_field() {
    let ok = APACHE;
    let cases: Vec<(String, LogField)> = vec![
        (String::new(), LogField::Line),
        ("203.0.113.195".into(), LogField::Ident),
        ("203.0.113.195 - -".into(), LogField::Time),
        (
            ok.replacen("[12/Mar/2024:06:25:24 +0100]", "12/Mar/2024:06:25:24", 1),
            LogField::Time,
        ),
        (ok.replacen("Mar", "Mrz", 1), LogField::Time),
        (ok.replacen("12/Mar", "32/Mar", 1), LogField::Time),
        (ok.replacen("12/Mar/2024", "29/Feb/2023", 1), LogField::Time),
        (ok.replacen("06:25:24", "25:25:24", 1), LogField::Time),
        (ok.replacen("06:25:24", "06:60:24", 1), LogField::Time),
        (ok.replacen("+0100", "0100", 1), LogField::Time),
        (ok.replacen("+0100", "+0160", 1), LogField::Time),
        (ok.replacen("+0100", "+2500", 1), LogField::Time),
        (ok.replacen("+0100]", "+0100", 1), LogField::Time),
        (ok.replacen(":06:25:24", ":6:25:24", 1), LogField::Time),
        (ok.replacen("06:25:24 ", "06:25:24.123 ", 1), LogField::Time),
        (ok.replacen("\"GET", "GET", 1), LogField::Request),
        (
            ok.split(" 200 ")
                .next()
                .unwrap()
                .trim_end_matches('"')
                .into(),
            LogField::Request,
        ),
        (ok.replacen(" 200 ", " OK ", 1), LogField::Status),
        (ok.replacen(" 200 ", " 2000 ", 1), LogField::Status),
        (ok.replacen(" 200 ", " 099 ", 1), LogField::Status),
        (ok.replacen(" 200 ", " 600 ", 1), LogField::Status),
        (ok.replacen(" 200 ", " -1 ", 1), LogField::Status),
        (ok.replacen(" 18342 ", " 18k ", 1), LogField::Bytes),
        (
            ok.replacen(" 18342 ", " 99999999999999999999999 ", 1),
            LogField::Bytes,
        ),
        (ok.replacen(" 18342 ", " -5 ", 1), LogField::Bytes),
        (
            ok.split(" \"https").next().unwrap().into(),
            LogField::Referrer,
        ),
        (
            ok.replacen("\"https://www.google.com/\"", "https://www.google.com/", 1),
            LogField::Referrer,
        ),
        (
            ok.split(" \"Mozilla").next().unwrap().into(),
            LogField::UserAgent,
        ),
        (ok.trim_end_matches('"').into(), LogField::UserAgent),
        (
            ok.replacen("203.0.113.195", "203.0.\u{1}113", 1),
            LogField::Host,
        ),
    ];
    for (line, field) in cases {
        let e = parse_line(&line, LogFormat::Combined).unwrap_err();
        assert_eq!(e.field, field, "{line}: {e}");
        assert!(!e.reason.is_empty());
        // Auto names the same field (the furthest error), or the line
        // is a common one (combined without referrer and User-Agent).
        match parse_line(&line, LogFormat::Auto) {
            Ok(l) => assert_eq!(l.format, LogFormat::Common, "{line}"),
            Err(a) => assert_eq!(a.field, field, "auto {line}: {a}"),
        }
        assert!(
            e.to_string().starts_with(&format!("field `{field}`")),
            "{e}"
        );
    }
    // vhost errors.
    for bad in ["shop.example.com", "shop.example.com:http", "shop:70000"] {
        let line = VHOST.replacen("shop.example.com:443", bad, 1);
        let e = parse_line(&line, LogFormat::VhostCombined).unwrap_err();
        assert_eq!(e.field, LogField::Vhost, "{line}: {e}");
    }
}

#[test]
fn error_values_are_cut_and_escaped() {
    let long = "x".repeat(500);
    let line = APACHE.replacen(" 200 ", &format!(" {long} "), 1);
    let e = parse_line(&line, LogFormat::Combined).unwrap_err();
    assert_eq!(e.field, LogField::Status);
    assert_eq!(e.value.chars().count(), MAX_SHOWN_CHARS + 3);
    assert!(e.value.ends_with("..."));
    let e = parse_line(
        &APACHE.replacen(" 200 ", " 2\u{1b}[31m ", 1),
        LogFormat::Combined,
    )
    .unwrap_err();
    assert!(!e.to_string().contains('\u{1b}'), "{e}");
    assert!(e.to_string().contains("\\u{1b}"), "{e}");
    let le = e.clone().at(7);
    assert_eq!((le.line(), le.field()), (7, Some(LogField::Status)));
    assert!(le.to_string().starts_with("line 7: field `status`"), "{le}");
}

#[test]
fn page_rule_table() {
    let line = |method: &str, target: &str, status: u16| {
        format!(
            r#"192.0.2.1 - - [12/Mar/2024:06:25:24 +0000] "{method} {target} HTTP/1.1" {status} 100 "-" "Mozilla/5.0""#
        )
    };
    use PageVerdict::*;
    let table: &[(&str, &str, u16, PageVerdict)] = &[
        ("GET", "/", 200, Page),
        ("GET", "/pricing", 200, Page),
        ("GET", "/blog/post-1/", 200, Page),
        ("GET", "/index.html", 200, Page),
        ("GET", "/wp-login.php", 200, Page),
        ("GET", "/search?q=a.css", 200, Page),
        ("GET", "/v1.2/release", 200, Page),
        ("GET", "/.", 200, Probe),
        ("GET", "/docs#intro", 200, Page),
        ("GET", "/a", 203, Page),
        ("GET", "/a", 304, Page),
        ("GET", "/a", 204, Status),
        ("GET", "/a", 206, Status),
        ("GET", "/a", 301, Status),
        ("GET", "/a", 302, Status),
        ("GET", "/a", 404, Status),
        ("GET", "/a", 500, Status),
        ("HEAD", "/", 200, Method),
        ("POST", "/checkout", 200, Method),
        ("OPTIONS", "*", 200, Method),
        ("CONNECT", "example.com:443", 200, Method),
        ("GET", "http://other.example/", 200, NotPath),
        ("GET", "*", 200, NotPath),
        ("GET", "/app.css", 200, Asset),
        ("GET", "/static/app.min.js?v=3", 200, Asset),
        ("GET", "/img/Logo.PNG", 200, Asset),
        ("GET", "/favicon.ico", 200, Asset),
        ("GET", "/fonts/a.woff2", 200, Asset),
        ("GET", "/app.js.map", 200, Asset),
        ("GET", "/robots.txt", 200, Asset),
        ("GET", "/sitemap.xml", 200, Asset),
        ("GET", "/files/report.pdf", 200, Asset),
        ("GET", "/feed.json", 304, Asset),
        ("GET", "/.env", 200, Probe),
        ("GET", "/.git/config", 200, Probe),
        ("GET", "/.well-known/security.txt", 200, Asset),
        ("GET", "/.well-known/change-password", 200, Probe),
        ("GET", "/api/v1/users", 200, Probe),
        ("GET", "/API", 200, Probe),
        ("GET", "/wp-json/wp/v2/posts", 200, Probe),
        ("GET", "/healthz", 200, Probe),
        ("GET", "/health/", 200, Probe),
        ("GET", "/metrics?x=1", 200, Probe),
        ("GET", "/server-status", 200, Probe),
        ("GET", "/apis", 200, Page),
        ("GET", "/blog/api", 200, Page),
        ("GET", "/health-insurance", 200, Page),
    ];
    for &(method, target, status, want) in table {
        let text = line(method, target, status);
        let l = parse(&text);
        assert_eq!(classify(&l), want, "{method} {target} {status}");
        assert_eq!(is_page(&l), want == Page);
    }
    assert!(page_status(299) && !page_status(199) && !page_status(305));
}

#[test]
fn events_need_address_and_user_agent() {
    let text = APACHE.replacen("203.0.113.195", "-", 1);
    let l = parse(&text);
    assert_eq!(l.host, None);
    assert_eq!(l.to_event("a.com").unwrap_err().field, LogField::Host);
    let text = APACHE.replacen(APACHE.rsplit(" \"").next().unwrap(), "-\"", 1);
    let l = parse(&text);
    assert_eq!(l.user_agent, None);
    let e = l.to_event("a.com").unwrap_err();
    assert_eq!(e.field, LogField::UserAgent);
    assert!(!e.reason.contains("Common"));
    let text = APACHE.replacen("GET /blog/heatmaps-explained/ HTTP/1.1", "-", 1);
    let l = parse(&text);
    assert_eq!(l.to_event("a.com").unwrap_err().field, LogField::Request);
    // A complete event validates once pageviews may lack a viewport;
    // here the viewport is the only thing validation asks for.
    let mut e = parse(APACHE).to_event("a.com").unwrap();
    (e.vw, e.vh, e.dh) = (Some(1), Some(1), Some(1));
    e.validate().unwrap();
}

#[test]
fn detection_votes() {
    assert_eq!(
        detect_format([APACHE, NGINX, COMMON]),
        Some(LogFormat::Combined)
    );
    assert_eq!(
        detect_format([COMMON, COMMON, APACHE]),
        Some(LogFormat::Common)
    );
    assert_eq!(
        detect_format([VHOST, APACHE]),
        Some(LogFormat::VhostCombined)
    );
    assert_eq!(detect_format(["", "x y z"]), None);
    assert_eq!(detect_format([]), None);
}

fn collect(input: &[u8], format: LogFormat) -> Vec<(u64, Result<Option<Event>, LogError>)> {
    read_log(input, format, "example.com").collect()
}

#[test]
fn reader_over_a_mixed_file() {
    let mut file = Vec::new();
    file.extend_from_slice(b"\xEF\xBB\xBF");
    for l in [
        APACHE,                                                       // 1 page
        "",                                                           // 2 blank
        &APACHE.replacen("/blog/heatmaps-explained/", "/app.css", 1), // 3 asset
        "   \t",                                                      // 4 blank
        "not a log line",                                             // 5 error
        NGINX,                                                        // 6 page
        NGINX_TIMED,                                                  // 7 page
        &APACHE.replacen(" 200 ", " 404 ", 1),                        // 8 not a page
    ] {
        file.extend_from_slice(l.as_bytes());
        file.extend_from_slice(b"\r\n");
    }
    file.extend_from_slice(b"198.51.100.1 - - [12/Mar/2024:06:25:24 +0000] \"GET /caf\xE9 HTTP/1.1\" 200 1 \"-\" \"x\"\r\n"); // 9 not UTF-8
    file.extend_from_slice(NGINX.as_bytes()); // 10 page, no final newline
    let items = collect(&file, LogFormat::Auto);
    let lines: Vec<u64> = items.iter().map(|(n, _)| *n).collect();
    assert_eq!(lines, [1, 3, 5, 6, 7, 8, 9, 10]);
    let pages: Vec<&str> = items
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok()?.as_ref().map(|e| e.url.as_str()))
        .collect();
    assert_eq!(
        pages,
        [
            "/blog/heatmaps-explained/",
            "/pricing?plan=pro&utm_source=newsletter",
            "/pricing",
            "/pricing?plan=pro&utm_source=newsletter"
        ]
    );
    let first = items[0].1.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(first.ip.as_deref(), Some("203.0.113.195"));
    assert_eq!(first.site, "example.com");
    assert!(!first.ua.as_deref().unwrap().ends_with('\r'));
    let errs: Vec<(u64, Option<LogField>)> = items
        .iter()
        .filter_map(|(_, r)| r.as_ref().err().map(|e| (e.line(), e.field())))
        .collect();
    assert_eq!(errs, [(5, Some(LogField::Time)), (9, Some(LogField::Line))]);
    let e9 = items[6].1.as_ref().unwrap_err().to_string();
    assert!(e9.contains("line 9") && e9.contains("UTF-8"), "{e9}");

    let mut r = read_log(&file[..], LogFormat::Auto, "example.com");
    assert_eq!(r.format(), LogFormat::Auto);
    assert!(r.next().is_some());
    assert_eq!(r.format(), LogFormat::Combined);
}

#[test]
fn reader_explicit_format_and_fallback() {
    // An explicit format is used as given.
    let items = collect(
        format!("{APACHE}\n{COMMON}\n").as_bytes(),
        LogFormat::Common,
    );
    assert_eq!(
        items[0].1.as_ref().unwrap_err().field(),
        Some(LogField::Line)
    );
    assert_eq!(
        items[1].1.as_ref().unwrap_err().field(),
        Some(LogField::UserAgent)
    );
    // Nothing in the first lines parses: each later line is tried in
    // every format.
    let mut text = "junk\n".repeat(DETECT_LINES);
    text.push_str(VHOST);
    text.push('\n');
    text.push_str(COMMON);
    let mut r = read_log(text.as_bytes(), LogFormat::Auto, "s");
    let items: Vec<_> = r.by_ref().collect();
    assert_eq!(r.format(), LogFormat::Auto);
    assert_eq!(items.len(), DETECT_LINES + 2);
    let vhost = items[DETECT_LINES].1.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(vhost.url, "/cart");
    assert_eq!(
        items[DETECT_LINES + 1].1.as_ref().unwrap_err().field(),
        Some(LogField::UserAgent)
    );
    // Empty input, only blank lines, a lone BOM.
    assert!(collect(b"", LogFormat::Auto).is_empty());
    assert!(collect(b"\n\r\n \n", LogFormat::Auto).is_empty());
    assert!(collect(b"\xEF\xBB\xBF", LogFormat::Combined).is_empty());
    // A BOM after the first line is not skipped.
    let items = collect(
        format!("\n\u{feff}{APACHE}").as_bytes(),
        LogFormat::Combined,
    );
    assert_eq!(items[0].0, 2);
    assert!(items[0].1.is_err());
}

#[test]
fn reader_bounds_long_lines() {
    let mut text = "a".repeat(MAX_LINE_BYTES + 10);
    text.push('\n');
    text.push_str(APACHE);
    // A tiny buffer makes the reader stitch lines from many reads.
    let items = collect_buf(text.as_bytes(), 7);
    assert_eq!(items.len(), 2);
    let e = items[0].1.as_ref().unwrap_err();
    assert_eq!((e.line(), e.field()), (1, Some(LogField::Line)));
    assert!(e.to_string().contains("longer than the limit"), "{e}");
    assert!(items[1].1.as_ref().unwrap().is_some());
    // Exactly at the limit, with CRLF: read, and simply not a log line.
    let mut text = "b".repeat(MAX_LINE_BYTES);
    text.push_str("\r\n");
    let items = collect_buf(text.as_bytes(), 4096);
    assert!(!items[0]
        .1
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("longer"));
}

fn collect_buf(input: &[u8], cap: usize) -> Vec<(u64, Result<Option<Event>, LogError>)> {
    read_log(
        std::io::BufReader::with_capacity(cap, input),
        LogFormat::Auto,
        "s",
    )
    .collect()
}

/// A reader that fails after some bytes.
struct Failing<'a>(&'a [u8]);

impl std::io::Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn reader_reports_io_errors_then_stops() {
    for format in [LogFormat::Auto, LogFormat::Combined] {
        let text = format!("{APACHE}\n{NGINX}\n");
        let r = read_log(
            std::io::BufReader::new(Failing(text.as_bytes())),
            format,
            "s",
        );
        let items: Vec<_> = r.collect();
        assert_eq!(items.len(), 3, "{format}");
        let e = items[2].1.as_ref().unwrap_err();
        assert!(matches!(e, LogError::Io { line: 3, .. }), "{e}");
        assert_eq!(e.field(), None);
        assert!(e.to_string().contains("disk on fire"));
    }
}

fn sample_line() -> impl Strategy<Value = String> {
    prop::sample::select(vec![APACHE, NGINX, NGINX_TIMED, VHOST, COMMON]).prop_map(String::from)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for format in [LogFormat::Auto, LogFormat::Combined, LogFormat::Common, LogFormat::VhostCombined] {
            for (n, item) in read_log(&bytes[..], format, "s") {
                prop_assert!(n >= 1);
                if let Err(e) = item {
                    prop_assert_eq!(e.line(), n);
                    let _ = e.to_string();
                }
            }
        }
    }

    #[test]
    fn mutated_lines_never_panic(
        line in sample_line(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut b = line.into_bytes();
        for (at, byte, op) in edits {
            let i = at.index(b.len() + 1);
            match op {
                0 => b.insert(i, byte),
                1 if i < b.len() => { b.remove(i); }
                _ if i < b.len() => b[i] = byte,
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&b);
        for format in LogFormat::CONCRETE.into_iter().chain([LogFormat::Auto]) {
            if let Ok(l) = parse_line(&text, format) {
                prop_assert!(l.format != LogFormat::Auto);
                let _ = classify(&l);
                let _ = l.to_event("s");
            }
        }
        let _ = read_log(&b[..], LogFormat::Auto, "s").count();
    }

    #[test]
    fn any_valid_time_roundtrips(
        secs in 0i64..253_402_300_799,
        off_min in -(23 * 60 + 59)..=(23i32 * 60 + 59),
    ) {
        let off = time::UtcOffset::from_whole_seconds(off_min * 60).unwrap();
        let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap().to_offset(off);
        let text = format!(
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} {}{:02}{:02}",
            t.day(),
            MONTHS[usize::from(u8::from(t.month())) - 1],
            t.year(),
            t.hour(),
            t.minute(),
            t.second(),
            if off_min < 0 { '-' } else { '+' },
            off_min.abs() / 60,
            off_min.abs() % 60,
        );
        prop_assume!((0..=9999).contains(&t.year()));
        prop_assert_eq!(parse_clf_time(&text), Ok(secs * 1000), "{}", text);
    }
}
