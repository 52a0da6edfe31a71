//! User-Agent → browser, OS and device class.
//!
//! Browser and OS come from [uap-core]'s regexes (the data behind
//! BrowserScope, uap-python, uap-java, ...), matched by the [`ua_parser`]
//! crate's filtered-regex [`ua_parser::Extractor`]: an Aho-Corasick
//! prefilter picks the few candidate regexes worth running, so a parse does
//! not try the whole set of ~1,200 regexes. Names are uap-core's (`Chrome`,
//! `Mobile Safari`, `Firefox`, `iOS`, `Mac OS X`, `Windows`, `Other`).
//!
//! The regexes ship inside heatstore as JSON (`data/uap-core/regexes.json`,
//! converted from uap-core's `regexes.yaml` by `data/uap-core/convert.py`;
//! Apache-2.0, see `data/uap-core/LICENSE`), so there is no YAML parser and no
//! file to find at run time. The parser is built once per process, on first
//! use (see [`Device::preload`] to pay that cost up front).
//!
//! # Device class
//!
//! uap-core says which browser, OS and device model a User-Agent names, not
//! whether it is a phone. The class is decided by these rules, first match
//! wins (markers are matched case-insensitively as substrings of the UA):
//!
//! 1. **unknown**: the UA is empty or only whitespace.
//! 2. **bot**: uap-core's device family is `Spider`, or the UA carries a
//!    crawler or HTTP-library marker from [`BOT_MARKERS`] (`bot` — but not
//!    the phone brand `Cubot` —, `crawl`, `spider`, `slurp`, `headless`,
//!    `curl/`, `wget/`, `python-requests`, `go-http-client`, `lighthouse`,
//!    `facebookexternalhit`, ...).
//! 3. **desktop** for big screens that are neither: smart TVs, streaming
//!    boxes and game consoles ([`BIG_SCREEN_MARKERS`]: `smart-tv`, `hbbtv`,
//!    `bravia`, `crkey`, `playstation`, `xbox`, ...). The contract has five
//!    classes; these share a desktop's viewport sizes and are rare.
//! 4. **tablet**: device family `iPad`, `Generic Tablet`, `Kindle*` or one
//!    containing `Tablet`; or the UA says `iPad`, `Kindle`, `Silk/` or
//!    `Tablet` (but not Windows' `Tablet PC`); or an Android *browser* UA
//!    (one with `Mozilla/` or `Opera/`) without a phone marker of rule 5
//!    (`Mobi`, `Opera Mini`, ...): Android browsers say `Mobile` on phones
//!    and leave it out on tablets.
//! 5. **mobile**: device family `iPhone`, `iPod`, `Generic Smartphone` or
//!    `Generic Feature Phone`; or a phone marker ([`PHONE_MARKERS`]: `Mobi`,
//!    `iPhone`, `Windows Phone`, `BlackBerry`, `Opera Mini`, `KaiOS`, ...);
//!    or a mobile OS family (`iOS`, `Android`, `Windows Phone`, ...). So an
//!    Android app's own HTTP client (`Dalvik/2.1.0 (Linux; U; Android 11)`)
//!    counts as a phone: most Android devices are.
//! 6. **desktop**: a desktop OS family (`Windows`, `Mac OS X`, `Linux`,
//!    `Ubuntu`, `Chrome OS`, `FreeBSD`, ...) or a desktop platform marker
//!    (`Windows NT`, `Macintosh`, `X11`, `CrOS`).
//! 7. **unknown** otherwise: the UA names no platform heatstore knows.
//!
//! ## Quirks
//! - Safari on iPadOS 13+ asks for desktop pages and sends a `Macintosh` UA
//!   indistinguishable from a Mac's: it counts as desktop, `Mac OS X`.
//! - Only the first [`MAX_UA_BYTES`] bytes of a UA are read, so a hostile
//!   megabyte-long header costs no more than a real one.
//!
//! # Cost
//! Measured in a release build on a 2-core machine (the `parse_cost` test,
//! run with `--release ... -- --ignored --nocapture`): building the parser
//! (deserializing the JSON, compiling ~1,200 regexes and their prefilters,
//! the device regexes on a second thread) takes 110–160 ms, once per
//! process; an uncached parse takes about 13 µs for common desktop and
//! mobile browsers and 25 µs on average over uap-core's 1,460 test UAs;
//! a [`UaCache`] hit about 0.1 µs. The cache makes the per-event cost one
//! hash lookup: a site sees few distinct UAs.
//!
//! [uap-core]: https://github.com/ua-parser/uap-core

