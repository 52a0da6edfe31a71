//! Pictures of stored reports (feature `png`): the PNG of a heatmap of
//! known clicks, decoded with the `png` crate, is hottest where the clicks
//! were; a scroll map is brightest at the top and fades down the page.
#![cfg(feature = "png")]

use heatstore::query::{Filters, HeatmapOptions};
use heatstore::render::{heatmap_png, scroll_png, RenderOptions, ScrollRenderOptions, GROUND};
use heatstore::{Event, EventKind, Store};

const SITE: &str = "shop.example";
const T0: i64 = 1_767_225_600_000; // 2026-01-01

/// A decoded RGB picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn decode(bytes: &[u8]) -> Picture {
        let mut dec = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("a PNG header");
        let mut buf = vec![0; dec.output_buffer_size().expect("a size")];
        let info = dec.next_frame(&mut buf).expect("a PNG frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        Picture {
            width: info.width,
            height: info.height,
            rgb: buf,
        }
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Brightness as the sum of the channels.
    fn light(&self, x: u32, y: u32) -> u32 {
        self.at(x, y).iter().map(|&c| u32::from(c)).sum()
    }
}

fn pageview(session: &str, ts: i64) -> Event {
    let mut e = Event::new(SITE, ts, EventKind::Pageview, session, "/");
    e.vw = Some(1280);
    e.vh = Some(800);
    e.dh = Some(4000);
    e
}

fn store_with(events: &[Event]) -> Store {
    let store = Store::in_memory().unwrap();
    let mut w = store.writer().unwrap();
    for e in events {
        w.append(e).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    store
}

#[test]
fn heatmap_hottest_cells_are_where_the_clicks_were() {
    // (x, y, clicks) on a 1280 px viewport: 30 at the middle, 10 low on
    // the left, 5 at the top right.
    let spots = [(645u32, 405u32, 30usize), (105, 1205, 10), (1205, 55, 5)];
    let mut events = Vec::new();
    let mut ts = T0;
    for s in 0..5 {
        let session = format!("s{s}");
        events.push(pageview(&session, ts));
        for &(x, y, n) in &spots {
            for _ in 0..n.div_ceil(5) {
                ts += 1000;
                let mut c = Event::new(SITE, ts, EventKind::Click, &session, "/");
                c.x = Some(x);
                c.y = Some(y);
                events.push(c);
            }
        }
        ts += 60_000;
    }
    let store = store_with(&events);
    let f = Filters {
        page: Some("/".into()),
        ..Filters::default()
    };
    let h = store
        .snapshot()
        .unwrap()
        .heatmap(
            SITE,
            &f,
            HeatmapOptions {
                cols: 64,
                row_px: 16,
            },
        )
        .unwrap();
    // The report: 30 clicks at col 645*64/1280 = 32, row 405/16 = 25.
    let top = h.cells.iter().max_by_key(|c| c.count).unwrap();
    assert_eq!((top.col, top.row, top.count), (32, 25, 30));

    // The picture at half scale: a cell is 10 px across, 8 px down.
    let opts = RenderOptions {
        width: 640,
        viewport_px: 1280,
        legend: false,
        ..RenderOptions::default()
    };
    let pic = Picture::decode(&heatmap_png(&h, &opts).unwrap());
    assert_eq!(pic.width, 640);
    // Down to the last non-empty row (75): 76 rows of 8 px.
    assert_eq!(pic.height, 76 * 8);

    let cell = |col: u32, row: u32| (col * 10..col * 10 + 10, row * 8..row * 8 + 8);
    let (hot_x, hot_y) = cell(32, 25);
    let max = (0..pic.height)
        .flat_map(|y| (0..pic.width).map(move |x| (x, y)))
        .map(|(x, y)| pic.light(x, y))
        .max()
        .unwrap();
    // Every pixel of the hottest brightness is in the hottest cell, and
    // the whole cell has it.
    for y in 0..pic.height {
        for x in 0..pic.width {
            let inside = hot_x.contains(&x) && hot_y.contains(&y);
            assert_eq!(pic.light(x, y) == max, inside, "pixel ({x}, {y})");
        }
    }
    // The next cells are drawn, dimmer in the order of their counts, and
    // empty space is the plain ground.
    let (lx, ly) = cell(5, 75);
    let (tx, ty) = cell(60, 3);
    let (mid, low) = (
        pic.light(lx.start + 5, ly.start + 4),
        pic.light(tx.start + 5, ty.start + 4),
    );
    assert!(max > mid && mid > low, "{max} > {mid} > {low}");
    assert_ne!(pic.at(tx.start, ty.start), GROUND);
    assert_eq!(pic.at(0, 0), GROUND);
    assert_eq!(pic.at(639, 300), GROUND);
}

#[test]
fn scroll_map_fades_with_depth() {
    // Eight sessions on a 4000 px page with an 800 px viewport (fold at
    // 20 %); they scroll to 40 %, 60 %, 80 % and 100 %, two each.
    let mut events = Vec::new();
    for s in 0..8u32 {
        let session = format!("s{s}");
        let ts = T0 + i64::from(s) * 600_000;
        events.push(pageview(&session, ts));
        let mut e = Event::new(SITE, ts + 5000, EventKind::Scroll, &session, "/");
        e.y = Some(800 * (s / 2 + 1)); // reach (y + 800) / 4000
        e.vw = Some(1280);
        e.vh = Some(800);
        e.dh = Some(4000);
        events.push(e);
    }
    let store = store_with(&events);
    let f = Filters {
        page: Some("/".into()),
        ..Filters::default()
    };
    let s = store
        .snapshot()
        .unwrap()
        .scroll_reach(SITE, &f, 10)
        .unwrap();
    assert_eq!(s.sessions, 8);
    let opts = ScrollRenderOptions {
        width: 200,
        height: Some(1000),
        legend: false,
        labels: false,
        ..ScrollRenderOptions::default()
    };
    let pic = Picture::decode(&scroll_png(&s, &opts).unwrap());
    assert_eq!((pic.width, pic.height), (200, 1000));
    // One band per 10 %; brightness never rises going down, and is lower
    // at the bottom (2 of 8 sessions) than at the top (all of them).
    let bands: Vec<u32> = (0..10).map(|b| pic.light(100, b * 100 + 50)).collect();
    for w in bands.windows(2) {
        assert!(w[0] >= w[1], "bands {bands:?}");
    }
    assert!(bands[0] > bands[9], "bands {bands:?}");
    // Within a band the colour is even.
    assert_eq!(pic.at(0, 10), pic.at(199, 90));
}
