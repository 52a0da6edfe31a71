//! Where sessions come from (referrers and campaigns) and when (a daily and
//! weekly cycle over the configured days).

use super::rng::Rng;

/// How a session arrived, with the referrer of its first pageview and the
/// query string its landing URL carries (campaign tags, ad click ids).
pub(crate) struct Entry {
    pub(crate) referrer: Option<String>,
    pub(crate) query: Option<String>,
}

const SOCIAL: &[(&str, u32)] = &[
    ("https://l.facebook.com/", 25),
    ("https://lm.facebook.com/", 10),
    ("https://t.co/", 20),
    ("https://www.reddit.com/", 15),
    ("https://www.linkedin.com/", 12),
    ("https://lnkd.in/", 5),
    ("https://news.ycombinator.com/", 8),
    ("https://www.instagram.com/", 5),
    ("https://www.youtube.com/", 5),
];
const EMAIL: &[(&str, u32)] = &[
    ("https://mail.google.com/", 60),
    ("https://outlook.live.com/", 25),
    ("https://outlook.office.com/", 10),
    ("https://mail.yahoo.com/", 5),
];
const REFERRAL: &[&str] = &[
    "https://github.com/heatstore-users/awesome-analytics",
    "https://stackoverflow.com/questions/48211723/how-to-track-clicks-on-a-page",
    "https://en.wikipedia.org/wiki/Heat_map",
    "https://www.producthunt.com/posts/",
    "https://blog.example.org/2026/09/best-tools",
    "https://medium.com/@analyst/five-dashboards-3f9a1c2b7e10",
    "https://partner-shop.example.net/deals",
    "http://forum.example.net/viewtopic.php?t=8812",
    "https://news.example.com/tech/2026/10/01/startups",
    "android-app://com.google.android.gm/",
];
const SUBREDDITS: &[&str] = &["webdev", "analytics", "SaaS", "ecommerce", "startups"];
const CAMPAIGNS: &[&str] = &[
    "oct_launch",
    "black_friday",
    "brand",
    "retargeting_q4",
    "spring_sale",
    "webinar_2026",
];

fn pick<'a>(rng: &mut Rng, items: &[(&'a str, u32)]) -> &'a str {
    let weights: Vec<u32> = items.iter().map(|i| i.1).collect();
    items[rng.pick_weighted(&weights)].0
}

/// The session's entry: `google` is the visitor's local Google host, `site`
/// and `self_path` make self-referrals (a resumed tab, a page reload).
pub(crate) fn entry(rng: &mut Rng, google: &str, site: &str, self_path: &str) -> Entry {
    let campaign = CAMPAIGNS[rng.index(CAMPAIGNS.len())];
    let roll = rng.below(1000);
    let (referrer, query) = match roll {
        // Direct: typed, bookmarked, or the referrer was stripped.
        0..=329 => (None, None),
        // Organic search: engines send their origin only.
        330..=669 => {
            let r = match rng.below(100) {
                0..=79 => format!("https://{google}/"),
                80..=89 => "https://www.bing.com/".to_owned(),
                90..=95 => "https://duckduckgo.com/".to_owned(),
                96..=97 => "https://search.yahoo.com/".to_owned(),
                _ => "https://www.ecosia.org/".to_owned(),
            };
            (Some(r), None)
        }
        670..=769 => {
            let base = pick(rng, SOCIAL);
            let r = match base {
                "https://t.co/" | "https://lnkd.in/" => format!("{base}{}", rng.base62_id(10, 10)),
                "https://www.reddit.com/" if rng.chance(0.5) => format!(
                    "{base}r/{}/comments/{}/",
                    SUBREDDITS[rng.index(SUBREDDITS.len())],
                    rng.base62_id(7, 7).to_lowercase()
                ),
                _ => base.to_owned(),
            };
            (Some(r), None)
        }
        770..=809 => (Some(pick(rng, EMAIL).to_owned()), None),
        810..=909 => (Some(REFERRAL[rng.index(REFERRAL.len())].to_owned()), None),
        // Campaigns: tagged links from ads, newsletters, partners.
        910..=979 => match rng.below(7) {
            0 => (
                Some(format!("https://{google}/")),
                Some(format!(
                    "utm_source=google&utm_medium=cpc&utm_campaign={campaign}&gclid={}",
                    rng.base62_id(40, 60)
                )),
            ),
            1 => (
                Some(format!("https://{google}/")),
                Some(format!("gclid={}", rng.base62_id(40, 60))),
            ),
            2 => (
                None,
                Some(format!(
                    "utm_source=newsletter&utm_medium=email&utm_campaign=2026-10-weekly-{}",
                    rng.range_u32(1, 5)
                )),
            ),
            3 => (
                Some("https://l.facebook.com/".to_owned()),
                Some(format!(
                    "utm_source=facebook&utm_medium=paid_social&utm_campaign={campaign}&utm_content=carousel_{}&fbclid={}",
                    ["a", "b"][rng.index(2)],
                    rng.base62_id(30, 40)
                )),
            ),
            4 => (
                Some(format!("https://t.co/{}", rng.base62_id(10, 10))),
                Some(format!(
                    "utm_source=twitter&utm_medium=social&utm_campaign={campaign}"
                )),
            ),
            5 => (
                Some("https://www.bing.com/".to_owned()),
                Some(format!(
                    "utm_source=bing&utm_medium=cpc&utm_campaign=brand&msclkid={:032x}",
                    u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())
                )),
            ),
            _ => (
                Some("https://partner-shop.example.net/deals".to_owned()),
                Some(format!(
                    "utm_source=partner_blog&utm_medium=referral&utm_campaign={campaign}&utm_term=analytics"
                )),
            ),
        },
        // Self-referral: on the site's own host, counted as direct.
        _ => (Some(format!("https://{site}{self_path}")), None),
    };
    Entry { referrer, query }
}

