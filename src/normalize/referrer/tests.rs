//! Tests of the referrer classification and the source table.

use super::*;

fn classify(referrer: Option<&str>, page_host: Option<&str>) -> ReferrerInfo {
    classify_referrer(referrer, page_host, false, &ReferrerSources::builtin())
}

fn check(referrer: &str, host: &str, domain: &str, channel: Channel) {
    let r = classify(Some(referrer), Some("example.com"));
    assert_eq!(
        (r.host.as_str(), r.domain.as_str(), r.channel),
        (host, domain, channel),
        "{referrer}"
    );
}

#[test]
fn missing_and_garbage_are_direct() {
    for referrer in [
        None,
        Some(""),
        Some("   "),
        Some("::::"),
        Some("not a url"),
        Some("http://"),
        Some("https://exa mple.com/"),
        Some("about:blank"),
        Some("javascript:void(0)"),
        Some("file:///C:/Users/me/page.html"),
        Some("chrome-extension://abcdef/popup.html"),
        Some("data:text/html,hi"),
        Some("\u{0}\u{ffff}"),
        Some("http://[::1"),
    ] {
        let r = classify(referrer, Some("example.com"));
        assert_eq!(r.channel, Channel::Direct, "{referrer:?}");
        assert_eq!(r.host, DIRECT);
        assert_eq!(r.domain, DIRECT);
    }
}

#[test]
fn self_referral_is_direct() {
    for (referrer, page) in [
        ("https://example.com/a", "example.com"),
        ("https://www.example.com/a", "example.com"),
        ("https://EXAMPLE.com/a", "www.Example.com"),
        ("http://example.com./a", "example.com"),
        ("https://example.com:8443/a", "example.com"),
    ] {
        let r = classify(Some(referrer), Some(page));
        assert_eq!(r.channel, Channel::Direct, "{referrer} on {page}");
        assert_eq!(r.host, DIRECT);
    }
    // Another subdomain of the same site is a referral.
    let r = classify(Some("https://blog.example.com/"), Some("example.com"));
    assert_eq!(r.channel, Channel::Referral);
    assert_eq!(r.host, "blog.example.com");
    assert_eq!(r.domain, "example.com");
}

#[test]
fn search_engines() {
    check(
        "https://www.google.com/",
        "google.com",
        "google.com",
        Channel::Search,
    );
    check(
        "https://www.google.co.uk/",
        "google.co.uk",
        "google.co.uk",
        Channel::Search,
    );
    check(
        "https://google.com.au/search?q=x",
        "google.com.au",
        "google.com.au",
        Channel::Search,
    );
    check(
        "https://www.bing.com/",
        "bing.com",
        "bing.com",
        Channel::Search,
    );
    check(
        "https://duckduckgo.com/",
        "duckduckgo.com",
        "duckduckgo.com",
        Channel::Search,
    );
    check(
        "https://search.yahoo.co.jp/",
        "search.yahoo.co.jp",
        "yahoo.co.jp",
        Channel::Search,
    );
    check(
        "https://yandex.ru/search/",
        "yandex.ru",
        "yandex.ru",
        Channel::Search,
    );
    check(
        "https://search.brave.com/",
        "search.brave.com",
        "brave.com",
        Channel::Search,
    );
    check(
        "https://brave.com/",
        "brave.com",
        "brave.com",
        Channel::Referral,
    );
    check(
        "https://www.ecosia.org/",
        "ecosia.org",
        "ecosia.org",
        Channel::Search,
    );
    check(
        "https://chatgpt.com/",
        "chatgpt.com",
        "chatgpt.com",
        Channel::Ai,
    );
    check(
        "https://www.perplexity.ai/",
        "perplexity.ai",
        "perplexity.ai",
        Channel::Ai,
    );
    check(
        "https://gemini.google.com/",
        "gemini.google.com",
        "google.com",
        Channel::Ai,
    );
    check(
        "https://docs.google.com/d/1",
        "docs.google.com",
        "google.com",
        Channel::Referral,
    );
    // A brand under a private suffix is not the brand.
    check(
        "https://google.blogspot.com/",
        "google.blogspot.com",
        "google.blogspot.com",
        Channel::Referral,
    );
    check(
        "android-app://com.google.android.googlequicksearchbox/",
        "com.google.android.googlequicksearchbox",
        "com.google.android.googlequicksearchbox",
        Channel::Search,
    );
}

