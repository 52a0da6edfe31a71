//! Identities: keyed 64-bit hashes, never raw ids.
//!
//! Session and visitor ids are stored only as SipHash-1-3 hashes under a
//! secret 128-bit key per site, so stored ids cannot be linked to the
//! tracker's cookie values, nor across sites. The hashes are stored on disk:
//! their values must never change between versions (the tests pin them).

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

/// A secret 128-bit key (per site, or per day for cookieless ids).
pub type IdKey = [u8; 16];

/// SipHash-1-3 keyed with the key's first 8 bytes (little-endian) as `k0`
/// and its last 8 as `k1`.
fn hasher(key: &IdKey) -> SipHasher13 {
    let k = u128::from_le_bytes(*key);
    SipHasher13::new_with_keys(k as u64, (k >> 64) as u64)
}

/// The keyed hash of a session or visitor id under a site's secret key.
///
/// # Examples
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
/// cannot be linked across days. The parts are separated by a `0xff` byte,
/// which UTF-8 never contains, so no two different triples hash the same
/// input.
///
/// # Examples
///
/// ```
/// use heatstore::normalize::cookieless_visitor;
///
/// let today = [1u8; 16];
/// let a = cookieless_visitor(&today, "example.com", "203.0.113.7", "Mozilla/5.0");
/// assert_eq!(a, cookieless_visitor(&today, "example.com", "203.0.113.7", "Mozilla/5.0"));
/// // Another day's salt, another site or another browser: another visitor.
/// assert_ne!(a, cookieless_visitor(&[2u8; 16], "example.com", "203.0.113.7", "Mozilla/5.0"));
/// assert_ne!(a, cookieless_visitor(&today, "example.org", "203.0.113.7", "Mozilla/5.0"));
/// ```
pub fn cookieless_visitor(daily_salt: &IdKey, site: &str, ip: &str, ua: &str) -> u64 {
    let mut h = hasher(daily_salt);
    for part in [site, ip, ua] {
        h.write(part.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> IdKey {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        k
    }

    #[test]
    fn key_halves_are_little_endian() {
        let k = key();
        let mut reference = SipHasher13::new_with_keys(
            u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]),
            u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]),
        );
        reference.write(b"abc");
        assert_eq!(id_hash(&k, "abc"), reference.finish());
    }

    /// Stored hashes must never change: pinned values.
    #[test]
    fn hashes_are_stable() {
        assert_eq!(id_hash(&key(), "session-1"), PINNED_ID);
        assert_eq!(
            cookieless_visitor(&key(), "example.com", "203.0.113.7", "Mozilla/5.0"),
            PINNED_COOKIELESS
        );
    }

    #[test]
    fn parts_do_not_run_together() {
        let k = key();
        assert_ne!(
            cookieless_visitor(&k, "ab", "c", "d"),
            cookieless_visitor(&k, "a", "bc", "d")
        );
        assert_ne!(
            cookieless_visitor(&k, "", "", "x"),
            cookieless_visitor(&k, "x", "", "")
        );
        assert_ne!(id_hash(&k, ""), id_hash(&[0u8; 16], ""));
    }

    const PINNED_ID: u64 = 3_698_859_480_098_080_042;
    const PINNED_COOKIELESS: u64 = 14_266_235_232_371_857_063;
}
