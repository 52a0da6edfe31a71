//! Page layouts: for each kind of page its elements (CSS selector,
//! bounding box, what a click does). Pages of one kind share a layout, as
//! the product pages of a real shop share a template.

/// The layout a page uses; pages of one kind share their elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageKind {
    Home,
    Pricing,
    Features,
    BlogIndex,
    BlogPost,
    Docs,
    Signup,
    Login,
    About,
    Contact,
    Cart,
    Checkout,
    Search,
    Careers,
    Privacy,
    Terms,
    Product,
    Category,
}

/// Every [`PageKind`], in discriminant order (templates are indexed by it).
const ALL_KINDS: [PageKind; 18] = [
    PageKind::Home,
    PageKind::Pricing,
    PageKind::Features,
    PageKind::BlogIndex,
    PageKind::BlogPost,
    PageKind::Docs,
    PageKind::Signup,
    PageKind::Login,
    PageKind::About,
    PageKind::Contact,
    PageKind::Cart,
    PageKind::Checkout,
    PageKind::Search,
    PageKind::Careers,
    PageKind::Privacy,
    PageKind::Terms,
    PageKind::Product,
    PageKind::Category,
];
/// Number of [`PageKind`]s.
pub(crate) const KINDS: usize = ALL_KINDS.len();

/// What clicking (or focusing) an element does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    /// Nothing visible: images, text, toggles, tabs. Rage-click magnets.
    Nothing,
    /// Navigates to a page of that kind.
    Go(PageKind),
    /// Fires a custom event of that name (sign-up, add to cart, ...).
    Custom(&'static str),
    /// A form field: typing `min..=max` characters (only counted).
    Field(u16, u16),
}

/// One element of a layout. The box is `x`, `w` in fractions of the
/// viewport width; its top is `top` px plus `at` of the document height.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Element {
    pub(crate) selector: &'static str,
    x: f32,
    w: f32,
    top: u16,
    at: f32,
    h: u16,
    /// Relative share of the page's clicks.
    pub(crate) weight: u16,
    pub(crate) act: Act,
}

/// An element's box in document px for one viewport and document height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rect {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) w: u32,
    pub(crate) h: u32,
}

impl Element {
    /// The element's box for viewport width `vw` and document height `dh`:
    /// inside the document, at least 8 px wide.
    pub(crate) fn rect(&self, vw: u32, dh: u32) -> Rect {
        let w = ((self.w * vw as f32) as u32).clamp(8, vw.max(8));
        let x = ((self.x * vw as f32) as u32).min(vw.saturating_sub(w));
        let h = u32::from(self.h).min(dh / 2).max(1);
        let y = (u32::from(self.top) + (self.at * dh as f32) as u32).min(dh.saturating_sub(h));
        Rect { x, y, w, h }
    }
}

#[allow(clippy::too_many_arguments)]
const fn el(
    selector: &'static str,
    x: f32,
    w: f32,
    top: u16,
    at: f32,
    h: u16,
    weight: u16,
    act: Act,
) -> Element {
    Element {
        selector,
        x,
        w,
        top,
        at,
        h,
        weight,
        act,
    }
}

use Act::{Custom, Field, Go, Nothing};
use PageKind as K;

// The tables: el(selector, x, w, top, at, h, weight, act), one per line.

#[rustfmt::skip]
const HEADER: &[Element] = &[
    el("header a.logo", 0.04, 0.10, 18, 0.0, 36, 6, Go(K::Home)),
    el("nav > a.features", 0.45, 0.06, 24, 0.0, 24, 5, Go(K::Features)),
    el("nav > a.pricing", 0.52, 0.06, 24, 0.0, 24, 9, Go(K::Pricing)),
    el("nav > a.blog", 0.59, 0.05, 24, 0.0, 24, 4, Go(K::BlogIndex)),
    el("nav > a.docs", 0.65, 0.05, 24, 0.0, 24, 4, Go(K::Docs)),
    el("nav > a.login", 0.76, 0.05, 24, 0.0, 24, 4, Go(K::Login)),
    el("header .btn-signup", 0.83, 0.09, 16, 0.0, 40, 6, Go(K::Signup)),
    el("header a.cart", 0.93, 0.03, 20, 0.0, 32, 3, Go(K::Cart)),
    el("#search-toggle", 0.965, 0.025, 20, 0.0, 32, 2, Go(K::Search)),
];

