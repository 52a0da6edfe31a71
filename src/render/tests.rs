use super::canvas::*;
use super::color::*;
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
