//! Screens: a screen size as `WxH`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screens() {
        assert_eq!(
            screen_size(Some(390), Some(844)).as_deref(),
            Some("390x844")
        );
        assert_eq!(screen_size(None, Some(844)), None);
        assert_eq!(screen_size(None, None), None);
    }
}
