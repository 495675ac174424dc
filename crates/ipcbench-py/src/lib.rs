//! The native half of the Python package `ipcbench`: `ipcbench._native.NativeQueue`,
//! a thin binding of [`shm_queue::Queue`] that moves one record made of a
//! kind byte, a small header and any number of byte buffers (framing and
//! payload objects: `record`; pinning the buffers: `parts`). A call first
//! tries once with the GIL held (a small record is there, or a slot free:
//! no GIL hand-over, which costs more than the copy); waiting, and copying a
//! large record, happen with the GIL released. A record larger than a slot
//! goes out of line: its payload into a block of the queue's pool (`pool`,
//! `map`), received as an array viewing the block (`block`); `large` has
//! those paths; `fast` has the raw-array paths that skip Python's header
//! work (`put_array`, `get_any`). The Python half (`ipcbench/__init__.py`)
//! turns objects into records and back.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod block;
mod fast;
mod large;
mod map;
mod parts;
mod pool;
mod record;
mod words;

use numpy::{PyArrayDescr, PyUntypedArray};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use shm_queue::wait::my_pid;
use shm_queue::{Error, Queue};

use crate::parts::{Part, Parts};
use crate::pool::Pool;
use crate::record::{GIL_COPY_MAX, PREFIX, PyRecord, Taken};

