//! ipcbench results as data (the JSON schema) and as text (Markdown, SVG, CSV,
//! comparisons): pure functions from [`Results`] to strings, so presentation
//! never touches measurement and every report can be re-rendered from the
//! JSON alone.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod audit;
pub mod bootstrap;
pub mod compare;
pub mod compare_rows;
mod csv_export;
pub mod format;
mod html;
mod index;
pub mod io;
mod readme;
pub mod schema;
mod sections;
mod svg;
pub mod table;
mod targets;
pub mod thresholds;
pub mod verdict;
pub mod vocab;

pub use compare::{
    CellChange, CellKey, Comparison, DEFAULT_THRESHOLD, Verdict, compare, render_comparison,
};
pub use csv_export::{CSV_COLUMNS, to_csv};
pub use html::render_html;
pub use io::{ResultsError, write_atomic};
pub use readme::{Page, RenderOptions, render_markdown, render_pages};
pub use schema::{
    Cell, Environment, Floors, MemcpyFloor, Results, RunConfig, Status, Summary, TransportInfo,
};
pub use svg::{Plot, render_plots, render_svgs};
pub use thresholds::PIPE_TARGET;
pub use vocab::{Metric, Placement, Workload};
