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
//!
//! The listener admits only its peer, judged by the crate's portable
//! `peer_creds` (on Linux `SO_PEERCRED`) through [`transport::peer::Gate`].

#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{
    GenericNamespaced, ListenerNonblockingMode, ListenerOptions, Stream,
};
use transport::endpoint::Fields;
use transport::framing::{FramedReader, FramedWriter};
use transport::peer::{Gate, PeerCred};
use transport::{DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options};

/// The interprocess local-socket transport.
#[derive(Debug)]
pub struct Interprocess;

/// The longest single sleep while `accept` waits for the peer.
pub const MAX_ACCEPT_NAP: Duration = Duration::from_millis(2);

/// The first sleep: short, because the peer usually connects right away.
const FIRST_ACCEPT_NAP: Duration = Duration::from_micros(50);

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

/// A listening local socket waiting for its one peer.
#[derive(Debug)]
pub struct InterprocessListener {
    listener: interprocess::local_socket::Listener,
    gate: Gate,
}

type Halves = (FramedWriter<SharedStream>, FramedReader<SharedStream>);

fn halves(stream: Stream) -> Halves {
    let stream = Arc::new(stream);
    (
        FramedWriter::new(SharedStream(Arc::clone(&stream)), DEFAULT_MAX_MESSAGE_SIZE),
        FramedReader::new(SharedStream(stream), DEFAULT_MAX_MESSAGE_SIZE),
    )
}

/// The peer's credentials as the crate reports them.
fn peer_cred(stream: &Stream) -> Result<PeerCred, OpenError> {
    let creds = stream
        .peer_creds()
        .map_err(|e| OpenError::io("reading the peer's credentials", e))?;
    match (creds.pid(), creds.euid()) {
        (Some(pid), Some(uid)) => Ok(PeerCred {
            pid: pid.unsigned_abs(),
            uid,
        }),
        _ => Err(OpenError::Backend(
            "this platform reports no peer pid and uid".into(),
        )),
    }
}

impl transport::Listener for InterprocessListener {
    type Sender = FramedWriter<SharedStream>;
    type Receiver = FramedReader<SharedStream>;

    fn expect_peer(&mut self, pid: u32) -> bool {
        self.gate.expect(pid);
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<Halves, OpenError> {
        let mut nap = FIRST_ACCEPT_NAP;
        let stream = loop {
            match self.listener.accept() {
                // A refused stream is dropped, which closes it.
                Ok(stream) if self.gate.admit(peer_cred(&stream)?) => break stream,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(OpenError::io("accept local socket", e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.gate.deadline_passed());
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
    type Sender = FramedWriter<SharedStream>;
    type Receiver = FramedReader<SharedStream>;
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
        let listener = InterprocessListener {
            listener,
            gate: Gate::new(),
        };
        Ok((listener, Endpoint(format!("{PREFIX}{name}"))))
    }

    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        let mut fields = Fields::read(endpoint, "interprocess:<socket name>");
        fields.scheme("interprocess")?;
        let name = fields.rest("socket name")?;
        let name = fields.check("socket name", name, !name.contains('\0'))?;
        let ns_name = name
            .to_ns_name::<GenericNamespaced>()
            .map_err(|e| OpenError::io(format!("local socket name {name:?}"), e))?;
        let stream = Stream::connect(ns_name)
            .map_err(|e| OpenError::io(format!("connect to local socket {name:?}"), e))?;
        Ok(halves(stream))
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
