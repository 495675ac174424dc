//! Ctrl-C, SIGTERM and SIGHUP during `bench-all`: stop the child (ipcbench,
//! which stops its own pair and cleans up, or cargo, or the Python baseline),
//! remove the staging directory, leave results/ as it was, and exit with 128
//! + the signal number (130 for Ctrl-C).
//!
//! As in ipcbench, the handler only writes to a pipe; a thread does the
//! work after parking the main thread (a SIGUSR2 whose handler never
//! returns), so the main thread can neither report the child's death as a
//! failure nor move half-written results into place.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

static PIPE_W: AtomicI32 = AtomicI32::new(-1);
static PARKED: AtomicBool = AtomicBool::new(false);
/// Staging directories to remove if interrupted.
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// How long a child gets to stop after SIGTERM (ipcbench needs a few
/// seconds to let its pair clean up).
const GRACE: Duration = Duration::from_secs(10);

/// Registers a staging directory for removal on interrupt.
pub fn stage(dir: PathBuf) {
    if let Ok(mut s) = STAGING.lock() {
        s.push(dir);
    }
}

/// Forgets a staging directory (it was moved into place or removed).
pub fn unstage(dir: &PathBuf) {
    if let Ok(mut s) = STAGING.lock() {
        s.retain(|d| d != dir);
    }
}

extern "C" fn park(_: libc::c_int) {
    PARKED.store(true, Ordering::SeqCst);
    loop {
        // SAFETY: pause(2) is async-signal-safe; never returning keeps the
        // interrupted code from resuming.
        unsafe { libc::pause() };
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    let byte = sig as u8;
    // SAFETY: write(2) is async-signal-safe; `byte` outlives the call.
    unsafe { libc::write(PIPE_W.load(Ordering::Relaxed), (&raw const byte).cast(), 1) };
}

/// Installs the handlers; call once from the main thread.
pub fn install() -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    PIPE_W.store(fds[1], Ordering::Relaxed);
    // SAFETY: no preconditions; we are on the main thread, which lives until exit.
    let main = unsafe { libc::pthread_self() };
    let read_fd = fds[0];
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut byte = 0u8;
            // SAFETY: reads one byte from our own pipe into `byte`.
            while unsafe { libc::read(read_fd, (&raw mut byte).cast(), 1) } != 1 {
                if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
            let sig = i32::from(byte);
            eprintln!("\nxtask: interrupted: stopping; the previous results are untouched");
            // SAFETY: signals the main thread, which exists.
            unsafe { libc::pthread_kill(main, libc::SIGUSR2) };
            let until = Instant::now() + Duration::from_secs(1);
            while !PARKED.load(Ordering::SeqCst) && Instant::now() < until {
                thread::sleep(Duration::from_millis(1));
            }
            stop_children();
            let dirs = STAGING.try_lock().map(|s| s.clone()).unwrap_or_default();
            for d in dirs {
                let _ = std::fs::remove_dir_all(d);
            }
            // SAFETY: ends the process without atexit handlers or stdio
            // flushing, whose locks the parked thread may hold.
            unsafe { libc::_exit(128 + sig) };
        })?;
    let handlers: [(libc::c_int, extern "C" fn(libc::c_int)); 4] = [
        (libc::SIGUSR2, park),
        (libc::SIGINT, on_signal),
        (libc::SIGTERM, on_signal),
        (libc::SIGHUP, on_signal),
    ];
    for (sig, handler) in handlers {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask.
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

/// Our direct children.
fn children() -> Vec<libc::pid_t> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<libc::pid_t>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_owned();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(me)
        })
        .collect()
}

/// SIGTERM to every child (a terminal's Ctrl-C has sent them SIGINT too),
/// then SIGKILL to whatever is left after [`GRACE`]; reaps them all.
fn stop_children() {
    let mut alive = children();
    for &pid in &alive {
        // SAFETY: kill(2) on our own, not yet reaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let until = Instant::now() + GRACE;
    while !alive.is_empty() && Instant::now() < until {
        alive.retain(|&pid| {
            let mut status = 0;
            // SAFETY: non-blocking waitpid on our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            r == 0
        });
        thread::sleep(Duration::from_millis(20));
    }
    for pid in alive {
        let mut status = 0;
        // SAFETY: kill and reap our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &mut status, 0);
        }
    }
}
