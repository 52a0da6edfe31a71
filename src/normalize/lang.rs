//! Languages: the primary subtag of a BCP 47 tag.

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
        }
    }
}
