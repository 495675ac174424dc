//! `stream`: the producer sends as fast as the transport accepts; the consumer
//! receives, verifies every byte (the work any real consumer does: touch the
//! data) and measures throughput from the first to the last measured receive,
//! plus one-way latency from each message's send timestamp. Under saturation
//! that latency is mostly time spent queued in the transport's buffer, and is
//! reported as such. The consumer also reports the end-to-end rate (measured
//! messages over first send to last receive), which the paced workloads pace
//! at a fraction of. After each size the consumer acknowledges, so sizes
//! never overlap.
//!
//! A size streams for at least [`DEFAULT_MIN_MS`] (or the run's setting) and at least the run's message
//! count, whichever is longer: a fast transport otherwise fills its buffer and
//! finishes within a millisecond, and the burst rate that measures is not one
//! it can keep up (the paced workloads, which pace at a fraction of it, showed
//! queues growing without bound). The producer decides when to stop, so it
//! ends the size with an [`END`] message carrying the count it sent; the
//! consumer checks that count against what arrived, so a message lost at the
//! tail is an error, not a shorter run.

use anyhow::{Context, Result, ensure};
use codec::Codec;
use codec::pattern::PatternSet;
use results::Metric;
use transport::{Receiver, Sender};

use super::by_size::warm_up_messages;
use super::{SeqTracker, WARMUP, await_done, patch_header, raw_buffers};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

/// Each size streams measured messages for at least this long unless the
/// run asks otherwise (`RoleSpec::stream_min_ms`).
pub const DEFAULT_MIN_MS: u64 = 200;

/// Sequence-number flag of the message that ends a size; the rest of its
/// sequence number is the count of measured messages sent before it. Its
/// payload is the pattern of that count, verified like any other.
pub const END: u64 = 1 << 62;

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut bufs = raw_buffers(&pat)?;
    let n = bufs.len() as u64;
    let until = now_ns() + spec.warmup_ms * 1_000_000;
    let mut w = 0;
    while w < warm_up_messages(elements as u64 * 8) || now_ns() < until {
        let buf = &mut bufs[(w % n) as usize];
        patch_header(buf, w | WARMUP, now_ns());
        tx.send(buf)
            .with_context(|| format!("warm-up message #{w}"))?;
        w += 1;
    }
    let min = spec.messages as u64;
    let cpu0 = cpu_time_ns();
    let stop_at = now_ns() + spec.stream_min_ms * 1_000_000;
    let mut seq = 0;
    loop {
        let buf = &mut bufs[(seq % n) as usize];
        // The stamp doubles as the clock for deciding when to stop: no
        // second clock read per message.
        let now = now_ns();
        patch_header(buf, seq, now);
        tx.send(buf).with_context(|| format!("message #{seq}"))?;
        seq += 1;
        if seq >= min && now >= stop_at {
            break;
        }
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / seq as f64;
    let buf = &mut bufs[(seq % n) as usize];
    patch_header(buf, END | seq, now_ns());
    tx.send(buf)
        .with_context(|| format!("the end-of-size message after #{}", seq - 1))?;
    await_done(rx)?;
    Ok(SizeOutput {
        cpu_ns_per_msg: cpu,
        messages: seq,
        ..SizeOutput::default()
    })
}