/// Longest uninterrupted wait without the GIL: Ctrl-C is noticed within it.
pub(crate) const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The Python exception for a queue error.
pub(crate) fn py_err(py: Python<'_>, e: Error, name: &str) -> PyErr {
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
        Error::Io { .. } | Error::Aborted(_) => PyOSError::new_err(e.to_string()),
        // The ring names the queue in its own findings; a record's framing
        // (checked here) does not know it.
        Error::Corrupt(m) if !m.contains(name) => {
            PyRuntimeError::new_err(format!("corrupt ipcbench queue {name}: {m}"))
        }
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
pub(crate) fn wait_loop<T: Send>(
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
    pool: Arc<Pool>,
    /// The creating process (which removes the pool's names on drop).
    creator: Option<u32>,
    headers: fast::Headers,
    specs: fast::Specs,
}

impl Drop for NativeQueue {
    fn drop(&mut self) {
        if self.creator == Some(my_pid()) {
            self.pool.close();
        }
    }
}

#[pymethods]
impl NativeQueue {
    /// Creates a queue of `slots` messages of at most `max_record` bytes.
    #[new]
    fn new(slots: u64, max_record: usize) -> PyResult<Self> {
        let q = Queue::create_unique(slots, max_record)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let pool = Pool::create(q.name()).map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self {
            q,
            pool,
            creator: Some(my_pid()),
            headers: fast::Headers::new(),
            specs: fast::Specs::new(),
        })
    }

    /// Opens the queue named `name` (created by another handle, possibly in
    /// another process).
    #[staticmethod]
    fn open(name: &str) -> PyResult<Self> {
        let err = |e: Error| PyOSError::new_err(e.to_string());
        let q = Queue::open(name).map_err(err)?;
        let pool = Pool::open(name).map_err(err)?;
        Ok(Self {
            q,
            pool,
            creator: None,
            headers: fast::Headers::new(),
            specs: fast::Specs::new(),
        })
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

    /// The kind bit that asks for the payload as `bytes` (see `get`).
    #[classattr]
    fn as_bytes() -> u8 {
        record::AS_BYTES
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

    /// Frees slots and blocks held by dead processes now; returns how many.
    fn reclaim(&self) -> u64 {
        self.q.reclaim_dead() + self.pool.reclaim_dead()
    }

    /// Appends one record. `parts`: a tuple or list of `bytes` or contiguous
    /// buffer objects (ndarrays of any plain dtype, C or Fortran order).
    /// `timeout`: None waits forever, 0 does not wait. A small record is
    /// tried once with the GIL held; waiting, and copying a large record,
    /// happen with it released.
    #[pyo3(signature = (kind, header, parts, timeout=None))]
    fn put(
        &self,
        py: Python<'_>,
        kind: u8,
        header: &[u8],
        parts: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let deadline = deadline(timeout)?;
        let hlen = u32::try_from(header.len())
            .map_err(|_| PyValueError::new_err("message header over 4 GiB"))?;
        let pinned = Parts::pin(parts)?;
        let ptrs = &pinned.ptrs[..];
        let hdr = (Part(header.as_ptr(), header.len()), hlen);
        let total = record::record_len(hdr.0, ptrs);
        if total > self.q.max_record() {
            return large::put(self, py, kind, header, &pinned, parts, deadline);
        }
        let fill = |buf: &mut [u8]| record::write(buf, kind, hdr, ptrs);
        if total <= GIL_COPY_MAX {
            match self.q.try_put_with(total, fill) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(py_err(py, e, self.q.name())),
            }
        }
        let res = wait_loop(py, deadline, |until| {
            self.q.put_until(total, until, fill, &mut || Ok(()))
        });
        drop(pinned);
        res.map_err(|e| py_err(py, e, self.q.name()))?
    }

    /// Takes the oldest record: `(kind, header, payload)`, the payload `bytes`
    /// or a new uint8 ndarray as the kind asks (see `record`). `timeout`:
    /// None waits forever, 0 does not wait. A record already there is copied
    /// straight into the new objects; waiting happens without the GIL.
    #[pyo3(signature = (timeout=None))]
    fn get<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<PyRecord<'py>> {
        let deadline = deadline(timeout)?;
        let err = |e| py_err(py, e, self.q.name());
        let pool = &*self.pool;
        let got = self
            .q
            .try_get_with(|r| record::to_python(py, pool, r))
            .map_err(err)?;
        let taken = match got {
            Some(Ok(Taken::Here(rec))) => return Ok(rec),
            Some(Ok(Taken::Block(k, h, l, n))) => Taken::Block(k, h, l, n),
            Some(Err(e)) => return Err(err(e)),
            None => {
                let res = wait_loop(py, deadline, |until| {
                    self.q
                        .get_until(until, |r| record::copy_out(pool, r), &mut || Ok(()))
                        .and_then(|r| r)
                });
                res.map_err(err)??
            }
        };
        record::into_python(py, &self.pool, taken)
    }

    /// Puts the ndarray `arr` as a raw array record (the kind `_ARRAY`) if
    /// its header is known: given as `header` (then remembered for arrays
    /// like it), or remembered from before. Returns False, having put
    /// nothing, when it is not known. A small record is copied with the GIL
    /// held in one attempt; anything else takes `put`'s path.
    #[pyo3(signature = (arr, timeout=None, header=None))]
    fn put_array(
        &self,
        py: Python<'_>,
        arr: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        header: Option<&[u8]>,
    ) -> PyResult<bool> {
        deadline(timeout)?;
        let Ok(a) = arr.downcast::<PyUntypedArray>() else {
            return Ok(false);
        };
        let general = |hdr: &[u8]| -> PyResult<bool> {
            let parts = PyTuple::new(py, [arr])?;
            self.put(py, fast::RAW_ARRAY, hdr, parts.as_any(), timeout)?;
            Ok(true)
        };
        let Some(l) = fast::layout(a) else {
            return header.map_or(Ok(false), general);
        };
        let hdr = match header {
            Some(h) => {
                self.headers.remember(a, &l, h);
                std::sync::Arc::<[u8]>::from(h)
            }
            None => match self.headers.get(a, &l) {
                Some(h) => h,
                None => return Ok(false),
            },
        };
        let total = PREFIX.saturating_add(hdr.len()).saturating_add(l.nbytes);
        if let Ok(hlen) = u32::try_from(hdr.len())
            && total <= self.q.max_record()
            && total <= GIL_COPY_MAX
        {
            let parts = [Part(l.data, l.nbytes)];
            let fill = |buf: &mut [u8]| {
                record::write(
                    buf,
                    fast::RAW_ARRAY,
                    (Part(hdr.as_ptr(), hdr.len()), hlen),
                    &parts,
                );
            };
            match self.q.try_put_with(total, fill) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => return Err(py_err(py, e, self.q.name())),
            }
        }
        general(&hdr)
    }

    /// As `get`, but a raw array record whose header is known (see
    /// `remember_spec`) comes back as the finished ndarray rather than a
    /// `(kind, header, payload)` tuple.
    #[pyo3(signature = (timeout=None))]
    fn get_any<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let deadline = deadline(timeout)?;
        let name = self.q.name();
        let pool = &*self.pool;
        let got = self
            .q
            .try_get_with(|r| -> PyResult<Taken<Bound<'py, PyAny>>> {
                let (kind, header, payload) = record::split(r).map_err(|e| py_err(py, e, name))?;
                if kind == fast::RAW_ARRAY
                    && let Some(a) = self.specs.build(py, header, payload)?
                {
                    return Ok(Taken::Here(a));
                }
                Ok(
                    match record::to_python(py, pool, r).map_err(|e| py_err(py, e, name))? {
                        Taken::Here(rec) => Taken::Here(rec.into_pyobject(py)?.into_any()),
                        Taken::Block(k, h, l, n) => Taken::Block(k, h, l, n),
                    },
                )
            })
            .map_err(|e| py_err(py, e, name))?;
        let taken = match got {
            Some(Ok(Taken::Here(obj))) => return Ok(obj),
            Some(Ok(Taken::Block(k, h, l, n))) => Taken::Block(k, h, l, n),
            Some(Err(e)) => return Err(e),
            None => {
                let res = wait_loop(py, deadline, |until| {
                    self.q
                        .get_until(until, |r| record::copy_out(pool, r), &mut || Ok(()))
                        .and_then(|r| r)
                });
                res.map_err(|e| py_err(py, e, name))??
            }
        };
        if let Taken::Here((fast::RAW_ARRAY, header, payload)) = &taken
            && let Some(a) = self.specs.build(py, header, payload)?
        {
            return Ok(a);
        }
        Ok(record::into_python(py, &self.pool, taken)?
            .into_pyobject(py)?
            .into_any())
    }

    /// Remembers what a raw array header means (parsed and checked by the
    /// Python side): `get_any` builds such arrays itself from then on.
    fn remember_spec(
        &self,
        header: &[u8],
        dtype: Bound<'_, PyArrayDescr>,
        shape: Vec<isize>,
        fortran: bool,
    ) {
        self.specs.remember(header, dtype, shape, fortran);
    }

    /// A writable uint8 array of `nbytes` lent from a new block of the
    /// queue's pool (its base is the loan); putting it sends the block by
    /// reference.
    fn loan<'py>(&self, py: Python<'py>, nbytes: usize) -> PyResult<Bound<'py, PyAny>> {
        large::loan(self, py, nbytes)
    }

    /// Blocks of the pool that exist, and their bytes.
    fn pool_blocks(&self) -> (u32, u64) {
        self.pool.blocks()
    }

    /// Adds `delta` (+1 or -1) to the unfinished-task count of a
    /// `JoinableQueue`; below zero raises ValueError.
    fn unfinished_add(&self, delta: i32) -> PyResult<()> {
        large::unfinished_add(self, delta)
    }

    /// Waits until every task put was marked done; with a `timeout`
    /// (seconds), returns whether that happened in time.
    #[pyo3(signature = (timeout=None))]
    fn join(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let t = match timeout {
            None => None,
            Some(t) => Some(Duration::try_from_secs_f64(t).map_err(|_| {
                PyValueError::new_err(format!("'timeout' must be a non-negative number, not {t}"))
            })?),
        };
        large::join(self, py, t)
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

/// The module `ipcbench._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeQueue>()?;
    m.add_class::<block::Block>()?;
    m.add_class::<block::Loan>()?;
    Ok(())
}
