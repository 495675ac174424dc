//! The transport contract as tests, run against every backend across two real
//! processes; a backend opts in with one line: `conformance::suite!(name, Type);`.
//!
//! Each generated `#[test]` creates the listening side in the test process and
//! re-executes the test binary (filtered to that same test) as the peer
//! process, which finds its role and the endpoint in environment variables.
//! Both processes run under watchdogs: a deadlock fails the test within
//! [`WATCHDOG`] instead of hanging CI, and the peer process is killed with the
//! test. Resource names come from [`Options::unique`], so tests run in
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
//! connect an intruder first ([`intruder()`]).
//!
//! # Opting out
//!
//! A backend whose library cannot meet a case says so in its `suite!` line,
//! with the reason, which the skipped test prints:
//!
//! ```ignore
//! conformance::suite!(foo, foo::Foo, skip = [
//!     killed_receiver_blocked_send => "the library blocks forever sending to a dead peer",
//! ]);
//! ```
//!
//! docs/reliability.md lists every opt-out in its fault matrix. Nothing else
//! skips a case, and today no backend opts out of any.

mod hygiene;
mod intruder;
mod process;

pub use intruder::intruder;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use transport::{Endpoint, Listener, Options, Receiver, RecvError, SendError, Sender, Transport};

/// How long a single conformance test may take before it counts as a hang.
pub const WATCHDOG: Duration = Duration::from_secs(60);

const ENV_CASE: &str = "IPCBENCH_CONFORMANCE_CASE";
const ENV_ENDPOINT: &str = "IPCBENCH_CONFORMANCE_ENDPOINT";
const ENV_TAG: &str = "IPCBENCH_CONFORMANCE_TAG";
/// Set when the peer process is the listening side.
const ENV_LISTEN: &str = "IPCBENCH_CONFORMANCE_LISTEN";
/// The line a listening peer process prints its endpoint on.
const ENDPOINT_LINE: &str = "IPCBENCH_CONFORMANCE_ENDPOINT=";

/// How long after the peer is dead a `send` may still succeed (kernel buffers
/// accept some messages first) before the test calls it a transport that
/// cannot tell.
pub const NOTICE_DEADLINE: Duration = Duration::from_secs(20);

/// The contract's clauses, one test each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// 1 000 numbered messages arrive in order, both directions.
    FifoOrder,
    /// Back-to-back messages of growing sizes keep their boundaries.
    Boundaries,
    /// Empty and 1-byte messages, both directions.
    EmptyAndOneByte,
    /// A 16 MiB message there and back.
    Large16MiB,
    /// 10 000 small messages, no loss.
    ManySmall,
    /// 1 000 messages of random sizes up to 1 MiB, contents checked.
    RandomSizes,
    /// The peer process exits: recv drains, then reports Disconnected; send
    /// reports Disconnected; nothing hangs.
    PeerExits,
    /// The listener drops its halves: the peer sees Disconnected.
    ListenerDrops,
    /// A message over the declared maximum is refused with TooLarge.
    TooLarge,
    /// The receiving peer (the connecting side) is killed with SIGKILL while
    /// we stream 4 KiB messages to it: `send` ends in Disconnected, `recv`
    /// too.
    KilledReceiverMidStream,
    /// As [`Case::KilledReceiverMidStream`], the killed peer being the
    /// listening side.
    KilledReceiverMidStreamListener,
    /// The receiving peer stops reading, we block in a 16 MiB send, and the
    /// peer (the connecting side) is killed: the blocked `send` returns
    /// Disconnected.
    KilledReceiverBlockedSend,
    /// As [`Case::KilledReceiverBlockedSend`], the killed peer being the
    /// listening side.
    KilledReceiverBlockedSendListener,
    /// The sending peer (the connecting side) is killed in the middle of a
    /// 16 MiB message: `recv` hands out only whole, correct messages, then
    /// Disconnected or Corrupt.
    KilledSenderMidMessage,
    /// As [`Case::KilledSenderMidMessage`], the killed peer being the
    /// listening side.
    KilledSenderMidMessageListener,
}

