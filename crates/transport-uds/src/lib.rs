//! Unix-domain stream socket backend: one connected `SOCK_STREAM` socket,
//! duplex, carrying length-prefixed frames.
//!
//! The listening socket is bound in Linux's abstract namespace
//! (`\0ipcbench-<tag>`): it behaves like a path-bound socket for data transfer,
//! but there is no file to remove, so even a run killed with SIGKILL leaves
//! nothing behind. The listener is closed as soon as the peer is accepted.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Instant;

use transport::framing::{FramedReader, FramedWriter};
use transport::{
    Capabilities, DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options, RecvError, SendError,
    WaitStrategy,
};

/// The Unix stream socket transport.
#[derive(Debug)]
pub struct Uds;

/// Sends frames on the socket.
#[derive(Debug)]
pub struct UdsSender(FramedWriter<UnixStream>);

/// Receives frames from the socket.
#[derive(Debug)]
pub struct UdsReceiver(FramedReader<UnixStream>);

/// A bound, listening socket waiting for its one peer.
#[derive(Debug)]
pub struct UdsListener(UnixListener);

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

impl transport::Sender for UdsSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.0.send(msg)
    }
}

impl transport::Receiver for UdsReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.0.recv()
    }
}

fn halves(stream: UnixStream) -> Result<(UdsSender, UdsReceiver), OpenError> {
    let reader = stream
        .try_clone()
        .map_err(|e| OpenError::io("dup socket", e))?;
    Ok((
        UdsSender(FramedWriter::new(stream, MAX)),
        UdsReceiver(FramedReader::new(reader, MAX)),
    ))
}

impl transport::Listener for UdsListener {
    type Sender = UdsSender;
    type Receiver = UdsReceiver;

    fn accept(self, deadline: Instant) -> Result<(UdsSender, UdsReceiver), OpenError> {
        transport::wait_readable(&self.0, deadline)?;
        let (stream, _) = self.0.accept().map_err(|e| OpenError::io("accept", e))?;
        halves(stream)
    }
}

fn address(name: &str) -> Result<SocketAddr, OpenError> {
    SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e: io::Error| OpenError::io(format!("abstract address {name:?}"), e))
}

impl transport::Transport for Uds {
    const NAME: &'static str = "uds";
    const DESCRIPTION: &'static str =
        "Unix-domain stream socket (abstract address), length-prefixed frames";
    type Sender = UdsSender;
    type Receiver = UdsReceiver;
    type Listener = UdsListener;

    fn listen(opts: &Options) -> Result<(UdsListener, Endpoint), OpenError> {
        let name = format!("ipcbench-{}", opts.tag);
        let listener = UnixListener::bind_addr(&address(&name)?)
            .map_err(|e| OpenError::io(format!("bind @{name}"), e))?;
        Ok((UdsListener(listener), Endpoint(format!("uds:@{name}"))))
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(UdsSender, UdsReceiver), OpenError> {
        let name = endpoint
            .0
            .strip_prefix("uds:@")
            .ok_or_else(|| OpenError::BadEndpoint(endpoint.0.clone()))?;
        let stream = UnixStream::connect_addr(&address(name)?)
            .map_err(|e| OpenError::io(format!("connect @{name}"), e))?;
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
