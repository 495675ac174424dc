//! `gatherN`: N producer processes into one consumer (the results path of
//! every worker pool), every producer's order checked at the consumer.
//!
//! Delivery is one queue shared by every producer where the transport can
//! share an endpoint (`Capabilities::shared_receivers >= N`: the consumer
//! listens once, `listen_shared`, and the producers' messages merge into
//! its one receiver), else one point-to-point connection per producer,
//! which the consumer reads round-robin (a transport-independent consumer
//! has no way to wait on several connections at once, so it takes one
//! message from each producer in turn, blocking on each).
//!
//! Every message carries its producer's number in its sequence number
//! ([`PRODUCER_SHIFT`]), so the consumer keeps each producer's books
//! whichever way the message came. Per size:
//! - `latency`, lockstep, one message in flight per producer: a producer
//!   stamps its send time in the header, sends, and waits for the
//!   consumer's acknowledgement before the next; the consumer timestamps
//!   each message on receipt (latency = receipt - send, one clock, two
//!   processes), acknowledges, then verifies it. On a shared queue the
//!   acknowledgements go back on the shared direction, to whichever
//!   producer asks first: N in flight in all, each producer still waiting
//!   for one acknowledgement per message.
//! - `throughput`, flood: once every producer has finished the lockstep the
//!   consumer says go; each producer then sends [`FLOOD_FACTOR`] times its
//!   share back to back and an end message with its count; the consumer
//!   verifies every message against its producer's order. The rate is all
//!   flood messages over the time from go to the last one's receipt.
//!
//! Finally the consumer says done to every producer, so sizes never
//! overlap.

use anyhow::{Context, Result, ensure};
use codec::Codec;
use codec::pattern::PatternSet;
use results::Metric;
use transport::{Endpoint, Listener, Receiver, Sender, Transport};

use super::bcast::{FLOOD, FLOOD_FACTOR};
use super::fanout::share;
use super::stream::END;
use super::{SeqTracker, WARMUP, le_u64, patch_header, raw_buffers, warm_up};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

/// Where a producer's number sits in a sequence number: above any count,
/// below the flags ([`WARMUP`], [`END`], [`FLOOD`]); `MAX_WORKERS` fits.
pub const PRODUCER_SHIFT: u32 = 52;

/// The bits of a sequence number that hold the producer's number.
const PRODUCER_MASK: u64 = 0x7f << PRODUCER_SHIFT;

/// The consumer's word to start the flood, and its word at the end of the
/// size.
const GO: &[u8] = b"go";
const DONE: &[u8] = b"done";

fn tag(k: usize) -> u64 {
    (k as u64) << PRODUCER_SHIFT
}

fn producer_of(seq: u64) -> usize {
    ((seq & PRODUCER_MASK) >> PRODUCER_SHIFT) as usize
}

/// How the producers' messages reach the consumer. Either way each
/// producer has its own connection, which carries the consumer's
/// acknowledgements, go and done to it.
pub(super) enum Sources<'a, S, R, Q> {
    /// On each producer's connection, read round-robin.
    Each(&'a mut [(S, R)]),
    /// On one queue every producer sends into.
    Shared {
        conns: &'a mut [(S, R)],
        queue: &'a mut Q,
    },
}

impl<S: Sender, R: Receiver, Q: Receiver> Sources<'_, S, R, Q> {
    fn conns(&mut self) -> &mut [(S, R)] {
        match self {
            Self::Each(conns) | Self::Shared { conns, .. } => conns,
        }
    }

    /// The next message, from producer `k` if point to point (a shared
    /// queue gives whichever is first): (its producer, the connection to
    /// answer on, the message).
    fn next(&mut self, k: usize) -> Result<(usize, &mut S, &[u8])> {
        let (conns, msg) = match self {
            Self::Each(conns) => {
                let (tx, rx) = &mut conns[k];
                let msg = rx
                    .recv()
                    .with_context(|| format!("waiting for producer {k}"))?;
                let who = producer_of(le_u64(msg, 0)?);
                ensure!(
                    who == k,
                    "a message of producer {who} arrived on producer {k}'s connection"
                );
                return Ok((k, tx, msg));
            }
            Self::Shared { conns, queue } => {
                (conns, queue.recv().context("waiting for the producers")?)
            }
        };
        let who = producer_of(le_u64(msg, 0)?);
        let n = conns.len();
        let (tx, _) = conns
            .get_mut(who)
            .with_context(|| format!("a message names producer {who} of {n}"))?;
        Ok((who, tx, msg))
    }

    /// Sends `word` to every producer.
    fn tell_all(&mut self, word: &[u8]) -> Result<()> {
        for (k, (tx, _)) in self.conns().iter_mut().enumerate() {
            tx.send(word)
                .with_context(|| format!("telling producer {k}"))?;
        }
        Ok(())
    }
}

