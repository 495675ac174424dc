//! Hand-drawn SVG charts for index.html: small multiples on shared log
//! axes, each point with its interval bar, distinct colour and marker per
//! series, marks for † (deviating) and ⚠ (critical) cells, and a dashed grey
//! reference series (Python) where it ran. Pure function of [`Figure`].

use crate::format::{fmt_rate, fmt_time, sig3};

/// What the y values are, for tick labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum YKind {
    /// Nanoseconds.
    Time,
    /// Bytes per second.
    Rate,
    /// Things per second (tasks, messages).
    PerSecond,
}

/// What the x values are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XKind {
    /// Payload bytes, log scale.
    Size,
    /// Quantile as "nines": x = -log10(1 - q); the maximum is drawn at [`MAX_AT`].
    Nines,
}

/// One point with its interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// `†` or `⚠` drawn beside the point.
    pub mark: Option<&'static str>,
}

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// Drawn dashed and grey, behind the others (the Python baseline).
    pub reference: bool,
    pub points: Vec<Point>,
}

/// One small multiple.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
}

/// A figure: panels sharing both axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub caption: String,
    pub x: XKind,
    pub y: YKind,
    /// A y range shared with sibling figures (fanout 1, 2, 4 workers), so
    /// they compare at a glance; `None` fits the figure's own points.
    pub y_range: Option<(f64, f64)>,
    /// What the x axis shows, under each panel.
    pub x_label: String,
    pub panels: Vec<Panel>,
}

/// Colour-blind-safe palette (Okabe–Ito) and markers: within a panel every
/// series differs in both.
const COLORS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::Cross,
];
/// Reference series (Python): grey, dashed, each its own dash and marker.
const REFERENCE: &str = "#777777";
const REFERENCE_DASH: [&str; 2] = ["6 3", "2 2"];
const REFERENCE_MARKERS: [Marker; 2] = [Marker::Diamond, Marker::Square];

/// Where the maximum sits on the "nines" axis, past p99.99 (at 4).
pub const MAX_AT: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

const PANEL_W: f64 = 400.0;
const PANEL_H: f64 = 270.0;
const COLUMNS: usize = 3;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;
const LEGEND_W: f64 = 130.0;

/// Every value a figure's axis must show.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo <= hi).then(|| {
        // At least a factor of 10 so a flat line is not stretched to noise.
        let (l, h) = (lo.log10().floor(), hi.log10().ceil());
        (10f64.powf(l), 10f64.powf(if h > l { h } else { l + 1.0 }))
    })
}

/// The x range: sizes in decades; nines from 0 (min) to [`MAX_AT`] (max).
fn x_extent(fig: &Figure) -> Option<(f64, f64)> {
    match fig.x {
        XKind::Nines => Some((0.0, MAX_AT)),
        XKind::Size => extent(all_points(fig).map(|p| p.x)),
    }
}

fn all_points(fig: &Figure) -> impl Iterator<Item = &Point> {
    fig.panels
        .iter()
        .flat_map(|p| &p.series)
        .flat_map(|s| &s.points)
}

fn y_tick(kind: YKind, v: f64) -> String {
    match kind {
        YKind::Time => fmt_time(v),
        YKind::Rate => fmt_rate(v),
        YKind::PerSecond => {
            let (d, p) = if v >= 1e6 {
                (1e6, "M")
            } else if v >= 1e3 {
                (1e3, "k")
            } else {
                (1.0, "")
            };
            format!("{}{p}/s", sig3(v / d))
        }
    }
}

