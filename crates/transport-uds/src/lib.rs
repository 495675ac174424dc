//! Unix-domain stream socket backend: one connected `SOCK_STREAM` socket,
//! duplex, carrying length-prefixed frames.
//!
//! The listening socket is bound in Linux's abstract namespace
//! (`\0ipcbench-<tag>`): it behaves like a path-bound socket for data transfer,
//! but there is no file to remove, so even a run killed with SIGKILL leaves
//! nothing behind. The listener admits only its peer (by `SO_PEERCRED`, see
//! [`transport::peer`]) and is closed as soon as that peer is accepted.

#![forbid(unsafe_code)]

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Instant;

use transport::endpoint::Fields;
use transport::framing::{self, FramedReader, FramedWriter};
use transport::peer::Gate;
use transport::{DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options};

/// The Unix stream socket transport.
#[derive(Debug)]
pub struct Uds;

/// A bound, listening socket waiting for its one peer.
#[derive(Debug)]
pub struct UdsListener {
    listener: UnixListener,
    gate: Gate,
}

type Halves = (FramedWriter<UnixStream>, FramedReader<UnixStream>);

fn halves(stream: UnixStream) -> Result<Halves, OpenError> {
    framing::duplex(stream, DEFAULT_MAX_MESSAGE_SIZE)
}

impl transport::Listener for UdsListener {
    type Sender = FramedWriter<UnixStream>;
    type Receiver = FramedReader<UnixStream>;

    fn expect_peer(&mut self, pid: u32) -> bool {
        self.gate.expect(pid);
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<Halves, OpenError> {
        halves(self.gate.accept_unix(&self.listener, deadline)?)
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
    type Sender = FramedWriter<UnixStream>;
    type Receiver = FramedReader<UnixStream>;
    type Listener = UdsListener;

    fn listen(opts: &Options) -> Result<(UdsListener, Endpoint), OpenError> {
        let name = format!("ipcbench-{}", opts.tag);
        let listener = UnixListener::bind_addr(&address(&name)?)
            .map_err(|e| OpenError::io(format!("bind @{name}"), e))?;
        let endpoint = Endpoint(format!("uds:@{name}"));
        Ok((
            UdsListener {
                listener,
                gate: Gate::new(),
            },
            endpoint,
        ))
    }

    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        let mut fields = Fields::read(endpoint, "uds:@<abstract name>");
        fields.scheme("uds")?;
        let name = fields.rest_after("abstract name", '@')?;
        let stream = UnixStream::connect_addr(&address(name)?)
            .map_err(|e| OpenError::io(format!("connect @{name}"), e))?;
        halves(stream)
    }
}
