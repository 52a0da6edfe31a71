//! Referrer → host, registrable domain and channel.
//!
//! [`classify_referrer`] turns a session's HTTP referrer into what the
//! Referrers report groups by:
//!
//! - **host**: the referrer URL's host, lower-cased, a trailing `.` and one
//!   leading `www.` dropped (`https://WWW.Google.co.uk/search` →
//!   `google.co.uk`). A referrer from an Android app
//!   (`android-app://com.google.android.gm/`) has the app's package name as
//!   host.
//! - **domain**: the host's registrable domain by the [public suffix list]
//!   (`news.bbc.co.uk` → `bbc.co.uk`); the host itself for IP addresses,
//!   single-label hosts and app package names.
//! - **channel**, first rule that applies:
//!   1. [`Channel::Campaign`] when the landing URL had `utm_*`, `gclid` or
//!      `msclkid` (the `campaign` argument), whatever the referrer.
//!   2. [`Channel::Direct`] when there is no referrer; when it is not a
//!      usable web referrer (unparsable, no host, or a scheme other than
//!      `http`, `https` and `android-app`: `about:blank`, `file:`,
//!      `chrome-extension:`, ...); or when its host equals the landing
//!      page's host (both compared lower-cased, without `www.`). Host and
//!      domain are then `(direct)` ([`DIRECT`]).
//!   3. The channel that [`ReferrerSources`] gives the host: search, social,
//!      email, ai, campaign (ad servers), or referral for hosts listed to
//!      keep them out of a broader entry (`docs.google.com` is not a search).
//!   4. [`Channel::Referral`].
//!
//! # The source table
//!
//! [`ReferrerSources::builtin`] is heatstore's own table of search engines,
//! social networks and webmail hosts (the list is in this file, `BUILTIN`).
//! **AI assistants** (`chatgpt.com`, `perplexity.ai`, `claude.ai`,
//! `gemini.google.com`, ...) are their own channel, [`Channel::Ai`]: their
//! visitors arrive from an answer, not from a list of results, and sites
//! want to see how many do. **Paid clicks** (`gclid`, `msclkid`,
//! `utm_medium=cpc`, ...) are [`Channel::Campaign`] by rule 1: every
//! tagged landing URL is a campaign, and `utm_medium` (a report grouping
//! of its own) tells paid from other campaigns. Mastodon and other federated networks run on
//! thousands of hosts and are not listed (they count as referral).
//!
//! An entry is a host (`facebook.com`), which also covers its subdomains
//! (`l.facebook.com`, `lm.facebook.com`), or a *brand* `name.*`
//! (`google.*`), which covers `name.` followed by any ICANN public suffix
//! (`google.com`, `google.co.uk`, `google.com.au`) and their subdomains.
//! Lookup goes from the most specific host to the least, trying at each
//! level the host entry, then the brand entry: `mail.google.com` (email) is
//! found before `google.*` (search). At the most specific level only, a
//! host whose first label is `mail`, `webmail`, `webmailer` or `email`,
//! optionally numbered (`webmail2`, `webmail1m`), below its registrable
//! domain (`webmail.example.org`, `mail.yandex.ru`) counts as email.
//!
//! **Ad servers** (`doubleclick.net`, `googleadservices.com`,
//! `googlesyndication.com`, ...) are [`Channel::Campaign`] by rule 3: a
//! visitor who arrives from one clicked an ad, even when the landing URL
//! carries no tag.
//!
//! Users may extend the table with [`ReferrerSources::add`] or with
//! Snowplow's referer list ([`ReferrerSources::load_snowplow_json`]; it is
//! GPL-licensed and not bundled). Search terms are never read or stored.
//!
//! [public suffix list]: https://publicsuffix.org

