//! The raw-array fast paths of `NativeQueue`: `put_array` writes an ndarray
//! whose header (dtype, shape, order) this process has seen before straight
//! into a slot, and `get_any` returns a raw array record whose header it has
//! seen before as a finished ndarray, so the common case of `Queue.put` and
//! `Queue.get` makes no header, key or view in Python: each of those costs
//! more there than copying a small array (docs/zero-copy.md has the figures,
//! with the host and date).
//!
//! Two small caches per handle, filled by the Python side on a miss (it
//! parses or formats the header once and hands it down): [`Headers`] maps
//! (dtype object, order, shape) to the header a sender writes; [`Specs`]
//! maps a received header to the dtype and dimensions to build. Each keeps
//! a strong reference to its dtype, so a pointer compared here always names
//! the live object it was stored with. Both are bounded ([`ENTRIES`]): a
//! program with more distinct arrays pays the Python path for the others.

use std::sync::{Arc, Mutex, MutexGuard};

use numpy::npyffi::{NPY_ARRAY_F_CONTIGUOUS, NpyTypes, PY_ARRAY_API, PyArrayObject};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// The record kind of a raw array (the Python side's `_ARRAY`).
pub const RAW_ARRAY: u8 = 0;
/// Most entries each cache holds.
pub const ENTRIES: usize = 16;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A bounded list replaced round-robin (a handful of entries: a linear scan
/// is cheaper than hashing a dtype).
struct Ring<T> {
    items: Vec<T>,
    next: usize,
}

impl<T> Ring<T> {
    const fn new() -> Self {
        Self {
            items: Vec::new(),
            next: 0,
        }
    }

    fn insert(&mut self, item: T) {
        if self.items.len() < ENTRIES {
            self.items.push(item);
        } else {
            self.items[self.next] = item;
            self.next = (self.next + 1) % ENTRIES;
        }
    }
}

struct HeaderEntry {
    descr: Py<PyArrayDescr>,
    fortran: bool,
    dims: Box<[usize]>,
    header: Arc<[u8]>,
}

/// (dtype, order, shape) -> the header a raw array record carries.
pub struct Headers(Mutex<Ring<HeaderEntry>>);

/// What `put_array` needs of an array: its memory order (None: not
/// contiguous) and its payload.
pub struct Layout {
    pub fortran: bool,
    pub data: *const u8,
    pub nbytes: usize,
}

/// The layout of `arr`, or None if it is not contiguous (or empty: the
/// general path handles those).
pub fn layout(arr: &Bound<'_, PyUntypedArray>) -> Option<Layout> {
    let fortran = if arr.is_c_contiguous() {
        false
    } else if arr.is_fortran_contiguous() {
        true
    } else {
        return None;
    };
    let nbytes = arr.len().checked_mul(arr.dtype().itemsize())?;
    if nbytes == 0 {
        return None;
    }
    // SAFETY: `arr` is a live ndarray (the GIL is held); its data pointer
    // stays valid while the caller holds `arr` with the GIL.
    let data = unsafe { (*arr.as_array_ptr()).data }
        .cast::<u8>()
        .cast_const();
    Some(Layout {
        fortran,
        data,
        nbytes,
    })
}

impl Headers {
    pub const fn new() -> Self {
        Self(Mutex::new(Ring::new()))
    }

    /// The header of arrays like `arr` (of layout `l`), if known.
    pub fn get(&self, arr: &Bound<'_, PyUntypedArray>, l: &Layout) -> Option<Arc<[u8]>> {
        let descr = arr.dtype();
        let shape = arr.shape();
        lock(&self.0)
            .items
            .iter()
            .find(|e| {
                e.descr.as_ptr() == descr.as_ptr() && e.fortran == l.fortran && *e.dims == *shape
            })
            .map(|e| e.header.clone())
    }

    /// Remembers `header` for arrays like `arr`.
    pub fn remember(&self, arr: &Bound<'_, PyUntypedArray>, l: &Layout, header: &[u8]) {
        lock(&self.0).insert(HeaderEntry {
            descr: arr.dtype().unbind(),
            fortran: l.fortran,
            dims: arr.shape().into(),
            header: header.into(),
        });
    }
}

struct SpecEntry {
    header: Box<[u8]>,
    descr: Py<PyArrayDescr>,
    dims: Box<[isize]>,
    fortran: bool,
    nbytes: usize,
}

/// A received header -> the array to build.
pub struct Specs(Mutex<Ring<SpecEntry>>);

impl Specs {
    pub const fn new() -> Self {
        Self(Mutex::new(Ring::new()))
    }

    /// Remembers what `header` means (the Python side parsed and checked
    /// it). Empty arrays are left to the Python path.
    pub fn remember(
        &self,
        header: &[u8],
        descr: Bound<'_, PyArrayDescr>,
        dims: Vec<isize>,
        fortran: bool,
    ) {
        let elems = dims.iter().try_fold(1usize, |n, &d| {
            usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
        });
        let Some(nbytes) = elems.and_then(|n| n.checked_mul(descr.itemsize())) else {
            return;
        };
        if nbytes == 0 {
            return;
        }
        lock(&self.0).insert(SpecEntry {
            header: header.into(),
            descr: descr.unbind(),
            dims: dims.into(),
            fortran,
            nbytes,
        });
    }

    /// A new ndarray holding a copy of `payload`, if `header` is known and
    /// the payload is exactly its size (else None: the Python path decides,
    /// and names a corrupt record).
    pub fn build<'py>(
        &self,
        py: Python<'py>,
        header: &[u8],
        payload: &[u8],
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (descr, dims, fortran) = {
            let cache = lock(&self.0);
            let Some(e) = cache.items.iter().find(|e| *e.header == *header) else {
                return Ok(None);
            };
            if e.nbytes != payload.len() {
                return Ok(None);
            }
            (e.descr.clone_ref(py), e.dims.clone(), e.fortran)
        };
        let nd = i32::try_from(dims.len()).unwrap_or(i32::MAX);
        let mut dims = dims;
        // SAFETY: the GIL is held; NewFromDescr steals the reference to
        // `descr` (handed over with into_ptr) and reads `nd` dimensions;
        // with null data and strides it allocates a new contiguous array in
        // the order asked, of exactly `payload.len()` bytes (checked above
        // against the same dtype and dimensions).
        let arr = unsafe {
            let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
                py,
                PY_ARRAY_API.get_type_object(py, NpyTypes::PyArray_Type),
                descr.into_ptr().cast(),
                nd,
                dims.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                if fortran { NPY_ARRAY_F_CONTIGUOUS } else { 0 },
                std::ptr::null_mut(),
            );
            Bound::from_owned_ptr_or_err(py, ptr)?
        };
        // SAFETY: `arr` was just made with `payload.len()` bytes of its own.
        unsafe {
            let data = (*arr.as_ptr().cast::<PyArrayObject>()).data.cast::<u8>();
            std::ptr::copy_nonoverlapping(payload.as_ptr(), data, payload.len());
        }
        Ok(Some(arr))
    }
}
