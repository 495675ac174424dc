//! The shared-receivers cases (transport crate docs, "Shared receivers"),
//! for backends whose `Capabilities::shared_receivers` is not 0: the test
//! process listens with `listen_shared` and re-executes the test binary as
//! [`WORKERS`] worker processes that all connect to the one endpoint, each
//! admitted by `expect_peer`. Backends that cannot share say so and pass.
//!
//! - [`shared`] without `kill`: every message reaches exactly one worker,
//!   whole and in the listener's order among a worker's own; every reply
//!   comes back; then each worker takes one empty message, its signal to
//!   exit, and once they all have, the listener reads `Disconnected`.
//!   Set-up opens no descriptor a child would inherit, on either
//!   side, and leaves nothing named after the connection behind.
//! - With `kill`: one worker killed is not the end (the others carry every
//!   later message); all killed, the listener's `recv` ends in
//!   `Disconnected` and its `send` soon after, never hanging.

use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use transport::{Endpoint, Listener, Options, Receiver, RecvError, SendError, Sender, Transport};

use crate::message::{check, message};
use crate::process::{self, PeerGuard};
use crate::{NOTICE_DEADLINE, WATCHDOG, hygiene};

const ENV_ENDPOINT: &str = "IPCBENCH_CONFORMANCE_SHARED_ENDPOINT";
/// Processes sharing the endpoint (fewer if the backend allows fewer).
const WORKERS: usize = 3;
/// Messages of the exactly-once case.
const MESSAGES: u64 = 600;

/// Runs a shared-receivers case (see the module docs).
pub fn shared<T: Transport>(module: &str, test: &str, kill: bool) {
    if let Ok(endpoint) = std::env::var(ENV_ENDPOINT) {
        return worker::<T>(&Endpoint(endpoint));
    }
    let most = T::capabilities().shared_receivers;
    if most == 0 {
        eprintln!(
            "conformance: {}: point to point, so it has no shared-receivers case",
            T::NAME
        );
        return;
    }
    let n = WORKERS.min(most);
    let _slots = crate::slots::take::<T>(1);
    let opts = Options::unique("confq");
    let setup = hygiene::setup_lock();
    let before = hygiene::inheritable_fds();
    let (mut listener, endpoint) = T::listen_shared(&opts, n)
        .unwrap_or_else(|e| panic!("{}: listen_shared for {n}: {e}", T::NAME));
    let markers = hygiene::markers(T::NAME, &opts.tag, endpoint.public());
    hygiene::assert_close_on_exec(T::NAME, "listen_shared", &before, &markers);
    let mut workers: Vec<PeerGuard> = (0..n)
        .map(|_| {
            let mut cmd = process::self_command(module, test);
            cmd.env(ENV_ENDPOINT, &endpoint.0);
            process::spawn(&mut cmd)
        })
        .collect();
    drop(setup);
    for w in &workers {
        listener.expect_peer(w.child.id());
    }
    let (tx, rx) = listener
        .accept(Instant::now() + WATCHDOG / 2)
        .unwrap_or_else(|e| panic!("{}: accepting {n} workers: {e}", T::NAME));
    let pids: Vec<u32> = workers.iter().map(|w| w.child.id()).collect();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        if kill {
            killed_workers(tx, rx, &pids);
        } else {
            exactly_once(tx, rx, &pids);
        }
    }));
    if let Err(p) = outcome {
        // The listener's symptom (a disconnect) is rarely the cause: show
        // what the workers said.
        let said: Vec<String> = workers
            .iter_mut()
            .map(|w| {
                let status = process::reap(w, Duration::from_secs(2));
                process::describe(w, status)
            })
            .collect();
        panic!(
            "{}: {}\nthe workers:\n{}",
            T::NAME,
            process::panic_text(p),
            said.join("\n")
        );
    }
    if !kill {
        for w in &mut workers {
            let status = process::reap(w, WATCHDOG / 2);
            assert!(
                status.is_some_and(|s| s.success()),
                "{}: worker failed: {}",
                T::NAME,
                process::describe(w, status)
            );
        }
    }
    drop(workers);
    hygiene::assert_nothing_left(T::NAME, "shared", &markers);
}

/// Task `seq`: its number, then message `seq` of a length that varies.
fn task(seq: u64) -> Vec<u8> {
    let len = (seq as usize * 97) % 4000;
    let mut t = seq.to_le_bytes().to_vec();
    t.extend_from_slice(&message(seq, len));
    t
}