mod table;
use table::BUILTIN;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Acquisition channel of a session.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// No referrer, or one on the page's own host.
    #[default]
    Direct = 0,
    /// A search engine.
    Search = 1,
    /// A social network.
    Social = 2,
    /// A webmail host.
    Email = 3,
    /// Any other site.
    Referral = 4,
    /// The landing URL carried `utm_*`, `gclid` or `msclkid`.
    Campaign = 5,
    /// An AI assistant (`chatgpt.com`, `perplexity.ai`, `claude.ai`, ...).
    /// Code 6, new in this version: older versions reject a file holding
    /// it as corrupt.
    Ai = 6,
}

impl Channel {
    /// Every channel, in code order.
    pub const ALL: [Channel; 7] = [
        Channel::Direct,
        Channel::Search,
        Channel::Social,
        Channel::Email,
        Channel::Referral,
        Channel::Campaign,
        Channel::Ai,
    ];

    /// The name used in reports and filters.
    ///
    /// ```
    /// use heatstore::normalize::Channel;
    /// assert_eq!(Channel::Email.as_str(), "email");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "direct",
            Channel::Search => "search",
            Channel::Social => "social",
            Channel::Email => "email",
            Channel::Referral => "referral",
            Channel::Campaign => "campaign",
            Channel::Ai => "ai",
        }
    }

    /// The one-byte code stored on disk.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The channel of an on-disk code; `None` for a code no channel has.
    ///
    /// ```
    /// use heatstore::normalize::Channel;
    /// assert_eq!(Channel::from_code(Channel::Social.code()), Some(Channel::Social));
    /// assert_eq!(Channel::from_code(7), None);
    /// ```
    pub fn from_code(code: u8) -> Option<Channel> {
        Channel::ALL.get(usize::from(code)).copied()
    }

    /// Parses a channel name (`direct`, `search`, ...).
    ///
    /// ```
    /// use heatstore::normalize::Channel;
    /// assert_eq!(Channel::parse("referral"), Some(Channel::Referral));
    /// assert_eq!(Channel::parse("organic"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// The host standing for "no referrer" in reports.
pub const DIRECT: &str = "(direct)";

/// What a referrer normalizes to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferrerInfo {
    /// Lower-cased host without a leading `www.`, or `(direct)`.
    pub host: String,
    /// Registrable domain of the host (public suffix list), or `(direct)`.
    pub domain: String,
    /// Channel.
    pub channel: Channel,
}

/// Known referrer sources: heatstore's built-in table, optionally extended
/// by [`ReferrerSources::add`] or a Snowplow referer list loaded at run
/// time. See the module docs for the matching rules.
#[derive(Clone, Debug, Default)]
pub struct ReferrerSources {
    /// Hosts (lower-case, no `www.`), each also covering its subdomains.
    hosts: HashMap<String, Channel>,
    /// Brands: `google` for `google.*`, `mail.google` for `mail.google.*`.
    brands: HashMap<String, Channel>,
}

impl ReferrerSources {
    /// The built-in table of search engines, social networks, webmail hosts
    /// and AI assistants (the latter as [`Channel::Search`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use heatstore::normalize::{Channel, ReferrerSources};
    ///
    /// let sources = ReferrerSources::builtin();
    /// assert_eq!(sources.lookup("google.co.uk"), Some(Channel::Search));
    /// assert_eq!(sources.lookup("mail.google.com"), Some(Channel::Email));
    /// assert_eq!(sources.lookup("l.facebook.com"), Some(Channel::Social));
    /// assert_eq!(sources.lookup("example.org"), None);
    /// ```
    pub fn builtin() -> ReferrerSources {
        let mut sources = ReferrerSources::default();
        for &(pattern, channel) in BUILTIN {
            sources.add(pattern, channel);
        }
        sources
    }

