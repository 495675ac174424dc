//! Anonymous-pipe backend: two `pipe2` pipes (one per direction) carrying
//! length-prefixed frames.
//!
//! Anonymous pipes have no name, so the listening process publishes them as
//! `/proc/<pid>/fd/<n>`: opening that path on Linux yields a new descriptor for
//! the very same pipe, with no FIFO in the file system and nothing to clean up.
//! After the peer has opened both ends it writes one hello byte; on seeing it
//! the listener closes its copies of the peer's ends, so that either side
//! exiting gives the other EOF or `EPIPE`, which is how a dead peer is noticed.
//!
//! Two variants: `pipe` keeps the kernel's default 64 KiB pipe buffer, so
//! larger messages need several wake-ups; `pipe-1m` enlarges it with
//! `F_SETPIPE_SZ` to 1 MiB (the unprivileged limit in `/proc/sys/fs/pipe-max-size`).

#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use rustix::pipe::{PipeFlags, fcntl_setpipe_size, pipe_with};
use transport::framing::{FramedReader, FramedWriter};
use transport::{
    Capabilities, DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options, RecvError, SendError,
    WaitStrategy,
};

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

/// Sends frames into a pipe.
#[derive(Debug)]
pub struct PipeSender(FramedWriter<File>);

/// Receives frames from a pipe.
#[derive(Debug)]
pub struct PipeReceiver(FramedReader<File>);

impl transport::Sender for PipeSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.0.send(msg)
    }
}

impl transport::Receiver for PipeReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.0.recv()
    }
}

/// The listener's side before the peer has opened its ends.
#[derive(Debug)]
pub struct PipeListener {
    /// Read end of peer-to-us.
    inbound: OwnedFd,
    /// Write end of us-to-peer.
    outbound: OwnedFd,
    /// The peer's ends, held open until the peer has its own copies.
    peer_ends: (OwnedFd, OwnedFd),
}

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

fn make_pipe(size: Option<usize>) -> Result<(OwnedFd, OwnedFd), OpenError> {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| OpenError::io("pipe2", e.into()))?;
    if let Some(size) = size {
        fcntl_setpipe_size(&w, size)
            .map_err(|e| OpenError::io(format!("F_SETPIPE_SZ to {size} bytes"), e.into()))?;
    }
    Ok((r, w))
}

impl transport::Listener for PipeListener {
    type Sender = PipeSender;
    type Receiver = PipeReceiver;

    fn accept(self, deadline: Instant) -> Result<(PipeSender, PipeReceiver), OpenError> {
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
        Ok((
            PipeSender(FramedWriter::new(File::from(self.outbound), MAX)),
            PipeReceiver(FramedReader::new(inbound, MAX)),
        ))
    }
}

const HELLO: u8 = 0x5A;

impl<S: PipeSize> transport::Transport for Pipe<S> {
    const NAME: &'static str = S::NAME;
    const DESCRIPTION: &'static str = S::DESCRIPTION;
    type Sender = PipeSender;
    type Receiver = PipeReceiver;
    type Listener = PipeListener;

    fn listen(_opts: &Options) -> Result<(PipeListener, Endpoint), OpenError> {
        let (in_r, in_w) = make_pipe(S::SIZE)?;
        let (out_r, out_w) = make_pipe(S::SIZE)?;
        let endpoint = Endpoint(format!(
            "pipe:{}:{}:{}",
            std::process::id(),
            in_w.as_raw_fd(),
            out_r.as_raw_fd()
        ));
        Ok((
            PipeListener {
                inbound: in_r,
                outbound: out_w,
                peer_ends: (in_w, out_r),
            },
            endpoint,
        ))
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(PipeSender, PipeReceiver), OpenError> {
        let bad = || OpenError::BadEndpoint(endpoint.0.clone());
        let mut parts = endpoint.0.split(':');
        if parts.next() != Some("pipe") {
            return Err(bad());
        }
        let mut num = || {
            parts
                .next()
                .and_then(|p| p.parse::<u32>().ok())
                .ok_or_else(bad)
        };
        let (pid, w, r) = (num()?, num()?, num()?);
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
        std::io::Write::write_all(&mut tx, &[HELLO])
            .map_err(|e| OpenError::io("writing hello", e))?;
        Ok((
            PipeSender(FramedWriter::new(tx, MAX)),
            PipeReceiver(FramedReader::new(rx, MAX)),
        ))
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: MAX,
            zero_copy_recv: false,
            wait: WaitStrategy::Block,
        }
    }
}
