//! What is visited: each site's pages, in Zipf popularity order.

use std::collections::HashSet;

use super::layout::{PageKind, Template, KINDS};
use super::rng::Rng;

use PageKind as K;

/// One page of a site.
pub(crate) struct Page {
    /// The path, starting with `/`.
    pub(crate) path: String,
    pub(crate) kind: PageKind,
    /// Desktop document height in px.
    pub(crate) dh: u32,
}

/// One site: its pages in popularity order (rank 0 most popular).
pub(crate) struct Site {
    pub(crate) name: String,
    pub(crate) pages: Vec<Page>,
    /// Zipf(s = 1) cumulative weights by rank.
    zipf_cum: Vec<f64>,
    /// Per kind: its pages and their cumulative popularity.
    by_kind: Vec<(Vec<u32>, Vec<f64>)>,
}

/// Pages every site has, in the order they are kept when `pages` is small.
const CORE: &[(&str, PageKind)] = &[
    ("/", K::Home),
    ("/pricing", K::Pricing),
    ("/features", K::Features),
    ("/blog", K::BlogIndex),
    ("/docs", K::Docs),
    ("/signup", K::Signup),
    ("/login", K::Login),
    ("/cart", K::Cart),
    ("/checkout", K::Checkout),
    ("/search", K::Search),
    ("/about", K::About),
    ("/contact", K::Contact),
    ("/careers", K::Careers),
    ("/privacy", K::Privacy),
    ("/terms", K::Terms),
];

const VERBS: &[&str] = &[
    "track", "measure", "improve", "reduce", "design", "test", "optimize", "read", "build",
    "debug", "choose", "grow",
];
const NOUNS: &[&str] = &[
    "conversion-rate",
    "bounce-rate",
    "heatmaps",
    "checkout-flow",
    "landing-pages",
    "onboarding",
    "page-speed",
    "user-feedback",
    "ab-tests",
    "funnels",
    "session-replays",
    "pricing-pages",
    "signup-forms",
    "core-web-vitals",
];
const DOC_SECTIONS: &[&str] = &["getting-started", "guides", "api", "sdk", "integrations"];
const DOC_TOPICS: &[&str] = &[
    "install",
    "configuration",
    "events",
    "queries",
    "retention",
    "privacy",
    "webhooks",
    "authentication",
    "rate-limits",
    "errors",
    "migration",
    "faq",
];
const CATEGORIES: &[&str] = &[
    "shoes",
    "jackets",
    "bags",
    "accessories",
    "outdoor",
    "kids",
    "sale",
    "new-arrivals",
    "home",
    "sports",
];
const SUBCATEGORIES: &[&str] = &["men", "women", "running", "winter", "leather", "under-50"];

/// A new, not yet used path of a generated page.
fn generated_page(rng: &mut Rng, taken: &mut HashSet<String>) -> (String, PageKind) {
    loop {
        let roll = rng.below(100);
        let (path, kind) = if roll < 40 {
            (
                format!("/product/{}", rng.range_u32(100, 99_999)),
                K::Product,
            )
        } else if roll < 70 {
            let v = VERBS[rng.index(VERBS.len())];
            let n = NOUNS[rng.index(NOUNS.len())];
            let slug = match rng.below(4) {
                0 => format!("how-to-{v}-{n}"),
                1 => format!("{}-ways-to-{v}-{n}", rng.range_u32(3, 15)),
                2 => {
                    // Another noun: `x-vs-x` reads wrong.
                    let k = NOUNS.iter().position(|&x| x == n).unwrap_or(0);
                    let other = NOUNS[(k + 1 + rng.index(NOUNS.len() - 1)) % NOUNS.len()];
                    format!("{n}-vs-{other}")
                }
                _ => format!("why-{n}-matter-in-{}", rng.range_u32(2019, 2026)),
            };
            (format!("/blog/{slug}"), K::BlogPost)
        } else if roll < 85 {
            let s = DOC_SECTIONS[rng.index(DOC_SECTIONS.len())];
            let t = DOC_TOPICS[rng.index(DOC_TOPICS.len())];
            (format!("/docs/{s}/{t}"), K::Docs)
        } else {
            let c = CATEGORIES[rng.index(CATEGORIES.len())];
            if rng.chance(0.5) {
                (format!("/category/{c}"), K::Category)
            } else {
                let s = SUBCATEGORIES[rng.index(SUBCATEGORIES.len())];
                (format!("/category/{c}/{s}"), K::Category)
            }
        };
        // After many collisions (a huge `pages`), make the path unique.
        let path = if taken.contains(&path) {
            format!("{path}-{}", rng.base62_id(4, 6).to_lowercase())
        } else {
            path
        };
        if taken.insert(path.clone()) {
            return (path, kind);
        }
    }
}

