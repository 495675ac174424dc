//! Robustness of the shared-memory transport against a hostile or dead peer,
//! and its hygiene in /dev/shm: forged records give `Corrupt`, a peer killed
//! with SIGKILL is noticed whether we wait in `recv` or on a full ring,
//! leftovers of dead runs are reclaimed, and nothing of ours is left behind.

use std::process::Command;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::{Duration, Instant};

use transport::{Endpoint, Listener, Options, Receiver, RecvError, SendError, Sender, Transport};
use transport_shm::ring::kind;
use transport_shm::segment::{PAGE, SegHeader};
use transport_shm::{ShmAdaptive, ShmBlock, ShmSpin};

/// One side's sender and receiver.
type Halves<T> = (<T as Transport>::Sender, <T as Transport>::Receiver);

/// Both ends in this process, connected, plus a third, hostile mapping of
/// the segment (made before `accept`, which closes the listener's memfd).
fn connected<T: Transport>() -> (Halves<T>, Halves<T>, Hostile) {
    let opts = Options::unique("shm-robust");
    let (listener, endpoint) = T::listen(&opts).expect("listen");
    let hostile = Hostile::map(&endpoint);
    let peer = T::connect(&endpoint, &opts).expect("connect");
    let ours = listener
        .accept(Instant::now() + Duration::from_secs(10))
        .expect("accept");
    (ours, peer, hostile)
}

/// Another mapping of the segment an endpoint names, as a misbehaving peer
/// process would have.
struct Hostile {
    base: NonNull<u8>,
    len: usize,
}

