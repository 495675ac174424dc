//! The queue as an ipcbench transport (`shm-queue`): one queue per direction,
//! a handshake in the first queue's spare header words, and peer-death
//! detection through the peer's close flag and pid.
//!
//! Shared (`listen_shared`): up to [`MAX_SHARED`] connectors open the same
//! two queues. The queue is multi-consumer, so each record the listener puts
//! is taken by exactly one connector, and multi-producer, so every
//! connector's replies merge into the listener's queue. Each connector
//! registers its pid in a word of the second queue's header (zeroed when it
//! closes); the listener's peer is gone once every such word is zero or names
//! a dead process.

use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use transport::endpoint::Fields;
use transport::{
    Capabilities, Endpoint, Listener, OpenError, Options, Receiver, RecvError, SendError, Sender,
    Transport, WaitStrategy,
};

use crate::ring::{Claim, Held};
use crate::wait::{alive, futex_wait, my_pid};
use crate::{Error, Queue};

/// Largest message: one slot's capacity on every connection (fixed, as the
/// contract's capabilities are static; slots are sparse, so unused capacity
/// costs address space, not memory).
pub const MAX_MESSAGE: usize = 16 << 20;
/// Largest loan: a connection opened for larger messages
/// (`Options::expected_max_message`) gets slots of that size, up to this
/// (four slots per direction, sparse; 256 MiB is the largest size the
/// harness moves). A loan is one slot, written in place.
pub const MAX_LOAN: usize = 256 << 20;
/// Bytes of records the slot count is chosen to hold at the expected size
/// (a receiver that stops reading lets a sender fill every slot: with 16 MiB
/// messages that is slots x 16 MiB of shared memory, so keep it modest).
const BUDGET: usize = 16 << 20;

// Handshake words in the first queue's `aux` area.
const STATE: usize = 0;
const LISTENER_PID: usize = 1;
const CONNECTOR_PID: usize = 2;
/// `CLOSED + side`: that side has dropped its halves.
const CLOSED: usize = 3;
/// How many connectors a shared listener waits for; 0: point to point.
const SHARED: usize = 5;
const CONNECTED: u32 = 1;
/// The most connectors one shared listener takes: one registration word
/// each in the second queue's header.
pub const MAX_SHARED: usize = 16;
const ENDPOINT_PREFIX: &str = "shm-queue:";

/// The `shm-queue` backend: the MPMC queue used by exactly two processes.
#[derive(Debug)]
pub struct ShmQueue;

/// Payload bytes of each slot for a connection whose messages are at most
/// `expected` bytes: [`MAX_MESSAGE`], or more (up to [`MAX_LOAN`]) so a loan
/// of that size fits one slot.
pub fn slot_size_for(expected: usize) -> usize {
    expected.clamp(MAX_MESSAGE, MAX_LOAN)
}

/// Slots for a connection whose messages are about `expected` bytes.
fn slots_for(expected: usize) -> u64 {
    (BUDGET / expected.max(4096)).clamp(4, 64) as u64
}

/// Who is on the other end of a [`Link`].
#[derive(Debug, Clone, Copy)]
enum Peer {
    /// One process (either side of a pair; a shared connector's listener).
    Pid(u32),
    /// A shared listener's connectors: the first `n` aux words of `q1` hold
    /// their pids, zeroed as each closes.
    Group(usize),
}

/// Both queues of a connection as one side sees them.
#[derive(Debug)]
struct Link {
    /// Carries listener -> connector(s); its aux words hold the handshake.
    q0: Queue,
    /// Carries connector(s) -> listener; shared: the connectors' pid words.
    q1: Queue,
    /// 0: listener, 1: connector.
    side: usize,
    peer: Peer,
    /// A shared connector's registration word in `q1`'s aux area.
    slot: Option<usize>,
}

impl Link {
    fn out(&self) -> &Queue {
        if self.side == 0 { &self.q0 } else { &self.q1 }
    }

