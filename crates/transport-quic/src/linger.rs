//! What a sender sent reaches the peer even if its process exits right
//! after `send`: quinn keeps stream data in this process until the peer
//! acknowledges it (a kernel transport's socket buffer outlives the process,
//! quinn's does not), so a process that exits with `std::process::exit`, or
//! returns from `main` without dropping its halves, would otherwise lose
//! what it sent last: the contract says `recv` returns everything sent
//! before the peer exited.
//!
//! Both ways out finish the stream and wait, bounded by [`LINGER`], until
//! the peer acknowledged every byte of it (`SendStream::stopped` after
//! `finish`): a dropped [`crate::QuicSender`] does it in its `Drop`, and at
//! process exit an `atexit` handler does it for every sender still alive.
//! A peer that is gone cannot acknowledge; the wait then ends at the
//! deadline (or at the connection's idle timeout, whichever is first).
//! Then the connection is closed ([`close`]), which a peer still writing
//! sees at once; what it received it still reads first.
//!
//! The exit handler runs after the exiting thread's thread-locals were
//! destroyed, so it never enters a tokio runtime itself: each sender has a
//! task waiting on its runtime's worker thread, which the handler wakes
//! (a oneshot, whose wake-up tokio routes to the worker when the waking
//! thread has no runtime context) and then waits for on a condition
//! variable.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, Weak};
use std::time::{Duration, Instant};

use quinn::{Connection, SendStream};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// How long a sender that goes away waits for the peer to acknowledge what
/// it sent: long enough for retransmissions on a lossy network path, short
/// enough that a peer that is gone delays the exit only that much.
pub const LINGER: Duration = Duration::from_secs(2);

/// A sending stream, shared by its [`crate::QuicSender`] and its exit task.
pub(crate) type Stream = Arc<tokio::sync::Mutex<SendStream>>;

/// Finishes the stream and waits, at most [`LINGER`], until the peer
/// acknowledged all of it (or stopped reading, or the connection is gone).
pub(crate) async fn finish_and_wait(stream: &tokio::sync::Mutex<SendStream>) {
    let mut send = stream.lock().await;
    if send.finish().is_ok() {
        // Every outcome ends the wait: acknowledged, stopped by the peer,
        // connection lost, or the deadline.
        let _ = tokio::time::timeout(LINGER, send.stopped()).await;
    }
}

/// How long closing waits for the CONNECTION_CLOSE to leave.
const CLOSE_SENT: Duration = Duration::from_millis(100);

/// Closes `conn` and waits, at most [`CLOSE_SENT`], until the close went
/// out, so the peer hears of it before this process or runtime is gone.
/// Call it only once the peer acknowledged our stream ([`finish_and_wait`]):
/// the peer then holds all of it, and quinn hands out received stream data
/// before the connection's error.
pub(crate) async fn close(conn: &Connection) {
    conn.close(0u32.into(), b"done");
    let _ = tokio::time::timeout(CLOSE_SENT, async {
        while conn.stats().frame_tx.connection_close == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

/// One live sender's exit task: the handler's trigger, and its answer.
pub(crate) struct AtExit {
    trigger: Mutex<Option<oneshot::Sender<()>>>,
    done: Mutex<bool>,
    woken: Condvar,
}

/// Every live sender, for the exit handler; dead entries are pruned when
/// a new one registers.
static LIVE: Mutex<Vec<Weak<AtExit>>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// A lock that a panic elsewhere did not make unusable: the data behind
/// these locks (a list, a flag, a oneshot) stays consistent either way.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers `stream` of `conn`, on `rt`, with the exit handler. The sender
/// keeps the returned entry; dropping it (after the sender's own finish)
/// ends the task.
pub(crate) fn register(rt: &Runtime, stream: Stream, conn: Connection) -> Arc<AtExit> {
    HANDLER.call_once(|| {
        // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds (it
        // only takes locks, sends on a oneshot and waits on a condition
        // variable, handling poisoned locks) and stays valid for the life
        // of the process, as atexit requires. If registration fails
        // (libc's table is full) the exit flush is lost, nothing else.
        #[allow(unsafe_code)]
        let _registered = unsafe { libc::atexit(at_exit) };
    });
    let (trigger, triggered) = oneshot::channel();
    let entry = Arc::new(AtExit {
        trigger: Mutex::new(Some(trigger)),
        done: Mutex::new(false),
        woken: Condvar::new(),
    });
    let weak = Arc::downgrade(&entry);
    rt.spawn(async move {
        // An error: the sender was dropped, and its drop finished the stream.
        if triggered.await.is_err() {
            return;
        }
        finish_and_wait(&stream).await;
        close(&conn).await;
        if let Some(entry) = weak.upgrade() {
            *lock(&entry.done) = true;
            entry.woken.notify_all();
        }
    });
    let mut live = lock(&LIVE);
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(&entry));
    entry
}

/// The exit handler: wakes every live sender's task, then waits for them
/// all, together bounded by [`LINGER`] and [`CLOSE_SENT`] and a little more
/// for the wake-ups.
extern "C" fn at_exit() {
    let live: Vec<Arc<AtExit>> = lock(&LIVE).iter().filter_map(Weak::upgrade).collect();
    for entry in &live {
        if let Some(trigger) = lock(&entry.trigger).take() {
            let _ = trigger.send(());
        }
    }
    let deadline = Instant::now() + LINGER + CLOSE_SENT + Duration::from_millis(100);
    for entry in &live {
        let mut done = lock(&entry.done);
        while !*done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            done = match entry.woken.wait_timeout(done, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}
