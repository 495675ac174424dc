//! `tokio-pipe` and `tokio-pipe-mt`: two anonymous pipes (one per direction)
//! read and written through `tokio::net::unix::pipe`.
//!
//! Set-up is the `pipe` backend's, done with blocking calls
//! ([`transport::pipes::PipeRendezvous`]: both pipes published as
//! `/proc/<pid>/fd/<n>`, a hello byte, then the listener closes its copies of
//! the peer's ends). Only then are the descriptors handed to tokio, which
//! makes them non-blocking and registers them with the reactor.
//! Each side's two descriptors are separate open file descriptions, so making
//! one non-blocking never changes the other side's.

use std::fs::File;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::unix::pipe;
use tokio::runtime::Runtime;
use transport::pipes::PipeRendezvous;
use transport::{Endpoint, OpenError, Options};

use crate::{Flavour, TokioReceiver, TokioSender};

const PREFIX: &str = "tokio-pipe";

/// The tokio pipe transport on runtime flavour `F`.
#[derive(Debug)]
pub struct TokioPipeTransport<F>(PhantomData<F>);

/// The listener's side before the peer has opened its ends.
#[derive(Debug)]
pub struct PipeListener<F> {
    rendezvous: PipeRendezvous,
    flavour: PhantomData<F>,
}

type Halves = (TokioSender<pipe::Sender>, TokioReceiver<pipe::Receiver>);

fn into_tokio<F: Flavour>((tx, rx): (File, File)) -> Result<Halves, OpenError> {
    let (tx, rx) = (OwnedFd::from(tx), OwnedFd::from(rx));
    let rt: Arc<Runtime> = crate::runtime::<F>()?;
    // Registration with the reactor needs the runtime's context.
    let (w, r) = {
        let _ctx = rt.enter();
        (
            pipe::Sender::from_owned_fd(tx)
                .map_err(|e| OpenError::io("registering the write pipe with tokio", e))?,
            pipe::Receiver::from_owned_fd(rx)
                .map_err(|e| OpenError::io("registering the read pipe with tokio", e))?,
        )
    };
    Ok(crate::halves(rt, w, r))
}

impl<F: Flavour> transport::Listener for PipeListener<F> {
    type Sender = TokioSender<pipe::Sender>;
    type Receiver = TokioReceiver<pipe::Receiver>;

    fn accept(self, deadline: Instant) -> Result<Halves, OpenError> {
        into_tokio::<F>(self.rendezvous.accept(deadline)?)
    }
}

impl<F: Flavour> transport::Transport for TokioPipeTransport<F> {
    const NAME: &'static str = F::PIPE_NAME;
    const BACKEND: &'static str = "tokio-pipe";
    const DESCRIPTION: &'static str = F::PIPE_DESCRIPTION;
    type Sender = TokioSender<pipe::Sender>;
    type Receiver = TokioReceiver<pipe::Receiver>;
    type Listener = PipeListener<F>;

    fn listen(_opts: &Options) -> Result<(PipeListener<F>, Endpoint), OpenError> {
        let (rendezvous, endpoint) = PipeRendezvous::listen(PREFIX, None)?;
        let listener = PipeListener {
            rendezvous,
            flavour: PhantomData,
        };
        Ok((listener, endpoint))
    }

    /// Opens the pipes with blocking calls, before tokio owns the
    /// descriptors: set-up is not timed.
    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        into_tokio::<F>(PipeRendezvous::connect(PREFIX, endpoint)?)
    }
}
