//! The native half of the Python package `ipcbench`: `ipcbench._native.NativeQueue`,
//! a thin binding of [`shm_queue::Queue`] that moves one record made of a
//! kind byte, a small header and any number of byte buffers, with the GIL
//! released while it waits or copies. The Python half (`ipcbench/__init__.py`)
//! turns objects into records and back.
//!
//! Record layout in a slot: `kind: u8`, 3 bytes zero, `header_len: u32 LE`,
//! the header, then the parts back to back. The receiver gets the kind, the
//! header as `bytes` and everything after it as one new `uint8` ndarray (one
//! copy out of shared memory, no second copy into Python).

use std::time::{Duration, Instant};

use numpy::PyArray1;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use shm_queue::{Error, Queue};

/// Bytes before the header in a record.
const PREFIX: usize = 8;
/// Longest uninterrupted wait without the GIL: Ctrl-C is noticed within it.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// A pointer and length the closure run without the GIL may read. The
/// buffers they come from are held (exported) by the caller until it ends.
#[derive(Clone, Copy)]
struct Part(*const u8, usize);
// SAFETY: the memory is pinned by a PyBuffer the caller holds across the
// GIL-free section, and only read there.
unsafe impl Send for Part {}
// SAFETY: as above; shared reads only.
unsafe impl Sync for Part {}

/// The Python exception for a queue error.
fn py_err(py: Python<'_>, e: Error, name: &str) -> PyErr {
    let std_queue = |cls: &str| match py.import("queue").and_then(|m| m.getattr(cls)) {
        Ok(c) => match c.downcast_into() {
            Ok(t) => PyErr::from_type(t, ()),
            Err(e) => PyErr::from(e),
        },
        Err(e) => e,
    };
    match e {
        Error::Full => std_queue("Full"),
        Error::Empty => std_queue("Empty"),
        Error::TooLarge { size, max } => PyValueError::new_err(format!(
            "message of {size} bytes is larger than ipcbench queue {name} can hold ({max} bytes per message; raise capacity_bytes or lower maxsize)"
        )),
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A `timeout` in seconds (None: forever) as a deadline.
fn deadline(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_nan() || t < 0.0 => Err(PyValueError::new_err(format!(
            "'timeout' must be a non-negative number, not {t}"
        ))),
        Some(t) => Ok(Some(
            Duration::try_from_secs_f64(t)
                .ok()
                .and_then(|d| Instant::now().checked_add(d))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(u32::MAX.into())),
        )),
    }
}

/// Runs `op` without the GIL in slices of at most [`SIGNAL_CHECK`], checking
/// for signals (KeyboardInterrupt) between slices, until it succeeds, fails
/// otherwise, or `deadline` passes.
fn wait_loop<T: Send>(
    py: Python<'_>,
    deadline: Option<Instant>,
    op: impl Fn(Option<Instant>) -> Result<T, Error> + Sync,
) -> Result<PyResult<T>, Error> {
    loop {
        let now = Instant::now();
        let slice_end = now + SIGNAL_CHECK;
        let last = deadline.is_some_and(|d| d <= slice_end);
        let until = if last { deadline } else { Some(slice_end) };
        match py.allow_threads(|| op(until)) {
            Err(Error::Full | Error::Empty) if !last => {
                if let Err(e) = py.check_signals() {
                    return Ok(Err(e));
                }
            }
            other => return other.map(Ok),
        }
    }
}

/// A handle to a shared-memory queue (see `ipcbench.Queue` for the
/// user-facing API).
#[pyclass(module = "ipcbench._native", frozen)]
struct NativeQueue {
    q: Queue,
}

