//! The POSIX shared-memory segment behind a queue: named creation with
//! `shm_open(O_EXCL)`, mapping, unlinking, and the sweep of segments whose
//! creator was killed before it could unlink them.

use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use rustix::fs::Mode;
use rustix::mm::{MapFlags, ProtFlags};
use rustix::shm;
use transport::shm_names;

use crate::Error;

/// Prefix of every queue segment's name in /dev/shm.
pub const NAME_PREFIX: &str = "ipcbench-q-";

/// A shared mapping of a whole segment. Unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; its users synchronise through
// atomics inside it.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Start of the mapping (page-aligned).
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Length in bytes.
    #[allow(clippy::len_without_is_empty)] // a mapping is never empty
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range; views of it (`Ring`) live in
        // the same owner and are dropped with it.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

fn map(fd: &OwnedFd, len: usize, name: &str) -> Result<Mapping, Error> {
    // SAFETY: a fresh mapping at an address of the kernel's choosing aliases
    // no Rust object. Not MAP_POPULATE: a large queue's slots are touched
    // only as far as records fill them.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .map_err(|e| Error::io(format!("mmap of queue {name}"), e.into()))?;
    let base = NonNull::new(ptr.cast::<u8>())
        .ok_or_else(|| Error::Invalid(format!("mmap of queue {name} returned null")))?;
    Ok(Mapping { base, len })
}

/// Checks that `name` is one this crate could have made (no slash, no
/// traversal, the prefix, printable).
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok =
        name.starts_with(NAME_PREFIX) && name.len() <= 200 && name.chars().all(shm_names::is_safe);
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{name:?} is not a queue name (expected {NAME_PREFIX}<pid>-<tag>, letters, digits, '-', '_', '.')"
        )))
    }
}

/// Keeps the characters that are safe in a segment name (at most 150).
pub fn sanitize(tag: &str) -> String {
    shm_names::sanitize(tag, 150)
}

/// Creates a new segment of `len` bytes named `name` (which must not exist).
pub fn create(name: &str, len: usize) -> Result<Mapping, Error> {
    check_name(name)?;
    let fd = shm::open(
        format!("/{name}"),
        shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
        Mode::RUSR | Mode::WUSR,
    )
    .map_err(|e| Error::io(format!("shm_open (create) of queue {name}"), e.into()))?;
    let sized = rustix::fs::ftruncate(&fd, len as u64).map_err(|e| {
        Error::io(
            format!("ftruncate of queue {name} to {len} bytes"),
            e.into(),
        )
    });
    let mapped = sized.and_then(|()| map(&fd, len, name));
    if mapped.is_err() {
        let _ = unlink(name);
    }
    mapped
}

/// Opens an existing segment and maps all of it.
pub fn open(name: &str) -> Result<Mapping, Error> {
    check_name(name)?;
    let fd = shm::open(format!("/{name}"), shm::OFlags::RDWR, Mode::empty())
        .map_err(|e| Error::io(format!("shm_open of queue {name}"), e.into()))?;
    let size = rustix::fs::fstat(&fd)
        .map_err(|e| Error::io(format!("fstat of queue {name}"), e.into()))?
        .st_size;
    let len = usize::try_from(size).unwrap_or(0);
    if len < crate::ring::HEADER_SIZE {
        return Err(Error::Invalid(format!(
            "queue {name} is {len} bytes, too small to hold a queue"
        )));
    }
    map(&fd, len, name)
}

/// Removes the segment's name; mappings stay valid until unmapped.
pub fn unlink(name: &str) -> Result<(), Error> {
    shm::unlink(format!("/{name}"))
        .map_err(|e| Error::io(format!("shm_unlink of queue {name}"), e.into()))
}

/// Removes every queue segment in /dev/shm whose creator process is dead (a
/// zombie counts as dead): the residue of a creator killed by SIGKILL before
/// it could unlink. Returns how many were removed. Segments of live processes
/// are left alone, and so is any name this crate could not have made.
pub fn sweep_stale() -> usize {
    shm_names::sweep_stale(NAME_PREFIX, |name, pid| {
        check_name(name).is_ok() && !crate::wait::alive(pid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("ipcbench-q-12-abc").is_ok());
        for bad in [
            "",
            "x",
            "ipcbench-q-1/../x",
            "/ipcbench-q-1",
            "ipcbench-q-1 2",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(sanitize("a/b c"), "a_b_c");
        assert_eq!(sanitize(&"x".repeat(300)).len(), 150);
    }

    #[test]
    fn sweep_removes_segments_of_dead_creators_only() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("reap");
        let stale = format!("{NAME_PREFIX}{dead}-sweeptest");
        let live = format!("{NAME_PREFIX}{}-sweeptest", std::process::id());
        drop(create(&stale, 4096).expect("create stale"));
        drop(create(&live, 4096).expect("create live"));
        assert!(sweep_stale() >= 1);
        assert!(!std::path::Path::new(&format!("/dev/shm/{stale}")).exists());
        assert!(std::path::Path::new(&format!("/dev/shm/{live}")).exists());
        unlink(&live).expect("unlink live");
    }
}
