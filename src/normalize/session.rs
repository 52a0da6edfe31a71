//! What normalization derives for a session from its first pageview: its
//! [`SessionAttrs`] (entry page, referrer and channel, campaign, device,
//! browser, OS, screen, language, time zone).

use serde::{Deserialize, Serialize};

use super::{
    classify_referrer, parse_page, primary_language, screen_size, Channel, Device, DeviceClass,
    PageInfo, ReferrerSources,
};
use crate::event::{Event, EventRef};

/// A session's attributes, from its first pageview.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAttrs {
    /// Page path of the first pageview.
    pub entry_page: String,
    /// Referrer host (`(direct)` when none).
    pub referrer_host: String,
    /// Registrable domain of the referrer (`(direct)` when none).
    pub referrer_domain: String,
    /// Channel.
    pub channel: Channel,
    /// `utm_source` of the landing URL.
    pub utm_source: Option<String>,
    /// `utm_medium` of the landing URL.
    pub utm_medium: Option<String>,
    /// `utm_campaign` of the landing URL.
    pub utm_campaign: Option<String>,
    /// `utm_term` of the landing URL.
    pub utm_term: Option<String>,
    /// `utm_content` of the landing URL.
    pub utm_content: Option<String>,
    /// Device class.
    pub device: DeviceClass,
    /// Browser family.
    pub browser: String,
    /// Browser major version.
    pub browser_major: Option<String>,
    /// OS family.
    pub os: String,
    /// OS major version.
    pub os_major: Option<String>,
    /// Screen as `WxH`.
    pub screen: Option<String>,
    /// Primary language subtag.
    pub lang: Option<String>,
    /// IANA time zone as given.
    pub tz: Option<String>,
}

/// The session attributes of [`IngestMode::Raw`]: strings as given.
pub(crate) fn raw_attrs(e: &EventRef<'_>, page: &PageInfo) -> SessionAttrs {
    let referrer = e.referrer.unwrap_or(super::referrer::DIRECT);
    SessionAttrs {
        entry_page: page.path.clone(),
        referrer_host: referrer.to_owned(),
        referrer_domain: referrer.to_owned(),
        channel: if e.referrer.is_some() {
            Channel::Referral
        } else {
            Channel::Direct
        },
        device: DeviceClass::Unknown,
        browser: e.ua.unwrap_or_default().to_owned(),
        os: String::new(),
        screen: screen_size(e.screen_w, e.screen_h),
        lang: e.lang.map(str::to_owned),
        tz: e.tz.map(str::to_owned),
        ..SessionAttrs::default()
    }
}

/// The session attributes a pageview gives, from its already parsed page
/// and device.
pub(crate) fn attrs_from(
    e: &EventRef<'_>,
    page: &PageInfo,
    device: crate::normalize::Device,
    sources: &ReferrerSources,
) -> SessionAttrs {
    let campaign = !page.campaign.is_empty() || page.click_id;
    let referrer = classify_referrer(e.referrer, page.host.as_deref(), campaign, sources);
    SessionAttrs {
        entry_page: page.path.clone(),
        referrer_host: referrer.host,
        referrer_domain: referrer.domain,
        channel: referrer.channel,
        utm_source: page.campaign.source.clone(),
        utm_medium: page.campaign.medium.clone(),
        utm_campaign: page.campaign.campaign.clone(),
        utm_term: page.campaign.term.clone(),
        utm_content: page.campaign.content.clone(),
        device: device.class,
        browser: device.browser,
        browser_major: device.browser_major,
        os: device.os,
        os_major: device.os_major,
        screen: screen_size(e.screen_w, e.screen_h),
        lang: e.lang.and_then(primary_language),
        tz: e.tz.map(str::to_owned),
    }
}

/// The session attributes a pageview gives its session, exactly as ingest
/// derives them (with the built-in referrer table). For tools that need
/// heatstore's normalization outside a store, such as the side-by-side
/// benchmark feeding other databases.
///
/// ```
/// use heatstore::{Event, EventKind};
/// let mut e = Event::new("a.com", 0, EventKind::Pageview, "s", "/x?utm_source=news");
/// e.referrer = Some("https://www.google.co.uk/search".into());
/// let a = heatstore::normalize::session_attrs_of(&e);
/// assert_eq!((a.entry_page.as_str(), a.channel.as_str()), ("/x", "campaign"));
/// assert_eq!(a.referrer_host, "google.co.uk");
/// ```
pub fn session_attrs_of(e: &Event) -> SessionAttrs {
    let page = parse_page(&e.url);
    let device = Device::parse(e.ua.as_deref().unwrap_or(""));
    attrs_from(&e.view(), &page, device, &ReferrerSources::builtin())
}