/// Every case run across two processes, in the order the suite lists them.
pub const ALL_CASES: [Case; 15] = [
    Case::FifoOrder,
    Case::Boundaries,
    Case::EmptyAndOneByte,
    Case::Large16MiB,
    Case::ManySmall,
    Case::RandomSizes,
    Case::PeerExits,
    Case::ListenerDrops,
    Case::TooLarge,
    Case::KilledReceiverMidStream,
    Case::KilledReceiverMidStreamListener,
    Case::KilledReceiverBlockedSend,
    Case::KilledReceiverBlockedSendListener,
    Case::KilledSenderMidMessage,
    Case::KilledSenderMidMessageListener,
];

impl Case {
    fn name(self) -> &'static str {
        match self {
            Self::FifoOrder => "fifo_order",
            Self::Boundaries => "boundaries",
            Self::EmptyAndOneByte => "empty_and_one_byte",
            Self::Large16MiB => "large_16mib",
            Self::ManySmall => "many_small",
            Self::RandomSizes => "random_sizes",
            Self::PeerExits => "peer_exits",
            Self::ListenerDrops => "listener_drops",
            Self::TooLarge => "too_large",
            Self::KilledReceiverMidStream => "killed_receiver_mid_stream",
            Self::KilledReceiverMidStreamListener => "killed_receiver_mid_stream_listener",
            Self::KilledReceiverBlockedSend => "killed_receiver_blocked_send",
            Self::KilledReceiverBlockedSendListener => "killed_receiver_blocked_send_listener",
            Self::KilledSenderMidMessage => "killed_sender_mid_message",
            Self::KilledSenderMidMessageListener => "killed_sender_mid_message_listener",
        }
    }

    /// The case a test name (as in a `skip = [...]` list) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL_CASES.into_iter().find(|c| c.name() == name)
    }

    /// Whether the test kills the peer process.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Self::KilledReceiverMidStream
                | Self::KilledReceiverMidStreamListener
                | Self::KilledReceiverBlockedSend
                | Self::KilledReceiverBlockedSendListener
                | Self::KilledSenderMidMessage
                | Self::KilledSenderMidMessageListener
        )
    }

    /// Whether the peer process is the listening side (the test process
    /// then connects).
    fn peer_listens(self) -> bool {
        matches!(
            self,
            Self::KilledReceiverMidStreamListener
                | Self::KilledReceiverBlockedSendListener
                | Self::KilledSenderMidMessageListener
        )
    }
}

/// Generates the conformance tests for one backend in a module called `$name`.
///
/// `suite!(name, Type)` runs every case. `suite!(name, Type, skip = [case =>
/// "reason", ...])` skips the named cases (test names as generated here),
/// printing the reason; an unknown name fails the `skip_list_is_valid` test.
#[macro_export]
macro_rules! suite {
    ($name:ident, $t:ty) => {
        $crate::suite!($name, $t, skip = []);
    };
    ($name:ident, $t:ty, skip = [$($skip:ident => $why:literal),* $(,)?]) => {
        mod $name {
            /// Cases this backend opts out of, with the reason.
            const SKIP: &[(&str, &str)] = &[$((stringify!($skip), $why)),*];
            fn run(case: $crate::Case, test: &str) {
                $crate::run_unless_skipped::<$t>(case, module_path!(), test, SKIP);
            }
            #[test]
            fn fifo_order() {
                run($crate::Case::FifoOrder, "fifo_order")
            }
            #[test]
            fn boundaries() {
                run($crate::Case::Boundaries, "boundaries")
            }
            #[test]
            fn empty_and_one_byte() {
                run($crate::Case::EmptyAndOneByte, "empty_and_one_byte")
            }
            #[test]
            fn large_16mib() {
                run($crate::Case::Large16MiB, "large_16mib")
            }
            #[test]
            fn many_small() {
                run($crate::Case::ManySmall, "many_small")
            }
            #[test]
            fn random_sizes() {
                run($crate::Case::RandomSizes, "random_sizes")
            }
            #[test]
            fn peer_exits() {
                run($crate::Case::PeerExits, "peer_exits")
            }
            #[test]
            fn listener_drops() {
                run($crate::Case::ListenerDrops, "listener_drops")
            }
            #[test]
            fn too_large() {
                run($crate::Case::TooLarge, "too_large")
            }
            #[test]
            fn killed_receiver_mid_stream() {
                run($crate::Case::KilledReceiverMidStream, "killed_receiver_mid_stream")
            }
            #[test]
            fn killed_receiver_mid_stream_listener() {
                run($crate::Case::KilledReceiverMidStreamListener, "killed_receiver_mid_stream_listener")
            }
            #[test]
            fn killed_receiver_blocked_send() {
                run($crate::Case::KilledReceiverBlockedSend, "killed_receiver_blocked_send")
            }
            #[test]
            fn killed_receiver_blocked_send_listener() {
                run($crate::Case::KilledReceiverBlockedSendListener, "killed_receiver_blocked_send_listener")
            }
            #[test]
            fn killed_sender_mid_message() {
                run($crate::Case::KilledSenderMidMessage, "killed_sender_mid_message")
            }
            #[test]
            fn killed_sender_mid_message_listener() {
                run($crate::Case::KilledSenderMidMessageListener, "killed_sender_mid_message_listener")
            }
            #[test]
            fn intruder_is_refused() {
                $crate::intruder::<$t>(module_path!(), "intruder_is_refused", true)
            }
            #[test]
            fn intruder_alone_is_named() {
                $crate::intruder::<$t>(module_path!(), "intruder_alone_is_named", false)
            }
            #[test]
            fn accept_times_out_without_peer() {
                $crate::accept_times_out::<$t>()
            }
            #[test]
            fn malformed_endpoint_is_an_error() {
                $crate::malformed_endpoint::<$t>()
            }
            #[test]
            fn skip_list_is_valid() {
                $crate::check_skip_list(SKIP)
            }
        }
    };
}