impl Hostile {
    fn map(endpoint: &Endpoint) -> Self {
        let mut parts = endpoint.0.split(':');
        assert_eq!(parts.next(), Some("shm"));
        let pid = parts.next().expect("pid");
        let fd = parts.next().expect("fd");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/proc/{pid}/fd/{fd}"))
            .expect("open segment");
        let len = file.metadata().expect("stat").len() as usize;
        // SAFETY: a fresh shared mapping of the segment; we only touch it
        // through atomics.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                &file,
                0,
            )
        }
        .expect("mmap");
        Self {
            base: NonNull::new(ptr.cast()).expect("non-null"),
            len,
        }
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        assert!(off + 8 <= self.len && off.is_multiple_of(8));
        // SAFETY: in bounds, aligned, shared memory accessed atomically.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off).cast()) }
    }

    /// Forges a published record at `pos` of ring 0 (listener -> connector).
    fn forge(&self, pos: u64, kind: u32, len: u32) {
        let ring = (self.len - PAGE) / 2;
        let off = PAGE + (pos as usize % ring);
        self.word(off + 8)
            .store((u64::from(kind) << 32) | u64::from(len), Relaxed);
        self.word(off).store(pos + 1, Relaxed);
    }

    /// The shared `head` of ring 0, as the connector publishes it.
    fn ring0_head(&self) -> &AtomicU64 {
        let off = std::mem::offset_of!(SegHeader, rings);
        // `head` is the second 128-byte block of a RingCtrl.
        self.word(off + 128)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped; no reference outlives us.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

fn expect_corrupt(rx: &mut impl Receiver, what: &str) {
    match rx.recv() {
        Err(RecvError::Corrupt(why)) => assert!(!why.is_empty()),
        other => panic!("{what}: expected Corrupt, got {:?}", other.map(<[u8]>::len)),
    }
    // The stream stays poisoned instead of resynchronising on garbage.
    assert!(
        matches!(rx.recv(), Err(RecvError::Corrupt(_))),
        "{what}: second recv"
    );
}

#[test]
fn forged_records_are_corrupt() {
    let cases: [(&str, u32, u32); 5] = [
        ("length beyond the ring", kind::MSG, u32::MAX - 7),
        (
            "total beyond the maximum message",
            kind::BEGIN,
            (1 << 30) + 1,
        ),
        ("unknown kind", 0x77, 8),
        ("chunk without begin", kind::CHUNK, 8),
        ("padding not reaching the end", kind::PAD, 16),
    ];
    for (what, k, len) in cases {
        let (_ours, (_ptx, mut prx), hostile) = connected::<ShmBlock>();
        hostile.forge(0, k, len);
        expect_corrupt(&mut prx, what);
    }
}

#[test]
fn begin_followed_by_a_whole_message_is_corrupt() {
    let (_ours, (_ptx, mut prx), hostile) = connected::<ShmBlock>();
    // A chunked message of 100 bytes, then a MSG record where a chunk belongs.
    hostile.forge(16, kind::MSG, 8);
    hostile.forge(0, kind::BEGIN, 100);
    expect_corrupt(&mut prx, "message inside a chunked message");
}

#[test]
fn genuine_messages_before_a_forged_one_are_delivered() {
    let ((mut tx, _rx), (_ptx, mut prx), hostile) = connected::<ShmSpin>();
    tx.send(b"genuine").expect("send");
    // Forge the record after it (one cache line: records are line-aligned).
    let next = transport_shm::ring::record_size(b"genuine".len(), transport_shm::ring::LINE)
        .expect("small record");
    hostile.forge(next as u64, kind::MSG, u32::MAX);
    assert_eq!(prx.recv().expect("genuine message"), b"genuine");
    expect_corrupt(&mut prx, "forged after genuine");
}

#[test]
fn hostile_consumer_index_fails_the_sender() {
    let ((mut tx, _rx), _peer, hostile) = connected::<ShmBlock>();
    hostile.ring0_head().store(u64::MAX / 2, Relaxed);
    let msg = vec![0u8; 64 << 10];
    // The sender reads head only when its cached copy says the ring is full.
    let err = loop {
        match tx.send(&msg) {
            Ok(()) => {}
            Err(e) => break e,
        }
    };
    assert!(matches!(err, SendError::Backend(_)), "{err:?}");
}

#[test]
fn mismatched_variant_and_second_connector_are_refused() {
    let opts = Options::unique("shm-robust");
    let (_listener, endpoint) = ShmBlock::listen(&opts).expect("listen");
    assert!(ShmSpin::connect(&endpoint, &opts).is_err());
    let _first = ShmBlock::connect(&endpoint, &opts).expect("first connector");
    assert!(ShmBlock::connect(&endpoint, &opts).is_err());
    assert!(ShmBlock::connect(&Endpoint("shm:1:0:ipcbench-shm-x".into()), &opts).is_err());
}

// ---- dead peer -------------------------------------------------------------

const ENV_ROLE: &str = "SHM_ROBUST_ROLE";
const ENV_ENDPOINT: &str = "SHM_ROBUST_ENDPOINT";

/// The child: connects, says "ready", then neither reads nor exits until it
/// is killed (or its watchdog ends it, should the parent itself die).
fn child_role<T: Transport>() {
    conformance::arm_process_watchdog();
    let endpoint = Endpoint(std::env::var(ENV_ENDPOINT).expect("endpoint"));
    let (mut tx, _rx) = T::connect(&endpoint, &Options::unique("shm-robust")).expect("connect");
    tx.send(b"ready").expect("send ready");
    loop {
        thread::park();
    }
}

#[derive(Clone, Copy)]
enum Waiting {
    InRecv,
    OnFullRing,
}

/// The parent waits (in recv, or in send on a full ring) while its peer is
/// killed with SIGKILL; it must get Disconnected, not hang.
fn dead_peer<T: Transport>(test: &'static str, waiting: Waiting) {
    if std::env::var(ENV_ROLE).is_ok() {
        child_role::<T>();
        return;
    }
    conformance::with_watchdog(test, move || {
        let opts = Options::unique("shm-robust");
        let (listener, endpoint) = T::listen(&opts).expect("listen");
        let mut cmd = conformance::process::self_command(module_path!(), test);
        cmd.env(ENV_ROLE, "peer").env(ENV_ENDPOINT, &endpoint.0);
        let mut guard = conformance::process::spawn(&mut cmd);
        let (mut tx, mut rx) = listener
            .accept(Instant::now() + Duration::from_secs(30))
            .expect("accept");
        assert_eq!(rx.recv().expect("ready"), b"ready");
        let pid = guard.child.id();
        // Kill (without reaping: a zombie must count as dead) once we are
        // surely waiting.
        let killer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            conformance::process::kill_peer(pid);
        });
        match waiting {
            Waiting::InRecv => match rx.recv() {
                Err(RecvError::Disconnected) => {}
                other => panic!("expected Disconnected, got {:?}", other.map(<[u8]>::len)),
            },
            Waiting::OnFullRing => {
                let msg = vec![7u8; 256 << 10];
                loop {
                    match tx.send(&msg) {
                        Ok(()) => {}
                        Err(SendError::Disconnected) => break,
                        Err(e) => panic!("expected Disconnected, got {e}"),
                    }
                }
            }
        }
        killer.join().expect("killer");
        let _ = guard.child.wait();
    });
}

