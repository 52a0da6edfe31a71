//! Identities: keyed 64-bit hashes, never raw ids.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

/// A secret 128-bit key (per site, or per day for cookieless ids).
pub type IdKey = [u8; 16];

fn hasher(key: &IdKey) -> SipHasher13 {
    let (a, b) = key.split_at(8);
    let mut k0 = [0u8; 8];
    let mut k1 = [0u8; 8];
    k0.copy_from_slice(a);
    k1.copy_from_slice(b);
    SipHasher13::new_with_keys(u64::from_le_bytes(k0), u64::from_le_bytes(k1))
}

/// The keyed hash of a session or visitor id under a site's secret key.
///
/// ```
/// let key = [7u8; 16];
/// let a = heatstore::normalize::id_hash(&key, "session-1");
/// assert_eq!(a, heatstore::normalize::id_hash(&key, "session-1"));
/// assert_ne!(a, heatstore::normalize::id_hash(&[8u8; 16], "session-1"));
/// ```
pub fn id_hash(key: &IdKey, id: &str) -> u64 {
    let mut h = hasher(key);
    h.write(id.as_bytes());
    h.finish()
}

/// A cookieless visitor id: keyed hash of (daily salt, site, ip, ua), as
/// Plausible does. The salt of a day is destroyed after the next day, so ids
/// cannot be linked across days.
pub fn cookieless_visitor(daily_salt: &IdKey, site: &str, ip: &str, ua: &str) -> u64 {
    let mut h = hasher(daily_salt);
    for part in [site, ip, ua] {
        h.write(part.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}