#[rustfmt::skip]
const FOOTER: &[Element] = &[
    el("footer a.about", 0.10, 0.06, 0, 0.975, 20, 1, Go(K::About)),
    el("footer a.careers", 0.18, 0.06, 0, 0.975, 20, 1, Go(K::Careers)),
    el("footer a.contact", 0.26, 0.06, 0, 0.975, 20, 1, Go(K::Contact)),
    el("footer a.privacy", 0.60, 0.06, 0, 0.985, 20, 1, Go(K::Privacy)),
    el("footer a.terms", 0.68, 0.06, 0, 0.985, 20, 1, Go(K::Terms)),
];

#[rustfmt::skip]
const HOME: &[Element] = &[
    el("#hero-cta", 0.38, 0.24, 420, 0.0, 56, 30, Go(K::Signup)),
    el(".hero a.secondary", 0.64, 0.12, 420, 0.0, 56, 8, Go(K::Features)),
    el(".hero img", 0.10, 0.80, 520, 0.0, 380, 4, Nothing),
    el(".card:nth-child(1) a", 0.06, 0.26, 0, 0.35, 280, 8, Go(K::Features)),
    el(".card:nth-child(2) a", 0.37, 0.26, 0, 0.35, 280, 6, Go(K::Pricing)),
    el(".card:nth-child(3) button", 0.68, 0.26, 0, 0.35, 280, 5, Custom("video_play")),
    el(".testimonials .next", 0.90, 0.04, 0, 0.55, 40, 3, Nothing),
    el(".featured .card:nth-child(2) a", 0.37, 0.26, 0, 0.68, 300, 6, Go(K::Product)),
    el("#newsletter-email", 0.30, 0.28, 0, 0.85, 44, 3, Field(8, 32)),
    el("#newsletter-submit", 0.60, 0.10, 0, 0.85, 44, 2, Custom("newsletter_subscribe")),
];

#[rustfmt::skip]
const PRICING: &[Element] = &[
    el("#billing-toggle", 0.45, 0.10, 300, 0.0, 32, 10, Nothing),
    el(".plan:nth-child(2) .price", 0.40, 0.20, 700, 0.0, 60, 3, Nothing),
    el(".plan:nth-child(1) .btn", 0.10, 0.22, 900, 0.0, 48, 8, Go(K::Signup)),
    el(".plan:nth-child(2) .btn", 0.39, 0.22, 900, 0.0, 48, 16, Go(K::Signup)),
    el(".plan:nth-child(3) .btn", 0.68, 0.22, 900, 0.0, 48, 6, Go(K::Contact)),
    el(".faq details:nth-of-type(1) summary", 0.20, 0.60, 0, 0.70, 48, 5, Nothing),
    el(".faq details:nth-of-type(2) summary", 0.20, 0.60, 0, 0.74, 48, 4, Nothing),
    el(".faq details:nth-of-type(3) summary", 0.20, 0.60, 0, 0.78, 48, 3, Nothing),
];

#[rustfmt::skip]
const FEATURES: &[Element] = &[
    el(".feature-video button.play", 0.40, 0.20, 500, 0.0, 80, 8, Custom("video_play")),
    el(".feature-grid .card:nth-child(1) a", 0.06, 0.40, 0, 0.25, 200, 6, Go(K::Docs)),
    el(".feature-grid .card:nth-child(2) a", 0.54, 0.40, 0, 0.25, 200, 5, Go(K::Docs)),
    el(".feature-grid .card:nth-child(3) a", 0.06, 0.40, 0, 0.45, 200, 4, Go(K::Docs)),
    el(".feature-grid .card:nth-child(4) a", 0.54, 0.40, 0, 0.45, 200, 3, Go(K::Pricing)),
    el(".feature-grid img", 0.06, 0.88, 0, 0.60, 400, 3, Nothing),
    el("#cta-bottom", 0.38, 0.24, 0, 0.90, 56, 10, Go(K::Signup)),
];

#[rustfmt::skip]
const BLOG_INDEX: &[Element] = &[
    el("article:nth-child(1) h2 a", 0.15, 0.55, 300, 0.0, 40, 12, Go(K::BlogPost)),
    el("article:nth-child(2) h2 a", 0.15, 0.55, 0, 0.25, 40, 9, Go(K::BlogPost)),
    el("article:nth-child(3) h2 a", 0.15, 0.55, 0, 0.40, 40, 7, Go(K::BlogPost)),
    el("article:nth-child(4) h2 a", 0.15, 0.55, 0, 0.55, 40, 5, Go(K::BlogPost)),
    el(".tags a:nth-child(2)", 0.75, 0.08, 320, 0.0, 24, 3, Go(K::BlogIndex)),
    el(".pagination a.next", 0.60, 0.06, 0, 0.93, 36, 4, Go(K::BlogIndex)),
];

