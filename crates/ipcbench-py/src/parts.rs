//! The byte buffers a `put` copies into a record, pinned for the call:
//! `bytes` read in place, anything else through the buffer protocol as one
//! contiguous block in memory order (an ndarray of any plain dtype, C- or
//! Fortran-ordered, needs no uint8 view first).

use std::mem::MaybeUninit;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

/// A pointer and length the closure run without the GIL may read. The
/// objects they come from are held by [`Parts`] until it is dropped.
#[derive(Clone, Copy)]
pub struct Part(pub *const u8, pub usize);
// SAFETY: the memory is pinned by a `Parts` the caller holds across the
// GIL-free section, and only read there.
unsafe impl Send for Part {}
// SAFETY: as above; shared reads only.
unsafe impl Sync for Part {}

/// One exported buffer, released on drop (with the GIL held: `Parts` is
/// dropped by the binding's methods, never inside `allow_threads`).
struct Exported(Box<ffi::Py_buffer>);

impl Drop for Exported {
    fn drop(&mut self) {
        // SAFETY: the view was filled by a successful PyObject_GetBuffer and
        // is released exactly once; the GIL is held (see the type's doc).
        unsafe { ffi::PyBuffer_Release(&mut *self.0) }
    }
}

/// The parts of one record with their pointers. `bytes` parts are pinned by
/// the references in `_items` (immutable: their bytes cannot move), others
/// by their exports (the exporter keeps the memory until release: a
/// bytearray cannot resize, an ndarray cannot be reallocated).
pub struct Parts<'py> {
    _items: Vec<Bound<'py, PyAny>>,
    _exports: Vec<Exported>,
    pub ptrs: Vec<Part>,
}

impl<'py> Parts<'py> {
    /// Pins every item of `parts` (a tuple or list of `bytes` or contiguous
    /// buffer objects).
    pub fn pin(parts: &Bound<'py, PyAny>) -> PyResult<Self> {
        let items: Vec<Bound<'py, PyAny>> = if let Ok(t) = parts.downcast::<PyTuple>() {
            t.iter().collect()
        } else if let Ok(l) = parts.downcast::<PyList>() {
            l.iter().collect()
        } else {
            return Err(PyValueError::new_err(format!(
                "message parts must be a tuple or list, not {}",
                parts.get_type().name()?
            )));
        };
        let mut exports = Vec::new();
        let mut ptrs = Vec::with_capacity(items.len());
        for item in &items {
            if let Ok(b) = item.downcast::<PyBytes>() {
                let s = b.as_bytes();
                ptrs.push(Part(s.as_ptr(), s.len()));
            } else {
                let view = export(item)?;
                let len = usize::try_from(view.0.len)
                    .map_err(|_| PyValueError::new_err("message part of negative length"))?;
                ptrs.push(Part(view.0.buf.cast::<u8>().cast_const(), len));
                exports.push(view);
            }
        }
        Ok(Self {
            _items: items,
            _exports: exports,
            ptrs,
        })
    }
}

/// Exports `obj`'s memory as one contiguous block (C or Fortran order),
/// read-only access; a non-contiguous object raises the exporter's error.
fn export(obj: &Bound<'_, PyAny>) -> PyResult<Exported> {
    let mut view = Box::new(MaybeUninit::<ffi::Py_buffer>::uninit());
    // SAFETY: `view` is a valid place for a Py_buffer; on success the
    // exporter filled it and holds a reference to `obj` in it.
    let rc = unsafe {
        ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_ANY_CONTIGUOUS)
    };
    if rc != 0 {
        return Err(PyErr::take(obj.py()).unwrap_or_else(|| {
            PyValueError::new_err("message part does not export a contiguous buffer")
        }));
    }
    // SAFETY: initialised by the successful call above; MaybeUninit<T> has
    // T's layout.
    let view = unsafe { Box::from_raw(Box::into_raw(view).cast::<ffi::Py_buffer>()) };
    Ok(Exported(view))
}
