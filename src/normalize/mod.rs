//! Normalization at ingest: what a raw hit becomes before it is stored.
//!
//! Everything here is derived once per event (or once per distinct string,
//! through caches) so that reports read small dictionary ids and bitmaps.
//!
//! - [`device`]: User-Agent → browser, OS (uap-core rules) and device class.
//! - [`referrer`]: referrer URL → host, registrable domain and channel.
//! - [`page`]: page URL → path, host and campaign (`utm_*`) attributes.
//! - [`ident`]: keyed hashes for session and visitor ids, cookieless ids.
//! - [`session`]: a session's attributes, from its first pageview.
//! - [`lang`], [`screen`], [`selector`]: language subtags, screen sizes,
//!   selector patterns.
//!
//! Every input here comes from the network: no function in this module
//! panics, whatever the string (`unwrap`, `expect` and slice indexing are
//! denied outside tests).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod device;
pub mod ident;
pub mod lang;
pub mod page;
pub mod referrer;
pub mod screen;
pub mod selector;
pub mod session;

pub use device::{Device, DeviceClass, UaCache};
pub use ident::{cookieless_visitor, id_hash, IdKey};
pub use lang::primary_language;
pub use page::{parse_page, Campaign, PageInfo};
pub use referrer::{
    classify_referrer, Channel, ReferrerInfo, ReferrerSources, ReferrerSourcesError,
};
pub use screen::screen_size;
pub use selector::selector_matches;
pub use session::{session_attrs_of, SessionAttrs};

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary (untrusted strings are cut to bound their cost).
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let end = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s.get(..end).unwrap_or("")
}
