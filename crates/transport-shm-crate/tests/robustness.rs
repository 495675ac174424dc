//! `shm-crate` against a hostile peer and in /dev/shm: forged lengths and
//! events give `Corrupt` or `Disconnected`, never a panic, a hang or a short
//! message; a forged header is refused at connect; the segment's name is
//! gone once connected, and when the listener is dropped or times out.

use std::path::Path;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::atomic::fence;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use raw_sync::Timeout;
use raw_sync::events::{BusyEvent, EventImpl, EventInit, EventState};
use shared_memory::{Shmem, ShmemConf};
use transport::{Endpoint, Listener, OpenError, Options, Receiver, RecvError, Sender, Transport};
use transport_shm_crate::segment::{CTRL_OFFSET, CTRL_SIZE, Control, Ident, Which, event_offset};
use transport_shm_crate::{ShmCrate, ShmCrateReceiver, ShmCrateSender};

/// A deadlock fails the test instead of hanging the run.
const WATCHDOG: Duration = Duration::from_secs(30);

/// Another mapping of the segment, as a misbehaving peer would hold it.
struct Hostile(Shmem);

impl Hostile {
    fn open(endpoint: &Endpoint) -> Self {
        let name = endpoint.0.strip_prefix("shm-crate:").expect("endpoint");
        Self(ShmemConf::new().os_id(name).open().expect("open segment"))
    }

    fn ident(&self) -> &Ident {
        // SAFETY: the header is at the start of the mapping; its fields are
        // atomics.
        unsafe { &*self.0.as_ptr().cast::<Ident>() }
    }

    fn ctrl(&self, dir: usize) -> &Control {
        // SAFETY: as in the crate's `Segment::ctrl`.
        unsafe {
            &*self
                .0
                .as_ptr()
                .add(CTRL_OFFSET + dir * CTRL_SIZE)
                .cast::<Control>()
        }
    }

    fn event(&self, dir: usize, which: Which) -> Box<dyn EventImpl> {
        // SAFETY: inside the mapping, which outlives the event in each test.
        let (ev, _) =
            unsafe { BusyEvent::from_existing(self.0.as_ptr().add(event_offset(dir, which))) }
                .expect("event");
        ev
    }

    /// Puts a chunk header into direction `dir`'s slot and signals it, as
    /// the writer would.
    fn forge(&self, dir: usize, total: u64, len: u64) {
        let c = self.ctrl(dir);
        c.total.store(total, Relaxed);
        c.len.store(len, Relaxed);
        fence(Release);
        self.event(dir, Which::Full)
            .set(EventState::Signaled)
            .expect("signal");
    }
}

/// Listener and connector halves in this process, plus a hostile mapping
/// (opened before `accept` removes the name).
fn connected() -> (
    (ShmCrateSender, ShmCrateReceiver),
    (ShmCrateSender, ShmCrateReceiver),
    Hostile,
) {
    let opts = Options::unique("shmcrate-robust");
    let (listener, endpoint) = ShmCrate::listen(&opts).expect("listen");
    let hostile = Hostile::open(&endpoint);
    let peer = ShmCrate::connect(&endpoint, &opts).expect("connect");
    let ours = listener
        .accept(Instant::now() + Duration::from_secs(10))
        .expect("accept");
    (ours, peer, hostile)
}

/// Runs `f` on a thread and fails if it does not finish within the watchdog.
fn within_watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(WATCHDOG).expect("hung or panicked")
}

fn corrupt(res: Result<&[u8], RecvError>) -> String {
    match res {
        Err(RecvError::Corrupt(why)) => why,
        other => panic!("expected Corrupt, got {:?}", other.map(<[u8]>::len)),
    }
}

#[test]
fn forged_lengths_are_corrupt_and_stay_so() {
    let slot = transport_shm_crate::slot_size_for(Options::unique("x").expected_max_message) as u64;
    let cases = [
        (u64::MAX, 8, "maximum"),
        (transport_shm_crate::MAX_MESSAGE as u64 + 1, 8, "maximum"),
        (4 * slot, slot + 1, "slot"),
        (10, 11, "remain"),
        (10, 0, "remain"),
    ];
    for (total, len, says) in cases {
        let (_ours, (_tx, mut rx), hostile) = connected();
        hostile.forge(0, total, len);
        let why = within_watchdog(move || {
            let first = corrupt(rx.recv());
            assert_eq!(corrupt(rx.recv()), first, "the receiver is poisoned");
            first
        });
        assert!(why.contains(says), "{total}/{len}: {why}");
    }
}

