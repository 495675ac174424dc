//! ipcbench's judgement of a run: which cells contend in an answer row and
//! who wins it ([`contenders`], [`verdict`]), how much a run lets a reader
//! conclude ([`audit`]), what changed between two runs ([`compare`],
//! [`rows`]), how several machines answer each row ([`machines`]), fits and interval overlaps ([`analysis`]), whether the run
//! meets the project's performance targets ([`targets`]) and the thresholds
//! all of them judge by ([`thresholds`]). Pure functions of
//! [`results::Results`]: nothing here formats text for a reader; the
//! `report` crate words these findings.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod audit;
pub mod compare;
pub mod contenders;
pub mod machines;
pub mod rows;
pub mod targets;
pub mod thresholds;
pub mod verdict;

pub use compare::{CellChange, CellKey, Comparison, DEFAULT_THRESHOLD, compare};
pub use thresholds::PIPE_TARGET;