    fn inn(&self) -> &Queue {
        if self.side == 0 { &self.q1 } else { &self.q0 }
    }

    /// Whether the peer has closed (a group: every member has).
    fn peer_closed(&self) -> bool {
        match self.peer {
            Peer::Pid(_) => self.q0.aux()[CLOSED + (1 - self.side)].load(Acquire) != 0,
            Peer::Group(n) => self.q1.aux()[..n].iter().all(|w| w.load(Acquire) == 0),
        }
    }

    /// Whether the peer has closed or died (a group: every member has).
    fn peer_gone(&self) -> bool {
        match self.peer {
            Peer::Pid(pid) => self.peer_closed() || !alive(pid),
            Peer::Group(n) => self.q1.aux()[..n].iter().all(|w| {
                let pid = w.load(Acquire);
                pid == 0 || !alive(pid)
            }),
        }
    }

    fn check(&self) -> Result<(), Error> {
        if self.peer_gone() {
            Err(Error::Aborted("peer gone".into()))
        } else {
            Ok(())
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Release: everything we published is visible to a peer that sees
        // the flag (or the cleared registration).
        match self.slot {
            Some(k) => self.q1.aux()[k].store(0, Release),
            None => self.q0.aux()[CLOSED + self.side].store(1, Release),
        }
        self.q0.wake_all();
        self.q1.wake_all();
    }
}

/// The listening side, before the peer has connected.
#[derive(Debug)]
pub struct ShmQueueListener {
    q0: Queue,
    q1: Queue,
    /// Connectors to wait for when shared; 0: one peer, point to point.
    shared: usize,
}

/// Sending half.
#[derive(Debug)]
pub struct ShmQueueSender {
    link: Arc<Link>,
    /// The open loan's claimed slot.
    loan: Option<Claim>,
}

/// Receiving half; lends each record in place, in its slot, until the next
/// `recv` (or drop) gives the slot back.
#[derive(Debug)]
pub struct ShmQueueReceiver {
    link: Arc<Link>,
    /// The record the last `recv` lent.
    held: Option<Held>,
}

fn open_err(e: Error) -> OpenError {
    match e {
        Error::Io { what, source } => OpenError::Io { what, source },
        e => OpenError::Backend(e.to_string()),
    }
}

impl Transport for ShmQueue {
    const NAME: &'static str = "shm-queue";
    const DESCRIPTION: &'static str = "shared-memory MPMC queue (one per direction): slot claims name their owner pid, killed processes' slots are reclaimed; spins 200 µs (yielding) then futex";
    type Sender = ShmQueueSender;
    type Receiver = ShmQueueReceiver;
    type Listener = ShmQueueListener;

    fn listen(opts: &Options) -> Result<(Self::Listener, Endpoint), OpenError> {
        listen_for(opts, 0)
    }

