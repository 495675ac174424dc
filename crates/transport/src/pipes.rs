//! The anonymous-pipe rendezvous, shared by every pipe backend (`pipe`,
//! `pipe-1m`, `tokio-pipe`, `tokio-pipe-mt`).
//!
//! Anonymous pipes have no name, so the listening process publishes them as
//! `/proc/<pid>/fd/<n>` (endpoint `<prefix>:<pid>:<write fd>:<read fd>`):
//! opening that path on Linux yields a new descriptor for the very same pipe,
//! with no FIFO in the file system and nothing to clean up, and only a
//! process of the same user may open it. After the peer has opened both ends
//! it writes one hello byte; on seeing it the listener closes its copies of
//! the peer's ends, so that either side exiting gives the other EOF or
//! `EPIPE`, which is how a dead peer is noticed. Every descriptor is
//! close-on-exec.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use rustix::pipe::{PipeFlags, fcntl_setpipe_size, pipe_with};

use crate::endpoint::Fields;
use crate::{Endpoint, OpenError, wait_readable};

const HELLO: u8 = 0x5A;

/// The listening side of a pipe pair before the peer has opened its ends.
#[derive(Debug)]
pub struct PipeRendezvous {
    /// Read end of peer-to-us.
    inbound: OwnedFd,
    /// Write end of us-to-peer.
    outbound: OwnedFd,
    /// The peer's ends, held open until the peer has its own copies.
    peer_ends: (OwnedFd, OwnedFd),
}

fn make_pipe(size: Option<usize>) -> Result<(OwnedFd, OwnedFd), OpenError> {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| OpenError::io("pipe2", e.into()))?;
    if let Some(size) = size {
        fcntl_setpipe_size(&w, size)
            .map_err(|e| OpenError::io(format!("F_SETPIPE_SZ to {size} bytes"), e.into()))?;
    }
    Ok((r, w))
}

impl PipeRendezvous {
    /// Creates both pipes (with a kernel buffer of `size` bytes, or the
    /// default) and names them in an endpoint starting with `prefix`.
    pub fn listen(prefix: &str, size: Option<usize>) -> Result<(Self, Endpoint), OpenError> {
        let (in_r, in_w) = make_pipe(size)?;
        let (out_r, out_w) = make_pipe(size)?;
        let endpoint = Endpoint(format!(
            "{prefix}:{}:{}:{}",
            std::process::id(),
            in_w.as_raw_fd(),
            out_r.as_raw_fd()
        ));
        let listener = Self {
            inbound: in_r,
            outbound: out_w,
            peer_ends: (in_w, out_r),
        };
        Ok((listener, endpoint))
    }

    /// Waits for the peer's hello until `deadline`; returns (to the peer,
    /// from the peer).
    pub fn accept(self, deadline: Instant) -> Result<(File, File), OpenError> {
        wait_readable(&self.inbound, deadline)?;
        let mut inbound = File::from(self.inbound);
        let mut hello = [0u8; 1];
        let n = inbound
            .read(&mut hello)
            .map_err(|e| OpenError::io("reading hello", e))?;
        if n != 1 || hello[0] != HELLO {
            return Err(OpenError::Backend("pipe peer sent no hello".into()));
        }
        drop(self.peer_ends);
        Ok((File::from(self.outbound), inbound))
    }

    /// Opens the pipes an endpoint with `prefix` names and says hello;
    /// returns (to the listener, from the listener).
    pub fn connect(prefix: &str, endpoint: &Endpoint) -> Result<(File, File), OpenError> {
        let (pid, w, r) = parse(prefix, endpoint)?;
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
        tx.write_all(&[HELLO])
            .map_err(|e| OpenError::io("writing hello", e))?;
        Ok((tx, rx))
    }
}

/// The form of a pipe endpoint.
const FORM: &str = "<backend>:<pid>:<write fd>:<read fd>";

/// `<prefix>:<pid>:<write fd>:<read fd>` to its numbers.
fn parse(prefix: &str, endpoint: &Endpoint) -> Result<(u32, u32, u32), OpenError> {
    let mut f = Fields::read(endpoint, FORM);
    f.scheme(prefix)?;
    let parsed = (f.pid()?, f.number("write fd")?, f.number("read fd")?);
    f.end()?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn endpoint_parsing() {
        let ep = |s: &str| Endpoint(s.into());
        assert_eq!(
            parse("tokio-pipe", &ep("tokio-pipe:12:3:4")).expect("valid"),
            (12, 3, 4)
        );
        for bad in [
            "pipe:1:2:3",
            "tokio-pipe:1:2",
            "tokio-pipe:1:2:3:4",
            "tokio-pipe:a:2:3",
            "tokio-pipe:0:2:3",
            "",
        ] {
            let e = parse("tokio-pipe", &ep(bad)).expect_err(bad).to_string();
            assert!(e.contains(&format!("{bad:?}")) && e.contains(FORM), "{e}");
        }
        let e = parse("tokio-pipe", &ep("tokio-pipe:1:x:3")).expect_err("fd");
        assert!(e.to_string().contains("bad write fd \"x\""), "{e}");
    }

    #[test]
    fn rendezvous_within_one_process_carries_bytes_both_ways() {
        let (listener, endpoint) = PipeRendezvous::listen("t", None).expect("listen");
        let (mut c_tx, mut c_rx) = PipeRendezvous::connect("t", &endpoint).expect("connect");
        let (mut l_tx, mut l_rx) = listener
            .accept(Instant::now() + Duration::from_secs(5))
            .expect("accept");
        c_tx.write_all(b"up").expect("write");
        l_tx.write_all(b"down").expect("write");
        let mut buf = [0u8; 4];
        l_rx.read_exact(&mut buf[..2]).expect("read");
        assert_eq!(&buf[..2], b"up");
        c_rx.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"down");
        drop((c_tx, c_rx));
        assert_eq!(l_rx.read(&mut buf).expect("eof"), 0, "peer gone: EOF");
    }
}