#[rustfmt::skip]
const BLOG_POST: &[Element] = &[
    el(".toc a:nth-child(2)", 0.75, 0.15, 400, 0.0, 20, 4, Nothing),
    el(".toc a:nth-child(4)", 0.75, 0.15, 460, 0.0, 20, 2, Nothing),
    el("article p", 0.12, 0.56, 0, 0.45, 300, 3, Nothing),
    el("article img", 0.12, 0.56, 0, 0.30, 360, 3, Nothing),
    el("article a", 0.20, 0.25, 0, 0.30, 20, 6, Go(K::BlogPost)),
    el("article a.product-link", 0.30, 0.20, 0, 0.62, 20, 4, Go(K::Product)),
    el(".share-twitter", 0.05, 0.03, 0, 0.40, 32, 2, Custom("share")),
    el(".newsletter-box input[type=email]", 0.25, 0.35, 0, 0.80, 44, 2, Field(8, 32)),
    el(".newsletter-box button", 0.62, 0.10, 0, 0.80, 44, 2, Custom("newsletter_subscribe")),
    el(".related .card:nth-child(1) a", 0.06, 0.28, 0, 0.86, 240, 5, Go(K::BlogPost)),
    el("#comment-body", 0.20, 0.60, 0, 0.90, 120, 1, Field(20, 600)),
    el("#comment-submit", 0.20, 0.12, 0, 0.93, 40, 1, Custom("comment")),
];

#[rustfmt::skip]
const DOCS: &[Element] = &[
    el("#docs-search", 0.30, 0.30, 80, 0.0, 36, 5, Field(3, 24)),
    el(".sidebar a:nth-child(3)", 0.02, 0.16, 300, 0.0, 24, 8, Go(K::Docs)),
    el(".sidebar a:nth-child(7)", 0.02, 0.16, 420, 0.0, 24, 6, Go(K::Docs)),
    el(".sidebar a:nth-child(12)", 0.02, 0.16, 540, 0.0, 24, 4, Go(K::Docs)),
    el("pre button.copy", 0.78, 0.05, 0, 0.30, 28, 8, Custom("copy_code")),
    el("pre:nth-of-type(2) button.copy", 0.78, 0.05, 0, 0.55, 28, 4, Custom("copy_code")),
    el("h2 a.anchor", 0.20, 0.02, 0, 0.40, 24, 2, Nothing),
    el(".next-page a", 0.70, 0.20, 0, 0.95, 40, 6, Go(K::Docs)),
];

#[rustfmt::skip]
const SIGNUP: &[Element] = &[
    el("#name", 0.35, 0.30, 300, 0.0, 44, 6, Field(3, 24)),
    el("#email", 0.35, 0.30, 370, 0.0, 44, 8, Field(8, 40)),
    el("#password", 0.35, 0.30, 440, 0.0, 44, 8, Field(8, 20)),
    el("form#signup button[type=submit]", 0.35, 0.30, 520, 0.0, 48, 14, Custom("signup")),
    el(".oauth-google", 0.35, 0.30, 600, 0.0, 44, 6, Custom("signup")),
    el("a.login-link", 0.45, 0.10, 680, 0.0, 20, 3, Go(K::Login)),
];

#[rustfmt::skip]
const LOGIN: &[Element] = &[
    el("#email", 0.35, 0.30, 300, 0.0, 44, 8, Field(8, 40)),
    el("#password", 0.35, 0.30, 370, 0.0, 44, 8, Field(8, 20)),
    el("form#login button[type=submit]", 0.35, 0.30, 450, 0.0, 48, 14, Custom("login")),
    el("a.forgot", 0.55, 0.10, 520, 0.0, 20, 3, Nothing),
    el("a.signup-link", 0.45, 0.10, 560, 0.0, 20, 3, Go(K::Signup)),
];

#[rustfmt::skip]
const ABOUT: &[Element] = &[
    el(".team .member:nth-child(2) img", 0.30, 0.15, 0, 0.40, 200, 3, Nothing),
    el("a.careers-link", 0.40, 0.12, 0, 0.70, 24, 4, Go(K::Careers)),
    el("#cta-bottom", 0.38, 0.24, 0, 0.90, 56, 4, Go(K::Signup)),
];

#[rustfmt::skip]
const CONTACT: &[Element] = &[
    el("#name", 0.25, 0.50, 300, 0.0, 44, 6, Field(3, 24)),
    el("#email", 0.25, 0.50, 370, 0.0, 44, 6, Field(8, 40)),
    el("#message", 0.25, 0.50, 440, 0.0, 160, 6, Field(20, 800)),
    el("form#contact button", 0.25, 0.20, 630, 0.0, 48, 8, Custom("contact_submit")),
    el("a[href^=mailto]", 0.25, 0.20, 720, 0.0, 20, 2, Nothing),
];

