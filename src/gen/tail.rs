//! The long tail of URLs ([`super::GenConfig::url_tail`]): pages outside a
//! site's catalogue, each made up for one pageview. Deep paths (dated blog
//! posts, products three levels down, versioned docs) and query strings
//! (searches, filters, tracking tags, session-ish tokens) make almost every
//! one distinct, as in a real site's logs. Each uses the layout of its kind,
//! so its clicks, moves and scrolls look like those of catalogue pages.

use std::fmt::Write as _;

use super::layout::{PageKind, Template};
use super::rng::Rng;

use PageKind as K;

/// One long-tail page: where it is and which layout it has.
pub(crate) struct TailPage {
    /// The path, starting with `/`, without a query string.
    pub(crate) path: String,
    /// The query string without `?`; may be empty.
    pub(crate) query: String,
    pub(crate) kind: PageKind,
    /// Desktop document height in px.
    pub(crate) dh: u32,
}

/// Words of slugs, search terms and campaign names.
const WORDS: &[&str] = &[
    "analytics",
    "beginner",
    "best",
    "black",
    "budget",
    "checklist",
    "cheap",
    "classic",
    "compare",
    "complete",
    "dashboard",
    "design",
    "easy",
    "ecommerce",
    "examples",
    "fast",
    "free",
    "guide",
    "heatmap",
    "ideas",
    "lightweight",
    "marketing",
    "mistakes",
    "mobile",
    "modern",
    "new",
    "open-source",
    "performance",
    "premium",
    "privacy",
    "quick",
    "red",
    "review",
    "running",
    "saas",
    "secret",
    "setup",
    "shoes",
    "simple",
    "small-business",
    "strategy",
    "summer",
    "template",
    "tips",
    "tools",
    "tracking",
    "tutorial",
    "ultimate",
    "vintage",
    "waterproof",
    "winter",
    "workflow",
];
const CATEGORIES: &[&str] = &[
    "shoes",
    "jackets",
    "bags",
    "accessories",
    "outdoor",
    "kids",
    "home-living",
    "sports",
    "electronics",
    "beauty",
    "garden",
    "toys",
];
const SUBCATEGORIES: &[&str] = &[
    "men", "women", "unisex", "running", "hiking", "winter", "summer", "leather", "wool", "sale",
    "premium", "basics",
];
const DOC_SECTIONS: &[&str] = &["guides", "reference", "api", "sdk", "recipes", "changelog"];
const SORTS: &[&str] = &[
    "relevance",
    "price_asc",
    "price_desc",
    "newest",
    "rating",
    "popular",
];
const COLORS: &[&str] = &["black", "white", "red", "blue", "green", "grey", "beige"];
const SIZES: &[&str] = &["xs", "s", "m", "l", "xl", "36", "38", "40", "42", "44"];
const SOURCES: &[(&str, &str)] = &[
    ("newsletter", "email"),
    ("facebook", "paid_social"),
    ("instagram", "social"),
    ("twitter", "social"),
    ("google", "cpc"),
    ("partner", "referral"),
    ("affiliate", "affiliate"),
];

fn word(rng: &mut Rng) -> &'static str {
    WORDS[rng.index(WORDS.len())]
}

/// Appends `n` random words joined by `sep`.
fn words(rng: &mut Rng, out: &mut String, n: u32, sep: char) {
    for i in 0..n {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(word(rng));
    }
}

/// Appends `key=value` to a query string.
fn param(query: &mut String, key: &str, value: impl std::fmt::Display) {
    if !query.is_empty() {
        query.push('&');
    }
    // Writing to a `String` cannot fail.
    let _ = write!(query, "{key}={value}");
}

/// Appends `key=` and a random base62 token of `lo..=hi` characters.
fn token(rng: &mut Rng, query: &mut String, key: &str, lo: u32, hi: u32) {
    param(query, key, "");
    let len = rng.range_u32(lo, hi) as usize;
    rng.base62_into(query, len);
}

