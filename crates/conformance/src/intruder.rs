//! The intruder cases: another local process connects to the listener first,
//! knowing only what anyone on the machine can see (the public part of the
//! endpoint). A connection-based backend must close it and keep waiting for
//! the real peer; if the real peer never comes, the error must name the
//! intruder's pid. Backends that nobody can join by name (pipes, shared
//! memory) say so through `Listener::expect_peer` and have no intruder case.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use transport::{Endpoint, Listener, OpenError, Options, Receiver, RecvError, Transport};

use crate::WATCHDOG;
use crate::message::{echo_until_disconnect, recv_check, send};
use crate::process::{self, PeerGuard};

/// Which process a re-executed test binary plays.
const ENV_ROLE: &str = "IPCBENCH_CONFORMANCE_INTRUDER_ROLE";
const ENV_ENDPOINT: &str = "IPCBENCH_CONFORMANCE_INTRUDER_ENDPOINT";
/// The line an intruder prints once its connection is queued.
const CONNECTED: &str = "IPCBENCH_CONFORMANCE_INTRUDER_CONNECTED";
/// Round trips the real peer makes after the intruder was refused.
const ROUND_TRIPS: u64 = 100;

/// Runs an intruder case. With `real_peer`, the real peer connects after the
/// intruder and the run must complete with correct messages; without, the
/// listener's deadline passes and its error must name the intruder's pid.
pub fn intruder<T: Transport>(module: &str, test: &str, real_peer: bool) {
    match std::env::var(ENV_ROLE).as_deref() {
        Ok("intruder") => return intrude::<T>(),
        Ok(_) => return real_peer_side::<T>(),
        Err(_) => {}
    }
    // Two connections at once: the intruder's and the real peer's.
    let _slots = crate::slots::take::<T>(2);
    let (mut listener, endpoint) = T::listen(&Options::unique("conf")).expect("listen");
    // Our own pid never connects: the probe doubles as the expected peer of
    // the case without one.
    if !listener.expect_peer(std::process::id()) {
        eprintln!(
            "conformance: {}: nobody can join this backend by name, so it has no intruder case",
            T::NAME
        );
        return;
    }
    let mut cmd = process::self_command(module, test);
    cmd.env(ENV_ROLE, "intruder")
        .env(ENV_ENDPOINT, endpoint.public());
    let mut intruder = process::spawn(&mut cmd);
    let intruder_pid = intruder.child.id();
    wait_connected(&mut intruder);

    let mut real = None;
    if real_peer {
        let mut cmd = process::self_command(module, test);
        cmd.env(ENV_ROLE, "peer").env(ENV_ENDPOINT, &endpoint.0);
        let guard = process::spawn(&mut cmd);
        listener.expect_peer(guard.child.id());
        real = Some(guard);
    }
    let deadline = Instant::now()
        + if real_peer {
            WATCHDOG / 2
        } else {
            Duration::from_secs(2)
        };
    match (listener.accept(deadline), &mut real) {
        (Ok((mut tx, mut rx)), Some(_)) => {
            for seq in 0..ROUND_TRIPS {
                send(&mut tx, seq, 64);
                recv_check(&mut rx, seq, 64);
            }
        }
        (Err(e), None) => {
            let why = e.to_string();
            assert!(
                matches!(e, OpenError::Refused(_)) && why.contains(&format!("pid {intruder_pid}")),
                "{}: the error for a deadline passed after refusing an intruder must name its pid {intruder_pid}, got: {why}",
                T::NAME
            );
        }
        (Ok(_), None) => panic!(
            "{}: the listener admitted the intruder (pid {intruder_pid}) although another pid was expected",
            T::NAME
        ),
        (Err(e), Some(_)) => panic!(
            "{}: the real peer was not admitted after an intruder (pid {intruder_pid}) connected first: {e}",
            T::NAME
        ),
    }
    if let Some(mut real) = real {
        expect_success(&mut real, "real peer");
    }
    expect_success(&mut intruder, "intruder");
}

/// Waits until the intruder says its connection is queued.
fn wait_connected(intruder: &mut PeerGuard) {
    let out = intruder.child.stdout.take().expect("intruder stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line.contains(CONNECTED) {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(WATCHDOG / 2).is_err() {
        let status = process::reap(intruder, Duration::from_secs(1));
        panic!(
            "the intruder never connected: {}",
            process::describe(intruder, status)
        );
    }
}

fn expect_success(guard: &mut PeerGuard, what: &str) {
    let status = process::reap(guard, WATCHDOG / 2);
    assert!(
        status.is_some_and(|s| s.success()),
        "{what} process failed: {}",
        process::describe(guard, status)
    );
}

/// The intruder: connects with the public endpoint and must be closed
/// without ever being handed a message.
fn intrude<T: Transport>() {
    crate::watchdog::arm_process_watchdog();
    let endpoint = Endpoint(std::env::var(ENV_ENDPOINT).expect("endpoint variable"));
    let (_tx, mut rx) = match T::connect(&endpoint, &Options::unique("intruder")) {
        Ok(halves) => halves,
        // Refused at the door: as good as being closed.
        Err(e) => {
            println!("\n{CONNECTED} (refused at connect: {e})");
            return;
        }
    };
    println!("\n{CONNECTED}");
    match rx.recv() {
        Ok(m) => panic!("the intruder was handed a message of {} bytes", m.len()),
        Err(RecvError::Disconnected | RecvError::Corrupt(_) | RecvError::Io(_)) => {}
        Err(e) => panic!("intruder: expected to be closed, got {e}"),
    }
}

/// The real peer: echoes until the listener is done.
fn real_peer_side<T: Transport>() {
    crate::watchdog::arm_process_watchdog();
    let endpoint = Endpoint(std::env::var(ENV_ENDPOINT).expect("endpoint variable"));
    let (mut tx, mut rx) = T::connect(&endpoint, &Options::unique("peer")).expect("peer: connect");
    echo_until_disconnect(&mut tx, &mut rx);
}