use foldhash::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::clip;

/// uap-core's `regexes.yaml`, as JSON.
const REGEXES_JSON: &str = include_str!("../../data/uap-core/regexes.json");

/// Bytes of a User-Agent that are read; the rest is ignored.
pub const MAX_UA_BYTES: usize = 1024;

/// Lower-case substrings that mark a crawler, monitor or HTTP library.
/// `bot` does not count inside `cubot` (a phone brand).
pub const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "scrape",
    "headless",
    "phantomjs",
    "lighthouse",
    "pagespeed",
    "gtmetrix",
    "pingdom",
    "uptime",
    "monitor",
    "facebookexternalhit",
    "feedfetcher",
    "mediapartners-google",
    "google-inspectiontool",
    "ia_archiver",
    "archive.org",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "undici",
    "guzzlehttp",
    "postmanruntime",
    "insomnia/",
    "check_http",
    "nagios",
    "zgrab",
    "masscan",
    "nmap",
];

/// Lower-case substrings that mark a smart TV, streaming box or console.
pub const BIG_SCREEN_MARKERS: &[&str] = &[
    "smart-tv",
    "smarttv",
    "smart tv",
    "hbbtv",
    "netcast",
    "web0s",
    "bravia",
    "android tv",
    "googletv",
    "google tv",
    "crkey",
    "roku",
    "appletv",
    "apple tv",
    "; aft",
    "playstation",
    "xbox",
    "nintendo",
];

/// Lower-case substrings that mark a phone.
pub const PHONE_MARKERS: &[&str] = &[
    "mobi",
    "iphone",
    "ipod",
    "windows phone",
    "blackberry",
    "bb10",
    "opera mini",
    "symbian",
    "series60",
    "kaios",
    "midp",
    "j2me",
];

const MOBILE_OS: &[&str] = &[
    "iOS",
    "Android",
    "Windows Phone",
    "Windows Mobile",
    "BlackBerry OS",
    "BlackBerry Tablet OS",
    "Symbian OS",
    "Symbian^3",
    "KaiOS",
    "Firefox OS",
    "Tizen",
    "Sailfish",
    "Ubuntu Touch",
    "HarmonyOS",
];

const DESKTOP_OS: &[&str] = &[
    "Windows",
    "Mac OS X",
    "Mac OS",
    "Linux",
    "Ubuntu",
    "Kubuntu",
    "Fedora",
    "Debian",
    "Red Hat",
    "Mint",
    "SUSE",
    "openSUSE",
    "Gentoo",
    "Slackware",
    "Arch Linux",
    "Mandriva",
    "CentOS",
    "Chrome OS",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Solaris",
    "SunOS",
];

const DESKTOP_MARKERS: &[&str] = &["windows nt", "macintosh", "x11", "cros"];

/// Device class of a session, derived from its User-Agent.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceClass {
    /// A desktop or laptop browser.
    Desktop = 0,
    /// A phone.
    Mobile = 1,
    /// A tablet.
    Tablet = 2,
    /// A crawler, monitor or other automated client.
    Bot = 3,
    /// No User-Agent, or one that says nothing usable.
    #[default]
    Unknown = 4,
}

