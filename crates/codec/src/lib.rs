//! Payload codecs: how the seed's int64 array plus a small header becomes bytes.
//!
//! The payload is what the Python notebook sent through `multiprocessing.Queue`
//! (a numpy int64 array) plus a [`Header`] carrying a sequence number and the
//! producer's send timestamp. Three codecs turn it into bytes:
//!
//! - `raw`: 16-byte little-endian header, then the array's bytes. No
//!   serialization step; decoding lends the array in place when the buffer is
//!   8-byte aligned (zero-copy) and copies only when it is not.
//! - `bincode` (2.0, fixed-width integers) and `msgpack` (rmp-serde): the
//!   array travels as one byte string (`serde_bytes`), the way pickle ships a
//!   numpy buffer; element-by-element encoding would measure serde, not IPC.
//!
//! Codecs sit above transports: the harness times encode and decode apart from
//! send and receive.

#![forbid(unsafe_code)]

pub mod inplace;
pub mod pattern;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Bytes of the `raw` codec's header: sequence number and send timestamp.
pub const RAW_HEADER_LEN: usize = 16;

/// The per-message header every codec carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Position of the message in its stream, from 0.
    pub seq: u64,
    /// `CLOCK_MONOTONIC` nanoseconds when the producer sent it (0 if unused).
    pub send_ns: u64,
}

/// A decoded payload; `data` borrows the received bytes when it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The header as sent.
    pub header: Header,
    /// The int64 array.
    pub data: Cow<'a, [i64]>,
}

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Too short, wrong length or malformed for this codec.
    #[error("{codec}: malformed payload: {detail}")]
    Malformed {
        /// The codec that refused.
        codec: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Why a payload could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The serializer failed.
    #[error("{codec}: {detail}")]
    Serializer {
        /// The codec that failed.
        codec: &'static str,
        /// The serializer's message.
        detail: String,
    },
}

/// The codecs ipcbench knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// Little-endian header and array bytes, zero-copy decode.
    Raw,
    /// bincode 2.0.1 via serde, fixed-width integers.
    Bincode,
    /// MessagePack via rmp-serde.
    Msgpack,
}

/// Every codec, in report order.
pub const ALL: [Codec; 3] = [Codec::Raw, Codec::Bincode, Codec::Msgpack];

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    seq: u64,
    send_ns: u64,
    #[serde(with = "serde_bytes", borrow)]
    data: &'a [u8],
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_fixed_int_encoding()
}

