//! The transport contract as tests, run against every backend across two real
//! processes; a backend opts in with one line: `conformance::suite!(name, Type);`.
//!
//! Each generated `#[test]` creates the listening side in the test process and
//! re-executes the test binary (filtered to that same test) as the peer
//! process, which finds its role and the endpoint in environment variables.
//! Both processes run under watchdogs: a deadlock fails the test within
//! [`WATCHDOG`] instead of hanging CI, and the peer process is killed with the
//! test. Resource names come from [`Options::unique`](transport::Options::unique), so tests run in
//! parallel without colliding.
//!
//! # Faults
//!
//! Besides the contract's clauses, the suite kills the peer process with
//! SIGKILL at the worst moments ([`Case::is_fault`]): a receiver killed while
//! the other side streams to it or is blocked in a large send, and a sender
//! killed in the middle of a 16 MiB message. Each runs twice, once with the
//! killed process as the connecting side and once as the listening side
//! (`*_listener` tests), because backends detect a dead peer differently on
//! each side. What must happen: the survivor's `send` ends in
//! `Disconnected`, its `recv` in `Disconnected` or `Corrupt` (a truncated
//! message is never handed out as whole), and nothing hangs.
//!
//! # What every case also checks
//!
//! Every listener runs with `Listener::expect_peer` naming the real peer, so
//! the peer check is exercised on every connection. Set-up must open no
//! descriptor a child would inherit, and once both sides have ended, nothing
//! named after the connection may be left in /dev/shm, the temporary
//! directory or the socket table (`hygiene.rs`). Two more tests per backend
//! connect an intruder first ([`intruder()`]). Two run a shared listener with
//! several worker processes ([`shared()`]) on backends that declare
//! `Capabilities::shared_receivers`, and pass, saying so, on the others.
//!
//! # Loans
//!
//! The `loan_*` and `killed_holding_*` cases check the loan capability
//! (`transport::Sender::loan`, see the transport crate's docs, "Loans") on
//! backends that declare `Capabilities::max_loan > 0`, and pass, saying so,
//! on the others: loaned messages arrive whole, in order, exactly once; a
//! dropped loan sends nothing and gives its space back; a loan above the
//! maximum is refused before anything is written; a process killed holding
//! a loan or a received message leaves its peer told (Disconnected) and
//! never blocked, and (as after every case) nothing behind.
//!
//! # Broadcast
//!
//! The `bcast_*` cases check native broadcast (`Transport::listen_broadcast`,
//! see the transport crate's docs, "Broadcast") on backends that declare
//! `Capabilities::broadcast_subscribers > 0`, and pass, saying so, on the
//! others. The test process publishes; each subscriber is a re-executed
//! test binary (`bcast`): every message reaches every subscriber, whole and
//! in order; a subscriber killed while the publisher waits on it departs
//! within `DEPARTURE_NOTICE`, named, and one that drops its receiver
//! departs too, the others missing nothing; a live one that never reads
//! gets `Stalled` naming it and the refused message reaches nobody; one
//! that comes after `accept` is refused; and nothing is left behind.
//!
//! # No opt-out
//!
//! Every backend runs every case: there is no skip list. A clause that seems
//! impossible for a library is met by a mechanism around it (a peer watch,
//! a pidfd, a goodbye in band, descriptors marked after set-up), as
//! docs/adding-a-backend.md says. A case that does not apply to a backend
//! (the shared-receiver and loan cases on backends that declare none, the
//! intruder cases on backends nobody can join by name) passes and prints
//! why, decided by the backend's declared capabilities, never by a list.
//!
//! # Layout
//!
//! `cases/` holds one module per case, its peer side and test side together,
//! and the case table (`case_table!`, one line per case), from which [`Case`],
//! [`ALL_CASES`] and the tests `suite!` generates all follow; `run` plays a case across two processes;
//! `process` spawns, watches and kills the peer process and `watchdog` bounds
//! a hung test (both public, with `hygiene`'s leftover checks, for the
//! backends' own multi-process tests); `message` makes and
//! checks the numbered messages; `hygiene`, `intruder` and `shared` are the
//! checks every backend gets besides the cases.

mod bcast;
mod cases;
pub mod hygiene;
mod intruder;
pub mod loans;
mod message;
pub mod process;
mod run;
mod shared;
mod slots;
mod watchdog;

pub use cases::accept_times_out::accept_times_out;
pub use cases::malformed_endpoint::malformed_endpoint;
pub use cases::{ALL_CASES, Case};
pub use intruder::intruder;
pub use message::message;
pub use run::run;
pub use shared::shared;
pub use watchdog::{arm_process_watchdog, with_watchdog};

use std::time::Duration;

/// How long a single conformance test may take before it counts as a hang.
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// How long after the peer is dead a `send` may still succeed (kernel buffers
/// accept some messages first) before the test calls it a transport that
/// cannot tell.
pub const NOTICE_DEADLINE: Duration = Duration::from_secs(20);

/// Generates the conformance tests for one backend in a module called `$name`:
/// `suite!(name, Type)` runs every case.
#[macro_export]
macro_rules! suite {
    ($name:ident, $t:ty) => {
        mod $name {
            fn run(case: $crate::Case, test: &str) {
                $crate::run::<$t>(case, module_path!(), test);
            }
            $crate::case_table!($crate::case_tests);
            #[test]
            fn intruder_is_refused() {
                $crate::intruder::<$t>(module_path!(), "intruder_is_refused", true)
            }
            #[test]
            fn intruder_alone_is_named() {
                $crate::intruder::<$t>(module_path!(), "intruder_alone_is_named", false)
            }
            #[test]
            fn shared_each_message_once() {
                $crate::shared::<$t>(module_path!(), "shared_each_message_once", false)
            }
            #[test]
            fn shared_killed_workers() {
                $crate::shared::<$t>(module_path!(), "shared_killed_workers", true)
            }
            #[test]
            fn accept_times_out_without_peer() {
                $crate::accept_times_out::<$t>()
            }
            #[test]
            fn malformed_endpoint_is_an_error() {
                $crate::malformed_endpoint::<$t>()
            }
        }
    };
}

/// One `#[test]` per row of [`case_table!`], calling the `run` function of
/// the `suite!` module it expands in.
#[doc(hidden)]
#[macro_export]
macro_rules! case_tests {
    ($($case:ident $name:ident $module:ident $peer:ident $kills:literal $peer_listens:literal $needs:ident $doc:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run($crate::Case::$case, stringify!($name))
            }
        )*
    };
}
