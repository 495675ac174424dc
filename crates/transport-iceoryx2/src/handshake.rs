//! The handshake that makes a connection safe to use: each side's
//! subscriber exists and has mapped the peer's data segment before the first
//! message, and each side knows the peer's pid (see the crate doc,
//! "Handshake").

use std::time::{Duration, Instant};

use transport::OpenError;

use crate::cleanup::Domain;
use crate::cloexec;
use crate::halves::{Iox2Receiver, Iox2Sender};
use crate::service::backend;

/// How long `connect` waits for the listener's hello (it has no deadline of
/// its own); a listener that dies is noticed sooner through its pidfd.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

const HELLO_MAGIC: [u8; 4] = *b"IOX2";
const HELLO_LEN: usize = 8;

/// The listening side: its ports exist, the peer has not said hello yet.
#[derive(Debug)]
pub struct Iox2Listener {
    pub(crate) tx: Iox2Sender,
    pub(crate) rx: Iox2Receiver,
    pub(crate) domain: Domain,
}

// SAFETY: the listener only bundles the two halves, each `Send` on its own.
unsafe impl Send for Iox2Listener {}

fn hello() -> [u8; HELLO_LEN] {
    let mut h = [0u8; HELLO_LEN];
    h[..4].copy_from_slice(&HELLO_MAGIC);
    h[4..].copy_from_slice(&std::process::id().to_le_bytes());
    h
}

fn parse_hello(msg: &[u8]) -> Result<u32, OpenError> {
    match msg {
        [m0, m1, m2, m3, p @ ..] if [*m0, *m1, *m2, *m3] == HELLO_MAGIC && p.len() == 4 => {
            Ok(u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        }
        _ => Err(OpenError::Backend(format!(
            "iceoryx2: expected a hello, got {} bytes",
            msg.len()
        ))),
    }
}

impl Iox2Sender {
    /// Publishes the hello until it reached the peer's subscriber.
    fn send_hello(&self, deadline: Instant) -> Result<(), OpenError> {
        let h = hello();
        loop {
            let sample = self
                .publisher
                .loan_slice_uninit(h.len())
                .map_err(|e| backend("loaning hello", e))?;
            let n = sample
                .write_from_slice(&h)
                .send()
                .map_err(|e| backend("sending hello", e))?;
            if n > 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(OpenError::Timeout);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Iox2Receiver {
    /// Waits for the peer's hello and returns the pid it carries.
    fn recv_hello(&mut self, deadline: Instant) -> Result<u32, OpenError> {
        loop {
            if let Some(s) = self
                .subscriber
                .receive()
                .map_err(|e| backend("receiving hello", e))?
            {
                return parse_hello(s.payload());
            }
            if Instant::now() >= deadline {
                return Err(OpenError::Timeout);
            }
            if !self.peer.process_alive() {
                return Err(OpenError::Backend(
                    "iceoryx2: the listening process exited during the handshake".into(),
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl transport::Listener for Iox2Listener {
    type Sender = Iox2Sender;
    type Receiver = Iox2Receiver;

    fn accept(self, deadline: Instant) -> Result<(Iox2Sender, Iox2Receiver), OpenError> {
        let Self { tx, mut rx, domain } = self;
        // The peer's pid is unknown until its hello: the deadline bounds this.
        let pid = rx.recv_hello(deadline)?;
        rx.peer.watch(pid)?;
        tx.send_hello(deadline)?;
        // Wait for the peer's second hello, which proves it received ours and
        // so mapped our data segment: a publisher that is dropped before its
        // subscriber first mapped the segment takes the samples in it along.
        if rx.recv_hello(deadline)? != pid {
            return Err(OpenError::Backend(
                "iceoryx2: second hello from another process".into(),
            ));
        }
        cloexec::mark_domain(&domain);
        Ok((tx, rx))
    }
}

/// The connector's side: hello, the listener's hello (which must come from
/// the pid the endpoint names), and a second hello proving ours arrived.
pub(crate) fn connect(
    tx: &Iox2Sender,
    rx: &mut Iox2Receiver,
    listener_pid: u32,
) -> Result<(), OpenError> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    tx.send_hello(deadline)?;
    let pid = rx.recv_hello(deadline)?;
    if pid != listener_pid {
        return Err(OpenError::Backend(format!(
            "iceoryx2: hello from pid {pid}, endpoint names pid {listener_pid}"
        )));
    }
    tx.send_hello(deadline)
}