/// The consumer's side of a native gather's set-up, over the producers'
/// connections: each producer's pid, then one shared endpoint (secret part
/// included) to each, then every producer connected. Returns the queue's
/// receiving half.
pub(super) fn open_shared<T: Transport, S: Sender, R: Receiver>(
    spec: &RoleSpec,
    conns: &mut [(S, R)],
) -> Result<T::Receiver> {
    let n = conns.len();
    let mut pids = Vec::with_capacity(n);
    for (k, (_, rx)) in conns.iter_mut().enumerate() {
        let msg = rx
            .recv()
            .with_context(|| format!("waiting for producer {k}'s pid"))?;
        let pid =
            u32::try_from(le_u64(msg, 0)?).with_context(|| format!("producer {k} sent no pid"))?;
        pids.push(pid);
    }
    let (mut listener, ep) = T::listen_shared(&shared_options(spec), n)
        .with_context(|| format!("{}: listen_shared for {n} producers", T::NAME))?;
    for &pid in &pids {
        listener.expect_peer(pid);
    }
    for (k, (tx, _)) in conns.iter_mut().enumerate() {
        tx.send(ep.0.as_bytes())
            .with_context(|| format!("telling producer {k} the shared endpoint"))?;
    }
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(spec.connect_timeout_ms);
    let (_, queue) = listener
        .accept(deadline)
        .with_context(|| format!("{}: waiting for {n} producers to connect", T::NAME))?;
    Ok(queue)
}

/// A producer's side of the set-up: its pid out, the endpoint in, then it
/// connects. Returns the queue's sending half.
pub(super) fn join_shared<T: Transport, S: Sender, R: Receiver>(
    spec: &RoleSpec,
    tx: &mut S,
    rx: &mut R,
) -> Result<T::Sender> {
    tx.send(&u64::from(std::process::id()).to_le_bytes())
        .context("sending this producer's pid to the consumer")?;
    let msg = rx.recv().context("waiting for the shared endpoint")?;
    let ep = Endpoint(
        std::str::from_utf8(msg)
            .context("the shared endpoint is not text")?
            .to_owned(),
    );
    let (queue, _) = T::connect(&ep, &shared_options(spec))
        .with_context(|| format!("{}: connecting to the shared queue", T::NAME))?;
    Ok(queue)
}

/// The shared queue's own resource names, apart from every producer's
/// connection's.
fn shared_options(spec: &RoleSpec) -> transport::Options {
    let mut opts = crate::role::options(spec, 0);
    opts.tag = format!("{}-g", spec.tag);
    opts
}

/// The next producer after `from`, round-robin, that `pending` says still
/// has messages for this phase.
fn next_pending(from: usize, pending: impl Fn(usize) -> bool, n: usize) -> Option<usize> {
    (1..=n).map(|d| (from + d) % n).find(|&k| pending(k))
}

/// One producer's books at the consumer: its lockstep sequence numbers,
/// its flood count so far, whether its end has come.
#[derive(Default)]
struct Books {
    lockstep: SeqTracker,
    flooded: u64,
    ended: bool,
}

/// The consumer, one size: one loop over every message, each checked
/// against its own producer's books. Point to point, it reads each
/// producer in turn while that producer still has something to send (its
/// lockstep, or its flood once go was said), so it never blocks on a
/// producer that is waiting for it. On a shared queue a producer may take
/// another's acknowledgement for its go and start its flood while the
/// others finish their lockstep: the flood then counts from its first
/// message.
pub(super) fn consumer<S: Sender, R: Receiver, Q: Receiver>(
    src: &mut Sources<'_, S, R, Q>,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let n = src.conns().len();
    ensure!(n > 0, "gather without producers");
    let shared = matches!(src, Sources::Shared { .. });
    let pat = PatternSet::new(elements);
    let mine: Vec<u64> = (0..n).map(|k| share(spec.messages, n, k) as u64).collect();
    let floods: Vec<u64> = (0..n)
        .map(|k| share(spec.messages * FLOOD_FACTOR as usize, n, k) as u64)
        .collect();
    let mut books: Vec<Books> = (0..n).map(|_| Books::default()).collect();
    let mut latency = Recorder::new();
    let total: u64 = mine.iter().sum();
    let (mut measured, mut go) = (0u64, None);
    if total == 0 {
        src.tell_all(GO)?;
        go = Some(now_ns());
    }
    // The flood's window and CPU time start at go or at the first flood
    // message, whichever is first.
    let (mut start, mut last, mut cpu0) = (None, 0, 0);
    let mut k = n - 1;
    while books.iter().any(|b| !b.ended) {
        if !shared {
            let go_said = go.is_some();
            k = next_pending(
                k,
                |j| books[j].lockstep.measured < mine[j] || (go_said && !books[j].ended),
                n,
            )
            .context("internal error: every producer is waiting for the consumer")?;
        }
        let (who, tx, msg) = src.next(k)?;
        let t = now_ns();
        let seq = le_u64(msg, 0)?;
        let b = &mut books[who];
        ensure!(!b.ended, "producer {who} sent {seq:#x} after its end");
        let decoded = Codec::Raw.decode(msg)?;
        if seq & (FLOOD | END) == 0 {
            let sent = le_u64(msg, 8)?;
            tx.send(&seq.to_le_bytes())
                .with_context(|| format!("acknowledging producer {who}"))?;
            let want = tag(who) | b.lockstep.expect(seq & !PRODUCER_MASK);
            pat.verify(&decoded, want)
                .with_context(|| format!("verification of producer {who}'s message failed"))?;
            if b.lockstep.advance(seq) {
                ensure!(
                    b.lockstep.measured <= mine[who],
                    "producer {who} sent more than its {} messages",
                    mine[who]
                );
                latency.record(t.saturating_sub(sent));
                measured += 1;
                if measured == total {
                    go = Some(now_ns());
                    src.tell_all(GO)?;
                }
            }
            continue;
        }
        ensure!(
            b.lockstep.measured == mine[who],
            "producer {who} began its flood after {} of its {} lockstep messages",
            b.lockstep.measured,
            mine[who]
        );
        if start.is_none() {
            start = Some(go.map_or(t, |g| g.min(t)));
            cpu0 = cpu_time_ns();
        }
        if seq & END != 0 {
            ensure!(
                b.flooded == floods[who],
                "producer {who} ended the flood after {} messages, {} expected (messages lost)",
                b.flooded,
                floods[who]
            );
            pat.verify(&decoded, tag(who) | END | floods[who])
                .with_context(|| format!("verification of producer {who}'s end failed"))?;
            b.ended = true;
            continue;
        }
        pat.verify(&decoded, tag(who) | FLOOD | b.flooded)
            .with_context(|| {
                format!(
                    "verification of producer {who}'s flood message #{} failed (order or content)",
                    b.flooded
                )
            })?;
        b.flooded += 1;
        last = t;
    }
    let all: u64 = books.iter().map(|b| b.flooded).sum();
    let cpu = (cpu_time_ns() - cpu0) as f64 / all.max(1) as f64;
    src.tell_all(DONE)?;
    let start = start.unwrap_or(last);
    Ok(SizeOutput {
        metrics: vec![(Metric::Latency, latency.to_trial())],
        cpu_ns_per_msg: cpu,
        messages: all,
        msgs_per_s: (last > start && all > 0).then(|| all as f64 * 1e9 / (last - start) as f64),
        ..SizeOutput::default()
    })
}

