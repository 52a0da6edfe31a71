//! Pixels: the built-in font, the canvas, PNG encoding, the legend.

use super::color::{blend, Ramp};
use super::*;

/// 5×7 glyphs drawn for this module: seven rows, bit 4 the leftmost column.
pub(super) const GLYPHS: &[(char, [u8; 7])] = &[
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

pub(super) const GLYPH_W: u32 = 5;
pub(super) const GLYPH_H: u32 = 7;

pub(super) fn glyph(c: char) -> Option<&'static [u8; 7]> {
    GLYPHS.iter().find(|(g, _)| *g == c).map(|(_, rows)| rows)
}

/// Width in px of `text` at `scale` (one column of space between glyphs).
pub(super) fn text_width(text: &str, scale: u32) -> u32 {
    let n = text.chars().count() as u32;
    (n * (GLYPH_W + 1)).saturating_sub(1) * scale
}

/// A count as a short label: `950`, `1.2k`, `12k`, `3.4M`, `5G` (rounded
/// down, so a label never overstates).
pub(super) fn short_count(n: u64) -> String {
    pub(super) fn unit(n: u64, div: u64, suffix: char) -> String {
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
pub(super) struct Canvas {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Canvas {
    pub(super) fn new(w: u32, h: u32, fill: Rgb) -> Canvas {
        let n = w as usize * h as usize;
        let mut px = Vec::with_capacity(n * 3);
        for _ in 0..n {
            px.extend_from_slice(&fill);
        }
        Canvas { w, h, px }
    }

    pub(super) fn offset(&self, x: u32, y: u32) -> Option<usize> {
        (x < self.w && y < self.h).then(|| (y as usize * self.w as usize + x as usize) * 3)
    }

    pub(super) fn get(&self, x: u32, y: u32) -> Option<Rgb> {
        let o = self.offset(x, y)?;
        let p = self.px.get(o..o + 3)?;
        Some([*p.first()?, *p.get(1)?, *p.get(2)?])
    }

    pub(super) fn set(&mut self, x: u32, y: u32, c: Rgb) {
        if let Some(o) = self.offset(x, y) {
            if let Some(p) = self.px.get_mut(o..o + 3) {
                p.copy_from_slice(&c);
            }
        }
    }

    pub(super) fn fill_rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb) {
        for y in y0..y1.min(self.h) {
            for x in x0..x1.min(self.w) {
                self.set(x, y, c);
            }
        }
    }

    pub(super) fn blend_rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb, alpha: f64) {
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
    pub(super) fn text(&mut self, x: u32, y: u32, text: &str, scale: u32, c: Rgb) {
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

    pub(super) fn encode(&self) -> Result<Vec<u8>, RenderError> {
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
pub(super) struct Image {
    w: u32,
    h: u32,
    px: Vec<Rgb>,
}

impl Image {
    pub(super) fn decode(bytes: &[u8]) -> Result<Image, RenderError> {
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
    pub(super) fn height_at(&self, width: u32) -> u32 {
        let h = u64::from(self.h) * u64::from(width) / u64::from(self.w.max(1));
        h.clamp(1, u64::from(u32::MAX)) as u32
    }

    /// Draws the image scaled to the canvas width (box filter: each output
    /// pixel is the mean of the source pixels it covers) from the top, down
    /// to `max_h` rows, darkened by `dim` toward [`GROUND`].
    pub(super) fn draw_scaled(&self, c: &mut Canvas, max_h: u32, dim: f64) {
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

pub(super) fn check_width(width: u32) -> Result<(), RenderError> {
    if width == 0 || width > MAX_DIM {
        return Err(RenderError::InvalidArgument(format!(
            "width {width} px is out of range: use 1..={MAX_DIM}"
        )));
    }
    Ok(())
}

/// A fraction option (`opacity`, `dim`) in `0.0..=1.0`.
pub(super) fn check_unit(name: &str, v: f32) -> Result<f64, RenderError> {
    if !(0.0..=1.0).contains(&v) {
        return Err(RenderError::InvalidArgument(format!(
            "{name} {v} is out of range: use 0.0..=1.0"
        )));
    }
    Ok(f64::from(v))
}

/// The text scale for a picture `width` px wide: 1 under 400 px, 2 up to
/// 1199, then 3.
pub(super) fn text_scale(width: u32) -> u32 {
    match width {
        0..=399 => 1,
        400..=1199 => 2,
        _ => 3,
    }
}

/// Height of the legend strip for a picture `width` px wide.
pub(super) fn legend_height(width: u32) -> u32 {
    let s = text_scale(width);
    // margin, bar, gap, text, margin
    4 * s + 6 * s + 3 * s + GLYPH_H * s + 4 * s
}

/// The page height that fits under the limits with a legend of `legend_h`.
pub(super) fn fit_height(width: u32, legend_h: u32) -> u32 {
    let by_pixels = (MAX_PIXELS / u64::from(width.max(1))).min(u64::from(MAX_DIM)) as u32;
    by_pixels.saturating_sub(legend_h).max(1)
}

/// Checks an explicit page height against the limits.
pub(super) fn check_height(width: u32, height: u32, legend_h: u32) -> Result<(), RenderError> {
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
pub(super) fn draw_legend(c: &mut Canvas, top: u32, ramp: &Ramp, left: &str, right: &str) {
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
