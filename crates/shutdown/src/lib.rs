//! Ctrl-C, SIGTERM and SIGHUP for the supervising processes (`ipcbench` and
//! `cargo xtask`): stop the children so they clean up after themselves, run
//! the caller's cleanup, and exit with 128 + the signal number (130 for
//! Ctrl-C, 143 for SIGTERM), leaving every output file as it was.
//!
//! signal-hook's handler only writes to a self-pipe; a thread reads it and
//! does the work, so nothing async-signal-unsafe runs in a handler. That
//! thread first parks the thread that called [`install`] (the main thread:
//! a SIGUSR2 sent to it alone, whose action never returns). Otherwise the
//! main thread would see its children die, report a failure, and go on —
//! start the next pair, or move half-written results into place. Then the
//! [`Plan`]'s children get their first signal, whatever is still alive
//! after the grace is killed with SIGKILL, every child is reaped, the
//! cleanup runs, and the process ends with `_exit` (stdio and atexit
//! handlers may need locks the parked thread holds).
//!
//! Role processes call [`ignore_terminal_interrupt`]: Ctrl-C in a terminal
//! signals the whole foreground process group, and a role that died of it
//! would leave its resources behind; the supervisor decides the order.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub use processes::signal_name;
pub use rustix::process::Signal;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
use signal_hook::iterator::Signals;

/// Thread id of the thread [`install`] parks; 0 until it ran.
static MAIN: AtomicI32 = AtomicI32::new(0);
/// Set once a signal is being handled.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Set by the main thread once it is parked.
static PARKED: AtomicBool = AtomicBool::new(false);

/// How long the signal thread waits for the main thread to park.
const PARK_WAIT: Duration = Duration::from_secs(1);

/// What an interrupted process does, in order, on the signal thread.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Says what is happening (to stderr). Runs before the main thread is
    /// parked, while it can still release the stderr lock; takes the
    /// signal number.
    pub announce: fn(i32),
    /// The children to stop, each with the signal it gets first (`None`:
    /// it is left to exit on its own within the grace). Runs with the main
    /// thread parked, so it must take no lock the main thread may hold.
    pub children: fn() -> Vec<(u32, Option<Signal>)>,
    /// How long the children get before SIGKILL.
    pub grace: Duration,
    /// Runs once every child is reaped (removing staging directories, say),
    /// with the main thread still parked.
    pub cleanup: fn(),
}

/// Handles SIGINT, SIGTERM and SIGHUP as the module docs say. Call once,
/// early, from the main thread of the supervising process only.
pub fn install(plan: Plan) -> io::Result<()> {
    MAIN.store(
        rustix::thread::gettid().as_raw_nonzero().get(),
        Ordering::SeqCst,
    );
    // SAFETY: the action is async-signal-safe: it reads the thread id and
    // an atomic, stores an atomic and then only calls pause(2), all plain
    // system calls without locks or allocation.
    unsafe { signal_hook::low_level::register(SIGUSR2, park) }?;
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                stop(sig, plan);
            }
        })?;
    Ok(())
}

/// The SIGUSR2 action: parks the main thread for good; any other thread
/// (none is sent the signal) goes on.
fn park() {
    if rustix::thread::gettid().as_raw_nonzero().get() != MAIN.load(Ordering::SeqCst) {
        return;
    }
    PARKED.store(true, Ordering::SeqCst);
    loop {
        rustix::event::pause();
    }
}

/// Parks the main thread, stops the children, cleans up and exits.
fn stop(sig: i32, plan: Plan) -> ! {
    INTERRUPTED.store(true, Ordering::SeqCst);
    (plan.announce)(sig);
    park_main();
    processes::stop_with_grace(&(plan.children)(), plan.grace);
    (plan.cleanup)();
    signal_hook::low_level::exit(128 + sig)
}

fn park_main() {
    let main = MAIN.load(Ordering::SeqCst);
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    // SAFETY: tgkill(2) takes plain integers; `main` is a thread of this
    // process that lives until the process exits, and SIGUSR2's action is
    // installed.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, main, SIGUSR2) };
    let until = Instant::now() + PARK_WAIT;
    while !PARKED.load(Ordering::SeqCst) && Instant::now() < until {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Called by the main thread before it exits: if a signal is being handled
/// (it arrived too late to park us), waits for the signal thread to end the
/// process with the signal's exit code.
pub fn hold_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(100));
    }
}

/// In a role process: let Ctrl-C in the terminal reach only the supervisor,
/// which stops the pair in an order that lets it clean up. Ignored rather
/// than caught, so no blocking call in the role fails with EINTR.
pub fn ignore_terminal_interrupt() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(SIGINT, libc::SIG_IGN) };
}

/// This process's direct children, from /proc: for a process that starts
/// them through `std::process::Command` and holds no handle the signal
/// thread could reach.
pub fn direct_children() -> Vec<u32> {
    processes::children_of(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_children_lists_a_child_and_not_ourselves() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let kids = direct_children();
        assert!(kids.contains(&child.id()), "{kids:?} lacks {}", child.id());
        assert!(!kids.contains(&std::process::id()));
        processes::stop_with_grace(&[(child.id(), Some(Signal::TERM))], Duration::from_secs(5));
        // Reaped by stop_with_grace: nothing left to wait for.
        assert!(child.wait().is_err(), "child {} not reaped", child.id());
    }
}
