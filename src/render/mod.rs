//! Heatmaps and scroll maps as PNG pictures (cargo feature `png`).
//!
//! [`heatmap_png`] draws a click or move [`Heatmap`] and [`scroll_png`] a
//! [`ScrollReach`], each optionally over a screenshot of the page, with a
//! legend strip below. The output is an opaque 8-bit RGB PNG.
//!
//! # Geometry
//!
//! A heatmap's columns span the viewport width: cell `(col, row)` covers
//! `width / cols` output px across and `row_px * scale` down, where
//! `scale = width / viewport_px` ([`RenderOptions::viewport_px`] is the page
//! width the columns span, 1280 by default). Cell edges are rounded down to
//! whole pixels and every cell is at least one pixel in each direction; where
//! cells share a pixel (rows thinner than a pixel) the hotter one is drawn.
//! Cells with `col >= cols`, and parts of cells below the picture, are left
//! out.
//!
//! # Colour
//!
//! One ramp for both pictures, dark indigo → blue → green → yellow →
//! white-hot, made by interpolating five anchor colours linearly in the
//! OKLab perceptual space (so lightness rises evenly along it) and
//! converting back to sRGB. A heatmap cell's place on the ramp is
//! `t = f(count) / f(max)`, where `max` is the hottest cell and `f` is
//! the [`CountScale`] (square root by default: it keeps cells of a tenth of
//! the maximum visible, where a linear scale would leave them near black).
//! The hottest cell is always `t = 1`, the ramp's white-hot end, and no
//! smoothing is applied, so it stays identifiable. Empty cells are not
//! drawn. A scroll band's place is the share of sessions that reached it,
//! linearly (`t = 1` when every session did).
//!
//! A screenshot is first darkened toward [`GROUND`] by `dim` (so that the
//! white-hot end stands out on a light page), then a heat colour is
//! blended over it with alpha `opacity * (0.4 + 0.6 * t)` (faint cells let
//! the page show) and a scroll band with `opacity`. Without a screenshot,
//! colours are opaque over the plain dark ground.
//!
//! # Limits
//!
//! Width and height are at most [`MAX_DIM`] px and the whole picture at most
//! [`MAX_PIXELS`]; larger requests are refused with
//! [`RenderError::InvalidArgument`]. A height that is derived (no explicit
//! `height`) is cut to fit instead. A screenshot is decoded only when it
//! has at most [`MAX_PIXELS`] (any shape: full-page captures are tall); it
//! is checked from its header, before decoding. Memory stays under about
//! 240 MiB at those limits (decoded screenshot, picture and heat grid).
//!
//! # Examples
//!
//! ```
//! use heatstore::query::{Heatmap, HeatmapCell};
//! use heatstore::render::{heatmap_png, RenderOptions};
//!
//! let h = Heatmap {
//!     cells: vec![
//!         HeatmapCell { col: 10, row: 4, count: 50 },
//!         HeatmapCell { col: 11, row: 4, count: 7 },
//!     ],
//!     total: 57,
//!     skipped: 0,
//!     cols: 64,
//!     row_px: 16,
//! };
//! let png = heatmap_png(&h, &RenderOptions::default()).unwrap();
//! assert_eq!(&png[1..4], b"PNG");
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::fmt;
use std::io::Cursor;

use crate::query::{Heatmap, ScrollReach};

mod canvas;
mod color;
mod draw;
#[cfg(test)]
mod tests;

pub use draw::{heatmap_png, scroll_png};

/// Largest width or height of a picture, in px.
pub const MAX_DIM: u32 = 16_384;
/// Most pixels in a picture (or a decoded screenshot): 32 Mi.
pub const MAX_PIXELS: u64 = 1 << 25;
/// The plain ground under heat colours when there is no screenshot.
pub const GROUND: [u8; 3] = [0x12, 0x14, 0x19];