#[rustfmt::skip]
const CART: &[Element] = &[
    el(".cart-item:nth-child(1) .remove", 0.80, 0.05, 300, 0.0, 24, 4, Nothing),
    el(".cart-item:nth-child(1) input.qty", 0.60, 0.05, 300, 0.0, 32, 3, Field(1, 2)),
    el("#coupon", 0.60, 0.20, 600, 0.0, 40, 3, Field(5, 12)),
    el("#apply-coupon", 0.82, 0.08, 600, 0.0, 40, 2, Nothing),
    el("#checkout-btn", 0.60, 0.30, 700, 0.0, 52, 15, Go(K::Checkout)),
    el("a.continue", 0.60, 0.15, 770, 0.0, 20, 3, Go(K::Category)),
];

#[rustfmt::skip]
const CHECKOUT: &[Element] = &[
    el("#email", 0.10, 0.40, 200, 0.0, 44, 4, Field(8, 40)),
    el("#address", 0.10, 0.40, 300, 0.0, 44, 4, Field(10, 60)),
    el("#card-number", 0.10, 0.40, 500, 0.0, 44, 4, Field(16, 19)),
    el("#card-exp", 0.10, 0.18, 570, 0.0, 44, 3, Field(4, 5)),
    el("#card-cvc", 0.32, 0.18, 570, 0.0, 44, 3, Field(3, 4)),
    el("#terms-checkbox", 0.10, 0.02, 650, 0.0, 20, 3, Nothing),
    el("button.pay", 0.55, 0.35, 0, 0.50, 52, 12, Custom("purchase")),
];

#[rustfmt::skip]
const SEARCH: &[Element] = &[
    el("#q", 0.20, 0.50, 120, 0.0, 44, 10, Field(3, 30)),
    el("button.search-submit", 0.72, 0.08, 120, 0.0, 44, 6, Custom("search")),
    el(".results li:nth-child(1) a", 0.20, 0.50, 250, 0.0, 24, 10, Go(K::Product)),
    el(".results li:nth-child(2) a", 0.20, 0.50, 330, 0.0, 24, 6, Go(K::Product)),
    el(".results li:nth-child(3) a", 0.20, 0.50, 410, 0.0, 24, 4, Go(K::BlogPost)),
];

#[rustfmt::skip]
const CAREERS: &[Element] = &[
    el(".jobs li:nth-child(1) a", 0.20, 0.40, 400, 0.0, 24, 6, Nothing),
    el(".jobs li:nth-child(2) a", 0.20, 0.40, 450, 0.0, 24, 4, Nothing),
    el("button.apply", 0.65, 0.15, 400, 0.0, 40, 3, Custom("apply_click")),
];

#[rustfmt::skip]
const LEGAL: &[Element] = &[
    el(".toc a:nth-child(4)", 0.05, 0.20, 300, 0.0, 20, 3, Nothing),
    el("article p", 0.25, 0.50, 0, 0.50, 200, 1, Nothing),
];

#[rustfmt::skip]
const PRODUCT: &[Element] = &[
    el(".gallery img:nth-child(1)", 0.06, 0.40, 220, 0.0, 480, 8, Nothing),
    el(".gallery .thumb:nth-child(2)", 0.06, 0.08, 720, 0.0, 80, 5, Nothing),
    el("select#size", 0.55, 0.20, 520, 0.0, 40, 6, Nothing),
    el("#qty", 0.77, 0.06, 520, 0.0, 40, 3, Field(1, 2)),
    el("#add-to-cart", 0.55, 0.30, 600, 0.0, 52, 20, Custom("add_to_cart")),
    el("#buy", 0.55, 0.30, 670, 0.0, 52, 8, Go(K::Checkout)),
    el(".tabs > li:nth-child(2)", 0.06, 0.12, 0, 0.55, 40, 4, Nothing),
    el(".reviews .helpful", 0.70, 0.08, 0, 0.70, 28, 2, Nothing),
    el(".related .card:nth-child(3) a", 0.54, 0.20, 0, 0.86, 280, 6, Go(K::Product)),
];

