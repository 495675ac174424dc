//! SVG plots drawn with plotters: latency and throughput against size on
//! log–log axes, one line per transport. Text is left to the SVG viewer's
//! fonts, so drawing needs no font files.

use plotters::prelude::*;

use crate::format::{fmt_bytes, fmt_rate, fmt_time};
use crate::index::{Group, Index};
use crate::schema::{Cell, Results};

/// One rendered plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// File name (no directory), e.g. `pingpong-split.svg`.
    pub file_name: String,
    /// A one-line description, for the Markdown caption.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// The plots as (file name, SVG text).
pub fn render_svgs(results: &Results, python: Option<&Results>) -> Vec<(String, String)> {
    render_plots(results, python)
        .into_iter()
        .map(|p| (p.file_name, p.svg))
        .collect()
}

/// The plots with their titles: per placement, pingpong round trip (median
/// with a band to p99), stream throughput, and seed put/get means beside the
/// Python baseline.
pub fn render_plots(results: &Results, python: Option<&Results>) -> Vec<Plot> {
    let idx = Index::new(results);
    let py = python.map(Index::new);
    let mut plots = Vec::new();

    for p in idx.placements("pingpong") {
        let Some(codec) = idx.codecs("pingpong", &p).into_iter().next() else {
            continue;
        };
        let g = group("pingpong", &p, &codec);
        let series = transport_series(&idx, g, "rtt", |c| Some(c.summary.p50_ns), true);
        let title = format!("Round trip vs size (pingpong, placement {p}): median, band to p99");
        plots.push(plot(
            format!("pingpong-{p}.svg"),
            title,
            &[Panel {
                heading: String::new(),
                y_desc: "round-trip time".into(),
                y_fmt: YFormat::Time,
                series,
            }],
        ));
    }

    for p in idx.placements("stream") {
        let Some(codec) = idx.codecs("stream", &p).into_iter().next() else {
            continue;
        };
        let g = group("stream", &p, &codec);
        let series = transport_series(&idx, g, "throughput", rate, false);
        let title = format!("Stream throughput vs size (placement {p})");
        plots.push(plot(
            format!("stream-{p}.svg"),
            title,
            &[Panel {
                heading: String::new(),
                y_desc: "payload bytes per second".into(),
                y_fmt: YFormat::Rate,
                series,
            }],
        ));
    }

    let mut seed_groups: Vec<(String, String)> = Vec::new();
    for p in idx.placements("seed") {
        for c in idx.codecs("seed", &p) {
            seed_groups.push((p.clone(), c));
        }
    }
    for (p, codec) in &seed_groups {
        let g = group("seed", p, codec);
        let panels: Vec<Panel> = ["put", "get"]
            .iter()
            .map(|metric| {
                let mut series =
                    transport_series(&idx, g, metric, |c| Some(c.summary.mean_ns), false);
                if let Some(py) = &py {
                    series.extend(python_series(py, p, metric));
                }
                Panel {
                    heading: format!("{metric} (mean)"),
                    y_desc: format!("{metric} time"),
                    y_fmt: YFormat::Time,
                    series,
                }
            })
            .collect();
        let title = format!(
            "Seed put and get vs size (placement {p}, codec {codec}){}",
            if py.is_some() {
                "; Python mp.Queue dashed"
            } else {
                ""
            }
        );
        plots.push(plot(format!("seed-{p}-{codec}.svg"), title, &panels));
    }
    if seed_groups.is_empty()
        && let Some(py) = &py
    {
        let p = py.primary_placement("seed").unwrap_or_default();
        let panels: Vec<Panel> = ["put", "get"]
            .iter()
            .map(|metric| Panel {
                heading: format!("{metric} (mean)"),
                y_desc: format!("{metric} time"),
                y_fmt: YFormat::Time,
                series: python_series(py, &p, metric),
            })
            .collect();
        plots.push(plot(
            "seed-python.svg".into(),
            "Python mp.Queue put and get vs size".into(),
            &panels,
        ));
    }
    plots
}

fn group<'s>(w: &'s str, p: &'s str, c: &'s str) -> Group<'s> {
    Group {
        workload: w,
        placement: p,
        codec: c,
    }
}

fn rate(c: &Cell) -> Option<f64> {
    c.bytes_per_s.or_else(|| {
        (c.summary.mean_ns > 0.0).then(|| c.size_bytes as f64 * 1e9 / c.summary.mean_ns)
    })
}

/// A line on a plot.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    /// (size, low, high) for a shaded band; empty for none.
    band: Vec<(f64, f64, f64)>,
    dashed: bool,
}

#[derive(Clone, Copy)]
enum YFormat {
    Time,
    Rate,
}