/// Producer `spec.worker`, one size: its messages go out on `data` (its
/// connection, or the shared queue), the consumer's words come in on
/// `words` (its connection).
pub(super) fn producer<S: Sender, R: Receiver>(
    data: &mut S,
    words: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let n = spec.workload.consumers();
    let k = spec.worker;
    let me = tag(k);
    let mine = share(spec.messages, n, k) as u64;
    let flood = share(spec.messages * FLOOD_FACTOR as usize, n, k) as u64;
    let pat = PatternSet::new(elements);
    let mut bufs = raw_buffers(&pat)?;
    let variants = bufs.len() as u64;
    let mut round = |seq: u64| -> Result<()> {
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, me | seq, now_ns());
        data.send(buf)?;
        let ack = words.recv().context("waiting for the acknowledgement")?;
        ensure!(
            le_u64(ack, 0)? == me | seq,
            "the consumer acknowledged another message than #{}",
            seq & !WARMUP
        );
        Ok(())
    };
    warm_up(spec, elements, &mut round)?;
    for seq in 0..mine {
        round(seq).with_context(|| format!("message #{seq}"))?;
    }
    let word = |words: &mut R, what: &[u8]| -> Result<()> {
        let got = words.recv().context("waiting for the consumer")?;
        ensure!(
            got == what,
            "expected the consumer's {:?}, got {} bytes",
            String::from_utf8_lossy(what),
            got.len()
        );
        Ok(())
    };
    word(words, GO)?;
    let cpu0 = cpu_time_ns();
    for i in 0..flood {
        let buf = &mut bufs[(i % variants) as usize];
        patch_header(buf, me | FLOOD | i, 0);
        data.send(buf)
            .with_context(|| format!("flood message #{i}"))?;
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / flood.max(1) as f64;
    let buf = &mut bufs[((END | flood) % variants) as usize];
    patch_header(buf, me | END | flood, 0);
    data.send(buf).context("the end of the flood")?;
    word(words, DONE)?;
    Ok(SizeOutput {
        cpu_ns_per_msg: cpu,
        messages: flood,
        ..SizeOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_producers_number_survives_the_flags_and_the_pattern() {
        for k in [0, 1, 7, usize::from(results::vocab::MAX_WORKERS)] {
            for flags in [0, WARMUP, FLOOD, END, WARMUP | FLOOD] {
                let seq = tag(k) | flags | 12345;
                assert_eq!(producer_of(seq), k);
                // The pattern variant is the count's.
                assert_eq!(seq % 4, 12345 % 4);
                assert_eq!(seq & !PRODUCER_MASK & !flags, 12345);
            }
        }
    }

    #[test]
    fn round_robin_skips_producers_that_are_done() {
        let pending = [true, false, true];
        assert_eq!(next_pending(2, |k| pending[k], 3), Some(0));
        assert_eq!(next_pending(0, |k| pending[k], 3), Some(2));
        assert_eq!(next_pending(0, |_| false, 3), None);
    }
}
