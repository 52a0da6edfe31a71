//! Page URL → path, host and campaign.
//!
//! An event's `url` is an absolute URL or a path. [`parse_page`] keeps:
//!
//! - the **path**: case kept, query and fragment dropped, `/` when empty.
//!   For an absolute URL it is the [`url`] crate's path, the same string a
//!   browser's `location.pathname` gives (percent-escapes kept as written,
//!   raw spaces and non-ASCII characters escaped, `.`/`..` segments
//!   resolved). A path is kept byte for byte up to its `?` or `#`.
//! - the **host** of an absolute URL, lower-cased, `www.` kept (the
//!   referrer rules drop it on both sides when they compare hosts).
//! - the **campaign**: `utm_source`, `utm_medium`, `utm_campaign`,
//!   `utm_term` and `utm_content` from the query string (names matched
//!   ASCII-case-insensitively), percent-decoded (`+` is a space), trimmed,
//!   empty values ignored, the first non-empty value of a name winning and
//!   cut to [`MAX_CAMPAIGN_BYTES`].
//! - **`click_id`**: a non-empty `gclid` (Google Ads) or `msclkid` (Microsoft
//!   Ads) parameter.
//!
//! ## Quirks
//! - A string that is neither an absolute URL with a path nor a path (`::::`,
//!   `localhost:3000/a`, `about:blank`) is kept as given, minus query and
//!   fragment, without a `/` added: best effort, no error, no panic.
//! - `//example.com/a` is read as a path (it is what `location.pathname` of
//!   `https://site//example.com/a` would be), not as a scheme-relative URL.
//! - Campaign parameters in the fragment (`#utm_source=...`) are not read.

use serde::{Deserialize, Serialize};

use super::clip;

/// Longest campaign value kept, in bytes (cut on a character boundary).
pub const MAX_CAMPAIGN_BYTES: usize = 256;

/// Campaign attributes from a landing URL's `utm_*` parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// `utm_source`.
    pub source: Option<String>,
    /// `utm_medium`.
    pub medium: Option<String>,
    /// `utm_campaign`.
    pub campaign: Option<String>,
    /// `utm_term`.
    pub term: Option<String>,
    /// `utm_content`.
    pub content: Option<String>,
}

impl Campaign {
    /// Whether no `utm_*` parameter was present (with a non-empty value).
    ///
    /// ```
    /// use heatstore::normalize::parse_page;
    /// assert!(parse_page("/pricing").campaign.is_empty());
    /// assert!(!parse_page("/pricing?utm_medium=email").campaign.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.medium.is_none()
            && self.campaign.is_none()
            && self.term.is_none()
            && self.content.is_none()
    }
}

/// What a page URL normalizes to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// The path, case kept, `/` when empty; query and fragment dropped.
    pub path: String,
    /// The lower-cased host of an absolute URL, `None` for a bare path.
    pub host: Option<String>,
    /// `utm_*` parameters.
    pub campaign: Campaign,
    /// `gclid` or `msclkid` was present (paid click: channel campaign).
    pub click_id: bool,
}

/// Normalizes a page URL (absolute, or a path). The rules are in the module
/// docs. Never panics; any string gives a page.
///
/// # Examples
///
/// ```
/// use heatstore::normalize::parse_page;
///
/// let p = parse_page("https://Shop.Example.com/Pricing?utm_source=news&utm_campaign=spring%20sale#plans");
/// assert_eq!(p.path, "/Pricing");
/// assert_eq!(p.host.as_deref(), Some("shop.example.com"));
/// assert_eq!(p.campaign.source.as_deref(), Some("news"));
/// assert_eq!(p.campaign.campaign.as_deref(), Some("spring sale"));
/// assert!(!p.click_id);
///
/// let p = parse_page("/docs/start?gclid=abc123");
/// assert_eq!(p.path, "/docs/start");
/// assert_eq!(p.host, None);
/// assert!(p.click_id);
///
/// assert_eq!(parse_page("https://example.com").path, "/");
/// assert_eq!(parse_page("").path, "/");
/// ```
pub fn parse_page(url: &str) -> PageInfo {
    let raw = url.trim();
    let (path, host, query) = match absolute(raw) {
        Some(u) => {
            let host = u
                .host_str()
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase);
            (u.path().to_owned(), host, u.query().map(str::to_owned))
        }
        None => {
            let before_fragment = raw.split('#').next().unwrap_or("");
            match before_fragment.split_once('?') {
                Some((path, query)) => (path.to_owned(), None, Some(query.to_owned())),
                None => (before_fragment.to_owned(), None, None),
            }
        }
    };
    let (campaign, click_id) = query.as_deref().map(read_query).unwrap_or_default();
    PageInfo {
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path
        },
        host,
        campaign,
        click_id,
    }
}

/// `raw` as an absolute URL that has a path (not `mailto:x`, `about:blank`).
fn absolute(raw: &str) -> Option<url::Url> {
    url::Url::parse(raw).ok().filter(|u| !u.cannot_be_a_base())
}

