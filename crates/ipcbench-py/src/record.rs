//! A record's framing in a slot: `kind: u8`, 3 bytes zero, `header_len: u32
//! LE`, the header, then the parts back to back; and how a received record
//! becomes Python objects.
//!
//! The payload (everything after the header) arrives as `bytes` when the
//! kind has [`AS_BYTES`] set (the sender's promise that the receiver only
//! reads it once, e.g. a pickle with no out-of-band buffers: `bytes` is the
//! cheapest object to make and to unpickle), otherwise as a new writable
//! `uint8` ndarray that owns its memory (out-of-band buffers and raw arrays
//! become views of it).
//!
//! A record whose kind has [`OUT_OF_LINE`] set carries, after its header, a
//! [`Ref`] to a block of the queue's pool instead of the payload; the
//! receiver takes the block and gets a uint8 ndarray viewing it (no copy),
//! which releases the block when collected (`block`).

use std::sync::Arc;

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use shm_queue::Error;

use crate::parts::Part;
use crate::pool::{Lease, Pool};
use crate::words::Ref;

/// Bytes before the header in a record.
pub const PREFIX: usize = 8;
/// The kind bit that asks for the payload as `bytes`.
pub const AS_BYTES: u8 = 0x80;
/// The kind bit of a record whose payload is in a pool block.
pub const OUT_OF_LINE: u8 = 0x40;
/// Largest payload copied with the GIL held; a larger one is copied
/// without it, so other threads run meanwhile.
pub const GIL_COPY_MAX: usize = 64 << 10;

/// Writes a record of `kind`, `hdr` (of `hlen` bytes) and `parts` into
/// `buf`, which is exactly as long as [`record_len`] says.
pub fn write(buf: &mut [u8], kind: u8, (hdr, hlen): (Part, u32), parts: &[Part]) {
    buf[0] = kind;
    buf[1..4].fill(0);
    buf[4..8].copy_from_slice(&hlen.to_le_bytes());
    let mut at = PREFIX;
    for p in std::iter::once(&hdr).chain(parts) {
        // SAFETY: `p` points to `p.1` readable bytes held by a live buffer
        // (see `Part`); `record_len` summed them, so the destination range is
        // inside `buf`.
        let src = unsafe { std::slice::from_raw_parts(p.0, p.1) };
        buf[at..at + p.1].copy_from_slice(src);
        at += p.1;
    }
}

/// Writes an out-of-line record: `kind` with [`OUT_OF_LINE`], `hdr`, then
/// `r`; `buf` is exactly `PREFIX + hdr.len() + Ref::BYTES` long.
pub fn write_ref(buf: &mut [u8], kind: u8, hdr: &[u8], r: Ref) {
    let hlen = u32::try_from(hdr.len()).unwrap_or(u32::MAX);
    buf[0] = kind | OUT_OF_LINE;
    buf[1..4].fill(0);
    buf[4..8].copy_from_slice(&hlen.to_le_bytes());
    buf[PREFIX..PREFIX + hdr.len()].copy_from_slice(hdr);
    r.write(&mut buf[PREFIX + hdr.len()..]);
}

/// Length of the record [`write`] makes (saturating: an impossible size is
/// refused by the queue as too large).
pub fn record_len(hdr: Part, parts: &[Part]) -> usize {
    parts
        .iter()
        .fold(PREFIX.saturating_add(hdr.1), |t, p| t.saturating_add(p.1))
}

/// A record's kind, header and payload, borrowed from the slot; an error
/// naming what is wrong if its framing is inconsistent (a hostile writer).
pub fn split(rec: &[u8]) -> Result<(u8, &[u8], &[u8]), Error> {
    let bad = |what: String| Error::Corrupt(format!("record of {} bytes: {what}", rec.len()));
    let Some((prefix, rest)) = rec.split_first_chunk::<PREFIX>() else {
        return Err(bad("shorter than its framing".into()));
    };
    let hlen = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]) as usize;
    if hlen > rest.len() {
        return Err(bad(format!("header length {hlen} runs past its end")));
    }
    let (header, payload) = rest.split_at(hlen);
    Ok((prefix[0], header, payload))
}

/// What `get` returns: kind, header, payload (see the module doc).
pub type PyRecord<'py> = (u8, Bound<'py, PyBytes>, Bound<'py, PyAny>);

/// A record taken from its slot: ready Python objects or copies, or a block
/// taken from the pool (made into Python objects once the slot is free).
pub enum Taken<T> {
    Here(T),
    Block(u8, Vec<u8>, Lease, usize),
}

/// If `rec` is out of line, takes its block (the slot still held).
fn take_block(pool: &Pool, kind: u8, header: &[u8], payload: &[u8]) -> Result<Taken<()>, Error> {
    if kind & OUT_OF_LINE == 0 {
        return Ok(Taken::Here(()));
    }
    let r = Ref::read(payload).ok_or_else(|| {
        Error::Corrupt(format!(
            "out-of-line record with a {}-byte reference",
            payload.len()
        ))
    })?;
    let len = usize::try_from(r.len)
        .map_err(|_| Error::Corrupt(format!("block reference of {} bytes", r.len)))?;
    let lease = pool.take(r)?;
    Ok(Taken::Block(
        kind & !OUT_OF_LINE,
        header.to_vec(),
        lease,
        len,
    ))
}

