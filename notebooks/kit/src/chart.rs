//! Bar and line charts as SVG: text stays sharp and selectable, and the
//! browser does the fonts.

use std::fmt::Write as _;

use crate::{escape, Svg};

/// Series colours (Tableau 10), in order.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];
const FONT: &str = "font-family=\"Helvetica, Arial, sans-serif\"";

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// `v` with `decimals` decimals and thousands separators in the integer
/// part: `12345.678` → `12,345.7` with one decimal.
fn number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int = int
        .parse::<i128>()
        .map_or_else(|_| int.to_owned(), crate::int);
    let sign = if v < 0.0 && s.chars().any(|c| c != '0' && c != '.') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// A round step of about `span / 5`: 1, 2 or 5 times a power of ten.
fn nice_step(span: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Decimals that show a tick step of `step` exactly enough.
fn step_decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

fn legend(svg: &mut String, names: &[&str], x: f64, y: f64) {
    let mut x = x;
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" {FONT}>{}</text>",
            y - 10.0,
            colour(i),
            x + 16.0,
            y,
            escape(name)
        );
        x += 16.0 + 7.0 * name.chars().count() as f64 + 18.0;
    }
}

/// A horizontal bar chart: one group of bars per category, one bar per
/// series (one series is a plain bar chart), each with its value.
///
/// ```
/// let chart = nbkit::Bars::new("Sessions by channel")
///     .categories(["search", "direct"])
///     .series("sessions", [340.0, 310.0]);
/// let svg = chart.svg().svg;
/// assert!(svg.starts_with("<svg") && svg.contains(">search</text>") && svg.contains(">340</text>"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bars {
    title: String,
    categories: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
    unit: String,
    decimals: usize,
    width: u32,
}

impl Bars {
    /// An empty chart with this title (720 px wide, whole numbers).
    pub fn new(title: impl Into<String>) -> Bars {
        Bars {
            title: title.into(),
            width: 720,
            ..Bars::default()
        }
    }

    /// The categories (one group of bars each), top to bottom.
    pub fn categories<S: ToString>(mut self, names: impl IntoIterator<Item = S>) -> Bars {
        self.categories = names.into_iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds a series: one value per category, in order (missing values
    /// draw no bar).
    pub fn series(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = f64>,
    ) -> Bars {
        self.series
            .push((name.into(), values.into_iter().collect()));
        self
    }

    /// Text after each value label (`" ms"`, `"%"`).
    pub fn unit(mut self, unit: impl Into<String>) -> Bars {
        self.unit = unit.into();
        self
    }

    /// Decimals of the value labels (default 0).
    pub fn decimals(mut self, decimals: usize) -> Bars {
        self.decimals = decimals;
        self
    }

    /// Width in px (default 720).
    pub fn width(mut self, width: u32) -> Bars {
        self.width = width.max(200);
        self
    }

    /// The chart as SVG.
    pub fn svg(&self) -> Svg {
        let w = f64::from(self.width);
        let label_w = self
            .categories
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
            .min(40) as f64
            * 7.0
            + 16.0;
        let value_w = 90.0;
        let plot_w = (w - label_w - value_w).max(60.0);
        let bar_h = if self.series.len() > 1 { 14.0 } else { 18.0 };
        let group_h = bar_h * self.series.len().max(1) as f64 + 8.0;
        let legend_h = if self.series.len() > 1 { 22.0 } else { 0.0 };
        let top = 34.0 + legend_h;
        let h = top + group_h * self.categories.len() as f64 + 10.0;
        let max = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"0 0 {w:.0} {h:.0}\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
             <text x=\"8\" y=\"20\" font-size=\"15\" font-weight=\"bold\" {FONT}>{}</text>",
            escape(&self.title)
        );
        if self.series.len() > 1 {
            let names: Vec<&str> = self.series.iter().map(|(n, _)| n.as_str()).collect();
            legend(&mut svg, &names, label_w, 46.0);
        }
        for (ci, cat) in self.categories.iter().enumerate() {
            let gy = top + group_h * ci as f64;
            let shown: String = cat.chars().take(40).collect();
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" {FONT}>{}</text>",
                label_w - 8.0,
                gy + group_h / 2.0,
                escape(&shown)
            );
            for (si, (_, values)) in self.series.iter().enumerate() {
                let Some(&v) = values.get(ci) else { continue };
                if !v.is_finite() {
                    continue;
                }
                let len = if max > 0.0 {
                    v.max(0.0) / max * plot_w
                } else {
                    0.0
                };
                let y = gy + 2.0 + bar_h * si as f64;
                let _ = write!(
                    svg,
                    "<rect x=\"{label_w:.1}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"{}\"/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" {FONT}>{}{}</text>",
                    bar_h - 2.0,
                    colour(si),
                    label_w + len + 4.0,
                    y + bar_h - 5.0,
                    number(v, self.decimals),
                    escape(&self.unit)
                );
            }
        }
        let _ = write!(
            svg,
            "<line x1=\"{label_w:.1}\" y1=\"{:.1}\" x2=\"{label_w:.1}\" y2=\"{:.1}\" stroke=\"#888\"/></svg>",
            top - 2.0,
            h - 8.0
        );
        Svg {
            svg,
            caption: self.title.clone(),
        }
    }

    /// Shows the chart.
    pub fn evcxr_display(&self) {
        self.svg().evcxr_display();
    }
}

