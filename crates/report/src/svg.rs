//! The plot files (results/*.svg): the same figures index.html draws, one
//! standalone SVG document each, for every placement and codec a workload
//! ran (the page shows the primary placement only).

use crate::html::chart;
use crate::html::figures;
use crate::sections::Python;
use results::index::Index;
use results::schema::Results;

/// One rendered plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// File name (no directory), e.g. `sizes-pingpong-split-raw.svg`.
    pub file_name: String,
    /// A one-line description, for links to it.
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

/// Every workload's headline metric against size, per placement and codec,
/// and the latency distributions of the headline cells.
pub fn render_plots(results: &Results, python: Option<&Results>) -> Vec<Plot> {
    let idx = Index::new(results);
    let py = python.map(Python::new);
    figures::all_figures(&idx, py.as_ref())
        .into_iter()
        .filter_map(|f| {
            Some(Plot {
                file_name: format!("{}.svg", f.id),
                svg: chart::document(&f)?,
                title: f.title,
            })
        })
        .collect()
}
