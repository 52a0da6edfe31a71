//! The rules of Event NDJSON v1 that the types do not enforce: lengths,
//! ranges, required fields per kind, site names.

use super::*;

fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    if s.is_empty() {
        return Err(EventError::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(EventError::new(
            field,
            format!("is {} bytes, longer than the limit of {max}", s.len()),
        ));
    }
    Ok(())
}

fn check_opt_len(field: &'static str, s: Option<&str>, max: usize) -> Result<(), EventError> {
    match s {
        Some(s) => check_len(field, s, max),
        None => Ok(()),
    }
}

fn check_px(field: &'static str, v: Option<u32>) -> Result<(), EventError> {
    match v {
        Some(v) if v > MAX_PX => Err(EventError::new(
            field,
            format!("{v} is out of range 0..={MAX_PX}"),
        )),
        _ => Ok(()),
    }
}

fn require<T>(field: &'static str, kind: EventKind, v: &Option<T>) -> Result<(), EventError> {
    if v.is_none() {
        return Err(EventError::new(
            field,
            format!("is required on `{kind}` events"),
        ));
    }
    Ok(())
}

impl EventRef<'_> {
    /// Checks every rule of Event NDJSON v1 that the types do not.
    pub(crate) fn validate(&self) -> Result<(), EventError> {
        validate_site(self.site)?;
        if !(0..=MAX_TS).contains(&self.ts) {
            return Err(EventError::new(
                "ts",
                format!("{} is out of range 0..={MAX_TS}", self.ts),
            ));
        }
        check_opt_len("session", self.session, MAX_ID_LEN)?;
        check_opt_len("visitor", self.visitor, MAX_ID_LEN)?;
        if self.session.is_none() && !(self.ip.is_some() && self.ua.is_some()) {
            return Err(EventError::new(
                "session",
                "is required (it may be absent only on cookieless events with `ip` and `ua`)",
            ));
        }
        check_len("url", self.url, MAX_URL_LEN)?;
        check_opt_len("referrer", self.referrer, MAX_URL_LEN)?;
        check_opt_len("ua", self.ua, MAX_UA_LEN)?;
        check_opt_len("lang", self.lang, MAX_SHORT_LEN)?;
        check_opt_len("tz", self.tz, MAX_SHORT_LEN)?;
        check_opt_len("selector", self.selector, MAX_SELECTOR_LEN)?;
        check_opt_len("name", self.name, MAX_NAME_LEN)?;
        check_opt_len("ip", self.ip, MAX_SHORT_LEN)?;
        for (field, v) in [
            ("screen_w", self.screen_w),
            ("screen_h", self.screen_h),
            ("vw", self.vw),
            ("vh", self.vh),
            ("dh", self.dh),
            ("x", self.x),
            ("y", self.y),
        ] {
            check_px(field, v)?;
        }
        for (field, v) in [("ex", self.ex), ("ey", self.ey)] {
            if let Some(v) = v {
                if v > MAX_ELEMENT_POS {
                    return Err(EventError::new(
                        field,
                        format!("{v} is out of range 0..={MAX_ELEMENT_POS}"),
                    ));
                }
            }
        }
        for (field, v) in [("vw", self.vw), ("dh", self.dh)] {
            if v == Some(0) {
                return Err(EventError::new(field, "must be greater than 0"));
            }
        }
        let kind = self.kind;
        match kind {
            // The viewport is optional (server logs, no-JS pixels): such a
            // pageview counts in every report; heatmaps and scroll reach
            // leave out what has no viewport or document height.
            EventKind::Pageview => {}
            EventKind::Click | EventKind::Move => {
                require("x", kind, &self.x)?;
                require("y", kind, &self.y)?;
            }
            EventKind::Scroll => require("y", kind, &self.y)?,
            EventKind::Input => require("len", kind, &self.len)?,
            EventKind::Leave => require("duration_ms", kind, &self.duration_ms)?,
            EventKind::Custom => {
                require("name", kind, &self.name)?;
            }
        }
        Ok(())
    }
}

/// Checks a site name. A site is named like the host it runs on:
/// 1..=253 bytes of ASCII letters, digits, `-`, `_` and `.`, optionally
/// followed by `:` and a port number; it starts and ends with a letter or
/// digit and has no two dots in a row. No slashes, spaces, control
/// characters or other bytes: an internationalized name is given in its
/// `xn--` form.
///
/// ```
/// use heatstore::event::validate_site;
/// assert!(validate_site("shop.example.com").is_ok());
/// assert!(validate_site("localhost:8080").is_ok());
/// assert!(validate_site("../../etc").is_err());
/// assert!(validate_site("a/b").is_err());
/// assert!(validate_site("a\0b").is_err());
/// ```
pub fn validate_site(site: &str) -> Result<(), EventError> {
    check_len("site", site, MAX_SITE_LEN)?;
    let (host, port) = match site.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (site, None),
    };
    let bad = |why: &str| {
        let shown: String = site.chars().take(64).collect();
        Err(EventError::new(
            "site",
            format!("{shown:?} is not a host-like site name: {why}"),
        ))
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return bad("the part after `:` must be a port number");
        }
    }
    // One pass over the bytes (this runs for every event): the allowed
    // characters, no two dots in a row, letters or digits at both ends.
    let mut prev = b'.';
    for (i, &b) in host.as_bytes().iter().enumerate() {
        if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            let c = host.get(i..).and_then(|t| t.chars().next()).unwrap_or('?');
            return bad(&format!(
                "{c:?} is not allowed (letters, digits, `-`, `_` and `.` only)"
            ));
        }
        if b == b'.' && prev == b'.' && i > 0 {
            return bad("two dots in a row");
        }
        prev = b;
    }
    let edge_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    if !edge_ok(host.as_bytes().first()) || !edge_ok(host.as_bytes().last()) {
        return bad("it must start and end with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_site;

    #[test]
    fn site_names() {
        for ok in [
            "a",
            "a.com",
            "shop.example.com",
            "x-y_z.io:8080",
            "127.0.0.1",
            "xn--bcher-kva.de",
        ] {
            assert!(validate_site(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("a..b", "two dots"),
            ("..a", "two dots"),
            (".a", "start and end"),
            ("a.", "start and end"),
            ("-a", "start and end"),
            ("a b", "' '"),
            ("a/b", "'/'"),
            ("bücher.de", "'ü'"),
            ("a:", "port"),
            ("a:123456", "port"),
            ("a:8x", "port"),
        ] {
            let err = validate_site(bad).unwrap_err();
            assert_eq!(err.field, "site");
            assert!(err.to_string().contains(why), "{bad:?}: {err}");
        }
    }
}