#[test]
fn social_networks() {
    check(
        "https://l.facebook.com/l.php?u=x",
        "l.facebook.com",
        "facebook.com",
        Channel::Social,
    );
    check(
        "https://lm.facebook.com/",
        "lm.facebook.com",
        "facebook.com",
        Channel::Social,
    );
    check(
        "https://m.facebook.com/",
        "m.facebook.com",
        "facebook.com",
        Channel::Social,
    );
    check("https://t.co/abc", "t.co", "t.co", Channel::Social);
    check("https://x.com/", "x.com", "x.com", Channel::Social);
    check(
        "https://www.linkedin.com/feed/",
        "linkedin.com",
        "linkedin.com",
        Channel::Social,
    );
    check("https://lnkd.in/abc", "lnkd.in", "lnkd.in", Channel::Social);
    check(
        "https://old.reddit.com/r/rust",
        "old.reddit.com",
        "reddit.com",
        Channel::Social,
    );
    check(
        "https://news.ycombinator.com/",
        "news.ycombinator.com",
        "ycombinator.com",
        Channel::Social,
    );
    check(
        "https://www.ycombinator.com/",
        "ycombinator.com",
        "ycombinator.com",
        Channel::Referral,
    );
    check(
        "https://www.pinterest.co.uk/",
        "pinterest.co.uk",
        "pinterest.co.uk",
        Channel::Social,
    );
    check("https://bsky.app/", "bsky.app", "bsky.app", Channel::Social);
    check(
        "android-app://com.facebook.katana/",
        "com.facebook.katana",
        "com.facebook.katana",
        Channel::Social,
    );
}

#[test]
fn webmail() {
    check(
        "https://mail.google.com/mail/u/0/",
        "mail.google.com",
        "google.com",
        Channel::Email,
    );
    check(
        "https://outlook.live.com/",
        "outlook.live.com",
        "live.com",
        Channel::Email,
    );
    check(
        "https://mail.yahoo.com/",
        "mail.yahoo.com",
        "yahoo.com",
        Channel::Email,
    );
    check(
        "https://mail.yahoo.co.jp/",
        "mail.yahoo.co.jp",
        "yahoo.co.jp",
        Channel::Email,
    );
    check(
        "https://mail.yandex.ru/",
        "mail.yandex.ru",
        "yandex.ru",
        Channel::Email,
    );
    check(
        "https://webmail.example.org/",
        "webmail.example.org",
        "example.org",
        Channel::Email,
    );
    check(
        "https://eur01.safelinks.protection.outlook.com/?url=x",
        "eur01.safelinks.protection.outlook.com",
        "outlook.com",
        Channel::Email,
    );
    check(
        "android-app://com.google.android.gm/",
        "com.google.android.gm",
        "com.google.android.gm",
        Channel::Email,
    );
    // `mail.ru` is a portal, not a mail host.
    check("https://mail.ru/", "mail.ru", "mail.ru", Channel::Referral);
}