/// A line chart of one or more series over shared x labels (days, hours,
/// depth steps), with a y axis from 0 at round steps.
///
/// ```
/// let chart = nbkit::Lines::new("Pageviews per day")
///     .x(["10-01", "10-02", "10-03"])
///     .series("pageviews", [120.0, 180.0, 90.0]);
/// let svg = chart.svg().svg;
/// assert!(svg.contains("<polyline") && svg.contains(">10-02</text>"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lines {
    title: String,
    x: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
    y_label: String,
    label_every: usize,
    width: u32,
    height: u32,
}

impl Lines {
    /// An empty chart with this title (760 × 300 px).
    pub fn new(title: impl Into<String>) -> Lines {
        Lines {
            title: title.into(),
            width: 760,
            height: 300,
            ..Lines::default()
        }
    }

    /// The x labels, one per point (about 10 of them are drawn, evenly
    /// spaced, unless [`Lines::label_every`] says which).
    pub fn x<S: ToString>(mut self, labels: impl IntoIterator<Item = S>) -> Lines {
        self.x = labels.into_iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds a series: one value per x label.
    pub fn series(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = f64>,
    ) -> Lines {
        self.series
            .push((name.into(), values.into_iter().collect()));
        self
    }

    /// Draws the label of every `n`th point only (`24` on an hourly series:
    /// one label a day).
    pub fn label_every(mut self, n: usize) -> Lines {
        self.label_every = n;
        self
    }

    /// The y axis's name.
    pub fn y_label(mut self, label: impl Into<String>) -> Lines {
        self.y_label = label.into();
        self
    }

    /// Size in px (default 760 × 300).
    pub fn size(mut self, width: u32, height: u32) -> Lines {
        self.width = width.max(200);
        self.height = height.max(120);
        self
    }

    /// The chart as SVG.
    pub fn svg(&self) -> Svg {
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let (left, right, top, bottom) = (64.0, 16.0, 48.0, 40.0);
        let (pw, ph) = (w - left - right, h - top - bottom);
        let max = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let step = nice_step(max);
        let top_value = ((max / step).ceil() * step).max(step);
        let n = self
            .series
            .iter()
            .map(|(_, v)| v.len())
            .chain([self.x.len()])
            .max()
            .unwrap_or(0);
        let xpos = |i: usize| {
            if n <= 1 {
                left + pw / 2.0
            } else {
                left + pw * i as f64 / (n - 1) as f64
            }
        };
        let ypos = |v: f64| top + ph - v / top_value * ph;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"0 0 {w:.0} {h:.0}\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
             <text x=\"8\" y=\"20\" font-size=\"15\" font-weight=\"bold\" {FONT}>{}</text>",
            escape(&self.title)
        );
        let names: Vec<&str> = self.series.iter().map(|(n, _)| n.as_str()).collect();
        legend(&mut svg, &names, left, 38.0);
        // Grid and y ticks.
        let decimals = step_decimals(step);
        let mut t = 0.0;
        while t <= top_value + step / 2.0 {
            let y = ypos(t);
            let _ = write!(
                svg,
                "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" {FONT}>{}</text>",
                left + pw,
                left - 6.0,
                y + 4.0,
                number(t, decimals)
            );
            t += step;
        }
        if !self.y_label.is_empty() {
            let _ = write!(
                svg,
                "<text transform=\"translate(14 {:.1}) rotate(-90)\" font-size=\"11\" \
                 text-anchor=\"middle\" {FONT}>{}</text>",
                top + ph / 2.0,
                escape(&self.y_label)
            );
        }
        // X labels: about ten, or every `label_every`th.
        let every = if self.label_every > 0 {
            self.label_every
        } else {
            n.div_ceil(10).max(1)
        };
        for (i, label) in self.x.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let x = xpos(i);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" {FONT}>{}</text>",
                top + ph,
                top + ph + 4.0,
                top + ph + 18.0,
                escape(label)
            );
        }
        let _ = write!(
            svg,
            "<line x1=\"{left:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>",
            top + ph,
            left + pw,
            top + ph
        );
        for (si, (_, values)) in self.series.iter().enumerate() {
            let mut points = String::new();
            for (i, v) in values.iter().enumerate() {
                if v.is_finite() {
                    let _ = write!(points, "{:.1},{:.1} ", xpos(i), ypos(*v));
                }
            }
            let _ = write!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                points.trim_end(),
                colour(si)
            );
        }
        svg.push_str("</svg>");
        Svg {
            svg,
            caption: self.title.clone(),
        }
    }

    /// Shows the chart.
    pub fn evcxr_display(&self) {
        self.svg().evcxr_display();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_steps() {
        assert_eq!(number(12_345.678, 1), "12,345.7");
        assert_eq!(number(-0.04, 1), "0.0");
        assert_eq!(number(-2.5, 1), "-2.5");
        assert_eq!(number(f64::NAN, 0), "-");
        assert_eq!(nice_step(1000.0), 200.0);
        assert_eq!(nice_step(7.0), 2.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(step_decimals(0.2), 1);
        assert_eq!(step_decimals(0.05), 2);
    }

    #[test]
    fn grouped_bars_have_a_legend_and_every_bar() {
        let svg = Bars::new("t")
            .categories(["a", "b"])
            .series("median", [1.0, 2.0])
            .series("p90", [3.0, f64::NAN])
            .unit(" s")
            .decimals(1)
            .svg()
            .svg;
        assert_eq!(
            svg.matches("<rect").count(),
            1 + 2 + 3,
            "ground, legend, bars"
        );
        assert!(svg.contains(">3.0 s</text>") && svg.contains(">median</text>"));
    }

    #[test]
    fn empty_charts_draw() {
        assert!(Lines::new("nothing").svg().svg.ends_with("</svg>"));
        assert!(Bars::new("nothing").svg().svg.ends_with("</svg>"));
    }
}