struct Panel {
    heading: String,
    y_desc: String,
    y_fmt: YFormat,
    series: Vec<Series>,
}

fn transport_series(
    idx: &Index<'_>,
    g: Group<'_>,
    metric: &str,
    y: impl Fn(&Cell) -> Option<f64>,
    p99_band: bool,
) -> Vec<Series> {
    idx.transports(g)
        .into_iter()
        .map(|tr| {
            let cells: Vec<&Cell> = idx
                .sizes(g)
                .into_iter()
                .filter_map(|s| idx.ok(&tr, g, s, metric))
                .collect();
            let points = cells
                .iter()
                .filter_map(|c| y(c).map(|v| (c.size_bytes as f64, v)))
                .collect();
            let band = if p99_band {
                cells
                    .iter()
                    .map(|c| (c.size_bytes as f64, c.summary.p50_ns, c.summary.p99_ns))
                    .collect()
            } else {
                Vec::new()
            };
            Series {
                name: tr,
                points,
                band,
                dashed: false,
            }
        })
        .collect()
}

fn python_series(py: &Index<'_>, placement: &str, metric: &str) -> Vec<Series> {
    let placements = py.placements("seed");
    let Some(p) = placements
        .iter()
        .find(|p| *p == placement)
        .or(placements.first())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for codec in py.codecs("seed", p) {
        let g = group("seed", p, &codec);
        for mut s in transport_series(py, g, metric, |c| Some(c.summary.mean_ns), false) {
            s.name = format!("py {}", s.name);
            s.dashed = true;
            out.push(s);
        }
    }
    out
}

/// Tableau 10: distinguishable, and readable on white.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// `5.00 µs` → `5 µs`, `2.50 GB/s` → `2.5 GB/s`: axis labels need no
/// significant-figure padding.
fn trim_zeros(label: &str) -> String {
    match label.split_once(' ') {
        Some((num, unit)) if num.contains('.') => {
            format!("{} {unit}", num.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => label.to_owned(),
    }
}

/// The plot corner the lines cross least, so the legend hides no data.
fn legend_corner(panel: &Panel, x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let norm = |v: f64, (lo, hi): (f64, f64)| (v.ln() - lo.ln()) / (hi.ln() - lo.ln());
    let mut samples = Vec::new();
    for s in &panel.series {
        for w in s.points.windows(2) {
            for i in 0..=10 {
                let t = f64::from(i) / 10.0;
                let (a, b) = (
                    (norm(w[0].0, x), norm(w[0].1, y)),
                    (norm(w[1].0, x), norm(w[1].1, y)),
                );
                samples.push((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
            }
        }
        samples.extend(s.points.iter().map(|p| (norm(p.0, x), norm(p.1, y))));
        // The band's top edge counts too: a legend over it hides the tail.
        for w in s.band.windows(2) {
            for i in 0..=10 {
                let t = f64::from(i) / 10.0;
                let (a, b) = (
                    (norm(w[0].0, x), norm(w[0].2, y)),
                    (norm(w[1].0, x), norm(w[1].2, y)),
                );
                samples.push((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
            }
        }
    }
    // The legend's footprint, as a fraction of the plot.
    let (w, h) = (0.4, (0.05 + 0.06 * panel.series.len() as f64).min(0.6));
    let corners = [
        (SeriesLabelPosition::UpperLeft, (0.0, w), (1.0 - h, 1.0)),
        (
            SeriesLabelPosition::UpperRight,
            (1.0 - w, 1.0),
            (1.0 - h, 1.0),
        ),
        (SeriesLabelPosition::LowerRight, (1.0 - w, 1.0), (0.0, h)),
        (SeriesLabelPosition::LowerLeft, (0.0, w), (0.0, h)),
    ];
    corners
        .into_iter()
        .min_by_key(|(_, (x0, x1), (y0, y1))| {
            samples
                .iter()
                .filter(|(px, py)| px >= x0 && px <= x1 && py >= y0 && py <= y1)
                .count()
        })
        .map_or(SeriesLabelPosition::UpperLeft, |c| c.0)
}

/// Colour and dash (on, off) of baseline series.
const BASELINE_STYLES: [(RGBColor, u32, u32); 2] = [
    (RGBColor(40, 40, 40), 8, 5),
    (RGBColor(120, 120, 120), 3, 4),
];

/// Tick values for a log axis: 1-2-5 per decade (bold; decades only when
/// that would crowd the axis) and 1..9 per decade (light grid).
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut bold, mut decades, mut light) = (Vec::new(), Vec::new(), Vec::new());
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return (bold, light);
    }
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    for k in first..=last {
        let base = 10f64.powi(k);
        for m in 1..=9 {
            let v = f64::from(m) * base;
            if v < lo || v > hi {
                continue;
            }
            light.push(v);
            if matches!(m, 1 | 2 | 5) {
                bold.push(v);
            }
            if m == 1 {
                decades.push(v);
            }
        }
    }
    if bold.len() > 9 && decades.len() >= 2 {
        bold = decades;
    }
    (bold, light)
}

/// X ticks at the measured sizes, thinned so labels do not collide.
fn size_ticks(panel: &Panel) -> Vec<f64> {
    let mut sizes: Vec<f64> = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let step = sizes.len().div_ceil(7).max(1);
    sizes.into_iter().step_by(step).collect()
}

fn plot(file_name: String, title: String, panels: &[Panel]) -> Plot {
    let svg = match draw(&title, panels) {
        Ok(svg) => svg,
        // Drawing into a String has no I/O to fail; should plotters refuse
        // anyway, the file says why instead of the report losing a plot.
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"60\">\
             <text x=\"10\" y=\"30\">plot failed: {}</text></svg>\n",
            xml_escape(&e.to_string())
        ),
    };
    Plot {
        file_name,
        title,
        svg,
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

fn draw(title: &str, panels: &[Panel]) -> DrawResult<String> {
    let width = 560 * panels.len().max(1) as u32 + 60;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 18))?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, panel) in areas.iter().zip(panels) {
            draw_panel(area, panel)?;
        }
        root.present()?;
    }
    Ok(buf)
}

