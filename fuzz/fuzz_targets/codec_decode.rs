//! Fuzzes `codec::Codec::decode` for all three codecs (raw, bincode,
//! msgpack) and the pattern verification the consumers run on what decodes.
//!
//! Checked: no panic; whatever decodes re-encodes to bytes that decode to the
//! same header and array (so decode never invents or drops data); the
//! verifier accepts or refuses but never panics. Allocations are bounded by
//! libFuzzer's `-malloc_limit_mb` (set in run.sh), which catches a decoder
//! that reserves a length a hostile prefix claims.

#![no_main]

use codec::{ALL, Codec, pattern::PatternSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    for codec in ALL {
        // Decode at every alignment the receive buffer could have: raw
        // borrows when 8-aligned and copies otherwise.
        for shift in [0usize, 1] {
            let mut buf = vec![0u8; input.len() + shift];
            buf[shift..].copy_from_slice(input);
            check(codec, &buf[shift..]);
        }
    }
});

fn check(codec: Codec, bytes: &[u8]) {
    let Ok(decoded) = codec.decode(bytes) else {
        return;
    };
    let mut again = Vec::new();
    codec
        .encode(decoded.header, &decoded.data, &mut again)
        .expect("re-encoding what was decoded");
    let redecoded = codec.decode(&again).expect("decoding our own encoding");
    assert_eq!(redecoded.header, decoded.header, "{}", codec.name());
    assert_eq!(redecoded.data, decoded.data, "{}", codec.name());
    if codec == Codec::Raw {
        // Raw is the identity on well-formed input.
        assert_eq!(again, bytes);
    }
    let pat = PatternSet::new(decoded.data.len());
    let _ = pat.verify(&decoded, decoded.header.seq);
}
