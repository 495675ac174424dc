//! The Python owners of out-of-line blocks: [`Block`] (a received message,
//! held by the consumer) and [`Loan`] (memory `Queue.array` lends a
//! producer). Each is the `base` of the uint8 ndarray made over its block;
//! numpy keeps the base alive while any view of the array lives, so the
//! block is released exactly when the last view is collected.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Acquire;

use numpy::PyArray1;
use numpy::ndarray::ArrayView1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use shm_queue::wait::my_pid;

use crate::map::Map;
use crate::pool::{Lease, LoanRec, Pool};

/// A received message's block, held by this process until collected.
#[pyclass(module = "ipcbench._native", frozen)]
pub struct Block {
    pool: Arc<Pool>,
    idx: u32,
    generation: u32,
    holder: u32,
    /// Keeps the block mapped while any view lives.
    _map: Arc<Map>,
    len: usize,
}

#[pymethods]
impl Block {
    /// Bytes of the message.
    #[getter]
    fn nbytes(&self) -> usize {
        self.len
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "an ipcbench block is not picklable (pickle the array that views it: that copies its data)",
        ))
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.pool.release(self.idx, self.generation, self.holder);
    }
}

/// A block lent to this process by `Queue.array`, to fill and put.
#[pyclass(module = "ipcbench._native", frozen)]
pub struct Loan {
    pool: Arc<Pool>,
    idx: u32,
    generation: u32,
    owner: u32,
    map: Arc<Map>,
    len: usize,
    sent: Arc<AtomicBool>,
}

#[pymethods]
impl Loan {
    /// Bytes lent.
    #[getter]
    fn nbytes(&self) -> usize {
        self.len
    }

    /// Whether the loan was put (its memory now belongs to the message).
    #[getter]
    fn sent(&self) -> bool {
        self.sent.load(Acquire)
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "an ipcbench loan is not picklable (put its array into the queue instead)",
        ))
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if my_pid() != self.owner {
            return; // a forked child's copy: the parent owns the loan
        }
        self.pool.remove_loan(self.map.ptr() as usize);
        // Not put: the block is free again. Put: the consumer may still
        // read it; the pool frees it when both sides are done.
        self.pool.unpin(self.idx, self.generation);
    }
}

/// A writable uint8 array over the first `len` bytes of `map`, whose base is
/// `owner` (which holds `map`).
fn view<'py>(owner: Bound<'py, PyAny>, map: &Map, len: usize) -> Bound<'py, PyAny> {
    // SAFETY: `map` is at least `len` bytes (the pool sized it), mapped
    // read-write, and stays mapped while `owner` (the array's base, which
    // holds an Arc of it) lives; the pool's state word gives this process
    // the block (a writer's lease or a reader's hold).
    let v = unsafe { ArrayView1::from_shape_ptr(len, map.ptr().cast_const()) };
    // SAFETY: as above: the array borrows memory its base keeps alive.
    unsafe { PyArray1::<u8>::borrow_from_array(&v, owner) }.into_any()
}

/// A taken block as a Python array (see [`Block`]).
pub fn received<'py>(
    py: Python<'py>,
    pool: &Arc<Pool>,
    lease: Lease,
    len: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let map = lease.map.clone();
    let owner = Bound::new(
        py,
        Block {
            pool: pool.clone(),
            idx: lease.idx,
            generation: lease.generation,
            holder: my_pid(),
            _map: lease.map,
            len,
        },
    )?;
    Ok(view(owner.into_any(), &map, len))
}

/// A new loan of `len` bytes as a Python array (see [`Loan`]).
pub fn loaned<'py>(
    py: Python<'py>,
    pool: &Arc<Pool>,
    lease: Lease,
    len: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let sent = Arc::new(AtomicBool::new(false));
    pool.add_loan(
        lease.map.ptr() as usize,
        LoanRec {
            idx: lease.idx,
            generation: lease.generation,
            len,
            sent: sent.clone(),
        },
    );
    let map = lease.map.clone();
    let owner = Bound::new(
        py,
        Loan {
            pool: pool.clone(),
            idx: lease.idx,
            generation: lease.generation,
            owner: my_pid(),
            map: lease.map,
            len,
            sent,
        },
    )?;
    Ok(view(owner.into_any(), &map, len))
}
