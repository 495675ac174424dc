//! The core-to-core map as an SVG heatmap for index.html: one square per
//! pair of CPUs (both halves of the symmetric matrix), coloured from the
//! cheapest round trip (light) to the dearest (dark red); pairs not in a
//! sample are grey, the diagonal (a CPU with itself) white.

use results::CpuMap;

use super::esc;
use crate::format::fmt_time;

/// Side of the drawing, px, when the squares are not at their minimum.
const SIDE: usize = 480;
/// Room for the CPU numbers.
const MARGIN: usize = 40;

/// The heatmap, or `None` when no pair was measured.
pub fn svg(m: &CpuMap) -> Option<String> {
    let values: Vec<f64> = m.pairs.iter().filter_map(|p| p.p50_ns).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    if values.is_empty() || m.cpus.len() < 2 {
        return None;
    }
    let n = m.cpus.len();
    let cell = (SIDE / n).max(3);
    let side = cell * n;
    let (w, h) = (MARGIN + side + 10, MARGIN + side + 30);
    let mut o = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="core-to-core round trips">"#
    );
    let label_every = n.div_ceil(16).max(1);
    for (i, cpu) in m.cpus.iter().enumerate() {
        if i % label_every == 0 {
            let c = MARGIN + i * cell + cell / 2;
            o.push_str(&format!(
                r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{cpu}</text><text x="{c}" y="{}" font-size="10" text-anchor="middle">{cpu}</text>"#,
                MARGIN - 4,
                c + 4,
                MARGIN - 6
            ));
        }
    }
    for (i, &a) in m.cpus.iter().enumerate() {
        for (j, &b) in m.cpus.iter().enumerate() {
            let (x, y) = (MARGIN + j * cell, MARGIN + i * cell);
            let (fill, title) = if a == b {
                ("#ffffff".to_owned(), format!("CPU {a}"))
            } else {
                match m.pair(a, b) {
                    Some(p) => match p.p50_ns {
                        Some(ns) => (
                            colour(ns, lo, hi),
                            format!(
                                "CPUs {a}/{b} {}: {}",
                                p.relation.as_deref().unwrap_or(""),
                                fmt_time(ns)
                            ),
                        ),
                        None => ("#bbbbbb".to_owned(), format!("CPUs {a}/{b}: not measured")),
                    },
                    None => ("#dddddd".to_owned(), format!("CPUs {a}/{b}: not sampled")),
                }
            };
            o.push_str(&format!(
                r#"<rect class="pair" x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}"><title>{}</title></rect>"#,
                esc(&title)
            ));
        }
    }
    o.push_str(&format!(
        r#"<text x="{MARGIN}" y="{}" font-size="11">light {} … dark {}; grey: not sampled</text></svg>"#,
        MARGIN + side + 20,
        fmt_time(lo),
        fmt_time(hi)
    ));
    Some(o)
}

/// Light yellow at `lo` to dark red at `hi`.
fn colour(ns: f64, lo: f64, hi: f64) -> String {
    let t = if hi > lo { (ns - lo) / (hi - lo) } else { 0.0 }.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(255.0, 150.0),
        mix(240.0, 20.0),
        mix(170.0, 20.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::CpuPair;

    fn map() -> CpuMap {
        CpuMap {
            shape: "one-word, pause".into(),
            cpus: vec![0, 1, 2],
            pairs_total: 3,
            budget_s: 5.0,
            pairs: vec![
                CpuPair {
                    cpus: [0, 1],
                    relation: Some("smt".into()),
                    p50_ns: Some(50.0),
                    ..CpuPair::default()
                },
                CpuPair {
                    cpus: [0, 2],
                    relation: Some("llc".into()),
                    p50_ns: Some(200.0),
                    ..CpuPair::default()
                },
            ],
            not_measured: None,
        }
    }

    #[test]
    fn every_pair_is_a_square_coloured_by_its_round_trip() {
        let s = svg(&map()).expect("a heatmap");
        assert_eq!(s.matches(r#"class="pair""#).count(), 9);
        assert!(s.contains("CPUs 0/1 smt: 50.0 ns") && s.contains("CPUs 1/0 smt: 50.0 ns"));
        assert!(s.contains("CPUs 1/2: not sampled"), "{s}");
        assert_eq!(colour(50.0, 50.0, 200.0), "#fff0aa");
        assert_eq!(colour(200.0, 50.0, 200.0), "#961414");
        let mut none = map();
        none.pairs.iter_mut().for_each(|p| p.p50_ns = None);
        assert_eq!(svg(&none), None);
    }
}
