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

/// sRGB anchor colours of the ramp, from cold to hot, chosen to rise in
/// lightness.
const ANCHORS: [Rgb; 5] = [
    [0x1e, 0x10, 0x4e], // deep indigo
    [0x1f, 0x5f, 0xd6], // blue
    [0x12, 0xb3, 0x8c], // green
    [0xf2, 0xcf, 0x3a], // yellow
    [0xff, 0xfb, 0xeb], // white-hot
];

fn srgb_to_linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(c: f64) -> u8 {
    let c = c.clamp(0.0, 1.0);
    let s = if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0).round().clamp(0.0, 255.0) as u8
}

/// sRGB → OKLab `[L, a, b]` (Björn Ottosson's definition, 2020).
fn to_oklab(c: Rgb) -> [f64; 3] {
    let [r, g, b] = c.map(srgb_to_linear);
    let l = 0.412_221_470_8 * r + 0.536_332_536_3 * g + 0.051_445_992_9 * b;
    let m = 0.211_903_498_2 * r + 0.680_699_545_1 * g + 0.107_396_956_6 * b;
    let s = 0.088_302_461_9 * r + 0.281_718_837_6 * g + 0.629_978_700_5 * b;
    let (l, m, s) = (l.cbrt(), m.cbrt(), s.cbrt());
    [
        0.210_454_255_3 * l + 0.793_617_785_0 * m - 0.004_072_046_8 * s,
        1.977_998_495_1 * l - 2.428_592_205_0 * m + 0.450_593_709_9 * s,
        0.025_904_037_1 * l + 0.782_771_766_2 * m - 0.808_675_766_0 * s,
    ]
}

/// OKLab → sRGB, out-of-gamut channels clamped.
fn from_oklab([ll, a, b]: [f64; 3]) -> Rgb {
    let l = ll + 0.396_337_777_4 * a + 0.215_803_757_3 * b;
    let m = ll - 0.105_561_345_8 * a - 0.063_854_172_8 * b;
    let s = ll - 0.089_484_177_5 * a - 1.291_485_548_0 * b;
    let (l, m, s) = (l * l * l, m * m * m, s * s * s);
    [
        4.076_741_662_1 * l - 3.307_711_591_3 * m + 0.230_969_929_2 * s,
        -1.268_438_004_6 * l + 2.609_757_401_1 * m - 0.341_319_396_5 * s,
        -0.004_196_086_3 * l - 0.703_418_614_7 * m + 1.707_614_701_0 * s,
    ]
    .map(linear_to_srgb)
}

/// The ramp, sampled at 256 points: index `i` is `t = i / 255`.
struct Ramp {
    lut: Vec<Rgb>,
}

/// The ramp's colour at `t` in `0..=1`: the OKLab mix of the two anchors
/// around it.
fn ramp_color(t: f64) -> Rgb {
    let labs = ANCHORS.map(to_oklab);
    let segments = (labs.len() - 1) as f64;
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * segments;
    let k = (pos.floor() as usize).min(labs.len() - 2);
    let f = pos - k as f64;
    match (labs.get(k), labs.get(k + 1)) {
        (Some(a), Some(b)) => from_oklab([
            a[0] + (b[0] - a[0]) * f,
            a[1] + (b[1] - a[1]) * f,
            a[2] + (b[2] - a[2]) * f,
        ]),
        _ => ANCHORS[4],
    }
}

impl Ramp {
    fn new() -> Ramp {
        let lut = (0..256u32)
            .map(|i| ramp_color(f64::from(i) / 255.0))
            .collect();
        Ramp { lut }
    }

    /// The colour at index `i` (0..=255).
    fn at(&self, i: u8) -> Rgb {
        self.lut.get(usize::from(i)).copied().unwrap_or(GROUND)
    }

    /// The index of `t` in `0..=1`; a `t` above 0 is at least index 1, so
    /// a non-empty cell never looks like the coldest end.
    fn index(t: f64) -> u8 {
        if t <= 0.0 {
            return 0;
        }
        ((t * 255.0).round() as u8).max(1)
    }
}

fn blend(under: Rgb, over: Rgb, alpha: f64) -> Rgb {
    let a = alpha.clamp(0.0, 1.0);
    let mix = |u: u8, o: u8| (f64::from(u) * (1.0 - a) + f64::from(o) * a).round() as u8;
    [
        mix(under[0], over[0]),
        mix(under[1], over[1]),
        mix(under[2], over[2]),
    ]
}

// ------------------------------------------------------------------ font

/// 5×7 glyphs drawn for this module: seven rows, bit 4 the leftmost column.
const GLYPHS: &[(char, [u8; 7])] = &[
    ('0', [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]),
    ('1', [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('2', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]),
    ('3', [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]),
    ('4', [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]),
    ('5', [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]),
    ('6', [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]),
    ('7', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]),
    ('8', [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]),
    ('9', [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]),
    ('.', [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]),
    ('%', [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03]),
    ('-', [0x00, 0x00, 0x00, 0x0E, 0x00, 0x00, 0x00]),
    ('k', [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12]),
    ('M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]),
    ('G', [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F]),
    ('n', [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11]),
    ('o', [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E]),
    ('d', [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F]),
    ('a', [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F]),
    ('t', [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06]),
    (' ', [0x00; 7]),
];

const GLYPH_W: u32 = 5;
const GLYPH_H: u32 = 7;

fn glyph(c: char) -> Option<&'static [u8; 7]> {
    GLYPHS.iter().find(|(g, _)| *g == c).map(|(_, rows)| rows)
}

/// Width in px of `text` at `scale` (one column of space between glyphs).
fn text_width(text: &str, scale: u32) -> u32 {
    let n = text.chars().count() as u32;
    (n * (GLYPH_W + 1)).saturating_sub(1) * scale
}

/// A count as a short label: `950`, `1.2k`, `12k`, `3.4M`, `5G` (rounded
/// down, so a label never overstates).
fn short_count(n: u64) -> String {
    fn unit(n: u64, div: u64, suffix: char) -> String {
        let whole = n / div;
        let tenth = (n % div) * 10 / div;
        if whole < 10 && tenth > 0 {
            format!("{whole}.{tenth}{suffix}")
        } else {
            format!("{whole}{suffix}")
        }
    }
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => unit(n, 1_000, 'k'),
        1_000_000..=999_999_999 => unit(n, 1_000_000, 'M'),
        _ => unit(n, 1_000_000_000, 'G'),
    }
}

// ---------------------------------------------------------------- canvas

