//! `inplace-stream`: produce in place, hand over and check every byte,
//! under flood.
//!
//! The producer produces each message where it will travel from (a loan of
//! the transport's memory where the connection can lend the size, else its
//! own buffer followed by `send`: [`transport::outgoing`]) as fast as the
//! transport takes them; the consumer checks every byte of each where it
//! lies (sequence number, length, checksum: [`codec::inplace::InPlace::check`])
//! and measures throughput from the first to the last measured receive, as
//! `stream` does. Filling and checking are the work: they are inside the
//! window, so the figure is held against the same run's fill + verify floor
//! (`harness::inplace_floor`), and a transport that adds nothing reaches it.
//!
//! Like `stream`, a size floods for at least the run's minimum time and
//! message count, then the producer ends it with an [`END`] message carrying
//! the count it sent, and the consumer acknowledges so sizes never overlap.

use anyhow::{Context, Result, ensure};
use codec::inplace::{InPlace, header_of};
use transport::{Receiver, Sender, outgoing};

use super::by_size::warm_up_messages;
use super::handover::scratch_for;
use super::stream::END;
use super::{SeqTracker, WARMUP, await_done};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::cpu_time_ns;

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let p = InPlace::new(elements);
    let mut scratch = scratch_for(tx, p.message_len());
    let until = now_ns() + spec.warmup_ms * 1_000_000;
    let mut w = 0;
    while w < warm_up_messages(elements as u64 * 8) || now_ns() < until {
        produce(tx, &p, &mut scratch, w | WARMUP, now_ns())
            .with_context(|| format!("warm-up message #{w}"))?;
        w += 1;
    }
    let min = spec.messages as u64;
    let cpu0 = cpu_time_ns();
    let stop_at = now_ns() + spec.stream_min_ms * 1_000_000;
    let (mut seq, mut loaned) = (0, 0u64);
    loop {
        // The stamp doubles as the clock for deciding when to stop.
        let now = now_ns();
        let lent =
            produce(tx, &p, &mut scratch, seq, now).with_context(|| format!("message #{seq}"))?;
        loaned += u64::from(lent);
        seq += 1;
        if seq >= min && now >= stop_at {
            break;
        }
    }
    let cpu = (cpu_time_ns() - cpu0) as f64 / seq as f64;
    produce(tx, &p, &mut scratch, END | seq, now_ns())
        .with_context(|| format!("the end-of-size message after #{}", seq - 1))?;
    await_done(rx)?;
    Ok(SizeOutput {
        cpu_ns_per_msg: cpu,
        messages: seq,
        loaned: Some(loaned == seq),
        ..SizeOutput::default()
    })
}

/// Produces message `seq` in place and hands it over; returns whether it
/// went out as a loan.
#[inline]
fn produce<S: Sender>(
    tx: &mut S,
    p: &InPlace,
    scratch: &mut Vec<u8>,
    seq: u64,
    send_ns: u64,
) -> Result<bool> {
    let mut out = outgoing(tx, scratch, p.message_len()).context("starting the message")?;
    let loaned = out.is_loan();
    p.fill(out.bytes_mut(), seq, send_ns)
        .context("producing the message")?;
    out.send().context("handing the message over")?;
    Ok(loaned)
}

pub(super) fn consumer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let p = InPlace::new(elements);
    let mut seqs = SeqTracker::default();
    let (mut first, mut last, mut cpu0) = (0, 0, 0);
    loop {
        let msg = rx.recv().context("waiting for the next message")?;
        let t = now_ns();
        let seq = header_of(msg).context("verification failed")?.seq;
        if seq & (END | WARMUP) == END {
            let sent = seq & !END;
            ensure!(
                sent == seqs.measured,
                "the producer ended the size after {sent} measured messages, but {} arrived \
                 (messages lost at the tail)",
                seqs.measured
            );
            p.check(msg, seq)
                .context("verification of the end-of-size message failed")?;
            break;
        }
        p.check(msg, seqs.expect(seq))
            .context("verification failed")?;
        if seqs.advance(seq) {
            if seqs.measured == 1 {
                first = t;
                cpu0 = cpu_time_ns();
            }
            last = t;
        }
    }
    let n = seqs.measured;
    let (cpu, rate) = super::end_flood(tx, spec, n, cpu0, (first, last))?;
    Ok(SizeOutput {
        cpu_ns_per_msg: cpu,
        messages: n,
        msgs_per_s: rate,
        ..SizeOutput::default()
    })
}