/// Campaign and click id from a query string.
fn read_query(query: &str) -> (Campaign, bool) {
    let mut campaign = Campaign::default();
    let mut click_id = false;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let slot = match name.to_ascii_lowercase().as_str() {
            "utm_source" => &mut campaign.source,
            "utm_medium" => &mut campaign.medium,
            "utm_campaign" => &mut campaign.campaign,
            "utm_term" => &mut campaign.term,
            "utm_content" => &mut campaign.content,
            "gclid" | "msclkid" => {
                click_id = true;
                continue;
            }
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(clip(value, MAX_CAMPAIGN_BYTES).to_owned());
        }
    }
    (campaign, click_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_drop_query_and_fragment() {
        for (url, path) in [
            ("/", "/"),
            ("", "/"),
            ("   ", "/"),
            ("?a=1", "/"),
            ("#top", "/"),
            ("/a/b", "/a/b"),
            ("/a/b?x=1", "/a/b"),
            ("/a/b#frag", "/a/b"),
            ("/a/b#frag?not=query", "/a/b"),
            ("/a/b?x=1#frag", "/a/b"),
            ("/Case/Kept", "/Case/Kept"),
            ("/caf%C3%A9/%2f", "/caf%C3%A9/%2f"),
            ("/raw café", "/raw café"),
            ("//example.com/a", "//example.com/a"),
            ("https://example.com", "/"),
            ("https://example.com/", "/"),
            ("https://example.com?x=1", "/"),
            ("https://example.com/A/b/?x=1#y", "/A/b/"),
            ("https://example.com/caf%C3%A9", "/caf%C3%A9"),
            ("https://example.com/a/../b", "/b"),
            ("HTTPS://EXAMPLE.COM/Up", "/Up"),
            ("http://example.com:8080/p", "/p"),
        ] {
            assert_eq!(parse_page(url).path, path, "{url:?}");
        }
    }

    #[test]
    fn hosts_lower_cased_www_kept() {
        for (url, host) in [
            ("https://WWW.Example.COM/a", Some("www.example.com")),
            ("http://example.com:8080/p", Some("example.com")),
            ("/a", None),
            ("https://b\u{fc}cher.de/", Some("xn--bcher-kva.de")),
            ("custom://Host.Example/x", Some("host.example")),
            ("file:///tmp/x.html", None),
        ] {
            assert_eq!(parse_page(url).host.as_deref(), host, "{url:?}");
        }
    }

    #[test]
    fn campaign_extraction() {
        let p = parse_page(
            "https://example.com/l?utm_source=Newsletter&utm_medium=email&utm_campaign=spring+sale\
             &utm_term=running%20shoes&utm_content=hero-%C3%A9&other=1",
        );
        assert_eq!(
            p.campaign,
            Campaign {
                source: Some("Newsletter".into()),
                medium: Some("email".into()),
                campaign: Some("spring sale".into()),
                term: Some("running shoes".into()),
                content: Some("hero-é".into()),
            }
        );
        assert!(!p.click_id);
        // Path-only input, with a fragment after the query.
        let p = parse_page("/a/b?utm_source=x#f");
        assert_eq!(p.path, "/a/b");
        assert_eq!(p.campaign.source.as_deref(), Some("x"));
        // Empty values are ignored; the first non-empty value wins; names
        // are case-insensitive.
        let p = parse_page("/?utm_source=&utm_medium=%20&UTM_Source=b&utm_source=c");
        assert_eq!(p.campaign.source.as_deref(), Some("b"));
        assert_eq!(p.campaign.medium, None);
        assert!(parse_page("/?utm_source=").campaign.is_empty());
        // In the fragment: not read.
        assert!(parse_page("/#utm_source=x").campaign.is_empty());
        // Long values are cut on a character boundary.
        let long = "é".repeat(500);
        let p = parse_page(&format!("/?utm_campaign={long}"));
        let got = p.campaign.campaign.unwrap_or_default();
        assert!(got.len() <= MAX_CAMPAIGN_BYTES && got.len() >= MAX_CAMPAIGN_BYTES - 1);
        // Invalid percent-encoding is decoded lossily, never an error.
        let p = parse_page("/?utm_source=%ff%fe&utm_medium=%zz");
        assert_eq!(p.campaign.source.as_deref(), Some("\u{fffd}\u{fffd}"));
        assert_eq!(p.campaign.medium.as_deref(), Some("%zz"));
    }

    #[test]
    fn click_ids() {
        assert!(parse_page("https://example.com/?gclid=EAIaIQ").click_id);
        assert!(parse_page("/p?msclkid=abc").click_id);
        assert!(parse_page("/p?x=1&GCLID=abc").click_id);
        assert!(!parse_page("/p?gclid=").click_id);
        assert!(!parse_page("/p?fbclid=abc").click_id);
        assert!(!parse_page("/p#gclid=abc").click_id);
        let p = parse_page("/p?gclid=abc");
        assert!(p.campaign.is_empty());
    }

    #[test]
    fn garbage_does_not_panic() {
        for (url, path) in [
            ("::::", "::::"),
            ("localhost:3000/a?b", "localhost:3000/a"),
            ("about:blank", "about:blank"),
            ("mailto:a@b.c", "mailto:a@b.c"),
            ("http://", "http://"),
            ("http://[::1", "http://[::1"),
            ("\u{0}\u{ffff}", "\u{0}\u{ffff}"),
            ("????", "/"),
            ("%%%", "%%%"),
        ] {
            let p = parse_page(url);
            assert_eq!(p.path, path, "{url:?}");
            assert_eq!(p.host, None, "{url:?}");
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_string_gives_a_page(s in "\\PC*") {
                let p = parse_page(&s);
                prop_assert!(!p.path.is_empty());
                prop_assert!(!p.path.contains('?') || p.host.is_none());
            }

            #[test]
            fn url_like_strings_give_a_page(
                s in "(https?://|/|//)?[a-zA-Z0-9.:@%/?#=&_+\\[\\]-]{0,40}"
            ) {
                let p = parse_page(&s);
                prop_assert!(!p.path.is_empty());
                prop_assert!(!p.path.contains('#'));
                if let Some(h) = &p.host {
                    prop_assert_eq!(h.clone(), h.to_ascii_lowercase());
                }
            }
        }
    }
}
