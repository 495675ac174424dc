//! One case across two processes: one side here, the other in a re-executed
//! copy of this test binary, which finds its role and the endpoint in
//! environment variables. Normally this process listens and the peer
//! connects; for the `*_listener` fault cases it is the other way round.
//! Around the case: the peer check on every listener, the close-on-exec and
//! leftover checks (`hygiene`), and the watchdog.

use std::io::Write;
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use transport::{Endpoint, Listener, Options, Transport};

use crate::cases::{Case, Ctx, Play};
use crate::process::{self, ENDPOINT_LINE, PeerGuard};
use crate::{WATCHDOG, hygiene, slots};

const ENV_CASE: &str = "IPCBENCH_CONFORMANCE_CASE";
const ENV_ENDPOINT: &str = "IPCBENCH_CONFORMANCE_ENDPOINT";
const ENV_TAG: &str = "IPCBENCH_CONFORMANCE_TAG";
/// Set when the peer process is the listening side.
const ENV_LISTEN: &str = "IPCBENCH_CONFORMANCE_LISTEN";

/// Runs one case: the test side in this process (on a thread, under the
/// watchdog), the peer side in a re-executed copy of this test binary.
pub fn run<T: Transport>(case: Case, module: &str, test: &str) {
    let Play::Pair(sides) = case.play::<T>() else {
        return crate::bcast::run::<T>(case, module, test);
    };
    if let Ok(which) = std::env::var(ENV_CASE) {
        assert_eq!(
            which,
            case.name(),
            "peer process started for the wrong case"
        );
        peer_process::<T>(sides.peer);
        return;
    }
    if case.needs_loans() && T::capabilities().max_loan == 0 {
        // Straight to stderr, past libtest's output capture.
        let _ = writeln!(
            std::io::stderr(),
            "conformance: {} {}: cannot loan (Capabilities::max_loan is 0), so this loan case checks nothing",
            T::NAME,
            case.name()
        );
        return;
    }
    // A backend bound by a per-user quota runs no more cases at once than
    // it declares.
    let _slots = slots::take::<T>(1);
    let opts = Options::unique("conf");
    let mut cmd = process::self_command(module, test);
    cmd.env(ENV_CASE, case.name()).env(ENV_TAG, &opts.tag);
    let mut listener = listen_here::<T>(case, &opts, &mut cmd);
    let mut guard = process::spawn(&mut cmd);
    let peer = guard.child.id();
    if let Some((listener, _)) = &mut listener {
        // Every case runs with the peer check on: the real peer must pass it.
        listener.expect_peer(peer);
    }
    let endpoint_rx = case
        .peer_listens()
        .then(|| process::watch_stdout(&mut guard));
    let (done_tx, done_rx) = mpsc::channel();
    let tag = opts.tag.clone();
    let body = thread::spawn(move || {
        let (tx, rx, endpoint) = connection::<T>(&opts, listener, endpoint_rx);
        let ctx = Ctx {
            peer,
            label: format!("{} {}", T::NAME, case.name()),
        };
        (sides.test)(tx, rx, &ctx);
        let _ = done_tx.send(endpoint);
    });
    let endpoint = await_test_side(case, &mut guard, body, &done_rx);
    check_peer_ended(case, &mut guard);
    let markers = hygiene::markers(T::NAME, &tag, Endpoint(endpoint).public());
    hygiene::assert_nothing_left(T::NAME, case.name(), &markers);
}

/// Unless the peer listens: listens here, checks that set-up opened no
/// descriptor the peer would inherit, and hands the peer the endpoint.
fn listen_here<T: Transport>(
    case: Case,
    opts: &Options,
    cmd: &mut Command,
) -> Option<(T::Listener, Endpoint)> {
    if case.peer_listens() {
        cmd.env(ENV_LISTEN, "1");
        return None;
    }
    let setup = hygiene::setup_lock();
    let before = hygiene::inheritable_fds();
    let (listener, endpoint) = T::listen(opts).expect("listen");
    // Before the peer is spawned: it would inherit a leaked descriptor.
    let markers = hygiene::markers(T::NAME, &opts.tag, endpoint.public());
    hygiene::assert_close_on_exec(T::NAME, "listen", &before, &markers);
    drop(setup);
    cmd.env(ENV_ENDPOINT, &endpoint.0);
    Some((listener, endpoint))
}

