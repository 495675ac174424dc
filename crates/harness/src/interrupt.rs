//! Ctrl-C, SIGTERM and SIGHUP for the long-running commands (`run`, `floors`,
//! `soak`): stop the running pair so it cleans up after itself, leave every
//! output file as it was (results are only ever written whole, at the end,
//! by rename), and exit with 128 + the signal number (130 for Ctrl-C, 143
//! for SIGTERM).
//!
//! The signal handler only writes the signal number to a pipe; a thread
//! reads it and does the work, so nothing async-signal-unsafe runs in the
//! handler. That thread first parks the main thread (a SIGUSR2 whose handler
//! never returns): otherwise the supervisor in it would see its pair die,
//! kill the rest at once, report a failure and go on to the next pair. Then
//! it kills the producers: a consumer whose producer is gone gets
//! `Disconnected`, fails its role, and drops its transport, which removes
//! what the transport created (iceoryx2's files in /dev/shm and /tmp, for
//! instance). Whatever is still alive after a short grace is killed with
//! SIGKILL, every child is reaped, and the process ends with `_exit`.
//!
//! Role processes ignore SIGINT (see [`ignore_terminal_interrupt`]): Ctrl-C in
//! a terminal signals the whole foreground process group, and a role that
//! died of it would leave its resources behind; the supervisor decides.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Write end of the self-pipe; -1 until [`install`] ran.
static PIPE_W: AtomicI32 = AtomicI32::new(-1);

/// Set once a signal is being handled.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Set by the main thread once it is parked.
static PARKED: AtomicBool = AtomicBool::new(false);

/// How long consumers get to notice their producer is gone and exit.
const GRACE: Duration = Duration::from_secs(5);

extern "C" fn park(_: libc::c_int) {
    PARKED.store(true, Ordering::SeqCst);
    loop {
        // SAFETY: pause(2) is async-signal-safe; we never return, so the
        // interrupted code never resumes.
        unsafe { libc::pause() };
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_W.load(Ordering::Relaxed);
    let byte = sig as u8;
    // SAFETY: write(2) is async-signal-safe; `byte` outlives the call. A full
    // pipe (a second signal before the first was handled) drops the byte.
    unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
}

/// Installs the handlers and starts the thread that acts on them. Call once,
/// early, from the supervising process only.
pub fn install() -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    PIPE_W.store(write_fd, Ordering::Relaxed);
    // SAFETY: pthread_self has no preconditions; `install` runs on the main
    // thread, which lives until the process exits.
    let main = unsafe { libc::pthread_self() };
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut byte = 0u8;
            loop {
                // SAFETY: reads one byte into `byte` from our own pipe.
                let n = unsafe { libc::read(read_fd, (&raw mut byte).cast(), 1) };
                if n == 1 {
                    break;
                }
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            let sig = i32::from(byte);
            INTERRUPTED.store(true, Ordering::SeqCst);
            // Printed while the main thread can still release the stderr
            // lock; nothing below takes a lock the parked thread may hold.
            eprintln!(
                "\nipcbench: interrupted ({}): stopping the running pair; no results written",
                signal_name(sig)
            );
            // SAFETY: signals the main thread, which exists (see above).
            unsafe { libc::pthread_kill(main, libc::SIGUSR2) };
            let until = Instant::now() + Duration::from_secs(1);
            while !PARKED.load(Ordering::SeqCst) && Instant::now() < until {
                thread::sleep(Duration::from_millis(1));
            }
            stop_children();
            // SAFETY: ends the process without running atexit handlers or
            // flushing stdio, whose locks the parked thread may hold.
            unsafe { libc::_exit(128 + sig) };
        })?;
    let handlers: [(libc::c_int, extern "C" fn(libc::c_int)); 4] = [
        (libc::SIGUSR2, park),
        (libc::SIGINT, on_signal),
        (libc::SIGTERM, on_signal),
        (libc::SIGHUP, on_signal),
    ];
    for (sig, handler) in handlers {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask;
        // SA_RESTART keeps the supervisor's blocking calls from failing with
        // EINTR before the thread above acts.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Called by the main thread before it exits: if a signal is being handled
/// (it arrived too late to park us), waits for the handler to end the
/// process with the signal's exit code.
pub fn hold_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(100));
    }
}

/// In a role process: let Ctrl-C in the terminal reach only the supervisor,
/// which stops the pair in an order that lets it clean up.
pub fn ignore_terminal_interrupt() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// Our role processes, with whether each is a producer, as the supervisor
/// registered them when it started them.
fn children() -> Vec<(libc::pid_t, bool)> {
    crate::children::all()
        .into_iter()
        .filter_map(|(pid, role)| {
            let pid = libc::pid_t::try_from(pid).ok()?;
            Some((pid, role == crate::placement::Role::Producer))
        })
        .collect()
}

fn kill(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill(2) on a child we have not reaped, so the pid is still ours.
    unsafe { libc::kill(pid, sig) };
}

/// Whether the child has exited; reaps it if so.
fn reaped(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: waitpid on our own child with WNOHANG.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    r == pid || r < 0
}

/// Kills producers, gives consumers [`GRACE`] to exit on their own, then
/// kills and reaps everything that is left.
fn stop_children() {
    let kids = children();
    for &(pid, producer) in &kids {
        if producer {
            kill(pid, libc::SIGKILL);
        }
    }
    let mut alive: Vec<libc::pid_t> = kids.iter().map(|&(pid, _)| pid).collect();
    let until = Instant::now() + GRACE;
    while !alive.is_empty() && Instant::now() < until {
        alive.retain(|&pid| !reaped(pid));
        thread::sleep(Duration::from_millis(10));
    }
    for &pid in &alive {
        kill(pid, libc::SIGKILL);
    }
    for pid in alive {
        let mut status = 0;
        // SAFETY: blocking waitpid on our own child, which was just killed.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
}
