//! Small dimensions: language, screen size, selector patterns.

/// The primary language subtag of a BCP 47 tag, lower-cased (`de-DE` →
/// `de`). Also accepts `_` as separator (`pt_BR`) and an `Accept-Language`
/// header, whose first entry is read (`fr-CH, fr;q=0.9` → `fr`). `None`
/// when the subtag is not 2 to 8 ASCII letters (`*`, `x-klingon`, `12`).
///
/// # Examples
///
/// ```
/// use heatstore::normalize::primary_language;
///
/// assert_eq!(primary_language("de-DE").as_deref(), Some("de"));
/// assert_eq!(primary_language("PT_br").as_deref(), Some("pt"));
/// assert_eq!(primary_language("fr-CH, fr;q=0.9, en;q=0.8").as_deref(), Some("fr"));
/// assert_eq!(primary_language("*"), None);
/// ```
pub fn primary_language(tag: &str) -> Option<String> {
    let first = tag.split([',', ';']).next()?;
    let primary = first.trim().split(['-', '_']).next()?;
    if !(2..=8).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(primary.to_ascii_lowercase())
}

/// The screen as `WxH`; `None` unless both sides are known.
///
/// ```
/// use heatstore::normalize::screen_size;
///
/// assert_eq!(screen_size(Some(1920), Some(1080)).as_deref(), Some("1920x1080"));
/// assert_eq!(screen_size(Some(1920), None), None);
/// ```
pub fn screen_size(w: Option<u32>, h: Option<u32>) -> Option<String> {
    Some(format!("{}x{}", w?, h?))
}

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
    fn languages() {
        for (tag, lang) in [
            ("en", Some("en")),
            ("en-US", Some("en")),
            ("EN-us", Some("en")),
            (" de-DE ", Some("de")),
            ("zh-Hant-TW", Some("zh")),
            ("pt_BR", Some("pt")),
            ("de-CH,de;q=0.9,en;q=0.8", Some("de")),
            ("en;q=0.5", Some("en")),
            ("haw-US", Some("haw")),
            ("", None),
            ("-", None),
            ("*", None),
            ("x-klingon", None),
            ("i-default", None),
            ("e", None),
            ("12-34", None),
            ("toolongtag-x", None),
            ("dé", None),
            ("\u{0}", None),
        ] {
            assert_eq!(primary_language(tag).as_deref(), lang, "{tag:?}");
        }
    }

    #[test]
    fn screens() {
        assert_eq!(
            screen_size(Some(390), Some(844)).as_deref(),
            Some("390x844")
        );
        assert_eq!(screen_size(None, Some(844)), None);
        assert_eq!(screen_size(None, None), None);
    }

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
            fn languages_are_short_lower_case(s in "\\PC{0,20}") {
                if let Some(l) = primary_language(&s) {
                    prop_assert!((2..=8).contains(&l.len()));
                    prop_assert!(l.bytes().all(|b| b.is_ascii_lowercase()));
                }
            }

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