/// The worker's reply to task `seq`: the number, then the worker's pid.
fn parse_reply(m: &[u8]) -> (u64, u32) {
    assert_eq!(m.len(), 12, "a reply is 12 bytes");
    let seq = u64::from_le_bytes(m[..8].try_into().expect("8 bytes"));
    let pid = u32::from_le_bytes(m[8..].try_into().expect("4 bytes"));
    (seq, pid)
}

fn exactly_once<S: Sender, R: Receiver>(mut tx: S, mut rx: R, pids: &[u32]) {
    // Sent from a thread: queues are bounded and the replies must be
    // drained while tasks are still going out.
    let sending = thread::spawn(move || {
        for seq in 0..MESSAGES {
            tx.send(&task(seq))
                .unwrap_or_else(|e| panic!("send task #{seq}: {e}"));
        }
        tx
    });
    let mut seen = BTreeSet::new();
    let mut last: Vec<Option<u64>> = vec![None; pids.len()];
    for _ in 0..MESSAGES {
        let (seq, pid) = parse_reply(rx.recv().expect("reply"));
        assert!(seq < MESSAGES, "reply to task #{seq}, never sent");
        assert!(seen.insert(seq), "task #{seq} taken twice");
        let k = pids
            .iter()
            .position(|&p| p == pid)
            .unwrap_or_else(|| panic!("reply from pid {pid}, none of the workers {pids:?}"));
        assert!(
            last[k].is_none_or(|l| l < seq),
            "worker {pid} took task #{seq} after #{:?}: out of the listener's order",
            last[k]
        );
        last[k] = Some(seq);
    }
    let mut tx = sending.join().expect("sending thread");
    // As the harness ends a shared-queue run: one stop per worker, each
    // worker taking exactly one as it stops reading after it.
    for _ in pids {
        tx.send(b"").expect("send a stop");
    }
    assert!(
        disconnected_in_time(rx),
        "the listener's recv must end in Disconnected once every worker has exited"
    );
}

/// Whether `rx.recv()` ends in `Disconnected` (not a message, not another
/// error) within the watchdog; a hang fails the test.
fn disconnected_in_time<R: Receiver>(mut rx: R) -> bool {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(matches!(rx.recv(), Err(RecvError::Disconnected)));
    });
    done_rx
        .recv_timeout(WATCHDOG / 2)
        .unwrap_or_else(|_| panic!("the listener's recv hangs with every worker gone"))
}

fn killed_workers<S: Sender, R: Receiver>(mut tx: S, mut rx: R, pids: &[u32]) {
    let mut round = |from: u64, count: u64| {
        for seq in from..from + count {
            tx.send(&task(seq)).expect("send");
        }
        let mut took = Vec::new();
        for _ in 0..count {
            took.push(parse_reply(rx.recv().expect("reply")));
        }
        took
    };
    round(0, 4 * pids.len() as u64);
    process::kill_peer(pids[0]);
    let later = round(1000, 4 * pids.len() as u64);
    assert!(
        later.iter().all(|&(_, pid)| pid != pids[0]),
        "a reply from the killed worker {}",
        pids[0]
    );
    for &pid in &pids[1..] {
        process::kill_peer(pid);
    }
    assert!(
        disconnected_in_time(rx),
        "with every worker killed, recv must end in Disconnected"
    );
    let until = Instant::now() + NOTICE_DEADLINE;
    loop {
        match tx.send(&task(0)) {
            Err(SendError::Disconnected) => break,
            Ok(()) if Instant::now() < until => thread::yield_now(),
            other => panic!("send with every worker killed: {other:?}"),
        }
    }
}

/// A worker process: checks each task and replies with its number and pid,
/// until an empty message.
fn worker<T: Transport>(endpoint: &Endpoint) {
    crate::watchdog::arm_process_watchdog();
    let before = hygiene::inheritable_fds();
    let (mut tx, mut rx) = T::connect(endpoint, &Options::unique("worker"))
        .unwrap_or_else(|e| panic!("worker: connect to {endpoint}: {e}"));
    hygiene::assert_close_on_exec(T::NAME, "connecting a shared worker", &before, &[]);
    let pid = std::process::id().to_le_bytes();
    loop {
        let m = rx.recv().unwrap_or_else(|e| panic!("worker recv: {e}"));
        if m.is_empty() {
            return;
        }
        assert!(m.len() >= 8, "task of {} bytes", m.len());
        let seq = u64::from_le_bytes(m[..8].try_into().expect("8 bytes"));
        check(seq, &m[8..], task(seq).len() - 8);
        let mut reply = seq.to_le_bytes().to_vec();
        reply.extend_from_slice(&pid);
        tx.send(&reply).expect("worker reply");
    }
}