impl DeviceClass {
    /// Every class, in code order.
    pub const ALL: [DeviceClass; 5] = [
        DeviceClass::Desktop,
        DeviceClass::Mobile,
        DeviceClass::Tablet,
        DeviceClass::Bot,
        DeviceClass::Unknown,
    ];

    /// The name used in reports and filters.
    ///
    /// ```
    /// use heatstore::normalize::DeviceClass;
    /// assert_eq!(DeviceClass::Tablet.as_str(), "tablet");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Bot => "bot",
            DeviceClass::Unknown => "unknown",
        }
    }

    /// The one-byte code stored on disk.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The class of an on-disk code; `None` for a code no class has.
    ///
    /// ```
    /// use heatstore::normalize::DeviceClass;
    /// assert_eq!(DeviceClass::from_code(DeviceClass::Bot.code()), Some(DeviceClass::Bot));
    /// assert_eq!(DeviceClass::from_code(200), None);
    /// ```
    pub fn from_code(code: u8) -> Option<DeviceClass> {
        DeviceClass::ALL.get(usize::from(code)).copied()
    }

    /// Parses a class name (`desktop`, `mobile`, ...).
    ///
    /// ```
    /// use heatstore::normalize::DeviceClass;
    /// assert_eq!(DeviceClass::parse("mobile"), Some(DeviceClass::Mobile));
    /// assert_eq!(DeviceClass::parse("phone"), None);
    /// ```
    pub fn parse(name: &str) -> Option<DeviceClass> {
        DeviceClass::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// What a User-Agent says about the device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device class.
    pub class: DeviceClass,
    /// Browser family, uap-core name (`Chrome`, `Mobile Safari`, `Other`).
    pub browser: String,
    /// Browser major version, when known.
    pub browser_major: Option<String>,
    /// OS family, uap-core name (`Windows`, `iOS`, `Other`).
    pub os: String,
    /// OS major version, when known.
    pub os_major: Option<String>,
}

/// uap-core's name for "not recognized".
const OTHER: &str = "Other";

impl Device {
    /// Parses one User-Agent string (no cache). The parser is built once per
    /// process, on first use. Never panics: any string gives a device, at
    /// worst `Other`/`Other`/[`DeviceClass::Unknown`].
    ///
    /// # Examples
    ///
    /// ```
    /// use heatstore::normalize::{Device, DeviceClass};
    ///
    /// let d = Device::parse(
    ///     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
    ///      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    /// );
    /// assert_eq!(d.class, DeviceClass::Mobile);
    /// assert_eq!(d.browser, "Mobile Safari");
    /// assert_eq!(d.browser_major.as_deref(), Some("17"));
    /// assert_eq!(d.os, "iOS");
    /// assert_eq!(d.os_major.as_deref(), Some("17"));
    ///
    /// assert_eq!(Device::parse("").class, DeviceClass::Unknown);
    /// assert_eq!(Device::parse("curl/8.5.0").class, DeviceClass::Bot);
    /// ```
    pub fn parse(ua: &str) -> Device {
        let ua = clip(ua.trim(), MAX_UA_BYTES);
        if ua.is_empty() {
            return Device::other(DeviceClass::Unknown);
        }
        let Some(p) = parsers() else {
            // Unreachable with the bundled regexes (a test builds them);
            // the markers alone still give a class.
            return Device::other(classify(ua, OTHER, OTHER));
        };
        let (browser, browser_major) = match p.ua.extract(ua) {
            Some(v) => (family(&v.family), v.major.map(str::to_owned)),
            None => (OTHER.to_owned(), None),
        };
        let (os, os_major) = match p.os.extract(ua) {
            Some(v) => (family(&v.os), v.major.map(std::borrow::Cow::into_owned)),
            None => (OTHER.to_owned(), None),
        };
        let device = p.dev.extract(ua);
        let device_family = device.as_ref().map_or(OTHER, |d| d.device.as_ref());
        Device {
            class: classify(ua, &os, device_family),
            browser,
            browser_major,
            os,
            os_major,
        }
    }

