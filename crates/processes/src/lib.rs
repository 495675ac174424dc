//! Process plumbing shared by the transports, the shutdown handling, the
//! conformance suite and the harness, so that each rule is written once:
//!
//! - [`state`]: what /proc says about a process (its state letter and parent,
//!   through the `procfs` crate: the one place ipcbench reads
//!   `/proc/<pid>/stat`), whether it has ended (a zombie has), its children
//!   and its command line;
//! - [`signal`]: the names printed for signals;
//! - [`stop`]: waiting with a limit, and stopping children with a grace
//!   period before SIGKILL, reaping them.

pub mod signal;
pub mod state;
pub mod stop;

pub use signal::signal_name;
pub use state::{Stat, all_pids, children_of, cmdline, ended, stat};
pub use stop::{poll_until, stop_with_grace, wait_or_kill};
