//! Anonymous-pipe backend: two `pipe2` pipes (one per direction) carrying
//! length-prefixed frames.
//!
//! Anonymous pipes have no name: the listening process publishes them as
//! `/proc/<pid>/fd/<n>` ([`transport::pipes::PipeRendezvous`], shared with the
//! tokio pipe backends), and either side exiting gives the other EOF or
//! `EPIPE`, which is how a dead peer is noticed.
//!
//! Two variants: `pipe` keeps the kernel's default 64 KiB pipe buffer, so
//! larger messages need several wake-ups; `pipe-1m` enlarges it with
//! `F_SETPIPE_SZ` to 1 MiB (the unprivileged limit in `/proc/sys/fs/pipe-max-size`).

#![forbid(unsafe_code)]

use std::fs::File;
use std::marker::PhantomData;
use std::time::Instant;

use transport::framing::{FramedReader, FramedWriter};
use transport::pipes::PipeRendezvous;
use transport::{DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options};

/// Pipe buffer of the `pipe-1m` variant.
pub const BIG_PIPE_SIZE: usize = 1 << 20;

/// Which pipe buffer size a variant uses.
pub trait PipeSize: Send + 'static {
    /// Kernel pipe buffer in bytes, or `None` for the default.
    const SIZE: Option<usize>;
    /// Registry name.
    const NAME: &'static str;
    /// Registry description.
    const DESCRIPTION: &'static str;
}

/// The kernel's default pipe buffer (64 KiB).
#[derive(Debug)]
pub struct DefaultSize;
impl PipeSize for DefaultSize {
    const SIZE: Option<usize> = None;
    const NAME: &'static str = "pipe";
    const DESCRIPTION: &'static str =
        "anonymous pipes (64 KiB kernel buffer), length-prefixed frames";
}

/// A 1 MiB pipe buffer via `F_SETPIPE_SZ`.
#[derive(Debug)]
pub struct OneMiB;
impl PipeSize for OneMiB {
    const SIZE: Option<usize> = Some(BIG_PIPE_SIZE);
    const NAME: &'static str = "pipe-1m";
    const DESCRIPTION: &'static str =
        "anonymous pipes enlarged to 1 MiB with F_SETPIPE_SZ, length-prefixed frames";
}

/// The pipe transport, parameterised by buffer size.
#[derive(Debug)]
pub struct Pipe<S>(PhantomData<S>);

/// `pipe`: default buffer.
pub type PipeDefault = Pipe<DefaultSize>;
/// `pipe-1m`: enlarged buffer.
pub type Pipe1M = Pipe<OneMiB>;

/// The listener's side before the peer has opened its ends.
#[derive(Debug)]
pub struct PipeListener(PipeRendezvous);

type Halves = (FramedWriter<File>, FramedReader<File>);

fn framed((tx, rx): (File, File)) -> Halves {
    (
        FramedWriter::new(tx, DEFAULT_MAX_MESSAGE_SIZE),
        FramedReader::new(rx, DEFAULT_MAX_MESSAGE_SIZE),
    )
}

impl transport::Listener for PipeListener {
    type Sender = FramedWriter<File>;
    type Receiver = FramedReader<File>;

    fn accept(self, deadline: Instant) -> Result<Halves, OpenError> {
        self.0.accept(deadline).map(framed)
    }
}

impl<S: PipeSize> transport::Transport for Pipe<S> {
    const NAME: &'static str = S::NAME;
    const BACKEND: &'static str = "pipe";
    const DESCRIPTION: &'static str = S::DESCRIPTION;
    type Sender = FramedWriter<File>;
    type Receiver = FramedReader<File>;
    type Listener = PipeListener;

    fn listen(_opts: &Options) -> Result<(PipeListener, Endpoint), OpenError> {
        let (rendezvous, endpoint) = PipeRendezvous::listen("pipe", S::SIZE)?;
        Ok((PipeListener(rendezvous), endpoint))
    }

    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        PipeRendezvous::connect("pipe", endpoint).map(framed)
    }
}