    /// Builds the User-Agent parser now rather than on the first
    /// [`Device::parse`] (it takes about 0.1 s). Returns whether the
    /// bundled uap-core regexes compiled, which they always should; when
    /// they do not, devices get `Other` names and a class from markers only.
    ///
    /// ```
    /// assert!(heatstore::normalize::Device::preload());
    /// ```
    pub fn preload() -> bool {
        parsers().is_some()
    }

    fn other(class: DeviceClass) -> Device {
        Device {
            class,
            browser: OTHER.to_owned(),
            browser_major: None,
            os: OTHER.to_owned(),
            os_major: None,
        }
    }
}

/// A uap family, `Other` when the rule resolved to nothing.
fn family(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        OTHER.to_owned()
    } else {
        name.to_owned()
    }
}

/// The compiled uap-core regexes, built on first use.
fn parsers() -> Option<&'static ua_parser::Extractor<'static>> {
    static PARSERS: OnceLock<Option<ua_parser::Extractor<'static>>> = OnceLock::new();
    PARSERS.get_or_init(|| build_parsers().ok()).as_ref()
}

type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// Deserializes the bundled regexes and compiles them. The device regexes
/// (about 2/3 of the work) compile on a second thread while this one
/// compiles the browser and OS regexes; if no thread can be spawned, all
/// compile here.
fn build_parsers() -> Result<ua_parser::Extractor<'static>, BuildError> {
    let regexes: ua_parser::Regexes<'static> = serde_json::from_str(REGEXES_JSON)?;
    let ua_parser::Regexes {
        user_agent_parsers,
        os_parsers,
        device_parsers,
    } = regexes;
    std::thread::scope(|s| {
        let devices = std::thread::Builder::new()
            .name("heatstore-uap".into())
            .spawn_scoped(s, move || build_devices(device_parsers));
        let ua = ua_parser::user_agent::Builder::new()
            .push_all(user_agent_parsers)?
            .build()?;
        let os = ua_parser::os::Builder::new()
            .push_all(os_parsers)?
            .build()?;
        let dev = match devices {
            Ok(handle) => handle
                .join()
                .map_err(|_| BuildError::from("device regex thread panicked"))??,
            Err(_) => {
                // The parsers moved into the failed closure: read them again.
                let again: ua_parser::Regexes<'static> = serde_json::from_str(REGEXES_JSON)?;
                build_devices(again.device_parsers)?
            }
        };
        Ok(ua_parser::Extractor { ua, os, dev })
    })
}

fn build_devices(
    parsers: Vec<ua_parser::device::Parser<'static>>,
) -> Result<ua_parser::device::Extractor<'static>, BuildError> {
    Ok(ua_parser::device::Builder::new()
        .push_all(parsers)?
        .build()?)
}

/// Whether the lower-cased UA carries a bot marker.
fn has_bot_marker(lower: &str) -> bool {
    let bot = lower
        .match_indices("bot")
        .any(|(i, _)| !lower.get(..i).is_some_and(|before| before.ends_with("cu")));
    bot || BOT_MARKERS
        .iter()
        .filter(|m| **m != "bot")
        .any(|m| lower.contains(m))
}

fn contains_any(lower: &str, markers: &[&str]) -> bool {
    markers.iter().any(|m| lower.contains(m))
}

