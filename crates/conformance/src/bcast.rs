//! The broadcast cases' runner (transport crate docs, "Broadcast"), for
//! backends whose `Capabilities::broadcast_subscribers` is not 0: the test
//! process listens with `listen_broadcast` and re-executes the test binary
//! as the group's subscriber processes, each subscribing to the one
//! endpoint; the publisher side runs here once `accept` has returned, the
//! subscriber side in each process. A case may also start a late
//! subscriber ([`PubCtx::late`]) and kill subscribers ([`PubCtx::kill`]).
//! Backends without native broadcast pass, saying so.
//!
//! Around every case, as for the point-to-point ones: set-up opens no
//! descriptor a child would inherit, on either side; every subscriber
//! process ends as the case expects (exit 0, or our SIGKILL); nothing named
//! after the broadcast is left behind (/dev/shm included).

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::sync::{Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use transport::{BroadcastListener, Endpoint, Options, Publisher, Receiver, RecvError, Transport};

use crate::cases::Case;
use crate::process::{self, PeerGuard};
use crate::{WATCHDOG, hygiene};

const ENV_CASE: &str = "IPCBENCH_CONFORMANCE_BCAST_CASE";
const ENV_ENDPOINT: &str = "IPCBENCH_CONFORMANCE_BCAST_ENDPOINT";
const ENV_INDEX: &str = "IPCBENCH_CONFORMANCE_BCAST_INDEX";
const ENV_GROUP: &str = "IPCBENCH_CONFORMANCE_BCAST_GROUP";
const ENV_TAG: &str = "IPCBENCH_CONFORMANCE_BCAST_TAG";

/// A broadcast case's two sides, from its module's `SIDES`.
#[derive(Clone, Copy)]
pub(crate) struct Sides {
    /// The group's size (fewer if the backend serves fewer).
    pub(crate) subscribers: usize,
    /// The publisher side, in the test process, once every subscriber has
    /// joined.
    pub(crate) publisher: fn(&mut dyn Publisher, &PubCtx),
    /// Each subscriber's side, in its own process.
    pub(crate) subscriber: fn(&mut dyn Receiver, &SubCtx),
}

/// What the publisher side knows and may do besides publishing.
pub(crate) struct PubCtx {
    /// The subscriber processes' pids, by the index each was started with
    /// (not necessarily the order they joined in).
    pub(crate) pids: Vec<u32>,
    /// "backend case", for messages.
    pub(crate) label: String,
    /// What the backend declares a stall does
    /// (`Capabilities::broadcast_stall`).
    pub(crate) stall: transport::BroadcastStall,
    /// Which subscribers the case killed (their processes end by SIGKILL).
    killed: Mutex<Vec<bool>>,
    /// Late subscribers started, checked after the case.
    late: Mutex<Vec<PeerGuard>>,
    /// What a late subscriber needs to be started.
    spawn: (String, String, String, String),
}

impl PubCtx {
    /// Kills subscriber `i` with SIGKILL and waits until it is dead; returns
    /// the time its death was confirmed.
    pub(crate) fn kill(&self, i: usize) -> Instant {
        self.killed.lock().unwrap_or_else(PoisonError::into_inner)[i] = true;
        process::kill_peer(self.pids[i]);
        Instant::now()
    }

    /// Starts one more subscriber process, after `accept`, and returns what
    /// it said once it had tried to subscribe: `refused: <error>` or
    /// `subscribed` (it then expects `Disconnected` before any message).
    pub(crate) fn late(&self) -> String {
        let (module, test, endpoint, tag) = &self.spawn;
        let mut cmd = subscriber_command(module, test, endpoint, tag, self.pids.len());
        cmd.env(ENV_INDEX, self.pids.len().to_string());
        let mut guard = process::spawn(&mut cmd);
        let said = process::watch_stdout(&mut guard);
        let got = said.recv_timeout(WATCHDOG / 2);
        let mut late = self.late.lock().unwrap_or_else(PoisonError::into_inner);
        late.push(guard);
        match got {
            Ok(s) => s,
            Err(_) => {
                let g = late.last_mut().expect("just pushed");
                let status = process::reap(g, Duration::from_secs(2));
                panic!(
                    "{}: the late subscriber said nothing: {}",
                    self.label,
                    process::describe(g, status)
                )
            }
        }
    }
}

/// In a subscriber process: returns once the publisher side of the case
/// is done (the test process closes our stdin then).
fn wait_for_the_end() {
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest);
}

/// What a subscriber process knows.
pub(crate) struct SubCtx {
    /// The index it was started with, `0..group`.
    pub(crate) index: usize,
}

/// A subscriber process of `test`, for the broadcast at `endpoint`.
fn subscriber_command(
    module: &str,
    test: &str,
    endpoint: &str,
    tag: &str,
    group: usize,
) -> std::process::Command {
    let mut cmd = process::self_command(module, test);
    // Its stdin ends when the publisher side is done ([`wait_for_the_end`]).
    cmd.stdin(std::process::Stdio::piped());
    cmd.env(ENV_CASE, test)
        .env(ENV_ENDPOINT, endpoint)
        .env(ENV_TAG, tag)
        .env(ENV_GROUP, group.to_string());
    cmd
}