impl Codec {
    /// The name users type and reports print.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Bincode => "bincode",
            Self::Msgpack => "msgpack",
        }
    }

    /// One line for `ipcbench list`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Raw => "little-endian header + array bytes; zero-copy decode when aligned",
            Self::Bincode => "bincode 2.0.1 (serde, fixed-width ints), array as one byte string",
            Self::Msgpack => "MessagePack (rmp-serde), array as one byte string",
        }
    }

    /// Looks a codec up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|c| c.name() == name)
    }

    /// Replaces the contents of `out` with the encoded payload. `out` keeps its
    /// capacity, so a warmed-up buffer makes encoding allocation-free.
    pub fn encode(
        self,
        header: Header,
        data: &[i64],
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        out.clear();
        let bytes = as_le_bytes(data);
        match self {
            Self::Raw => {
                out.extend_from_slice(&header.seq.to_le_bytes());
                out.extend_from_slice(&header.send_ns.to_le_bytes());
                out.extend_from_slice(bytes);
                Ok(())
            }
            Self::Bincode => {
                let wire = Wire {
                    seq: header.seq,
                    send_ns: header.send_ns,
                    data: bytes,
                };
                bincode::serde::encode_into_std_write(&wire, out, bincode_config())
                    .map(|_| ())
                    .map_err(|e| EncodeError::Serializer {
                        codec: "bincode",
                        detail: e.to_string(),
                    })
            }
            Self::Msgpack => {
                let wire = Wire {
                    seq: header.seq,
                    send_ns: header.send_ns,
                    data: bytes,
                };
                rmp_serde::encode::write(out, &wire).map_err(|e| EncodeError::Serializer {
                    codec: "msgpack",
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Decodes a payload, borrowing from `bytes` where the layout allows.
    pub fn decode(self, bytes: &[u8]) -> Result<Decoded<'_>, DecodeError> {
        match self {
            Self::Raw => {
                let Some((head, body)) = bytes.split_at_checked(RAW_HEADER_LEN) else {
                    return Err(malformed(
                        "raw",
                        format!("{} bytes is shorter than the 16-byte header", bytes.len()),
                    ));
                };
                let header = Header {
                    seq: le_u64(&head[..8]),
                    send_ns: le_u64(&head[8..]),
                };
                Ok(Decoded {
                    header,
                    data: i64s_from_le("raw", body)?,
                })
            }
            Self::Bincode => {
                let (wire, used): (Wire<'_>, usize) =
                    bincode::serde::borrow_decode_from_slice(bytes, bincode_config())
                        .map_err(|e| malformed("bincode", e.to_string()))?;
                if used != bytes.len() {
                    return Err(malformed(
                        "bincode",
                        format!("{} trailing bytes", bytes.len() - used),
                    ));
                }
                Ok(Decoded {
                    header: Header {
                        seq: wire.seq,
                        send_ns: wire.send_ns,
                    },
                    data: i64s_from_le("bincode", wire.data)?,
                })
            }
            Self::Msgpack => {
                let wire: Wire<'_> = rmp_serde::from_slice(bytes)
                    .map_err(|e| malformed("msgpack", e.to_string()))?;
                Ok(Decoded {
                    header: Header {
                        seq: wire.seq,
                        send_ns: wire.send_ns,
                    },
                    data: i64s_from_le("msgpack", wire.data)?,
                })
            }
        }
    }
}

fn malformed(codec: &'static str, detail: String) -> DecodeError {
    DecodeError::Malformed { codec, detail }
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// The array's bytes in little-endian order. On little-endian machines (the
/// only ones ipcbench supports, checked at compile time) this is a plain view.
pub fn as_le_bytes(data: &[i64]) -> &[u8] {
    bytemuck::cast_slice(data)
}

const _: () = assert!(
    cfg!(target_endian = "little"),
    "ipcbench assumes a little-endian machine"
);

fn i64s_from_le<'a>(codec: &'static str, body: &'a [u8]) -> Result<Cow<'a, [i64]>, DecodeError> {
    if !body.len().is_multiple_of(8) {
        return Err(malformed(
            codec,
            format!(
                "array of {} bytes is not a whole number of int64",
                body.len()
            ),
        ));
    }
    Ok(match bytemuck::try_cast_slice(body) {
        Ok(view) => Cow::Borrowed(view),
        // Misaligned receive buffer: copy, which is what a real consumer would do.
        Err(_) => Cow::Owned(body.chunks_exact(8).map(|c| le_u64(c) as i64).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<i64> = (0..1000).map(|i| i * 7 - 300).collect();
        for codec in ALL {
            let mut buf = Vec::new();
            let header = Header {
                seq: 42,
                send_ns: 123_456_789,
            };
            codec.encode(header, &data, &mut buf).expect("encode");
            let d = codec.decode(&buf).expect("decode");
            assert_eq!(d.header, header, "{}", codec.name());
            assert_eq!(&*d.data, &data[..], "{}", codec.name());
        }
    }

    #[test]
    fn empty_array_round_trips() {
        for codec in ALL {
            let mut buf = Vec::new();
            codec
                .encode(Header { seq: 1, send_ns: 2 }, &[], &mut buf)
                .expect("encode");
            assert!(codec.decode(&buf).expect("decode").data.is_empty());
        }
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let data: Vec<i64> = (0..100).collect();
        for codec in ALL {
            let mut buf = Vec::new();
            codec
                .encode(Header { seq: 1, send_ns: 2 }, &data, &mut buf)
                .expect("encode");
            // Raw cannot tell a shorter whole array from a truncated one; the
            // pattern check catches that, so cut off whole-element boundaries.
            for cut in [0, 1, 5, 15, buf.len() / 2 + 3, buf.len() - 1] {
                assert!(
                    codec.decode(&buf[..cut]).is_err(),
                    "{} cut at {cut}",
                    codec.name()
                );
            }
        }
    }

    #[test]
    fn raw_decode_is_zero_copy_when_aligned() {
        let data: Vec<i64> = (0..64).collect();
        let mut buf = Vec::new();
        Codec::Raw
            .encode(Header { seq: 0, send_ns: 0 }, &data, &mut buf)
            .expect("encode");
        // Vec<u8> from the global allocator is at least 8-aligned here.
        if buf.as_ptr().align_offset(8) == 0 {
            assert!(matches!(
                Codec::Raw.decode(&buf).expect("decode").data,
                Cow::Borrowed(_)
            ));
        }
    }

    #[test]
    fn names_round_trip() {
        for codec in ALL {
            assert_eq!(Codec::from_name(codec.name()), Some(codec));
        }
        assert_eq!(Codec::from_name("pickle"), None);
    }
}