/// The class rules of the module documentation, in order.
fn classify(ua: &str, os: &str, device: &str) -> DeviceClass {
    let lower = ua.to_ascii_lowercase();
    if lower.trim().is_empty() {
        return DeviceClass::Unknown;
    }
    if device == "Spider" || has_bot_marker(&lower) {
        return DeviceClass::Bot;
    }
    if contains_any(&lower, BIG_SCREEN_MARKERS) {
        return DeviceClass::Desktop;
    }
    let android = os == "Android" || lower.contains("android");
    let browser_ua = lower.contains("mozilla/") || lower.contains("opera/");
    let tablet_device = device == "iPad"
        || device == "Generic Tablet"
        || device.starts_with("Kindle")
        || device.contains("Tablet");
    let tablet_marker = lower.contains("ipad")
        || lower.contains("kindle")
        || lower.contains("silk/")
        || (lower.contains("tablet") && !lower.contains("tablet pc"));
    let phone_marker = contains_any(&lower, PHONE_MARKERS);
    if tablet_device || tablet_marker || (android && browser_ua && !phone_marker) {
        return DeviceClass::Tablet;
    }
    if matches!(
        device,
        "iPhone" | "iPod" | "iPod Touch" | "Generic Smartphone" | "Generic Feature Phone"
    ) || phone_marker
        || android
        || MOBILE_OS.contains(&os)
    {
        return DeviceClass::Mobile;
    }
    if DESKTOP_OS.contains(&os) || contains_any(&lower, DESKTOP_MARKERS) {
        return DeviceClass::Desktop;
    }
    DeviceClass::Unknown
}

/// A cache of parsed User-Agents: each distinct string is parsed once, so
/// the per-event cost is one hash lookup.
///
/// The cache starts over when it holds [`UaCache::CAPACITY`] entries or
/// [`UaCache::MAX_KEY_BYTES`] bytes of keys, which bounds its memory
/// whatever the input. Keys are the UA's first [`MAX_UA_BYTES`] bytes (all
/// that [`Device::parse`] reads).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use heatstore::normalize::{DeviceClass, UaCache};
///
/// let mut cache = UaCache::new();
/// let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
///           (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
/// let a = cache.get(ua);
/// let b = cache.get(ua);
/// assert!(Arc::ptr_eq(&a, &b)); // parsed once
/// assert_eq!(a.class, DeviceClass::Desktop);
/// assert_eq!(a.browser, "Chrome");
/// ```
#[derive(Debug, Default)]
pub struct UaCache {
    map: HashMap<String, Arc<Device>>,
    key_bytes: usize,
}

impl UaCache {
    /// Most entries kept before the cache starts over.
    pub const CAPACITY: usize = 65_536;

    /// Most bytes of keys kept before the cache starts over (16 MiB).
    pub const MAX_KEY_BYTES: usize = 16 << 20;

    /// An empty cache.
    pub fn new() -> UaCache {
        UaCache::default()
    }

    /// The device of `ua`, parsed at most once while it stays cached.
    pub fn get(&mut self, ua: &str) -> Arc<Device> {
        let key = clip(ua, MAX_UA_BYTES);
        if let Some(d) = self.map.get(key) {
            return Arc::clone(d);
        }
        if self.map.len() >= Self::CAPACITY || self.key_bytes + key.len() > Self::MAX_KEY_BYTES {
            self.map.clear();
            self.key_bytes = 0;
        }
        let d = Arc::new(Device::parse(key));
        self.key_bytes += key.len();
        self.map.insert(key.to_owned(), Arc::clone(&d));
        d
    }

