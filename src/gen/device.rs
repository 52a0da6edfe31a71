//! Who visits: browsers and their User-Agents, screens, viewports, languages
//! and time zones, and the visitors built from them.

use super::rng::Rng;

/// The broad kind of device, which drives how a session behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// Mouse and keyboard: many mouse moves, wheel scrolls.
    Desktop,
    /// Phone: touch, few moves, long flings.
    Mobile,
    /// Tablet: touch, like a phone with a larger screen.
    Tablet,
    /// Crawler: pageviews (and leaves) only, no interaction.
    Bot,
}

impl Form {
    /// Touch devices emit few pointer moves.
    pub(crate) fn is_touch(self) -> bool {
        matches!(self, Form::Mobile | Form::Tablet)
    }
}

/// One browser on one platform, with the versions seen in the wild.
struct Profile {
    /// Sessions per 1000.
    weight: u32,
    form: Form,
    /// UA template: `{v}` and `{o}` are replaced by each variant.
    template: &'static str,
    /// `(v, o)` substitutions; each gives one concrete UA string.
    variants: &'static [(&'static str, &'static str)],
    /// Screens `(width, height, weight)` of this platform.
    screens: &'static [(u32, u32, u32)],
    /// Whether the OS draws a 15–17 px vertical scrollbar inside the window.
    scrollbar: bool,
}

const WINDOWS: &[(u32, u32, u32)] = &[
    (1920, 1080, 40),
    (1366, 768, 14),
    (1536, 864, 15),
    (2560, 1440, 10),
    (1440, 900, 5),
    (1280, 720, 5),
    (1600, 900, 6),
    (1280, 1024, 3),
    (3840, 2160, 2),
];
const MAC: &[(u32, u32, u32)] = &[
    (1440, 900, 25),
    (1512, 982, 20),
    (1728, 1117, 15),
    (1680, 1050, 10),
    (2560, 1440, 15),
    (1920, 1080, 15),
];
const IPHONE: &[(u32, u32, u32)] = &[
    (390, 844, 30),
    (393, 852, 25),
    (430, 932, 15),
    (375, 667, 10),
    (414, 896, 10),
    (428, 926, 10),
];
const ANDROID_PHONE: &[(u32, u32, u32)] = &[
    (412, 915, 35),
    (360, 800, 25),
    (384, 854, 10),
    (412, 892, 15),
    (393, 873, 15),
];
const IPAD: &[(u32, u32, u32)] = &[
    (810, 1080, 30),
    (820, 1180, 30),
    (768, 1024, 20),
    (1024, 1366, 20),
];
const ANDROID_TABLET: &[(u32, u32, u32)] = &[(800, 1280, 40), (1280, 800, 30), (962, 601, 30)];
const BOT_DESKTOP: &[(u32, u32, u32)] = &[(1024, 1024, 1)];
const BOT_PHONE: &[(u32, u32, u32)] = &[(412, 732, 1)];

const CHROME_V: &[(&str, &str)] = &[
    ("126", ""),
    ("127", ""),
    ("128", ""),
    ("129", ""),
    ("130", ""),
    ("131", ""),
];
const FIREFOX_V: &[(&str, &str)] = &[("128", ""), ("130", ""), ("131", ""), ("132", "")];