pub(super) fn consumer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut oneway = Recorder::new();
    let mut seqs = SeqTracker::default();
    let (mut first, mut last, mut cpu0, mut first_sent) = (0, 0, 0, 0);
    loop {
        let msg = rx.recv().context("waiting for the next message")?;
        let t = now_ns();
        let decoded = Codec::Raw.decode(msg)?;
        let seq = decoded.header.seq;
        if seq & (END | WARMUP) == END {
            let sent = seq & !END;
            ensure!(
                sent == seqs.measured,
                "the producer ended the size after {sent} measured messages, but {} arrived \
                 (messages lost at the tail)",
                seqs.measured
            );
            pat.verify(&decoded, seq)
                .context("verification of the end-of-size message failed")?;
            break;
        }
        pat.verify(&decoded, seqs.expect(seq))
            .context("verification failed")?;
        if seqs.advance(seq) {
            if seqs.measured == 1 {
                first = t;
                first_sent = decoded.header.send_ns;
                cpu0 = cpu_time_ns();
            }
            last = t;
            oneway.record(t.saturating_sub(decoded.header.send_ns));
        }
    }
    let n = seqs.measured;
    let (cpu, rate) = super::end_flood(tx, spec, n, cpu0, (first, last))?;
    // End to end, from the first measured send: a buffer that swallowed the
    // whole burst before we started reading cannot inflate this one.
    let sustained = (last > first_sent).then(|| n as f64 * 1e9 / (last - first_sent) as f64);
    Ok(SizeOutput {
        sustained_msgs_per_s: sustained,
        metrics: vec![(Metric::Oneway, oneway.to_trial())],
        cpu_ns_per_msg: cpu,
        messages: n,
        msgs_per_s: rate,
        ..SizeOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Instant;

    use transport::{RecvError, SendError};

    use super::*;
    use crate::placement::{Placement, Role};
    use crate::workload::Workload;

    /// One direction of an in-process connection: whole messages over a
    /// channel, so the workload's own protocol is tested without a backend.
    struct Tx {
        to: mpsc::SyncSender<Vec<u8>>,
        /// Drops the last measured message before the end message, as a
        /// transport losing the tail would.
        lose_tail: bool,
        held: Option<Vec<u8>>,
    }

    impl Sender for Tx {
        fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
            let seq = msg
                .get(..8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
            if !self.lose_tail || seq & WARMUP != 0 || msg.len() < 16 {
                return self
                    .to
                    .send(msg.to_vec())
                    .map_err(|_| SendError::Disconnected);
            }
            // Measured messages go out one behind; the end message discards
            // the one held back.
            let previous = self.held.replace(msg.to_vec());
            if seq & END != 0 {
                self.held = None;
                return self
                    .to
                    .send(msg.to_vec())
                    .map_err(|_| SendError::Disconnected);
            }
            match previous {
                Some(p) => self.to.send(p).map_err(|_| SendError::Disconnected),
                None => Ok(()),
            }
        }
    }

    struct Rx {
        from: mpsc::Receiver<Vec<u8>>,
        current: Vec<u8>,
    }

    impl Receiver for Rx {
        fn recv(&mut self) -> Result<&[u8], RecvError> {
            self.current = self.from.recv().map_err(|_| RecvError::Disconnected)?;
            Ok(&self.current)
        }
    }

    fn pair(lose_tail: bool) -> (Tx, Rx) {
        let (to, from) = mpsc::sync_channel(64);
        (
            Tx {
                to,
                lose_tail,
                held: None,
            },
            Rx {
                from,
                current: Vec::new(),
            },
        )
    }

    fn spec(role: Role) -> RoleSpec {
        RoleSpec {
            role,
            transport: "in-process".to_owned(),
            workload: Workload::Stream,
            codec: "raw".to_owned(),
            sizes: vec![800],
            messages: 50,
            warmup_ms: 0,
            placement: Placement::None,
            tag: "t".to_owned(),
            endpoint: None,
            endpoints: Vec::new(),
            worker: 0,
            rates: Vec::new(),
            connect_timeout_ms: 1000,
            stream_min_ms: DEFAULT_MIN_MS,
            delivery: None,
            bind: None,
            remote: false,
        }
    }

    /// Runs one size of the stream over an in-process connection.
    fn run(lose_tail: bool) -> (Result<SizeOutput>, Result<SizeOutput>) {
        let (mut p_tx, mut c_rx) = pair(lose_tail);
        let (mut c_tx, mut p_rx) = pair(false);
        let consumer = std::thread::spawn(move || {
            let r = consumer(&mut c_tx, &mut c_rx, 100, &spec(Role::Consumer));
            // Dropping the channels unblocks a producer waiting for `done`.
            drop((c_tx, c_rx));
            r
        });
        let produced = producer(&mut p_tx, &mut p_rx, 100, &spec(Role::Producer));
        drop((p_tx, p_rx));
        let consumed = consumer.join().expect("consumer thread");
        (produced, consumed)
    }

    #[test]
    fn a_size_streams_for_the_minimum_time_and_counts_agree() {
        let t0 = Instant::now();
        let (p, c) = run(false);
        let (p, c) = (p.expect("producer"), c.expect("consumer"));
        assert!(t0.elapsed().as_secs_f64() >= DEFAULT_MIN_MS as f64 / 1e3);
        assert!(p.messages >= 50, "{}", p.messages);
        assert_eq!(p.messages, c.messages);
        assert!(c.msgs_per_s.is_some_and(|r| r > 0.0));
    }

    #[test]
    fn a_message_lost_at_the_tail_fails_the_size() {
        let (_, c) = run(true);
        let e = format!("{:#}", c.expect_err("the consumer must notice"));
        assert!(e.contains("messages lost at the tail"), "{e}");
    }
}