/// Runs broadcast case `case` (see the module docs).
pub(crate) fn run<T: Transport>(case: Case, module: &str, test: &str) {
    let crate::cases::Play::Broadcast(sides) = case.play::<T>() else {
        unreachable!("the runner of point-to-point cases plays them");
    };
    if std::env::var(ENV_CASE).is_ok() {
        return subscriber_process::<T>(sides);
    }
    let most = T::capabilities().broadcast_subscribers;
    if most == 0 {
        // Straight to stderr, past libtest's output capture.
        let _ = writeln!(
            std::io::stderr(),
            "conformance: {} {}: no native broadcast (Capabilities::broadcast_subscribers is 0), so this broadcast case checks nothing",
            T::NAME,
            case.name()
        );
        return;
    }
    let n = sides.subscribers.min(most);
    let _slots = crate::slots::take::<T>(1);
    let opts = Options::unique("confb");
    let setup = hygiene::setup_lock();
    let before = hygiene::inheritable_fds();
    let (mut listener, endpoint) = T::listen_broadcast(&opts, n)
        .unwrap_or_else(|e| panic!("{}: listen_broadcast for {n}: {e}", T::NAME));
    let markers = hygiene::markers(T::NAME, &opts.tag, endpoint.public());
    hygiene::assert_close_on_exec(T::NAME, "listen_broadcast", &before, &markers);
    let mut subs: Vec<PeerGuard> = (0..n)
        .map(|i| {
            let mut cmd = subscriber_command(module, test, &endpoint.0, &opts.tag, n);
            cmd.env(ENV_INDEX, i.to_string());
            process::spawn(&mut cmd)
        })
        .collect();
    drop(setup);
    let pids: Vec<u32> = subs.iter().map(|s| s.child.id()).collect();
    for &pid in &pids {
        listener.expect_peer(pid);
    }
    let ctx = std::sync::Arc::new(PubCtx {
        pids: pids.clone(),
        label: format!("{} {}", T::NAME, case.name()),
        stall: T::capabilities().broadcast_stall,
        killed: Mutex::new(vec![false; n]),
        late: Mutex::new(Vec::new()),
        spawn: (
            module.to_owned(),
            test.to_owned(),
            endpoint.0.clone(),
            opts.tag.clone(),
        ),
    });
    let (done_tx, done_rx) = mpsc::channel();
    let body = {
        let ctx = std::sync::Arc::clone(&ctx);
        thread::spawn(move || {
            let mut publisher = listener
                .accept(Instant::now() + WATCHDOG / 2)
                .unwrap_or_else(|e| panic!("{}: accepting {n} subscribers: {e}", ctx.label));
            (sides.publisher)(&mut publisher, &ctx);
            drop(publisher);
            let _ = done_tx.send(());
        })
    };
    match done_rx.recv_timeout(WATCHDOG) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let err = body
                .join()
                .err()
                .map(process::panic_text)
                .unwrap_or_default();
            panic!(
                "{}: publisher side failed: {err}\nthe subscribers:\n{}",
                ctx.label,
                describe_all(&mut subs)
            );
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!(
                "{}: watchdog: no progress within {WATCHDOG:?} (deadlock?)\nthe subscribers:\n{}",
                ctx.label,
                describe_all(&mut subs)
            );
        }
    }
    for s in &mut subs {
        drop(s.child.stdin.take());
    }
    let killed = ctx
        .killed
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for (i, s) in subs.iter_mut().enumerate() {
        let status = process::reap(s, WATCHDOG / 2);
        let ok = if killed[i] {
            status.and_then(|s| s.signal()) == Some(libc::SIGKILL)
        } else {
            status.is_some_and(|s| s.success())
        };
        assert!(
            ok,
            "{}: subscriber {i} {}: {}",
            ctx.label,
            if killed[i] {
                "should have died of our SIGKILL"
            } else {
                "failed"
            },
            process::describe(s, status)
        );
    }
    for s in ctx
        .late
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter_mut()
    {
        let status = process::reap(s, WATCHDOG / 2);
        assert!(
            status.is_some_and(|s| s.success()),
            "{}: the late subscriber failed: {}",
            ctx.label,
            process::describe(s, status)
        );
    }
    drop(subs);
    hygiene::assert_nothing_left(T::NAME, case.name(), &markers);
}

