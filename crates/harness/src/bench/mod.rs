//! A run: the matrix of pairs (or fanout groups) to execute (transports
//! interleaved innermost, so machine drift hits every transport alike), their
//! execution with progress, and the folding of every trial into result cells.
//!
//! Two workloads depend on the run itself: a paced job sends at a fraction of
//! the stream rate its transport measured in the same trial and placement (so
//! paced jobs run after stream within each trial), and a busy-waiting backend
//! whose processes must share a core gets fewer messages (see [`crowded`]).
//!
//! The parts: `plan` says what runs, in which order and with how many
//! messages; `run` runs it with progress; `adaptive` adds trials where a
//! headline median is not yet precise; `fold` turns trials into cells.

mod adaptive;
mod fold;
mod plan;
mod run;

pub use adaptive::{Adaptive, StopReason};
pub use fold::Outcome;
pub use plan::{
    CROWDED_MESSAGES, PACED_FACTOR, PerWorkload, Plan, STREAM_FACTOR, crowded, fits, max_size, runs,
};
pub use run::execute;