fn x_tick(kind: XKind, v: f64) -> String {
    match kind {
        // Decades only: 1, 10, 100, 1k, ... (the axis label says bytes).
        XKind::Size => match v.round() as u64 {
            b if b >= 1_000_000 => format!("{}M", b / 1_000_000),
            b if b >= 1_000 => format!("{}k", b / 1_000),
            b => b.to_string(),
        },
        XKind::Nines if v <= 0.0 => "p0".into(),
        XKind::Nines if v >= MAX_AT => "max".into(),
        XKind::Nines => format!(
            "p{}",
            crate::format::round_sig(100.0 - 100.0 * 10f64.powf(-v), 6)
        ),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Maps data to pixels inside one panel.
struct Scale {
    x0: f64,
    y0: f64,
    xr: (f64, f64),
    yr: (f64, f64),
    x_log: bool,
}

impl Scale {
    fn x(&self, v: f64) -> f64 {
        let (a, b, v) = if self.x_log {
            (self.xr.0.log10(), self.xr.1.log10(), v.log10())
        } else {
            (self.xr.0, self.xr.1, v)
        };
        self.x0 + LEFT + (v - a) / (b - a) * (PANEL_W - LEGEND_W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        let (a, b) = (self.yr.0.log10(), self.yr.1.log10());
        let v = v.max(self.yr.0).log10();
        self.y0 + TOP + (1.0 - (v - a) / (b - a)) * (PANEL_H - TOP - BOTTOM)
    }
}

fn marker(out: &mut String, m: Marker, x: f64, y: f64, color: &str) {
    let r = 3.5;
    out.push_str(&match m {
        Marker::Circle => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{color}"/>"#),
        Marker::Square => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="{w}" height="{w}" fill="{color}"/>"#,
            x - r,
            y - r,
            w = 2.0 * r
        ),
        Marker::Triangle => format!(
            r#"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{color}"/>"#,
            y - r - 1.0,
            x + r + 0.5,
            y + r,
            x - r - 0.5,
            y + r
        ),
        Marker::Diamond => format!(
            r#"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="{color}"/>"#,
            y - r - 1.0,
            x + r + 1.0,
            y + r + 1.0,
            x - r - 1.0
        ),
        Marker::Cross => format!(
            r#"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{color}" stroke-width="2"/>"#,
            x - r,
            y - r,
            x + r,
            y + r,
            x - r,
            y + r,
            x + r,
            y - r
        ),
    });
}

/// The y extent of a figure's points and intervals, in whole decades.
pub fn y_extent(fig: &Figure) -> Option<(f64, f64)> {
    extent(
        all_points(fig)
            .flat_map(|p| [Some(p.y), p.lo, p.hi])
            .flatten(),
    )
}

/// Pixel size of a figure.
fn size(fig: &Figure) -> (f64, f64) {
    let rows = fig.panels.len().div_ceil(COLUMNS);
    let cols = fig.panels.len().min(COLUMNS);
    (cols as f64 * PANEL_W, rows as f64 * PANEL_H)
}

/// A figure as a standalone SVG document: white background, the title on
/// top, the caption's first sentence below it.
pub fn document(fig: &Figure) -> Option<String> {
    let inner = svg(fig)?;
    let (w, h) = size(fig);
    let head = 44.0;
    let caption = fig.caption.split(". ").next().unwrap_or_default();
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {th}" width="{w}" height="{th}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="8" y="18" font-size="15" font-weight="bold">{}</text><text x="8" y="36" font-size="11" fill="#444">{}</text><g transform="translate(0 {head})">{inner}</g></svg>
"##,
        esc(&fig.title),
        esc(caption),
        th = h + head
    ))
}

/// Renders a figure as one `<svg>` element; `None` when it has no points.
pub fn svg(fig: &Figure) -> Option<String> {
    let xr = x_extent(fig)?;
    let yr = fig.y_range.or_else(|| y_extent(fig))?;
    let (w, h) = size(fig);
    let mut out = format!(
        r#"<svg class="plot" id="{}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="11" role="img"><title>{}</title>"#,
        esc(&fig.id),
        esc(&fig.title)
    );
    for (i, panel) in fig.panels.iter().enumerate() {
        let s = Scale {
            x0: (i % COLUMNS) as f64 * PANEL_W,
            y0: (i / COLUMNS) as f64 * PANEL_H,
            xr,
            yr,
            x_log: fig.x == XKind::Size,
        };
        draw_panel(&mut out, fig, panel, &s);
    }
    out.push_str("</svg>");
    Some(out)
}