/// Runs one case unless the backend's `suite!` line opted out of it; a
/// skipped case says so, with the reason, on stderr.
pub fn run_unless_skipped<T: Transport>(
    case: Case,
    module: &str,
    test: &str,
    skip: &[(&str, &str)],
) {
    if let Some((_, why)) = skip.iter().find(|(name, _)| *name == case.name()) {
        // Straight to stderr, past libtest's output capture: a skip must show.
        let _ = writeln!(
            std::io::stderr(),
            "conformance: {} {}: SKIPPED by this backend's suite! line: {why}",
            T::NAME,
            case.name()
        );
        return;
    }
    run::<T>(case, module, test);
}

/// Fails on a `skip = [...]` entry that names no case (a typo would
/// otherwise skip nothing and hide the opt-out from review).
pub fn check_skip_list(skip: &[(&str, &str)]) {
    for (name, why) in skip {
        assert!(
            Case::from_name(name).is_some(),
            "skip list names {name:?}, which is not a conformance case"
        );
        assert!(!why.trim().is_empty(), "skipping {name} needs a reason");
    }
}

/// Runs one case: one side here, the other in a re-executed copy of this
/// test binary. Normally this process listens and the peer connects; for the
/// `*_listener` fault cases it is the other way round.
pub fn run<T: Transport>(case: Case, module: &str, test: &str) {
    if let Ok(which) = std::env::var(ENV_CASE) {
        assert_eq!(
            which,
            case.name(),
            "peer process started for the wrong case"
        );
        peer_process::<T>(case);
        return;
    }
    let opts = Options::unique("conf");
    let opts_tag = opts.tag.clone();
    let mut cmd = process::self_command(module, test);
    cmd.env(ENV_CASE, case.name()).env(ENV_TAG, &opts.tag);
    let mut listener = if case.peer_listens() {
        cmd.env(ENV_LISTEN, "1");
        None
    } else {
        let setup = hygiene::setup_lock();
        let before = hygiene::inheritable_fds();
        let (listener, endpoint) = T::listen(&opts).expect("listen");
        // Before the peer is spawned: it would inherit a leaked descriptor.
        let markers = hygiene::markers(T::NAME, &opts.tag, endpoint.public());
        hygiene::assert_close_on_exec(T::NAME, "listen", &before, &markers);
        drop(setup);
        cmd.env(ENV_ENDPOINT, &endpoint.0);
        Some((listener, endpoint))
    };
    let mut guard = process::spawn(&mut cmd);
    let peer_pid = guard.child.id();
    if let Some((listener, _)) = &mut listener {
        // Every case runs with the peer check on: the real peer must pass it.
        listener.expect_peer(peer_pid);
    }
    let endpoint_rx = case
        .peer_listens()
        .then(|| process::watch_stdout(&mut guard));

    let (done_tx, done_rx) = mpsc::channel();
    let body = thread::spawn(move || {
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
                let ep = transport::Endpoint(endpoint.clone());
                (T::connect(&ep, &opts).expect("connect"), endpoint)
            }
        };
        let markers = hygiene::markers(T::NAME, &opts.tag, Endpoint(endpoint.clone()).public());
        hygiene::assert_close_on_exec(T::NAME, "connecting", &before, &markers);
        drop(setup);
        test_side::<T>(case, tx, rx, peer_pid);
        let _ = done_tx.send(endpoint);
    });
    let endpoint = match done_rx.recv_timeout(WATCHDOG) {
        Ok(endpoint) => endpoint,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = process::reap(&mut guard, Duration::from_secs(5));
            let err = body
                .join()
                .err()
                .map(process::panic_text)
                .unwrap_or_default();
            panic!(
                "{}: test side failed: {err}\npeer: {}",
                case.name(),
                process::describe(&mut guard, status)
            );
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = guard.child.kill();
            panic!(
                "{}: watchdog: no progress within {WATCHDOG:?} (deadlock?)",
                case.name()
            );
        }
    };
    let status = process::reap(&mut guard, WATCHDOG / 2);
    if case.is_fault() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(libc::SIGKILL),
            "{}: the peer should have died of our SIGKILL: {}",
            case.name(),
            process::describe(&mut guard, status)
        );
    } else {
        let ok = status.is_some_and(|s| s.success());
        assert!(
            ok,
            "{}: peer process failed: {}",
            case.name(),
            process::describe(&mut guard, status)
        );
    }
    let markers = hygiene::markers(T::NAME, &opts_tag, Endpoint(endpoint).public());
    hygiene::assert_nothing_left(T::NAME, case.name(), &markers);
}