    fn listen_shared(
        opts: &Options,
        connectors: usize,
    ) -> Result<(Self::Listener, Endpoint), OpenError> {
        if !(1..=MAX_SHARED).contains(&connectors) {
            return Err(OpenError::Backend(format!(
                "shm-queue shares one endpoint among 1..={MAX_SHARED} connectors, not {connectors}"
            )));
        }
        listen_for(opts, connectors)
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(Self::Sender, Self::Receiver), OpenError> {
        let mut fields = Fields::read(endpoint, "shm-queue:<queue>:<queue>");
        fields.scheme("shm-queue")?;
        let n0 = fields.next("queue")?;
        let n1 = fields.next("queue")?;
        fields.end()?;
        for n in [n0, n1] {
            fields.check("queue", n, crate::segment::check_name(n).is_ok())?;
        }
        let q0 = Queue::open(n0).map_err(open_err)?;
        let q1 = Queue::open(n1).map_err(open_err)?;
        let aux = q0.aux();
        let peer_pid = aux[LISTENER_PID].load(Relaxed);
        // Acquire: pairs with the listener's Release of the whole handshake.
        let shared = aux[SHARED].load(Acquire) as usize;
        let slot = if shared == 0 {
            aux[CONNECTOR_PID].store(my_pid(), Relaxed);
            // Only one connector: the state word moves 0 -> CONNECTED once.
            aux[STATE]
                .compare_exchange(0, CONNECTED, Release, Relaxed)
                .map_err(|_| OpenError::Backend(format!("queue {n0} already has a connector")))?;
            None
        } else {
            let slot = register(&q1, shared, n0)?;
            // Release: the listener that sees the count sees our pid word.
            aux[STATE].fetch_add(1, Release);
            Some(slot)
        };
        crate::wait::futex_wake(&aux[STATE], u32::MAX);
        Ok(split(Link {
            q0,
            q1,
            side: 1,
            peer: Peer::Pid(peer_pid),
            slot,
        }))
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: MAX_MESSAGE,
            zero_copy_recv: true,
            wait: WaitStrategy::Adaptive,
            shared_receivers: MAX_SHARED,
            max_loan: MAX_LOAN,
            ..Capabilities::default()
        }
    }
}

/// Creates both queues; `shared` connectors (0: one, point to point).
fn listen_for(opts: &Options, shared: usize) -> Result<(ShmQueueListener, Endpoint), OpenError> {
    let slots = slots_for(opts.expected_max_message);
    let slot = slot_size_for(opts.expected_max_message);
    let q0 = Queue::create(&format!("{}-a", opts.tag), slots, slot).map_err(open_err)?;
    let q1 = Queue::create(&format!("{}-b", opts.tag), slots, slot).map_err(open_err)?;
    q0.aux()[LISTENER_PID].store(my_pid(), Relaxed);
    // Release: a connector that reads the count sees the listener's pid.
    q0.aux()[SHARED].store(shared as u32, Release);
    let ep = format!("{ENDPOINT_PREFIX}{}:{}", q0.name(), q1.name());
    Ok((ShmQueueListener { q0, q1, shared }, Endpoint(ep)))
}

/// A shared connector claims a free registration word in `q1` for its pid
/// (the caller then counts itself in); returns the word's index.
fn register(q1: &Queue, shared: usize, name: &str) -> Result<usize, OpenError> {
    if shared > MAX_SHARED {
        return Err(OpenError::Backend(format!(
            "queue {name} claims {shared} connectors, more than the {MAX_SHARED} a queue can take"
        )));
    }
    let me = my_pid();
    let slot = q1.aux()[..shared]
        .iter()
        .position(|w| w.compare_exchange(0, me, AcqRel, Relaxed).is_ok())
        .ok_or_else(|| {
            OpenError::Backend(format!("queue {name} already has its {shared} connectors"))
        })?;
    Ok(slot)
}

fn split(link: Link) -> (ShmQueueSender, ShmQueueReceiver) {
    let link = Arc::new(link);
    (
        ShmQueueSender {
            link: Arc::clone(&link),
            loan: None,
        },
        ShmQueueReceiver { link, held: None },
    )
}

impl Listener for ShmQueueListener {
    type Sender = ShmQueueSender;
    type Receiver = ShmQueueReceiver;