/// Regional mail and search providers, their webmail and redirect
/// hosts, and enterprise social hosts.
#[test]
fn regional_and_enterprise_hosts() {
    use Channel::{Email, Referral, Search, Social};
    let cases: &[(&str, &str, Channel)] = &[
        // GMX and Web.de: webmail, redirector, portal search.
        ("https://navigator-bs.gmx.net/mail", "gmx.net", Email),
        (
            "https://deref-gmx.net/mail/client/x/dereferrer/?redirectUrl=y",
            "deref-gmx.net",
            Email,
        ),
        ("https://suche.gmx.net/web?q=x", "gmx.net", Search),
        ("https://navigator.web.de/", "web.de", Email),
        ("https://3c-bap.web.de/mail/client/", "web.de", Email),
        ("https://deref-web.de/mail/client/x", "deref-web.de", Email),
        ("https://suche.web.de/web?q=x", "web.de", Search),
        ("https://web.de/magazine/", "web.de", Referral),
        // T-Online, Orange, Ionos / 1&1, Bluewin, UPC.
        ("https://email.t-online.de/em", "t-online.de", Email),
        (
            "https://suche.t-online.de/fast-cgi/tsc?q=x",
            "t-online.de",
            Search,
        ),
        (
            "https://www.t-online.de/nachrichten/",
            "t-online.de",
            Referral,
        ),
        ("https://messagerie.orange.fr/", "orange.fr", Email),
        ("https://mail.orange.fr/appsuite/", "orange.fr", Email),
        ("https://lemoteur.orange.fr/?kw=x", "orange.fr", Search),
        ("https://email.ionos.de/appsuite/", "ionos.de", Email),
        ("https://webmailer.1und1.de/", "1und1.de", Email),
        ("https://email.bluewin.ch/", "bluewin.ch", Email),
        ("https://search.bluewin.ch/", "bluewin.ch", Search),
        ("https://webmail.upcmail.ch/", "upcmail.ch", Email),
        ("https://mail.aol.com/webmail-std/", "aol.com", Email),
        ("https://search.aol.com/aol/search?q=x", "aol.com", Search),
        // Yandex, Seznam, Naver, Baidu, Rambler.
        ("https://yandex.ru/search/?text=x", "yandex.ru", Search),
        ("https://mail.yandex.com.tr/", "yandex.com.tr", Email),
        ("https://dzen.ru/a/x", "dzen.ru", Social),
        ("https://search.seznam.cz/?q=x", "seznam.cz", Search),
        ("https://email.seznam.cz/", "seznam.cz", Email),
        (
            "https://m.search.naver.com/search.naver?query=x",
            "naver.com",
            Search,
        ),
        ("https://mail.naver.com/", "naver.com", Email),
        ("https://kin.naver.com/qna/", "naver.com", Social),
        ("https://news.naver.com/", "naver.com", Referral),
        ("https://www.baidu.com/link?url=x", "baidu.com", Search),
        ("https://tieba.baidu.com/p/1", "baidu.com", Social),
        ("https://baike.baidu.com/item/x", "baidu.com", Referral),
        (
            "https://nova.rambler.ru/search?query=x",
            "rambler.ru",
            Search,
        ),
        ("https://mail.rambler.ru/", "rambler.ru", Email),
        // Enterprise social, with Workplace's link shims.
        ("https://l.workplace.com/l.php?u=x", "workplace.com", Social),
        (
            "https://lm.workplace.com/l.php?u=x",
            "workplace.com",
            Social,
        ),
        (
            "https://acme.workplace.com/groups/1",
            "workplace.com",
            Social,
        ),
        ("https://web.yammer.com/main/", "yammer.com", Social),
        ("https://teams.microsoft.com/", "microsoft.com", Social),
        (
            "https://slack-redir.net/link?url=x",
            "slack-redir.net",
            Social,
        ),
        ("https://app.slack.com/client/T1", "slack.com", Social),
    ];
    for &(referrer, domain, channel) in cases {
        let r = classify(Some(referrer), Some("example.com"));
        assert_eq!(
            (r.domain.as_str(), r.channel),
            (domain, channel),
            "{referrer}"
        );
    }
}

#[test]
fn referrals_and_odd_hosts() {
    check(
        "https://news.bbc.co.uk/x",
        "news.bbc.co.uk",
        "bbc.co.uk",
        Channel::Referral,
    );
    check(
        "http://192.168.1.10:8080/x",
        "192.168.1.10",
        "192.168.1.10",
        Channel::Referral,
    );
    check(
        "http://[2001:db8::1]/",
        "[2001:db8::1]",
        "[2001:db8::1]",
        Channel::Referral,
    );
    check(
        "http://intranet/",
        "intranet",
        "intranet",
        Channel::Referral,
    );
    check("https://www.com/", "www.com", "www.com", Channel::Referral);
    check(
        "https://user.github.io/blog",
        "user.github.io",
        "user.github.io",
        Channel::Referral,
    );
    // No scheme: read as http.
    check(
        "google.de/search",
        "google.de",
        "google.de",
        Channel::Search,
    );
    check(
        "https://b\u{fc}cher.de/",
        "xn--bcher-kva.de",
        "xn--bcher-kva.de",
        Channel::Referral,
    );
}

