//! The colour ramp: OKLab interpolation between sRGB anchors.

use super::*;

/// sRGB anchor colours of the ramp, from cold to hot, chosen to rise in
/// lightness.
pub(super) const ANCHORS: [Rgb; 5] = [
    [0x1e, 0x10, 0x4e], // deep indigo
    [0x1f, 0x5f, 0xd6], // blue
    [0x12, 0xb3, 0x8c], // green
    [0xf2, 0xcf, 0x3a], // yellow
    [0xff, 0xfb, 0xeb], // white-hot
];

pub(super) fn srgb_to_linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

pub(super) fn linear_to_srgb(c: f64) -> u8 {
    let c = c.clamp(0.0, 1.0);
    let s = if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0).round().clamp(0.0, 255.0) as u8
}

/// sRGB → OKLab `[L, a, b]` (Björn Ottosson's definition, 2020).
pub(super) fn to_oklab(c: Rgb) -> [f64; 3] {
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
pub(super) fn from_oklab([ll, a, b]: [f64; 3]) -> Rgb {
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
pub(super) struct Ramp {
    lut: Vec<Rgb>,
}

/// The ramp's colour at `t` in `0..=1`: the OKLab mix of the two anchors
/// around it.
pub(super) fn ramp_color(t: f64) -> Rgb {
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
    pub(super) fn new() -> Ramp {
        let lut = (0..256u32)
            .map(|i| ramp_color(f64::from(i) / 255.0))
            .collect();
        Ramp { lut }
    }

    /// The colour at index `i` (0..=255).
    pub(super) fn at(&self, i: u8) -> Rgb {
        self.lut.get(usize::from(i)).copied().unwrap_or(GROUND)
    }

    /// The index of `t` in `0..=1`; a `t` above 0 is at least index 1, so
    /// a non-empty cell never looks like the coldest end.
    pub(super) fn index(t: f64) -> u8 {
        if t <= 0.0 {
            return 0;
        }
        ((t * 255.0).round() as u8).max(1)
    }
}

pub(super) fn blend(under: Rgb, over: Rgb, alpha: f64) -> Rgb {
    let a = alpha.clamp(0.0, 1.0);
    let mix = |u: u8, o: u8| (f64::from(u) * (1.0 - a) + f64::from(o) * a).round() as u8;
    [
        mix(under[0], over[0]),
        mix(under[1], over[1]),
        mix(under[2], over[2]),
    ]
}

// ------------------------------------------------------------------ font
