//! `pingpong`: the round trip of a message the consumer echoes back unchanged,
//! timed on the producer's clock from just before `send` to just after the
//! echo's `recv` returns. The echo is compared byte for byte with what was
//! sent, after the clock stops, so both directions are verified.
//!
//! At the run's smallest size a second, batch-timed pass follows (`rtt_batch`):
//! [`batch_rounds`] more round trips between two clock reads, reported as one
//! value per trial (elapsed / round trips), so the figure holds neither the
//! clock reads nor the recording. Each echo is copied into a buffer allocated
//! beforehand and small enough to stay in the L1 cache; the clock stops every
//! time that buffer is full, and its echoes are compared with what was sent
//! before the clock starts again.

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
    warm_up(spec, elements, |seq| round(seq, None))?;
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

/// Bytes of echoes the batch-timed pass records between two clock reads, so
/// the recording stays in the L1 data cache: a store that misses would delay
/// every store after it, the next message's publication included (x86 makes
/// stores visible in program order).
const BATCH_CHUNK_BYTES: usize = 16 << 10;

/// The batch-timed pass: `n` round trips with sequence numbers from `first`,
/// timed in chunks of [`BATCH_CHUNK_BYTES`] of echoes whose elapsed times
/// are summed; returns nanoseconds per round trip. Each chunk's echoes are
/// verified after its clock stops, before the next chunk starts.
fn batch<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    bufs: &mut [Vec<u8>],
    first: u64,
    n: u64,
) -> Result<f64> {
    let variants = bufs.len() as u64;
    let len = bufs[0].len();
    let chunk = (BATCH_CHUNK_BYTES / len.max(1)).clamp(1, n.max(1) as usize);
    // Filled, not just allocated: a zeroed allocation may be pages the kernel
    // maps only on the first write, and a page fault or a write miss inside
    // the timed loop would be charged to the transport.
    let mut echoes = vec![0xA5u8; len * chunk];
    let mut got = vec![usize::MAX; chunk];
    let mut elapsed = 0;
    let mut done = 0;
    while done < n {
        let rounds = chunk.min((n - done) as usize);
        let start = first + done;
        elapsed += batch_chunk(tx, rx, bufs, start, &mut echoes, &mut got[..rounds])?;
        for (k, (slot, &got)) in echoes.chunks_exact(len).zip(&got[..rounds]).enumerate() {
            let seq = start + k as u64;
            let buf = &mut bufs[(seq % variants) as usize];
            patch_header(buf, seq, 0);
            ensure!(
                got == len && slot == buf.as_slice(),
                "echo of batch message #{seq} differs from what was sent ({got} bytes back, {len} sent)"
            );
        }
        done += rounds as u64;
    }
    Ok(elapsed as f64 / n.max(1) as f64)
}

/// One timed chunk of the batch-timed pass: `got.len()` round trips from
/// sequence number `first`, each echo copied into `echoes`; returns the
/// elapsed nanoseconds.
fn batch_chunk<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    bufs: &mut [Vec<u8>],
    first: u64,
    echoes: &mut [u8],
    got: &mut [usize],
) -> Result<u64> {
    let variants = bufs.len() as u64;
    let len = bufs[0].len();
    // The variant index advances by one per round trip instead of being
    // `seq % variants`: no division on the clock.
    let mut v = (first % variants) as usize;
    let rounds = got.len();
    let mut last: Option<&[u8]> = None;
    let t0 = now_ns();
    for k in 0..rounds {
        let seq = first + k as u64;
        let buf = &mut bufs[v];
        v = if v as u64 + 1 == variants { 0 } else { v + 1 };
        patch_header(buf, seq, 0);
        tx.send(buf)
            .with_context(|| format!("batch message #{seq}"))?;
        // The previous echo is recorded while this message is on its way.
        if let Some(echo) = last.take() {
            record_echo(echo, k - 1, len, echoes, got);
        }
        last = Some(
            rx.recv()
                .with_context(|| format!("waiting for the echo of batch message #{seq}"))?,
        );
    }
    if let Some(echo) = last {
        record_echo(echo, rounds - 1, len, echoes, got);
    }
    Ok(now_ns() - t0)
}

/// Copies echo number `k` of a chunk into its place in `echoes`.
#[inline(always)]
fn record_echo(echo: &[u8], k: usize, len: usize, echoes: &mut [u8], got: &mut [usize]) {
    got[k] = echo.len();
    let keep = echo.len().min(len);
    echoes[k * len..][..keep].copy_from_slice(&echo[..keep]);
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
