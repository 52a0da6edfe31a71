//! Referrer → host, registrable domain, channel. (Stub: full implementation
//! lands next.)

use serde::{Deserialize, Serialize};

/// Acquisition channel of a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// No referrer, or one on the page's own host.
    #[default]
    Direct = 0,
    /// A search engine (or AI assistant).
    Search = 1,
    /// A social network.
    Social = 2,
    /// A webmail host.
    Email = 3,
    /// Any other site.
    Referral = 4,
    /// The landing URL carried `utm_*`, `gclid` or `msclkid`.
    Campaign = 5,
}

impl Channel {
    /// Every channel, in code order.
    pub const ALL: [Channel; 6] = [
        Channel::Direct,
        Channel::Search,
        Channel::Social,
        Channel::Email,
        Channel::Referral,
        Channel::Campaign,
    ];

    /// The name used in reports and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "direct",
            Channel::Search => "search",
            Channel::Social => "social",
            Channel::Email => "email",
            Channel::Referral => "referral",
            Channel::Campaign => "campaign",
        }
    }

    /// The one-byte code stored on disk.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The channel of an on-disk code.
    pub fn from_code(code: u8) -> Option<Channel> {
        Channel::ALL.get(usize::from(code)).copied()
    }

    /// Parses a channel name.
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
/// by a Snowplow referer list loaded at run time.
#[derive(Clone, Debug, Default)]
pub struct ReferrerSources {}

impl ReferrerSources {
    /// The built-in table of search engines, social networks, webmail hosts
    /// and AI assistants.
    pub fn builtin() -> ReferrerSources {
        ReferrerSources {}
    }
}

/// Classifies a session's referrer. `page_host` is the landing page's host
/// (a referrer on it is direct); `campaign` is whether the landing URL had
/// `utm_*`, `gclid` or `msclkid`.
pub fn classify_referrer(
    referrer: Option<&str>,
    page_host: Option<&str>,
    campaign: bool,
    sources: &ReferrerSources,
) -> ReferrerInfo {
    let _ = (referrer, page_host, sources);
    ReferrerInfo {
        host: DIRECT.to_owned(),
        domain: DIRECT.to_owned(),
        channel: if campaign { Channel::Campaign } else { Channel::Direct },
    }
}