#[test]
fn campaign_flag_wins() {
    let sources = ReferrerSources::builtin();
    let r = classify_referrer(
        Some("https://www.google.com/"),
        Some("example.com"),
        true,
        &sources,
    );
    assert_eq!(
        (r.host.as_str(), r.channel),
        ("google.com", Channel::Campaign)
    );
    let r = classify_referrer(None, Some("example.com"), true, &sources);
    assert_eq!(
        (r.host.as_str(), r.domain.as_str(), r.channel),
        (DIRECT, DIRECT, Channel::Campaign)
    );
    let r = classify_referrer(
        Some("https://example.com/"),
        Some("example.com"),
        true,
        &sources,
    );
    assert_eq!((r.host.as_str(), r.channel), (DIRECT, Channel::Campaign));
}

#[test]
fn empty_table_still_classifies() {
    let sources = ReferrerSources::default();
    assert!(sources.is_empty());
    let r = classify_referrer(Some("https://www.google.com/"), None, false, &sources);
    assert_eq!(r.channel, Channel::Referral);
    assert!(ReferrerSources::builtin().len() > 100);
}

#[test]
fn add_validates_patterns() {
    let mut s = ReferrerSources::default();
    assert!(s.add("WWW.Example.COM", Channel::Social));
    assert_eq!(s.lookup("sub.example.com"), Some(Channel::Social));
    assert!(s.add("*.example.net", Channel::Email));
    assert_eq!(s.lookup("example.net"), Some(Channel::Email));
    for bad in ["", ".", "*", "a/b", "a b", "a..b", ".a", "a.*.b"] {
        assert!(!s.add(bad, Channel::Search), "{bad:?}");
    }
    assert!(!s.add("example.org", Channel::Direct));
    assert!(s.add("ads.example.org", Channel::Campaign));
}

#[test]
fn regional_webmail_redirectors_and_ad_servers() {
    let s = ReferrerSources::builtin();
    for (host, want) in [
        ("webmail1m.orange.fr", Channel::Email),
        ("webmail2.example.net", Channel::Email),
        ("email.example.org", Channel::Email),
        ("deref-gmx.de", Channel::Email),
        ("deref-gmx.at", Channel::Email),
        ("deref-1und1.de", Channel::Email),
        ("rich-v01.bluewin.ch", Channel::Email),
        ("search.bluewin.ch", Channel::Search),
        ("aolsearch.com", Channel::Search),
        ("tdsf.doubleclick.net", Channel::Campaign),
        ("adservice.google.com", Channel::Campaign),
        ("character.ai", Channel::Ai),
        // Not mail: a word that merely starts with it, or the domain itself.
        ("mailchimp.com", Channel::Referral),
        ("mailing.example.com", Channel::Referral),
        ("mail.ru", Channel::Referral),
    ] {
        assert_eq!(s.lookup(host).unwrap_or(Channel::Referral), want, "{host}");
    }
}

#[test]
fn snowplow_list_merges() {
    let json = r#"{
        "search": {
            "Google": {"domains": ["www.google.com", "google.com/products"], "parameters": ["q"]},
            "Example": {"domains": ["find.example"], "parameters": ["q"]}
        },
        "social": {"Example Social": {"domains": ["friends.example", "docs.google.com"]}},
        "email": {"Example Mail": {"domains": ["post.example"]}},
        "unknown": {"Ads": {"domains": ["ads.example"]}},
        "paid": {"Ads": {"domains": ["paid.example"]}}
    }"#;
    let mut s = ReferrerSources::builtin();
    assert_eq!(s.load_snowplow_json(json), Ok(5));
    assert_eq!(s.lookup("find.example"), Some(Channel::Search));
    assert_eq!(s.lookup("m.friends.example"), Some(Channel::Social));
    assert_eq!(s.lookup("post.example"), Some(Channel::Email));
    assert_eq!(s.lookup("ads.example"), None);
    assert_eq!(s.lookup("paid.example"), None);
    // Loaded entries replace built-in ones for the same host.
    assert_eq!(s.lookup("docs.google.com"), Some(Channel::Social));
    assert_eq!(s.lookup("mail.google.com"), Some(Channel::Email));
}

