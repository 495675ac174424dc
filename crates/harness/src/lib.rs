//! The ipcbench harness: runs one producer–consumer benchmark across
//! inter-process transports in separate, pinned processes, verifies every
//! message, and folds the measurements into a versioned results file.
//!
//! Map: [`registry`] names the backends; [`supervisor`] runs a pair of
//! [`role`] processes (each a [`role_process::RoleProcess`]), which talk
//! [`protocol`] lines and are known by [`children`]; [`workload`] holds what the pair does and times; [`stats`]
//! summarises; [`floors`] measures the machine's bounds; [`mod@bench`] runs a
//! whole matrix, [`preset`] names bench-all's; [`cli`] is the command line.

pub mod bench;
pub mod children;
pub mod cli;
pub mod clock;
pub mod env;
pub mod fault;
pub mod floors;
pub mod inplace_floor;
pub mod interrupt;
pub mod placement;
pub mod preset;
pub mod protocol;
pub mod registry;
pub mod remote;
pub mod role;
pub mod role_process;
pub mod sizes;
pub mod soak;
pub mod stats;
pub mod supervisor;
pub mod targets;
pub mod topology;
pub mod workload;
