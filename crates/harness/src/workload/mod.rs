//! The workloads: what producer and consumer do with a connection, and what
//! is timed. Each is defined precisely in docs/methodology.md.
//!
//! Shared conventions: every message is the `raw` (or, for `seed`, the chosen
//! codec's) encoding of a [`codec::pattern::PatternSet`] array and a header;
//! warm-up messages carry [`WARMUP`] in their sequence number so the consumer
//! can tell them apart without any extra round trip; verification of every
//! message happens after the timestamps it contributes to.

mod pingpong;
mod seed;
mod stream;

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use codec::Codec;
use serde::{Deserialize, Serialize};
use transport::{Receiver, Sender};

use crate::clock::now_ns;
use crate::placement::Role;
use crate::role::{Control, RoleOutput, RoleSpec};

/// Sequence-number flag marking warm-up messages, which are verified but not
/// recorded.
pub const WARMUP: u64 = 1 << 63;

/// Warm-up always sends at least this many messages, however short the
/// warm-up time.
const MIN_WARMUP_MESSAGES: u64 = 10;

/// A workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// The notebook's measurement: lockstep put/get across processes.
    Seed,
    /// Round trip of an echoed message.
    Pingpong,
    /// Producer floods, consumer measures throughput.
    Stream,
}

/// Every workload, in report order.
pub const ALL: [Workload; 3] = [Workload::Seed, Workload::Pingpong, Workload::Stream];

impl Workload {
    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::Pingpong => "pingpong",
            Self::Stream => "stream",
        }
    }

    /// One line for `ipcbench list`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Seed => {
                "the notebook's put/get, lockstep across processes: put, get, total, encode, decode"
            }
            Self::Pingpong => "round trip of a message echoed by the consumer: rtt",
            Self::Stream => {
                "producer floods: throughput, and one-way latency under saturation (queueing time)"
            }
        }
    }

    /// Whether the workload uses the codec setting (others always use `raw`).
    pub fn uses_codec(self) -> bool {
        self == Self::Seed
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.into_iter().find(|w| w.name() == s).ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|w| w.name()).collect();
            format!(
                "unknown workload {s:?}; valid workloads: {}",
                names.join(", ")
            )
        })
    }
}

/// Runs this process's side of the workload on an established connection.
pub fn run_side<S: Sender, R: Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
    ctl: &mut Control,
) -> Result<RoleOutput> {
    let codec =
        Codec::from_name(&spec.codec).with_context(|| format!("unknown codec {:?}", spec.codec))?;
    let mut out = RoleOutput::default();
    for (i, &size) in spec.sizes.iter().enumerate() {
        let cell = || {
            format!(
                "{}/{}/{} size {} B",
                spec.transport, spec.workload, spec.codec, size
            )
        };
        let elements = usize::try_from(size / 8).context("size does not fit in memory")?;
        let result = match (spec.workload, spec.role) {
            (Workload::Seed, Role::Producer) => seed::producer(tx, rx, codec, elements, spec),
            (Workload::Seed, Role::Consumer) => seed::consumer(tx, rx, codec, elements, spec),
            (Workload::Pingpong, Role::Producer) => pingpong::producer(tx, rx, elements, spec),
            (Workload::Pingpong, Role::Consumer) => pingpong::consumer(tx, rx, elements, spec),
            (Workload::Stream, Role::Producer) => stream::producer(tx, rx, elements, spec),
            (Workload::Stream, Role::Consumer) => stream::consumer(tx, rx, elements, spec),
        };
        let mut size_out = result.with_context(cell)?;
        size_out.size_bytes = size;
        out.sizes.push(size_out);
        ctl.progress(i + 1)?;
    }
    Ok(out)
}

/// Runs lockstep warm-up rounds until the warm-up time has passed.
fn warm_up(spec: &RoleSpec, mut round: impl FnMut(u64) -> Result<()>) -> Result<()> {
    let until = now_ns() + spec.warmup_ms * 1_000_000;
    let mut w = 0;
    while w < MIN_WARMUP_MESSAGES || now_ns() < until {
        round(w | WARMUP).with_context(|| format!("warm-up message #{w}"))?;
        w += 1;
    }
    Ok(())
}

/// Tracks the sequence numbers a consumer expects: warm-up ones first, then
/// measured ones from 0.
#[derive(Debug, Default)]
struct SeqTracker {
    warm: u64,
    measured: u64,
}

impl SeqTracker {
    /// The sequence number the next message must carry, given what arrived.
    fn expect(&self, got: u64) -> u64 {
        if got & WARMUP != 0 && self.measured == 0 {
            self.warm | WARMUP
        } else {
            self.measured
        }
    }

    /// Accounts for a verified message; returns whether it was measured.
    fn advance(&mut self, seq: u64) -> bool {
        if seq & WARMUP != 0 {
            self.warm += 1;
            false
        } else {
            self.measured += 1;
            true
        }
    }
}

/// Reads the little-endian u64 at `at`, or fails naming the message.
fn le_u64(msg: &[u8], at: usize) -> Result<u64> {
    match msg.get(at..at + 8) {
        Some(b) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(u64::from_le_bytes(a))
        }
        None => bail!("message of {} bytes is too short for its header", msg.len()),
    }
}

/// Raw-encoded copies of each pattern variant, whose headers are patched per
/// message: building the payload stays off the clock.
fn raw_buffers(pat: &codec::pattern::PatternSet) -> Result<Vec<Vec<u8>>> {
    (0..codec::pattern::VARIANTS as u64)
        .map(|v| {
            let mut b = Vec::new();
            Codec::Raw.encode(codec::Header { seq: v, send_ns: 0 }, pat.array(v), &mut b)?;
            Ok(b)
        })
        .collect()
}

/// Writes the header into a raw buffer.
#[inline(always)]
fn patch_header(buf: &mut [u8], seq: u64, send_ns: u64) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    buf[8..16].copy_from_slice(&send_ns.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_orders_warmup_then_measured() {
        let mut t = SeqTracker::default();
        assert_eq!(t.expect(WARMUP), WARMUP);
        assert!(!t.advance(WARMUP));
        assert_eq!(t.expect(WARMUP | 1), WARMUP | 1);
        assert_eq!(t.expect(0), 0);
        assert!(t.advance(0));
        // A warm-up message after measuring began is out of order.
        assert_eq!(t.expect(WARMUP | 2), 1);
    }

    #[test]
    fn names() {
        for w in ALL {
            assert_eq!(w.name().parse::<Workload>(), Ok(w));
        }
        assert!(
            "flood"
                .parse::<Workload>()
                .expect_err("bad")
                .contains("seed, pingpong, stream")
        );
    }
}