/// The peer process's part of a case: listen or connect as the environment
/// says, then play the peer side.
fn peer_process<T: Transport>(case: Case) {
    let mut opts = Options::unique("conf");
    opts.tag = std::env::var(ENV_TAG).expect("tag variable");
    process::arm_process_watchdog();
    let (tx, rx) = if std::env::var_os(ENV_LISTEN).is_some() {
        let (mut listener, endpoint) = T::listen(&opts).expect("peer: listen");
        listener.expect_peer(std::os::unix::process::parent_id());
        println!("\n{ENDPOINT_LINE}{}", endpoint.0);
        let _ = std::io::stdout().flush();
        listener
            .accept(Instant::now() + WATCHDOG / 2)
            .expect("peer: accept")
    } else {
        let endpoint = transport::Endpoint(std::env::var(ENV_ENDPOINT).expect("endpoint variable"));
        T::connect(&endpoint, &opts).expect("peer: connect")
    };
    peer_side::<T>(case, tx, rx);
}

/// Message `seq` of `len` bytes: every byte depends on both, so loss, reorder,
/// truncation and stale data all show.
pub fn message(seq: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill(seq, &mut v);
    v
}

fn fill(seq: u64, buf: &mut [u8]) {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ buf.len() as u64;
    for chunk in buf.chunks_mut(8) {
        x = splitmix(x);
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn check(seq: u64, got: &[u8], want_len: usize) {
    assert_eq!(got.len(), want_len, "message #{seq}: length");
    let want = message(seq, want_len);
    assert!(
        got == want.as_slice(),
        "message #{seq} of {want_len} bytes: contents differ"
    );
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn random_sizes() -> Vec<usize> {
    let mut x = 0x1234_5678u64;
    (0..1000)
        .map(|_| {
            x = splitmix(x);
            (x % (1 << 20) + 1) as usize
        })
        .collect()
}

const BOUNDARY_SIZES: [usize; 12] = [1, 2, 3, 7, 8, 9, 100, 4095, 4096, 4097, 65_537, 200_000];

fn cap<T: Transport>(len: usize) -> usize {
    len.min(T::capabilities().max_message_size)
}

fn recv_check(rx: &mut impl Receiver, seq: u64, len: usize) {
    let got = rx.recv().unwrap_or_else(|e| panic!("recv #{seq}: {e}"));
    check(seq, got, len);
}

fn send(tx: &mut impl Sender, seq: u64, len: usize) {
    tx.send(&message(seq, len))
        .unwrap_or_else(|e| panic!("send #{seq} ({len} bytes): {e}"));
}

/// Echoes every message back until the listener disconnects.
fn echo_until_disconnect(tx: &mut impl Sender, rx: &mut impl Receiver) {
    loop {
        match rx.recv() {
            Ok(m) => tx.send(m).expect("echo send"),
            Err(RecvError::Disconnected) => return,
            Err(e) => panic!("peer recv: {e}"),
        }
    }
}

fn peer_side<T: Transport>(case: Case, mut tx: T::Sender, mut rx: T::Receiver) {
    match case {
        Case::FifoOrder => {
            for seq in 0..1000 {
                send(&mut tx, seq, 64);
            }
            echo_until_disconnect(&mut tx, &mut rx);
        }
        Case::Boundaries => {
            for (seq, &len) in BOUNDARY_SIZES.iter().enumerate() {
                send(&mut tx, seq as u64, cap::<T>(len));
            }
            echo_until_disconnect(&mut tx, &mut rx);
        }
        Case::EmptyAndOneByte | Case::Large16MiB | Case::RandomSizes => {
            echo_until_disconnect(&mut tx, &mut rx)
        }
        Case::ManySmall => {
            for seq in 0..10_000 {
                send(&mut tx, seq, 16);
            }
            echo_until_disconnect(&mut tx, &mut rx);
        }
        Case::PeerExits => {
            for seq in 0..3 {
                send(&mut tx, seq, 100);
            }
            // Leave without any goodbye: the listener must notice on its own.
            std::process::exit(0);
        }
        Case::ListenerDrops => {
            recv_check(&mut rx, 0, 10);
            match rx.recv() {
                Err(RecvError::Disconnected) => {}
                other => panic!(
                    "expected Disconnected after the listener dropped, got {:?}",
                    other.map(<[u8]>::len)
                ),
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            let msg = message(1, 4096);
            loop {
                match tx.send(&msg) {
                    Err(SendError::Disconnected) => break,
                    Ok(()) if Instant::now() < deadline => {}
                    other => {
                        panic!("send to a gone listener: expected Disconnected, got {other:?}")
                    }
                }
            }
        }
        Case::TooLarge => echo_until_disconnect(&mut tx, &mut rx),
        Case::KilledReceiverMidStream | Case::KilledReceiverMidStreamListener => {
            let len = cap::<T>(STREAM_LEN);
            for seq in 0..STREAM_BEFORE_KILL {
                recv_check(&mut rx, seq, len);
            }
            send(&mut tx, 0, 8);
            // Go on consuming until the test kills us.
            for seq in STREAM_BEFORE_KILL.. {
                recv_check(&mut rx, seq, len);
            }
        }
        Case::KilledReceiverBlockedSend | Case::KilledReceiverBlockedSendListener => {
            recv_check(&mut rx, 0, cap::<T>(16 << 20));
            send(&mut tx, 0, 8);
            // Stop reading, so the next large send blocks; then be killed.
            thread::sleep(WATCHDOG);
        }
        Case::KilledSenderMidMessage | Case::KilledSenderMidMessageListener => {
            send(&mut tx, 0, 8);
            let len = cap::<T>(16 << 20);
            // Blocks inside one of these once the buffers are full, which is
            // where the test kills us.
            for seq in 1.. {
                send(&mut tx, seq, len);
            }
        }
    }
}

/// Message size of the streaming fault case.
const STREAM_LEN: usize = 4096;
/// Messages the streaming fault case delivers before the kill.
const STREAM_BEFORE_KILL: u64 = 100;

/// Sends numbered messages until `send` reports Disconnected, which it must
/// do at the latest [`NOTICE_DEADLINE`] after `dead` (the kill was sent) is
/// set, and not before.
fn send_until_disconnected(
    what: &str,
    tx: &mut impl Sender,
    mut seq: u64,
    len: usize,
    dead: &AtomicBool,
) {
    let mut dead_since: Option<Instant> = None;
    let mut accepted = 0u64;
    loop {
        let msg = message(seq, len);
        match tx.send(&msg) {
            Err(SendError::Disconnected) => {
                assert!(
                    dead.load(Ordering::SeqCst),
                    "send reported Disconnected while the peer was alive"
                );
                // The fault matrix in docs/reliability.md records this.
                eprintln!(
                    "conformance: {what}: {accepted} send(s) of {len} bytes accepted after the kill, then Disconnected"
                );
                return;
            }
            Ok(()) => {
                if dead.load(Ordering::SeqCst) {
                    accepted += 1;
                    let since = *dead_since.get_or_insert_with(Instant::now);
                    assert!(
                        since.elapsed() < NOTICE_DEADLINE,
                        "send still succeeds {NOTICE_DEADLINE:?} after the receiver was killed"
                    );
                }
            }
            Err(e) => panic!("send #{seq} to a killed receiver: expected Disconnected, got {e:?}"),
        }
        seq += 1;
    }
}

/// After the peer died: `recv` (with nothing more in flight) reports
/// Disconnected.
fn expect_recv_disconnected(rx: &mut impl Receiver, what: &str) {
    match rx.recv() {
        Err(RecvError::Disconnected) => {}
        other => panic!(
            "{what}: expected Disconnected, got {:?}",
            other.map(<[u8]>::len)
        ),
    }
}

/// Kills the peer from another thread after `delay`, setting `dead` just
/// before the signal goes out.
fn kill_peer_later(peer: u32, delay: Duration, dead: &Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let dead = Arc::clone(dead);
    thread::spawn(move || {
        thread::sleep(delay);
        dead.store(true, Ordering::SeqCst);
        process::kill_peer(peer);
    })
}

fn test_side<T: Transport>(case: Case, mut tx: T::Sender, mut rx: T::Receiver, peer: u32) {
    let label = format!("{} {}", T::NAME, case.name());
    match case {
        Case::FifoOrder => {
            for seq in 0..1000 {
                recv_check(&mut rx, seq, 64);
            }
            for seq in 0..1000 {
                send(&mut tx, seq, 32);
                recv_check(&mut rx, seq, 32);
            }
        }
        Case::Boundaries => {
            for (seq, &len) in BOUNDARY_SIZES.iter().enumerate() {
                recv_check(&mut rx, seq as u64, cap::<T>(len));
            }
        }
        Case::EmptyAndOneByte => {
            for (seq, len) in [0usize, 1, 0, 1, 0].into_iter().enumerate() {
                send(&mut tx, seq as u64, len);
                recv_check(&mut rx, seq as u64, len);
            }
        }
        Case::Large16MiB => {
            let len = cap::<T>(16 << 20);
            send(&mut tx, 7, len);
            recv_check(&mut rx, 7, len);
        }
        Case::ManySmall => {
            for seq in 0..10_000 {
                recv_check(&mut rx, seq, 16);
            }
        }
        Case::RandomSizes => {
            let sizes: Vec<usize> = random_sizes().into_iter().map(cap::<T>).collect();
            for (seq, &len) in sizes.iter().enumerate() {
                send(&mut tx, seq as u64, len);
                recv_check(&mut rx, seq as u64, len);
            }
        }
        Case::PeerExits => {
            for seq in 0..3 {
                recv_check(&mut rx, seq, 100);
            }
            match rx.recv() {
                Err(RecvError::Disconnected) => {}
                other => panic!(
                    "expected Disconnected after the peer exited, got {:?}",
                    other.map(<[u8]>::len)
                ),
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            let msg = message(9, 4096);
            loop {
                match tx.send(&msg) {
                    Err(SendError::Disconnected) => break,
                    Ok(()) if Instant::now() < deadline => {}
                    other => panic!("send to an exited peer: expected Disconnected, got {other:?}"),
                }
            }
        }
        Case::ListenerDrops => {
            send(&mut tx, 0, 10);
            drop(tx);
            drop(rx);
        }
        Case::TooLarge => {
            let max = T::capabilities().max_message_size;
            // Only testable where max + 1 bytes is a reasonable allocation.
            if max < 64 << 20 {
                let big = vec![0u8; max + 1];
                match tx.send(&big) {
                    Err(SendError::TooLarge { size, max: m }) => {
                        assert_eq!((size, m), (max + 1, max));
                    }
                    other => panic!("expected TooLarge for {} bytes, got {other:?}", max + 1),
                }
            }
            // The connection still works after a refused send, up to the
            // maximum where that is a reasonable allocation.
            let len = max.min(64 << 20);
            send(&mut tx, 1, len);
            recv_check(&mut rx, 1, len);
        }
        Case::KilledReceiverMidStream | Case::KilledReceiverMidStreamListener => {
            let len = cap::<T>(STREAM_LEN);
            for seq in 0..STREAM_BEFORE_KILL {
                send(&mut tx, seq, len);
            }
            recv_check(&mut rx, 0, 8);
            // Killed while it is consuming and we are sending.
            let dead = Arc::new(AtomicBool::new(false));
            let killer = kill_peer_later(peer, Duration::from_millis(20), &dead);
            send_until_disconnected(&label, &mut tx, STREAM_BEFORE_KILL, len, &dead);
            killer.join().expect("killer thread");
            expect_recv_disconnected(&mut rx, "recv from a killed peer");
        }
        Case::KilledReceiverBlockedSend | Case::KilledReceiverBlockedSendListener => {
            let len = cap::<T>(16 << 20);
            send(&mut tx, 0, len);
            recv_check(&mut rx, 0, 8);
            // The peer no longer reads: the next send fills the buffers and
            // blocks, and the kill lands while it is blocked (if the delay
            // was too short, it lands between sends: the check still holds).
            let dead = Arc::new(AtomicBool::new(false));
            let killer = kill_peer_later(peer, Duration::from_millis(300), &dead);
            send_until_disconnected(&label, &mut tx, 1, len, &dead);
            killer.join().expect("killer thread");
            expect_recv_disconnected(&mut rx, "recv from a killed peer");
        }
        Case::KilledSenderMidMessage | Case::KilledSenderMidMessageListener => {
            recv_check(&mut rx, 0, 8);
            // The peer is now filling the buffers with 16 MiB messages and
            // blocks inside one; kill it there.
            thread::sleep(Duration::from_millis(300));
            process::kill_peer(peer);
            let len = cap::<T>(16 << 20);
            for seq in 1.. {
                match rx.recv() {
                    // Whatever arrives whole must be exactly what was sent.
                    Ok(got) => check(seq, got, len),
                    Err(e @ (RecvError::Disconnected | RecvError::Corrupt(_))) => {
                        // The fault matrix in docs/reliability.md records this.
                        eprintln!(
                            "conformance: {} {}: {} whole message(s), then {e}",
                            T::NAME,
                            case.name(),
                            seq - 1
                        );
                        break;
                    }
                    Err(e) => panic!(
                        "recv from a sender killed mid-message: expected Disconnected or Corrupt, got {e:?}"
                    ),
                }
            }
            let dead = AtomicBool::new(true);
            send_until_disconnected(&label, &mut tx, 0, 4096, &dead);
        }
    }
}

/// `accept` with nobody connecting returns Timeout close to the deadline.
pub fn accept_times_out<T: Transport>() {
    let (listener, _endpoint) = T::listen(&Options::unique("conf")).expect("listen");
    let start = Instant::now();
    let res = listener.accept(start + Duration::from_millis(200));
    let took = start.elapsed();
    assert!(
        matches!(res, Err(transport::OpenError::Timeout)),
        "expected Timeout, got {:?}",
        res.err()
    );
    assert!(
        took < Duration::from_secs(5),
        "accept overran its deadline: {took:?}"
    );
}

/// `connect` to garbage is an error, not a panic or a hang.
pub fn malformed_endpoint<T: Transport>() {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let opts = Options::unique("conf");
        let res = T::connect(&transport::Endpoint("nonsense:\u{0}:-1".into()), &opts);
        let _ = done_tx.send(res.is_err());
    });
    let is_err = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("connect to garbage hung");
    assert!(is_err, "connect to a malformed endpoint succeeded");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_depend_on_sequence_and_length() {
        assert_ne!(message(1, 64), message(2, 64));
        assert_ne!(&message(1, 64)[..32], &message(1, 32)[..]);
        assert!(message(5, 0).is_empty());
    }

    #[test]
    fn case_names_are_unique_and_round_trip() {
        let mut names: Vec<_> = ALL_CASES.iter().map(|c| c.name()).collect();
        for c in ALL_CASES {
            assert_eq!(Case::from_name(c.name()), Some(c));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_CASES.len());
        assert_eq!(Case::from_name("no_such_case"), None);
    }

    #[test]
    fn skip_lists_are_checked() {
        check_skip_list(&[("killed_receiver_blocked_send", "a reason")]);
        assert!(std::panic::catch_unwind(|| check_skip_list(&[("typo", "reason")])).is_err());
        assert!(std::panic::catch_unwind(|| check_skip_list(&[("too_large", " ")])).is_err());
    }

    #[test]
    fn random_sizes_stay_in_range() {
        let s = random_sizes();
        assert_eq!(s.len(), 1000);
        assert!(s.iter().all(|&l| (1..=1 << 20).contains(&l)));
    }
}
