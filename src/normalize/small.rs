//! Small dimensions: language, screen size, selector patterns.

/// The primary language subtag, lower-cased (`de-DE` → `de`).
///
/// ```
/// assert_eq!(heatstore::normalize::primary_language("de-DE").as_deref(), Some("de"));
/// ```
pub fn primary_language(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_']).next()?.trim();
    if primary.is_empty() || primary.len() > 8 || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(primary.to_ascii_lowercase())
}

/// The screen as `WxH`.
pub fn screen_size(w: Option<u32>, h: Option<u32>) -> Option<String> {
    Some(format!("{}x{}", w?, h?))
}

/// Whether a selector matches a sensitive-selector pattern. A pattern is a
/// substring of the selector; `*` in it matches any run of characters.
///
/// ```
/// use heatstore::normalize::selector_matches;
/// assert!(selector_matches("#card-*", "form > #card-number"));
/// assert!(!selector_matches("#card-*", "#name"));
/// ```
pub fn selector_matches(pattern: &str, selector: &str) -> bool {
    let mut rest = selector;
    let mut parts = pattern.split('*').filter(|p| !p.is_empty()).peekable();
    if parts.peek().is_none() {
        return true;
    }
    for part in parts {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}
