//! Ctrl-C, SIGTERM and SIGHUP for the long-running commands (`run`, `floors`,
//! `soak`), on the shared [`shutdown`] crate: stop the running pair so it
//! cleans up after itself, leave every output file as it was (results are
//! only ever written whole, at the end, by rename), and exit with 128 + the
//! signal number (130 for Ctrl-C, 143 for SIGTERM).
//!
//! The producers are killed first: a consumer whose producer is gone gets
//! `Disconnected`, fails its role, and drops its transport, which removes
//! what the transport created (iceoryx2's files in /dev/shm and /tmp, for
//! instance). Whatever is still alive after `GRACE` (5 s) is killed.

use std::io;
use std::time::Duration;

pub use shutdown::{hold_if_interrupted, ignore_terminal_interrupt};

use crate::placement::Role;

/// How long consumers get to notice their producer is gone and exit.
const GRACE: Duration = Duration::from_secs(5);

/// Installs the handling. Call once, early, from the main thread of the
/// supervising process only.
pub fn install() -> io::Result<()> {
    shutdown::install(shutdown::Plan {
        announce: |sig| {
            eprintln!(
                "\nipcbench: interrupted ({}): stopping the running pair; no results written",
                shutdown::signal_name(sig)
            );
        },
        children,
        grace: GRACE,
        cleanup: || {},
    })
}

/// Our role processes as the supervisor registered them: producers are
/// killed at once, consumers left to exit on their own.
fn children() -> Vec<(u32, Option<shutdown::Signal>)> {
    crate::children::all()
        .into_iter()
        .map(|(pid, role)| {
            (
                pid,
                (role == Role::Producer).then_some(shutdown::Signal::KILL),
            )
        })
        .collect()
}
