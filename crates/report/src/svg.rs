//! SVG plots drawn with plotters: latency and throughput against size on
//! log–log axes, one line per transport. Text is left to the SVG viewer's
//! fonts, so drawing needs no font files.

use plotters::prelude::*;

use crate::format::{CountUnit, fmt_bytes, fmt_rate, fmt_time};
use crate::index::{Group, Index, family};
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
/// with a band to p99), stream throughput, fanout task throughput per worker
/// count, paced p99 latency per load, and seed put/get means beside the
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
        // Beyond a few transports overlapping bands only muddy the picture;
        // the tables carry p99 for every cell anyway.
        let bands = idx.transports(g).len() <= MAX_BANDS;
        let series = transport_series(&idx, g, "rtt", |c| Some(c.summary.p50_ns), bands);
        let title = format!(
            "Round trip vs size (pingpong, placement {p}): median{}",
            if bands { ", band to p99" } else { "" }
        );
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

    // Fanout and paced: one panel per worker count / load, per placement.
    for (fam, metric) in [("fanout", "throughput"), ("paced", "latency")] {
        let workloads: Vec<String> = idx
            .workloads()
            .into_iter()
            .filter(|w| family(w).0 == fam)
            .collect();
        let mut placements: Vec<String> = Vec::new();
        for w in &workloads {
            for p in idx.placements(w) {
                if !placements.contains(&p) {
                    placements.push(p);
                }
            }
        }
        for p in &placements {
            let panels: Vec<Panel> = workloads
                .iter()
                .filter_map(|w| {
                    let codec = idx.codecs(w, p).into_iter().next()?;
                    let g = group(w, p, &codec);
                    Some(if fam == "fanout" {
                        let n = family(w).1.unwrap_or(1);
                        Panel {
                            heading: format!("{n} worker{}", if n == 1 { "" } else { "s" }),
                            y_desc: "tasks per second".into(),
                            y_fmt: YFormat::PerSecond,
                            series: transport_series(&idx, g, metric, tasks, false),
                        }
                    } else {
                        Panel {
                            heading: format!("{}% load", family(w).1.unwrap_or(0)),
                            y_desc: "p99 latency from the intended send".into(),
                            y_fmt: YFormat::Time,
                            series: transport_series(
                                &idx,
                                g,
                                metric,
                                |c| Some(c.summary.p99_ns),
                                false,
                            ),
                        }
                    })
                })
                .collect();
            if panels.is_empty() {
                continue;
            }
            let title = if fam == "fanout" {
                format!("Fanout task throughput vs size, by number of workers (placement {p})")
            } else {
                format!("Paced (open loop) p99 latency vs size, by offered load (placement {p})")
            };
            plots.push(plot(format!("{fam}-{p}.svg"), title, &panels));
        }
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

fn tasks(c: &Cell) -> Option<f64> {
    c.msgs_per_s
        .or_else(|| (c.summary.mean_ns > 0.0).then(|| 1e9 / c.summary.mean_ns))
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
    /// Events per second (tasks/s).
    PerSecond,
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

/// Most transports drawn with a p99 band on one plot.
const MAX_BANDS: usize = 4;

/// Tableau 10: distinguishable, and readable on white. Past ten series the
/// colours repeat with a different marker.
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

/// Colour and dash (on, off) of baseline series: grey and dashed, so they
/// stand apart from the transports.
const BASELINE_STYLES: [(RGBColor, u32, u32); 2] = [
    (RGBColor(40, 40, 40), 8, 5),
    (RGBColor(120, 120, 120), 3, 4),
];

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
}

/// How one named series is drawn, the same in every panel of a plot.
#[derive(Clone)]
struct Style {
    name: String,
    color: RGBColor,
    dash: Option<(u32, u32)>,
    marker: Marker,
}

/// One style per distinct series name across the panels, in order of first
/// appearance.
fn styles(panels: &[Panel]) -> Vec<Style> {
    let mut out: Vec<Style> = Vec::new();
    let (mut solid, mut dashed) = (0usize, 0usize);
    for s in panels.iter().flat_map(|p| &p.series) {
        if out.iter().any(|o| o.name == s.name) {
            continue;
        }
        let style = if s.dashed {
            let (color, on, off) = BASELINE_STYLES[dashed % BASELINE_STYLES.len()];
            dashed += 1;
            Style {
                name: s.name.clone(),
                color,
                dash: Some((on, off)),
                marker: Marker::Circle,
            }
        } else {
            let marker = match (solid / COLORS.len()) % 3 {
                0 => Marker::Circle,
                1 => Marker::Triangle,
                _ => Marker::Square,
            };
            let color = COLORS[solid % COLORS.len()];
            solid += 1;
            Style {
                name: s.name.clone(),
                color,
                dash: None,
                marker,
            }
        };
        out.push(style);
    }
    out
}

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

/// Panels side by side, one legend to their right (outside the data, so
/// it hides nothing however many transports there are).
fn draw(title: &str, panels: &[Panel]) -> DrawResult<String> {
    let styles = styles(panels);
    let longest = styles
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    let legend_w = (50 + 8 * longest as u32).clamp(120, 300);
    let panel_w = 560;
    let width = panel_w * panels.len().max(1) as u32 + legend_w;
    let height = 520.max(90 + 20 * styles.len() as u32);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 18))?;
        let (plots, legend) = root.split_horizontally(width - legend_w);
        let areas = plots.split_evenly((1, panels.len().max(1)));
        for (area, panel) in areas.iter().zip(panels) {
            draw_panel(area, panel, &styles)?;
        }
        draw_legend(&legend, &styles)?;
        root.present()?;
    }
    Ok(buf)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    styles: &[Style],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    for (i, s) in styles.iter().enumerate() {
        let y = 50 + 20 * i as i32;
        let line = s.color.stroke_width(2);
        match s.dash {
            Some((on, off)) => {
                let (on, off) = (on as i32, off as i32);
                area.draw(&PathElement::new(vec![(8, y), (8 + on, y)], line))
                    .map_err(|e| e.to_string())?;
                area.draw(&PathElement::new(
                    vec![(8 + on + off, y), (8 + 2 * on + off, y)],
                    line,
                ))
                .map_err(|e| e.to_string())?;
            }
            None => {
                area.draw(&PathElement::new(vec![(8, y), (36, y)], line))
                    .map_err(|e| e.to_string())?;
                draw_marker(area, (22, y), s)?;
            }
        }
        area.draw(&Text::new(
            s.name.clone(),
            (44, y - 7),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    at: (i32, i32),
    s: &Style,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let fill = s.color.filled();
    let r = match s.marker {
        Marker::Circle => area.draw(&Circle::new(at, 3, fill)),
        Marker::Triangle => area.draw(&TriangleMarker::new(at, 5, fill)),
        Marker::Square => area.draw(&Rectangle::new(
            [(at.0 - 3, at.1 - 3), (at.0 + 3, at.1 + 3)],
            fill,
        )),
    };
    r.map_err(|e| e.to_string())?;
    Ok(())
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
    styles: &[Style],
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
                YFormat::PerSecond => {
                    let u = CountUnit::for_value(*y);
                    format!("{} {}/s", u.fmt(*y), u.prefix().trim_end())
                }
            })
        })
        .x_label_style(("sans-serif", 11))
        .y_label_style(("sans-serif", 11))
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(|e| e.to_string())?;
    // Bands first, so no band covers another series' line.
    for s in &panel.series {
        let Some(st) = styles.iter().find(|st| st.name == s.name) else {
            continue;
        };
        if s.band.len() > 1 {
            let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.1)).collect();
            poly.extend(s.band.iter().rev().map(|b| (b.0, b.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    st.color.mix(0.12).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
    }
    for s in &panel.series {
        let Some(st) = styles.iter().find(|st| st.name == s.name) else {
            continue;
        };
        let line = st.color.stroke_width(2);
        match st.dash {
            Some((on, off)) => {
                chart
                    .draw_series(DashedLineSeries::new(s.points.clone(), on, off, line))
                    .map_err(|e| e.to_string())?;
            }
            None => {
                chart
                    .draw_series(LineSeries::new(s.points.clone(), line))
                    .map_err(|e| e.to_string())?;
            }
        }
        let fill = st.color.filled();
        let drawn = match st.marker {
            Marker::Circle => chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, fill)))
                .map(|_| ()),
            Marker::Triangle => chart
                .draw_series(s.points.iter().map(|&p| TriangleMarker::new(p, 5, fill)))
                .map(|_| ()),
            Marker::Square => chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&p| EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], fill)),
                )
                .map(|_| ()),
        };
        drawn.map_err(|e| e.to_string())?;
    }
    Ok(())
}
