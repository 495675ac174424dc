//! The plain example the shm-crate backend is held against: what a public
//! Rust write-up builds on the same two crates for a request/response of a
//! few bytes, and nothing more. One `shared_memory` segment holds, per
//! direction, a `raw_sync` busy event and an 8-byte buffer; a side writes the
//! buffer and sets the event, the other spins on the event for ever
//! (`Timeout::Infinite`), reads the buffer and answers the same way.
//!
//! It has none of what makes shm-crate a transport (a length, chunking,
//! a second event so the writer knows the slot is free, a bounded spin that
//! then sleeps, liveness checks, a copy out to lend, the fences that make
//! raw_sync's `Relaxed` events publish the data), so it is the cost of the
//! common approach with every one of those left out. `ipcbench floors`
//! times it beside the probes, and the shm-crate backend's 8 B pingpong is
//! held against it (docs/shm.md, "shm-crate and its plain example").
//!
//! Both sides share the mapping by `fork`: the name is removed from /dev/shm
//! as soon as the segment exists, so nothing is left even if either side is
//! killed.

use std::sync::atomic::{AtomicU64, Ordering};

use raw_sync::Timeout;
use raw_sync::events::{BusyEvent, EventImpl, EventInit, EventState};
use shared_memory::{Shmem, ShmemConf};

use crate::segment::Error;

/// Bytes of one direction: its event, then its buffer, in a cache line of
/// its own (as the backend keeps each direction's header apart).
const DIRECTION: usize = 64;
/// Where the buffer sits after the event.
const BUFFER: usize = 8;

/// The ping and the pong direction of the plain example.
pub struct Plain {
    shmem: Shmem,
    ping: Box<dyn EventImpl>,
    pong: Box<dyn EventImpl>,
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plain")
            .field("segment", &self.shmem.get_os_id())
            .finish()
    }
}

impl Plain {
    /// Creates the segment (named like the backend's, so a stale one is
    /// swept by [`crate::reclaim_stale`]), removes its name at once and
    /// initialises both events cleared.
    pub fn new() -> Result<Self, Error> {
        let name = format!(
            "{}{}-plain",
            crate::segment::NAME_PREFIX,
            std::process::id()
        );
        let mut shmem = ShmemConf::new()
            .os_id(format!("/{name}"))
            .size(2 * DIRECTION)
            .create()
            .map_err(|source| Error::Shmem {
                name: name.clone(),
                source,
            })?;
        // The mapping outlives the name: a fork shares it, nobody opens it.
        let _ = rustix::shm::unlink(format!("/{name}").as_str());
        shmem.set_owner(false);
        let event = |dir: usize| {
            // SAFETY: `dir * DIRECTION` is inside the 2 * DIRECTION bytes
            // just mapped, which `self.shmem` keeps mapped as long as the
            // event lives (both are fields of the value returned).
            unsafe { BusyEvent::new(shmem.as_ptr().add(dir * DIRECTION), true) }
                .map(|(ev, _)| ev)
                .map_err(|e| Error::Event {
                    name: name.clone(),
                    why: e.to_string(),
                })
        };
        let (ping, pong) = (event(0)?, event(1)?);
        Ok(Self { shmem, ping, pong })
    }

    fn buffer(&self, dir: usize) -> &AtomicU64 {
        // SAFETY: inside the mapping, 8-byte aligned (the mapping is
        // page-aligned), valid for any bit pattern, and alive as long as
        // `self`.
        unsafe {
            &*self
                .shmem
                .as_ptr()
                .add(dir * DIRECTION + BUFFER)
                .cast::<AtomicU64>()
        }
    }

    /// One round trip from the requesting side: writes `value`, sets the
    /// ping event, spins until the pong event is set and returns what the
    /// other side wrote.
    #[inline]
    pub fn request(&self, value: u64) -> u64 {
        // Relaxed, as the write-ups do: raw_sync's events publish nothing,
        // and x86 keeps the order of these stores and loads anyway.
        self.buffer(0).store(value, Ordering::Relaxed);
        // A set cannot fail for a busy event (it is one store).
        let _ = self.ping.set(EventState::Signaled);
        let _ = self.pong.wait(Timeout::Infinite);
        self.buffer(1).load(Ordering::Relaxed)
    }

    /// The answering side, for ever: waits for a ping, answers its value
    /// plus one. Meant for a forked child that is killed when done.
    pub fn answer_forever(&self) -> ! {
        loop {
            let _ = self.ping.wait(Timeout::Infinite);
            let v = self.buffer(0).load(Ordering::Relaxed);
            self.buffer(1).store(v.wrapping_add(1), Ordering::Relaxed);
            let _ = self.pong.set(EventState::Signaled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_answered_by_a_forked_child_and_leaves_no_name() {
        let plain = Plain::new().expect("segment");
        let name = format!(
            "/dev/shm/{}{}-plain",
            crate::segment::NAME_PREFIX,
            std::process::id()
        );
        assert!(!std::path::Path::new(&name).exists(), "{name} left");
        // SAFETY: the child only spins on atomics in the shared mapping and
        // is killed below; it never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            plain.answer_forever();
        }
        // Few round trips: unpinned, the two spinners may share a core
        // under a loaded test run and then hand over once per timeslice.
        for i in 0..100u64 {
            assert_eq!(plain.request(i * 7), i * 7 + 1);
        }
        // SAFETY: our own unreaped child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
}
