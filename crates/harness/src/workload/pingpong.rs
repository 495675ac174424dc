//! `pingpong`: the round trip of a message the consumer echoes back unchanged,
//! timed on the producer's clock from just before `send` to just after the
//! echo's `recv` returns. The echo is compared byte for byte with what was
//! sent, after the clock stops, so both directions are verified.
//!
//! At the run's smallest size a second, batch-timed pass follows (`rtt_batch`):
//! [`batch_rounds`] more round trips between two clock reads, reported as one
//! value per trial (elapsed / round trips), so the figure holds neither the
//! clock reads nor the recording. Each echo is copied into a buffer allocated
//! beforehand and compared with what was sent after the clock stops.

use anyhow::{Context, Result, ensure};
use codec::pattern::PatternSet;
use results::Metric;
use transport::{Receiver, Sender};

use super::{SeqTracker, le_u64, patch_header, raw_buffers, warm_up};
use crate::clock::now_ns;
use crate::role::{RoleSpec, SizeOutput};
use crate::stats::{Recorder, Trial, cpu_time_ns};

/// Round trips in the batch-timed pass at this size, or 0 when this size is
/// not the run's smallest (the pass is for the small-message floor ratio).
fn batch_rounds(elements: usize, spec: &RoleSpec) -> u64 {
    let smallest = spec.sizes.iter().copied().min().unwrap_or(0) / 8;
    if elements as u64 == smallest {
        spec.messages as u64
    } else {
        0
    }
}

pub(super) fn producer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let pat = PatternSet::new(elements);
    let mut bufs = raw_buffers(&pat)?;
    let variants = bufs.len() as u64;
    let mut rtt = Recorder::new();
    let mut round = |seq: u64, rec: Option<&mut Recorder>| -> Result<()> {
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, seq, 0);
        let t0 = now_ns();
        tx.send(buf)?;
        let echo = rx.recv().context("waiting for the echo")?;
        let t1 = now_ns();
        ensure!(
            echo == buf.as_slice(),
            "echo of message #{} differs from what was sent ({} bytes back, {} sent)",
            seq & !super::WARMUP,
            echo.len(),
            buf.len()
        );
        if let Some(r) = rec {
            r.record(t1 - t0);
        }
        Ok(())
    };
    warm_up(spec, |seq| round(seq, None))?;
    let cpu0 = cpu_time_ns();
    for seq in 0..spec.messages as u64 {
        round(seq, Some(&mut rtt)).with_context(|| format!("message #{seq}"))?;
    }
    let cpu_ns_per_msg = (cpu_time_ns() - cpu0) as f64 / spec.messages.max(1) as f64;
    let mut metrics = vec![(Metric::Rtt, rtt.to_trial())];
    let n = batch_rounds(elements, spec);
    if n > 0 {
        let ns = batch(tx, rx, &mut bufs, spec.messages as u64, n)?;
        metrics.push((
            Metric::RttBatch,
            Trial {
                counts: vec![(ns.round().max(1.0) as u64, 1)],
                sum: ns,
            },
        ));
    }
    Ok(SizeOutput {
        metrics,
        cpu_ns_per_msg,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}

/// The batch-timed pass: `n` round trips with sequence numbers from `first`,
/// timed as a whole; returns nanoseconds per round trip. Echoes are verified
/// after the clock stops.
fn batch<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    bufs: &mut [Vec<u8>],
    first: u64,
    n: u64,
) -> Result<f64> {
    let variants = bufs.len() as u64;
    let len = bufs[0].len();
    // Filled, not just allocated: a zeroed allocation may be pages the kernel
    // maps only on the first write, and a page fault or a write miss inside
    // the timed loop would be charged to the transport.
    let mut echoes = vec![0xA5u8; len * n as usize];
    let mut got = vec![usize::MAX; n as usize];
    // The variant index advances by one per round trip instead of being
    // `seq % variants`: no division on the clock.
    let mut v = (first % variants) as usize;
    let t0 = now_ns();
    for (k, got) in got.iter_mut().enumerate() {
        let seq = first + k as u64;
        let buf = &mut bufs[v];
        v = if v as u64 + 1 == variants { 0 } else { v + 1 };
        patch_header(buf, seq, 0);
        tx.send(buf)
            .with_context(|| format!("batch message #{seq}"))?;
        let echo = rx
            .recv()
            .with_context(|| format!("waiting for the echo of batch message #{seq}"))?;
        *got = echo.len();
        let keep = echo.len().min(len);
        echoes[k * len..][..keep].copy_from_slice(&echo[..keep]);
    }
    let elapsed = now_ns() - t0;
    for (k, (slot, &got)) in echoes.chunks_exact(len).zip(&got).enumerate() {
        let seq = first + k as u64;
        let buf = &mut bufs[(seq % variants) as usize];
        patch_header(buf, seq, 0);
        ensure!(
            got == len && slot == buf.as_slice(),
            "echo of batch message #{seq} differs from what was sent ({got} bytes back, {len} sent)"
        );
    }
    Ok(elapsed as f64 / n.max(1) as f64)
}

pub(super) fn consumer<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    elements: usize,
    spec: &RoleSpec,
) -> Result<SizeOutput> {
    let wire_len = elements * 8 + codec::RAW_HEADER_LEN;
    let mut seqs = SeqTracker::default();
    let (mut cpu0, mut cpu1) = (0, 0);
    let total = spec.messages as u64 + batch_rounds(elements, spec);
    while seqs.measured < total {
        let msg = rx.recv().context("waiting for the next message")?;
        // Echo first: everything the consumer does here is on the producer's clock.
        tx.send(msg).context("echoing")?;
        ensure!(
            msg.len() == wire_len,
            "message of {} bytes, expected {wire_len}",
            msg.len()
        );
        let seq = le_u64(msg, 0)?;
        let want = seqs.expect(seq);
        ensure!(
            seq == want,
            "message #{} arrived while expecting #{}",
            seq & !super::WARMUP,
            want & !super::WARMUP
        );
        if seqs.advance(seq) {
            // CPU per message covers the per-message pass only, like the
            // producer's figure.
            if seqs.measured == 1 {
                cpu0 = cpu_time_ns();
            }
            if seqs.measured == spec.messages as u64 {
                cpu1 = cpu_time_ns();
            }
        }
    }
    Ok(SizeOutput {
        cpu_ns_per_msg: (cpu1 - cpu0) as f64 / spec.messages.max(1) as f64,
        messages: spec.messages as u64,
        ..SizeOutput::default()
    })
}