    /// Number of cached User-Agents.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ua: &str, class: DeviceClass, browser: &str, major: Option<&str>, os: &str) {
        let d = Device::parse(ua);
        assert_eq!(d.class, class, "class of {ua}: {d:?}");
        assert_eq!(d.browser, browser, "browser of {ua}");
        assert_eq!(d.browser_major.as_deref(), major, "major of {ua}");
        assert_eq!(d.os, os, "os of {ua}");
    }

    #[test]
    fn bundled_regexes_build() {
        assert!(build_parsers().is_ok());
        assert!(Device::preload());
    }

    #[test]
    fn desktop_browsers() {
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36",
            DeviceClass::Desktop,
            "Chrome",
            Some("124"),
            "Windows",
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
            DeviceClass::Desktop,
            "Safari",
            Some("17"),
            "Mac OS X",
        );
        check(
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            DeviceClass::Desktop,
            "Firefox",
            Some("125"),
            "Linux",
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
            DeviceClass::Desktop,
            "Firefox",
            Some("115"),
            "Ubuntu",
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
            DeviceClass::Desktop,
            "Edge",
            Some("124"),
            "Windows",
        );
        check(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36",
            DeviceClass::Desktop,
            "Chrome",
            Some("124"),
            "Chrome OS",
        );
    }

    #[test]
    fn phones() {
        let d = Device::parse(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(d.class, DeviceClass::Mobile);
        assert_eq!(d.browser, "Mobile Safari");
        assert_eq!(d.browser_major.as_deref(), Some("17"));
        assert_eq!(d.os, "iOS");
        assert_eq!(d.os_major.as_deref(), Some("17"));
        check(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Mobile Safari/537.36",
            DeviceClass::Mobile,
            "Chrome Mobile",
            Some("124"),
            "Android",
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) \
             SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            DeviceClass::Mobile,
            "Samsung Internet",
            Some("24"),
            "Android",
        );
        check(
            "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
            DeviceClass::Mobile,
            "Firefox Mobile",
            Some("125"),
            "Android",
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
            DeviceClass::Mobile,
            "Chrome Mobile iOS",
            Some("124"),
            "iOS",
        );
        // A phone brand whose name contains "bot".
        assert_eq!(
            Device::parse(
                "Mozilla/5.0 (Linux; Android 10; CUBOT_NOTE_20) AppleWebKit/537.36 \
                 (KHTML, like Gecko) Chrome/90.0.4430.91 Mobile Safari/537.36"
            )
            .class,
            DeviceClass::Mobile
        );
        // An Android app's own HTTP client.
        assert_eq!(
            Device::parse("Dalvik/2.1.0 (Linux; U; Android 11; Pixel 5 Build/RQ3A.210805.001.A1)")
                .class,
            DeviceClass::Mobile
        );
    }

    #[test]
    fn tablets() {
        let d = Device::parse(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(d.class, DeviceClass::Tablet);
        assert_eq!(d.browser, "Mobile Safari");
        assert_eq!(d.os, "iOS");
        assert_eq!(d.os_major.as_deref(), Some("16"));
        check(
            "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36",
            DeviceClass::Tablet,
            "Chrome",
            Some("124"),
            "Android",
        );
        check(
            "Mozilla/5.0 (Android 13; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
            DeviceClass::Tablet,
            "Firefox Mobile",
            Some("125"),
            "Android",
        );
        assert_eq!(
            Device::parse(
                "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Silk/116.3.1 like Chrome/116.0.5845.114 Safari/537.36"
            )
            .class,
            DeviceClass::Tablet
        );
    }

    #[test]
    fn bots() {
        let d = Device::parse(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        );
        assert_eq!(d.class, DeviceClass::Bot);
        assert_eq!(d.browser, "Googlebot");
        assert_eq!(d.browser_major.as_deref(), Some("2"));
        // Googlebot's smartphone crawler says Android and Mobile too.
        let d = Device::parse(
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/124.0.6367.91 Mobile Safari/537.36 \
             (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        );
        assert_eq!(d.class, DeviceClass::Bot);
        let d = Device::parse(
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        );
        assert_eq!(d.class, DeviceClass::Bot);
        assert_eq!(d.browser, "bingbot");
        assert_eq!(d.browser_major.as_deref(), Some("2"));
        let d = Device::parse("curl/8.5.0");
        assert_eq!(d.class, DeviceClass::Bot);
        assert_eq!(d.browser, "curl");
        assert_eq!(d.browser_major.as_deref(), Some("8"));
        for ua in [
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             HeadlessChrome/124.0.0.0 Safari/537.36",
            "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        ] {
            assert_eq!(Device::parse(ua).class, DeviceClass::Bot, "{ua}");
        }
    }

    #[test]
    fn unknown_and_garbage() {
        for ua in ["", "   ", "Mozilla/5.0", "-", "\u{0}\u{ffff}", "(((((", "x"] {
            let d = Device::parse(ua);
            assert_eq!(d.class, DeviceClass::Unknown, "{ua:?}: {d:?}");
            assert_eq!(d.browser, "Other");
            assert_eq!(d.os, "Other");
        }
        // Very long and multi-byte input is clipped on a character boundary.
        let long = "é".repeat(5000);
        assert_eq!(Device::parse(&long).class, DeviceClass::Unknown);
        assert!(clip(&long, MAX_UA_BYTES).len() <= MAX_UA_BYTES);
        assert_eq!(clip("abc", 2), "ab");
        assert_eq!(clip("é", 1), "");
    }

    #[test]
    fn big_screens_are_desktop() {
        for ua in [
            "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) \
             SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
            "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
            "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233) AppleWebKit/537.36 \
             (KHTML, like Gecko) Silk/98.5.34 like Chrome/98.0.4758.136 Safari/537.36",
        ] {
            assert_eq!(Device::parse(ua).class, DeviceClass::Desktop, "{ua}");
        }
    }

    #[test]
    fn cache_parses_once_and_bounds_itself() {
        let mut cache = UaCache::new();
        let a = cache.get("curl/8.5.0");
        let b = cache.get("curl/8.5.0");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
        assert_eq!(a.class, DeviceClass::Bot);
        // Two UAs differing only after MAX_UA_BYTES share an entry.
        let base = "x".repeat(MAX_UA_BYTES);
        let c = cache.get(&format!("{base}1"));
        let d = cache.get(&format!("{base}2"));
        assert!(Arc::ptr_eq(&c, &d));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn class_codes_round_trip() {
        for c in DeviceClass::ALL {
            assert_eq!(DeviceClass::from_code(c.code()), Some(c));
            assert_eq!(DeviceClass::parse(c.as_str()), Some(c));
        }
    }

    type Cases = Vec<(String, String, Option<String>)>;

    fn pass_rate(total: usize, failures: &[String]) -> f64 {
        if total == 0 {
            return 0.0;
        }
        (total - failures.len()) as f64 / total as f64
    }

    /// uap-core's own browser test cases (all of `tests/test_ua.yaml`).
    #[test]
    fn uap_core_ua_cases() {
        let cases: Cases =
            serde_json::from_str(include_str!("../../data/uap-core/tests/test_ua.json")).unwrap();
        assert!(cases.len() > 1000);
        let p = parsers().unwrap();
        let mut family_fail = Vec::new();
        let mut major_fail = Vec::new();
        for (ua, family, major) in &cases {
            let got = p.ua.extract(ua);
            let got_family = got.as_ref().map_or(OTHER, |v| v.family.as_ref());
            let got_major = got.as_ref().and_then(|v| v.major);
            if got_family != family {
                family_fail.push(format!("{ua}: {got_family} != {family}"));
            }
            if got_major != major.as_deref() {
                major_fail.push(format!("{ua}: {got_major:?} != {major:?}"));
            }
            // The public API agrees with the raw extractor.
            assert_eq!(&Device::parse(ua).browser, family, "{ua}");
        }
        let family_rate = pass_rate(cases.len(), &family_fail);
        let major_rate = pass_rate(cases.len(), &major_fail);
        println!(
            "uap-core test_ua: {} cases, family {:.2}%, major {:.2}%",
            cases.len(),
            family_rate * 100.0,
            major_rate * 100.0
        );
        assert!(family_rate >= 0.99, "{family_fail:#?}");
        assert!(major_rate >= 0.99, "{major_fail:#?}");
    }

    /// uap-core's own OS test cases (all of `tests/test_os.yaml`).
    #[test]
    fn uap_core_os_cases() {
        let cases: Cases =
            serde_json::from_str(include_str!("../../data/uap-core/tests/test_os.json")).unwrap();
        assert!(cases.len() > 400);
        let mut family_fail = Vec::new();
        for (ua, family, major) in &cases {
            let d = Device::parse(ua);
            if &d.os != family || d.os_major != *major {
                family_fail.push(format!(
                    "{ua}: {} {:?} != {family} {major:?}",
                    d.os, d.os_major
                ));
            }
        }
        let rate = pass_rate(cases.len(), &family_fail);
        println!(
            "uap-core test_os: {} cases, {:.2}%",
            cases.len(),
            rate * 100.0
        );
        assert!(rate >= 0.99, "{family_fail:#?}");
    }

    /// A sample (every 8th) of uap-core's device test cases.
    #[test]
    fn uap_core_device_cases() {
        let cases: Vec<(String, String)> =
            serde_json::from_str(include_str!("../../data/uap-core/tests/test_device.json"))
                .unwrap();
        assert!(cases.len() > 1000);
        let p = parsers().unwrap();
        let mut fail = Vec::new();
        let mut spiders = 0;
        for (ua, family) in &cases {
            let got = p.dev.extract(ua);
            let got = got.as_ref().map_or(OTHER, |v| v.device.as_ref());
            if got != family {
                fail.push(format!("{ua}: {got} != {family}"));
            }
            if family == "Spider" {
                spiders += 1;
                assert_eq!(Device::parse(ua).class, DeviceClass::Bot, "{ua}");
            }
        }
        let rate = pass_rate(cases.len(), &fail);
        println!(
            "uap-core test_device sample: {} cases ({spiders} spiders), {:.2}%",
            cases.len(),
            rate * 100.0
        );
        assert!(rate >= 0.99, "{fail:#?}");
    }

    /// Parser build time and uncached parse cost. Run in release mode:
    /// `cargo test --release --lib normalize::device::tests::parse_cost -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release with --nocapture"]
    fn parse_cost() {
        let t = std::time::Instant::now();
        assert!(Device::preload());
        println!("build parser (first use): {:?}", t.elapsed());
        let fastest = (0..3)
            .map(|_| {
                let t = std::time::Instant::now();
                drop(build_parsers().unwrap());
                t.elapsed()
            })
            .min()
            .unwrap();
        println!("build parser (fastest of 3 more): {fastest:?}");

        let cases: Cases =
            serde_json::from_str(include_str!("../../data/uap-core/tests/test_ua.json")).unwrap();
        let browsers = [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Mobile Safari/537.36",
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        ];
        // Warm the regexes' lazy DFAs once, as a long-running process would.
        for (ua, _, _) in &cases {
            std::hint::black_box(Device::parse(ua));
        }
        let rounds = 20;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            for ua in browsers {
                std::hint::black_box(Device::parse(ua));
            }
        }
        let per = t.elapsed() / (rounds * browsers.len()) as u32;
        println!("uncached parse, 5 common browsers: {per:?} per UA");
        let t = std::time::Instant::now();
        for (ua, _, _) in &cases {
            std::hint::black_box(Device::parse(ua));
        }
        let per = t.elapsed() / cases.len() as u32;
        println!(
            "uncached parse, {} uap-core test UAs: {per:?} per UA",
            cases.len()
        );
        let mut cache = UaCache::new();
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            for ua in browsers {
                std::hint::black_box(cache.get(ua));
            }
        }
        println!(
            "cached: {:?} per UA",
            t.elapsed() / (1000 * browsers.len()) as u32
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn any_ua_gives_a_device(s in "\\PC{0,300}") {
                let d = Device::parse(&s);
                prop_assert!(!d.browser.is_empty());
                prop_assert!(!d.os.is_empty());
            }

            #[test]
            fn ua_like_strings_give_a_device(
                s in "Mozilla/5\\.0 \\((Windows NT|Linux|iPhone|iPad|Macintosh|X11)[a-zA-Z0-9 ;._/-]{0,40}\\) [a-zA-Z0-9 ;._/()-]{0,80}"
            ) {
                let d = Device::parse(&s);
                prop_assert!(!d.browser.is_empty());
            }
        }
    }
}