impl Site {
    /// `pages` pages (at least one, `/`) for the site `name`.
    pub(crate) fn new(name: &str, pages: u32, templates: &[Template], rng: &mut Rng) -> Site {
        let n = pages.max(1) as usize;
        let mut list: Vec<(String, PageKind)> = CORE
            .iter()
            .take(n)
            .map(|&(p, k)| (p.to_owned(), k))
            .collect();
        let mut taken: HashSet<String> = list.iter().map(|(p, _)| p.clone()).collect();
        while list.len() < n {
            list.push(generated_page(rng, &mut taken));
        }
        // Popularity: `/` first; the core pages mixed with the first
        // generated ones, so a hit product can beat `/careers`.
        let mix = (2 * CORE.len()).min(list.len());
        shuffle(&mut list[1..mix], rng);
        if mix < list.len() {
            shuffle(&mut list[mix..], rng);
        }
        let pages: Vec<Page> = list
            .into_iter()
            .map(|(path, kind)| {
                let (lo, hi) = templates[kind as usize].dh;
                let dh = rng.range_u32(lo / 50, hi / 50) * 50;
                Page { path, kind, dh }
            })
            .collect();
        let mut zipf_cum = Vec::with_capacity(pages.len());
        let mut by_kind: Vec<(Vec<u32>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); KINDS];
        let mut total = 0.0;
        for (rank, page) in pages.iter().enumerate() {
            let w = 1.0 / (rank as f64 + 1.0);
            total += w;
            zipf_cum.push(total);
            let (ids, cum) = &mut by_kind[page.kind as usize];
            let before = cum.last().copied().unwrap_or(0.0);
            ids.push(rank as u32);
            cum.push(before + w);
        }
        Site {
            name: name.to_owned(),
            pages,
            zipf_cum,
            by_kind,
        }
    }

    /// A page drawn by popularity.
    pub(crate) fn zipf_page(&self, rng: &mut Rng) -> u32 {
        rng.pick_cumulative(&self.zipf_cum) as u32
    }

    /// A page of `kind` drawn by popularity, or any page when the site has
    /// none of that kind.
    pub(crate) fn page_of_kind(&self, kind: PageKind, rng: &mut Rng) -> u32 {
        let (ids, cum) = &self.by_kind[kind as usize];
        if ids.is_empty() {
            return self.zipf_page(rng);
        }
        ids[rng.pick_cumulative(cum)]
    }
}

/// Fisher–Yates with our own generator (deterministic for a seed).
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.index(i + 1);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::templates;
    use super::*;

    #[test]
    fn sites_have_unique_paths_and_home_first() {
        let t = templates();
        let mut rng = Rng::new(5, 1);
        let site = Site::new("a.example", 2000, &t, &mut rng);
        assert_eq!(site.pages.len(), 2000);
        assert_eq!(site.pages[0].path, "/");
        let unique: HashSet<&str> = site.pages.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(unique.len(), 2000);
        let small = Site::new("b.example", 0, &t, &mut rng);
        assert_eq!(small.pages.len(), 1);
        assert_eq!(small.page_of_kind(K::Pricing, &mut rng), 0);
    }
}