#[test]
fn snowplow_errors_leave_table_unchanged() {
    let mut s = ReferrerSources::builtin();
    let before = s.len();
    for bad in [
        "",
        "[]",
        "{",
        r#"{"search": {"G": {"domains": "google.com"}}}"#,
        r#"{"search": [1]}"#,
    ] {
        let e = s.load_snowplow_json(bad).unwrap_err();
        assert!(e.to_string().contains("Snowplow"), "{e}");
    }
    assert_eq!(s.len(), before);
    assert_eq!(s.load_snowplow_json("{}"), Ok(0));
}

#[test]
fn channel_codes_round_trip() {
    for c in Channel::ALL {
        assert_eq!(Channel::from_code(c.code()), Some(c));
        assert_eq!(Channel::parse(c.as_str()), Some(c));
    }
    // The codes on disk never change (docs/format.md 4.3.8).
    let codes: Vec<(&str, u8)> = Channel::ALL
        .iter()
        .map(|c| (c.as_str(), c.code()))
        .collect();
    assert_eq!(
        codes,
        [
            ("direct", 0),
            ("search", 1),
            ("social", 2),
            ("email", 3),
            ("referral", 4),
            ("campaign", 5),
            ("ai", 6)
        ]
    );
    assert_eq!(Channel::from_code(7), None);
}

/// AI assistants are their own channel; a tagged landing URL (paid
/// click ids included) is a campaign whatever the referrer.
#[test]
fn ai_assistants_and_paid_clicks() {
    for host in [
        "chatgpt.com",
        "claude.ai",
        "copilot.microsoft.com",
        "chat.mistral.ai",
    ] {
        let r = classify(Some(&format!("https://{host}/")), Some("example.com"));
        assert_eq!(r.channel, Channel::Ai, "{host}");
    }
    let paid = classify_referrer(
        Some("https://chatgpt.com/"),
        Some("example.com"),
        true,
        &ReferrerSources::builtin(),
    );
    assert_eq!(paid.channel, Channel::Campaign);
}

#[test]
fn normalize_host_rules() {
    assert_eq!(normalize_host("WWW.Example.COM."), "example.com");
    assert_eq!(normalize_host("example.com:8080"), "example.com");
    assert_eq!(normalize_host("www.com"), "www.com");
    assert_eq!(normalize_host("[::1]"), "[::1]");
    assert_eq!(normalize_host("[::1]:8080"), "[::1]");
    assert_eq!(normalize_host(""), "");
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_referrer_is_classified(
            r in "\\PC*",
            page in proptest::option::of("\\PC{0,20}"),
            campaign in any::<bool>(),
        ) {
            let sources = ReferrerSources::builtin();
            let info = classify_referrer(Some(&r), page.as_deref(), campaign, &sources);
            prop_assert_eq!(campaign, info.channel == Channel::Campaign);
            prop_assert_eq!(info.host == DIRECT, info.domain == DIRECT);
        }

        #[test]
        fn url_like_referrers_are_classified(
            r in "(https?://|android-app://)?(www\\.)?[a-zA-Z0-9.:@%_\\[\\]-]{0,30}(/[a-z?=&#]{0,10})?"
        ) {
            let sources = ReferrerSources::builtin();
            let info = classify_referrer(Some(&r), Some("example.com"), false, &sources);
            prop_assert!(!info.host.is_empty());
            prop_assert!(!info.host.starts_with("www.") || !info.host[4..].contains('.'));
            prop_assert_eq!(info.host == DIRECT, info.channel == Channel::Direct);
            prop_assert_eq!(info.host.clone(), info.host.to_ascii_lowercase());
        }

        #[test]
        fn any_pattern_can_be_offered(p in "\\PC{0,30}") {
            let mut sources = ReferrerSources::default();
            let _ = sources.add(&p, Channel::Social);
            let _ = sources.lookup(&p);
        }
    }
}
