//! The two halves of a connection: frames on one bidirectional stream, each
//! `send` and `recv` one `block_on` on the side's runtime, and how a side
//! goes away without losing what it sent.

use std::sync::Arc;

use quinn::{Connection, Endpoint as QEndpoint, RecvStream, SendStream};
use tokio::runtime::Runtime;
use transport::{DEFAULT_MAX_MESSAGE_SIZE, RecvError, SendError};

use crate::linger::{self, AtExit, Stream};

/// A connection side's runtime, endpoint and connection, shared by its
/// halves; the last one dropped closes the connection.
pub(crate) struct Side {
    pub(crate) rt: Runtime,
    pub(crate) endpoint: QEndpoint,
    pub(crate) conn: Connection,
}

impl Drop for Side {
    fn drop(&mut self) {
        // The sender's drop waited until the peer acknowledged every byte
        // of our stream (or gave up on a peer that is gone): closing tells
        // a peer that is still writing at once, not after the idle timeout.
        let conn = &self.conn;
        self.rt.block_on(linger::close(conn));
        // The endpoint (its socket) goes after the close left through it.
        let _ = &self.endpoint;
    }
}

/// The sending half: frames on the stream.
pub struct QuicSender {
    send: Stream,
    /// The exit handler's hold on this sender (see [`crate::linger`]).
    _at_exit: Arc<AtExit>,
    side: Arc<Side>,
}

/// The receiving half.
pub struct QuicReceiver {
    recv: RecvStream,
    buf: Vec<u8>,
    side: Arc<Side>,
}

impl std::fmt::Debug for QuicSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuicSender")
    }
}

impl std::fmt::Debug for QuicReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuicReceiver")
    }
}

/// The halves of an open stream on `side`.
pub(crate) fn halves(
    send: SendStream,
    recv: RecvStream,
    side: Arc<Side>,
) -> (QuicSender, QuicReceiver) {
    let send: Stream = Arc::new(tokio::sync::Mutex::new(send));
    let at_exit = linger::register(&side.rt, Arc::clone(&send), side.conn.clone());
    (
        QuicSender {
            send,
            _at_exit: at_exit,
            side: Arc::clone(&side),
        },
        QuicReceiver {
            recv,
            buf: Vec::new(),
            side,
        },
    )
}

impl transport::Sender for QuicSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > DEFAULT_MAX_MESSAGE_SIZE {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: DEFAULT_MAX_MESSAGE_SIZE,
            });
        }
        // The length fits: it is at most DEFAULT_MAX_MESSAGE_SIZE.
        let header = (msg.len() as u32).to_le_bytes();
        let send = &self.send;
        self.side
            .rt
            .block_on(async {
                // Uncontended but for the exit handler's task.
                let mut send = send.lock().await;
                send.write_all(&header).await?;
                send.write_all(msg).await
            })
            .map_err(|e| match e {
                quinn::WriteError::ClosedStream
                | quinn::WriteError::Stopped(_)
                | quinn::WriteError::ConnectionLost(_) => SendError::Disconnected,
                other => SendError::Backend(format!("quic: {other}")),
            })
    }
}

impl Drop for QuicSender {
    fn drop(&mut self) {
        // Finish the stream and give the peer a bounded time to acknowledge
        // it all, so closing the connection afterwards loses nothing.
        let send = &self.send;
        self.side.rt.block_on(linger::finish_and_wait(send));
    }
}

fn read_error(e: quinn::ReadExactError) -> RecvError {
    match e {
        quinn::ReadExactError::FinishedEarly(0) => RecvError::Disconnected,
        quinn::ReadExactError::FinishedEarly(n) => {
            RecvError::Corrupt(format!("the stream ended {n} bytes into a frame"))
        }
        quinn::ReadExactError::ReadError(
            quinn::ReadError::ConnectionLost(_)
            | quinn::ReadError::Reset(_)
            | quinn::ReadError::ClosedStream,
        ) => RecvError::Disconnected,
        quinn::ReadExactError::ReadError(other) => RecvError::Backend(format!("quic: {other}")),
    }
}

impl transport::Receiver for QuicReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let (recv, buf) = (&mut self.recv, &mut self.buf);
        self.side.rt.block_on(async {
            let mut header = [0u8; 4];
            recv.read_exact(&mut header).await.map_err(read_error)?;
            let len = u32::from_le_bytes(header) as usize;
            if len > DEFAULT_MAX_MESSAGE_SIZE {
                return Err(RecvError::Corrupt(format!(
                    "frame of {len} bytes exceeds the maximum of {DEFAULT_MAX_MESSAGE_SIZE}"
                )));
            }
            buf.resize(len, 0);
            match recv.read_exact(buf).await {
                Ok(()) => Ok(()),
                // A peer gone mid-frame is a truncated message, never whole.
                Err(quinn::ReadExactError::FinishedEarly(n)) => Err(RecvError::Corrupt(format!(
                    "the stream ended {n} bytes into a {len}-byte frame"
                ))),
                Err(e) => Err(read_error(e)),
            }
        })?;
        Ok(&self.buf)
    }
}

impl Drop for QuicReceiver {
    fn drop(&mut self) {
        // Tells the peer's sender at once (its writes fail as `Stopped`).
        let _ = self.recv.stop(0u32.into());
    }
}
