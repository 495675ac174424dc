//! TCP backend: one loopback connection (127.0.0.1) carrying length-prefixed
//! frames, the reference for what going through the full network stack costs
//! next to the Unix-domain transports.
//!
//! The listener binds port 0, so the kernel picks a free ephemeral port and
//! parallel runs never collide; the endpoint carries that port. Both ends set
//! `TCP_NODELAY`: the benchmark's messages are request/response sized, and
//! Nagle's algorithm would otherwise hold a small frame back until the previous
//! one is acknowledged (up to the 40 ms delayed-ACK timer), which measures TCP's
//! batching policy rather than its cost.
//!
//! A dead peer shows as end of stream (`read` returns 0) when it closed with its
//! receive queue empty, or as `ECONNRESET` when it died with unread data (the
//! kernel then sends a reset and drops whatever was still in flight to us);
//! both map to `Disconnected`. Writes to a reset connection fail with `EPIPE`
//! or `ECONNRESET`, also `Disconnected`. Nothing is created in the file system.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::Instant;

use transport::framing::{FramedReader, FramedWriter};
use transport::{
    Capabilities, DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options, RecvError, SendError,
    WaitStrategy,
};

/// The TCP loopback transport.
#[derive(Debug)]
pub struct Tcp;

/// Sends frames on the connection.
#[derive(Debug)]
pub struct TcpSender(FramedWriter<TcpStream>);

/// Receives frames from the connection.
#[derive(Debug)]
pub struct TcpReceiver(FramedReader<TcpStream>);

/// A bound, listening socket waiting for its one peer.
#[derive(Debug)]
pub struct TcpListenerHalf(TcpListener);

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

const PREFIX: &str = "tcp:";

impl transport::Sender for TcpSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.0.send(msg)
    }
}

impl transport::Receiver for TcpReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.0.recv()
    }
}

fn halves(stream: TcpStream) -> Result<(TcpSender, TcpReceiver), OpenError> {
    stream
        .set_nodelay(true)
        .map_err(|e| OpenError::io("setting TCP_NODELAY", e))?;
    let reader = stream
        .try_clone()
        .map_err(|e| OpenError::io("dup socket", e))?;
    Ok((
        TcpSender(FramedWriter::new(stream, MAX)),
        TcpReceiver(FramedReader::new(reader, MAX)),
    ))
}

impl transport::Listener for TcpListenerHalf {
    type Sender = TcpSender;
    type Receiver = TcpReceiver;

    fn accept(self, deadline: Instant) -> Result<(TcpSender, TcpReceiver), OpenError> {
        loop {
            transport::wait_readable(&self.0, deadline)?;
            // The listener is non-blocking, so a connection that vanished
            // between poll and accept sends us back to waiting, not to sleep.
            match self.0.accept() {
                Ok((stream, _)) => {
                    // Accepted sockets do not inherit O_NONBLOCK on Linux, but
                    // the frames below rely on blocking I/O, so make it explicit.
                    stream
                        .set_nonblocking(false)
                        .map_err(|e| OpenError::io("clearing O_NONBLOCK", e))?;
                    return halves(stream);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                            | std::io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => return Err(OpenError::io("accept", e)),
            }
        }
    }
}

fn parse(endpoint: &Endpoint) -> Result<SocketAddr, OpenError> {
    endpoint
        .0
        .strip_prefix(PREFIX)
        .and_then(|a| a.parse::<SocketAddrV4>().ok())
        .filter(|a| a.port() != 0)
        .map(SocketAddr::V4)
        .ok_or_else(|| OpenError::BadEndpoint(endpoint.0.clone()))
}

impl transport::Transport for Tcp {
    const NAME: &'static str = "tcp";
    const DESCRIPTION: &'static str =
        "TCP over loopback (127.0.0.1, TCP_NODELAY), length-prefixed frames";
    type Sender = TcpSender;
    type Receiver = TcpReceiver;
    type Listener = TcpListenerHalf;

    fn listen(_opts: &Options) -> Result<(TcpListenerHalf, Endpoint), OpenError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| OpenError::io("bind 127.0.0.1:0", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| OpenError::io("setting O_NONBLOCK on the listener", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| OpenError::io("getsockname", e))?;
        Ok((
            TcpListenerHalf(listener),
            Endpoint(format!("{PREFIX}{addr}")),
        ))
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(TcpSender, TcpReceiver), OpenError> {
        let addr = parse(endpoint)?;
        let stream =
            TcpStream::connect(addr).map_err(|e| OpenError::io(format!("connect {addr}"), e))?;
        halves(stream)
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: MAX,
            zero_copy_recv: false,
            wait: WaitStrategy::Block,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_round_trips_and_rejects_garbage() {
        let ok = Endpoint("tcp:127.0.0.1:4242".into());
        assert_eq!(
            parse(&ok).expect("valid"),
            SocketAddr::from(([127, 0, 0, 1], 4242))
        );
        for bad in ["tcp:127.0.0.1:0", "tcp:localhost:1", "uds:@x", "tcp:", ""] {
            assert!(parse(&Endpoint(bad.into())).is_err(), "{bad}");
        }
    }
}
