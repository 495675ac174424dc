//! `shm-line` under mixed traffic: small messages that take the line and
//! ones that must take the ring (previous line message not yet
//! acknowledged), large and chunked messages, replies of every size and
//! stretches without replies, in both directions at once; every message
//! must arrive whole and in order.

use std::time::{Duration, Instant};

use transport::{Listener, Options, Receiver, Sender, Transport};
use transport_shm::ShmLine;

/// Sizes drawn from: empty, small enough for the line, just over it, a
/// record, and one chunked message (above half the smallest ring).
const SIZES: [usize; 8] = [0, 1, 8, 24, 25, 100, 5000, 600_000];

/// A tiny deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Message `i` of a direction: its size comes from `SIZES`, byte 0 says
/// whether the peer must reply, the rest is a pattern of `i`.
fn message(i: u64, seed: u64) -> (Vec<u8>, bool) {
    let mut r = Rng(seed ^ (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let size = SIZES[(r.next() % SIZES.len() as u64) as usize];
    let reply = !r.next().is_multiple_of(3);
    let mut m: Vec<u8> = (0..size).map(|k| (i as usize + k * 7) as u8).collect();
    if let Some(b) = m.first_mut() {
        *b = u8::from(reply);
    }
    (m, reply && size > 0)
}

#[test]
fn mixed_traffic_arrives_whole_and_in_order() {
    const N: u64 = 3000;
    let opts = Options::unique("line-mixed");
    let (listener, ep) = ShmLine::listen(&opts).expect("listen");
    let peer = std::thread::spawn(move || {
        let (mut tx, mut rx) =
            ShmLine::connect(&ep, &Options::unique("line-mixed-c")).expect("connect");
        // Receives every request, replies to those that ask (each reply is
        // message `j` of the reverse direction).
        let mut j = 0;
        for i in 0..N {
            let (want, reply) = message(i, 1);
            let got = rx.recv().expect("request");
            assert_eq!(got, &want[..], "request {i}");
            if reply {
                let (r, _) = message(j, 2);
                tx.send(&r).expect("reply");
                j += 1;
            }
        }
        j
    });
    let (mut tx, mut rx) = listener
        .accept(Instant::now() + Duration::from_secs(30))
        .expect("accept");
    let mut j = 0;
    let mut pending = 0;
    for i in 0..N {
        let (m, reply) = message(i, 1);
        tx.send(&m).expect("request");
        if reply {
            pending += 1;
        }
        // Collect the replies only now and then: the peer meanwhile sends
        // while its own line message may be unacknowledged.
        if i % 5 == 4 || i == N - 1 {
            for _ in 0..pending {
                let (want, _) = message(j, 2);
                let got = rx.recv().expect("reply");
                assert_eq!(got, &want[..], "reply {j}");
                j += 1;
            }
            pending = 0;
        }
    }
    assert_eq!(peer.join().expect("peer thread"), j);
}