/// Log–log bounds covering every point and band, padded a little.
fn bounds(panel: &Panel) -> Option<((f64, f64), (f64, f64))> {
    let xs = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = panel.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
    });
    let range = |it: &mut dyn Iterator<Item = f64>| {
        it.filter(|v| v.is_finite() && *v > 0.0)
            .fold(None, |acc: Option<(f64, f64)>, v| {
                Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
            })
    };
    let (x0, x1) = range(&mut { xs })?;
    let (y0, y1) = range(&mut { ys })?;
    Some(((x0 / 1.25, x1 * 1.25), (y0 / 1.5, y1 * 1.5)))
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let Some(((x0, x1), (y0, y1))) = bounds(panel) else {
        area.draw(&Text::new(
            "no data",
            (40, 40),
            ("sans-serif", 16).into_font(),
        ))
        .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80);
    if !panel.heading.is_empty() {
        builder.caption(&panel.heading, ("sans-serif", 16));
    }
    let x_ticks = size_ticks(panel);
    let (y_bold, y_light) = log_ticks(y0, y1);
    let mut chart = builder
        .build_cartesian_2d(
            (x0..x1)
                .log_scale()
                .with_key_points(x_ticks)
                .with_light_points(log_ticks(x0, x1).1),
            (y0..y1)
                .log_scale()
                .with_key_points(y_bold)
                .with_light_points(y_light),
        )
        .map_err(|e| e.to_string())?;
    let y_fmt = panel.y_fmt;
    chart
        .configure_mesh()
        .x_desc("payload size (decimal units: 1 KB = 1000 B)")
        .y_desc(panel.y_desc.as_str())
        .x_label_formatter(&|x| fmt_bytes(x.round().max(0.0) as u64))
        .y_label_formatter(&|y| {
            trim_zeros(&match y_fmt {
                YFormat::Time => fmt_time(*y),
                YFormat::Rate => fmt_rate(*y),
            })
        })
        .x_label_style(("sans-serif", 11))
        .y_label_style(("sans-serif", 11))
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(|e| e.to_string())?;
    let mut solid = 0usize;
    let mut dashed = 0usize;
    for s in &panel.series {
        let (color, dash) = if s.dashed {
            // Baselines stand apart from the transports: grey, dashed.
            let d = BASELINE_STYLES[dashed % BASELINE_STYLES.len()];
            dashed += 1;
            (d.0, Some((d.1, d.2)))
        } else {
            let c = COLORS[solid % COLORS.len()];
            solid += 1;
            (c, None)
        };
        if s.band.len() > 1 {
            let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.1)).collect();
            poly.extend(s.band.iter().rev().map(|b| (b.0, b.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    color.mix(0.12).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
        let style = color.stroke_width(2);
        match dash {
            Some((on, off)) => {
                chart
                    .draw_series(DashedLineSeries::new(s.points.clone(), on, off, style))
                    .map_err(|e| e.to_string())?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (on as i32, 0)], style)
                            + PathElement::new(
                                vec![((on + off) as i32, 0), ((2 * on + off) as i32, 0)],
                                style,
                            )
                    });
            }
            None => {
                chart
                    .draw_series(LineSeries::new(s.points.clone(), style))
                    .map_err(|e| e.to_string())?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
        }
        chart
            .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(legend_corner(panel, (x0, x1), (y0, y1)))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}
