//! ipcbench results as data (the JSON schema) and as text (Markdown, SVG, CSV):
//! pure functions from [`Results`] to strings, so presentation never touches
//! measurement and every report can be re-rendered from the JSON alone.

pub mod schema;

pub use schema::{Cell, Environment, Floors, MemcpyFloor, Results, RunConfig, Status, Summary};