/// The browser mix: roughly 44% desktop, 46% mobile, 7% tablet, 3% bots.
const PROFILES: &[Profile] = &[
    Profile {
        weight: 190,
        form: Form::Desktop,
        template: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
        variants: CHROME_V,
        screens: WINDOWS,
        scrollbar: true,
    },
    Profile {
        weight: 55,
        form: Form::Desktop,
        template: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
        variants: CHROME_V,
        screens: WINDOWS,
        scrollbar: true,
    },
    Profile {
        weight: 35,
        form: Form::Desktop,
        template: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        variants: FIREFOX_V,
        screens: WINDOWS,
        scrollbar: true,
    },
    Profile {
        weight: 60,
        form: Form::Desktop,
        template: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
        variants: CHROME_V,
        screens: MAC,
        scrollbar: false,
    },
    Profile {
        weight: 45,
        form: Form::Desktop,
        template: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15",
        variants: &[("17.5", ""), ("17.6", ""), ("18.0", ""), ("18.1", "")],
        screens: MAC,
        scrollbar: false,
    },
    Profile {
        weight: 12,
        form: Form::Desktop,
        template: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        variants: FIREFOX_V,
        screens: MAC,
        scrollbar: false,
    },
    Profile {
        weight: 22,
        form: Form::Desktop,
        template: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
        variants: CHROME_V,
        screens: WINDOWS,
        scrollbar: true,
    },
    Profile {
        weight: 12,
        form: Form::Desktop,
        template: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        variants: FIREFOX_V,
        screens: WINDOWS,
        scrollbar: true,
    },
    Profile {
        weight: 5,
        form: Form::Desktop,
        template: "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
        variants: CHROME_V,
        screens: WINDOWS,
        scrollbar: true,
    },
    Profile {
        weight: 200,
        form: Form::Mobile,
        template: "Mozilla/5.0 (iPhone; CPU iPhone OS {o} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1",
        variants: &[
            ("17.5", "17_5"),
            ("17.6", "17_6_1"),
            ("18.0", "18_0"),
            ("18.1", "18_1"),
        ],
        screens: IPHONE,
        scrollbar: false,
    },
    Profile {
        weight: 20,
        form: Form::Mobile,
        template: "Mozilla/5.0 (iPhone; CPU iPhone OS {o} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{v}.0.6723.90 Mobile/15E148 Safari/604.1",
        variants: &[("129", "17_6_1"), ("130", "18_0"), ("131", "18_1")],
        screens: IPHONE,
        scrollbar: false,
    },
    Profile {
        weight: 165,
        form: Form::Mobile,
        template: "Mozilla/5.0 (Linux; Android {o}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
        variants: &[
            ("129", "10; K"),
            ("130", "10; K"),
            ("131", "10; K"),
            ("130", "14; Pixel 8"),
            ("128", "13; SM-A536B"),
        ],
        screens: ANDROID_PHONE,
        scrollbar: false,
    },
    Profile {
        weight: 45,
        form: Form::Mobile,
        template: "Mozilla/5.0 (Linux; Android {o}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{v} Chrome/125.0.0.0 Mobile Safari/537.36",
        variants: &[
            ("26.0", "14; SAMSUNG SM-S918B"),
            ("25.0", "13; SAMSUNG SM-A546B"),
            ("26.0", "10; K"),
        ],
        screens: ANDROID_PHONE,
        scrollbar: false,
    },
    Profile {
        weight: 8,
        form: Form::Mobile,
        template: "Mozilla/5.0 (Android 14; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0",
        variants: FIREFOX_V,
        screens: ANDROID_PHONE,
        scrollbar: false,
    },
    Profile {
        weight: 45,
        form: Form::Tablet,
        template: "Mozilla/5.0 (iPad; CPU OS {o} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1",
        variants: &[("17.5", "17_5"), ("17.6", "17_6"), ("18.1", "18_1")],
        screens: IPAD,
        scrollbar: false,
    },
    Profile {
        weight: 25,
        form: Form::Tablet,
        template: "Mozilla/5.0 (Linux; Android {o}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
        variants: &[
            ("130", "13; SM-X710"),
            ("129", "14; SM-X510"),
            ("131", "12; Lenovo TB-X606F"),
        ],
        screens: ANDROID_TABLET,
        scrollbar: false,
    },
    Profile {
        weight: 8,
        form: Form::Bot,
        template: "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.6723.116 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        variants: &[("130", ""), ("131", "")],
        screens: BOT_PHONE,
        scrollbar: false,
    },
    Profile {
        weight: 7,
        form: Form::Bot,
        template: "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/{v}.0.6723.116 Safari/537.36",
        variants: &[("130", ""), ("131", "")],
        screens: BOT_DESKTOP,
        scrollbar: false,
    },
    Profile {
        weight: 3,
        form: Form::Bot,
        template: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        variants: &[("", "")],
        screens: BOT_DESKTOP,
        scrollbar: false,
    },
    Profile {
        weight: 7,
        form: Form::Bot,
        template: "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/{v}.0.0.0 Safari/537.36",
        variants: &[("130", ""), ("131", "")],
        screens: BOT_DESKTOP,
        scrollbar: false,
    },
    Profile {
        weight: 3,
        form: Form::Bot,
        template: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        variants: &[("", "")],
        screens: BOT_DESKTOP,
        scrollbar: false,
    },
];

