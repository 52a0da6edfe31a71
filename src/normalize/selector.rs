//! Selector patterns: the site rules that mark elements sensitive.

/// Whether a selector matches a sensitive-selector pattern. A pattern is a
/// substring of the selector; `*` in it matches any run of characters
/// (including none). A pattern that is empty or only `*` matches every
/// selector (masking too much is the safe side).
///
/// # Examples
///
/// ```
/// use heatstore::normalize::selector_matches;
///
/// assert!(selector_matches("#card-*", "form > #card-number"));
/// assert!(selector_matches("input[type=*password", "input[type=\"password\"]"));
/// assert!(!selector_matches("#card-*", "#name"));
/// ```
pub fn selector_matches(pattern: &str, selector: &str) -> bool {
    let mut rest = selector;
    for part in pattern.split('*').filter(|p| !p.is_empty()) {
        // Leftmost match of each piece in turn: the pattern is unanchored
        // at both ends, so the earliest match never loses a later one.
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        for (pattern, selector, hit) in [
            ("#card", "form #card-number", true),
            ("#card-*", "#card-", true),
            ("*", "anything", true),
            ("", "anything", true),
            ("**", "", true),
            ("a*b*c", "xxaxxbxxcxx", true),
            ("a*b*c", "cba", false),
            ("ab*ab", "ab", false),
            ("ab*ab", "abab", true),
            ("é*ü", "éxü", true),
            ("é*ü", "üxé", false),
            ("#pw", "#PW", false),
        ] {
            assert_eq!(
                selector_matches(pattern, selector),
                hit,
                "{pattern:?} in {selector:?}"
            );
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn selectors_never_panic(p in "\\PC{0,10}", s in "\\PC{0,30}") {
                let _ = selector_matches(&p, &s);
                // A pattern without `*` is a plain substring test.
                if !p.contains('*') {
                    prop_assert_eq!(selector_matches(&p, &s), s.contains(p.as_str()));
                }
            }
        }
    }
}