#[pymethods]
impl NativeQueue {
    /// Creates a queue of `slots` messages of at most `max_record` bytes.
    #[new]
    fn new(slots: u64, max_record: usize) -> PyResult<Self> {
        Queue::create_unique(slots, max_record)
            .map(|q| Self { q })
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Opens the queue named `name` (created by another handle, possibly in
    /// another process).
    #[staticmethod]
    fn open(name: &str) -> PyResult<Self> {
        Queue::open(name)
            .map(|q| Self { q })
            .map_err(|e| PyOSError::new_err(e.to_string()))
    }

    /// The segment's name in /dev/shm.
    #[getter]
    fn name(&self) -> &str {
        self.q.name()
    }

    /// Largest record in bytes (header and framing included).
    #[getter]
    fn max_record(&self) -> usize {
        self.q.max_record()
    }

    /// Framing bytes a record needs besides its header and parts.
    #[classattr]
    fn prefix() -> usize {
        PREFIX
    }

    /// Number of slots.
    #[getter]
    fn capacity(&self) -> u64 {
        self.q.capacity()
    }

    /// Messages waiting (approximate).
    fn qsize(&self) -> u64 {
        self.q.len()
    }

    /// Messages lost because a process died holding them.
    fn lost(&self) -> u64 {
        self.q.lost()
    }

    /// Frees slots held by dead processes now; returns how many.
    fn reclaim(&self) -> u64 {
        self.q.reclaim_dead()
    }

    /// Appends one record. `timeout`: None waits forever, 0 does not wait.
    #[pyo3(signature = (kind, header, parts, timeout=None))]
    fn put(
        &self,
        py: Python<'_>,
        kind: u8,
        header: &[u8],
        parts: Vec<PyBuffer<u8>>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let deadline = deadline(timeout)?;
        let hlen = u32::try_from(header.len())
            .map_err(|_| PyValueError::new_err("message header over 4 GiB"))?;
        let mut ptrs = Vec::with_capacity(parts.len());
        for b in &parts {
            if !b.is_c_contiguous() {
                return Err(PyValueError::new_err("message part is not contiguous"));
            }
            ptrs.push(Part(b.buf_ptr().cast::<u8>().cast_const(), b.len_bytes()));
        }
        let total = ptrs
            .iter()
            .fold(PREFIX + header.len(), |t, p| t.saturating_add(p.1));
        let hdr = Part(header.as_ptr(), header.len());
        let res = wait_loop(py, deadline, |until| {
            self.q.put_until(
                total,
                until,
                |buf| {
                    buf[0] = kind;
                    buf[1..4].fill(0);
                    buf[4..8].copy_from_slice(&hlen.to_le_bytes());
                    let mut at = PREFIX;
                    for p in std::iter::once(&hdr).chain(&ptrs) {
                        // SAFETY: `p` points to `p.1` readable bytes held by
                        // a live buffer (see `Part`); `total` sums them, so
                        // the destination range is inside `buf`.
                        let src = unsafe { std::slice::from_raw_parts(p.0, p.1) };
                        buf[at..at + p.1].copy_from_slice(src);
                        at += p.1;
                    }
                },
                &mut || Ok(()),
            )
        });
        drop(parts);
        res.map_err(|e| py_err(py, e, self.q.name()))?
    }

    /// Takes the oldest record: `(kind, header, payload)` with the payload a
    /// new uint8 ndarray. `timeout`: None waits forever, 0 does not wait.
    #[pyo3(signature = (timeout=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<(u8, Bound<'py, PyBytes>, Bound<'py, PyArray1<u8>>)> {
        let deadline = deadline(timeout)?;
        let res = wait_loop(py, deadline, |until| {
            self.q
                .get_until(until, split_record, &mut || Ok(()))
                .and_then(|r| r)
        });
        let (kind, header, payload) = res.map_err(|e| py_err(py, e, self.q.name()))??;
        Ok((
            kind,
            PyBytes::new(py, &header),
            PyArray1::from_vec(py, payload),
        ))
    }

    /// Test hook: claims the next record and sleeps `seconds` while holding
    /// it (so a test can kill a process that holds a record), then drops it.
    fn _hold_for_test(&self, py: Python<'_>, seconds: f64) -> PyResult<()> {
        let nap = Duration::try_from_secs_f64(seconds)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        py.allow_threads(|| self.q.get_with(None, |_| std::thread::sleep(nap)))
            .map_err(|e| py_err(py, e, self.q.name()))
    }
}

/// A record's kind, header and a private copy of its payload; an error
/// naming what is wrong if its framing is inconsistent (a hostile writer).
fn split_record(rec: &[u8]) -> Result<(u8, Vec<u8>, Vec<u8>), Error> {
    let bad = |what: String| Error::Corrupt(format!("record of {} bytes: {what}", rec.len()));
    let Some((prefix, rest)) = rec.split_first_chunk::<PREFIX>() else {
        return Err(bad("shorter than its framing".into()));
    };
    let hlen = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]) as usize;
    if hlen > rest.len() {
        return Err(bad(format!("header length {hlen} runs past its end")));
    }
    let (header, payload) = rest.split_at(hlen);
    Ok((prefix[0], header.to_vec(), payload.to_vec()))
}

/// The module `ipcbench._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeQueue>()?;
    Ok(())
}
