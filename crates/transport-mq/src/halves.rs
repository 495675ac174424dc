//! The sending and receiving halves: a message is one or more records of
//! one queue, the first carrying an 8-byte length, the rest raw bytes; a
//! length at the top of the range is a control record instead (welcome,
//! refused, goodbye). A queue has no end of file and no count of openers,
//! so the end of a connection is signalled in band (a goodbye record when a
//! sender is dropped) and by the peer's pidfd (a process that died).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use transport::process::PeerProcess;
use transport::{RecvError, SendError};

use crate::queue::{Queue, unlink};

/// Size of a message's length header.
pub const HEADER: usize = 8;
/// Control records: lengths no message can have.
pub const WELCOME: u64 = u64::MAX;
/// The listener turned this connector away.
pub const REFUSED: u64 = u64::MAX - 1;
/// The sender was dropped: nothing more will come, and its side is closing.
pub const BYE: u64 = u64::MAX - 2;
/// How long a dropped sender may wait for room for its goodbye.
const BYE_WAIT: Duration = Duration::from_secs(1);
/// How often a wait looks at what the other half of this side learned.
const RECHECK: Duration = Duration::from_millis(50);

/// What both halves of one side know of the other side.
#[derive(Debug)]
pub struct Link {
    /// The peer process, for liveness.
    pub peer: PeerProcess,
    /// The peer said goodbye (or refused us): sends are pointless.
    pub closed: AtomicBool,
}

impl Link {
    /// A link to `peer`.
    pub fn new(peer: PeerProcess) -> Arc<Self> {
        Arc::new(Self {
            peer,
            closed: AtomicBool::new(false),
        })
    }
}

/// Waits until `q` is ready for `flags` or the peer dies; true if the peer
/// is dead. Without a pidfd, liveness is probed every [`RECHECK`].
fn wait(q: &Queue, flags: PollFlags, link: &Link, limit: Option<Duration>) -> io::Result<bool> {
    let limit = match (link.peer.pidfd().is_some(), limit) {
        (true, l) => l,
        (false, l) => Some(l.map_or(RECHECK, |l| l.min(RECHECK))),
    };
    let ts = limit.map(|d| rustix::time::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    let mut fds = vec![PollFd::new(q, flags)];
    if let Some(p) = link.peer.pidfd() {
        fds.push(PollFd::from_borrowed_fd(p, PollFlags::IN));
    }
    match poll(&mut fds, ts.as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(fds.get(1).is_some_and(|p| !p.revents().is_empty()) || !link.peer.alive())
}

/// The sending half: one queue toward the peer.
#[derive(Debug)]
pub struct MqSender {
    q: Queue,
    link: Arc<Link>,
    /// The first record of a message: header and the payload's start.
    stage: Vec<u8>,
    max: usize,
}

impl MqSender {
    pub(crate) fn new(q: Queue, link: Arc<Link>, max: usize) -> Self {
        let stage = vec![0; q.size];
        Self {
            q,
            link,
            stage,
            max,
        }
    }

    /// Posts one record, waiting while the queue is full (back-pressure)
    /// until the peer is gone.
    fn post(&self, rec: &[u8]) -> Result<(), SendError> {
        loop {
            if self.link.closed.load(Ordering::Relaxed) {
                return Err(SendError::Disconnected);
            }
            match self.q.send(rec) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if wait(&self.q, PollFlags::OUT, &self.link, Some(RECHECK))? {
                        return Err(SendError::Disconnected);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SendError::Io(e)),
            }
        }
    }

    /// Posts a control record.
    pub(crate) fn control(&mut self, code: u64) -> Result<(), SendError> {
        self.stage[..HEADER].copy_from_slice(&code.to_le_bytes());
        let rec = &self.stage[..HEADER];
        self.q.send(rec).or_else(|e| {
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(SendError::Io(e));
            }
            self.post(&self.stage[..HEADER])
        })
    }
}

impl transport::Sender for MqSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > self.max {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: self.max,
            });
        }
        let first = msg.len().min(self.q.size - HEADER);
        self.stage[..HEADER].copy_from_slice(&(msg.len() as u64).to_le_bytes());
        self.stage[HEADER..HEADER + first].copy_from_slice(&msg[..first]);
        self.post(&self.stage[..HEADER + first])?;
        for chunk in msg[first..].chunks(self.q.size) {
            self.post(chunk)?;
        }
        Ok(())
    }
}