/// Why a picture could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderError {
    /// An option or the input is out of range; the message says which and
    /// what is allowed.
    InvalidArgument(String),
    /// The screenshot could not be used (not a PNG, damaged, too large).
    Background(String),
    /// Encoding the PNG failed.
    Encode(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            RenderError::Background(m) => write!(
                f,
                "cannot use the background screenshot: {m}; pass a PNG file, or no background"
            ),
            RenderError::Encode(m) => write!(f, "cannot encode the PNG: {m}"),
        }
    }
}

impl std::error::Error for RenderError {}

/// How heatmap counts map onto the colour ramp (`t = f(count) / f(max)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CountScale {
    /// `f(c) = c`.
    Linear,
    /// `f(c) = sqrt(c)`.
    #[default]
    Sqrt,
    /// `f(c) = ln(1 + c)`.
    Log,
}

impl CountScale {
    /// The ramp position of `count` against the hottest `max`, in `0..=1`.
    fn t(self, count: u64, max: u64) -> f64 {
        if max == 0 || count == 0 {
            return 0.0;
        }
        let (c, m) = (count as f64, max as f64);
        let t = match self {
            CountScale::Linear => c / m,
            CountScale::Sqrt => (c / m).sqrt(),
            CountScale::Log => c.ln_1p() / m.ln_1p(),
        };
        t.clamp(0.0, 1.0)
    }
}

/// Options of [`heatmap_png`]. Every field has a documented default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderOptions<'a> {
    /// Output width in px; default 800.
    pub width: u32,
    /// The page width in px that the heatmap's columns span; default 1280.
    pub viewport_px: u32,
    /// Height of the page area in px (the legend comes below it). Default
    /// `None`: down to the last non-empty row, or the screenshot's height
    /// if that is more; with neither, `width * 10 / 16` (one 16:10
    /// viewport).
    pub height: Option<u32>,
    /// A screenshot of the page as PNG bytes, drawn underneath, scaled to
    /// `width` (its aspect kept). Default `None`.
    pub background: Option<&'a [u8]>,
    /// Opacity of the hottest colour over a screenshot, `0.0..=1.0`;
    /// default 0.75.
    pub opacity: f32,
    /// How far the screenshot is darkened toward [`GROUND`] before the
    /// heat is drawn, `0.0..=1.0` (0 keeps it as is); default 0.5, so that
    /// the white-hot end stands out on a light page.
    pub dim: f32,
    /// Whether to draw the legend strip; default `true`.
    pub legend: bool,
    /// How counts map onto the ramp; default [`CountScale::Sqrt`].
    pub scale: CountScale,
}

impl Default for RenderOptions<'_> {
    fn default() -> Self {
        RenderOptions {
            width: 800,
            viewport_px: 1280,
            height: None,
            background: None,
            opacity: 0.75,
            dim: 0.5,
            legend: true,
            scale: CountScale::Sqrt,
        }
    }
}

/// Options of [`scroll_png`]. Every field has a documented default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScrollRenderOptions<'a> {
    /// Output width in px; default 400.
    pub width: u32,
    /// Height in px of the document (depth 0 % at the top, 100 % at the
    /// bottom; the legend comes below). Default `None`: the screenshot's
    /// height scaled to `width`, or 1000 px without one.
    pub height: Option<u32>,
    /// A screenshot of the whole page as PNG bytes, drawn underneath,
    /// scaled to `width`. Default `None`.
    pub background: Option<&'a [u8]>,
    /// Opacity of the bands over a screenshot, `0.0..=1.0`; default 0.6.
    pub opacity: f32,
    /// How far the screenshot is darkened toward [`GROUND`] first,
    /// `0.0..=1.0`; default 0.3.
    pub dim: f32,
    /// Whether to draw the legend strip; default `true`.
    pub legend: bool,
    /// Whether to mark depths 25, 50, 75 and 100 % with a line and the
    /// share of sessions that reached them; default `true`.
    pub labels: bool,
}

impl Default for ScrollRenderOptions<'_> {
    fn default() -> Self {
        ScrollRenderOptions {
            width: 400,
            height: None,
            background: None,
            opacity: 0.6,
            dim: 0.3,
            legend: true,
            labels: true,
        }
    }
}

// ---------------------------------------------------------------- colour

type Rgb = [u8; 3];
