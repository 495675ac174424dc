//! tokio-driven backends: a Unix stream socket and a pair of anonymous pipes
//! whose every read and write goes through tokio's reactor, so the benchmark
//! shows what async I/O costs next to the blocking `uds` and `pipe` backends
//! that use the same kernel objects and the same wire format.
//!
//! The `Transport` contract is synchronous, so each connection side owns one
//! runtime (shared by its two halves through an `Arc`) and every `send` and
//! `recv` is one `Runtime::block_on` of an async frame read or write. The
//! future first tries the system call; only when the kernel has nothing ready
//! does it park in the reactor (`epoll_wait`) until a readiness event wakes it.
//! That entry, the failed try and the wake-up are what a caller driving tokio
//! from synchronous code pays, and they are inside the timed call: see
//! `docs/async-timing.md`.
//!
//! Four variants, two kernel objects times two runtime flavours:
//!
//! | NAME | type | runtime |
//! |---|---|---|
//! | `tokio-uds` | [`TokioUds`] | current-thread: `block_on` itself polls the reactor |
//! | `tokio-uds-mt` | [`TokioUdsMt`] | multi-thread, 2 workers: a worker polls the reactor and unparks the caller |
//! | `tokio-pipe` | [`TokioPipe`] | current-thread |
//! | `tokio-pipe-mt` | [`TokioPipeMt`] | multi-thread, 2 workers |
//!
//! When the sender and the receiver of one side are used from two threads at
//! once, a current-thread runtime lets one `block_on` own the reactor and hands
//! readiness to the other (tokio documents concurrent `block_on` as supported).

#![forbid(unsafe_code)]

mod framing;
mod pipe;
mod uds;

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::{Builder, Runtime};
use transport::{DEFAULT_MAX_MESSAGE_SIZE, OpenError, RecvError, SendError};

pub use framing::{AsyncFramedReader, AsyncFramedWriter};
pub use pipe::{PipeListener, TokioPipeTransport};
pub use uds::{TokioUdsTransport, UdsListener};

/// `tokio-uds`: Unix stream socket, current-thread runtime.
pub type TokioUds = TokioUdsTransport<CurrentThread>;
/// `tokio-uds-mt`: Unix stream socket, multi-thread runtime with 2 workers.
pub type TokioUdsMt = TokioUdsTransport<MultiThread>;
/// `tokio-pipe`: two anonymous pipes, current-thread runtime.
pub type TokioPipe = TokioPipeTransport<CurrentThread>;
/// `tokio-pipe-mt`: two anonymous pipes, multi-thread runtime with 2 workers.
pub type TokioPipeMt = TokioPipeTransport<MultiThread>;

/// Worker threads of the multi-thread flavour: one per core of the reference
/// machine, and tokio's own default there.
pub const MT_WORKERS: usize = 2;

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

/// Which tokio runtime drives a connection side, and the names that go with it.
pub trait Flavour: Send + 'static {
    /// Registry name of the Unix-socket variant.
    const UDS_NAME: &'static str;
    /// Registry description of the Unix-socket variant.
    const UDS_DESCRIPTION: &'static str;
    /// Registry name of the pipe variant.
    const PIPE_NAME: &'static str;
    /// Registry description of the pipe variant.
    const PIPE_DESCRIPTION: &'static str;
    /// Builds the runtime, with the I/O driver enabled.
    fn runtime() -> io::Result<Runtime>;
}

/// tokio's current-thread scheduler: no threads of its own.
#[derive(Debug)]
pub struct CurrentThread;

impl Flavour for CurrentThread {
    const UDS_NAME: &'static str = "tokio-uds";
    const UDS_DESCRIPTION: &'static str =
        "Unix stream socket driven by a current-thread tokio runtime, length-prefixed frames";
    const PIPE_NAME: &'static str = "tokio-pipe";
    const PIPE_DESCRIPTION: &'static str =
        "anonymous pipes driven by a current-thread tokio runtime, length-prefixed frames";
    fn runtime() -> io::Result<Runtime> {
        Builder::new_current_thread().enable_io().build()
    }
}

/// tokio's multi-thread scheduler with [`MT_WORKERS`] workers.
#[derive(Debug)]
pub struct MultiThread;

impl Flavour for MultiThread {
    const UDS_NAME: &'static str = "tokio-uds-mt";
    const UDS_DESCRIPTION: &'static str = "Unix stream socket driven by a 2-worker multi-thread tokio runtime, length-prefixed frames";
    const PIPE_NAME: &'static str = "tokio-pipe-mt";
    const PIPE_DESCRIPTION: &'static str =
        "anonymous pipes driven by a 2-worker multi-thread tokio runtime, length-prefixed frames";
    fn runtime() -> io::Result<Runtime> {
        Builder::new_multi_thread()
            .worker_threads(MT_WORKERS)
            .thread_name("ipcbench-tokio")
            .enable_io()
            .build()
    }
}

fn runtime<F: Flavour>() -> Result<Arc<Runtime>, OpenError> {
    F::runtime()
        .map(Arc::new)
        .map_err(|e| OpenError::io("building the tokio runtime", e))
}

/// Sends frames through tokio. Field order matters: the stream is dropped
/// (and deregistered) before this half's share of the runtime.
#[derive(Debug)]
pub struct TokioSender<W> {
    writer: AsyncFramedWriter<W>,
    rt: Arc<Runtime>,
}

/// Receives frames through tokio and lends them out of its buffer.
#[derive(Debug)]
pub struct TokioReceiver<R> {
    reader: AsyncFramedReader<R>,
    rt: Arc<Runtime>,
}

impl<W: AsyncWrite + Unpin + Send + 'static> transport::Sender for TokioSender<W> {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.rt.block_on(self.writer.send(msg))
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> transport::Receiver for TokioReceiver<R> {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let range = self.rt.block_on(self.reader.next_frame())?;
        Ok(self.reader.frame(range))
    }
}

fn halves<W: AsyncWrite + Unpin, R: AsyncRead + Unpin>(
    rt: Arc<Runtime>,
    w: W,
    r: R,
) -> (TokioSender<W>, TokioReceiver<R>) {
    (
        TokioSender {
            writer: AsyncFramedWriter::new(w, MAX),
            rt: Arc::clone(&rt),
        },
        TokioReceiver {
            reader: AsyncFramedReader::new(r, MAX),
            rt,
        },
    )
}
