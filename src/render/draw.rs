//! Heatmaps and scroll maps as pictures.

use super::canvas::*;
use super::color::*;
use super::*;

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