    /// Adds (or replaces) one entry: a host such as `news.example.com`
    /// (covering its subdomains; a leading `www.` is ignored) or a brand
    /// such as `example.*` (any ICANN public suffix). `Campaign` marks an ad
    /// server (a click from it is a paid visit). `Direct`, an empty pattern
    /// or one with `/`, spaces or `*` elsewhere are refused and `false` is
    /// returned.
    ///
    /// ```
    /// use heatstore::normalize::{Channel, ReferrerSources};
    ///
    /// let mut sources = ReferrerSources::builtin();
    /// assert!(sources.add("intranet.example.com", Channel::Referral));
    /// assert!(sources.add("mysearch.*", Channel::Search));
    /// assert_eq!(sources.lookup("mysearch.de"), Some(Channel::Search));
    /// assert!(!sources.add("example.com/path", Channel::Search));
    /// ```
    pub fn add(&mut self, pattern: &str, channel: Channel) -> bool {
        if channel == Channel::Direct {
            return false;
        }
        let lower = pattern.trim().to_ascii_lowercase();
        let (name, brand) = match lower.strip_suffix(".*") {
            Some(stem) => (stem, true),
            None => (lower.as_str(), false),
        };
        let name = name.trim_start_matches("*.").trim_end_matches('.');
        let name = name.strip_prefix("www.").unwrap_or(name);
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains("..")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !valid {
            return false;
        }
        let map = if brand {
            &mut self.brands
        } else {
            &mut self.hosts
        };
        map.insert(name.to_owned(), channel);
        true
    }

