//! The workloads: what producer and consumer do with a connection, and what
//! is timed. Each is defined precisely in docs/methodology.md.
//!
//! Shared conventions: every message is the `raw` (or, for `seed`, the chosen
//! codec's) encoding of a [`codec::pattern::PatternSet`] array and a header;
//! warm-up messages carry [`WARMUP`] in their sequence number so the consumer
//! can tell them apart without any extra round trip; verification of every
//! message happens after the timestamps it contributes to.

mod bcast;
pub mod by_size;
mod fanout;
mod fanout_shared;
mod gather;
mod handover;
mod hub;
mod inplace_stream;
mod paced;
mod pingpong;
mod seed;
pub(crate) mod stream;

use anyhow::{Context, Result, bail};
use codec::Codec;
use transport::{Receiver, Sender};

use crate::clock::now_ns;
use crate::placement::Role;
use crate::role::{Control, RoleOutput, RoleSpec, SizeOutput};

pub use bcast::FLOOD_FACTOR;
pub use hub::{run_gather_producer, run_hub, run_subscriber};
pub use paced::message_count as paced_messages;

/// Sequence-number flag marking warm-up messages, which are verified but not
/// recorded.
pub const WARMUP: u64 = 1 << 63;

/// Warm-up always sends at least this many messages, however short the
/// warm-up time.
const MIN_WARMUP_MESSAGES: u64 = 10;

pub use results::vocab::{MAX_WORKERS, Workload};

/// The workloads `fanout` stands for.
pub const FANOUT_DEFAULT: [Workload; 3] = [
    Workload::Fanout(1),
    Workload::Fanout(2),
    Workload::Fanout(4),
];

/// The workloads `fanoutq` stands for.
pub const FANOUTQ_DEFAULT: [Workload; 3] = [
    Workload::FanoutQ(1),
    Workload::FanoutQ(2),
    Workload::FanoutQ(4),
];

/// The workloads `paced` stands for.
pub const PACED_DEFAULT: [Workload; 2] = [Workload::Paced(50), Workload::Paced(80)];

/// Every workload with its default parameters, in report order.
pub const ALL: [Workload; 13] = [
    Workload::Seed,
    Workload::Pingpong,
    Workload::Stream,
    Workload::Handover,
    Workload::InplaceStream,
    FANOUT_DEFAULT[0],
    FANOUT_DEFAULT[1],
    FANOUT_DEFAULT[2],
    FANOUTQ_DEFAULT[0],
    FANOUTQ_DEFAULT[1],
    FANOUTQ_DEFAULT[2],
    PACED_DEFAULT[0],
    PACED_DEFAULT[1],
];

/// Whether a backend can run this workload: a shared queue needs
/// receivers that can share one endpoint, at least one per worker; and the
/// connections the workload holds at once must fit the backend's declared
/// `max_concurrent` (a per-user kernel quota such as `RLIMIT_MSGQUEUE`).
pub fn runs_on(workload: Workload, caps: &transport::Capabilities) -> bool {
    let shared = !workload.shared_queue() || caps.shared_receivers >= workload.consumers();
    shared && (caps.max_concurrent == 0 || connections(workload) <= caps.max_concurrent)
}

/// How many connections a workload holds at once: one per worker when
/// each has its own, one when they share an endpoint.
pub fn connections(workload: Workload) -> usize {
    if workload.shared_queue() {
        1
    } else {
        workload.consumers()
    }
}