#[test]
fn a_length_changing_mid_message_is_corrupt() {
    let (_ours, (_tx, mut rx), hostile) = connected();
    let slot = rx_slot();
    let got = thread::spawn(move || corrupt(rx.recv()));
    // Take the listener's `empty` signal first, as its writer would.
    let empty = hostile.event(0, Which::Empty);
    empty.wait(Timeout::Val(WATCHDOG)).expect("slot empty");
    hostile.forge(0, 4 * slot, slot);
    empty
        .wait(Timeout::Val(WATCHDOG))
        .expect("first chunk taken");
    hostile.forge(0, 3 * slot, slot);
    let why = got.join().expect("receiver");
    assert!(why.contains("changed"), "{why}");
}

fn rx_slot() -> u64 {
    transport_shm_crate::slot_size_for(Options::unique("x").expected_max_message) as u64
}

#[test]
fn a_garbage_event_is_not_a_signal() {
    let (ours, (tx, mut rx), hostile) = connected();
    // Neither 0 nor 1: raw_sync's auto-reset wait never takes it.
    // SAFETY: the event's first byte is its signal word.
    unsafe { *hostile.0.as_ptr().add(event_offset(0, Which::Full)) = 7 };
    hostile.ctrl(0).total.store(8, Relaxed);
    hostile.ctrl(0).len.store(8, Relaxed);
    let waiting = thread::spawn(move || matches!(rx.recv(), Err(RecvError::Disconnected)));
    thread::sleep(Duration::from_millis(50));
    drop(ours);
    assert!(waiting.join().expect("receiver"), "expected Disconnected");
    drop(tx);
}

#[test]
fn a_forged_header_is_refused_at_connect() {
    type Forge = fn(&Ident);
    let forgeries: [(Forge, &str); 3] = [
        (|id| id.magic.store(0, Relaxed), "header"),
        (|id| id.slot_size.store(1 << 40, Relaxed), "slot"),
        (|id| id.listener_pid.store(1, Relaxed), "created by"),
    ];
    for (forge, says) in forgeries {
        let opts = Options::unique("shmcrate-forged");
        let (listener, endpoint) = ShmCrate::listen(&opts).expect("listen");
        let hostile = Hostile::open(&endpoint);
        forge(hostile.ident());
        match ShmCrate::connect(&endpoint, &opts) {
            Err(OpenError::Backend(why)) => assert!(why.contains(says), "{why}"),
            other => panic!("expected a refusal naming {says:?}, got {:?}", other.err()),
        }
        drop(listener);
    }
}

fn shm_path(endpoint: &Endpoint) -> String {
    format!(
        "/dev/shm/{}",
        endpoint.0.strip_prefix("shm-crate:/").expect("endpoint")
    )
}

#[test]
fn the_name_goes_once_connected_or_when_the_listener_ends() {
    let opts = Options::unique("shmcrate-name");
    let (listener, endpoint) = ShmCrate::listen(&opts).expect("listen");
    let path = shm_path(&endpoint);
    assert!(Path::new(&path).exists(), "{path} after listen");
    let (mut ptx, mut prx) = ShmCrate::connect(&endpoint, &opts).expect("connect");
    let (mut tx, mut rx) = listener
        .accept(Instant::now() + Duration::from_secs(10))
        .expect("accept");
    assert!(!Path::new(&path).exists(), "{path} after accept");
    // The connection works without the name.
    tx.send(b"ping").expect("send");
    assert_eq!(prx.recv().expect("recv"), b"ping");
    ptx.send(&[]).expect("send");
    assert_eq!(rx.recv().expect("recv"), b"");

    let (listener, endpoint) = ShmCrate::listen(&opts).expect("listen");
    drop(listener);
    assert!(!Path::new(&shm_path(&endpoint)).exists(), "after drop");

    let (listener, endpoint) = ShmCrate::listen(&opts).expect("listen");
    let res = listener.accept(Instant::now() + Duration::from_millis(20));
    assert!(matches!(res, Err(OpenError::Timeout)), "{:?}", res.err());
    assert!(!Path::new(&shm_path(&endpoint)).exists(), "after a timeout");
}

#[test]
fn large_messages_cross_in_chunks() {
    let ((mut tx, _rx), (_ptx, mut prx), _hostile) = connected();
    let slot = rx_slot() as usize;
    let msg: Vec<u8> = (0..3 * slot + 17).map(|i| (i % 251) as u8).collect();
    let expect = msg.clone();
    let reader = thread::spawn(move || prx.recv().map(<[u8]>::to_vec).expect("recv"));
    tx.send(&msg).expect("send");
    assert_eq!(reader.join().expect("reader"), expect);
}
