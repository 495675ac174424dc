//! One matrix: rows are sizes, columns are named series (transports, then
//! Python), every figure in ONE unit chosen for the whole table, so a column
//! of msg/s never sits beside a column of k msg/s looking bigger.

use crate::format::{CountUnit, MISSING, RateUnit, TimeUnit, fmt_bytes, fmt_multiple};
use crate::sections::{Doc, Notes, Slot, bytes_per_s, headline, msgs_per_s};
use crate::table::{Align, Table};
use judge::analysis::geomean;
use results::schema::Cell;

/// What a matrix shows of each cell.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Show {
    /// Median (p99), lower is better.
    Time,
    /// Payload bytes per second, higher is better.
    Bytes,
    /// Messages (tasks) per second, higher is better; the label names them.
    Count(&'static str),
}

impl Show {
    fn value(self, c: &Cell) -> Option<f64> {
        match self {
            Self::Time => Some(headline(c)),
            Self::Bytes => bytes_per_s(c),
            Self::Count(_) => msgs_per_s(c),
        }
        .filter(|v| v.is_finite() && *v > 0.0)
    }

    fn higher_is_better(self) -> bool {
        self != Self::Time
    }
}

/// The table's unit: its label and a formatter, chosen from every value in
/// the table (the median value decides, so most figures read 1–999).
pub fn table_unit(show: Show, values: &[f64]) -> (String, Box<dyn Fn(f64) -> String>) {
    let vals = values.iter().copied();
    match show {
        Show::Time => {
            let u = TimeUnit::for_column(vals);
            (u.label().to_owned(), Box::new(move |x| u.fmt(x)))
        }
        Show::Bytes => {
            let u = RateUnit::for_column(vals);
            (u.label().to_owned(), Box::new(move |x| u.fmt(x)))
        }
        Show::Count(what) => {
            let u = CountUnit::for_column(vals);
            (
                format!("{}{what}/s", u.prefix()),
                Box::new(move |x| u.fmt(x)),
            )
        }
    }
}

/// One figure per (size, series), and each series' geometric-mean ratio to
/// the best at each size (1.00x = best everywhere).
#[derive(Debug, PartialEq)]
pub struct Rows {
    pub values: Vec<Vec<Option<f64>>>,
    pub relative: Vec<Option<f64>>,
}

/// Collects the figures of a matrix.
pub fn collect(sizes: &[u64], columns: &[(String, Vec<Slot<'_>>)], show: Show) -> Rows {
    let values: Vec<Vec<Option<f64>>> = (0..sizes.len())
        .map(|row| {
            columns
                .iter()
                .map(|(_, s)| s[row].ok().and_then(|c| show.value(c)))
                .collect()
        })
        .collect();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
    for row in &values {
        let present = row.iter().flatten().copied();
        let best = if show.higher_is_better() {
            present.reduce(f64::max)
        } else {
            present.reduce(f64::min)
        };
        for (i, v) in row.iter().enumerate() {
            if let (Some(v), Some(b)) = (v, best) {
                ratios[i].push(if show.higher_is_better() {
                    b / v
                } else {
                    v / b
                });
            }
        }
    }
    let relative = ratios.into_iter().map(geomean).collect();
    Rows { values, relative }
}

/// Renders a matrix, with failures and footnotes below it.
pub fn render(d: &mut Doc, sizes: &[u64], columns: &[(String, Vec<Slot<'_>>)], show: Show) {
    let rows = collect(sizes, columns, show);
    let all: Vec<f64> = rows.values.iter().flatten().flatten().copied().collect();
    let (label, fmt) = table_unit(show, &all);
    let mut header: Vec<(String, Align)> = vec![(format!("Size ({label})"), Align::Left)];
    header.extend(columns.iter().map(|(n, _)| (n.clone(), Align::Right)));
    let mut t = Table::new(header);
    let mut failed = Vec::new();
    let mut notes = Notes::default();
    for (r, &size) in sizes.iter().enumerate() {
        let mut cells = vec![fmt_bytes(size)];
        for (i, (name, slots)) in columns.iter().enumerate() {
            cells.push(match slots[r] {
                Slot::Missing => MISSING.to_owned(),
                Slot::Failed(c) => {
                    let why = c.error.clone().unwrap_or_else(|| "no error message".into());
                    failed.push((name.clone(), size, why));
                    "failed".to_owned()
                }
                Slot::Ok(c) => {
                    let text = match rows.values[r][i] {
                        Some(v) if show == Show::Time => {
                            format!("{} ({})", fmt(v), fmt(c.summary.p99_ns))
                        }
                        Some(v) => fmt(v),
                        None => MISSING.to_owned(),
                    };
                    match &c.note {
                        Some(note) => {
                            notes.add(note, name);
                            format!("{text} †")
                        }
                        None => text,
                    }
                }
            });
        }
        t.row(cells);
    }
    if columns.len() > 1 && !sizes.is_empty() {
        let mut cells = vec!["Relative".to_owned()];
        cells.extend(
            rows.relative
                .iter()
                .map(|r| r.map_or(MISSING.to_owned(), fmt_multiple)),
        );
        t.row(cells);
    }
    d.table(&t);
    d.failures(&failed);
    notes.render(d);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::cell;

    #[test]
    fn one_unit_for_the_whole_table_and_relative_to_the_best() {
        let slow = cell("slow", "stream", "split", 8, "throughput", 2e6);
        let fast = cell("fast", "stream", "split", 8, "throughput", 26_000.0);
        let cols = vec![
            ("slow".to_owned(), vec![Slot::Ok(&slow)]),
            ("fast".to_owned(), vec![Slot::Ok(&fast)]),
        ];
        let rows = collect(&[8], &cols, Show::Count("msg"));
        let r = rows.relative[0].expect("ratio");
        assert!((r - 2e6 / 26_000.0).abs() < 1e-9, "{r}");
        assert_eq!(rows.relative[1], Some(1.0));
        let mut d = Doc::default();
        render(&mut d, &[8], &cols, Show::Count("msg"));
        // Both in k msg/s: 0.500 beside 38.5, never 500 beside 38.5.
        assert!(d.out.contains("Size (k msg/s)"), "{}", d.out);
        assert!(
            d.out.contains("0.500") && d.out.contains("38.5"),
            "{}",
            d.out
        );
    }
}
