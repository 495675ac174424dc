//! The out-of-line paths of `NativeQueue`: `put` of a record larger than a
//! slot (the payload copied once into a pool block, or a loan sent as it
//! is), `loan` (a block lent to be filled in place), and the unfinished-task
//! count of `JoinableQueue` (`task_done`, `join`).

use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::time::{Duration, Instant};

use numpy::npyffi::NPY_ARRAY_WRITEABLE;
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use shm_queue::Error;
use shm_queue::wait::{futex_wait, futex_wake};

use crate::parts::Parts;
use crate::pool::Lease;
use crate::record::{self, PREFIX};
use crate::words::Ref;
use crate::{NativeQueue, SIGNAL_CHECK, py_err, wait_loop};

/// Puts a record whose payload does not fit a slot: the ring carries the
/// header and a reference to the block holding the payload.
pub fn put(
    nq: &NativeQueue,
    py: Python<'_>,
    kind: u8,
    header: &[u8],
    pinned: &Parts<'_>,
    parts: &Bound<'_, PyAny>,
    deadline: Option<Instant>,
) -> PyResult<()> {
    let (q, pool) = (&nq.q, &nq.pool);
    let err = |e| py_err(py, e, q.name());
    let rec_len = PREFIX + header.len() + Ref::BYTES;
    if rec_len > q.max_record() {
        return Err(PyValueError::new_err(format!(
            "message header of {} bytes does not fit a slot of ipcbench queue {} ({} bytes); \
             raise capacity_bytes",
            header.len(),
            q.name(),
            q.max_record()
        )));
    }
    let ptrs = &pinned.ptrs[..];
    let len = ptrs.iter().fold(0usize, |t, p| t.saturating_add(p.1));
    let loan = match ptrs {
        [p] => pool.loan_at(p.0 as usize, p.1),
        _ => None,
    };
    let (idx, generation) = match &loan {
        Some(l) => {
            if l.sent.swap(true, AcqRel) {
                return Err(PyValueError::new_err(
                    "this array was lent by Queue.array() and has been put already; \
                     a loan is put once (ask Queue.array() for a new one)",
                ));
            }
            if let Err(e) = pool.pin(l.idx, l.generation) {
                l.sent.store(false, Release);
                return Err(err(e));
            }
            (l.idx, l.generation)
        }
        None => {
            let lease = py.allow_threads(|| -> Result<Lease, Error> {
                let lease = pool.alloc(len)?;
                let mut at = 0;
                for p in ptrs {
                    // SAFETY: `p` points to `p.1` readable bytes pinned by
                    // `pinned`; the block is at least `len` bytes (the sum),
                    // mapped writable, and ours alone while WRITING.
                    unsafe { std::ptr::copy_nonoverlapping(p.0, lease.map.ptr().add(at), p.1) };
                    at += p.1;
                }
                Ok(lease)
            });
            let lease = lease.map_err(err)?;
            (lease.idx, lease.generation)
        }
    };
    let r = Ref {
        idx,
        generation,
        len: len as u64,
    };
    let fill = |buf: &mut [u8]| record::write_ref(buf, kind, header, r);
    // One attempt with the GIL held first, as for a small record: a free
    // slot is the common case, and releasing and retaking the GIL right
    // after a large fill (every cache cold) costs more than the record.
    let res = match q.try_put_with(rec_len, fill) {
        Ok(true) => Ok(Ok(())),
        Ok(false) => wait_loop(py, deadline, |until| {
            q.put_until(rec_len, until, fill, &mut || Ok(()))
        }),
        Err(e) => Err(e),
    };
    match res {
        Ok(Ok(())) => {
            pool.publish(idx, generation);
            if loan.is_some() {
                // Writes through this array would change the message in
                // flight: make the common mistake an error. (The block stays
                // pinned while the loan lives, so no other message is ever
                // behind it.)
                // The flag is cleared in the array's struct, as numpy's
                // PyArray_CLEARFLAGS does: no flags object, no setter call.
                if let Ok(a) = parts.get_item(0)
                    && let Ok(arr) = a.downcast::<PyUntypedArray>()
                {
                    // SAFETY: a live ndarray (the GIL is held); clearing
                    // WRITEABLE is always allowed (numpy only refuses the
                    // opposite).
                    unsafe { (*arr.as_array_ptr()).flags &= !NPY_ARRAY_WRITEABLE };
                }
            }
            Ok(())
        }
        other => {
            match &loan {
                Some(l) => {
                    pool.unpin_unsent(idx, generation);
                    l.sent.store(false, Release);
                }
                None => pool.abandon(idx, generation),
            }
            other.map_err(err)?.map(drop)
        }
    }
}

/// A writable uint8 array of `nbytes` in a new block of the queue's pool.
pub fn loan<'py>(nq: &NativeQueue, py: Python<'py>, nbytes: usize) -> PyResult<Bound<'py, PyAny>> {
    if nbytes == 0 {
        return Err(PyValueError::new_err(
            "a loan of 0 bytes: Queue.array() lends only arrays larger than a slot",
        ));
    }
    let pool = &nq.pool;
    let lease = py
        .allow_threads(|| pool.alloc(nbytes))
        .map_err(|e| py_err(py, e, nq.q.name()))?;
    // The loan is about to be filled and put: a sleeping consumer wakes
    // during the fill and polls, so the put finds it awake.
    nq.q.announce(nbytes);
    crate::block::loaned(py, pool, lease, nbytes)
}

/// Adds `delta` (+1 or -1) to the unfinished-task count; -1 below zero is
/// `task_done`'s error, as in multiprocessing.
pub fn unfinished_add(nq: &NativeQueue, delta: i32) -> PyResult<()> {
    let word = nq.pool.unfinished();
    if delta >= 0 {
        word.fetch_add(delta.unsigned_abs(), AcqRel);
        return Ok(());
    }
    let by = delta.unsigned_abs();
    let before = word
        .fetch_update(AcqRel, Acquire, |v| v.checked_sub(by))
        .map_err(|_| PyValueError::new_err("task_done() called too many times"))?;
    if before == by {
        futex_wake(word, u32::MAX);
    }
    Ok(())
}

/// Waits until the unfinished-task count is zero (or `timeout` passes:
/// returns whether it reached zero).
pub fn join(nq: &NativeQueue, py: Python<'_>, timeout: Option<Duration>) -> PyResult<bool> {
    let word = nq.pool.unfinished();
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let v = word.load(Acquire);
        if v == 0 {
            return Ok(true);
        }
        let mut nap = SIGNAL_CHECK;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            nap = nap.min(left);
        }
        py.allow_threads(|| futex_wait(word, v, nap));
        py.check_signals()?;
    }
}