/// Parses the command line's workload list: `fanout` and `paced` stand for
/// their default members; duplicates are dropped; paced needs stream, whose
/// rate it paces at.
pub fn parse_list(given: &[String]) -> Result<Vec<Workload>, String> {
    let mut out: Vec<Workload> = Vec::new();
    for name in given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let ws: Vec<Workload> = match name {
            "fanout" => FANOUT_DEFAULT.to_vec(),
            "fanoutq" => FANOUTQ_DEFAULT.to_vec(),
            "bcast" => vec![Workload::Bcast(2), Workload::Bcast(4)],
            "gather" => vec![Workload::Gather(2), Workload::Gather(4)],
            "paced" => PACED_DEFAULT.to_vec(),
            _ => vec![name.parse()?],
        };
        for w in ws {
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    if out.iter().any(|w| w.load().is_some()) && !out.contains(&Workload::Stream) {
        return Err(
            "the paced workloads send at a fraction of the stream rate measured in the same \
             run: add stream to --workload"
                .to_owned(),
        );
    }
    Ok(out)
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
    for_each_size(spec, ctl, |i, elements, spec| {
        let rate = || {
            spec.rates
                .get(i)
                .copied()
                .filter(|r| r.is_finite() && *r > 0.0)
                .context("paced workload started without a target rate for this size")
        };
        match (spec.workload, spec.role) {
            (Workload::Seed, Role::Producer) => seed::producer(tx, rx, codec, elements, spec),
            (Workload::Seed, Role::Consumer) => seed::consumer(tx, rx, codec, elements, spec),
            (Workload::Pingpong, Role::Producer) => pingpong::producer(tx, rx, elements, spec),
            (Workload::Pingpong, Role::Consumer) => pingpong::consumer(tx, rx, elements, spec),
            (Workload::Stream, Role::Producer) => stream::producer(tx, rx, elements, spec),
            (Workload::Stream, Role::Consumer) => stream::consumer(tx, rx, elements, spec),
            (Workload::Fanout(_), Role::Consumer) => fanout::worker(tx, rx, elements, spec),
            (Workload::Fanout(_), Role::Producer) => {
                bail!("internal error: the fanout producer needs one connection per worker")
            }
            (Workload::FanoutQ(_), _) => {
                bail!("internal error: the shared-queue fanout runs through run_shared_*")
            }
            (Workload::Bcast(_) | Workload::Gather(_), _) => {
                bail!(
                    "internal error: {} runs through run_hub and its workers' runs",
                    spec.workload
                )
            }
            (Workload::Paced(_), Role::Producer) => {
                paced::producer(tx, rx, elements, spec, rate()?)
            }
            (Workload::Paced(_), Role::Consumer) => {
                paced::consumer(tx, rx, elements, spec, rate()?)
            }
            (Workload::Handover, Role::Producer) => handover::producer(tx, rx, elements, spec),
            (Workload::Handover, Role::Consumer) => handover::consumer(tx, rx, elements, spec),
            (Workload::InplaceStream, Role::Producer) => {
                inplace_stream::producer(tx, rx, elements, spec)
            }
            (Workload::InplaceStream, Role::Consumer) => {
                inplace_stream::consumer(tx, rx, elements, spec)
            }
        }
    })
}

/// Runs the fanout producer over one connection per worker.
pub fn run_fanout_producer<S: Sender, R: Receiver>(
    spec: &RoleSpec,
    conns: &mut [(S, R)],
    ctl: &mut Control,
) -> Result<RoleOutput> {
    for_each_size(spec, ctl, |_, elements, spec| {
        fanout::producer(conns, elements, spec)
    })
}

/// Runs the shared-queue fanout producer over the one shared connection.
pub fn run_shared_producer<S: Sender, R: Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
    ctl: &mut Control,
) -> Result<RoleOutput> {
    fanout_shared::check_sizes(spec)?;
    let out = for_each_size(spec, ctl, |_, elements, spec| {
        fanout_shared::producer(tx, rx, elements, spec)
    })?;
    fanout_shared::stop_workers(tx, spec.workload.consumers())?;
    Ok(out)
}

/// Runs a shared-queue fanout worker: it takes whatever tasks reach it, of
/// every size, until the producer's stop.
pub fn run_shared_worker<S: Sender, R: Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
    ctl: &mut Control,
) -> Result<RoleOutput> {
    fanout_shared::check_sizes(spec)?;
    fanout_shared::worker(tx, rx, spec, ctl)
}

pub use fanout_shared::{TaskDigest, check_union};

/// Runs `one` for every size in the spec's order, with the spec's message
/// count for that size ([`by_size::messages_for`]), naming the cell in
/// errors and reporting progress after each.
fn for_each_size(
    spec: &RoleSpec,
    ctl: &mut Control,
    mut one: impl FnMut(usize, usize, &RoleSpec) -> Result<SizeOutput>,
) -> Result<RoleOutput> {
    let mut out = RoleOutput::default();
    let mut sized = spec.clone();
    for (i, &size) in spec.sizes.iter().enumerate() {
        // Every fanout worker still gets a task.
        sized.messages = by_size::messages_for(size, spec.messages)
            .max(spec.workload.consumers().min(spec.messages));
        let cell = || {
            format!(
                "{}/{}/{} size {} B",
                spec.transport, spec.workload, spec.codec, size
            )
        };
        let elements = usize::try_from(size / 8).context("size does not fit in memory")?;
        let mut size_out = one(i, elements, &sized).with_context(cell)?;
        size_out.size_bytes = size;
        out.sizes.push(size_out);
        ctl.progress(i + 1)?;
    }
    Ok(out)
}

