//! Normalization at ingest: what a raw hit becomes before it is stored.
//!
//! Everything here is derived once per event (or once per distinct string,
//! through caches) so that reports read small dictionary ids and bitmaps.
//!
//! - [`device`]: User-Agent → browser, OS (uap-core rules) and device class.
//! - [`referrer`]: referrer URL → host, registrable domain and channel.
//! - [`page`]: page URL → path, host and campaign (`utm_*`) attributes.
//! - [`ident`]: keyed hashes for session and visitor ids, cookieless ids.
//! - [`small`]: language, screen size, selector patterns.

pub mod device;
pub mod ident;
pub mod page;
pub mod referrer;
pub mod small;

pub use device::{Device, DeviceClass, UaCache};
pub use ident::{cookieless_visitor, id_hash, IdKey};
pub use page::{parse_page, Campaign, PageInfo};
pub use referrer::{classify_referrer, Channel, ReferrerInfo, ReferrerSources};
pub use small::{primary_language, screen_size, selector_matches};