/// An RGB picture being drawn. Every write is bounds-checked: drawing off
/// the edge is clipped, never a panic.
struct Canvas {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32, fill: Rgb) -> Canvas {
        let n = w as usize * h as usize;
        let mut px = Vec::with_capacity(n * 3);
        for _ in 0..n {
            px.extend_from_slice(&fill);
        }
        Canvas { w, h, px }
    }

    fn offset(&self, x: u32, y: u32) -> Option<usize> {
        (x < self.w && y < self.h).then(|| (y as usize * self.w as usize + x as usize) * 3)
    }

    fn get(&self, x: u32, y: u32) -> Option<Rgb> {
        let o = self.offset(x, y)?;
        let p = self.px.get(o..o + 3)?;
        Some([*p.first()?, *p.get(1)?, *p.get(2)?])
    }

    fn set(&mut self, x: u32, y: u32, c: Rgb) {
        if let Some(o) = self.offset(x, y) {
            if let Some(p) = self.px.get_mut(o..o + 3) {
                p.copy_from_slice(&c);
            }
        }
    }

    fn fill_rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb) {
        for y in y0..y1.min(self.h) {
            for x in x0..x1.min(self.w) {
                self.set(x, y, c);
            }
        }
    }

    fn blend_rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb, alpha: f64) {
        for y in y0..y1.min(self.h) {
            for x in x0..x1.min(self.w) {
                if let Some(under) = self.get(x, y) {
                    self.set(x, y, blend(under, c, alpha));
                }
            }
        }
    }

    /// Draws `text` with its top-left corner at (`x`, `y`); glyphs the
    /// font lacks are drawn as blanks.
    fn text(&mut self, x: u32, y: u32, text: &str, scale: u32, c: Rgb) {
        let mut gx = x;
        for ch in text.chars() {
            if let Some(rows) = glyph(ch) {
                for (ry, bits) in (0u32..).zip(rows.iter()) {
                    for rx in 0..GLYPH_W {
                        if bits & (1 << (GLYPH_W - 1 - rx)) != 0 {
                            let px = gx.saturating_add(rx * scale);
                            let py = y.saturating_add(ry * scale);
                            self.fill_rect(
                                px,
                                py,
                                px.saturating_add(scale),
                                py.saturating_add(scale),
                                c,
                            );
                        }
                    }
                }
            }
            gx = gx.saturating_add((GLYPH_W + 1) * scale);
        }
    }

    fn encode(&self) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.w, self.h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| RenderError::Encode(e.to_string()))?;
        writer
            .write_image_data(&self.px)
            .map_err(|e| RenderError::Encode(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| RenderError::Encode(e.to_string()))?;
        Ok(out)
    }
}

// ------------------------------------------------------------ background

/// A decoded screenshot, RGB over [`GROUND`] where it was transparent.
struct Image {
    w: u32,
    h: u32,
    px: Vec<Rgb>,
}