fn draw_panel(out: &mut String, fig: &Figure, panel: &Panel, s: &Scale) {
    let (left, right) = (s.x0 + LEFT, s.x0 + PANEL_W - LEGEND_W - RIGHT);
    let (top, bottom) = (s.y0 + TOP, s.y0 + PANEL_H - BOTTOM);
    out.push_str(&format!(
        r##"<text x="{:.1}" y="{:.1}" font-weight="bold">{}</text><rect x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/>"##,
        left,
        s.y0 + 16.0,
        esc(&panel.title),
        right - left,
        bottom - top
    ));
    // Decade grid and ticks.
    let mut v = s.yr.0;
    while v <= s.yr.1 * 1.0001 {
        let y = s.y(v);
        out.push_str(&format!(
            r##"<line x1="{left:.1}" x2="{right:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left - 4.0,
            y + 4.0,
            esc(&y_tick(fig.y, v))
        ));
        v *= 10.0;
    }
    let xticks: Vec<f64> = match fig.x {
        XKind::Nines => vec![0.0, 1.0, 2.0, 3.0, 4.0, MAX_AT],
        XKind::Size => {
            let mut t = Vec::new();
            let mut v = s.xr.0;
            while v <= s.xr.1 * 1.0001 {
                t.push(v);
                v *= 10.0;
            }
            t
        }
    };
    for v in xticks {
        let x = s.x(v);
        out.push_str(&format!(
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top:.1}" y2="{bottom:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 14.0,
            esc(&x_tick(fig.x, v))
        ));
    }
    out.push_str(&format!(
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
        (left + right) / 2.0,
        bottom + 30.0,
        esc(&fig.x_label)
    ));
    let (mut k, mut r) = (0, 0);
    for (j, series) in panel.series.iter().enumerate() {
        let (color, m, dash) = if series.reference {
            r += 1;
            (
                REFERENCE,
                REFERENCE_MARKERS[(r - 1) % REFERENCE_MARKERS.len()],
                Some(REFERENCE_DASH[(r - 1) % REFERENCE_DASH.len()]),
            )
        } else {
            k += 1;
            (
                COLORS[(k - 1) % COLORS.len()],
                MARKERS[(k - 1) % MARKERS.len()],
                None,
            )
        };
        draw_series(out, series, s, color, m, dash);
        // Legend: marker and name, right of the plot area.
        let ly = top + 6.0 + j as f64 * 15.0;
        let lx = right + 10.0;
        marker(out, m, lx, ly, color);
        out.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 8.0,
            ly + 4.0,
            esc(&series.name)
        ));
    }
}

fn draw_series(
    out: &mut String,
    series: &Series,
    s: &Scale,
    color: &str,
    m: Marker,
    dash: Option<&str>,
) {
    let mut pts: Vec<&Point> = series.points.iter().filter(|p| p.y > 0.0).collect();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let path: Vec<String> = pts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{}{:.1} {:.1}",
                if i == 0 { "M" } else { "L" },
                s.x(p.x),
                s.y(p.y)
            )
        })
        .collect();
    if !path.is_empty() {
        out.push_str(&format!(
            r#"<path class="series" data-name="{}" d="{}" fill="none" stroke="{color}" stroke-width="1.5"{}/>"#,
            esc(&series.name),
            path.join(""),
            dash.map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default()
        ));
    }
    for p in pts {
        let (x, y) = (s.x(p.x), s.y(p.y));
        if let (Some(lo), Some(hi)) = (p.lo, p.hi) {
            let (a, b) = (s.y(lo), s.y(hi));
            out.push_str(&format!(
                r#"<path d="M{x:.1} {a:.1}L{x:.1} {b:.1}M{:.1} {a:.1}L{:.1} {a:.1}M{:.1} {b:.1}L{:.1} {b:.1}" stroke="{color}" stroke-width="1"/>"#,
                x - 3.0,
                x + 3.0,
                x - 3.0,
                x + 3.0
            ));
        }
        marker(out, m, x, y, color);
        if let Some(mark) = p.mark {
            out.push_str(&format!(
                r#"<text class="mark" x="{:.1}" y="{:.1}" fill="{color}" font-size="12">{mark}</text>"#,
                x + 5.0,
                y - 5.0
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(points: Vec<Point>) -> Figure {
        Figure {
            id: "f".into(),
            title: "t".into(),
            caption: String::new(),
            x: XKind::Size,
            y: YKind::Time,
            y_range: None,
            x_label: "payload bytes".into(),
            panels: vec![Panel {
                title: "shm".into(),
                series: vec![Series {
                    name: "a".into(),
                    reference: false,
                    points,
                }],
            }],
        }
    }

    #[test]
    fn draws_points_interval_bars_and_marks_on_log_axes() {
        let p = |x: f64, y: f64, mark| Point {
            x,
            y,
            lo: Some(y * 0.9),
            hi: Some(y * 1.1),
            mark,
        };
        let svg = svg(&fig(vec![
            p(8.0, 500.0, None),
            p(409_600.0, 2e5, Some("†")),
        ]))
        .expect("svg");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"class="series" data-name="a""#));
        assert!(svg.contains(">†</text>"));
        // Decade ticks from 100 ns to 1 ms.
        assert!(
            svg.contains(">100 ns<") && svg.contains(">1.00 ms<"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<circle").count(),
            3,
            "two points and the legend"
        );
    }

    #[test]
    fn an_empty_figure_draws_nothing() {
        assert_eq!(svg(&fig(Vec::new())), None);
    }

    #[test]
    fn nines_ticks_read_as_percentiles() {
        assert_eq!(x_tick(XKind::Nines, 2.0), "p99");
        assert_eq!(x_tick(XKind::Nines, MAX_AT), "max");
        assert_eq!(x_tick(XKind::Size, 100_000.0), "100k");
    }
}