impl Drop for MqSender {
    /// Says goodbye in band, waiting a little for room if the queue is
    /// full; a peer that stopped reading learns it from our exit instead.
    fn drop(&mut self) {
        self.stage[..HEADER].copy_from_slice(&BYE.to_le_bytes());
        let until = Instant::now() + BYE_WAIT;
        while Instant::now() < until && self.link.peer.alive() {
            match self.q.send(&self.stage[..HEADER]) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = until.saturating_duration_since(Instant::now());
                    if wait(&self.q, PollFlags::OUT, &self.link, Some(left)).unwrap_or(true) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    }
}

/// The receiving half: one queue from the peer, and a buffer messages are
/// reassembled in and lent from.
#[derive(Debug)]
pub struct MqReceiver {
    q: Queue,
    link: Arc<Link>,
    /// The first record of each message.
    first: Vec<u8>,
    /// Messages of more than one record.
    buf: Vec<u8>,
    max: usize,
    /// Names a connector created and removes once welcomed (or dropped).
    created: Vec<String>,
}

impl MqReceiver {
    pub(crate) fn new(q: Queue, link: Arc<Link>, max: usize, created: Vec<String>) -> Self {
        let first = vec![0; q.size];
        Self {
            q,
            link,
            first,
            buf: Vec::new(),
            max,
            created,
        }
    }

    /// The next record into `buf[at..]`, waiting while the peer lives;
    /// `Disconnected` once it is dead and the queue is empty.
    fn record(q: &Queue, link: &Link, buf: &mut [u8]) -> Result<usize, RecvError> {
        let mut dead = false;
        loop {
            match q.receive(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if dead || link.closed.load(Ordering::Relaxed) {
                        return Err(RecvError::Disconnected);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RecvError::Io(e)),
            }
            dead = wait(q, PollFlags::IN, link, None)?;
        }
    }

    fn forget_names(&mut self) {
        for n in self.created.drain(..) {
            unlink(&n);
        }
    }
}

impl transport::Receiver for MqReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let (n, len) = loop {
            let n = Self::record(&self.q, &self.link, &mut self.first)?;
            let head: [u8; HEADER] = self
                .first
                .get(..HEADER)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| {
                    RecvError::Corrupt(format!("a record of {n} bytes has no header"))
                })?;
            match u64::from_le_bytes(head) {
                WELCOME => self.forget_names(),
                REFUSED => {
                    self.link.closed.store(true, Ordering::Relaxed);
                    return Err(RecvError::Io(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "the listener refused this connection (no or wrong secret token)",
                    )));
                }
                BYE => {
                    self.link.closed.store(true, Ordering::Relaxed);
                    return Err(RecvError::Disconnected);
                }
                len => break (n, len),
            }
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= self.max)
            .ok_or_else(|| {
                RecvError::Corrupt(format!(
                    "message header claims {len} bytes, more than the maximum of {} bytes",
                    self.max
                ))
            })?;
        let unit = self.q.size;
        let in_first = n - HEADER;
        if len <= unit - HEADER {
            if in_first != len {
                return Err(RecvError::Corrupt(format!(
                    "a one-record message of {len} bytes came with {in_first}"
                )));
            }
            return Ok(&self.first[HEADER..n]);
        }
        if in_first != unit - HEADER {
            return Err(RecvError::Corrupt(format!(
                "the first record of a {len}-byte message held {in_first} bytes, not {}",
                unit - HEADER
            )));
        }
        // Grow with what arrives, never with what was claimed.
        self.buf.clear();
        self.buf.extend_from_slice(&self.first[HEADER..n]);
        let mut have = in_first;
        while have < len {
            let want = (len - have).min(unit);
            self.buf.resize(have + unit, 0);
            let got = match Self::record(&self.q, &self.link, &mut self.buf[have..]) {
                Ok(got) => got,
                Err(RecvError::Disconnected) => {
                    return Err(RecvError::Corrupt(format!(
                        "the peer went away after {have} of a {len}-byte message"
                    )));
                }
                Err(e) => return Err(e),
            };
            if got != want {
                return Err(RecvError::Corrupt(format!(
                    "record of {got} bytes at {have} of a {len}-byte message, expected {want}"
                )));
            }
            have += got;
        }
        Ok(&self.buf[..len])
    }
}

impl Drop for MqReceiver {
    fn drop(&mut self) {
        self.forget_names();
    }
}