/// Runs lockstep warm-up rounds of arrays of `elements` until the warm-up
/// time has passed and at least the size's least warm-up count
/// ([`by_size::warm_up_messages`]) was sent.
fn warm_up(
    spec: &RoleSpec,
    elements: usize,
    mut round: impl FnMut(u64) -> Result<()>,
) -> Result<()> {
    let until = now_ns() + spec.warmup_ms * 1_000_000;
    let least = by_size::warm_up_messages(elements as u64 * 8);
    let mut w = 0;
    while w < least || now_ns() < until {
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

/// The consumer's acknowledgement that it has received and verified a whole
/// size, so sizes never overlap.
const DONE: &[u8] = b"done";

/// Consumer side of the end of a size.
fn send_done<S: Sender>(tx: &mut S) -> Result<()> {
    tx.send(DONE).context("acknowledging the size")
}

/// Producer side: waits for the consumer's [`DONE`].
fn await_done<R: Receiver>(rx: &mut R) -> Result<()> {
    let ack = rx
        .recv()
        .context("waiting for the consumer to finish the size")?;
    anyhow::ensure!(
        ack == DONE,
        "unexpected acknowledgement of {} bytes",
        ack.len()
    );
    Ok(())
}

/// Sends an acknowledgement of up to three little-endian words (a sequence
/// number and the stamps or checksum the other side checks); `what` names
/// it in an error. No allocation: the words go through a stack buffer.
#[inline(always)]
fn send_ack<S: Sender>(tx: &mut S, words: &[u64], what: &'static str) -> Result<()> {
    let mut buf = [0u8; 24];
    for (slot, w) in buf.chunks_exact_mut(8).zip(words) {
        slot.copy_from_slice(&w.to_le_bytes());
    }
    tx.send(&buf[..8 * words.len().min(3)]).context(what)
}

/// The end of a flooded size at the consumer, off the clock: `n` measured
/// messages must have come (at least the `spec.messages` asked for), the
/// size is acknowledged, and it returns the CPU time per message since
/// `cpu0` and the arrival rate (n messages in n-1 gaps from `first` to
/// `last`, `None` without two distinct arrivals).
fn end_flood<S: Sender>(
    tx: &mut S,
    spec: &RoleSpec,
    n: u64,
    cpu0: u64,
    (first, last): (u64, u64),
) -> Result<(f64, Option<f64>)> {
    anyhow::ensure!(
        n >= spec.messages as u64,
        "the producer ended the size after {n} measured messages, fewer than the {} asked for",
        spec.messages
    );
    let cpu = (crate::stats::cpu_time_ns() - cpu0) as f64 / n.max(1) as f64;
    send_done(tx)?;
    let rate = (n > 1 && last > first).then(|| (n - 1) as f64 * 1e9 / (last - first) as f64);
    Ok((cpu, rate))
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
    fn a_quota_bounds_the_connections_a_workload_may_hold() {
        let caps = |max_concurrent, shared_receivers| transport::Capabilities {
            max_concurrent,
            shared_receivers,
            ..transport::Capabilities::default()
        };
        // No quota: everything point to point runs.
        assert!(runs_on(Workload::Fanout(4), &caps(0, 0)));
        // Two connections at most: fanout2 fits, fanout4 does not.
        assert!(runs_on(Workload::Pingpong, &caps(2, 0)));
        assert!(runs_on(Workload::Fanout(2), &caps(2, 0)));
        assert!(!runs_on(Workload::Fanout(4), &caps(2, 0)));
        // A shared queue is one connection, however many workers.
        assert!(runs_on(Workload::FanoutQ(4), &caps(1, 4)));
        assert!(!runs_on(Workload::FanoutQ(4), &caps(1, 2)));
        assert_eq!(connections(Workload::Fanout(4)), 4);
        assert_eq!(connections(Workload::FanoutQ(4)), 1);
    }

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
    fn lists_expand_dedup_and_need_stream_for_paced() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let got = parse_list(&names(&["stream", "fanout", "fanout2", "paced"])).expect("ok");
        assert_eq!(
            got,
            [
                Workload::Stream,
                Workload::Fanout(1),
                Workload::Fanout(2),
                Workload::Fanout(4),
                Workload::Paced(50),
                Workload::Paced(80)
            ]
        );
        let e = parse_list(&names(&["seed", "paced80"])).expect_err("no stream");
        assert!(e.contains("add stream"), "{e}");
    }
}