/// The test side's halves: accepted from our listener, or connected to the
/// endpoint the listening peer printed; checked for inheritable descriptors.
fn connection<T: Transport>(
    opts: &Options,
    listener: Option<(T::Listener, Endpoint)>,
    endpoint_rx: Option<mpsc::Receiver<String>>,
) -> (T::Sender, T::Receiver, String) {
    let setup = hygiene::setup_lock();
    let before = hygiene::inheritable_fds();
    let ((tx, rx), endpoint) = match listener {
        Some((listener, endpoint)) => (
            listener
                .accept(Instant::now() + WATCHDOG / 2)
                .expect("accept"),
            endpoint.0,
        ),
        None => {
            let endpoint = endpoint_rx
                .expect("endpoint channel")
                .recv_timeout(WATCHDOG / 2)
                .expect("the listening peer printed no endpoint");
            let ep = Endpoint(endpoint.clone());
            (T::connect(&ep, opts).expect("connect"), endpoint)
        }
    };
    let markers = hygiene::markers(T::NAME, &opts.tag, Endpoint(endpoint.clone()).public());
    hygiene::assert_close_on_exec(T::NAME, "connecting", &before, &markers);
    drop(setup);
    (tx, rx, endpoint)
}

/// Waits for the test side to finish within [`WATCHDOG`]; a failure or a
/// hang fails the test with what the peer printed. Returns the endpoint.
fn await_test_side(
    case: Case,
    guard: &mut PeerGuard,
    body: thread::JoinHandle<()>,
    done: &mpsc::Receiver<String>,
) -> String {
    match done.recv_timeout(WATCHDOG) {
        Ok(endpoint) => endpoint,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = process::reap(guard, Duration::from_secs(5));
            let err = body
                .join()
                .err()
                .map(process::panic_text)
                .unwrap_or_default();
            panic!(
                "{}: test side failed: {err}\npeer: {}",
                case.name(),
                process::describe(guard, status)
            );
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = guard.child.kill();
            panic!(
                "{}: watchdog: no progress within {WATCHDOG:?} (deadlock?)",
                case.name()
            );
        }
    }
}

/// The peer must have died of our SIGKILL in a fault case, and succeeded
/// otherwise.
fn check_peer_ended(case: Case, guard: &mut PeerGuard) {
    let status: Option<ExitStatus> = process::reap(guard, WATCHDOG / 2);
    if case.is_fault() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(libc::SIGKILL),
            "{}: the peer should have died of our SIGKILL: {}",
            case.name(),
            process::describe(guard, status)
        );
    } else {
        let ok = status.is_some_and(|s| s.success());
        assert!(
            ok,
            "{}: peer process failed: {}",
            case.name(),
            process::describe(guard, status)
        );
    }
}

/// The peer process's part of a case: listen or connect as the environment
/// says, then play the peer side.
fn peer_process<T: Transport>(peer: fn(T::Sender, T::Receiver)) {
    let mut opts = Options::unique("conf");
    opts.tag = std::env::var(ENV_TAG).expect("tag variable");
    crate::watchdog::arm_process_watchdog();
    let (tx, rx) = if std::env::var_os(ENV_LISTEN).is_some() {
        let (mut listener, endpoint) = T::listen(&opts).expect("peer: listen");
        listener.expect_peer(std::os::unix::process::parent_id());
        println!("\n{ENDPOINT_LINE}{}", endpoint.0);
        let _ = std::io::stdout().flush();
        listener
            .accept(Instant::now() + WATCHDOG / 2)
            .expect("peer: accept")
    } else {
        let endpoint = Endpoint(std::env::var(ENV_ENDPOINT).expect("endpoint variable"));
        T::connect(&endpoint, &opts).expect("peer: connect")
    };
    peer(tx, rx);
}