#[rustfmt::skip]
const CATEGORY: &[Element] = &[
    el("select.sort", 0.80, 0.15, 200, 0.0, 36, 4, Nothing),
    el(".filters input[type=checkbox]:nth-of-type(2)", 0.03, 0.02, 320, 0.0, 20, 5, Nothing),
    el(".grid .card:nth-child(1) a", 0.25, 0.22, 300, 0.0, 360, 10, Go(K::Product)),
    el(".grid .card:nth-child(2) a", 0.50, 0.22, 300, 0.0, 360, 8, Go(K::Product)),
    el(".grid .card:nth-child(3) a", 0.75, 0.22, 300, 0.0, 360, 6, Go(K::Product)),
    el(".grid .card:nth-child(5) a", 0.50, 0.22, 0, 0.35, 360, 5, Go(K::Product)),
    el(".pagination a.next", 0.60, 0.06, 0, 0.95, 36, 4, Go(K::Category)),
];

/// A kind's layout with what the session simulation needs precomputed.
pub(crate) struct Template {
    pub(crate) elements: Vec<Element>,
    /// Elements a mid-page click may hit (no navigation, no field), with
    /// cumulative click weights.
    pub(crate) clickable: Vec<usize>,
    pub(crate) clickable_cum: Vec<f64>,
    /// Elements that navigate, with cumulative click weights.
    pub(crate) links: Vec<usize>,
    pub(crate) links_cum: Vec<f64>,
    /// Form fields, in page order.
    pub(crate) fields: Vec<usize>,
    /// Desktop document height range in px.
    pub(crate) dh: (u32, u32),
}

fn body(kind: PageKind) -> (&'static [Element], (u32, u32)) {
    match kind {
        K::Home => (HOME, (3000, 6000)),
        K::Pricing => (PRICING, (2500, 4500)),
        K::Features => (FEATURES, (4000, 8000)),
        K::BlogIndex => (BLOG_INDEX, (3000, 6000)),
        K::BlogPost => (BLOG_POST, (3000, 12000)),
        K::Docs => (DOCS, (2000, 9000)),
        K::Signup => (SIGNUP, (1500, 1800)),
        K::Login => (LOGIN, (1500, 1700)),
        K::About => (ABOUT, (2000, 4000)),
        K::Contact => (CONTACT, (1500, 2200)),
        K::Cart => (CART, (1500, 2500)),
        K::Checkout => (CHECKOUT, (1500, 2400)),
        K::Search => (SEARCH, (2000, 4000)),
        K::Careers => (CAREERS, (2000, 5000)),
        K::Privacy | K::Terms => (LEGAL, (4000, 12000)),
        K::Product => (PRODUCT, (2500, 5000)),
        K::Category => (CATEGORY, (3000, 8000)),
    }
}

fn cumulative(elements: &[Element], which: &[usize]) -> Vec<f64> {
    let mut total = 0.0;
    which
        .iter()
        .map(|&i| {
            total += f64::from(elements[i].weight);
            total
        })
        .collect()
}

impl Template {
    fn new(kind: PageKind) -> Template {
        let (body, dh) = body(kind);
        let mut elements = Vec::new();
        if kind == K::Checkout {
            // A focused checkout keeps only the logo.
            elements.extend_from_slice(&HEADER[..1]);
        } else {
            elements.extend_from_slice(HEADER);
        }
        elements.extend_from_slice(body);
        elements.extend_from_slice(FOOTER);
        let mut clickable = Vec::new();
        let mut links = Vec::new();
        let mut fields = Vec::new();
        for (i, e) in elements.iter().enumerate() {
            match e.act {
                Nothing | Custom(_) => clickable.push(i),
                Go(_) => links.push(i),
                Field(..) => fields.push(i),
            }
        }
        Template {
            clickable_cum: cumulative(&elements, &clickable),
            links_cum: cumulative(&elements, &links),
            elements,
            clickable,
            links,
            fields,
            dh,
        }
    }
}

/// Every kind's template, indexed by `PageKind as usize`.
pub(crate) fn templates() -> Vec<Template> {
    ALL_KINDS.into_iter().map(Template::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_indexed_by_kind_and_boxes_fit() {
        let t = templates();
        assert_eq!(t.len(), KINDS);
        for (i, tpl) in t.iter().enumerate() {
            assert!(!tpl.links.is_empty(), "kind {i} has no way out");
            for e in &tpl.elements {
                for (vw, dh) in [(360, 1500), (1903, 12_000)] {
                    let r = e.rect(vw, dh);
                    assert!(r.x + r.w <= vw && r.y + r.h <= dh, "{e:?} {r:?}");
                }
            }
        }
        for (i, kind) in ALL_KINDS.into_iter().enumerate() {
            assert_eq!(kind as usize, i);
            assert_eq!(t[i].dh, body(kind).1);
        }
    }
}