/// A locale: browser language, IANA zone, the local Google host, and weight.
pub(crate) struct Locale {
    pub(crate) lang: &'static str,
    pub(crate) tz: &'static str,
    pub(crate) google: &'static str,
    weight: u32,
}

const fn loc(lang: &'static str, tz: &'static str, google: &'static str, weight: u32) -> Locale {
    Locale {
        lang,
        tz,
        google,
        weight,
    }
}

/// Visitors' locales, weighted like an English-first international shop.
pub(crate) const LOCALES: &[Locale] = &[
    loc("en-US", "America/New_York", "www.google.com", 120),
    loc("en-US", "America/Chicago", "www.google.com", 60),
    loc("en-US", "America/Los_Angeles", "www.google.com", 70),
    loc("en-US", "America/Denver", "www.google.com", 20),
    loc("en-US", "America/Phoenix", "www.google.com", 5),
    loc("en-GB", "Europe/London", "www.google.co.uk", 60),
    loc("en-CA", "America/Toronto", "www.google.ca", 20),
    loc("fr-CA", "America/Toronto", "www.google.ca", 5),
    loc("en-AU", "Australia/Sydney", "www.google.com.au", 15),
    loc("en-IN", "Asia/Kolkata", "www.google.co.in", 25),
    loc("en", "Europe/Dublin", "www.google.ie", 5),
    loc("de-DE", "Europe/Berlin", "www.google.de", 50),
    loc("de-AT", "Europe/Vienna", "www.google.at", 8),
    loc("de-CH", "Europe/Zurich", "www.google.ch", 6),
    loc("fr-FR", "Europe/Paris", "www.google.fr", 40),
    loc("es-ES", "Europe/Madrid", "www.google.es", 25),
    loc("es-MX", "America/Mexico_City", "www.google.com.mx", 15),
    loc("pt-BR", "America/Sao_Paulo", "www.google.com.br", 25),
    loc("it-IT", "Europe/Rome", "www.google.it", 20),
    loc("nl-NL", "Europe/Amsterdam", "www.google.nl", 15),
    loc("pl-PL", "Europe/Warsaw", "www.google.pl", 12),
    loc("sv-SE", "Europe/Stockholm", "www.google.se", 8),
    loc("ja-JP", "Asia/Tokyo", "www.google.co.jp", 20),
    loc("ko-KR", "Asia/Seoul", "www.google.co.kr", 8),
    loc("zh-CN", "Asia/Shanghai", "cn.bing.com", 6),
    loc("tr-TR", "Europe/Istanbul", "www.google.com.tr", 8),
];

/// Crawlers render pages as a US English browser in California.
const BOT_LOCALE: Locale = loc("en-US", "America/Los_Angeles", "www.google.com", 0);

/// One concrete User-Agent string with what it implies.
pub(crate) struct Ua {
    pub(crate) ua: String,
    pub(crate) form: Form,
    screens: &'static [(u32, u32, u32)],
    scrollbar: bool,
}

/// Every concrete UA, with cumulative weights to draw one; and the locales'.
pub(crate) struct Devices {
    pub(crate) uas: Vec<Ua>,
    ua_cum: Vec<f64>,
    locale_cum: Vec<f64>,
}

impl Devices {
    pub(crate) fn new() -> Devices {
        let mut uas = Vec::new();
        let mut ua_cum = Vec::new();
        let mut total = 0.0;
        for p in PROFILES {
            let share = f64::from(p.weight) / p.variants.len() as f64;
            for (v, o) in p.variants {
                uas.push(Ua {
                    ua: p.template.replace("{v}", v).replace("{o}", o),
                    form: p.form,
                    screens: p.screens,
                    scrollbar: p.scrollbar,
                });
                total += share;
                ua_cum.push(total);
            }
        }
        let mut locale_cum = Vec::with_capacity(LOCALES.len());
        let mut total = 0.0;
        for l in LOCALES {
            total += f64::from(l.weight);
            locale_cum.push(total);
        }
        Devices {
            uas,
            ua_cum,
            locale_cum,
        }
    }
}