/// What every subscriber process said, for a failure's message.
fn describe_all(subs: &mut [PeerGuard]) -> String {
    subs.iter_mut()
        .map(|s| {
            let status = process::reap(s, Duration::from_secs(2));
            process::describe(s, status)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A subscriber process: subscribes and plays the case's subscriber side;
/// a late one (index beyond the group) checks that it is refused.
fn subscriber_process<T: Transport>(sides: Sides) {
    crate::watchdog::arm_process_watchdog();
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} unset"));
    let endpoint = Endpoint(var(ENV_ENDPOINT));
    let index: usize = var(ENV_INDEX).parse().expect("subscriber index");
    let group: usize = var(ENV_GROUP).parse().expect("group size");
    let mut opts = Options::unique("sub");
    opts.tag = var(ENV_TAG);
    if index >= group {
        return late_subscriber::<T>(&endpoint, &opts);
    }
    let before = hygiene::inheritable_fds();
    let mut rx = T::subscribe(&endpoint, &opts)
        .unwrap_or_else(|e| panic!("subscriber {index}: subscribe to {endpoint}: {e}"));
    hygiene::assert_close_on_exec(T::NAME, "subscribing", &before, &[]);
    (sides.subscriber)(&mut rx, &SubCtx { index });
    // A subscriber that stops early has dropped nothing yet: dropping the
    // receiver here, with the process alive until the case is over, is
    // what the publisher must notice (not our exit).
    drop(rx);
    wait_for_the_end();
}

/// A subscriber that comes after `accept`: refused by `subscribe`, or its
/// `recv` reads Disconnected before any message (once the publisher has
/// gone). Says which on stdout, for [`PubCtx::late`].
fn late_subscriber<T: Transport>(endpoint: &Endpoint, opts: &Options) {
    let say = |what: &str| {
        println!("\n{}{what}", process::ENDPOINT_LINE);
        let _ = std::io::stdout().flush();
    };
    match T::subscribe(endpoint, opts) {
        Err(e) => say(&format!("refused: {e}")),
        Ok(mut rx) => {
            say("subscribed");
            match rx.recv() {
                Err(RecvError::Disconnected) => {}
                other => panic!(
                    "a late subscriber must read Disconnected before any message, got {:?}",
                    other.map(<[u8]>::len)
                ),
            }
        }
    }
}

/// Message `seq` of a broadcast case: `len` bytes of
/// [`crate::message::message`], or, as the last one, the 8-byte count of
/// those before it (every other message of these cases is longer or
/// shorter than 8 bytes).
pub(crate) fn publish(p: &mut dyn Publisher, seq: u64, len: usize) {
    p.publish(&crate::message::message(seq, len))
        .unwrap_or_else(|e| panic!("publish #{seq} ({len} bytes): {e}"));
}

/// Checks that subscriber `index` is the one departure so far (named by its
/// pid where the backend knows it), that it left after a number of
/// messages in `after`, and that the group counts one subscriber fewer.
/// Returns the departures, for checks that nothing changes later.
pub(crate) fn assert_one_departed(
    p: &dyn Publisher,
    ctx: &PubCtx,
    index: usize,
    after: std::ops::RangeInclusive<u64>,
) -> Vec<transport::Departed> {
    let gone = p.departed().to_vec();
    assert_eq!(gone.len(), 1, "{}: departed {gone:?}", ctx.label);
    if let Some(pid) = gone[0].pid {
        assert_eq!(
            pid, ctx.pids[index],
            "{}: departed names {}, not subscriber {index}",
            ctx.label, gone[0]
        );
    }
    assert!(
        after.contains(&gone[0].after_messages),
        "{}: {} left after {} messages, not within {after:?}",
        ctx.label,
        gone[0],
        gone[0].after_messages
    );
    assert_eq!(
        p.subscribers(),
        ctx.pids.len() - 1,
        "{}: subscribers",
        ctx.label
    );
    gone
}

/// A subscriber that reads the first `count` messages (of length
/// `len(seq)`), checking each, and then stops reading.
pub(crate) fn read_first(rx: &mut dyn Receiver, who: &SubCtx, count: u64, len: fn(u64) -> usize) {
    for seq in 0..count {
        let m = rx
            .recv()
            .unwrap_or_else(|e| panic!("subscriber {}: recv #{seq}: {e}", who.index));
        crate::message::check(seq, m, len(seq));
    }
}

/// Publishes the end: the count of messages before it.
pub(crate) fn publish_end(p: &mut dyn Publisher, count: u64) {
    p.publish(&count.to_le_bytes())
        .unwrap_or_else(|e| panic!("publish the end (after {count}): {e}"));
}

/// A subscriber's loop for cases whose messages all have length `len(seq)`
/// (never 8) and end with [`publish_end`]: checks every message in order,
/// the count, then Disconnected.
pub(crate) fn read_all(rx: &mut dyn Receiver, who: &SubCtx, len: fn(u64) -> usize) {
    let i = who.index;
    let mut seq = 0u64;
    loop {
        let m = rx
            .recv()
            .unwrap_or_else(|e| panic!("subscriber {i}: recv #{seq}: {e}"));
        if m.len() == 8 && len(seq) != 8 {
            let count = u64::from_le_bytes(m.try_into().expect("8 bytes"));
            assert_eq!(
                count, seq,
                "subscriber {i}: the publisher sent {count} messages, we read {seq}"
            );
            break;
        }
        crate::message::check(seq, m, len(seq));
        seq += 1;
    }
    match rx.recv() {
        Err(RecvError::Disconnected) => {}
        other => panic!(
            "subscriber {i}: after the last message, expected Disconnected, got {:?}",
            other.map(<[u8]>::len)
        ),
    }
}
