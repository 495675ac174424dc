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

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use transport::{Listener, Options, Receiver, RecvError, SendError, Sender, Transport};

/// How long a single conformance test may take before it counts as a hang.
pub const WATCHDOG: Duration = Duration::from_secs(60);

const ENV_CASE: &str = "IPCBENCH_CONFORMANCE_CASE";
const ENV_ENDPOINT: &str = "IPCBENCH_CONFORMANCE_ENDPOINT";
const ENV_TAG: &str = "IPCBENCH_CONFORMANCE_TAG";

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
}

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
        }
    }
}

/// Generates the conformance tests for one backend in a module called `$name`.
#[macro_export]
macro_rules! suite {
    ($name:ident, $t:ty) => {
        mod $name {
            fn run(case: $crate::Case, test: &str) {
                $crate::run::<$t>(case, module_path!(), test);
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

/// Kills the peer process when a test ends, however it ends.
struct PeerGuard(Child);

impl Drop for PeerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one case: the listener side here, the connecting side in a re-executed
/// copy of this test binary.
pub fn run<T: Transport>(case: Case, module: &str, test: &str) {
    if let Ok(which) = std::env::var(ENV_CASE) {
        // We are the peer process.
        assert_eq!(
            which,
            case.name(),
            "peer process started for the wrong case"
        );
        let endpoint = transport::Endpoint(std::env::var(ENV_ENDPOINT).expect("endpoint variable"));
        let mut opts = Options::unique("conf");
        opts.tag = std::env::var(ENV_TAG).expect("tag variable");
        arm_process_watchdog();
        let (tx, rx) = T::connect(&endpoint, &opts).expect("peer: connect");
        peer_side::<T>(case, tx, rx);
        return;
    }

    let opts = Options::unique("conf");
    let (listener, endpoint) = T::listen(&opts).expect("listen");
    // libtest names a test by its path without the crate name.
    let test_path = match module.split_once("::") {
        Some((_, rest)) => format!("{rest}::{test}"),
        None => test.to_owned(),
    };
    let exe = std::env::current_exe().expect("current_exe");
    let child = Command::new(exe)
        .args([
            test_path.as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_CASE, case.name())
        .env(ENV_ENDPOINT, &endpoint.0)
        .env(ENV_TAG, &opts.tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peer process");
    let mut guard = PeerGuard(child);

    let (done_tx, done_rx) = mpsc::channel();
    let body = thread::spawn(move || {
        let deadline = Instant::now() + WATCHDOG / 2;
        let (tx, rx) = listener.accept(deadline).expect("accept");
        listener_side::<T>(case, tx, rx);
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(WATCHDOG) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = reap(&mut guard, Duration::from_secs(5));
            let err = body.join().err().map(panic_text).unwrap_or_default();
            panic!(
                "{}: listener side failed: {err}\npeer: {}",
                case.name(),
                describe(&mut guard, status)
            );
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = guard.0.kill();
            panic!(
                "{}: watchdog: no progress within {WATCHDOG:?} (deadlock?)",
                case.name()
            );
        }
    }
    let status = reap(&mut guard, WATCHDOG / 2);
    let ok = status.is_some_and(|s| s.success());
    assert!(
        ok,
        "{}: peer process failed: {}",
        case.name(),
        describe(&mut guard, status)
    );
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

fn reap(guard: &mut PeerGuard, within: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        match guard.0.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(_) => return None,
        }
    }
    None
}

fn describe(guard: &mut PeerGuard, status: Option<ExitStatus>) -> String {
    let mut out = String::new();
    if let Some(mut e) = guard.0.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    if let Some(mut o) = guard.0.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    format!("{status:?}\n{out}")
}

/// The peer process may never outlive a hung test.
fn arm_process_watchdog() {
    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        eprintln!("peer watchdog: no progress within {WATCHDOG:?}");
        std::process::exit(101);
    });
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
    }
}

fn listener_side<T: Transport>(case: Case, mut tx: T::Sender, mut rx: T::Receiver) {
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
    fn random_sizes_stay_in_range() {
        let s = random_sizes();
        assert_eq!(s.len(), 1000);
        assert!(s.iter().all(|&l| (1..=1 << 20).contains(&l)));
    }
}
