//! Backend on the `interprocess` crate's portable local sockets: one
//! `interprocess::local_socket::Stream`, duplex, carrying length-prefixed
//! frames, blocking.
//!
//! The point of this backend is to show what the portability layer costs next
//! to the raw `uds` backend. On Linux a local socket *is* a Unix stream socket:
//! a namespaced name ([`GenericNamespaced`]) maps to the abstract namespace, so
//! nothing is created in the file system and even a run killed with SIGKILL
//! leaves nothing behind; `Stream` is an enum over the platform
//! implementations whose reads and writes dispatch straight to
//! `std::os::unix::net::UnixStream`. The framing is the same
//! [`transport::framing`] code the `uds` backend uses, so any difference
//! between the two is the layer itself.
//!
//! Only portable API is used: the listener is created in nonblocking-accept
//! mode and `accept` polls it with a short, growing sleep until the deadline
//! (there is no portable way to wait on a listener with a timeout). This
//! costs up to [`MAX_ACCEPT_NAP`] of connection latency, never anything on
//! the message path. The send and receive halves share the stream through an
//! `Arc`, as the crate recommends since 2.4.7 (`&Stream` is `Read + Write`;
//! its `split` is deprecated), so the socket closes, and the peer sees EOF or
//! `EPIPE`, once both halves are dropped.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{
    GenericNamespaced, ListenerNonblockingMode, ListenerOptions, Stream,
};
use transport::framing::{FramedReader, FramedWriter};
use transport::{
    Capabilities, DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options, RecvError, SendError,
    WaitStrategy,
};

/// The interprocess local-socket transport.
#[derive(Debug)]
pub struct Interprocess;

/// The longest single sleep while `accept` waits for the peer.
pub const MAX_ACCEPT_NAP: Duration = Duration::from_millis(2);

/// The first sleep: short, because the peer usually connects right away.
const FIRST_ACCEPT_NAP: Duration = Duration::from_micros(50);

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

const PREFIX: &str = "interprocess:";

/// One end of the stream, shared by the two halves of a connection.
#[derive(Debug)]
pub struct SharedStream(Arc<Stream>);

impl Read for SharedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for SharedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self.0).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}

/// Sends frames on the local socket.
#[derive(Debug)]
pub struct InterprocessSender(FramedWriter<SharedStream>);

/// Receives frames from the local socket.
#[derive(Debug)]
pub struct InterprocessReceiver(FramedReader<SharedStream>);

/// A listening local socket waiting for its one peer.
#[derive(Debug)]
pub struct InterprocessListener(interprocess::local_socket::Listener);

impl transport::Sender for InterprocessSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.0.send(msg)
    }
}

impl transport::Receiver for InterprocessReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.0.recv()
    }
}

fn halves(stream: Stream) -> (InterprocessSender, InterprocessReceiver) {
    let stream = Arc::new(stream);
    (
        InterprocessSender(FramedWriter::new(SharedStream(Arc::clone(&stream)), MAX)),
        InterprocessReceiver(FramedReader::new(SharedStream(stream), MAX)),
    )
}

impl transport::Listener for InterprocessListener {
    type Sender = InterprocessSender;
    type Receiver = InterprocessReceiver;

    fn accept(
        self,
        deadline: Instant,
    ) -> Result<(InterprocessSender, InterprocessReceiver), OpenError> {
        let mut nap = FIRST_ACCEPT_NAP;
        let stream = loop {
            match self.0.accept() {
                Ok(stream) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(OpenError::io("accept local socket", e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(OpenError::Timeout);
            }
            thread::sleep(nap.min(left));
            nap = (nap * 2).min(MAX_ACCEPT_NAP);
        };
        // Whether an accepted stream inherits the listener's nonblocking flag
        // is platform-specific; the framing needs a blocking stream.
        stream
            .set_nonblocking(false)
            .map_err(|e| OpenError::io("make accepted stream blocking", e))?;
        Ok(halves(stream))
    }
}

impl transport::Transport for Interprocess {
    const NAME: &'static str = "interprocess";
    const DESCRIPTION: &'static str = "interprocess crate's portable local socket \
        (Linux: abstract Unix stream socket), length-prefixed frames";
    type Sender = InterprocessSender;
    type Receiver = InterprocessReceiver;
    type Listener = InterprocessListener;

    fn listen(opts: &Options) -> Result<(InterprocessListener, Endpoint), OpenError> {
        let name = format!("ipcbench-{}", opts.tag);
        let ns_name = name
            .as_str()
            .to_ns_name::<GenericNamespaced>()
            .map_err(|e| OpenError::io(format!("local socket name {name:?}"), e))?;
        let listener = ListenerOptions::new()
            .name(ns_name)
            .nonblocking(ListenerNonblockingMode::Accept)
            .create_sync()
            .map_err(|e| OpenError::io(format!("listen on local socket {name:?}"), e))?;
        Ok((
            InterprocessListener(listener),
            Endpoint(format!("{PREFIX}{name}")),
        ))
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(InterprocessSender, InterprocessReceiver), OpenError> {
        let name = endpoint
            .0
            .strip_prefix(PREFIX)
            .filter(|n| !n.is_empty() && !n.contains('\0'))
            .ok_or_else(|| OpenError::BadEndpoint(endpoint.0.clone()))?;
        let ns_name = name
            .to_ns_name::<GenericNamespaced>()
            .map_err(|e| OpenError::io(format!("local socket name {name:?}"), e))?;
        let stream = Stream::connect(ns_name)
            .map_err(|e| OpenError::io(format!("connect to local socket {name:?}"), e))?;
        Ok(halves(stream))
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
    use transport::Transport;

    #[test]
    fn endpoint_without_our_prefix_or_with_nul_is_malformed() {
        let opts = Options::unique("ip-unit");
        for bad in ["uds:@x", "interprocess:", "interprocess:a\0b"] {
            let res = Interprocess::connect(&Endpoint(bad.into()), &opts);
            assert!(
                matches!(res, Err(OpenError::BadEndpoint(_))),
                "{bad:?}: {:?}",
                res.err()
            );
        }
    }

    #[test]
    fn connect_to_a_name_nobody_listens_on_is_an_io_error() {
        let opts = Options::unique("ip-unit");
        let endpoint = Endpoint(format!("{PREFIX}ipcbench-{}-absent", opts.tag));
        let res = Interprocess::connect(&endpoint, &opts);
        assert!(matches!(res, Err(OpenError::Io { .. })), "{:?}", res.err());
    }
}