#[test]
fn dead_peer_spin_recv() {
    dead_peer::<ShmSpin>("dead_peer_spin_recv", Waiting::InRecv);
}
#[test]
fn dead_peer_spin_full_ring() {
    dead_peer::<ShmSpin>("dead_peer_spin_full_ring", Waiting::OnFullRing);
}
#[test]
fn dead_peer_adaptive_recv() {
    dead_peer::<ShmAdaptive>("dead_peer_adaptive_recv", Waiting::InRecv);
}
#[test]
fn dead_peer_adaptive_full_ring() {
    dead_peer::<ShmAdaptive>("dead_peer_adaptive_full_ring", Waiting::OnFullRing);
}
#[test]
fn dead_peer_block_recv() {
    dead_peer::<ShmBlock>("dead_peer_block_recv", Waiting::InRecv);
}
#[test]
fn dead_peer_block_full_ring() {
    dead_peer::<ShmBlock>("dead_peer_block_full_ring", Waiting::OnFullRing);
}

// ---- /dev/shm hygiene ------------------------------------------------------

/// A pid that existed and is now gone.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().expect("reap");
    pid
}

#[test]
fn stale_segments_are_reclaimed_at_listen() {
    let me = std::process::id();
    let stale = format!("/dev/shm/ipcbench-shm-{}-stale-test-{me}", dead_pid());
    // Pid 1 never dies: a live run's segment must be left alone.
    let live = format!("/dev/shm/ipcbench-shm-1-live-test-{me}");
    std::fs::write(&stale, b"left by a killed run").expect("create stale segment");
    std::fs::write(&live, b"another run's").expect("create live segment");
    let listened = ShmBlock::listen(&Options::unique("shm-robust"));
    let stale_exists = std::path::Path::new(&stale).exists();
    let live_exists = std::path::Path::new(&live).exists();
    let _ = std::fs::remove_file(&stale);
    let _ = std::fs::remove_file(&live);
    listened.expect("listen");
    assert!(!stale_exists, "{stale} was not reclaimed");
    assert!(live_exists, "{live} belongs to a live process");
}

#[test]
fn nothing_of_ours_is_left_in_dev_shm() {
    let ours = [format!("ipcbench-shm-{}-", std::process::id())];
    let listing = || conformance::hygiene::leftovers(&ours);
    {
        // While a connection is being set up and used...
        let ((mut tx, _rx), (_ptx, mut prx), _e) = connected::<ShmAdaptive>();
        tx.send(b"x").expect("send");
        assert_eq!(prx.recv().expect("recv"), b"x");
        assert!(listing().is_empty(), "{:?}", listing());
        // ...and a listener that is dropped without a peer.
        let _unused = ShmSpin::listen(&Options::unique("shm-robust")).expect("listen");
        assert!(listing().is_empty(), "{:?}", listing());
    }
    assert!(listing().is_empty(), "{:?}", listing());
}
