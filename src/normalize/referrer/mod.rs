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
mod tests;