/// Relative traffic per UTC hour: low at night in Europe and the Americas,
/// highest in the European afternoon / American morning.
const HOURLY: [f64; 24] = [
    0.45, 0.38, 0.32, 0.28, 0.27, 0.30, 0.38, 0.50, 0.65, 0.78, 0.86, 0.92, 0.97, 1.00, 1.00, 0.98,
    0.96, 0.95, 0.92, 0.86, 0.78, 0.70, 0.62, 0.52,
];
/// Weekend days carry this share of a weekday's traffic.
const WEEKEND: f64 = 0.8;
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// Maps a fraction of the workload, 0..1, to a time in the window with the
/// daily and weekly cycle: the inverse of its cumulative distribution over
/// hourly bins.
pub(crate) struct Timeline {
    start_ms: i64,
    cumulative: Vec<f64>,
}

impl Timeline {
    /// The window `[start_ms, start_ms + days)`; `days == 0` counts as 1.
    pub(crate) fn new(start_ms: i64, days: u32) -> Timeline {
        Timeline::boosted(start_ms, days, |_| 1.0)
    }

    /// Hours in the window of `days` days (`0` counts as 1).
    pub(crate) fn hours(days: u32) -> usize {
        days.max(1) as usize * 24
    }

    /// Like [`Timeline::new`], with hour `i` of the window carrying
    /// `boost(i)` times its usual traffic (a burst).
    pub(crate) fn boosted(start_ms: i64, days: u32, boost: impl Fn(usize) -> f64) -> Timeline {
        let bins = Timeline::hours(days);
        let mut cumulative = Vec::with_capacity(bins);
        let mut total = 0.0;
        for i in 0..bins {
            let t = start_ms + i as i64 * HOUR_MS + HOUR_MS / 2;
            let hour = t.div_euclid(HOUR_MS).rem_euclid(24) as usize;
            // 1970-01-01 was a Thursday: day 0 is weekday 3 (Mon = 0).
            let weekday = (t.div_euclid(24 * HOUR_MS) + 3).rem_euclid(7);
            let day = if weekday >= 5 { WEEKEND } else { 1.0 };
            let w = HOURLY[hour] * day * boost(i);
            total += w;
            cumulative.push(total);
        }
        Timeline {
            start_ms,
            cumulative,
        }
    }

    /// The hour of the window that `t` falls in (clamped to the window).
    pub(crate) fn hour_of(&self, t: i64) -> usize {
        let i = (t - self.start_ms).div_euclid(HOUR_MS).max(0) as usize;
        i.min(self.cumulative.len() - 1)
    }

    /// The time at fraction `u` (clamped to 0..=1) of the traffic: monotone
    /// in `u`.
    pub(crate) fn at(&self, u: f64) -> i64 {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let r = u.clamp(0.0, 1.0) * total;
        let bin = self
            .cumulative
            .partition_point(|&c| c <= r)
            .min(self.cumulative.len() - 1);
        let before = if bin == 0 {
            0.0
        } else {
            self.cumulative[bin - 1]
        };
        let width = self.cumulative[bin] - before;
        let frac = if width > 0.0 {
            ((r - before) / width).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.start_ms + bin as i64 * HOUR_MS + (frac * HOUR_MS as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_is_monotone_and_cyclic() {
        let start = 1_790_812_800_000; // 2026-10-01T00:00:00Z
        let tl = Timeline::new(start, 30);
        let mut prev = i64::MIN;
        let mut by_hour = [0u32; 24];
        for i in 0..=100_000 {
            let t = tl.at(f64::from(i) / 100_000.0);
            assert!(t >= prev && t >= start && t <= start + 30 * 24 * HOUR_MS);
            prev = t;
            by_hour[(t.div_euclid(HOUR_MS) % 24) as usize] += 1;
        }
        assert!(by_hour[14] > 3 * by_hour[4] / 2, "{by_hour:?}");
        assert_eq!(Timeline::new(start, 0).at(1.0), start + 24 * HOUR_MS);
    }

    #[test]
    fn entries_cover_the_channels() {
        let mut rng = Rng::new(9, 0);
        let (mut direct, mut tagged, mut own) = (0, 0, 0);
        for _ in 0..5_000 {
            let e = entry(&mut rng, "www.google.de", "a.example", "/x");
            direct += usize::from(e.referrer.is_none() && e.query.is_none());
            tagged += usize::from(e.query.as_deref().is_some_and(|q| q.contains("utm_")));
            own += usize::from(e.referrer.as_deref() == Some("https://a.example/x"));
        }
        assert!((1_400..1_900).contains(&direct), "{direct}");
        assert!((200..500).contains(&tagged), "{tagged}");
        assert!(own > 50, "{own}");
    }
}
