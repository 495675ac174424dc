//! ipcbench results as data (the JSON schema) and as text (Markdown, SVG, CSV,
//! comparisons): pure functions from [`Results`] to strings, so presentation
//! never touches measurement and every report can be re-rendered from the
//! JSON alone.

pub mod analysis;
pub mod bootstrap;
pub mod compare;
mod csv_export;
pub mod format;
mod index;
mod markdown;
pub mod schema;
mod svg;
pub mod table;
mod targets;
pub mod verdict;

pub use compare::{
    CellChange, CellKey, Comparison, DEFAULT_THRESHOLD, Verdict, compare, render_comparison,
};
pub use csv_export::{CSV_COLUMNS, to_csv};
pub use markdown::{PIPE_TARGET, RenderOptions, render_markdown};
pub use schema::{Cell, Environment, Floors, MemcpyFloor, Results, RunConfig, Status, Summary};
pub use svg::{Plot, render_plots, render_svgs};