    /// Number of entries (hosts and brands).
    pub fn len(&self) -> usize {
        self.hosts.len() + self.brands.len()
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel the table gives a host (lower-case, without `www.`, as
    /// [`ReferrerInfo::host`] holds it), most specific entry first; `None`
    /// when no entry covers it (a referral).
    ///
    /// ```
    /// use heatstore::normalize::{Channel, ReferrerSources};
    ///
    /// let sources = ReferrerSources::builtin();
    /// assert_eq!(sources.lookup("t.co"), Some(Channel::Social));
    /// assert_eq!(sources.lookup("webmail.example.org"), Some(Channel::Email));
    /// assert_eq!(sources.lookup("chatgpt.com"), Some(Channel::Ai));
    /// ```
    pub fn lookup(&self, host: &str) -> Option<Channel> {
        let host = normalize_host(host);
        let host = host.as_str();
        let registrable = psl::domain(host.as_bytes());
        let domain = registrable.and_then(|d| std::str::from_utf8(d.trim().as_bytes()).ok());
        // The host without its public suffix, for brand entries.
        let stem = registrable.and_then(|d| {
            let suffix = d.suffix().trim();
            if suffix.typ() != Some(psl::Type::Icann) {
                return None;
            }
            let len = host.len().checked_sub(suffix.as_bytes().len() + 1)?;
            host.get(..len)
        });
        let mut exact = Some(host);
        let mut stem = stem;
        let mut most_specific = true;
        while exact.is_some() || stem.is_some() {
            if let Some(c) = exact.and_then(|h| self.hosts.get(h)) {
                return Some(*c);
            }
            if let Some(c) = stem.and_then(|s| self.brands.get(s)) {
                return Some(*c);
            }
            if most_specific && is_webmail_host(host, domain) {
                return Some(Channel::Email);
            }
            most_specific = false;
            exact = exact.and_then(parent).filter(|h| h.contains('.'));
            stem = stem.and_then(parent);
        }
        None
    }

    /// Merges a [Snowplow referer list] in its JSON form into the table:
    /// the domains of its `search`, `social` and `email` categories become
    /// entries of that channel, replacing built-in entries for the same
    /// host. Other categories (`unknown`, `paid`, ...) are skipped, and so
    /// are domains with a path (`google.com/products`: heatstore keeps hosts
    /// only) and the `parameters` lists (search terms are never stored).
    /// Returns how many entries were added. The list is GPL-licensed, so
    /// heatstore does not bundle it.
    ///
    /// # Errors
    ///
    /// [`ReferrerSourcesError`] when the text is not JSON of Snowplow's
    /// shape; the table is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use heatstore::normalize::{Channel, ReferrerSources};
    ///
    /// let json = r#"{
    ///   "search": {"Example Search": {"domains": ["www.examplesearch.net"], "parameters": ["q"]}},
    ///   "email": {"Example Mail": {"domains": ["inbox.example.net"]}},
    ///   "unknown": {"Other": {"domains": ["other.example"]}}
    /// }"#;
    /// let mut sources = ReferrerSources::builtin();
    /// assert_eq!(sources.load_snowplow_json(json)?, 2);
    /// assert_eq!(sources.lookup("examplesearch.net"), Some(Channel::Search));
    /// assert_eq!(sources.lookup("inbox.example.net"), Some(Channel::Email));
    /// assert_eq!(sources.lookup("other.example"), None);
    /// assert!(sources.load_snowplow_json("[1, 2]").is_err());
    /// # Ok::<(), heatstore::normalize::ReferrerSourcesError>(())
    /// ```
    ///
    /// [Snowplow referer list]: https://github.com/snowplow-referer-parser/referer-parser
    pub fn load_snowplow_json(&mut self, json: &str) -> Result<usize, ReferrerSourcesError> {
        let list: BTreeMap<String, BTreeMap<String, SnowplowSource>> =
            serde_json::from_str(json).map_err(|e| ReferrerSourcesError {
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        let mut added = 0;
        for (category, sources) in &list {
            let channel = match category.as_str() {
                "search" => Channel::Search,
                "social" => Channel::Social,
                "email" => Channel::Email,
                _ => continue,
            };
            for domain in sources.values().flat_map(|s| &s.domains) {
                if !domain.contains('/') && self.add(domain, channel) {
                    added += 1;
                }
            }
        }
        Ok(added)
    }
}

/// One source of a Snowplow referer list; `parameters` is ignored.
#[derive(Deserialize)]
struct SnowplowSource {
    #[serde(default)]
    domains: Vec<String>,
}

/// A referer list that [`ReferrerSources::load_snowplow_json`] could not
/// read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReferrerSourcesError {
    /// Line (1-based) where reading stopped.
    pub line: usize,
    /// Column (1-based) where reading stopped.
    pub column: usize,
    /// What was wrong there.
    pub reason: String,
}

impl fmt::Display for ReferrerSourcesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a Snowplow referer list in JSON ({}); expected \
             {{\"search\": {{\"Name\": {{\"domains\": [\"host\", ...]}}}}, \"social\": ..., \
             \"email\": ...}}; convert referers.yml to JSON first",
            self.reason
        )
    }
}

impl std::error::Error for ReferrerSourcesError {}

/// `a.b.c` → `b.c`.
fn parent(host: &str) -> Option<&str> {
    host.split_once('.').map(|(_, rest)| rest)
}

/// `mail.…` or `webmail.…` below the registrable domain.
fn is_webmail_host(host: &str, domain: Option<&str>) -> bool {
    let below_domain = match domain {
        Some(d) => host.len() > d.len(),
        None => host.split('.').count() >= 3,
    };
    let first = host.split('.').next().unwrap_or("");
    below_domain && is_mail_label(first)
}

/// `mail`, `webmail`, `email`, `webmailer`, optionally numbered
/// (`webmail1`, `mail2`, `webmail1m`: providers number their webmail
/// front ends).
fn is_mail_label(label: &str) -> bool {
    let rest = ["webmailer", "webmail", "email", "mail"]
        .iter()
        .find_map(|p| label.strip_prefix(p));
    match rest {
        None => false,
        Some("") => true,
        Some(r) => {
            let digits = r.trim_start_matches(|c: char| c.is_ascii_digit());
            digits.len() < r.len()
                && digits.len() <= 1
                && digits.bytes().all(|b| b.is_ascii_lowercase())
        }
    }
}

/// Lower-cases a host and drops a trailing `.`, a `:port` and one leading
/// `www.` (only when a dot remains after it: `www.com` stays).
fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let host = match host.rsplit_once(':') {
        Some((h, port))
            if (!h.contains(':') || h.ends_with(']'))
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => host,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match host.strip_prefix("www.") {
        Some(rest) if rest.contains('.') => rest.to_owned(),
        _ => host,
    }
}

/// A usable referrer's host and registrable domain.
struct RefHost {
    host: String,
    domain: String,
}

fn parse_referrer(raw: &str) -> Option<RefHost> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let url = match url::Url::parse(raw) {
        Ok(url) => url,
        // `example.com/page`: a host without a scheme.
        Err(url::ParseError::RelativeUrlWithoutBase)
            if raw
                .split(['/', '?', '#'])
                .next()
                .is_some_and(|h| h.contains('.') && !h.contains(' ')) =>
        {
            url::Url::parse(&format!("http://{raw}")).ok()?
        }
        Err(_) => return None,
    };
    let app = match url.scheme() {
        "http" | "https" => false,
        "android-app" => true,
        _ => return None,
    };
    let host = normalize_host(url.host_str()?);
    if host.is_empty() {
        return None;
    }
    let domain = match url.host() {
        Some(url::Host::Domain(_)) if !app => psl::domain_str(&host).unwrap_or(&host).to_owned(),
        _ => host.clone(),
    };
    Some(RefHost { host, domain })
}

/// Classifies a session's referrer. `page_host` is the landing page's host
/// (a referrer on it is direct); `campaign` is whether the landing URL had
/// `utm_*`, `gclid` or `msclkid`. The rules are in the module docs. Never
/// panics; any string is accepted.
///
/// # Examples
///
/// ```
/// use heatstore::normalize::{classify_referrer, Channel, ReferrerSources};
///
/// let sources = ReferrerSources::builtin();
/// let r = classify_referrer(
///     Some("https://www.google.co.uk/"),
///     Some("shop.example.com"),
///     false,
///     &sources,
/// );
/// assert_eq!(r.host, "google.co.uk");
/// assert_eq!(r.domain, "google.co.uk");
/// assert_eq!(r.channel, Channel::Search);
///
/// let r = classify_referrer(Some("https://news.example.org/a"), None, false, &sources);
/// assert_eq!((r.host.as_str(), r.domain.as_str()), ("news.example.org", "example.org"));
/// assert_eq!(r.channel, Channel::Referral);
///
/// // A referrer on the page's own host is direct.
/// let r = classify_referrer(
///     Some("https://example.com/cart"),
///     Some("www.example.com"),
///     false,
///     &sources,
/// );
/// assert_eq!((r.host.as_str(), r.channel), ("(direct)", Channel::Direct));
///
/// // `utm_*` on the landing page wins.
/// let r = classify_referrer(Some("https://t.co/x"), None, true, &sources);
/// assert_eq!((r.host.as_str(), r.channel), ("t.co", Channel::Campaign));
/// ```
pub fn classify_referrer(
    referrer: Option<&str>,
    page_host: Option<&str>,
    campaign: bool,
    sources: &ReferrerSources,
) -> ReferrerInfo {
    let page_host = page_host.map(normalize_host);
    let parsed = referrer
        .and_then(parse_referrer)
        .filter(|r| page_host.as_deref() != Some(r.host.as_str()));
    let channel = match &parsed {
        _ if campaign => Channel::Campaign,
        None => Channel::Direct,
        Some(r) => sources.lookup(&r.host).unwrap_or(Channel::Referral),
    };
    match parsed {
        Some(RefHost { host, domain }) => ReferrerInfo {
            host,
            domain,
            channel,
        },
        None => ReferrerInfo {
            host: DIRECT.to_owned(),
            domain: DIRECT.to_owned(),
            channel,
        },
    }
}

#[cfg(test)]
mod tests {
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
}