/// A browser that comes back: returning sessions reuse all of this.
#[derive(Debug)]
pub(crate) struct Visitor {
    /// First-party cookie id.
    pub(crate) id: String,
    /// Fake address from the documentation ranges, for cookieless sessions.
    pub(crate) ip: String,
    /// Index into [`Devices::uas`].
    pub(crate) ua: u32,
    pub(crate) form: Form,
    pub(crate) screen: (u32, u32),
    scrollbar: bool,
    pub(crate) lang: &'static str,
    pub(crate) tz: &'static str,
    pub(crate) google: &'static str,
    pub(crate) dnt: bool,
    /// Sends no cookie ids: its sessions carry `ip` and `ua` instead.
    pub(crate) cookieless: bool,
}

impl Visitor {
    pub(crate) fn new(devices: &Devices, rng: &mut Rng, dnt: f64, cookieless: f64) -> Visitor {
        let ua = rng.pick_cumulative(&devices.ua_cum);
        let u = &devices.uas[ua];
        let weights: Vec<u32> = u.screens.iter().map(|s| s.2).collect();
        let (w, h, _) = u.screens[rng.pick_weighted(&weights)];
        let locale = if u.form == Form::Bot {
            &BOT_LOCALE
        } else {
            &LOCALES[rng.pick_cumulative(&devices.locale_cum)]
        };
        let id = rng.base62_id(16, 22);
        let ip = fake_ip(rng);
        Visitor {
            id,
            ip,
            ua: ua as u32,
            form: u.form,
            screen: (w, h),
            scrollbar: u.scrollbar,
            lang: locale.lang,
            tz: locale.tz,
            google: locale.google,
            dnt: u.form != Form::Bot && rng.chance(dnt),
            cookieless: rng.chance(cookieless),
        }
    }

    /// The viewport of one session: the window may not be maximised, and
    /// browser chrome, task bars and scrollbars take their share.
    pub(crate) fn viewport(&self, rng: &mut Rng) -> (u32, u32) {
        let (sw, sh) = self.screen;
        match self.form {
            Form::Bot => (sw, sh),
            Form::Mobile => (sw, sh.saturating_sub(rng.range_u32(80, 200)).max(300)),
            Form::Tablet => (sw, sh.saturating_sub(rng.range_u32(60, 120)).max(300)),
            Form::Desktop => {
                let mut vw = sw;
                let mut vh = sh.saturating_sub(40 + rng.range_u32(70, 140));
                if rng.chance(0.25) {
                    vw = (f64::from(sw) * (0.55 + 0.4 * rng.f64())) as u32;
                    vh = (f64::from(vh) * (0.7 + 0.3 * rng.f64())) as u32;
                }
                if self.scrollbar {
                    vw = vw.saturating_sub(rng.range_u32(15, 17));
                }
                (vw.max(320), vh.max(300))
            }
        }
    }
}

/// An address from the documentation ranges (RFC 5737, RFC 3849): never a
/// real visitor's.
fn fake_ip(rng: &mut Rng) -> String {
    if rng.chance(0.7) {
        let net = ["203.0.113", "198.51.100", "192.0.2"][rng.index(3)];
        format!("{net}.{}", rng.range_u32(1, 254))
    } else {
        format!(
            "2001:db8:{:x}:{:x}::{:x}",
            rng.below(0x1_0000),
            rng.below(0x1_0000),
            rng.range_u32(1, 0xffff)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_and_viewports_are_plausible() {
        let devices = Devices::new();
        let mut rng = Rng::new(3, 0);
        let (mut bots, mut touch) = (0, 0);
        for _ in 0..10_000 {
            let v = Visitor::new(&devices, &mut rng, 0.0, 0.0);
            bots += usize::from(v.form == Form::Bot);
            touch += usize::from(v.form.is_touch());
            let (vw, vh) = v.viewport(&mut rng);
            assert!(vw <= v.screen.0 && vh <= v.screen.1, "{v:?} {vw}x{vh}");
            assert!(v.id.len() >= 16);
        }
        assert!((150..500).contains(&bots), "{bots}");
        assert!((4_500..6_000).contains(&touch), "{touch}");
    }
}
