//! Waiting for a descriptor with a deadline: how every socket- or pipe-based
//! `Listener::accept` honours its deadline instead of blocking forever.

use std::os::fd::AsFd;
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, poll};

use crate::OpenError;

/// Waits until `fd` is readable (a connection to accept, a byte to read) or
/// `deadline` passes, retrying interrupted waits.
pub fn wait_readable(fd: impl AsFd, deadline: Instant) -> Result<(), OpenError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(OpenError::Timeout);
        }
        let ts = rustix::time::Timespec::try_from(left)
            .map_err(|_| OpenError::Backend("deadline out of range".into()))?;
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(OpenError::io("poll", e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_out_then_sees_data() {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        let start = Instant::now();
        let res = wait_readable(&r, start + Duration::from_millis(50));
        assert!(matches!(res, Err(OpenError::Timeout)));
        rustix::io::write(&w, b"x").expect("write");
        assert!(wait_readable(&r, Instant::now() + Duration::from_secs(5)).is_ok());
    }
}