impl Image {
    fn decode(bytes: &[u8]) -> Result<Image, RenderError> {
        let bg = |m: String| RenderError::Background(m);
        let mut decoder = png::Decoder::new_with_limits(
            Cursor::new(bytes),
            png::Limits {
                bytes: (MAX_PIXELS * 8) as usize,
            },
        );
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        // The size is checked from the header, before any pixel is decoded.
        let header = decoder
            .read_header_info()
            .map_err(|e| bg(format!("not a readable PNG ({e})")))?;
        let (w, h) = (header.width, header.height);
        if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(bg(format!(
                "it is {w}x{h} px, over the limit of {MAX_PIXELS} px in all"
            )));
        }
        let mut reader = decoder
            .read_info()
            .map_err(|e| bg(format!("not a readable PNG ({e})")))?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| bg("its size overflows".into()))?;
        let mut buf = vec![0u8; size];
        let info = reader
            .next_frame(&mut buf)
            .map_err(|e| bg(format!("damaged PNG data ({e})")))?;
        let channels: usize = match info.color_type {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Indexed => {
                return Err(bg("palette image was not expanded".into()));
            }
        };
        if info.bit_depth != png::BitDepth::Eight {
            return Err(bg(format!("unsupported bit depth {:?}", info.bit_depth)));
        }
        let mut px = Vec::with_capacity(w as usize * h as usize);
        for y in 0..info.height as usize {
            let row = buf
                .get(y * info.line_size..)
                .ok_or_else(|| bg("truncated image data".into()))?;
            for x in 0..info.width as usize {
                let p = row
                    .get(x * channels..(x + 1) * channels)
                    .ok_or_else(|| bg("truncated image data".into()))?;
                let c = match *p {
                    [g] => [g, g, g],
                    [g, a] => blend(GROUND, [g, g, g], f64::from(a) / 255.0),
                    [r, g, b] => [r, g, b],
                    [r, g, b, a] => blend(GROUND, [r, g, b], f64::from(a) / 255.0),
                    _ => GROUND,
                };
                px.push(c);
            }
        }
        Ok(Image {
            w: info.width,
            h: info.height,
            px,
        })
    }

    /// The height of this image scaled to `width`, at least 1.
    fn height_at(&self, width: u32) -> u32 {
        let h = u64::from(self.h) * u64::from(width) / u64::from(self.w.max(1));
        h.clamp(1, u64::from(u32::MAX)) as u32
    }

    /// Draws the image scaled to the canvas width (box filter: each output
    /// pixel is the mean of the source pixels it covers) from the top, down
    /// to `max_h` rows, darkened by `dim` toward [`GROUND`].
    fn draw_scaled(&self, c: &mut Canvas, max_h: u32, dim: f64) {
        let (dw, dh) = (c.w, self.height_at(c.w).min(max_h).min(c.h));
        let span = |d: u32, dn: u32, sn: u32| {
            let s0 = u64::from(d) * u64::from(sn) / u64::from(dn.max(1));
            let s1 = (u64::from(d) + 1) * u64::from(sn) / u64::from(dn.max(1));
            (s0 as u32, (s1 as u32).max(s0 as u32 + 1).min(sn))
        };
        let full_h = self.height_at(dw);
        for y in 0..dh {
            let (sy0, sy1) = span(y, full_h, self.h);
            for x in 0..dw {
                let (sx0, sx1) = span(x, dw, self.w);
                let mut sum = [0u64; 3];
                let mut n = 0u64;
                for sy in sy0..sy1 {
                    for sx in sx0..sx1 {
                        let i = sy as usize * self.w as usize + sx as usize;
                        if let Some(p) = self.px.get(i) {
                            for (s, v) in sum.iter_mut().zip(p) {
                                *s += u64::from(*v);
                            }
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    let mean = sum.map(|s| ((s + n / 2) / n) as u8);
                    c.set(x, y, blend(mean, GROUND, dim));
                }
            }
        }
    }
}

// ---------------------------------------------------------------- shared

fn check_width(width: u32) -> Result<(), RenderError> {
    if width == 0 || width > MAX_DIM {
        return Err(RenderError::InvalidArgument(format!(
            "width {width} px is out of range: use 1..={MAX_DIM}"
        )));
    }
    Ok(())
}

/// A fraction option (`opacity`, `dim`) in `0.0..=1.0`.
fn check_unit(name: &str, v: f32) -> Result<f64, RenderError> {
    if !(0.0..=1.0).contains(&v) {
        return Err(RenderError::InvalidArgument(format!(
            "{name} {v} is out of range: use 0.0..=1.0"
        )));
    }
    Ok(f64::from(v))
}

/// The text scale for a picture `width` px wide: 1 under 400 px, 2 up to
/// 1199, then 3.
fn text_scale(width: u32) -> u32 {
    match width {
        0..=399 => 1,
        400..=1199 => 2,
        _ => 3,
    }
}

/// Height of the legend strip for a picture `width` px wide.
fn legend_height(width: u32) -> u32 {
    let s = text_scale(width);
    // margin, bar, gap, text, margin
    4 * s + 6 * s + 3 * s + GLYPH_H * s + 4 * s
}

/// The page height that fits under the limits with a legend of `legend_h`.
fn fit_height(width: u32, legend_h: u32) -> u32 {
    let by_pixels = (MAX_PIXELS / u64::from(width.max(1))).min(u64::from(MAX_DIM)) as u32;
    by_pixels.saturating_sub(legend_h).max(1)
}

/// Checks an explicit page height against the limits.
fn check_height(width: u32, height: u32, legend_h: u32) -> Result<(), RenderError> {
    let total = u64::from(height) + u64::from(legend_h);
    if height == 0 || total > u64::from(MAX_DIM) || u64::from(width) * total > MAX_PIXELS {
        return Err(RenderError::InvalidArgument(format!(
            "height {height} px (+{legend_h} px of legend) at width {width} px is out of range: \
             use 1..={} px in height and at most {MAX_PIXELS} px in all",
            MAX_DIM.saturating_sub(legend_h)
        )));
    }
    Ok(())
}

/// Draws the legend strip in rows `top..` of `c`: the ramp as a bar,
/// `left` under its cold end and `right` under its hot end. With neither
/// label (no data) the bar is drawn dimmed with "no data" under it.
fn draw_legend(c: &mut Canvas, top: u32, ramp: &Ramp, left: &str, right: &str) {
    let s = text_scale(c.w);
    let strip = [0x1b, 0x1e, 0x25];
    c.fill_rect(0, top, c.w, c.h, strip);
    let m = 4 * s;
    let (x0, x1) = (m.min(c.w), c.w.saturating_sub(m));
    let bar_top = top + m;
    let empty = left.is_empty() && right.is_empty();
    let span = x1.saturating_sub(x0).max(1);
    for x in x0..x1 {
        let i = (u64::from(x - x0) * 255 / u64::from(span.saturating_sub(1).max(1))).min(255);
        let mut col = ramp.at(i as u8);
        if empty {
            col = blend(strip, col, 0.25);
        }
        c.fill_rect(x, bar_top, x + 1, bar_top + 6 * s, col);
    }
    let text_top = bar_top + 6 * s + 3 * s;
    let ink = [0xe6, 0xe8, 0xee];
    if empty {
        let t = "no data";
        let x = c.w.saturating_sub(text_width(t, s)) / 2;
        c.text(x, text_top, t, s, ink);
        return;
    }
    c.text(x0, text_top, left, s, ink);
    let rx = x1.saturating_sub(text_width(right, s));
    c.text(rx, text_top, right, s, ink);
}

// --------------------------------------------------------------- heatmap

/// Renders a click or move heatmap as a PNG (see the module docs for the
/// geometry, colours and limits).
///
/// An empty heatmap (no cells, whatever its `cols` and `row_px`) gives a
/// valid picture: the ground or the screenshot, and a dimmed legend
/// saying "no data".
///
/// # Errors
///
/// [`RenderError::InvalidArgument`] for a width, height, `viewport_px` or
/// opacity out of range, or cells with `cols` or `row_px` 0;
/// [`RenderError::Background`] when the screenshot is not a usable PNG;
/// [`RenderError::Encode`] if encoding fails.
///
/// # Examples
///
/// ```
/// use heatstore::query::{Heatmap, HeatmapCell};
/// use heatstore::render::{heatmap_png, RenderError, RenderOptions};
///
/// let h = Heatmap { cells: vec![HeatmapCell { col: 0, row: 0, count: 3 }], total: 3, skipped: 0, cols: 8, row_px: 40 };
/// let opts = RenderOptions { width: 320, viewport_px: 1280, ..RenderOptions::default() };
/// let png = heatmap_png(&h, &opts).unwrap();
/// assert!(png.starts_with(b"\x89PNG"));
///
/// let bad = RenderOptions { background: Some(b"GIF89a..."), ..opts };
/// assert!(matches!(heatmap_png(&h, &bad), Err(RenderError::Background(_))));
/// ```
pub fn heatmap_png(h: &Heatmap, opts: &RenderOptions<'_>) -> Result<Vec<u8>, RenderError> {
    let width = opts.width;
    check_width(width)?;
    let opacity = check_unit("opacity", opts.opacity)?;
    let dim = check_unit("dim", opts.dim)?;
    if opts.viewport_px == 0 || opts.viewport_px > crate::event::MAX_PX {
        return Err(RenderError::InvalidArgument(format!(
            "viewport_px {} is out of range: use the page width in px the heatmap's columns \
             span, 1..={}",
            opts.viewport_px,
            crate::event::MAX_PX
        )));
    }
    if !h.cells.is_empty() && (h.cols == 0 || h.row_px == 0) {
        return Err(RenderError::InvalidArgument(format!(
            "the heatmap has cells but cols = {} and row_px = {}: both must be at least 1 \
             (as a heatmap query returns them)",
            h.cols, h.row_px
        )));
    }
    let legend_h = if opts.legend { legend_height(width) } else { 0 };
    if let Some(ht) = opts.height {
        check_height(width, ht, legend_h)?;
    }
    let bg = opts.background.map(Image::decode).transpose()?;

    // Output rectangle of each placeable cell, in u128 so that no row
    // number or row height can overflow.
    let (w, cols) = (u128::from(width), u128::from(h.cols.max(1)));
    let (row_px, vp) = (u128::from(h.row_px), u128::from(opts.viewport_px));
    let rect = |col: u32, row: u32| {
        let x0 = u128::from(col) * w / cols;
        let x1 = ((u128::from(col) + 1) * w / cols).max(x0 + 1);
        let y0 = u128::from(row) * row_px * w / vp;
        let y1 = ((u128::from(row) + 1) * row_px * w / vp).max(y0 + 1);
        (x0, x1, y0, y1)
    };
    let placed = || h.cells.iter().filter(|c| c.col < h.cols && c.count > 0);
    let max = placed().map(|c| c.count).max().unwrap_or(0);

    let height = match opts.height {
        Some(ht) => ht,
        None => {
            let cells_h = placed().map(|c| rect(c.col, c.row).3).max().unwrap_or(0);
            let bg_h = bg.as_ref().map_or(0, |b| u128::from(b.height_at(width)));
            let need = cells_h.max(bg_h);
            let need = if need == 0 {
                u128::from(width) * 10 / 16
            } else {
                need
            };
            need.clamp(1, u128::from(fit_height(width, legend_h))) as u32
        }
    };

    let mut canvas = Canvas::new(width, height + legend_h, GROUND);
    if let Some(img) = &bg {
        img.draw_scaled(&mut canvas, height, dim);
    }

    // Ramp index per pixel of the page area, the hottest cell winning
    // where cells share a pixel.
    let mut heat = vec![0u8; width as usize * height as usize];
    for c in placed() {
        let (x0, x1, y0, y1) = rect(c.col, c.row);
        if y0 >= u128::from(height) {
            continue;
        }
        let idx = Ramp::index(opts.scale.t(c.count, max));
        let (x1, y1) = (x1.min(w), y1.min(u128::from(height)));
        for y in y0 as usize..y1 as usize {
            let row = y * width as usize;
            for x in x0 as usize..x1 as usize {
                if let Some(p) = heat.get_mut(row + x) {
                    *p = (*p).max(idx);
                }
            }
        }
    }
    let ramp = Ramp::new();
    for y in 0..height {
        for x in 0..width {
            let i = y as usize * width as usize + x as usize;
            let idx = heat.get(i).copied().unwrap_or(0);
            if idx == 0 {
                continue;
            }
            let color = ramp.at(idx);
            if bg.is_some() {
                let t = f64::from(idx) / 255.0;
                canvas.blend_rect(x, y, x + 1, y + 1, color, opacity * (0.4 + 0.6 * t));
            } else {
                canvas.set(x, y, color);
            }
        }
    }
    if opts.legend {
        let (l, r) = if max == 0 {
            (String::new(), String::new())
        } else {
            ("0".to_owned(), short_count(max))
        };
        draw_legend(&mut canvas, height, &ramp, &l, &r);
    }
    canvas.encode()
}

// ---------------------------------------------------------------- scroll

/// Renders a scroll-reach map as a PNG: the document from top (depth 0 %)
/// to bottom (100 %), each depth band coloured by the share of sessions
/// that reached it.
///
/// Steps are taken in depth order (depths over 100 count as 100). Band `i`
/// runs from `steps[i].depth` to the next step's depth (the last to 100 %)
/// and is coloured by `steps[i].sessions / s.sessions`, the share that
/// reached its top; since steps are cumulative, bands get colder with
/// depth. Above the first step's depth, and everywhere when there are no
/// sessions, nothing is drawn (the ground or the screenshot, and a legend
/// saying "no data"). With `labels`, depths 25, 50, 75 and 100 % get a
/// line and the share that reached them (that of the deepest step at or
/// above the depth), rounded down to a whole percent.
///
/// # Errors
///
/// As [`heatmap_png`]: [`RenderError::InvalidArgument`] for an option out
/// of range, [`RenderError::Background`] for an unusable screenshot.
///
/// # Examples
///
/// ```
/// use heatstore::query::{ScrollReach, ScrollStep};
/// use heatstore::render::{scroll_png, ScrollRenderOptions};
///
/// let s = ScrollReach {
///     sessions: 200,
///     steps: (0..=100).step_by(25).zip([200, 150, 90, 40, 10])
///         .map(|(depth, sessions)| ScrollStep { depth, sessions }).collect(),
/// };
/// let png = scroll_png(&s, &ScrollRenderOptions::default()).unwrap();
/// assert!(png.starts_with(b"\x89PNG"));
/// ```
pub fn scroll_png(s: &ScrollReach, opts: &ScrollRenderOptions<'_>) -> Result<Vec<u8>, RenderError> {
    let width = opts.width;
    check_width(width)?;
    let opacity = check_unit("opacity", opts.opacity)?;
    let dim = check_unit("dim", opts.dim)?;
    let legend_h = if opts.legend { legend_height(width) } else { 0 };
    if let Some(ht) = opts.height {
        check_height(width, ht, legend_h)?;
    }
    let bg = opts.background.map(Image::decode).transpose()?;
    let height = match (opts.height, &bg) {
        (Some(ht), _) => ht,
        (None, Some(img)) => img.height_at(width).min(fit_height(width, legend_h)),
        (None, None) => 1000u32.min(fit_height(width, legend_h)),
    };
    let mut canvas = Canvas::new(width, height + legend_h, GROUND);
    if let Some(img) = &bg {
        img.draw_scaled(&mut canvas, height, dim);
    }
    let ramp = Ramp::new();

    let mut steps: Vec<(u32, u64)> = s
        .steps
        .iter()
        .map(|st| (st.depth.min(100), st.sessions))
        .collect();
    steps.sort_unstable();
    steps.dedup_by_key(|st| st.0);
    let has_data = s.sessions > 0 && !steps.is_empty();
    let share = |n: u64| (n as f64 / s.sessions.max(1) as f64).clamp(0.0, 1.0);
    let y_of = |depth: u32| (u64::from(depth) * u64::from(height) / 100) as u32;
    if has_data {
        for (i, &(depth, n)) in steps.iter().enumerate() {
            let next = steps.get(i + 1).map_or(100, |st| st.0);
            let (y0, y1) = (y_of(depth), y_of(next));
            // The last step at 100 % covers no band.
            if y1 <= y0 {
                continue;
            }
            // No one reaching a band is the ramp's cold end, not the ground.
            let color = ramp.at(Ramp::index(share(n)));
            if bg.is_some() {
                canvas.blend_rect(0, y0, width, y1, color, opacity);
            } else {
                canvas.fill_rect(0, y0, width, y1, color);
            }
        }
        if opts.labels {
            let ts = text_scale(width);
            for mark in [25u32, 50, 75, 100] {
                let Some(&(_, n)) = steps.iter().rev().find(|st| st.0 <= mark) else {
                    continue;
                };
                let y = y_of(mark).min(height.saturating_sub(1));
                // A dashed line across, then the share above it on a dark box.
                for x in (0..width).step_by(6) {
                    canvas.fill_rect(x, y, x + 3, y + 1, [0xf4, 0xf5, 0xf7]);
                }
                let pct = (u128::from(n.min(s.sessions)) * 100 / u128::from(s.sessions)) as u32;
                let label = format!("{pct}%");
                let (tw, th) = (text_width(&label, ts), GLYPH_H * ts);
                let top = y.saturating_sub(th + 3 * ts);
                canvas.fill_rect(0, top, tw + 4 * ts, y, [0x12, 0x14, 0x19]);
                canvas.text(2 * ts, top + ts, &label, ts, [0xf4, 0xf5, 0xf7]);
            }
        }
    }
    if opts.legend {
        let (l, r) = if has_data { ("0%", "100%") } else { ("", "") };
        draw_legend(&mut canvas, height, &ramp, l, r);
    }
    canvas.encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{HeatmapCell, ScrollStep};
    use proptest::prelude::*;

    struct Decoded {
        w: u32,
        h: u32,
        px: Vec<u8>,
    }

    impl Decoded {
        fn at(&self, x: u32, y: u32) -> Rgb {
            let o = (y as usize * self.w as usize + x as usize) * 3;
            [self.px[o], self.px[o + 1], self.px[o + 2]]
        }
    }

    fn decode(bytes: &[u8]) -> Decoded {
        let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        Decoded {
            w: info.width,
            h: info.height,
            px: buf,
        }
    }

    /// A PNG of `w`×`h` whose pixel (x, y) is `f(x, y)`, in RGBA.
    fn png_of(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&f(x, y));
            }
        }
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&data).unwrap();
        wr.finish().unwrap();
        out
    }

    fn cell(col: u32, row: u32, count: u64) -> HeatmapCell {
        HeatmapCell { col, row, count }
    }

    fn heatmap(cells: Vec<HeatmapCell>, cols: u32, row_px: u32) -> Heatmap {
        Heatmap {
            total: cells.iter().fold(0u64, |t, c| t.saturating_add(c.count)),
            cells,
            skipped: 0,
            cols,
            row_px,
        }
    }

    fn hot() -> Rgb {
        Ramp::new().at(255)
    }

    fn lightness(c: Rgb) -> f64 {
        to_oklab(c)[0]
    }

    /// 16 columns over a 1280 px viewport drawn 320 px wide: cells are
    /// 20 px square when row_px is 80.
    fn square_opts<'a>() -> RenderOptions<'a> {
        RenderOptions {
            width: 320,
            viewport_px: 1280,
            ..RenderOptions::default()
        }
    }

    #[test]
    fn hottest_cells_are_hottest_and_empty_cells_are_ground() {
        let h = heatmap(
            vec![
                cell(2, 3, 400),
                cell(5, 1, 4),
                cell(9, 3, 400),
                cell(15, 0, 1),
            ],
            16,
            80,
        );
        let img = decode(&heatmap_png(&h, &square_opts()).unwrap());
        assert_eq!(img.w, 320);
        // Down to the last non-empty row (row 3 ends at 80 px), then the legend.
        assert_eq!(img.h, 80 + legend_height(320));
        for (x, y) in [(50, 70), (40, 60), (59, 79), (190, 65)] {
            assert_eq!(img.at(x, y), hot(), "({x}, {y})");
        }
        for (x, y) in [(0, 0), (60, 60), (130, 10), (319, 79), (39, 60)] {
            assert_eq!(img.at(x, y), GROUND, "({x}, {y})");
        }
        let faint = img.at(110, 30);
        let faintest = img.at(310, 10);
        assert!(faint != GROUND && faintest != GROUND);
        assert!(lightness(faintest) < lightness(faint));
        assert!(lightness(faint) < lightness(hot()));
        // sqrt(4 / 400) = 0.1 of the ramp.
        assert_eq!(faint, Ramp::new().at(Ramp::index(0.1)));
    }

    #[test]
    fn scales_order_cells_alike() {
        let h = heatmap(vec![cell(0, 0, 1), cell(1, 0, 10), cell(2, 0, 100)], 16, 80);
        for scale in [CountScale::Linear, CountScale::Sqrt, CountScale::Log] {
            let opts = RenderOptions {
                scale,
                ..square_opts()
            };
            let img = decode(&heatmap_png(&h, &opts).unwrap());
            let l: Vec<f64> = [10, 30, 50].map(|x| lightness(img.at(x, 10))).to_vec();
            assert!(l[0] < l[1] && l[1] < l[2], "{scale:?} {l:?}");
            assert_eq!(img.at(50, 10), hot());
        }
        assert_eq!(CountScale::Linear.t(10, 100), 0.1);
        assert_eq!(CountScale::Sqrt.t(25, 100), 0.5);
        assert_eq!(CountScale::Log.t(100, 100), 1.0);
        assert_eq!(CountScale::Sqrt.t(0, 100), 0.0);
        assert_eq!(CountScale::Sqrt.t(5, 0), 0.0);
        assert_eq!(CountScale::Linear.t(u64::MAX, u64::MAX), 1.0);
    }

    #[test]
    fn background_shows_through() {
        // A 320 px wide screenshot: stripes of two colours, opaque.
        let a = [200, 30, 30, 255];
        let b = [30, 200, 30, 255];
        let bg = png_of(320, 160, |x, _| if (x / 10) % 2 == 0 { a } else { b });
        let h = heatmap(vec![cell(2, 0, 9)], 16, 80);
        let opts = RenderOptions {
            background: Some(&bg),
            opacity: 0.5,
            dim: 0.0,
            ..square_opts()
        };
        let img = decode(&heatmap_png(&h, &opts).unwrap());
        // As tall as the screenshot, which is taller than the cells.
        assert_eq!(img.h, 160 + legend_height(320));
        for (x, y) in [(0, 0), (15, 100), (300, 159), (60, 20)] {
            let want = if (x / 10) % 2 == 0 { a } else { b };
            assert_eq!(img.at(x, y), [want[0], want[1], want[2]], "({x}, {y})");
        }
        // The hottest cell is the hot colour at full opacity over the page.
        assert_eq!(img.at(45, 10), blend([200, 30, 30], hot(), 0.5));
        assert_eq!(img.at(55, 10), blend([30, 200, 30], hot(), 0.5));
        // Opacity 0: only the page.
        let clear = RenderOptions {
            opacity: 0.0,
            ..opts
        };
        let img = decode(&heatmap_png(&h, &clear).unwrap());
        assert_eq!(img.at(45, 10), [200, 30, 30]);
        // Dimmed: the page darkened toward the ground, the heat over it.
        let dimmed = RenderOptions { dim: 0.5, ..opts };
        let img = decode(&heatmap_png(&h, &dimmed).unwrap());
        let page = blend([200, 30, 30], GROUND, 0.5);
        assert_eq!(img.at(0, 0), page);
        assert_eq!(img.at(45, 10), blend(page, hot(), 0.5));
        let bad = RenderOptions { dim: 2.0, ..opts };
        assert!(
            matches!(heatmap_png(&h, &bad), Err(RenderError::InvalidArgument(m)) if m.contains("dim"))
        );
    }

    #[test]
    fn background_is_scaled_to_the_width() {
        // 640×200, left half grey, right half blue, half transparent at the
        // bottom: drawn at 320 wide it is 320×100.
        let bg = png_of(640, 200, |x, y| {
            let alpha = if y >= 100 { 0 } else { 255 };
            if x < 320 {
                [128, 128, 128, alpha]
            } else {
                [0, 0, 255, alpha]
            }
        });
        let opts = RenderOptions {
            background: Some(&bg),
            legend: false,
            dim: 0.0,
            ..square_opts()
        };
        let img = decode(&heatmap_png(&Heatmap::default(), &opts).unwrap());
        assert_eq!((img.w, img.h), (320, 100));
        assert_eq!(img.at(10, 10), [128, 128, 128]);
        assert_eq!(img.at(300, 40), [0, 0, 255]);
        // Transparent pixels are the ground.
        assert_eq!(img.at(10, 60), GROUND);
        // A narrower screenshot is scaled up.
        let small = png_of(32, 8, |x, _| {
            if x < 16 {
                [255, 0, 0, 255]
            } else {
                [0, 0, 0, 255]
            }
        });
        let opts = RenderOptions {
            background: Some(&small),
            ..opts
        };
        let img = decode(&heatmap_png(&Heatmap::default(), &opts).unwrap());
        assert_eq!((img.w, img.h), (320, 80));
        assert_eq!(img.at(100, 70), [255, 0, 0]);
        assert_eq!(img.at(200, 0), [0, 0, 0]);
        // Grey and palette screenshots decode too.
        let mut grey = Vec::new();
        let mut enc = png::Encoder::new(&mut grey, 4, 4);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&[77; 16]).unwrap();
        wr.finish().unwrap();
        let opts = RenderOptions {
            background: Some(&grey),
            ..opts
        };
        let img = decode(&heatmap_png(&Heatmap::default(), &opts).unwrap());
        assert_eq!(img.at(160, 160), [77, 77, 77]);
    }

    #[test]
    fn legend_has_the_ramp_and_labels() {
        let h = heatmap(vec![cell(3, 0, 1234)], 16, 80);
        let img = decode(&heatmap_png(&h, &square_opts()).unwrap());
        let top = 20;
        let s = text_scale(320);
        let bar_y = top + 4 * s + 3 * s;
        let ramp = Ramp::new();
        assert_eq!(img.at(4 * s, bar_y), ramp.at(0));
        assert_eq!(img.at(320 - 4 * s - 1, bar_y), ramp.at(255));
        let mid = lightness(img.at(160, bar_y));
        assert!(lightness(ramp.at(0)) < mid && mid < lightness(ramp.at(255)));
        // Label ink: "0" at the left, "1.2k" at the right.
        let text_top = bar_y + 6 * s;
        let ink = |x0: u32, x1: u32| {
            (text_top..img.h)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| img.at(x, y) == [0xe6, 0xe8, 0xee])
                .count()
        };
        assert!(ink(0, 40) > 5);
        assert!(ink(250, 320) > 20);
        assert_eq!(ink(100, 200), 0);
        // Without a legend there is no strip.
        let opts = RenderOptions {
            legend: false,
            ..square_opts()
        };
        assert_eq!(decode(&heatmap_png(&h, &opts).unwrap()).h, 20);
    }

    #[test]
    fn empty_heatmaps_give_a_valid_picture_with_an_empty_legend() {
        for h in [Heatmap::default(), heatmap(vec![], 64, 16)] {
            let img = decode(&heatmap_png(&h, &RenderOptions::default()).unwrap());
            assert_eq!((img.w, img.h), (800, 500 + legend_height(800)));
            assert_eq!(img.at(400, 250), GROUND);
            let ink = (500..img.h)
                .flat_map(|y| (0..800).map(move |x| (x, y)))
                .filter(|&(x, y)| img.at(x, y) == [0xe6, 0xe8, 0xee])
                .count();
            assert!(ink > 20, "\"no data\" is written");
        }
        // Cells of count 0 and out-of-grid columns are not drawn.
        let h = heatmap(vec![cell(1, 0, 0), cell(99, 0, 5)], 16, 80);
        let img = decode(&heatmap_png(&h, &square_opts()).unwrap());
        assert_eq!(img.at(30, 10), GROUND);
    }

    #[test]
    fn odd_inputs_are_errors_or_pictures_never_panics() {
        let h = heatmap(vec![cell(0, 0, 1)], 16, 80);
        let invalid = |opts: RenderOptions<'_>, h: &Heatmap| {
            matches!(heatmap_png(h, &opts), Err(RenderError::InvalidArgument(_)))
        };
        let d = RenderOptions::default();
        assert!(invalid(RenderOptions { width: 0, ..d }, &h));
        assert!(invalid(
            RenderOptions {
                width: MAX_DIM + 1,
                ..d
            },
            &h
        ));
        assert!(invalid(
            RenderOptions {
                height: Some(0),
                ..d
            },
            &h
        ));
        assert!(invalid(
            RenderOptions {
                height: Some(MAX_DIM),
                ..d
            },
            &h
        ));
        assert!(invalid(
            RenderOptions {
                width: MAX_DIM,
                height: Some(4096),
                ..d
            },
            &h
        ));
        assert!(invalid(
            RenderOptions {
                viewport_px: 0,
                ..d
            },
            &h
        ));
        assert!(invalid(
            RenderOptions {
                opacity: f32::NAN,
                ..d
            },
            &h
        ));
        assert!(invalid(RenderOptions { opacity: 1.5, ..d }, &h));
        assert!(invalid(d, &heatmap(vec![cell(0, 0, 1)], 0, 16)));
        assert!(invalid(d, &heatmap(vec![cell(0, 0, 1)], 16, 0)));
        let msg = heatmap_png(&h, &RenderOptions { width: 0, ..d })
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("width 0") && msg.contains("1..=16384"),
            "{msg}"
        );

        // Huge rows: the derived height is cut at the limits.
        let h = heatmap(
            vec![cell(0, u32::MAX, u64::MAX), cell(1, 0, 1)],
            64,
            u32::MAX,
        );
        let img = decode(&heatmap_png(&h, &d).unwrap());
        assert_eq!(u64::from(img.w) * u64::from(img.h), {
            let page = fit_height(800, legend_height(800));
            800 * u64::from(page + legend_height(800))
        });
        assert!(u64::from(img.w) * u64::from(img.h) <= MAX_PIXELS);
        // An explicit height leaves out what is below it.
        let opts = RenderOptions {
            height: Some(10),
            ..d
        };
        assert_eq!(
            decode(&heatmap_png(&h, &opts).unwrap()).h,
            10 + legend_height(800)
        );
        // Rows thinner than a pixel still show, hottest on top.
        let h = heatmap(vec![cell(0, 0, 1), cell(0, 1, 100)], 16, 1);
        let img = decode(&heatmap_png(&h, &square_opts()).unwrap());
        assert_eq!(img.at(0, 0), hot());
        // A tiny width.
        let img = decode(&heatmap_png(&h, &RenderOptions { width: 1, ..d }).unwrap());
        assert_eq!(img.w, 1);
    }

    #[test]
    fn bad_backgrounds_are_clear_errors() {
        let h = heatmap(vec![cell(0, 0, 1)], 16, 80);
        let good = png_of(8, 8, |_, _| [1, 2, 3, 255]);
        for bytes in [
            &b""[..],
            b"GIF89a\x01\x00\x01\x00",
            b"\x89PNG\r\n\x1a\n",
            &good[..good.len() / 2],
            &good[..40],
        ] {
            let opts = RenderOptions {
                background: Some(bytes),
                ..RenderOptions::default()
            };
            let e = heatmap_png(&h, &opts).unwrap_err();
            assert!(matches!(e, RenderError::Background(_)), "{e}");
            assert!(e.to_string().contains("pass a PNG file"), "{e}");
            let so = ScrollRenderOptions {
                background: Some(bytes),
                ..ScrollRenderOptions::default()
            };
            let e = scroll_png(&ScrollReach::default(), &so).unwrap_err();
            assert!(matches!(e, RenderError::Background(_)), "{e}");
        }
        // A screenshot over the size limit is refused from its header
        // (here nothing but the header).
        let mut huge = Vec::new();
        let mut enc = png::Encoder::new(&mut huge, 100_000, 100_000);
        enc.set_color(png::ColorType::Rgb);
        std::mem::forget(enc.write_header().unwrap());
        let opts = RenderOptions {
            background: Some(&huge),
            ..RenderOptions::default()
        };
        let e = heatmap_png(&h, &opts).unwrap_err().to_string();
        assert!(e.contains("100000x100000"), "{e}");
        // A tall screenshot within the pixel limit is fine; the picture is
        // cut at the limits.
        let tall = png_of(1, MAX_DIM + 1, |_, _| [9, 9, 9, 255]);
        let opts = RenderOptions {
            width: 2,
            background: Some(&tall),
            dim: 0.0,
            ..RenderOptions::default()
        };
        let img = decode(&heatmap_png(&Heatmap::default(), &opts).unwrap());
        assert_eq!(img.h, MAX_DIM);
        assert_eq!(img.at(1, 1000), [9, 9, 9]);
        // 16-bit screenshots are read too.
        let mut deep = Vec::new();
        let mut enc = png::Encoder::new(&mut deep, 2, 2);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Sixteen);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&[0x80, 0x01, 0, 0, 0xff, 0xff].repeat(4))
            .unwrap();
        wr.finish().unwrap();
        let opts = RenderOptions {
            width: 8,
            background: Some(&deep),
            dim: 0.0,
            ..RenderOptions::default()
        };
        let img = decode(&heatmap_png(&Heatmap::default(), &opts).unwrap());
        assert_eq!(img.at(3, 3), [0x80, 0, 0xff]);
    }

    #[test]
    fn ramp_is_perceptually_ordered() {
        let ramp = Ramp::new();
        let l: Vec<f64> = (0..=255).map(|i| lightness(ramp.at(i))).collect();
        assert!(l.windows(2).all(|w| w[1] > w[0] - 0.002), "lightness rises");
        assert!(l[255] - l[0] > 0.7);
        assert_eq!(ramp.at(0), ANCHORS[0]);
        assert_eq!(ramp.at(255), ANCHORS[4]);
        // Anchors are visited in order, evenly.
        for (k, a) in ANCHORS.iter().enumerate() {
            assert_eq!(ramp_color(k as f64 / 4.0), *a, "anchor {k}");
        }
        assert_eq!(ramp_color(-1.0), ANCHORS[0]);
        assert_eq!(ramp_color(f64::NAN), ANCHORS[0]);
        assert_ne!(ramp.at(Ramp::index(1e-9)), GROUND);
        assert_eq!(Ramp::index(1e-9), 1);
        assert_eq!(Ramp::index(0.0), 0);
        assert_eq!(Ramp::index(1.0), 255);
    }

    #[test]
    fn oklab_roundtrips() {
        for c in [
            [0, 0, 0],
            [255, 255, 255],
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [12, 200, 99],
            [128, 128, 128],
        ] {
            assert_eq!(from_oklab(to_oklab(c)), c);
        }
        let white = to_oklab([255, 255, 255]);
        assert!((white[0] - 1.0).abs() < 1e-3 && white[1].abs() < 1e-3 && white[2].abs() < 1e-3);
        assert!(to_oklab([0, 0, 0])[0].abs() < 1e-9);
    }

    #[test]
    fn short_counts() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1k"),
            (1_234, "1.2k"),
            (1_999, "1.9k"),
            (12_345, "12k"),
            (999_999, "999k"),
            (1_500_000, "1.5M"),
            (2_000_000_000, "2G"),
            (u64::MAX, "18446744073G"),
        ] {
            assert_eq!(short_count(n), s);
        }
        for c in "0123456789.%-kMG no data".chars() {
            assert!(glyph(c).is_some(), "{c:?}");
        }
        assert_eq!(text_width("", 2), 0);
        assert_eq!(text_width("10%", 1), 17);
    }

    fn reach(sessions: u64, shares: &[u64]) -> ScrollReach {
        let step = 100 / (shares.len() as u32 - 1).max(1);
        ScrollReach {
            sessions,
            steps: shares
                .iter()
                .enumerate()
                .map(|(i, &n)| ScrollStep {
                    depth: i as u32 * step,
                    sessions: n,
                })
                .collect(),
        }
    }

    #[test]
    fn scroll_bands_cool_with_depth() {
        let s = reach(100, &[100, 93, 80, 71, 60, 44, 30, 21, 12, 5, 2]);
        let opts = ScrollRenderOptions {
            width: 200,
            height: Some(1000),
            ..ScrollRenderOptions::default()
        };
        let img = decode(&scroll_png(&s, &opts).unwrap());
        assert_eq!((img.w, img.h), (200, 1000 + legend_height(200)));
        let ramp = Ramp::new();
        let mut last = f64::INFINITY;
        for (i, st) in s.steps.iter().take(10).enumerate() {
            let y = i as u32 * 100 + 60;
            let c = img.at(199, y);
            let want = ramp.at(Ramp::index(st.sessions as f64 / 100.0));
            assert_eq!(c, want, "band {i}");
            let l = lightness(c);
            assert!(l < last, "band {i} is colder than the one above");
            last = l;
        }
        // The top band: everyone reached it, the hot end.
        assert_eq!(img.at(150, 10), ramp.at(255));
        // Labels: dashed lines at 25/50/75/100 % and ink above them.
        let light = [0xf4, 0xf5, 0xf7];
        for y in [250, 500, 750, 999] {
            assert_eq!(img.at(0, y), light, "line at {y}");
            let ink = (y - 20..y)
                .flat_map(|yy| (0..40).map(move |x| (x, yy)))
                .filter(|&(x, yy)| img.at(x, yy) == light)
                .count();
            assert!(ink > 10, "label above {y}");
        }
        // Without labels, the left edge is the band colour too.
        let opts = ScrollRenderOptions {
            labels: false,
            ..opts
        };
        let img = decode(&scroll_png(&s, &opts).unwrap());
        assert_eq!(img.at(0, 250), img.at(199, 250));
    }

    #[test]
    fn scroll_over_a_background_and_odd_steps() {
        let bg = png_of(100, 300, |_, _| [240, 240, 240, 255]);
        let s = reach(10, &[10, 5, 0]);
        let opts = ScrollRenderOptions {
            width: 100,
            background: Some(&bg),
            opacity: 0.5,
            dim: 0.0,
            labels: false,
            ..ScrollRenderOptions::default()
        };
        let img = decode(&scroll_png(&s, &opts).unwrap());
        assert_eq!(img.h, 300 + legend_height(100));
        let ramp = Ramp::new();
        assert_eq!(img.at(50, 10), blend([240; 3], ramp.at(255), 0.5));
        assert_eq!(
            img.at(50, 200),
            blend([240; 3], ramp.at(Ramp::index(0.5)), 0.5)
        );
        // Unsorted, duplicate, over-100 and over-total steps do not panic.
        let s = ScrollReach {
            sessions: 3,
            steps: vec![
                ScrollStep {
                    depth: 250,
                    sessions: 9,
                },
                ScrollStep {
                    depth: 50,
                    sessions: 1,
                },
                ScrollStep {
                    depth: 50,
                    sessions: 2,
                },
                ScrollStep {
                    depth: 10,
                    sessions: 3,
                },
            ],
        };
        let img = decode(&scroll_png(&s, &ScrollRenderOptions::default()).unwrap());
        assert_eq!(img.w, 400);
        // Above the first step nothing is drawn.
        assert_eq!(img.at(399, 50), GROUND);
        // No sessions: a valid picture with an empty legend.
        for s in [ScrollReach::default(), reach(0, &[0, 0])] {
            let img = decode(&scroll_png(&s, &ScrollRenderOptions::default()).unwrap());
            assert_eq!((img.w, img.h), (400, 1000 + legend_height(400)));
            assert_eq!(img.at(200, 500), GROUND);
        }
        let d = ScrollRenderOptions::default();
        for bad in [
            ScrollRenderOptions { width: 0, ..d },
            ScrollRenderOptions {
                height: Some(MAX_DIM * 2),
                ..d
            },
            ScrollRenderOptions { opacity: -0.1, ..d },
        ] {
            assert!(matches!(
                scroll_png(&ScrollReach::default(), &bad),
                Err(RenderError::InvalidArgument(_))
            ));
        }
    }

    fn arb_heatmap() -> impl Strategy<Value = Heatmap> {
        let big = prop_oneof![9 => 0u32..40, 1 => any::<u32>()];
        let cells = prop::collection::vec(
            (
                0u32..80,
                prop_oneof![9 => 0u32..60, 1 => any::<u32>()],
                prop_oneof![0u64..1000, any::<u64>()],
            ),
            0..40,
        );
        (cells, 0u32..70, big).prop_map(|(cells, cols, row_px)| Heatmap {
            cells: cells.into_iter().map(|(c, r, n)| cell(c, r, n)).collect(),
            total: 0,
            skipped: 0,
            cols,
            row_px,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_heatmaps_never_panic_and_decode(
            h in arb_heatmap(),
            width in 1u32..200,
            viewport_px in 0u32..3000,
            height in prop::option::of(0u32..300),
            legend in any::<bool>(),
            scale in prop::sample::select(vec![CountScale::Linear, CountScale::Sqrt, CountScale::Log]),
            with_bg in any::<bool>(),
        ) {
            let bg = png_of(37, 23, |x, y| [x as u8 * 7, y as u8 * 11, 90, 200]);
            let opts = RenderOptions {
                width,
                viewport_px,
                height,
                legend,
                scale,
                background: with_bg.then_some(&bg[..]),
                ..RenderOptions::default()
            };
            match heatmap_png(&h, &opts) {
                Ok(bytes) => {
                    let img = decode(&bytes);
                    prop_assert_eq!(img.w, width);
                    prop_assert!(u64::from(img.w) * u64::from(img.h) <= MAX_PIXELS);
                    if let Some(ht) = height {
                        prop_assert_eq!(img.h, ht + if legend { legend_height(width) } else { 0 });
                    }
                }
                Err(RenderError::InvalidArgument(_)) => {
                    prop_assert!(
                        viewport_px == 0
                            || height == Some(0)
                            || (!h.cells.is_empty() && (h.cols == 0 || h.row_px == 0))
                    );
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
        }

        #[test]
        fn random_scroll_reaches_never_panic_and_decode(
            sessions in prop_oneof![0u64..100, any::<u64>()],
            steps in prop::collection::vec((any::<u32>(), any::<u64>()), 0..30),
            width in 1u32..120,
            height in prop::option::of(1u32..400),
            legend in any::<bool>(),
            labels in any::<bool>(),
        ) {
            let s = ScrollReach {
                sessions,
                steps: steps.into_iter().map(|(depth, sessions)| ScrollStep { depth: depth % 130, sessions }).collect(),
            };
            let opts = ScrollRenderOptions { width, height, legend, labels, ..ScrollRenderOptions::default() };
            let img = decode(&scroll_png(&s, &opts).unwrap());
            prop_assert_eq!(img.w, width);
        }

        #[test]
        fn random_background_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), keep in 0usize..200) {
            let mut b = png_of(5, 5, |_, _| [1, 2, 3, 4]);
            // Random bytes, or a valid PNG with a random stretch overwritten.
            if keep < b.len() {
                for (i, v) in bytes.iter().enumerate() {
                    if let Some(p) = b.get_mut(keep + i) { *p = *v; }
                }
            } else {
                b = bytes;
            }
            let opts = RenderOptions { width: 16, background: Some(&b), ..RenderOptions::default() };
            match heatmap_png(&Heatmap::default(), &opts) {
                Ok(bytes) => { decode(&bytes); }
                Err(e) => prop_assert!(matches!(e, RenderError::Background(_)), "{}", e),
            }
        }
    }
}
