//! ipcbench's report: results files and the judge's verdicts rendered as
//! text (Markdown pages, an HTML page, SVG plots, CSV, comparisons of runs and
//! of machines). Pure
//! functions from [`results::Results`] to strings, so presentation never
//! touches measurement and every report can be re-rendered from the JSON
//! alone. The data model lives in the `results` crate and every judgement
//! (who wins, what changed) in `judge`; this crate only words them.

#![forbid(unsafe_code)]

pub mod audit;
pub mod compare;
mod csv_export;
pub mod export;
pub mod format;
mod html;
pub mod machines;
mod readme;
mod sections;
mod svg;
pub mod table;
mod targets;
mod words;

pub use compare::render_comparison;
pub use csv_export::{CSV_COLUMNS, to_csv};
pub use export::{Exporter, export_all};
pub use html::render_html;
pub use machines::render_machines;
pub use readme::{Page, RenderOptions, render_markdown, render_pages};
pub use svg::{Plot, render_plots, render_svgs};