/// A made-up page for one pageview. `tagged`: the landing URL already
/// carries campaign tags, so no more tracking parameters are added.
pub(crate) fn tail_page(rng: &mut Rng, templates: &[Template], tagged: bool) -> TailPage {
    let mut path = String::with_capacity(96);
    let mut query = String::new();
    let kind = match rng.below(100) {
        // A dated blog post: `/blog/2024/07/best-heatmap-tools-1234`.
        0..=29 => {
            let _ = write!(
                path,
                "/blog/{}/{:02}/",
                rng.range_u32(2016, 2026),
                rng.range_u32(1, 12)
            );
            let n = rng.range_u32(2, 6);
            words(rng, &mut path, n, '-');
            let _ = write!(path, "-{}", rng.range_u32(1, 99_999));
            if rng.chance(0.1) {
                param(&mut query, "replytocom", rng.range_u32(1, 999_999));
            }
            K::BlogPost
        }
        // A product three levels down: `/products/shoes/running/p-81723-red`.
        30..=59 => {
            let _ = write!(
                path,
                "/products/{}/{}/p-{}",
                CATEGORIES[rng.index(CATEGORIES.len())],
                SUBCATEGORIES[rng.index(SUBCATEGORIES.len())],
                rng.range_u32(10_000, 9_999_999)
            );
            if rng.chance(0.5) {
                path.push('-');
                path.push_str(word(rng));
            }
            if rng.chance(0.4) {
                param(&mut query, "variant", rng.range_u32(1, 99_999));
            }
            if rng.chance(0.2) {
                param(&mut query, "color", COLORS[rng.index(COLORS.len())]);
            }
            K::Product
        }
        // A filtered listing: `/c/bags/leather?color=red&size=m&page=3`.
        60..=74 => {
            let _ = write!(
                path,
                "/c/{}/{}",
                CATEGORIES[rng.index(CATEGORIES.len())],
                SUBCATEGORIES[rng.index(SUBCATEGORIES.len())]
            );
            if rng.chance(0.3) {
                let _ = write!(path, "/brand-{}", rng.range_u32(1, 400));
            }
            if rng.chance(0.6) {
                param(&mut query, "color", COLORS[rng.index(COLORS.len())]);
            }
            if rng.chance(0.5) {
                param(&mut query, "size", SIZES[rng.index(SIZES.len())]);
            }
            if rng.chance(0.4) {
                let lo = 10 * rng.range_u32(0, 20);
                let hi = lo + 10 * rng.range_u32(1, 30);
                param(&mut query, "price", format_args!("{lo}-{hi}"));
            }
            if rng.chance(0.5) {
                param(&mut query, "sort", SORTS[rng.index(SORTS.len())]);
            }
            if rng.chance(0.4) {
                param(&mut query, "page", rng.range_u32(2, 40));
            }
            K::Category
        }
        // A site search: `/search?q=red+running+shoes&page=2&sort=newest`.
        75..=89 => {
            path.push_str("/search");
            query.push_str("q=");
            let n = rng.range_u32(1, 5);
            words(rng, &mut query, n, '+');
            if rng.chance(0.4) {
                param(&mut query, "page", rng.range_u32(2, 20));
            }
            if rng.chance(0.5) {
                param(&mut query, "sort", SORTS[rng.index(SORTS.len())]);
            }
            K::Search
        }
        // Versioned docs: `/docs/v3.2/api/tracking/setup-examples`.
        _ => {
            let _ = write!(
                path,
                "/docs/v{}.{}/{}/",
                rng.range_u32(1, 5),
                rng.range_u32(0, 12),
                DOC_SECTIONS[rng.index(DOC_SECTIONS.len())]
            );
            let n = rng.range_u32(2, 4);
            words(rng, &mut path, n, '/');
            K::Docs
        }
    };
    if !tagged {
        tracking(rng, &mut query);
    }
    let (lo, hi) = templates[kind as usize].dh;
    let dh = rng.range_u32(lo / 50, hi / 50) * 50;
    TailPage {
        path,
        query,
        kind,
        dh,
    }
}

/// Tracking parameters that links pick up on their way: campaign tags,
/// ad click ids, referral codes and session-ish tokens.
fn tracking(rng: &mut Rng, query: &mut String) {
    if rng.chance(0.3) {
        let (source, medium) = SOURCES[rng.index(SOURCES.len())];
        param(query, "utm_source", source);
        param(query, "utm_medium", medium);
        param(
            query,
            "utm_campaign",
            format_args!("{}_{}", word(rng), rng.range_u32(1, 52)),
        );
        if rng.chance(0.3) {
            param(query, "utm_content", word(rng));
        }
    }
    if rng.chance(0.15) {
        token(rng, query, "ref", 6, 12);
    }
    match rng.below(100) {
        0..=11 => token(rng, query, "gclid", 40, 60),
        12..=19 => token(rng, query, "fbclid", 30, 40),
        20..=22 => param(
            query,
            "msclkid",
            format_args!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()),
        ),
        _ => {}
    }
    if rng.chance(0.08) {
        param(query, "sid", format_args!("{:024x}", rng.next_u64()));
    }
    if rng.chance(0.05) {
        param(
            query,
            "_ga",
            format_args!(
                "2.{}.{}.{}",
                rng.range_u32(10_000_000, 999_999_999),
                rng.range_u32(100_000_000, 999_999_999),
                rng.range_u32(1_600_000_000, 1_800_000_000)
            ),
        );
    }
    if rng.chance(0.03) {
        param(query, "mc_eid", format_args!("{:010x}", rng.below(1 << 40)));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::layout::templates;
    use super::*;

    #[test]
    fn tail_pages_are_deep_distinct_and_well_formed() {
        let t = templates();
        let mut rng = Rng::new(3, 0);
        let mut urls = HashSet::new();
        let mut paths = HashSet::new();
        let mut kinds = HashSet::new();
        let n = 5_000;
        for i in 0..n {
            let p = tail_page(&mut rng, &t, i % 10 == 0);
            assert!(p.path.starts_with('/') && !p.path.contains(['?', '#', ' ']));
            assert!(!p.query.starts_with('&') && !p.query.ends_with('&'));
            assert!(!p.query.contains(['?', '#', ' ']), "{}", p.query);
            assert!(p.path.len() + p.query.len() < 512);
            let (lo, hi) = t[p.kind as usize].dh;
            assert!((lo..=hi).contains(&p.dh));
            kinds.insert(p.kind as usize);
            paths.insert(p.path.clone());
            urls.insert(format!("{}?{}", p.path, p.query));
        }
        assert_eq!(kinds.len(), 5);
        assert!(urls.len() > n * 95 / 100, "{}", urls.len());
        assert!(paths.len() > n * 70 / 100, "{}", paths.len());
    }
}