    fn accept(self, deadline: Instant) -> Result<(Self::Sender, Self::Receiver), OpenError> {
        let state = &self.q0.aux()[STATE];
        // Point to point: CONNECTED once; shared: one count per connector.
        let want = self.shared.max(1) as u32;
        loop {
            // Acquire: pairs with the connectors' Release, so their pids are
            // visible once we see the count.
            let now = state.load(Acquire);
            if now >= want {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(OpenError::Timeout);
            }
            futex_wait(state, now, left.min(Duration::from_millis(50)));
        }
        // Both sides have the segments mapped: the names can go.
        self.q0.unlink().map_err(open_err)?;
        self.q1.unlink().map_err(open_err)?;
        let peer = match self.shared {
            0 => Peer::Pid(self.q0.aux()[CONNECTOR_PID].load(Relaxed)),
            n => Peer::Group(n),
        };
        Ok(split(Link {
            q0: self.q0,
            q1: self.q1,
            side: 0,
            peer,
            slot: None,
        }))
    }
}

impl Sender for ShmQueueSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        let link = &*self.link;
        if msg.len() > MAX_MESSAGE {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: MAX_MESSAGE,
            });
        }
        if link.peer_closed() {
            return Err(SendError::Disconnected);
        }
        let fill = |buf: &mut [u8]| buf.copy_from_slice(msg);
        link.out()
            .put_until(msg.len(), None, fill, &mut || link.check())
            .map_err(send_err)
    }

    // Loans: a claimed slot, written in place, then published.
    fn max_loan(&self) -> usize {
        self.link.out().max_record()
    }

    fn loan_begin(&mut self, len: usize) -> Result<(), SendError> {
        let link = &*self.link;
        if link.peer_closed() {
            return Err(SendError::Disconnected);
        }
        let claim = link
            .out()
            .claim_until(len, None, &mut || link.check())
            .map_err(send_err)?;
        // A loan left open (its guard forgotten) is given up first, so the
        // consumers are not left waiting at its slot.
        if let Some(old) = self.loan.replace(claim) {
            link.out().abandon(old);
        }
        Ok(())
    }

    fn loan_bytes(&mut self) -> &mut [u8] {
        match &mut self.loan {
            Some(claim) => self.link.out().claimed(claim),
            None => &mut [],
        }
    }

    fn loan_publish(&mut self) -> Result<(), SendError> {
        let claim = self
            .loan
            .take()
            .ok_or_else(|| SendError::Backend("no loan is open".into()))?;
        let link = &*self.link;
        if link.peer_closed() {
            link.out().abandon(claim);
            return Err(SendError::Disconnected);
        }
        link.out().publish(claim);
        Ok(())
    }

    fn loan_abandon(&mut self) {
        if let Some(claim) = self.loan.take() {
            self.link.out().abandon(claim);
        }
    }
}

impl Drop for ShmQueueSender {
    fn drop(&mut self) {
        // Not left claimed: the consumers would wait at its slot.
        if let Some(claim) = self.loan.take() {
            self.link.out().abandon(claim);
        }
    }
}

fn send_err(e: Error) -> SendError {
    match e {
        Error::Aborted(_) => SendError::Disconnected,
        Error::TooLarge { size, max } => SendError::TooLarge { size, max },
        e => SendError::Backend(e.to_string()),
    }
}

impl ShmQueueReceiver {
    /// Gives back the record the last `recv` lent, if any.
    fn release(&mut self) {
        if let Some(held) = self.held.take() {
            self.link.inn().release(held);
        }
    }
}

impl Receiver for ShmQueueReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.release();
        let link = &*self.link;
        let held = match link.inn().hold_until(None, &mut || link.check()) {
            Ok(held) => held,
            // The peer is gone: deliver what it published before going.
            Err(Error::Aborted(_)) => {
                match link.inn().hold_until(Some(Instant::now()), &mut || Ok(())) {
                    Ok(held) => held,
                    Err(Error::Empty) => return Err(RecvError::Disconnected),
                    Err(e) => return Err(recv_err(e)),
                }
            }
            Err(e) => return Err(recv_err(e)),
        };
        Ok(link.inn().held(self.held.insert(held)))
    }
}

impl Drop for ShmQueueReceiver {
    fn drop(&mut self) {
        // Not left held: producers lapping around would wait at its slot.
        self.release();
    }
}

fn recv_err(e: Error) -> RecvError {
    match e {
        Error::Corrupt(m) => RecvError::Corrupt(m),
        e => RecvError::Backend(e.to_string()),
    }
}
