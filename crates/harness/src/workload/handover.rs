//! `handover`: lockstep hand-over of a message the producer produces in
//! place, the way a loaning transport is meant to be used.
//!
//! One message in flight. The producer starts message i where it will
//! travel from ([`transport::outgoing`]: a loan of the transport's memory
//! where the connection can lend the size, else its own buffer) and fills it
//! ([`codec::inplace::InPlace::fill`]) before the clock starts. The clock
//! starts just before the publish (or `send`) call; `put` is that call.
//! The consumer stamps the moment its `recv` returns, i.e. it holds a
//! readable view of the whole message: `latency` runs from the producer's
//! stamp to this one (one `CLOCK_MONOTONIC`, two processes). Only then,
//! off the clock, does the consumer check every byte where it lies, and
//! acknowledge with 24 bytes: the sequence number, its stamp and the
//! checksum it computed, which the producer checks against its own. No
//! large echo: a loaning design could not send one back without a copy.

use anyhow::{Context, Result, ensure};
use codec::inplace::{InPlace, header_of};
use results::Metric;
use transport::{Receiver, Sender, outgoing};

use super::{SeqTracker, le_u64, warm_up};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, cpu_time_ns};

/// The metrics the producer records, in the order of its recorders.
const METRICS: [Metric; 2] = [Metric::Latency, Metric::Put];

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let p = InPlace::new(elements);
    let mut scratch = scratch_for(tx, p.message_len());
    let mut rec: [Recorder; 2] = Default::default();
    warm_up(spec, elements, |seq| {
        round(tx, rx, &p, &mut scratch, seq, None).map(drop)
    })?;
    let mut loaned = 0u64;
    let cpu0 = cpu_time_ns();
    for seq in 0..spec.messages as u64 {
        let lent = round(tx, rx, &p, &mut scratch, seq, Some(&mut rec))
            .with_context(|| format!("message #{seq}"))?;
        loaned += u64::from(lent);
    }
    let n = spec.messages as u64;
    let cpu = (cpu_time_ns() - cpu0) as f64 / n.max(1) as f64;
    Ok(SizeOutput {
        metrics: METRICS
            .iter()
            .zip(&rec)
            .map(|(&m, r)| (m, r.to_trial()))
            .collect(),
        cpu_ns_per_msg: cpu,
        messages: n,
        loaned: Some(n > 0 && loaned == n),
        ..SizeOutput::default()
    })
}

/// The producer's own buffer for a transport that cannot lend `len` bytes,
/// allocated (and its pages touched) here, before any clock runs; empty for
/// one that can, which never uses it.
pub(super) fn scratch_for<S: Sender>(tx: &S, len: usize) -> Vec<u8> {
    if len <= tx.max_loan() {
        Vec::new()
    } else {
        vec![0u8; len]
    }
}

/// One hand-over: produce in place, publish on the clock, check the
/// acknowledgement. Returns whether the message went out as a loan.
fn round<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    p: &InPlace,
    scratch: &mut Vec<u8>,
    seq: u64,
    rec: Option<&mut [Recorder; 2]>,
) -> Result<bool> {
    let mut out = outgoing(tx, scratch, p.message_len()).context("starting the message")?;
    let loaned = out.is_loan();
    p.fill(out.bytes_mut(), seq, 0)
        .context("producing the message")?;
    let t0 = now_ns();
    out.send().context("handing the message over")?;
    let t1 = now_ns();
    let ack = rx
        .recv()
        .context("waiting for the consumer's acknowledgement")?;
    let (ack_seq, t_held, sum) = (le_u64(ack, 0)?, le_u64(ack, 8)?, le_u64(ack, 16)?);
    ensure!(
        ack_seq == seq,
        "acknowledgement for #{ack_seq} while waiting for #{seq}"
    );
    let want = p.checksum_of(seq);
    ensure!(
        sum == want,
        "the consumer read a checksum of {sum:#018x} in #{seq}, not the {want:#018x} produced"
    );
    if let Some(rec) = rec {
        // The consumer can return from recv a few ns before our publish call
        // returns to user space; its stamp is still after ours (t0).
        rec[0].record(t_held.saturating_sub(t0));
        rec[1].record(t1 - t0);
    }
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
    let mut cpu0 = 0;
    while seqs.measured < spec.messages as u64 {
        let msg = rx.recv().context("waiting for the next message")?;
        let t_held = now_ns();
        // Off the clock from here: the producer's latency ended at t_held.
        let got = header_of(msg).context("verification failed")?.seq;
        let (_, sum) = p
            .check(msg, seqs.expect(got))
            .context("verification failed")?;
        if seqs.advance(got) && seqs.measured == 1 {
            cpu0 = cpu_time_ns();
        }
        super::send_ack(tx, &[got, t_held, sum], "sending the acknowledgement")?;
    }
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}
