//! Page URL → path, host and campaign. (Stub: full implementation lands next.)

use serde::{Deserialize, Serialize};

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
    /// Whether any `utm_*` parameter was present.
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

/// Normalizes a page URL (absolute, or a path).
pub fn parse_page(url: &str) -> PageInfo {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    PageInfo {
        path: path.to_owned(),
        ..PageInfo::default()
    }
}
