//! `tokio-pipe` and `tokio-pipe-mt`: two anonymous pipes (one per direction)
//! read and written through `tokio::net::unix::pipe`.
//!
//! Set-up is the `pipe` backend's, done with blocking calls: the listener
//! creates both pipes and publishes them as `/proc/<pid>/fd/<n>` (opening that
//! path yields a new descriptor for the same pipe, with nothing in the file
//! system to clean up); the peer opens them and writes one hello byte; on
//! seeing it the listener closes its copies of the peer's ends, so either side
//! exiting gives the other EOF or `EPIPE`. Only then are the descriptors handed
//! to tokio, which makes them non-blocking and registers them with the reactor.
//! Each side's two descriptors are separate open file descriptions, so making
//! one non-blocking never changes the other side's.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use rustix::pipe::{PipeFlags, pipe_with};
use tokio::net::unix::pipe;
use tokio::runtime::Runtime;
use transport::{Endpoint, OpenError, Options};

use crate::{Flavor, TokioReceiver, TokioSender};

const PREFIX: &str = "tokio-pipe";

const HELLO: u8 = 0x5A;

/// The tokio pipe transport on runtime flavour `F`.
#[derive(Debug)]
pub struct TokioPipeTransport<F>(PhantomData<F>);

/// The listener's side before the peer has opened its ends.
#[derive(Debug)]
pub struct PipeListener<F> {
    /// Read end of peer-to-us.
    inbound: OwnedFd,
    /// Write end of us-to-peer.
    outbound: OwnedFd,
    /// The peer's ends, held open until the peer has its own copies.
    peer_ends: (OwnedFd, OwnedFd),
    flavor: PhantomData<F>,
}

type Halves = (TokioSender<pipe::Sender>, TokioReceiver<pipe::Receiver>);

fn into_tokio<F: Flavor>(tx: OwnedFd, rx: OwnedFd) -> Result<Halves, OpenError> {
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

impl<F: Flavor> transport::Listener for PipeListener<F> {
    type Sender = TokioSender<pipe::Sender>;
    type Receiver = TokioReceiver<pipe::Receiver>;

    fn accept(self, deadline: Instant) -> Result<Halves, OpenError> {
        transport::wait_readable(&self.inbound, deadline)?;
        let mut inbound = File::from(self.inbound);
        let mut hello = [0u8; 1];
        let n = inbound
            .read(&mut hello)
            .map_err(|e| OpenError::io("reading hello", e))?;
        if n != 1 || hello[0] != HELLO {
            return Err(OpenError::Backend("pipe peer sent no hello".into()));
        }
        drop(self.peer_ends);
        into_tokio::<F>(self.outbound, OwnedFd::from(inbound))
    }
}

fn make_pipe() -> Result<(OwnedFd, OwnedFd), OpenError> {
    pipe_with(PipeFlags::CLOEXEC).map_err(|e| OpenError::io("pipe2", e.into()))
}

fn parse(endpoint: &Endpoint) -> Option<(u32, u32, u32)> {
    let mut parts = endpoint.0.split(':');
    if parts.next() != Some(PREFIX) {
        return None;
    }
    let mut num = || parts.next().and_then(|p| p.parse::<u32>().ok());
    let parsed = (num()?, num()?, num()?);
    parts.next().is_none().then_some(parsed)
}

impl<F: Flavor> transport::Transport for TokioPipeTransport<F> {
    const NAME: &'static str = F::PIPE_NAME;
    const DESCRIPTION: &'static str = F::PIPE_DESCRIPTION;
    type Sender = TokioSender<pipe::Sender>;
    type Receiver = TokioReceiver<pipe::Receiver>;
    type Listener = PipeListener<F>;

    fn listen(_opts: &Options) -> Result<(PipeListener<F>, Endpoint), OpenError> {
        let (in_r, in_w) = make_pipe()?;
        let (out_r, out_w) = make_pipe()?;
        let endpoint = Endpoint(format!(
            "{PREFIX}:{}:{}:{}",
            std::process::id(),
            in_w.as_raw_fd(),
            out_r.as_raw_fd()
        ));
        Ok((
            PipeListener {
                inbound: in_r,
                outbound: out_w,
                peer_ends: (in_w, out_r),
                flavor: PhantomData,
            },
            endpoint,
        ))
    }

    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        let (pid, w, r) =
            parse(endpoint).ok_or_else(|| OpenError::BadEndpoint(endpoint.0.clone()))?;
        let open = |fd: u32, write: bool| {
            let path = format!("/proc/{pid}/fd/{fd}");
            OpenOptions::new()
                .read(!write)
                .write(write)
                .open(&path)
                .map_err(|e| OpenError::io(format!("opening {path}"), e))
        };
        let mut tx = open(w, true)?;
        let rx = open(r, false)?;
        // Blocking, before tokio owns the descriptor: set-up is not timed.
        tx.write_all(&[HELLO])
            .map_err(|e| OpenError::io("writing hello", e))?;
        into_tokio::<F>(OwnedFd::from(tx), OwnedFd::from(rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_parsing() {
        assert_eq!(
            parse(&Endpoint("tokio-pipe:12:3:4".into())),
            Some((12, 3, 4))
        );
        for bad in [
            "pipe:1:2:3",
            "tokio-pipe:1:2",
            "tokio-pipe:1:2:3:4",
            "tokio-pipe:a:2:3",
            "",
        ] {
            assert_eq!(parse(&Endpoint(bad.into())), None, "{bad}");
        }
    }
}
