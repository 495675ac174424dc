//! Named-FIFO backend, the worked example of docs/adding-a-backend.md: two
//! FIFOs in a fresh 0700 directory, length-prefixed frames.
//!
//! A FIFO's `open` waits until the other end is open too, so the listener
//! prepares both ends the peer will need: it holds `up`'s read end, and a
//! read-write handle on `down` that stands in for `down`'s writer. The peer's
//! opens then return at once (or fail if the listener is gone, since every
//! open is non-blocking). The peer says hello on `up`; the listener opens
//! `down` to write, then drops the stand-in and removes the directory, so
//! from then on a dead peer gives EOF or `EPIPE`.

#![forbid(unsafe_code)]

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rustix::fs::{CWD, Mode, OFlags, fcntl_setfl, mkfifoat};
use transport::endpoint::Fields;
use transport::framing::{FramedReader, FramedWriter};
use transport::{DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options, wait_readable};

/// The named FIFO pair transport.
#[derive(Debug)]
pub struct Fifo;

/// The listening side, until the peer's hello arrives.
#[derive(Debug)]
pub struct FifoListener {
    /// The 0700 directory holding both FIFOs.
    dir: FifoDir,
    /// The read end of `up` (peer to listener), non-blocking so that
    /// `accept` can wait for the hello with a deadline.
    up: File,
    /// A read-write handle on `down` (listener to peer): while it is open,
    /// the peer's read-only open of `down` finds a writer and returns.
    down_stand_in: File,
}

/// The directory of a listener's FIFOs, removed when dropped (ends that
/// are open keep working).
#[derive(Debug)]
struct FifoDir {
    path: PathBuf,
}

impl Drop for FifoDir {
    fn drop(&mut self) {
        // Nothing to report from a drop; a failure leaves a 0700 directory
        // named after the tag, which the conformance suite would catch.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The sender and receiver of one side.
type Halves = (FramedWriter<File>, FramedReader<File>);

/// How one end of a FIFO is opened.
#[derive(Debug, Clone, Copy)]
enum Access {
    Read,
    Write,
    ReadWrite,
}

/// Opens `dir/name` without waiting for the other end (`O_NONBLOCK`), then
/// sets its status flags to `flags` (empty: blocking from now on).
fn open(dir: &Path, name: &str, access: Access, flags: OFlags) -> Result<File, OpenError> {
    let path = dir.join(name);
    let (read, write) = match access {
        Access::Read => (true, false),
        Access::Write => (false, true),
        Access::ReadWrite => (true, true),
    };
    let file = OpenOptions::new()
        .read(read)
        .write(write)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(&path)
        .map_err(|e| OpenError::io(path.display().to_string(), e))?;
    set_flags(&file, flags)?;
    Ok(file)
}

fn set_flags(file: &File, flags: OFlags) -> Result<(), OpenError> {
    fcntl_setfl(file, flags).map_err(|e| OpenError::io("fcntl(F_SETFL)", e.into()))
}

impl transport::Listener for FifoListener {
    type Sender = FramedWriter<File>;
    type Receiver = FramedReader<File>;

    fn accept(self, deadline: Instant) -> Result<Halves, OpenError> {
        let Self {
            dir,
            up,
            down_stand_in,
        } = self;
        wait_readable(&up, deadline)?;
        let mut hello = [0u8];
        let read = (&up)
            .read(&mut hello)
            .map_err(|e| OpenError::io("reading hello", e))?;
        if read != 1 {
            return Err(OpenError::Backend("fifo peer left without a hello".into()));
        }
        let down = open(&dir.path, "down", Access::Write, OFlags::empty())?;
        set_flags(&up, OFlags::empty())?;
        // The peer has both ends now: from here a dead peer must read as EOF
        // or EPIPE, so the stand-in writer goes, and the directory with it.
        drop(down_stand_in);
        drop(dir);
        Ok((
            FramedWriter::new(down, DEFAULT_MAX_MESSAGE_SIZE),
            FramedReader::new(up, DEFAULT_MAX_MESSAGE_SIZE),
        ))
    }
}

impl transport::Transport for Fifo {
    const NAME: &'static str = "fifo";
    const DESCRIPTION: &'static str = "two named FIFOs in a 0700 directory, length-prefixed frames";
    type Sender = FramedWriter<File>;
    type Receiver = FramedReader<File>;
    type Listener = FifoListener;

    fn listen(opts: &Options) -> Result<(FifoListener, Endpoint), OpenError> {
        let path = std::env::temp_dir().join(format!("ipcbench-fifo-{}", opts.tag));
        DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| OpenError::io(path.display().to_string(), e))?;
        // From here on, an error removes the directory again.
        let dir = FifoDir { path };
        for name in ["up", "down"] {
            mkfifoat(CWD, dir.path.join(name), Mode::RUSR | Mode::WUSR)
                .map_err(|e| OpenError::io(format!("mkfifo {name}"), e.into()))?;
        }
        let up = open(&dir.path, "up", Access::Read, OFlags::NONBLOCK)?;
        let down_stand_in = open(&dir.path, "down", Access::ReadWrite, OFlags::empty())?;
        let endpoint = Endpoint(format!("fifo:{}", dir.path.display()));
        let listener = FifoListener {
            dir,
            up,
            down_stand_in,
        };
        Ok((listener, endpoint))
    }

    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        let mut fields = Fields::read(endpoint, "fifo:<directory>");
        fields.scheme("fifo")?;
        let dir = Path::new(fields.rest("directory")?);
        let mut up = open(dir, "up", Access::Write, OFlags::empty())?;
        let down = open(dir, "down", Access::Read, OFlags::empty())?;
        up.write_all(&[1])
            .map_err(|e| OpenError::io("writing hello", e))?;
        Ok((
            FramedWriter::new(up, DEFAULT_MAX_MESSAGE_SIZE),
            FramedReader::new(down, DEFAULT_MAX_MESSAGE_SIZE),
        ))
    }
}