/// A received record as Python objects, copied once from `rec` (the slot,
/// which this process holds), or its block. Called with the GIL held; a
/// large payload is copied with it released.
pub fn to_python<'py>(
    py: Python<'py>,
    pool: &Pool,
    rec: &[u8],
) -> Result<Taken<PyRecord<'py>>, Error> {
    let (kind, header, payload) = split(rec)?;
    if let Taken::Block(k, h, l, n) = take_block(pool, kind, header, payload)? {
        return Ok(Taken::Block(k, h, l, n));
    }
    let header = PyBytes::new(py, header);
    let payload = if payload.len() <= GIL_COPY_MAX {
        if kind & AS_BYTES != 0 {
            PyBytes::new(py, payload).into_any()
        } else {
            PyArray1::from_slice(py, payload).into_any()
        }
    } else {
        let owned = py.allow_threads(|| payload.to_vec());
        owned_payload(py, kind, owned)
    };
    Ok(Taken::Here((kind, header, payload)))
}

/// A record copied out of its slot without the GIL, for [`from_owned`].
pub type Owned = (u8, Vec<u8>, Vec<u8>);

/// Copies a record out of its slot, or takes its block (run without the
/// GIL).
pub fn copy_out(pool: &Pool, rec: &[u8]) -> Result<Taken<Owned>, Error> {
    let (kind, header, payload) = split(rec)?;
    if let Taken::Block(k, h, l, n) = take_block(pool, kind, header, payload)? {
        return Ok(Taken::Block(k, h, l, n));
    }
    Ok(Taken::Here((kind, header.to_vec(), payload.to_vec())))
}

/// A taken record as Python objects: an ndarray payload takes over a
/// copied vector without copying it again, a block is viewed in place.
pub fn into_python<'py>(
    py: Python<'py>,
    pool: &Arc<Pool>,
    taken: Taken<Owned>,
) -> PyResult<PyRecord<'py>> {
    Ok(match taken {
        Taken::Here((kind, header, payload)) => (
            kind,
            PyBytes::new(py, &header),
            owned_payload(py, kind, payload),
        ),
        Taken::Block(kind, header, lease, len) => (
            kind,
            PyBytes::new(py, &header),
            crate::block::received(py, pool, lease, len)?,
        ),
    })
}

fn owned_payload(py: Python<'_>, kind: u8, payload: Vec<u8>) -> Bound<'_, PyAny> {
    if kind & AS_BYTES != 0 {
        PyBytes::new(py, &payload).into_any()
    } else {
        PyArray1::from_vec(py, payload).into_any()
    }
}

#[cfg(test)]
mod tests {
    use super::{OUT_OF_LINE, PREFIX, Part, record_len, split, write, write_ref};
    use crate::words::Ref;

    #[test]
    fn a_written_record_splits_back_into_its_pieces() {
        let (hdr, a, b) = (
            b"<i8;2;C".as_slice(),
            b"0123".as_slice(),
            b"4567".as_slice(),
        );
        let parts = [Part(a.as_ptr(), a.len()), Part(b.as_ptr(), b.len())];
        let h = Part(hdr.as_ptr(), hdr.len());
        let mut buf = vec![0xAA; record_len(h, &parts)];
        assert_eq!(buf.len(), PREFIX + 7 + 8);
        write(&mut buf, 0x82, (h, 7), &parts);
        let (kind, header, payload) = split(&buf).expect("split");
        assert_eq!((kind, header, payload), (0x82, hdr, b"01234567".as_slice()));
    }

    #[test]
    fn an_out_of_line_record_carries_its_header_and_block_reference() {
        let r = Ref {
            idx: 7,
            generation: 0x7FF_FFFF,
            len: 64 << 20,
        };
        let hdr = b"<i8;8388608;C";
        let mut buf = vec![0xAA; PREFIX + hdr.len() + Ref::BYTES];
        write_ref(&mut buf, 0x02, hdr, r);
        let (kind, header, payload) = split(&buf).expect("split");
        assert_eq!((kind, header), (0x02 | OUT_OF_LINE, hdr.as_slice()));
        assert_eq!(Ref::read(payload), Some(r));
        assert_eq!(
            Ref::read(&payload[1..]),
            None,
            "a short reference is refused"
        );
    }

    #[test]
    fn bad_framing_is_corrupt_naming_what_is_wrong() {
        let short = split(&[1, 0, 0]).expect_err("short");
        assert!(
            short.to_string().contains("shorter than its framing"),
            "{short}"
        );
        let mut rec = vec![1, 0, 0, 0];
        rec.extend_from_slice(&9u32.to_le_bytes());
        rec.extend_from_slice(b"abc");
        let past = split(&rec).expect_err("header past the end");
        assert!(
            past.to_string()
                .contains("header length 9 runs past its end"),
            "{past}"
        );
    }
}
