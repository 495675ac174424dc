//! Named-FIFO backend, the worked example of docs/adding-a-backend.md: two
//! FIFOs in a fresh 0700 directory, length-prefixed frames. The listener
//! holds `up`'s read end and a read-write handle on `down`, so the peer's
//! opens return at once (or fail if the listener is gone); the peer says
//! hello, the listener opens `down` to write, then drops its handle and the
//! directory, so a dead peer gives EOF or `EPIPE`.

#![forbid(unsafe_code)]

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rustix::fs::{CWD, Mode, OFlags, fcntl_setfl, mkfifoat};
use transport::framing::{FramedReader, FramedWriter};
use transport::{DEFAULT_MAX_MESSAGE_SIZE as MAX, Endpoint, OpenError, Options, wait_readable};

/// The named FIFO pair transport.
#[derive(Debug)]
pub struct Fifo;

/// The directory, `up`'s read end and the read-write handle on `down`.
#[derive(Debug)]
pub struct FifoListener(PathBuf, File, Option<File>);

impl Drop for FifoListener {
    fn drop(&mut self) {
        let _ = (self.2.take(), std::fs::remove_dir_all(&self.0));
    }
}

type Halves = (FramedWriter<File>, FramedReader<File>);
const NB: i32 = OFlags::NONBLOCK.bits() as i32;

fn err(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> OpenError {
    move |e| OpenError::io(what.to_string(), e)
}

/// Opens `dir/name` without waiting for the other end, then sets `flags`.
fn open(dir: &Path, name: &str, rw: (bool, bool), flags: OFlags) -> Result<File, OpenError> {
    let (path, mut o) = (dir.join(name), OpenOptions::new());
    let f = o.read(rw.0).write(rw.1).custom_flags(NB).open(&path);
    let f = f.map_err(err(path.display()))?;
    fcntl_setfl(&f, flags).map_err(|e| err("fcntl")(e.into()))?;
    Ok(f)
}

impl transport::Listener for FifoListener {
    type Sender = FramedWriter<File>;
    type Receiver = FramedReader<File>;

    fn accept(self, deadline: Instant) -> Result<Halves, OpenError> {
        wait_readable(&self.1, deadline)?;
        if (&self.1).read(&mut [0u8]).map_err(err("reading hello"))? != 1 {
            return Err(OpenError::Backend("fifo peer left without a hello".into()));
        }
        let down = open(&self.0, "down", (false, true), OFlags::empty())?;
        let up = self.1.try_clone().map_err(err("dup"))?;
        fcntl_setfl(&up, OFlags::empty()).map_err(|e| err("fcntl")(e.into()))?;
        Ok((FramedWriter::new(down, MAX), FramedReader::new(up, MAX)))
    }
}

impl transport::Transport for Fifo {
    const NAME: &'static str = "fifo";
    const DESCRIPTION: &'static str = "two named FIFOs in a 0700 directory, length-prefixed frames";
    type Sender = FramedWriter<File>;
    type Receiver = FramedReader<File>;
    type Listener = FifoListener;

    fn listen(opts: &Options) -> Result<(FifoListener, Endpoint), OpenError> {
        let dir = std::env::temp_dir().join(format!("ipcbench-fifo-{}", opts.tag));
        let made = DirBuilder::new().mode(0o700).create(&dir);
        made.map_err(err(dir.display()))?;
        for f in ["up", "down"] {
            mkfifoat(CWD, dir.join(f), Mode::RUSR | Mode::WUSR).map_err(|e| err(f)(e.into()))?;
        }
        let up = open(&dir, "up", (true, false), OFlags::NONBLOCK)?;
        let down = open(&dir, "down", (true, true), OFlags::empty())?;
        let endpoint = Endpoint(format!("fifo:{}", dir.display()));
        Ok((FifoListener(dir, up, Some(down)), endpoint))
    }

    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        let bad = || OpenError::BadEndpoint(endpoint.0.clone());
        let dir = Path::new(endpoint.0.strip_prefix("fifo:").ok_or_else(bad)?);
        let mut up = open(dir, "up", (false, true), OFlags::empty())?;
        let down = open(dir, "down", (true, false), OFlags::empty())?;
        up.write_all(&[1]).map_err(err("writing hello"))?;
        Ok((FramedWriter::new(up, MAX), FramedReader::new(down, MAX)))
    }
}
