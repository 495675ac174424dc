//! One out-of-line block's shared memory: a POSIX shm file whose space is
//! reserved with `fallocate` before anything is written (a full /dev/shm is
//! an error naming the size and the limit, never a SIGBUS on first touch),
//! mapped with `MAP_POPULATE` (every page is present when a message is
//! written or read, so no hand-over pays page faults), its descriptor closed
//! as soon as it is mapped (a process holds no descriptor per block).

use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use rustix::fs::{FallocateFlags, Mode};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};
use rustix::shm;
use shm_queue::Error;

/// A shared mapping of a whole block, unmapped on drop.
#[derive(Debug)]
pub struct Map {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: plain shared memory; who may write it is decided by the pool's
// state words (one writer at a time, readers after the ring's publish).
unsafe impl Send for Map {}
// SAFETY: as above.
unsafe impl Sync for Map {}

impl Map {
    /// Start of the block (page-aligned).
    pub fn ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Creates the shm file `name` of `len` bytes, reserving every byte, and
    /// maps it. A file of that name left by a killed process is replaced.
    pub fn create(name: &str, len: usize) -> Result<Self, Error> {
        let path = format!("/{name}");
        let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
        let mode = Mode::RUSR | Mode::WUSR;
        let fd = match shm::open(path.as_str(), flags, mode) {
            Err(Errno::EXIST) => {
                let _ = shm::unlink(path.as_str());
                shm::open(path.as_str(), flags, mode)
            }
            other => other,
        }
        .map_err(|e| Error::Io {
            what: format!("shm_open (create) of block {name}"),
            source: e.into(),
        })?;
        let made = reserve(&fd, name, len).and_then(|()| map(&fd, len, name));
        if made.is_err() {
            let _ = shm::unlink(path.as_str());
        }
        made
    }

    /// Opens and maps the first `len` bytes of the existing block `name`.
    pub fn open(name: &str, len: usize) -> Result<Self, Error> {
        let fd = shm::open(
            format!("/{name}").as_str(),
            shm::OFlags::RDWR,
            Mode::empty(),
        )
        .map_err(|e| Error::Io {
            what: format!("shm_open of block {name}"),
            source: e.into(),
        })?;
        let size = rustix::fs::fstat(&fd)
            .map_err(|e| Error::Io {
                what: format!("fstat of block {name}"),
                source: e.into(),
            })?
            .st_size;
        if u64::try_from(size).unwrap_or(0) < len as u64 {
            return Err(Error::Corrupt(format!(
                "block {name} is {size} bytes, its table entry says {len}"
            )));
        }
        map(&fd, len, name)
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range; every view of it (arrays,
        // loans) holds an Arc of this map, so none is left.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// Reserves `len` bytes for the file (tmpfs allocates its pages now), or an
/// error naming the size and what /dev/shm has left.
fn reserve(fd: &OwnedFd, name: &str, len: usize) -> Result<(), Error> {
    rustix::fs::fallocate(fd, FallocateFlags::empty(), 0, len as u64).map_err(|e| {
        let room = rustix::fs::fstatvfs(fd)
            .map(|s| {
                format!(
                    "/dev/shm has {} bytes free of {}",
                    s.f_bavail.saturating_mul(s.f_frsize),
                    s.f_blocks.saturating_mul(s.f_frsize)
                )
            })
            .unwrap_or_else(|_| "/dev/shm's size unknown".to_owned());
        Error::Io {
            what: format!(
                "cannot reserve {len} bytes of shared memory for a message (block {name}; {room})"
            ),
            source: e.into(),
        }
    })
}

fn map(fd: &OwnedFd, len: usize, name: &str) -> Result<Map, Error> {
    // SAFETY: a fresh mapping at an address of the kernel's choosing aliases
    // no Rust object; the file is at least `len` bytes (reserved or checked).
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED | MapFlags::POPULATE,
            fd,
            0,
        )
    }
    .map_err(|e| Error::Io {
        what: format!("mmap of block {name} ({len} bytes)"),
        source: e.into(),
    })?;
    let base = NonNull::new(ptr.cast::<u8>())
        .ok_or_else(|| Error::Invalid(format!("mmap of block {name} returned null")))?;
    Ok(Map { base, len })
}
