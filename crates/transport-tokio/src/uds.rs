//! `tokio-uds` and `tokio-uds-mt`: one Unix stream socket, bound in Linux's
//! abstract namespace (no file to remove, even after SIGKILL), read and written
//! through `tokio::net::UnixStream`.
//!
//! Connection setup is plain blocking code (a deadline-bounded `poll` and
//! `accept`, as in the `uds` backend); only the connected stream is handed to
//! tokio. Its two owned halves share one reactor registration. Dropping the
//! write half shuts down our direction (`shutdown(SHUT_WR)`), so a peer sees
//! end of stream as soon as our sender is gone, as with a closed socket.
//! The listener admits only its peer, by `SO_PEERCRED` ([`transport::peer`]).

use std::marker::PhantomData;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Instant;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use transport::endpoint::Fields;
use transport::peer::Gate;
use transport::{Endpoint, OpenError, Options};

use crate::{Flavour, TokioReceiver, TokioSender};

const PREFIX: &str = "tokio-uds:@";

/// The tokio Unix-socket transport on runtime flavour `F`.
#[derive(Debug)]
pub struct TokioUdsTransport<F>(PhantomData<F>);

/// A bound, listening socket waiting for its one peer.
#[derive(Debug)]
pub struct UdsListener<F> {
    listener: UnixListener,
    gate: Gate,
    flavour: PhantomData<F>,
}

type Halves = (TokioSender<OwnedWriteHalf>, TokioReceiver<OwnedReadHalf>);

fn into_tokio<F: Flavour>(stream: UnixStream) -> Result<Halves, OpenError> {
    // tokio requires a non-blocking descriptor and does not set it itself.
    stream
        .set_nonblocking(true)
        .map_err(|e| OpenError::io("setting O_NONBLOCK", e))?;
    let rt = crate::runtime::<F>()?;
    // Registration with the reactor needs the runtime's context.
    let stream = {
        let _ctx = rt.enter();
        tokio::net::UnixStream::from_std(stream)
            .map_err(|e| OpenError::io("registering the socket with tokio", e))?
    };
    let (r, w) = stream.into_split();
    Ok(crate::halves(rt, w, r))
}

impl<F: Flavour> transport::Listener for UdsListener<F> {
    type Sender = TokioSender<OwnedWriteHalf>;
    type Receiver = TokioReceiver<OwnedReadHalf>;

    fn expect_peer(&mut self, pid: u32) -> bool {
        self.gate.expect(pid);
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<Halves, OpenError> {
        into_tokio::<F>(self.gate.accept_unix(&self.listener, deadline)?)
    }
}

fn address(name: &str) -> Result<SocketAddr, OpenError> {
    SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| OpenError::io(format!("abstract address {name:?}"), e))
}

impl<F: Flavour> transport::Transport for TokioUdsTransport<F> {
    const NAME: &'static str = F::UDS_NAME;
    const BACKEND: &'static str = "tokio-uds";
    const DESCRIPTION: &'static str = F::UDS_DESCRIPTION;
    type Sender = TokioSender<OwnedWriteHalf>;
    type Receiver = TokioReceiver<OwnedReadHalf>;
    type Listener = UdsListener<F>;

    fn listen(opts: &Options) -> Result<(UdsListener<F>, Endpoint), OpenError> {
        let name = format!("ipcbench-tokio-{}", opts.tag);
        let listener = UnixListener::bind_addr(&address(&name)?)
            .map_err(|e| OpenError::io(format!("bind @{name}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| OpenError::io("setting O_NONBLOCK on the listener", e))?;
        Ok((
            UdsListener {
                listener,
                gate: Gate::new(),
                flavour: PhantomData,
            },
            Endpoint(format!("{PREFIX}{name}")),
        ))
    }

    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        let mut fields = Fields::read(endpoint, "tokio-uds:@<abstract name>");
        fields.scheme("tokio-uds")?;
        let name = fields.rest_after("abstract name", '@')?;
        let stream = UnixStream::connect_addr(&address(name)?)
            .map_err(|e| OpenError::io(format!("connect @{name}"), e))?;
        into_tokio::<F>(stream)
    }
}
